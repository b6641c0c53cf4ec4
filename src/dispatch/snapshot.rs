//! [`Snapshot`]: an immutable view of every live endpoint, indexed the ways the hot paths ask.
//!
//! Built from persistent maps (`imbl`), so adding or removing one endpoint makes a new snapshot
//! in O(log n) that shares everything else with the old one: creating the 100,000th endpoint
//! through the API costs what creating the first did, and readers holding the old snapshot are
//! never disturbed. The fan-out index answers "who wants this event" by looking up the event's
//! type and its prefixes, never by walking a tenant's endpoints.
//!
//! Memory per endpoint matters here (a gateway holds 100,000): every index is a B-tree
//! (`OrdMap`/`OrdSet`, dense nodes) rather than a hash trie, whose sparse nodes cost ~400 bytes
//! per key at 100,000 keys; sets of endpoints hold [`Keyed`] pointers instead of copies of the
//! ids; a route key is one short string; and a group of one endpoint is just that pointer.

use std::borrow::Borrow;
use std::hash::{Hash, Hasher};
use std::ops::Bound;
use std::sync::Arc;

use imbl::{OrdMap, OrdSet};

use super::registry::LiveEndpoint;
use crate::config::EventPattern;

/// An endpoint that compares, orders and hashes as its id and lends the id as a lookup key, so
/// a set of endpoints keyed by id holds one pointer per endpoint rather than a second copy of
/// the id next to it.
#[derive(Debug, Clone)]
pub struct Keyed(pub Arc<LiveEndpoint>);

impl Keyed {
    fn id(&self) -> &str {
        &self.0.config.id
    }
}

impl Borrow<str> for Keyed {
    fn borrow(&self) -> &str {
        self.id()
    }
}

impl PartialEq for Keyed {
    fn eq(&self, other: &Self) -> bool {
        self.id() == other.id()
    }
}

impl Eq for Keyed {}

impl PartialOrd for Keyed {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Keyed {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.id().cmp(other.id())
    }
}

/// Hashes as the id `str` does, as `Borrow<str>` requires.
impl Hash for Keyed {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.id().hash(state)
    }
}

/// Endpoints by id, in id order.
type IdSet = OrdSet<Keyed>;

/// Most endpoints a [`Group::Few`] holds before it becomes a set.
const FEW_MAX: usize = 16;

/// The endpoints under one route or of one tenant, in id order. Most groups are small (a
/// customer's tenant has a few endpoints, an exact event type one or a few subscribers), and a
/// persistent set's smallest node costs ~0.5 KiB, so one endpoint is held as itself, a few as a
/// shared slice copied on change (at most [`FEW_MAX`] pointers), and more as a set changed in
/// O(log n).
#[derive(Debug, Clone)]
enum Group {
    One(Arc<LiveEndpoint>),
    Few(Arc<[Arc<LiveEndpoint>]>),
    Many(IdSet),
}

impl Group {
    fn insert(&mut self, e: Arc<LiveEndpoint>) {
        match self {
            Group::One(only) if only.config.id == e.config.id => *only = e,
            Group::One(only) => {
                let mut v = vec![only.clone(), e];
                v.sort_by(|a, b| a.config.id.cmp(&b.config.id));
                *self = Group::Few(Arc::from(v));
            }
            Group::Few(list) if list.len() < FEW_MAX || find(list, &e.config.id).is_ok() => {
                let mut v = list.to_vec();
                match find(&v, &e.config.id) {
                    Ok(i) => v[i] = e,
                    Err(i) => v.insert(i, e),
                }
                *list = Arc::from(v);
            }
            Group::Few(list) => {
                let mut set: IdSet = list.iter().cloned().map(Keyed).collect();
                set.insert(Keyed(e));
                *self = Group::Many(set);
            }
            Group::Many(set) => {
                set.insert(Keyed(e));
            }
        }
    }

    /// Removes `id`; `None` when the group is empty afterwards.
    fn without(self, id: &str) -> Option<Group> {
        match self {
            Group::One(only) if only.config.id == id => None,
            Group::Few(list) => match find(&list, id) {
                Ok(i) => {
                    let mut v = list.to_vec();
                    v.remove(i);
                    match v.len() {
                        0 => None,
                        1 => v.pop().map(Group::One),
                        _ => Some(Group::Few(Arc::from(v))),
                    }
                }
                Err(_) => Some(Group::Few(list)),
            },
            Group::Many(mut set) => {
                set.remove(id);
                (!set.is_empty()).then_some(Group::Many(set))
            }
            other => Some(other),
        }
    }

