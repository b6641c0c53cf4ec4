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
    by_tenant: HashMap<String, ById>,
    routes: HashMap<RouteKey, ById>,
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
            self.routes
                .entry(key)
                .or_default()
                .insert(id.clone(), e.clone());
        }
        self.by_tenant
            .entry(e.config.tenant.clone())
            .or_default()
            .insert(id.clone(), e.clone());
        self.by_id.insert(id, e);
    }

    /// Removes an endpoint; absent is fine.
    pub fn remove(&mut self, id: &str) {
        let Some(old) = self.by_id.remove(id) else {
            return;
        };
        for key in route_keys(&old) {
            if let Some(list) = self.routes.get_mut(&key) {
                list.remove(id);
                if list.is_empty() {
                    self.routes.remove(&key);
                }
            }
        }
        if let Some(list) = self.by_tenant.get_mut(&old.config.tenant) {
            list.remove(id);
            if list.is_empty() {
                self.by_tenant.remove(&old.config.tenant);
            }
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
        let map = match tenant {
            None => &self.by_id,
            Some(t) => match self.by_tenant.get(t) {
                Some(m) => m,
                None => return Box::new(std::iter::empty()),
            },
        };
        let from = match cursor {
            Some(c) => Bound::Excluded(c.to_string()),
            None => Bound::Unbounded,
        };
        Box::new(map.range((from, Bound::Unbounded)).map(|(_, e)| e))
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
            if let Some(list) = self.routes.get(&key) {
                found.extend(list.values().cloned());
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
