//! The wake-up line from producers (publish, reload, operator actions) to the scheduler.
//!
//! A producer marks an endpoint as having work due at a time; the scheduler drains the marks when
//! it wakes. Marks for one endpoint collapse to the earliest, so memory is bounded by the number
//! of endpoints however fast events arrive — a bounded channel would have to drop or block.

use std::collections::HashMap;
use std::sync::Mutex;

use tokio::sync::Notify;

use crate::store::Millis;

/// See the module docs.
#[derive(Debug, Default)]
pub struct DueSignal {
    dirty: Mutex<HashMap<String, Millis>>,
    notify: Notify,
}

impl DueSignal {
    /// A signal with no marks.
    pub fn new() -> Self {
        Self::default()
    }

    /// Says endpoint `id` has work due at `due_ms` (0 = look now).
    pub fn mark(&self, id: &str, due_ms: Millis) {
        if let Ok(mut m) = self.dirty.lock() {
            m.entry(id.to_string())
                .and_modify(|d| *d = (*d).min(due_ms))
                .or_insert(due_ms);
        }
        self.notify.notify_one();
    }

    /// Takes every mark made since the last call.
    pub fn take(&self) -> HashMap<String, Millis> {
        self.dirty
            .lock()
            .map(|mut m| std::mem::take(&mut *m))
            .unwrap_or_default()
    }

    /// Resolves after the next [`DueSignal::mark`] (or at once if one happened since the last wait).
    pub async fn notified(&self) {
        self.notify.notified().await;
    }
}
