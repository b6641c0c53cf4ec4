//! Watcher tests on a real temporary directory: a rename-replace, two quick
//! writes, and delete + re-create each produce exactly one signal; other
//! files in the directory and plain reads produce none.

use std::path::Path;
use std::time::Duration;

use tokio::sync::mpsc;
use tokio::time::timeout;

use super::Watcher;

const DEBOUNCE: Duration = Duration::from_millis(100);
/// Generous: CI machines can be slow to deliver file events.
const WAIT: Duration = Duration::from_secs(10);
/// Quiet period after a signal in which no second signal may arrive.
const QUIET: Duration = Duration::from_millis(600);

fn write(path: &Path, text: &str) {
    std::fs::write(path, text).unwrap_or_else(|e| panic!("write {}: {e}", path.display()));
}

async fn expect_one(rx: &mut mpsc::Receiver<()>, what: &str) {
    match timeout(WAIT, rx.recv()).await {
        Ok(Some(())) => {}
        other => panic!("{what}: expected a reload signal, got {other:?}"),
    }
    if let Ok(extra) = timeout(QUIET, rx.recv()).await {
        panic!("{what}: expected exactly one signal, got another: {extra:?}");
    }
}

async fn expect_none(rx: &mut mpsc::Receiver<()>, what: &str) {
    if let Ok(got) = timeout(QUIET, rx.recv()).await {
        panic!("{what}: expected no signal, got {got:?}");
    }
}

#[tokio::test]
async fn fires_once_per_burst_and_survives_replacement() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let path = dir.path().join("hookgate.yaml");
    write(&path, "listen: 127.0.0.1:8080\n");
    let (tx, mut rx) = mpsc::channel(4);
    let watcher = Watcher::spawn(path.clone(), DEBOUNCE, tx).unwrap_or_else(|e| panic!("{e}"));
    expect_none(&mut rx, "after start").await;

    // Editor-style save: write a temp file, rename it over the config.
    let tmp = dir.path().join(".hookgate.yaml.swp");
    write(&tmp, "listen: 127.0.0.1:8081\n");
    std::fs::rename(&tmp, &path).unwrap_or_else(|e| panic!("{e}"));
    expect_one(&mut rx, "rename-replace").await;

    // Two quick writes (vim writes several times) coalesce into one signal.
    write(&path, "listen: 127.0.0.1:8082\n");
    tokio::time::sleep(Duration::from_millis(20)).await;
    write(&path, "listen: 127.0.0.1:8083\n");
    expect_one(&mut rx, "two quick writes").await;

    // Reading the file (what a reload does) must not trigger another reload.
    let _ = std::fs::read_to_string(&path);
    expect_none(&mut rx, "read only").await;

    // Other files in the same directory are ignored.
    write(&dir.path().join("other.yaml"), "x: 1\n");
    expect_none(&mut rx, "other file").await;

    // Delete and re-create: the watch is on the directory, so it keeps working.
    std::fs::remove_file(&path).unwrap_or_else(|e| panic!("{e}"));
    write(&path, "listen: 127.0.0.1:8084\n");
    expect_one(&mut rx, "delete + re-create").await;
    write(&path, "listen: 127.0.0.1:8085\n");
    expect_one(&mut rx, "write after re-create").await;

    // Dropping the watcher stops it: the sender is released.
    drop(watcher);
    match timeout(WAIT, rx.recv()).await {
        Ok(None) => {}
        other => panic!("after drop: expected the channel to close, got {other:?}"),
    }
}

#[tokio::test]
async fn spawn_fails_for_a_missing_directory() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let path = dir.path().join("no-such-dir").join("hookgate.yaml");
    let (tx, _rx) = mpsc::channel(1);
    assert!(matches!(
        Watcher::spawn(path, DEBOUNCE, tx),
        Err(super::ConfigError::Io { .. })
    ));
}
