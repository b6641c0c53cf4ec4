//! The plugin's log lines and stdout/stderr, captured for `plugin test`'s report and filtered
//! by the global `--log` (the same EnvFilter syntax the gateway logs with).

use std::fmt::Write as _;
use std::sync::{Arc, Mutex};

use tracing::field::{Field, Visit};
use tracing::Level;
use tracing_subscriber::layer::{Context, SubscriberExt};
use tracing_subscriber::{EnvFilter, Layer, Registry};

/// One captured line.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Line {
    level: Level,
    /// `log` (the import), `stdout`, `stderr`, or `host` (the gateway about the plugin, e.g. a
    /// refused memory growth).
    source: String,
    message: String,
}

/// Lines of events that carry a `plugin` field.
#[derive(Clone, Default)]
pub(super) struct Captured(Arc<Mutex<Vec<Line>>>);

impl Captured {
    /// A subscriber that records into `self` what `filter` lets through.
    pub(super) fn subscriber(&self, filter: &str) -> Result<impl tracing::Subscriber, String> {
        let filter = EnvFilter::try_new(filter).map_err(|e| format!("--log {filter:?}: {e}"))?;
        Ok(Registry::default().with(filter).with(self.clone()))
    }

    /// The lines so far, as the report prints them; empty when there are none.
    pub(super) fn report(&self) -> String {
        let lines = self.0.lock().unwrap_or_else(|p| p.into_inner());
        let mut out = String::new();
        if lines.is_empty() {
            return out;
        }
        out.push_str("log:\n");
        for l in lines.iter() {
            let _ = writeln!(out, "  {:<5} {:<6} {}", l.level, l.source, l.message);
        }
        out
    }
}

impl<S: tracing::Subscriber> Layer<S> for Captured {
    fn on_event(&self, event: &tracing::Event<'_>, _: Context<'_, S>) {
        let mut fields = Fields::default();
        event.record(&mut fields);
        if !fields.plugin {
            return;
        }
        let line = Line {
            level: *event.metadata().level(),
            source: fields.source.unwrap_or_else(|| "host".into()),
            message: [fields.message]
                .into_iter()
                .chain(fields.extra)
                .collect::<Vec<_>>()
                .join(" "),
        };
        self.0.lock().unwrap_or_else(|p| p.into_inner()).push(line);
    }
}

#[derive(Default)]
struct Fields {
    plugin: bool,
    source: Option<String>,
    message: String,
    extra: Vec<String>,
}

impl Visit for Fields {
    fn record_str(&mut self, field: &Field, value: &str) {
        match field.name() {
            "source" => self.source = Some(value.to_string()),
            "message" => self.message = value.to_string(),
            "plugin" => self.plugin = true,
            "delivery_id" => {}
            name => self.extra.push(format!("{name}={value:?}")),
        }
    }

    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        match field.name() {
            "message" => self.message = format!("{value:?}"),
            "plugin" => self.plugin = true,
            "source" => self.source = Some(format!("{value:?}")),
            "delivery_id" => {}
            // Host lines carry their facts as fields (`desired`, `cap`…): keep them.
            name => self.extra.push(format!("{name}={value:?}")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tracing::instrument::WithSubscriber;

    #[tokio::test]
    async fn keeps_plugin_lines_the_filter_lets_through() {
        let captured = Captured::default();
        let sub = captured.subscriber("info").unwrap();
        async {
            tracing::info!(plugin = "p", delivery_id = "d", source = "stdout", "hello");
            tracing::debug!(plugin = "p", source = "log", "hidden at info");
            tracing::info!("not about a plugin");
            tracing::warn!(plugin = %"p", cap = 5u64, "growth refused");
        }
        .with_subscriber(sub)
        .await;
        let report = captured.report();
        assert!(report.contains("INFO  stdout hello"), "{report}");
        assert!(
            report.contains("WARN  host   growth refused cap=5"),
            "{report}"
        );
        assert!(!report.contains("hidden"), "{report}");
        assert!(!report.contains("not about"), "{report}");
    }
}