    /// Members after `cursor` (all without one), in id order.
    fn after<'a>(
        &'a self,
        cursor: Option<&'a str>,
    ) -> Box<dyn Iterator<Item = &'a Arc<LiveEndpoint>> + 'a> {
        match self {
            Group::One(only) => {
                let past = cursor.is_some_and(|c| only.config.id.as_str() <= c);
                Box::new((!past).then_some(only).into_iter())
            }
            Group::Few(list) => {
                let from = cursor.map_or(0, |c| match find(list, c) {
                    Ok(i) => i + 1,
                    Err(i) => i,
                });
                Box::new(list[from..].iter())
            }
            Group::Many(set) => Box::new(range_after(set, cursor)),
        }
    }
}

fn find(list: &[Arc<LiveEndpoint>], id: &str) -> Result<usize, usize> {
    list.binary_search_by(|x| x.config.id.as_str().cmp(id))
}

/// The members of `set` after `cursor`, found by a seek.
fn range_after<'a>(
    set: &'a IdSet,
    cursor: Option<&'a str>,
) -> impl Iterator<Item = &'a Arc<LiveEndpoint>> + 'a {
    let from = cursor.map_or(Bound::Unbounded, Bound::Excluded);
    set.range::<_, str>((from, Bound::Unbounded)).map(|k| &k.0)
}

/// Adds `e` to the group under `key`, creating it.
fn add<K: Ord + Clone>(map: &mut OrdMap<K, Group>, key: K, e: Arc<LiveEndpoint>) {
    match map.get_mut(&key) {
        Some(group) => group.insert(e),
        None => {
            map.insert(key, Group::One(e));
        }
    }
}

/// Takes `id` out of the group under `key`, dropping the group once empty.
fn take<K, Q>(map: &mut OrdMap<K, Group>, key: &Q, id: &str)
where
    K: Ord + Clone + Borrow<Q>,
    Q: Ord + ?Sized,
{
    if let Some((k, group)) = map.remove_with_key(key) {
        if let Some(rest) = group.without(id) {
            map.insert(k, rest);
        }
    }
}

/// See the module docs.
#[derive(Debug, Default, Clone)]
pub struct Snapshot {
    by_id: IdSet,
    by_tenant: OrdMap<Box<str>, Group>,
    /// Keyed by [`route_key`]: tenant and pattern form in one string.
    routes: OrdMap<Box<str>, Group>,
}

impl Snapshot {
    /// Indexes a list of endpoints.
    pub fn new(endpoints: impl IntoIterator<Item = Arc<LiveEndpoint>>) -> Self {
        let mut s = Snapshot::default();
        for e in endpoints {
            s.insert(e);
        }
        s
    }

    /// Adds an endpoint, replacing one with its id.
    pub fn insert(&mut self, e: Arc<LiveEndpoint>) {
        self.remove(&e.config.id);
        let mut key = String::new();
        for pattern in patterns(&e) {
            route_key(&mut key, &e.config.tenant, pattern);
            add(&mut self.routes, Box::from(key.as_str()), e.clone());
        }
        add(
            &mut self.by_tenant,
            Box::from(e.config.tenant.as_str()),
            e.clone(),
        );
        self.by_id.insert(Keyed(e));
    }

    /// Removes an endpoint; absent is fine.
    pub fn remove(&mut self, id: &str) {
        let Some(Keyed(old)) = self.by_id.remove(id) else {
            return;
        };
        let mut key = String::new();
        for pattern in patterns(&old) {
            route_key(&mut key, &old.config.tenant, pattern);
            take(&mut self.routes, key.as_str(), id);
        }
        take(&mut self.by_tenant, old.config.tenant.as_str(), id);
    }

    /// One endpoint.
    pub fn get(&self, id: &str) -> Option<&Arc<LiveEndpoint>> {
        self.by_id.get(id).map(|k| &k.0)
    }

    /// How many endpoints there are.
    pub fn len(&self) -> usize {
        self.by_id.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.by_id.is_empty()
    }

    /// Every endpoint, in id order.
    pub fn iter(&self) -> impl Iterator<Item = &Arc<LiveEndpoint>> {
        self.by_id.iter().map(|k| &k.0)
    }

