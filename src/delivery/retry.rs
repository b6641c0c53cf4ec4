//! Retry arithmetic: pure functions, table-tested.
//!
//! The schedule lists the delays after attempt 1, 2, …; when it runs out the delivery is dead.
//! Jitter spreads retries of a burst so a recovering receiver is not hit by all of them at once.
//! `Retry-After` can only lengthen the wait (the receiver asked for at least that long), and is
//! capped so a hostile or buggy receiver cannot park a delivery for a year.

use std::time::{Duration, SystemTime};

/// The delay before the attempt after `failed_attempt` (1-based), or `None` when the schedule is
/// exhausted and the delivery is dead. `unit_random` is a uniform draw in `[0, 1)`, passed in so
/// tests are deterministic.
pub fn next_delay(
    failed_attempt: u32,
    schedule: &[Duration],
    jitter: f64,
    retry_after: Option<Duration>,
    cap: Duration,
    unit_random: f64,
) -> Option<Duration> {
    let idx = usize::try_from(failed_attempt).ok()?.checked_sub(1)?;
    let base = *schedule.get(idx)?;
    let factor = (1.0 + jitter.clamp(0.0, 1.0) * (2.0 * unit_random - 1.0)).max(0.0);
    let mut delay = base.mul_f64(factor);
    if let Some(ra) = retry_after {
        delay = delay.max(ra.min(cap));
    }
    Some(delay)
}

/// Parses a `Retry-After` value: delta-seconds or an HTTP date (RFC 9110 §10.2.3).
pub fn parse_retry_after(value: &str, now: SystemTime) -> Option<Duration> {
    let v = value.trim();
    if let Ok(secs) = v.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let at = httpdate::parse_http_date(v).ok()?;
    Some(at.duration_since(now).unwrap_or(Duration::ZERO))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(n: u64) -> Duration {
        Duration::from_secs(n)
    }

    #[test]
    fn schedule_table() {
        let sched = [s(5), s(300), s(1800)];
        let cap = s(3600);
        // (failed attempt, jitter, draw, retry_after, expected)
        type Case = (u32, f64, f64, Option<Duration>, Option<Duration>);
        let cases: &[Case] = &[
            (1, 0.0, 0.5, None, Some(s(5))),
            (2, 0.0, 0.9, None, Some(s(300))),
            (3, 0.0, 0.0, None, Some(s(1800))),
            (4, 0.0, 0.0, None, None),
            (0, 0.0, 0.0, None, None),
            (1, 0.2, 0.0, None, Some(s(4))),
            (1, 0.2, 0.5, None, Some(s(5))),
            (2, 0.2, 1.0, None, Some(s(360))),
            (1, 0.0, 0.5, Some(s(60)), Some(s(60))),
            (2, 0.0, 0.5, Some(s(1)), Some(s(300))),
            (1, 0.0, 0.5, Some(s(86_400)), Some(s(3600))),
            (4, 0.0, 0.5, Some(s(1)), None),
        ];
        for (i, (n, j, r, ra, want)) in cases.iter().enumerate() {
            assert_eq!(next_delay(*n, &sched, *j, *ra, cap, *r), *want, "case {i}");
        }
    }

    #[test]
    fn retry_after_forms() {
        let now = SystemTime::UNIX_EPOCH + s(1_700_000_000);
        assert_eq!(parse_retry_after("120", now), Some(s(120)));
        assert_eq!(parse_retry_after(" 0 ", now), Some(s(0)));
        let later = httpdate::fmt_http_date(now + s(30));
        assert_eq!(parse_retry_after(&later, now), Some(s(30)));
        let past = httpdate::fmt_http_date(now - s(30));
        assert_eq!(parse_retry_after(&past, now), Some(Duration::ZERO));
        assert_eq!(parse_retry_after("soon", now), None);
        assert_eq!(parse_retry_after("-5", now), None);
    }
}
