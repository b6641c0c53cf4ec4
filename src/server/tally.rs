//! Warnings that count instead of repeating: under a connection flood the log gets one line per
//! period saying how many, not one line per connection.
//!
//! Pure: the caller passes the time and writes the line when told to.

use std::time::{Duration, Instant};

/// Counts events and says when to log them: the first at once, then at most once per `every`.
#[derive(Debug)]
pub(super) struct Tally {
    every: Duration,
    last: Option<Instant>,
    pending: u64,
}

impl Tally {
    /// A tally that logs at most once per `every`.
    pub fn new(every: Duration) -> Self {
        Tally {
            every,
            last: None,
            pending: 0,
        }
    }

    /// Counts `n` events at `now`; returns the count to log if a line is due now.
    pub fn add(&mut self, now: Instant, n: u64) -> Option<u64> {
        self.pending += n;
        self.flush(now)
    }

    /// When the count held back should be logged even if nothing else happens.
    pub fn flush_at(&self) -> Option<Instant> {
        match self.last {
            Some(last) if self.pending > 0 => Some(last + self.every),
            _ => None,
        }
    }

    /// Returns the count held back, if there is one and a line is due at `now`.
    pub fn flush(&mut self, now: Instant) -> Option<u64> {
        let due = self.last.is_none_or(|last| now >= last + self.every);
        if self.pending == 0 || !due {
            return None;
        }
        self.last = Some(now);
        Some(std::mem::take(&mut self.pending))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_at_once_then_once_per_period_with_the_count() {
        let t0 = Instant::now();
        let s = Duration::from_secs;
        let mut t = Tally::new(s(10));
        assert_eq!(t.flush_at(), None);
        assert_eq!(t.add(t0, 1), Some(1));
        assert_eq!(t.add(t0 + s(1), 5), None);
        assert_eq!(t.add(t0 + s(2), 3), None);
        assert_eq!(t.flush_at(), Some(t0 + s(10)));
        assert_eq!(t.flush(t0 + s(9)), None);
        assert_eq!(t.flush(t0 + s(10)), Some(8));
        assert_eq!(t.flush_at(), None);
        assert_eq!(t.flush(t0 + s(30)), None, "nothing held");
        assert_eq!(t.add(t0 + s(30), 2), Some(2));
    }
}
