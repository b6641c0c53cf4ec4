//! The plugin scenarios: `e2e` with one transform plugin in the endpoint's chain, in each
//! language the SDKs serve, compared with `e2e` from the same round.
//!
//! - `plugin`: the Rust example `redact`, config `{remove: [/data/seq]}` (issue 3's target: at
//!   least 0.8× of e2e).
//! - `plugin-js`: the JS example `field-filter`, keeping `sent_ns` and `pad` and requiring
//!   `seq` (issue 16's target: at least 0.25× of e2e).
//! - `plugin-py`: the Python example `scrub`, masking `/data/seq` and scanning every string
//!   for e-mail addresses (no target: reported beside the others).
//! - `plugin-py-reuse`: `plugin-py` with `reuse: 1000` (an instance serves up to 1,000 calls),
//!   what the opt-in buys end to end.
//!
//! Each does the same kind of work (parse the body, cut or mask one field, re-encode), so the
//! ratios compare the runtimes rather than the plugins.

use std::path::Path;

use anyhow::anyhow;
use serde_json::Value;

use super::gateway::Setup;
use super::BenchArgs;

/// One plugin scenario: its name, the component, the chain entry's config, the target ratio.
struct PluginScenario<'a> {
    name: &'static str,
    wasm: &'a Path,
    build_hint: &'static str,
    config: &'static str,
    /// Extra keys of the `plugins:` entry (limits, `reuse`).
    entry: &'static str,
    target: Option<f64>,
}

fn all(a: &BenchArgs) -> [PluginScenario<'_>; 4] {
    [
        PluginScenario {
            name: "plugin",
            wasm: &a.plugin,
            build_hint: "cd plugins && cargo build --release --target wasm32-wasip2",
            config: "{ remove: [/data/seq] }",
            entry: "",
            target: Some(0.8),
        },
        PluginScenario {
            name: "plugin-js",
            wasm: &a.plugin_js,
            build_hint: "hookgate plugin build plugins/js/examples/field-filter",
            config: "{ keep: [/data/sent_ns, /data/pad], require: [/data/seq] }",
            entry: "",
            target: Some(0.25),
        },
        PluginScenario {
            name: "plugin-py",
            wasm: &a.plugin_py,
            build_hint: "hookgate plugin build plugins/python/examples/scrub",
            config: "{ fields: [/data/seq], patterns: [email] }",
            entry: "",
            target: None,
        },
        PluginScenario {
            name: "plugin-py-reuse",
            wasm: &a.plugin_py,
            build_hint: "hookgate plugin build plugins/python/examples/scrub",
            config: "{ fields: [/data/seq], patterns: [email] }",
            entry: ", reuse: 1000",
            target: None,
        },
    ]
}

/// Whether `sc` is a plugin scenario.
pub fn is_plugin_scenario(sc: &str) -> bool {
    matches!(sc, "plugin" | "plugin-js" | "plugin-py" | "plugin-py-reuse")
}

/// The gateway setup of plugin scenario `sc` with `endpoints` endpoints.
pub fn setup(sc: &str, a: &BenchArgs, endpoints: usize) -> anyhow::Result<Setup> {
    let all = all(a);
    let s = all
        .iter()
        .find(|s| s.name == sc)
        .ok_or_else(|| anyhow!("{sc} is not a plugin scenario"))?;
    let path = s.wasm.canonicalize().map_err(|e| {
        anyhow!(
            "{}: {e} (build it first: {})",
            s.wasm.display(),
            s.build_hint
        )
    })?;
    Ok(Setup {
        endpoints,
        plugins: format!(
            "plugins:\n  transform: {{ path: \"{}\"{} }}\n",
            path.display(),
            s.entry
        ),
        endpoint_extra: format!(
            "    plugins: [ {{ use: transform, config: {} }} ]\n",
            s.config
        ),
        ..Setup::default()
    })
}

/// After several rounds: for each plugin scenario that ran, its deliveries/s over e2e's from
/// the same round, the median, and how the median stands against the scenario's target.
pub fn print_ratios(rows: &[Value], a: &BenchArgs) {
    let rates = |sc: &str| -> Vec<(u64, f64)> {
        rows.iter()
            .filter(|r| r["scenario"] == sc)
            .filter_map(|r| Some((r["round"].as_u64()?, super::rate_of(r)?)))
            .collect()
    };
    let e2e = rates("e2e");
    for s in all(a) {
        let ratios: Vec<f64> = rates(s.name)
            .iter()
            .filter_map(|(round, p)| e2e.iter().find(|(r, _)| r == round).map(|(_, e)| p / e))
            .collect();
        if ratios.is_empty() {
            continue;
        }
        let m = super::median(ratios.clone());
        let each: Vec<String> = ratios.iter().map(|r| format!("{r:.2}")).collect();
        println!(
            "{}/e2e deliveries: median {m:.2}× (rounds: {})",
            s.name,
            each.join(" ")
        );
        let interval = super::median_interval(&ratios)
            .map(|(lo, hi)| format!("95% interval of the median {lo:.2}–{hi:.2}; "))
            .unwrap_or_default();
        match s.target {
            Some(t) => {
                let below = ratios.iter().filter(|r| **r < t).count();
                println!(
                    "  {interval}{below} of {} rounds below the {t}× target",
                    ratios.len()
                );
                print_noise(&e2e, m, t);
            }
            None if !interval.is_empty() => println!("  {interval}no target"),
            None => {}
        }
    }
}

/// Whether this machine can show target `t` with single runs: the e2e rounds run the same
/// code every time, so their spread is the noise a single ratio carries.
fn print_noise(e2e: &[(u64, f64)], median: f64, t: f64) {
    let e2e_rates: Vec<f64> = e2e.iter().map(|(_, x)| *x).collect();
    if let Some(spread) = super::relative_spread(&e2e_rates) {
        let gap = (median - t) / median;
        let verdict = if spread < gap.abs() {
            "quiet enough: single runs agree with the median"
        } else {
            "too noisy for single runs: judge the median and its interval"
        };
        println!(
            "  identical runs (e2e) spread ±{:.0}%; the median is {:+.0}% from the target: {verdict}",
            spread * 100.0,
            gap * 100.0
        );
    }
}
