//! Disk headroom: the free space the data dir's filesystem must keep (`storage.min_free`).
//!
//! A store that fills its disk fails its commits, and then nothing moves: no publish, but no
//! attempt outcome either. Keeping a reserve turns that into a refusal of new work only —
//! publishes answer 503 `store_full` while attempts are still recorded and the pruner still
//! frees space — and the refusal lifts by itself once space is back.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

/// The reserve and the last sample of free space, read by the API on every publish.
#[derive(Debug)]
pub struct Headroom {
    dir: Option<PathBuf>,
    min_free: AtomicU64,
    free: AtomicU64,
    low: AtomicBool,
}

impl Headroom {
    /// Watches the filesystem holding `dir`; `None` watches nothing (a PostgreSQL store,
    /// whose disk is the database's to watch). A `min_free` of 0 never refuses.
    pub fn new(dir: Option<&Path>, min_free: u64) -> Self {
        Headroom {
            dir: dir.map(Path::to_path_buf),
            min_free: AtomicU64::new(min_free),
            free: AtomicU64::new(u64::MAX),
            low: AtomicBool::new(false),
        }
    }

    /// Changes the reserve (a reload).
    pub fn set_min_free(&self, bytes: u64) {
        self.min_free.store(bytes, Ordering::Relaxed);
    }

    /// Whether publishes are refused now (below the reserve at the last sample).
    pub fn is_low(&self) -> bool {
        self.low.load(Ordering::Relaxed)
    }

    /// Free bytes at the last sample; `None` when nothing is watched.
    pub fn free(&self) -> Option<u64> {
        self.dir.as_ref()?;
        Some(self.free.load(Ordering::Relaxed))
    }

    /// The reserve.
    pub fn min_free(&self) -> u64 {
        self.min_free.load(Ordering::Relaxed)
    }

    /// Samples the filesystem; returns `Some(now_low)` when the state changed, so the caller
    /// logs the change once.
    pub fn sample(&self) -> Option<bool> {
        let dir = self.dir.as_ref()?;
        let free = match free_bytes(dir) {
            Ok(b) => b,
            Err(e) => {
                tracing::debug!(error = %e, dir = %dir.display(), "cannot read free space");
                return None;
            }
        };
        self.free.store(free, Ordering::Relaxed);
        let min = self.min_free();
        let low = min > 0 && free < min;
        (self.low.swap(low, Ordering::Relaxed) != low).then_some(low)
    }
}

/// Bytes an unprivileged process may still write on the filesystem holding `dir`.
pub fn free_bytes(dir: &Path) -> std::io::Result<u64> {
    let st = rustix::fs::statvfs(dir)?;
    Ok(st.f_bavail.saturating_mul(st.f_frsize))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_reserve_larger_than_the_disk_is_low_and_zero_never_is() {
        let dir = tempfile::tempdir().unwrap();
        let h = Headroom::new(Some(dir.path()), u64::MAX);
        assert_eq!(h.sample(), Some(true));
        assert!(h.is_low());
        assert_eq!(h.sample(), None, "no change, nothing to log");
        h.set_min_free(0);
        assert_eq!(h.sample(), Some(false));
        assert!(h.free().unwrap() > 0);
        assert_eq!(Headroom::new(None, u64::MAX).sample(), None);
    }
}
