//! Watches the config file and sends one `()` after changes settle, so the
//! server can reload.
//!
//! Owns: [`Watcher`]. It watches the file's *parent directory* (editors
//! replace files by rename and vim writes several times; a watch on the file
//! itself would die with the old inode), keeps only events naming the file,
//! ignores pure reads (the reload itself opens the file), and debounces on its
//! own thread. It survives the file being deleted and re-created. Dropping it
//! stops the thread. Imports nothing from api/store/dispatch/delivery/plugins.

use std::ffi::{OsStr, OsString};
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::thread::JoinHandle;
use std::time::Duration;

use notify::{EventKind, RecommendedWatcher, RecursiveMode, Watcher as _};
use tokio::sync::mpsc::error::TrySendError;

use super::ConfigError;

enum Msg {
    Changed,
    Stop,
}

/// A running watch on one config file; drop it to stop watching.
pub struct Watcher {
    fs: Option<RecommendedWatcher>,
    control: mpsc::Sender<Msg>,
    thread: Option<JoinHandle<()>>,
    path: PathBuf,
}

impl Watcher {
    /// Starts watching `path`. After a burst of changes and `debounce` of
    /// quiet, sends one `()` on `tx` (skipped if a signal is already queued,
    /// since one reload covers both). Fails if the parent directory can't be
    /// watched.
    pub fn spawn(
        path: PathBuf,
        debounce: Duration,
        tx: tokio::sync::mpsc::Sender<()>,
    ) -> Result<Watcher, ConfigError> {
        let io_err = |p: &Path, e: std::io::Error| ConfigError::Io {
            path: p.to_path_buf(),
            source: e,
        };
        let name: OsString = path
            .file_name()
            .ok_or_else(|| io_err(&path, std::io::Error::other("config path has no file name")))?
            .to_os_string();
        let dir = match path.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
            _ => PathBuf::from("."),
        };
        let (control, events) = mpsc::channel();
        let fs_tx = control.clone();
        let handler = move |res: notify::Result<notify::Event>| match res {
            Ok(ev) if is_relevant(&ev, &name) => {
                // The debounce thread is gone only while the Watcher drops.
                let _ = fs_tx.send(Msg::Changed);
            }
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "config file watcher error"),
        };
        let notify_err = |e: notify::Error| std::io::Error::other(e.to_string());
        let mut fs =
            notify::recommended_watcher(handler).map_err(|e| io_err(&dir, notify_err(e)))?;
        fs.watch(&dir, RecursiveMode::NonRecursive)
            .map_err(|e| io_err(&dir, notify_err(e)))?;
        let thread = std::thread::Builder::new()
            .name("hookgate-config-watch".to_string())
            .spawn(move || debounce_loop(&events, debounce, &tx))
            .map_err(|e| io_err(&path, e))?;
        tracing::debug!(path = %path.display(), "watching config file");
        Ok(Watcher {
            fs: Some(fs),
            control,
            thread: Some(thread),
            path,
        })
    }
}

impl fmt::Debug for Watcher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Watcher").field("path", &self.path).finish()
    }
}

impl Drop for Watcher {
    /// Stops file events first, then the debounce thread (which exits at once).
    fn drop(&mut self) {
        drop(self.fs.take());
        let _ = self.control.send(Msg::Stop);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// An event about our file (by name) that may have changed its content.
/// Pure reads are ignored, or every reload would trigger the next one.
fn is_relevant(ev: &notify::Event, name: &OsStr) -> bool {
    if ev.need_rescan() {
        return true;
    }
    !matches!(ev.kind, EventKind::Access(_)) && ev.paths.iter().any(|p| p.file_name() == Some(name))
}

fn debounce_loop(
    events: &mpsc::Receiver<Msg>,
    debounce: Duration,
    tx: &tokio::sync::mpsc::Sender<()>,
) {
    loop {
        match events.recv() {
            Ok(Msg::Changed) => {}
            Ok(Msg::Stop) | Err(_) => return,
        }
        loop {
            match events.recv_timeout(debounce) {
                Ok(Msg::Changed) => {}
                Err(RecvTimeoutError::Timeout) => break,
                Ok(Msg::Stop) | Err(RecvTimeoutError::Disconnected) => return,
            }
        }
        match tx.try_send(()) {
            Ok(()) | Err(TrySendError::Full(())) => {}
            Err(TrySendError::Closed(())) => return,
        }
    }
}
