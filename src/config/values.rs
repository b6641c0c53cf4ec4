//! Parsers for the scalar value syntaxes of the config file: durations
//! (`500ms`, `5s`, `5m`, `2h`, `1d`), sizes (`32MiB`, `512KiB`, `1GiB`, plain
//! bytes), rates (`50/s`, `600/m`, `10/h`), booleans, counts, addresses and
//! the small keyword enums.
//!
//! Owns: the exact wording of "expected X, got Y" messages. Each parser takes
//! the scalar text and returns `Err(message)`; positions are added by the
//! caller. Imports nothing from api/store/dispatch/delivery/plugins.

use std::net::{IpAddr, SocketAddr};
use std::str::FromStr;
use std::time::Duration;

use super::types::{OnError, Ordering, Rate};

/// Parses `500ms`, `5s`, `5m`, `2h` or `1d` (a whole number and one unit).
/// Public so the CLI and API can accept the same spelling as the file.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let err = || format!("expected a duration like 500ms, 5s, 5m, 2h or 1d, got {s:?}");
    let t = s.trim();
    let split = t.find(|c: char| !c.is_ascii_digit()).ok_or_else(err)?;
    let (digits, unit) = t.split_at(split);
    if digits.is_empty() {
        return Err(err());
    }
    let n: u64 = digits.parse().map_err(|_| err())?;
    let ms_per_unit: u64 = match unit {
        "ms" => 1,
        "s" => 1000,
        "m" => 60 * 1000,
        "h" => 3600 * 1000,
        "d" => 24 * 3600 * 1000,
        _ => return Err(err()),
    };
    let ms = n
        .checked_mul(ms_per_unit)
        .ok_or_else(|| format!("duration {s:?} is too large"))?;
    Ok(Duration::from_millis(ms))
}

/// Parses `32MiB`, `512KiB`, `1GiB`, `100B` or a plain number of bytes.
/// Public so other size settings can share the syntax.
pub fn parse_size(s: &str) -> Result<u64, String> {
    let err =
        || format!("expected a size like 512KiB, 32MiB, 1GiB or a number of bytes, got {s:?}");
    let t = s.trim();
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (digits, unit) = t.split_at(split);
    if digits.is_empty() {
        return Err(err());
    }
    let n: u64 = digits.parse().map_err(|_| err())?;
    let mult: u64 = match unit.trim_start() {
        "" | "B" => 1,
        "KiB" => 1 << 10,
        "MiB" => 1 << 20,
        "GiB" => 1 << 30,
        _ => return Err(err()),
    };
    n.checked_mul(mult)
        .ok_or_else(|| format!("size {s:?} is too large"))
}

impl FromStr for Rate {
    type Err = String;

    /// Parses `N/s`, `N/m` or `N/h` (N may have a fraction) into per-second.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let err = || format!("expected N/s, N/m or N/h, got {s:?}");
        let (num, unit) = s.trim().split_once('/').ok_or_else(err)?;
        let num = num.trim();
        let numeric = num.chars().all(|c| c.is_ascii_digit() || c == '.');
        if num.is_empty() || !numeric {
            return Err(err());
        }
        let n: f64 = num.parse().map_err(|_| err())?;
        let per = match unit.trim() {
            "s" => 1.0,
            "m" => 60.0,
            "h" => 3600.0,
            _ => return Err(err()),
        };
        if n <= 0.0 {
            return Err(format!("rate must be greater than 0, got {s:?}"));
        }
        Ok(Rate {
            per_second: n / per,
        })
    }
}

/// `true`/`false` (YAML 1.2 core spellings).
pub(crate) fn parse_bool(s: &str) -> Result<bool, String> {
    match s {
        "true" | "True" | "TRUE" => Ok(true),
        "false" | "False" | "FALSE" => Ok(false),
        _ => Err(format!("expected true or false, got {s:?}")),
    }
}

/// A non-negative whole number that fits `T`.
pub(crate) fn parse_count<T: FromStr>(s: &str) -> Result<T, String> {
    let t = s.trim();
    if t.is_empty() || !t.chars().all(|c| c.is_ascii_digit()) {
        return Err(format!("expected a non-negative whole number, got {s:?}"));
    }
    t.parse().map_err(|_| format!("number {s:?} is too large"))
}

/// A whole number that is at least 1 (concurrency limits).
pub(crate) fn parse_positive(s: &str) -> Result<usize, String> {
    match parse_count::<usize>(s)? {
        0 => Err("must be at least 1".to_string()),
        n => Ok(n),
    }
}

/// Like [`parse_size`] but for in-memory limits.
pub(crate) fn parse_size_usize(s: &str) -> Result<usize, String> {
    let n = parse_size(s)?;
    usize::try_from(n).map_err(|_| format!("size {s:?} is too large"))
}

