//! What a response means for the delivery (SPEC §4 "Success = any 2xx …").

/// The verdict on one attempt. A value, not an error: every branch is expected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// 2xx: delivered.
    Success,
    /// Transient (timeouts, network errors, 3xx, 408, 429, 5xx, and other 4xx unless
    /// `fail_fast_4xx`): try again per the schedule.
    Retry,
    /// The receiver refused for good (other 4xx with `fail_fast_4xx`): dead now.
    Dead,
    /// 410 Gone: the receiver wants no more; the endpoint is disabled.
    Gone,
}

/// Classifies a status code (`None` = no response: network error, timeout, blocked address).
pub fn classify(status: Option<u16>, fail_fast_4xx: bool) -> Verdict {
    match status {
        None => Verdict::Retry,
        Some(200..=299) => Verdict::Success,
        Some(410) => Verdict::Gone,
        Some(408 | 429) => Verdict::Retry,
        Some(400..=499) if fail_fast_4xx => Verdict::Dead,
        Some(_) => Verdict::Retry,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_table() {
        let cases = [
            (None, false, Verdict::Retry),
            (Some(200), false, Verdict::Success),
            (Some(204), true, Verdict::Success),
            (Some(299), false, Verdict::Success),
            (Some(301), false, Verdict::Retry),
            (Some(302), true, Verdict::Retry),
            (Some(400), false, Verdict::Retry),
            (Some(400), true, Verdict::Dead),
            (Some(404), true, Verdict::Dead),
            (Some(408), true, Verdict::Retry),
            (Some(410), false, Verdict::Gone),
            (Some(410), true, Verdict::Gone),
            (Some(429), true, Verdict::Retry),
            (Some(500), true, Verdict::Retry),
            (Some(503), false, Verdict::Retry),
            (Some(100), false, Verdict::Retry),
        ];
        for (status, ff, want) in cases {
            assert_eq!(classify(status, ff), want, "{status:?} fail_fast={ff}");
        }
    }
}
