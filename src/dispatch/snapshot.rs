//! [`Snapshot`]: an immutable view of every live endpoint, indexed the ways the hot paths ask.
//!
//! Built from persistent maps (`imbl`), so adding or removing one endpoint makes a new snapshot
//! in O(log n) that shares everything else with the old one: creating the 100,000th endpoint
//! through the API costs what creating the first did, and readers holding the old snapshot are
//! never disturbed. The fan-out index answers "who wants this event" by looking up the event's
//! type and its prefixes, never by walking a tenant's endpoints.

use std::ops::Bound;
use std::sync::Arc;

use imbl::{HashMap, OrdMap};

use super::registry::LiveEndpoint;
use crate::config::EventPattern;

/// Endpoints by id, in id order.
type ById = OrdMap<String, Arc<LiveEndpoint>>;

/// Most endpoints a [`Group::Few`] holds before it becomes a map.
const FEW_MAX: usize = 16;

/// The endpoints under one route or of one tenant, in id order. Most groups are small (a
/// customer's tenant has a few endpoints, an exact event type a few subscribers), and a
/// persistent map's smallest node costs ~0.5 KiB, so a small group is a shared slice, copied
/// on change (at most [`FEW_MAX`] pointers); a large one is a map, changed in O(log n).
#[derive(Debug, Clone)]
enum Group {
    Few(Arc<[Arc<LiveEndpoint>]>),
    Many(ById),
}

impl Default for Group {
    fn default() -> Self {
        Group::Few(Arc::from(Vec::new()))
    }
}

impl Group {
    fn insert(&mut self, e: Arc<LiveEndpoint>) {
        match self {
            Group::Few(list) if list.len() < FEW_MAX || find(list, &e.config.id).is_ok() => {
                let mut v = list.to_vec();
                match find(&v, &e.config.id) {
                    Ok(i) => v[i] = e,
                    Err(i) => v.insert(i, e),
                }
                *list = Arc::from(v);
            }
            Group::Few(list) => {
                let mut map: ById = list
                    .iter()
                    .map(|x| (x.config.id.clone(), x.clone()))
                    .collect();
                map.insert(e.config.id.clone(), e);
                *self = Group::Many(map);
            }
            Group::Many(map) => {
                map.insert(e.config.id.clone(), e);
            }
        }
    }

    /// Removes `id`; true when the group is empty afterwards.
    fn remove(&mut self, id: &str) -> bool {
        match self {
            Group::Few(list) => {
                if let Ok(i) = find(list, id) {
                    let mut v = list.to_vec();
                    v.remove(i);
                    *list = Arc::from(v);
                }
                list.is_empty()
            }
            Group::Many(map) => {
                map.remove(id);
                map.is_empty()
            }
        }
    }

    /// Members after `cursor` (all without one), in id order.
    fn after<'a>(
        &'a self,
        cursor: Option<&str>,
    ) -> Box<dyn Iterator<Item = &'a Arc<LiveEndpoint>> + 'a> {
        match self {
            Group::Few(list) => {
                let from = cursor.map_or(0, |c| match find(list, c) {
                    Ok(i) => i + 1,
                    Err(i) => i,
                });
                Box::new(list[from..].iter())
            }
            Group::Many(map) => {
                let from = match cursor {
                    Some(c) => Bound::Excluded(c.to_string()),
                    None => Bound::Unbounded,
                };
                Box::new(map.range((from, Bound::Unbounded)).map(|(_, e)| e))
            }
        }
    }
}

fn find(list: &[Arc<LiveEndpoint>], id: &str) -> Result<usize, usize> {
    list.binary_search_by(|x| x.config.id.as_str().cmp(id))
}

/// How a subscription is found: which tenant, and which pattern form.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct RouteKey {
    tenant: String,
    pattern: EventPattern,
}

/// See the module docs.
#[derive(Debug, Default, Clone)]
pub struct Snapshot {
    by_id: ById,
    by_tenant: HashMap<String, Group>,
    routes: HashMap<RouteKey, Group>,
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
        let id = e.config.id.clone();
        self.remove(&id);
        for key in route_keys(&e) {
            self.routes.entry(key).or_default().insert(e.clone());
        }
        self.by_tenant
            .entry(e.config.tenant.clone())
            .or_default()
            .insert(e.clone());
        self.by_id.insert(id, e);
    }

    /// Removes an endpoint; absent is fine.
    pub fn remove(&mut self, id: &str) {
        let Some(old) = self.by_id.remove(id) else {
            return;
        };
        for key in route_keys(&old) {
            if self.routes.get_mut(&key).is_some_and(|g| g.remove(id)) {
                self.routes.remove(&key);
            }
        }
        let tenant = &old.config.tenant;
        if self.by_tenant.get_mut(tenant).is_some_and(|g| g.remove(id)) {
            self.by_tenant.remove(tenant);
        }
    }

    /// One endpoint.
    pub fn get(&self, id: &str) -> Option<&Arc<LiveEndpoint>> {
        self.by_id.get(id)
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
        self.by_id.values()
    }

    /// Endpoints after `cursor` in id order, of one tenant or of all: a page costs its own
    /// length plus a seek, whatever the total.
    pub fn after<'a>(
        &'a self,
        tenant: Option<&str>,
        cursor: Option<&str>,
    ) -> Box<dyn Iterator<Item = &'a Arc<LiveEndpoint>> + 'a> {
        let Some(t) = tenant else {
            let from = match cursor {
                Some(c) => Bound::Excluded(c.to_string()),
                None => Bound::Unbounded,
            };
            return Box::new(self.by_id.range((from, Bound::Unbounded)).map(|(_, e)| e));
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
        for pattern in candidate_patterns(event_type) {
            let key = RouteKey {
                tenant: tenant.to_string(),
                pattern,
            };
            if let Some(group) = self.routes.get(&key) {
                found.extend(group.after(None).cloned());
            }
        }
        found.sort_by(|a, b| a.config.id.cmp(&b.config.id));
        found.dedup_by(|a, b| a.config.id == b.config.id);
        found
    }
}

/// Every route an endpoint is found under: one per pattern (no patterns = every event).
fn route_keys(e: &LiveEndpoint) -> Vec<RouteKey> {
    let key = |pattern: EventPattern| RouteKey {
        tenant: e.config.tenant.clone(),
        pattern,
    };
    if e.config.events.is_empty() {
        return vec![key(EventPattern::All)];
    }
    e.config.events.iter().cloned().map(key).collect()
}

/// The patterns that select `event_type`: `*`, the type itself, and `p.*` for each proper
/// prefix `p` ending before a dot (`Prefix` needs at least one character after its dot).
fn candidate_patterns(event_type: &str) -> Vec<EventPattern> {
    let mut out = vec![
        EventPattern::All,
        EventPattern::Exact(event_type.to_string()),
    ];
    for (i, _) in event_type.match_indices('.') {
        if i + 1 < event_type.len() {
            out.push(EventPattern::Prefix(event_type[..=i].to_string()));
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
