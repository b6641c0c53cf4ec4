//! The connection table: which connections are open, which are idle and since when, and the
//! shedding policy at the cap.
//!
//! Pure (no sockets, no clock): the accept loop admits connections through it and closes the
//! handles it gives back; connection tasks report when they go busy or idle and when they end.
//! Policy: at the cap, a new connection is admitted by shedding the connection that has been
//! idle the longest. Idle means no request in flight, so it includes one that never finished
//! its first header (the cheapest way to hold a server's file descriptors) and one parked in a
//! client's pool; a connection with a request in flight is never shed. When nothing is idle,
//! [`ConnTable::has_room`] is false and the accept loop waits.

use std::collections::{BTreeSet, HashMap};
use std::time::Instant;

/// A connection's key in the table; never reused.
pub(super) type ConnId = u64;

/// Open connections, each with a handle `H` that the accept loop uses to close it.
///
/// A shed connection stays in the table, as closing, until its task ends: its descriptor is
/// only released then, and under a flood the accept loop outruns those tasks. Closing ones do
/// not count against the cap, but at most `cap / 16` (at least 1) may be pending on top of it
/// before [`ConnTable::has_room`] says wait, so descriptors held stay near the cap.
#[derive(Debug)]
pub(super) struct ConnTable<H> {
    cap: usize,
    closing_slack: usize,
    next_id: ConnId,
    conns: HashMap<ConnId, Entry<H>>,
    /// The idle ones, oldest first: `(idle since, id)`.
    idle: BTreeSet<(Instant, ConnId)>,
    /// How many entries are closing.
    closing: usize,
}

#[derive(Debug)]
struct Entry<H> {
    state: State,
    handle: H,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// No request in flight since then.
    Idle(Instant),
    /// A request in flight.
    Busy,
    /// Shed; its task has not ended yet.
    Closing,
}

impl<H: Clone> ConnTable<H> {
    /// An empty table that holds at most `cap` connections (at least 1).
    pub fn new(cap: usize) -> Self {
        let cap = cap.max(1);
        ConnTable {
            cap,
            closing_slack: (cap / 16).max(1),
            next_id: 0,
            conns: HashMap::new(),
            idle: BTreeSet::new(),
            closing: 0,
        }
    }

    /// Connections in the table that are not closing.
    pub fn len(&self) -> usize {
        self.conns.len() - self.closing
    }

    /// Whether [`ConnTable::admit`] would stay within the cap (below it, or something idle to
    /// shed) and not too many shed connections are still closing.
    pub fn has_room(&self) -> bool {
        let within = self.len() < self.cap || !self.idle.is_empty();
        within && self.closing < self.closing_slack
    }

    /// At the cap with nothing idle to shed: new connections must wait for a request to end.
    pub fn all_busy(&self) -> bool {
        self.len() >= self.cap && self.idle.is_empty()
    }

    /// Adds a connection accepted at `now` (idle: it has sent no request yet). Returns its id
    /// and the handles of the connections shed to make room, oldest idle first; the caller
    /// closes them. If nothing was idle (a connection went busy since
    /// [`ConnTable::has_room`]), the table goes one over the cap rather than refuse.
    pub fn admit(&mut self, now: Instant, handle: H) -> (ConnId, Vec<H>) {
        let mut shed = Vec::new();
        while self.len() >= self.cap {
            match self.mark_oldest_idle() {
                Some(id) => shed.push(id),
                None => break,
            }
        }
        let id = self.next_id;
        self.next_id += 1;
        let state = State::Idle(now);
        self.conns.insert(id, Entry { state, handle });
        self.idle.insert((now, id));
        let handles = shed.iter().filter_map(|i| self.conns.get(i));
        (id, handles.map(|e| e.handle.clone()).collect())
    }

    /// Sheds the connection idle the longest and returns its handle (also used when accept
    /// fails for want of file descriptors).
    pub fn shed_oldest_idle(&mut self) -> Option<H> {
        let id = self.mark_oldest_idle()?;
        self.conns.get(&id).map(|e| e.handle.clone())
    }

    fn mark_oldest_idle(&mut self) -> Option<ConnId> {
        let (_, id) = self.idle.pop_first()?;
        let e = self.conns.get_mut(&id)?;
        e.state = State::Closing;
        self.closing += 1;
        Some(id)
    }

    /// Records that a connection went busy (`None`) or idle since a time. Closing and unknown
    /// ones are left alone. Returns true when it became idle: room may have appeared.
    pub fn set_idle_since(&mut self, id: ConnId, since: Option<Instant>) -> bool {
        let Some(e) = self.conns.get_mut(&id) else {
            return false;
        };
        match e.state {
            State::Closing => return false,
            State::Idle(old) => {
                self.idle.remove(&(old, id));
            }
            State::Busy => {}
        }
        e.state = since.map_or(State::Busy, State::Idle);
        if let Some(t) = since {
            self.idle.insert((t, id));
        }
        since.is_some()
    }