    /// Endpoints after `cursor` in id order, of one tenant or of all: a page costs its own
    /// length plus a seek, whatever the total.
    pub fn after<'a>(
        &'a self,
        tenant: Option<&str>,
        cursor: Option<&'a str>,
    ) -> Box<dyn Iterator<Item = &'a Arc<LiveEndpoint>> + 'a> {
        let Some(t) = tenant else {
            return Box::new(range_after(&self.by_id, cursor));
        };
        match self.by_tenant.get(t) {
            Some(g) => g.after(cursor),
            None => Box::new(std::iter::empty()),
        }
    }

    /// The endpoints of `tenant` whose patterns select `event_type`, in id order (each once).
    /// Costs a lookup per pattern form the type can match (`*`, itself, each `prefix.*`) plus
    /// the matches, not a walk over the tenant's endpoints.
    pub fn subscribers(&self, tenant: &str, event_type: &str) -> Vec<Arc<LiveEndpoint>> {
        let mut found: Vec<Arc<LiveEndpoint>> = Vec::new();
        let mut key = String::new();
        for pattern in candidate_patterns(event_type) {
            route_key(&mut key, tenant, pattern);
            if let Some(group) = self.routes.get(key.as_str()) {
                found.extend(group.after(None).cloned());
            }
        }
        found.sort_by(|a, b| a.config.id.cmp(&b.config.id));
        found.dedup_by(|a, b| a.config.id == b.config.id);
        found
    }
}

/// A pattern as the route index spells it, borrowed from an endpoint or an event type.
#[derive(Debug, Clone, Copy)]
enum PatternRef<'a> {
    All,
    Exact(&'a str),
    Prefix(&'a str),
}

impl<'a> From<&'a EventPattern> for PatternRef<'a> {
    fn from(p: &'a EventPattern) -> Self {
        match p {
            EventPattern::All => PatternRef::All,
            EventPattern::Exact(t) => PatternRef::Exact(t),
            EventPattern::Prefix(p) => PatternRef::Prefix(p),
        }
    }
}

/// Writes the route key of `tenant` and `pattern` into `buf`: the tenant, a NUL (which no
/// tenant id contains), then `*`, `=type` or `>prefix.`.
fn route_key(buf: &mut String, tenant: &str, pattern: PatternRef<'_>) {
    buf.clear();
    buf.push_str(tenant);
    buf.push('\0');
    match pattern {
        PatternRef::All => buf.push('*'),
        PatternRef::Exact(t) => {
            buf.push('=');
            buf.push_str(t);
        }
        PatternRef::Prefix(p) => {
            buf.push('>');
            buf.push_str(p);
        }
    }
}

/// Every pattern an endpoint is found under (no patterns = every event).
fn patterns(e: &LiveEndpoint) -> Vec<PatternRef<'_>> {
    if e.config.events.is_empty() {
        return vec![PatternRef::All];
    }
    e.config.events.iter().map(PatternRef::from).collect()
}