/// A fraction in `[0, 1]`.
pub(crate) fn parse_fraction(s: &str) -> Result<f64, String> {
    let t = s.trim();
    let numeric = !t.is_empty() && t.chars().all(|c| c.is_ascii_digit() || c == '.');
    match t.parse::<f64>() {
        Ok(v) if numeric && (0.0..=1.0).contains(&v) => Ok(v),
        _ => Err(format!("expected a number between 0 and 1, got {s:?}")),
    }
}

/// A socket address such as `127.0.0.1:8080` or `[::1]:8080`.
pub(crate) fn parse_socket_addr(s: &str) -> Result<SocketAddr, String> {
    s.trim()
        .parse()
        .map_err(|_| format!("expected a socket address like 127.0.0.1:8080, got {s:?}"))
}

/// A CIDR like `10.0.0.0/8`; a bare address means just that address.
pub(crate) fn parse_net(s: &str) -> Result<ipnet::IpNet, String> {
    let t = s.trim();
    if let Ok(net) = t.parse::<ipnet::IpNet>() {
        return Ok(net);
    }
    t.parse::<IpAddr>()
        .map(ipnet::IpNet::from)
        .map_err(|_| format!("expected a CIDR like 127.0.0.0/8, got {s:?}"))
}

impl FromStr for OnError {
    type Err = String;

    /// `retry`, `skip` or `drop`.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "retry" => Ok(OnError::Retry),
            "skip" => Ok(OnError::Skip),
            "drop" => Ok(OnError::Drop),
            _ => Err(format!("expected retry, skip or drop, got {s:?}")),
        }
    }
}

impl FromStr for Ordering {
    type Err = String;

    /// `none` or `fifo`.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "none" => Ok(Ordering::None),
            "fifo" => Ok(Ordering::Fifo),
            _ => Err(format!("expected none or fifo, got {s:?}")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        let ok = [
            ("500ms", Duration::from_millis(500)),
            ("5s", Duration::from_secs(5)),
            ("5m", Duration::from_secs(300)),
            ("2h", Duration::from_secs(7200)),
            ("1d", Duration::from_secs(86400)),
            ("0s", Duration::ZERO),
        ];
        for (text, want) in ok {
            assert_eq!(parse_duration(text), Ok(want), "{text}");
        }
        for bad in [
            "",
            "5",
            "s",
            "5 s",
            "1.5s",
            "-1s",
            "5sec",
            "99999999999999999999d",
            "5S",
        ] {
            assert!(parse_duration(bad).is_err(), "{bad:?} should fail");
        }
        assert_eq!(
            parse_duration("soon"),
            Err("expected a duration like 500ms, 5s, 5m, 2h or 1d, got \"soon\"".to_string())
        );
    }

    #[test]
    fn sizes() {
        let ok = [
            ("32MiB", 32 << 20),
            ("512KiB", 512 << 10),
            ("1GiB", 1 << 30),
            ("2000", 2000),
            ("10B", 10),
        ];
        for (text, want) in ok {
            assert_eq!(parse_size(text), Ok(want), "{text}");
        }
        for bad in [
            "",
            "MiB",
            "32mb",
            "32MB",
            "1.5MiB",
            "-1",
            "99999999999999GiB",
        ] {
            assert!(parse_size(bad).is_err(), "{bad:?} should fail");
        }
    }

    #[test]
    fn rates() {
        let ok = [
            ("50/s", 50.0),
            ("600/m", 10.0),
            ("36/h", 0.01),
            ("0.5/s", 0.5),
        ];
        for (text, want) in ok {
            let got = text.parse::<Rate>().map(|r| r.per_second);
            assert!(
                matches!(got, Ok(v) if (v - want).abs() < 1e-12),
                "{text}: {got:?}"
            );
        }
        for bad in ["fast", "50", "50/d", "/s", "-1/s", "inf/s", "1e3/s"] {
            assert!(bad.parse::<Rate>().is_err(), "{bad:?} should fail");
        }
        assert_eq!(
            "0/s".parse::<Rate>(),
            Err("rate must be greater than 0, got \"0/s\"".into())
        );
        assert_eq!(
            "fast".parse::<Rate>(),
            Err("expected N/s, N/m or N/h, got \"fast\"".into())
        );
    }

    #[test]
    fn small_values() {
        assert_eq!(parse_bool("TRUE"), Ok(true));
        assert!(parse_bool("yes").is_err());
        assert_eq!(parse_count::<u32>("20"), Ok(20));
        assert!(parse_count::<u32>("-1").is_err());
        assert!(parse_count::<u32>("4294967296").is_err());
        assert!(parse_positive("0").is_err());
        assert_eq!(parse_fraction("0.2"), Ok(0.2));
        assert!(parse_fraction("1.5").is_err());
        assert!(parse_fraction("-0.1").is_err());
        assert!(parse_socket_addr("localhost:80").is_err());
        assert_eq!(parse_net("10.0.0.1").map(|n| n.prefix_len()), Ok(32));
        assert!(parse_net("10.0.0.0/33").is_err());
        assert_eq!("fifo".parse::<Ordering>(), Ok(Ordering::Fifo));
        assert_eq!("drop".parse::<OnError>(), Ok(OnError::Drop));
    }
}