    /// Removes a connection whose task ended. Returns whether it was in the table.
    pub fn remove(&mut self, id: ConnId) -> bool {
        let Some(e) = self.conns.remove(&id) else {
            return false;
        };
        match e.state {
            State::Idle(t) => {
                self.idle.remove(&(t, id));
            }
            State::Closing => self.closing -= 1,
            State::Busy => {}
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn at(t0: Instant, s: u64) -> Instant {
        t0 + Duration::from_secs(s)
    }

    #[test]
    fn below_the_cap_nothing_is_shed() {
        let t0 = Instant::now();
        let mut t = ConnTable::new(3);
        for (i, name) in ["a", "b", "c"].into_iter().enumerate() {
            let (_, shed) = t.admit(at(t0, i as u64), name);
            assert!(shed.is_empty());
        }
        assert_eq!(t.len(), 3);
    }

    #[test]
    fn at_the_cap_the_longest_idle_goes_first_whatever_the_accept_order() {
        let t0 = Instant::now();
        let mut t = ConnTable::new(3);
        let (a, _) = t.admit(at(t0, 0), "a");
        let (b, _) = t.admit(at(t0, 1), "b");
        let (c, _) = t.admit(at(t0, 2), "c");
        // a served a request and has been idle only since 10; b and c never sent a header.
        t.set_idle_since(a, None);
        t.set_idle_since(a, Some(at(t0, 10)));
        assert_eq!(t.admit(at(t0, 11), "d").1, ["b"]);
        assert!(!t.has_room(), "b is still closing");
        assert!(t.remove(b), "its task ended");
        assert!(t.has_room());
        assert_eq!(t.admit(at(t0, 12), "e").1, ["c"]);
        assert!(t.remove(c));
        assert_eq!(t.admit(at(t0, 13), "f").1, ["a"]);
        assert!(t.remove(a));
        assert_eq!(t.len(), 3);
        assert!(!t.remove(b), "gone already");
    }

    #[test]
    fn busy_connections_are_never_shed() {
        let t0 = Instant::now();
        let mut t = ConnTable::new(2);
        let (a, _) = t.admit(at(t0, 0), "a");
        let (b, _) = t.admit(at(t0, 1), "b");
        t.set_idle_since(a, None);
        assert!(t.has_room(), "b is idle");
        let (c, shed) = t.admit(at(t0, 2), "c");
        assert_eq!(shed, ["b"]);
        assert!(!t.set_idle_since(b, None), "a closing one stays closing");
        assert!(t.remove(b));
        t.set_idle_since(c, None);
        assert!(!t.has_room(), "everything busy: the accept loop waits");
        assert!(t.all_busy());
        // Admitted anyway (a race with has_room): one over the cap, nothing busy shed.
        assert!(t.admit(at(t0, 3), "d").1.is_empty());
        assert_eq!(t.len(), 3);
        // a finishes: it is idle now, so it can be shed, and there is room again.
        assert!(t.set_idle_since(a, Some(at(t0, 4))));
        assert!(t.has_room());
        assert_eq!(t.admit(at(t0, 5), "e").1, ["d", "a"]);
        assert_eq!(t.len(), 2, "c (busy) and e");
    }

    #[test]
    fn shed_connections_still_closing_hold_back_admission_past_a_slack() {
        let t0 = Instant::now();
        let mut t = ConnTable::new(32);
        for i in 0..32 {
            t.admit(at(t0, i), i);
        }
        assert_eq!(t.admit(at(t0, 40), 40).1, [0]);
        assert!(t.has_room(), "one closing, slack is 32 / 16 = 2");
        assert_eq!(t.admit(at(t0, 41), 41).1, [1]);
        assert!(!t.has_room(), "two closing: wait until their tasks end");
        assert!(!t.all_busy(), "but not because everything is busy");
        assert_eq!(t.len(), 32);
        assert!(t.remove(0));
        assert!(t.has_room());
    }

    #[test]
    fn ended_connections_leave_and_unknown_ids_are_ignored() {
        let t0 = Instant::now();
        let mut t = ConnTable::new(1);
        let (a, _) = t.admit(at(t0, 0), "a");
        assert!(t.remove(a));
        assert!(!t.set_idle_since(a, Some(at(t0, 1))));
        let (b, shed) = t.admit(at(t0, 2), "b");
        assert!(shed.is_empty());
        assert_eq!(t.shed_oldest_idle(), Some("b"));
        assert_eq!(t.shed_oldest_idle(), None);
        assert_eq!(t.len(), 0);
        assert!(!t.has_room(), "b still closing");
        assert!(t.remove(b));
        assert!(t.has_room());
        let mut zero = ConnTable::new(0);
        assert!(
            zero.admit(at(t0, 0), "x").1.is_empty(),
            "a cap of 0 means 1"
        );
        assert_eq!(zero.admit(at(t0, 1), "y").1, ["x"]);
    }
}