/// The patterns that select `event_type`: `*`, the type itself, and `p.*` for each proper
/// prefix `p` ending before a dot (`Prefix` needs at least one character after its dot).
fn candidate_patterns(event_type: &str) -> Vec<PatternRef<'_>> {
    let mut out = vec![PatternRef::All, PatternRef::Exact(event_type)];
    for (i, _) in event_type.match_indices('.') {
        if i + 1 < event_type.len() {
            out.push(PatternRef::Prefix(&event_type[..=i]));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::matches_any;

    fn endpoint(id: &str, tenant: &str, events: &[&str]) -> Arc<LiveEndpoint> {
        let spec = serde_json::json!({"id": id, "tenant": tenant,
            "url": "https://r.example.com/h", "events": events});
        let net = crate::config::NetworkConfig::default();
        let config = crate::config::parse_endpoint(&spec, &net, &[]).unwrap();
        Arc::new(LiveEndpoint::from_config(
            config,
            crate::signing::Secret::new("whsec_x"),
        ))
    }

    fn ids(list: &[Arc<LiveEndpoint>]) -> Vec<&str> {
        list.iter().map(|e| e.config.id.as_str()).collect()
    }

    /// The index finds exactly what matching every endpoint's patterns would, for types that
    /// hit each pattern form, several at once, or none.
    #[test]
    fn subscribers_are_exactly_the_endpoints_whose_patterns_match() {
        let eps = vec![
            endpoint("all", "acme", &[]),
            endpoint("star", "acme", &["*"]),
            endpoint("inv", "acme", &["invoice.*"]),
            endpoint("paid", "acme", &["invoice.paid", "invoice.*"]),
            endpoint("deep", "acme", &["invoice.paid.*"]),
            endpoint("other", "globex", &["*"]),
        ];
        let snap = Snapshot::new(eps.clone());
        for t in [
            "invoice.paid",
            "invoice.paid.late",
            "invoice",
            "invoice.",
            "user.x",
            "a",
        ] {
            let want: Vec<&str> = eps
                .iter()
                .filter(|e| e.config.tenant == "acme" && matches_any(&e.config.events, t))
                .map(|e| e.config.id.as_str())
                .collect();
            let mut want = want;
            want.sort();
            assert_eq!(ids(&snap.subscribers("acme", t)), want, "type {t}");
        }
        assert!(snap.subscribers("nobody", "invoice.paid").is_empty());
    }

    #[test]
    fn insert_replaces_and_remove_forgets_every_index() {
        let mut snap = Snapshot::new(vec![endpoint("a", "acme", &["x.y"])]);
        let before = snap.clone();
        snap.insert(endpoint("a", "globex", &["z"]));
        assert!(
            snap.subscribers("acme", "x.y").is_empty(),
            "old routes gone"
        );
        assert_eq!(ids(&snap.subscribers("globex", "z")), ["a"]);
        assert_eq!(
            ids(&before.subscribers("acme", "x.y")),
            ["a"],
            "old snapshot intact"
        );
        snap.remove("a");
        assert!(snap.is_empty() && snap.subscribers("globex", "z").is_empty());
        assert_eq!(snap.after(Some("globex"), None).count(), 0);
    }

    /// A group grows from a slice into a map past FEW_MAX and keeps order, replacement and
    /// removal either way.
    #[test]
    fn groups_stay_ordered_across_the_slice_to_map_switch() {
        let mut snap = Snapshot::default();
        let n = FEW_MAX * 2 + 3;
        for i in (0..n).rev() {
            snap.insert(endpoint(&format!("e{i:03}"), "acme", &["x"]));
        }
        snap.insert(endpoint("e005", "acme", &["x"]));
        let got: Vec<String> = snap
            .subscribers("acme", "x")
            .iter()
            .map(|e| e.config.id.clone())
            .collect();
        let want: Vec<String> = (0..n).map(|i| format!("e{i:03}")).collect();
        assert_eq!(got, want);
        let page: Vec<&str> = snap
            .after(Some("acme"), Some("e030"))
            .map(|e| e.config.id.as_str())
            .collect();
        assert_eq!(page, ["e031", "e032", "e033", "e034"]);
        for i in 0..n {
            snap.remove(&format!("e{i:03}"));
        }
        assert!(snap.subscribers("acme", "x").is_empty() && snap.is_empty());
    }

    /// A route of one endpoint holds just that endpoint; a second makes it a slice and
    /// removing either brings it back to one, with lookups and pages right at each step.
    #[test]
    fn a_group_of_one_grows_and_shrinks_through_the_slice() {
        let mut snap = Snapshot::new(vec![endpoint("b", "acme", &["x"])]);
        assert_eq!(ids(&snap.subscribers("acme", "x")), ["b"]);
        assert_eq!(snap.after(Some("acme"), Some("b")).count(), 0);
        assert_eq!(snap.after(Some("acme"), Some("a")).count(), 1);
        snap.insert(endpoint("a", "acme", &["x"]));
        assert_eq!(ids(&snap.subscribers("acme", "x")), ["a", "b"]);
        snap.remove("b");
        assert_eq!(ids(&snap.subscribers("acme", "x")), ["a"]);
        snap.insert(endpoint("a", "acme", &["x", "x"]));
        assert_eq!(ids(&snap.subscribers("acme", "x")), ["a"], "listed once");
        snap.remove("a");
        assert!(snap.subscribers("acme", "x").is_empty() && snap.is_empty());
    }

    #[test]
    fn pages_follow_id_order_from_the_cursor() {
        let snap = Snapshot::new(
            ["c", "a", "d", "b"]
                .iter()
                .map(|id| endpoint(id, if *id == "b" { "globex" } else { "acme" }, &[])),
        );
        let page =
            |t, c| -> Vec<String> { snap.after(t, c).map(|e| e.config.id.clone()).collect() };
        assert_eq!(page(None, None), ["a", "b", "c", "d"]);
        assert_eq!(page(None, Some("b")), ["c", "d"]);
        assert_eq!(page(Some("acme"), Some("a")), ["c", "d"]);
        assert_eq!(page(Some("nobody"), None), Vec::<String>::new());
    }
}
