//! Reads delivery policy: the six keys shared by the global `delivery:` block and an
//! endpoint's own `delivery:` key, so both are validated by the same parsers with the same
//! messages, and shows an endpoint's overrides back in the file's spelling (for the API).
//!
//! Owns: which keys an endpoint may override and the refusal of gateway-wide ones under an
//! endpoint. Merging with the global block is [`DeliveryConfig::policy`]. Imports nothing
//! from api/store/dispatch/delivery/plugins.

use std::time::Duration;

use serde_json::{json, Map, Value};

use super::build::positive_duration;
use super::reader::{Ctx, Obj};
use super::types::{DeliveryConfig, DeliveryOverride};
use super::values::{parse_bool, parse_count, parse_duration, parse_fraction};
use super::yaml::index_path;

/// The keys an endpoint's `delivery:` may set.
pub(crate) const OVERRIDABLE: &[&str] = &[
    "timeout",
    "retry_schedule",
    "jitter",
    "auto_disable_after",
    "fail_fast_4xx",
    "retry_after_cap",
];

/// Keys of the global block that govern resources the whole gateway shares.
pub(crate) const GATEWAY_WIDE: &[&str] =
    &["max_in_flight", "response_body_limit", "shutdown_grace"];

/// Reads the overridable keys of a `delivery:` mapping whose unknown keys are already
/// reported. A key that does not parse is reported and left unset.
pub(crate) fn read(obj: &Obj, ctx: &mut Ctx) -> DeliveryOverride {
    DeliveryOverride {
        timeout: ctx.field(obj, "timeout", positive_duration),
        retry_schedule: retry_schedule(obj, ctx),
        jitter: ctx.field(obj, "jitter", parse_fraction),
        auto_disable_after: ctx.field(obj, "auto_disable_after", parse_count::<u32>),
        fail_fast_4xx: ctx.field(obj, "fail_fast_4xx", parse_bool),
        retry_after_cap: ctx.field(obj, "retry_after_cap", parse_duration),
    }
}

/// Lays the set fields of `o` over the global block `d`.
pub(crate) fn apply(d: &mut DeliveryConfig, o: DeliveryOverride) {
    d.timeout = o.timeout.unwrap_or(d.timeout);
    d.retry_schedule = o
        .retry_schedule
        .unwrap_or(std::mem::take(&mut d.retry_schedule));
    d.jitter = o.jitter.unwrap_or(d.jitter);
    d.auto_disable_after = o.auto_disable_after.unwrap_or(d.auto_disable_after);
    d.fail_fast_4xx = o.fail_fast_4xx.unwrap_or(d.fail_fast_4xx);
    d.retry_after_cap = o.retry_after_cap.unwrap_or(d.retry_after_cap);
}

/// A non-empty list of delays; `None` (reported) when empty or when any item is bad.
fn retry_schedule(obj: &Obj, ctx: &mut Ctx) -> Option<Vec<Duration>> {
    let entry = obj.entry("retry_schedule")?;
    let path = obj.path_of("retry_schedule");
    let items = ctx.list(&entry.value, &path)?;
    if items.is_empty() {
        ctx.error(
            entry.value.pos,
            &path,
            "retry_schedule must list at least one delay",
        );
        return None;
    }
    let parsed: Vec<Option<Duration>> = (items.iter().enumerate())
        .map(|(i, item)| ctx.value(item, &index_path(&path, i), parse_duration))
        .collect();
    parsed.into_iter().collect()
}

/// An endpoint's `delivery:` key (`endpoint` is the endpoint's mapping). `None` when absent
/// or empty; gateway-wide and unknown keys are reported.
pub(crate) fn endpoint_delivery(endpoint: &Obj, ctx: &mut Ctx) -> Option<DeliveryOverride> {
    let node = endpoint.get("delivery")?;
    let path = endpoint.path_of("delivery");
    let obj = ctx.map(node, &path)?;
    for e in obj.entries() {
        if GATEWAY_WIDE.contains(&e.key.as_str()) {
            ctx.error(e.key_pos, &obj.path_of(&e.key), gateway_wide(&e.key));
        } else if !OVERRIDABLE.contains(&e.key.as_str()) {
            ctx.unknown_key(e, &path, OVERRIDABLE);
        }
    }
    Some(read(&obj, ctx)).filter(|o| !o.is_empty())
}

