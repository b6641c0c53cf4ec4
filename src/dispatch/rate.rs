//! Per-endpoint rate limit: a token bucket that can say when the next token comes, so the
//! scheduler sleeps until then instead of polling.

use crate::store::Millis;

/// A token bucket refilled at `per_second`, holding at most one second's worth (at least 1).
#[derive(Debug, Clone)]
pub struct TokenBucket {
    per_second: f64,
    capacity: f64,
    tokens: f64,
    last_ms: Millis,
}

impl TokenBucket {
    /// A full bucket.
    pub fn new(per_second: f64, now_ms: Millis) -> Self {
        let capacity = per_second.max(1.0);
        Self {
            per_second,
            capacity,
            tokens: capacity,
            last_ms: now_ms,
        }
    }

    fn refill(&mut self, now_ms: Millis) {
        let elapsed = now_ms.saturating_sub(self.last_ms) as f64 / 1000.0;
        self.tokens = (self.tokens + elapsed * self.per_second).min(self.capacity);
        self.last_ms = self.last_ms.max(now_ms);
    }

    /// Whole tokens available now.
    pub fn available(&mut self, now_ms: Millis) -> usize {
        self.refill(now_ms);
        self.tokens.floor() as usize
    }

    /// Spends `n` tokens (call after [`TokenBucket::available`]).
    pub fn take(&mut self, n: usize) {
        self.tokens -= n as f64;
    }

    /// When the next whole token will be available.
    pub fn next_token_ms(&mut self, now_ms: Millis) -> Millis {
        self.refill(now_ms);
        if self.tokens >= 1.0 {
            return now_ms;
        }
        let wait = (1.0 - self.tokens) / self.per_second;
        now_ms + (wait * 1000.0).ceil() as Millis
    }

    /// Whether this bucket was made for `per_second` (a reload may change the rate).
    pub fn is_rate(&self, per_second: f64) -> bool {
        (self.per_second - per_second).abs() < f64::EPSILON
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refills_at_rate_and_caps_burst() {
        let mut b = TokenBucket::new(10.0, 0);
        assert_eq!(b.available(0), 10);
        b.take(10);
        assert_eq!(b.available(0), 0);
        assert_eq!(b.next_token_ms(0), 100);
        assert_eq!(b.available(250), 2);
        assert_eq!(b.available(100_000), 10);
    }

    #[test]
    fn slow_rates_wait_long() {
        let mut b = TokenBucket::new(0.5, 0);
        assert_eq!(b.available(0), 1);
        b.take(1);
        assert_eq!(b.next_token_ms(0), 2000);
        assert_eq!(b.available(1999), 0);
        assert_eq!(b.available(2000), 1);
    }
}
