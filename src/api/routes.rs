//! The route table: every route the API serves, with its access rule and a one-line summary.
//!
//! The router is built from this table and nothing else, the access middleware takes each
//! route's rule from it, and `/openapi.json` is generated from it, so a route cannot be served
//! without an auth rule or be missing from the document. The route × scope test walks it too.

use axum::extract::DefaultBodyLimit;
use axum::http::Method;
use axum::routing::{delete, get, patch, post, put, MethodRouter};

use super::auth::Access;
use super::{audit, deliveries, endpoint_admin, endpoints, events, keys, ops, plugins, ApiState};
use crate::config::Scope::*;

/// One route's contract.
#[derive(Debug, Clone)]
pub struct RouteRule {
    /// HTTP method.
    pub method: Method,
    /// Path in axum syntax (`/v1/endpoints/{id}`), which is also OpenAPI's.
    pub path: &'static str,
    /// Who may call it.
    pub access: Access,
    /// What it does (OpenAPI summary).
    pub summary: &'static str,
    /// Resource group (OpenAPI tag).
    pub tag: &'static str,
    /// Success status.
    pub ok: u16,
}

fn rule(
    method: Method,
    path: &'static str,
    access: Access,
    ok: u16,
    tag: &'static str,
    summary: &'static str,
) -> RouteRule {
    RouteRule {
        method,
        path,
        access,
        summary,
        tag,
        ok,
    }
}

