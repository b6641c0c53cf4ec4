//! The process's open-file limit (`RLIMIT_NOFILE`), raised at start from the soft to the hard
//! limit, as Go's runtime does. Every client connection, delivery socket and database file is
//! a file descriptor; the soft limit is often 1,024 while the hard one allows far more, and a
//! gateway that stays at 1,024 fails under load with `EMFILE`. The hard limit is the
//! administrator's ceiling (systemd `LimitNOFILE=`, `ulimit -Hn`), so nothing goes past it.

/// The limit in force after [`raise_to_hard`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OpenFiles {
    /// The soft limit now in force: the most descriptors the process may hold.
    pub limit: u64,
    /// The soft limit before, when it was raised.
    pub raised_from: Option<u64>,
}

/// Raises the soft open-file limit to the hard one and returns what is in force. When the
/// limit cannot be read or raised, returns the error; the process keeps its old limit (see
/// [`soft_limit`]).
#[cfg(unix)]
pub fn raise_to_hard() -> std::io::Result<OpenFiles> {
    let mut lim = get()?;
    let before = lim.rlim_cur;
    if before >= lim.rlim_max {
        return Ok(OpenFiles {
            limit: as_u64(before),
            raised_from: None,
        });
    }
    lim.rlim_cur = lim.rlim_max;
    // SAFETY: `lim` is a valid `rlimit` that the call only reads; a soft limit equal to the
    // hard one is always allowed (macOS refuses RLIM_INFINITY, which is reported as an error).
    if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &lim) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(OpenFiles {
        limit: as_u64(lim.rlim_cur),
        raised_from: Some(as_u64(before)),
    })
}

/// The soft open-file limit in force now.
#[cfg(unix)]
pub fn soft_limit() -> std::io::Result<u64> {
    get().map(|l| as_u64(l.rlim_cur))
}

#[cfg(unix)]
fn get() -> std::io::Result<libc::rlimit> {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: `lim` is a valid, writable `rlimit` for the duration of the call, which writes
    // only into it; RLIMIT_NOFILE is a valid resource on every unix.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(lim)
}

/// Elsewhere there is no such limit; report none.
#[cfg(not(unix))]
pub fn soft_limit() -> std::io::Result<u64> {
    Ok(u64::MAX)
}

/// Elsewhere there is no such limit to raise; report none.
#[cfg(not(unix))]
pub fn raise_to_hard() -> std::io::Result<OpenFiles> {
    Ok(OpenFiles {
        limit: u64::MAX,
        raised_from: None,
    })
}

/// `rlim_t` is u64 on most unixes and i64 on a few; RLIM_INFINITY (or anything larger than
/// u64) reads as `u64::MAX`.
#[cfg(unix)]
#[allow(clippy::unnecessary_cast, clippy::useless_conversion)]
fn as_u64(v: libc::rlim_t) -> u64 {
    if v == libc::RLIM_INFINITY {
        return u64::MAX;
    }
    u64::try_from(v).unwrap_or(u64::MAX)
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;

    #[test]
    fn raising_is_idempotent_and_reaches_the_hard_limit() {
        let first = raise_to_hard().unwrap_or_else(|e| panic!("{e}"));
        let again = raise_to_hard().unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(again.limit, first.limit);
        assert_eq!(again.raised_from, None, "already at the hard limit");
        assert_eq!(soft_limit().ok(), Some(first.limit));
    }
}
