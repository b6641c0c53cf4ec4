//! [`VerifyError`] and the header/timestamp helpers every scheme's verifier
//! shares, so that all schemes report problems the same way.

/// Why a received request failed verification. Each variant's message says
/// what to check, because these surface verbatim in `hookgate verify` output
/// and in the example receiver's logs.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum VerifyError {
    /// A header the scheme requires was not sent (the name is lower-case).
    #[error("missing header {0}")]
    MissingHeader(String),
    /// A header was present but could not be parsed; the text says which and how.
    #[error("malformed signature header: {0}")]
    Malformed(String),
    /// The signed timestamp is too far from the receiver's clock: a replayed
    /// request, or sender and receiver clocks disagree.
    #[error(
        "timestamp {timestamp} is {skew}s away from now ({now}), outside the allowed tolerance: \
         check both clocks, or this is a replayed request",
        skew = skew(.timestamp, .now)
    )]
    TimestampOutOfTolerance {
        /// Unix seconds claimed by the request.
        timestamp: i64,
        /// Unix seconds on the receiver when it checked.
        now: i64,
    },
    /// Well-formed, but no signature matched this secret.
    #[error(
        "no signature matched: the secret, the exact body bytes or the scheme \
         differ from what the sender used"
    )]
    NoMatchingSignature,
}

/// Absolute distance between two unix times, without overflow.
fn skew(timestamp: &i64, now: &i64) -> u64 {
    now.abs_diff(*timestamp)
}

/// Value of the first header called `name` (ASCII case-insensitive, as HTTP
/// header names are), trimmed.
pub(super) fn find_header<'h>(
    headers: &'h [(String, String)],
    name: &str,
) -> Result<&'h str, VerifyError> {
    headers
        .iter()
        .find(|(n, _)| n.trim().eq_ignore_ascii_case(name))
        .map(|(_, v)| v.trim())
        .ok_or_else(|| VerifyError::MissingHeader(name.to_ascii_lowercase()))
}

/// Parses unix seconds, naming `what` in the error so the user knows which
/// header to fix.
pub(super) fn parse_timestamp(raw: &str, what: &str) -> Result<i64, VerifyError> {
    raw.parse().map_err(|_| {
        VerifyError::Malformed(format!(
            "{what} {} is not a unix timestamp in seconds",
            quote(raw)
        ))
    })
}

/// Rejects timestamps more than `tolerance_secs` from `now`, the replay
/// protection of the timestamped schemes. A negative tolerance counts as 0.
pub(super) fn check_tolerance(
    timestamp: i64,
    now: i64,
    tolerance_secs: i64,
) -> Result<(), VerifyError> {
    let allowed = u64::try_from(tolerance_secs).unwrap_or(0);
    if now.abs_diff(timestamp) > allowed {
        Err(VerifyError::TimestampOutOfTolerance { timestamp, now })
    } else {
        Ok(())
    }
}

/// Header text for an error message: escaped (no control characters reach a
/// log line) and cut to a readable length, since it comes from the network.
pub(super) fn quote(raw: &str) -> String {
    const MAX_CHARS: usize = 80;
    if raw.chars().count() > MAX_CHARS {
        let cut: String = raw.chars().take(MAX_CHARS).collect();
        format!("{cut:?}...")
    } else {
        format!("{raw:?}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_lookup_is_case_insensitive_and_trims() {
        let headers = vec![("Webhook-ID ".to_string(), " msg_1 ".to_string())];
        assert_eq!(find_header(&headers, "webhook-id"), Ok("msg_1"));
        assert_eq!(
            find_header(&headers, "Webhook-Signature"),
            Err(VerifyError::MissingHeader("webhook-signature".into()))
        );
    }

    #[test]
    fn tolerance_is_inclusive_and_symmetric() {
        assert!(check_tolerance(1000, 1300, 300).is_ok());
        assert!(check_tolerance(1300, 1000, 300).is_ok());
        assert!(check_tolerance(1000, 1301, 300).is_err());
        assert!(check_tolerance(i64::MIN, i64::MAX, 300).is_err());
        assert!(check_tolerance(5, 5, -1).is_ok());
        assert!(check_tolerance(5, 6, -1).is_err());
    }

    #[test]
    fn messages_are_actionable() {
        let e = VerifyError::MissingHeader("webhook-signature".into());
        assert_eq!(e.to_string(), "missing header webhook-signature");
        let e = VerifyError::TimestampOutOfTolerance {
            timestamp: 100,
            now: 500,
        };
        assert!(e.to_string().contains("400s away"), "{e}");
        assert!(parse_timestamp("12x", "webhook-timestamp")
            .unwrap_err()
            .to_string()
            .contains("webhook-timestamp \"12x\""));
        assert_eq!(quote(&"a".repeat(100)).len(), 80 + 2 + 3);
    }
}