/// Every route with its handler.
pub fn table() -> Vec<(RouteRule, MethodRouter<ApiState>)> {
    use Access::{Global, Public, Scope as S};
    use Method as M;
    let ev = "events";
    let dl = "deliveries";
    let ep = "endpoints";
    let ky = "keys";
    let op = "operations";
    let pl = "plugins";
    vec![
        (
            rule(
                M::POST,
                "/v1/events",
                S(EventsPublish),
                202,
                ev,
                "Publish an event",
            ),
            post(events::publish).layer(DefaultBodyLimit::max(events::MAX_EVENT_BYTES + 4096)),
        ),
        (
            rule(
                M::POST,
                "/v1/events/batch",
                S(EventsPublish),
                202,
                ev,
                "Publish up to 1,000 events atomically",
            ),
            post(events::publish_batch).layer(DefaultBodyLimit::max(events::MAX_BATCH_BYTES)),
        ),
        (
            rule(
                M::GET,
                "/v1/events",
                S(EventsRead),
                200,
                ev,
                "List events, newest first",
            ),
            get(events::list),
        ),
        (
            rule(
                M::GET,
                "/v1/events/{id}",
                S(EventsRead),
                200,
                ev,
                "Get an event",
            ),
            get(events::get_event),
        ),
        (
            rule(
                M::GET,
                "/v1/events/{id}/deliveries",
                S(EventsRead),
                200,
                dl,
                "List an event's deliveries",
            ),
            get(deliveries::list_for_event),
        ),
        (
            rule(
                M::GET,
                "/v1/deliveries/{id}",
                S(EventsRead),
                200,
                dl,
                "Get a delivery with its attempts and the exact request sent",
            ),
            get(deliveries::get_delivery),
        ),
        (
            rule(
                M::POST,
                "/v1/deliveries/{id}/retry",
                S(EndpointsManage),
                202,
                dl,
                "Send a delivery again now (restarts its retry schedule)",
            ),
            post(deliveries::retry),
        ),
        (
            rule(
                M::GET,
                "/v1/endpoints",
                S(EndpointsRead),
                200,
                ep,
                "List endpoints",
            ),
            get(endpoints::list),
        ),
        (
            rule(
                M::POST,
                "/v1/endpoints",
                S(EndpointsManage),
                201,
                ep,
                "Create an endpoint (the secret is shown once)",
            ),
            post(endpoint_admin::create),
        ),
        (
            rule(
                M::GET,
                "/v1/endpoints/{id}",
                S(EndpointsRead),
                200,
                ep,
                "Get an endpoint",
            ),
            get(endpoints::get),
        ),
        (
            rule(
                M::PATCH,
                "/v1/endpoints/{id}",
                S(EndpointsManage),
                200,
                ep,
                "Change an endpoint (JSON merge patch)",
            ),
            patch(endpoint_admin::update),
        ),
        (
            rule(
                M::DELETE,
                "/v1/endpoints/{id}",
                S(EndpointsManage),
                200,
                ep,
                "Delete an endpoint (its pending deliveries are cancelled)",
            ),
            delete(endpoint_admin::remove),
        ),
        (
            rule(
                M::GET,
                "/v1/endpoints/{id}/secret",
                S(EndpointsManage),
                200,
                ep,
                "Read an endpoint's signing secrets",
            ),
            get(endpoints::secret),
        ),
        (
            rule(
                M::POST,
                "/v1/endpoints/{id}/rotate-secret",
                S(EndpointsManage),
                200,
                ep,
                "Rotate the signing secret; both sign during the grace period",
            ),
            post(endpoint_admin::rotate_secret),
        ),
        (
            rule(
                M::POST,
                "/v1/endpoints/{id}/test",
                S(EndpointsManage),
                202,
                ep,
                "Send a webhook.test event to this endpoint only",
            ),
            post(endpoint_admin::test),
        ),
        (
            rule(
                M::POST,
                "/v1/endpoints/{id}/enable",
                S(EndpointsManage),
                200,
                ep,
                "Resume deliveries and reset the failure streak",
            ),
            post(endpoints::enable),
        ),
        (
            rule(
                M::POST,
                "/v1/endpoints/{id}/disable",
                S(EndpointsManage),
                200,
                ep,
                "Pause deliveries (they stay pending)",
            ),
            post(endpoints::disable),
        ),
        (
            rule(
                M::POST,
                "/v1/endpoints/{id}/recover",
                S(EndpointsManage),
                200,
                ep,
                "Requeue dead deliveries created since a time",
            ),
            post(endpoint_admin::recover),
        ),
        (
            rule(
                M::GET,
                "/v1/endpoints/{id}/deliveries",
                S(EventsRead),
                200,
                dl,
                "List an endpoint's deliveries",
            ),
            get(deliveries::list_for_endpoint),
        ),
        (
            rule(
                M::GET,
                "/v1/plugins",
                S(EndpointsRead),
                200,
                pl,
                "List plugins with versions and load errors",
            ),
            get(plugins::list),
        ),
        (
            rule(
                M::GET,
                "/v1/plugins/{name}/kv/{key}",
                Global(Admin),
                200,
                pl,
                "Read a plugin kv entry",
            ),
            get(plugins::kv_get),
        ),
        (
            rule(
                M::PUT,
                "/v1/plugins/{name}/kv/{key}",
                Global(Admin),
                204,
                pl,
                "Write a plugin kv entry",
            ),
            put(plugins::kv_put),
        ),
        (
            rule(
                M::DELETE,
                "/v1/plugins/{name}/kv/{key}",
                Global(Admin),
                204,
                pl,
                "Delete a plugin kv entry",
            ),
            delete(plugins::kv_delete),
        ),
        (
            rule(
                M::GET,
                "/v1/keys",
                S(Admin),
                200,
                ky,
                "List API keys (never the keys themselves)",
            ),
            get(keys::list),
        ),
        (
            rule(
                M::POST,
                "/v1/keys",
                S(Admin),
                201,
                ky,
                "Mint an API key (shown once)",
            ),
            post(keys::create),
        ),
        (
            rule(
                M::DELETE,
                "/v1/keys/{id}",
                S(Admin),
                200,
                ky,
                "Revoke an API key",
            ),
            delete(keys::revoke),
        ),
        (
            rule(
                M::GET,
                "/v1/audit",
                Global(Admin),
                200,
                op,
                "The audit log, newest first",
            ),
            get(audit::list),
        ),
        (
            rule(
                M::GET,
                "/v1/stats",
                S(EndpointsRead),
                200,
                op,
                "Delivery health over the last 24 hours",
            ),
            get(ops::stats),
        ),
        (
            rule(
                M::GET,
                "/metrics",
                Global(EventsRead),
                200,
                op,
                "Prometheus metrics",
            ),
            get(ops::metrics),
        ),
        (
            rule(M::GET, "/healthz", Public, 200, op, "Liveness"),
            get(ops::healthz),
        ),
        (
            rule(
                M::GET,
                "/readyz",
                Public,
                200,
                op,
                "Readiness (503 while starting, stopping or the store cannot commit)",
            ),
            get(ops::readyz),
        ),
        (
            rule(
                M::GET,
                "/openapi.json",
                Public,
                200,
                op,
                "This API's OpenAPI 3.1 document",
            ),
            get(ops::openapi),
        ),
    ]
}

/// The rules alone (for the OpenAPI document and tests).
pub fn rules() -> Vec<RouteRule> {
    table().into_iter().map(|(r, _)| r).collect()
}
