//! What one connection is doing, as far as its timeouts care, and when it must close.
//!
//! Pure: the connection task feeds it events (a request began, a response finished, bytes
//! arrived) with the time they happened, and asks for the deadline. Timeouts follow Go's
//! `net/http`: a connection's first request has `header_read_timeout` from accept; after a
//! response the connection may sit for `idle_timeout` until a byte of the next request arrives,
//! which then has `header_read_timeout` to complete its header. A request in flight has no
//! deadline here.

use std::time::{Duration, Instant};

/// The two timeouts a waiting connection can hit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Timeouts {
    /// To send a complete request header.
    pub header: Duration,
    /// With nothing in flight and no byte of a next request.
    pub idle: Duration,
}

/// Which timeout a deadline comes from (for the log and the metric label).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Timeout {
    /// A request header did not complete in time.
    Header,
    /// A keep-alive connection sent nothing for too long.
    Idle,
}

/// One connection's state.
#[derive(Debug, Clone)]
pub(super) struct Activity {
    /// Requests whose response has not finished (more than one only if pipelined).
    in_flight: u32,
    /// Requests begun on this connection.
    served: u64,
    /// When the connection last became idle: accept, or the end of the last response.
    since: Instant,
    /// The first byte received since it became idle, if any: a next request has started.
    first_byte: Option<Instant>,
}

impl Activity {
    /// A connection accepted at `now`.
    pub fn new(now: Instant) -> Self {
        Activity {
            in_flight: 0,
            served: 0,
            since: now,
            first_byte: None,
        }
    }

    /// A request's header is complete and its handler runs.
    pub fn begin(&mut self) {
        self.in_flight += 1;
        self.served += 1;
        self.first_byte = None;
    }

    /// A response finished (its body was sent or dropped) at `now`.
    pub fn end(&mut self, now: Instant) {
        self.in_flight = self.in_flight.saturating_sub(1);
        if self.in_flight == 0 {
            self.since = now;
            self.first_byte = None;
        }
    }

    /// Bytes arrived at `now`. Only the first since the connection went idle counts: it starts
    /// the header clock of the next request. Bytes read while a request is in flight are its
    /// body (or pipelined), not a new request.
    pub fn saw_bytes(&mut self, now: Instant) {
        if self.in_flight == 0 && self.first_byte.is_none() {
            self.first_byte = Some(now);
        }
    }

    /// Since when the connection has had nothing in flight; `None` while a request runs.
    /// A connection still waiting for (the rest of) a header is idle.
    pub fn idle_since(&self) -> Option<Instant> {
        (self.in_flight == 0).then_some(self.since)
    }

    /// True while nothing was ever written to the connection: it can be dropped with no
    /// response cut short. Otherwise closing goes through hyper, which flushes first.
    pub fn untouched(&self) -> bool {
        self.in_flight == 0 && self.served == 0
    }

    /// When the connection must close and why; `None` while a request is in flight.
    pub fn deadline(&self, t: &Timeouts) -> Option<(Instant, Timeout)> {
        if self.in_flight > 0 {
            return None;
        }
        if self.served == 0 {
            return Some((self.since + t.header, Timeout::Header));
        }
        match self.first_byte {
            Some(at) => Some((at + t.header, Timeout::Header)),
            None => Some((self.since + t.idle, Timeout::Idle)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const T: Timeouts = Timeouts {
        header: Duration::from_secs(10),
        idle: Duration::from_secs(60),
    };

    fn s(n: u64) -> Duration {
        Duration::from_secs(n)
    }

    #[test]
    fn first_request_has_the_header_timeout_from_accept_bytes_or_not() {
        let t0 = Instant::now();
        let mut a = Activity::new(t0);
        assert_eq!(a.deadline(&T), Some((t0 + s(10), Timeout::Header)));
        a.saw_bytes(t0 + s(3));
        assert_eq!(a.deadline(&T), Some((t0 + s(10), Timeout::Header)));
        assert!(a.untouched());
        assert_eq!(a.idle_since(), Some(t0), "half a header is idle");
    }

    #[test]
    fn in_flight_has_no_deadline_and_body_bytes_do_not_start_a_header_clock() {
        let t0 = Instant::now();
        let mut a = Activity::new(t0);
        a.begin();
        a.saw_bytes(t0 + s(1));
        assert_eq!((a.deadline(&T), a.idle_since()), (None, None));
        assert!(!a.untouched());
        a.end(t0 + s(2));
        assert_eq!(a.deadline(&T), Some((t0 + s(62), Timeout::Idle)));
        assert_eq!(a.idle_since(), Some(t0 + s(2)));
    }

    #[test]
    fn after_a_response_idle_until_the_first_byte_then_the_header_timeout() {
        let t0 = Instant::now();
        let mut a = Activity::new(t0);
        a.begin();
        a.end(t0 + s(1));
        a.saw_bytes(t0 + s(50));
        a.saw_bytes(t0 + s(55));
        assert_eq!(a.deadline(&T), Some((t0 + s(60), Timeout::Header)));
        a.begin();
        a.end(t0 + s(70));
        assert_eq!(a.deadline(&T), Some((t0 + s(130), Timeout::Idle)));
        assert!(!a.untouched());
    }

    #[test]
    fn pipelined_requests_stay_busy_until_the_last_response() {
        let t0 = Instant::now();
        let mut a = Activity::new(t0);
        a.begin();
        a.begin();
        a.end(t0 + s(1));
        assert_eq!(a.deadline(&T), None);
        a.end(t0 + s(2));
        assert_eq!(a.idle_since(), Some(t0 + s(2)));
        a.end(t0 + s(3));
        assert_eq!(a.idle_since(), Some(t0 + s(3)), "an extra end is harmless");
    }
}