fn gateway_wide(key: &str) -> String {
    let hint = match key {
        "max_in_flight" => "; an endpoint's own limit is `max_in_flight` beside its `url`",
        _ => "",
    };
    format!(
        "`{key}` applies to the whole gateway and cannot be set per endpoint \
         (set it in the top-level `delivery:` block{hint})"
    )
}

/// The overrides in the config file's spelling (`"5s"`, `["1m", "5m"]`), only the set
/// fields: what `GET /v1/endpoints/{id}` shows, and what a create or PATCH accepts back.
pub fn override_json(o: &DeliveryOverride) -> Value {
    let mut m = Map::new();
    let mut put = |k: &str, v: Option<Value>| {
        if let Some(v) = v {
            m.insert(k.to_string(), v);
        }
    };
    put("timeout", o.timeout.map(|d| json!(duration_text(d))));
    put(
        "retry_schedule",
        (o.retry_schedule.as_ref())
            .map(|s| json!(s.iter().map(|d| duration_text(*d)).collect::<Vec<_>>())),
    );
    put("jitter", o.jitter.map(|j| json!(j)));
    put("auto_disable_after", o.auto_disable_after.map(|n| json!(n)));
    put("fail_fast_4xx", o.fail_fast_4xx.map(|b| json!(b)));
    put(
        "retry_after_cap",
        o.retry_after_cap.map(|d| json!(duration_text(d))),
    );
    Value::Object(m)
}

/// The largest unit that states `d` exactly, in [`parse_duration`]'s syntax.
pub(crate) fn duration_text(d: Duration) -> String {
    let ms = d.as_millis();
    for (unit, per) in [
        ("d", 86_400_000),
        ("h", 3_600_000),
        ("m", 60_000),
        ("s", 1000),
    ] {
        if ms > 0 && ms % per == 0 {
            return format!("{}{unit}", ms / per);
        }
    }
    format!("{ms}ms")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_print_in_the_largest_exact_unit() {
        for (ms, text) in [
            (0, "0ms"),
            (200, "200ms"),
            (1500, "1500ms"),
            (5000, "5s"),
            (90_000, "90s"),
            (300_000, "5m"),
            (3_600_000, "1h"),
            (86_400_000, "1d"),
        ] {
            let d = Duration::from_millis(ms);
            assert_eq!(duration_text(d), text);
            assert_eq!(parse_duration(text), Ok(d));
        }
    }

    #[test]
    fn unset_fields_inherit_the_global_block() {
        let global = DeliveryConfig::default();
        let own = DeliveryOverride {
            retry_schedule: Some(vec![Duration::from_millis(200)]),
            fail_fast_4xx: Some(true),
            ..DeliveryOverride::default()
        };
        let p = global.policy(Some(&own));
        assert_eq!(p.retry_schedule, &[Duration::from_millis(200)]);
        assert_eq!(p.attempts(), 2);
        assert!(p.fail_fast_4xx);
        assert_eq!(p.timeout, global.timeout);
        assert_eq!(p.jitter, global.jitter);
        assert_eq!(p.auto_disable_after, global.auto_disable_after);
        assert_eq!(p.retry_after_cap, global.retry_after_cap);
        assert_eq!(global.policy(None).attempts(), 8);
    }

    #[test]
    fn overrides_show_only_what_is_set() {
        let own = DeliveryOverride {
            timeout: Some(Duration::from_secs(5)),
            retry_schedule: Some(vec![Duration::from_secs(60), Duration::from_secs(3600)]),
            jitter: Some(0.1),
            ..DeliveryOverride::default()
        };
        assert_eq!(
            override_json(&own),
            json!({"timeout": "5s", "retry_schedule": ["1m", "1h"], "jitter": 0.1})
        );
    }
}
