//! `hookgate store compact`: shrink the redb file offline, with progress.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// Compacts the store in the data dir of `config` (or `data_dir`, or the default).
pub async fn compact(config: Option<PathBuf>, data_dir: Option<PathBuf>) -> anyhow::Result<()> {
    let dir = match (config, data_dir) {
        (Some(file), _) => {
            let loaded = crate::app::load(crate::app::ConfigSource::File(file))?;
            if !matches!(loaded.config.storage, crate::config::StorageConfig::Redb) {
                anyhow::bail!(
                    "this config stores in PostgreSQL: its space comes back through the \
                     database's own VACUUM (autovacuum reuses it; VACUUM FULL returns it)"
                );
            }
            loaded.config.data_dir
        }
        (None, Some(d)) => d,
        (None, None) => crate::config::Config::embedded_default().data_dir,
    };
    let file = crate::app::store_file(&dir);
    if !file.exists() {
        anyhow::bail!("no store at {}", file.display());
    }
    let before = size(&file);
    println!("compacting {} ({})", file.display(), mib(before));
    let started = Instant::now();
    let worker = tokio::task::spawn_blocking({
        let dir = dir.clone();
        move || crate::app::compact_store(&dir)
    });
    tokio::pin!(worker);
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    tick.tick().await;
    let passes = loop {
        tokio::select! {
            done = &mut worker => break done??,
            _ = tick.tick() => println!(
                "  … {} s, file {}",
                started.elapsed().as_secs(),
                mib(size(&file))
            ),
        }
    };
    let after = size(&file);
    println!(
        "compacted in {:.1} s ({passes} passes): {} → {} ({} freed)",
        started.elapsed().as_secs_f64(),
        mib(before),
        mib(after),
        mib(before.saturating_sub(after))
    );
    Ok(())
}

fn size(p: &Path) -> u64 {
    std::fs::metadata(p).map(|m| m.len()).unwrap_or(0)
}

fn mib(b: u64) -> String {
    format!("{:.1} MiB", b as f64 / (1024.0 * 1024.0))
}
