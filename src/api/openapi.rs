//! `GET /openapi.json`: the OpenAPI 3.1 document, generated from [`super::routes::table`] — the
//! same table the router is built from — so it lists exactly the routes served, each with its
//! method, path parameters, required scope, success status and problem responses.

use utoipa::openapi::path::{HttpMethod, OperationBuilder, ParameterBuilder, ParameterIn};
use utoipa::openapi::request_body::RequestBodyBuilder;
use utoipa::openapi::schema::{AdditionalProperties, ObjectBuilder, Type};
use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityRequirement, SecurityScheme};
use utoipa::openapi::{
    ComponentsBuilder, ContentBuilder, InfoBuilder, OpenApi, OpenApiBuilder, Paths, Ref, Required,
    ResponseBuilder,
};

use super::auth::Access;
use super::routes::{rules, RouteRule};

fn method(m: &axum::http::Method) -> HttpMethod {
    match *m {
        axum::http::Method::POST => HttpMethod::Post,
        axum::http::Method::PUT => HttpMethod::Put,
        axum::http::Method::PATCH => HttpMethod::Patch,
        axum::http::Method::DELETE => HttpMethod::Delete,
        _ => HttpMethod::Get,
    }
}

/// `post_v1_endpoints_id_rotate-secret` style ids: unique per method and path.
fn operation_id(r: &RouteRule) -> String {
    let path: String = r
        .path
        .trim_start_matches('/')
        .chars()
        .filter(|c| *c != '{' && *c != '}')
        .map(|c| if c == '/' { '_' } else { c })
        .collect();
    format!("{}_{path}", r.method.as_str().to_lowercase())
}

fn params(path: &str) -> Vec<String> {
    path.split('/')
        .filter_map(|seg| seg.strip_prefix('{').and_then(|s| s.strip_suffix('}')))
        .map(str::to_string)
        .collect()
}

fn json_object() -> ObjectBuilder {
    ObjectBuilder::new().schema_type(Type::Object)
}

fn string(description: &str) -> ObjectBuilder {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .description(Some(description))
}

fn strings(description: &str) -> utoipa::openapi::schema::ArrayBuilder {
    utoipa::openapi::schema::ArrayBuilder::new()
        .items(ObjectBuilder::new().schema_type(Type::String))
        .description(Some(description))
}

fn any(description: &str) -> ObjectBuilder {
    ObjectBuilder::new().description(Some(description))
}

/// An endpoint's own delivery policy: the overridable keys of the global `delivery:` block,
/// each optional (unset = the global value at the time of each attempt). Closed, because the
/// server refuses any other key (`max_in_flight` & co. are gateway-wide).
fn retention_policy() -> ObjectBuilder {
    let rule = |what: &str| {
        string(&format!(
            "How long {what} deliveries are kept: `7d`, `12h` or `forever`"
        ))
    };
    json_object()
        .description(Some(
            "Overrides of the global `retention:` block for this endpoint's deliveries; unset fields inherit it",
        ))
        .property("succeeded", rule("succeeded"))
        .property("dead", rule("dead"))
        .property("filtered", rule("filtered"))
        .property("cancelled", rule("cancelled"))
        .additional_properties(Some(AdditionalProperties::FreeForm(false)))
}

fn delivery_policy() -> ObjectBuilder {
    let typed = |t: Type, d: &str| ObjectBuilder::new().schema_type(t).description(Some(d));
    json_object()
        .description(Some(
            "Overrides of the global `delivery:` block for this endpoint; unset fields inherit it",
        ))
        .property("timeout", string("Per attempt, `5s`"))
        .property(
            "retry_schedule",
            strings("Delays after attempt 1, 2, …, `[1m, 5m, 1h]`; then dead"),
        )
        .property("jitter", typed(Type::Number, "Random spread, 0 to 1"))
        .property(
            "auto_disable_after",
            typed(
                Type::Integer,
                "Consecutive failed attempts before the endpoint is disabled; 0 = never",
            ),
        )
        .property(
            "fail_fast_4xx",
            typed(
                Type::Boolean,
                "Other 4xx than 408/410/429 are final at once",
            ),
        )
        .property(
            "retry_after_cap",
            string("Upper bound on `Retry-After`, `1h`"),
        )
        .additional_properties(Some(AdditionalProperties::FreeForm(false)))
}

/// An endpoint definition, as in a config file entry; `required` lists what must be there.
fn endpoint_body(create: bool) -> ObjectBuilder {
    let mut b = json_object()
        .property(
            "url",
            string("Receiver URL (https unless network.allow_http; SSRF-checked)"),
        )
        .property(
            "events",
            strings("Event type patterns: exact, `run.*`, `*`"),
        )
        .property(
            "signature",
            any("`{scheme: standard|stripe|github, header?, prefix?}`"),
        )
        .property(
            "headers",
            any("Extra headers, name → value; `{{event.id}}`-style templates"),
        )
        .property(
            "plugins",
            any("`[{use, config, on_error: retry|skip|drop}]`"),
        )
        .property("rate", string("Per-endpoint rate, `50/s`"))
        .property(
            "max_in_flight",
            ObjectBuilder::new().schema_type(Type::Integer),
        )
        .property("ordering", string("`none` or `fifo`"))
        .property("enabled", ObjectBuilder::new().schema_type(Type::Boolean))
        .property("delivery", delivery_policy())
        .property("retention", retention_policy())
        .property("description", string("Free text"));
    if create {
        b = b
            .property("id", string("Endpoint id (default: generated)"))
            .property(
                "tenant",
                string("Tenant (default: the key's, or `default`)"),
            )
            .property(
                "secret",
                string("Signing secret (default: generated, shown once)"),
            )
            .required("url");
    }
    b
}

/// The request body of the routes that take one, as far as the route table knows them.
fn request_schema(r: &RouteRule) -> ObjectBuilder {
    let event = || {
        json_object()
            .property("type", string("Event type, [A-Za-z0-9_.-]{1,128}"))
            .property("data", any("Any JSON, at most 256 KiB"))
            .property("id", string("Idempotency key (default: generated evt_…)"))
            .property(
                "tenant",
                string("Tenant (default: the key's, or `default`)"),
            )
            .required("type")
            .required("data")
    };
    match (r.method.as_str(), r.path) {
        ("POST", "/v1/events") => event(),
        ("POST", "/v1/events/batch") => json_object()
            .property(
                "events",
                utoipa::openapi::schema::ArrayBuilder::new()
                    .items(event())
                    .max_items(Some(1000)),
            )
            .required("events"),
        ("POST", "/v1/endpoints") => endpoint_body(true),
        ("PATCH", "/v1/endpoints/{id}") => {
            endpoint_body(false).description(Some("JSON merge patch: `null` removes a field"))
        }
        ("POST", "/v1/endpoints/{id}/rotate-secret") => json_object().property(
            "grace",
            string("How long the previous secret keeps signing (default 24h)"),
        ),
        ("POST", "/v1/endpoints/{id}/test") => {
            json_object().property("data", any("`data` of the webhook.test event"))
        }
        ("POST", "/v1/endpoints/{id}/recover") => json_object()
            .property(
                "since",
                string("RFC 3339 time, or a duration back from now (`24h`)"),
            )
            .required("since"),
        ("POST", "/v1/keys") => json_object()
            .property("name", string("Label"))
            .property(
                "scopes",
                strings("events:publish, events:read, endpoints:read, endpoints:manage, admin"),
            )
            .property("tenant", string("Bind the key to one tenant"))
            .property("rate", string("Requests per second, `100/s`"))
            .required("name")
            .required("scopes"),
        _ => json_object(),
    }
}

fn problem(description: &str) -> utoipa::openapi::Response {
    ResponseBuilder::new()
        .description(description)
        .content(
            "application/problem+json",
            ContentBuilder::new()
                .schema(Some(Ref::from_schema_name("Problem")))
                .build(),
        )
        .build()
}

/// The document.
pub fn document() -> OpenApi {
    let mut paths = Paths::new();
    for r in rules() {
        let mut op = OperationBuilder::new()
            .tag(r.tag)
            .summary(Some(r.summary))
            .operation_id(Some(operation_id(&r)));
        for p in params(r.path) {
            op = op.parameter(
                ParameterBuilder::new()
                    .name(p)
                    .parameter_in(ParameterIn::Path)
                    .required(Required::True)
                    .schema(Some(ObjectBuilder::new().schema_type(Type::String))),
            );
        }
        if matches!(
            r.method,
            axum::http::Method::POST | axum::http::Method::PUT | axum::http::Method::PATCH
        ) {
            // Plugin kv values are raw bytes; every other body is JSON.
            let body_type = if r.path.contains("/kv/") {
                "application/octet-stream"
            } else {
                "application/json"
            };
            op = op.request_body(Some(
                RequestBodyBuilder::new()
                    .content(
                        body_type,
                        ContentBuilder::new()
                            .schema(Some(request_schema(&r)))
                            .build(),
                    )
                    .build(),
            ));
        }
        let ok_type = if r.path == "/metrics" {
            "text/plain; version=0.0.4"
        } else {
            "application/json"
        };
        op = op.response(
            r.ok.to_string(),
            ResponseBuilder::new()
                .description("Success")
                .content(
                    ok_type,
                    ContentBuilder::new().schema(Some(json_object())).build(),
                )
                .build(),
        );
        if let Some(scope) = r.access.scope() {
            op = op
                .security(SecurityRequirement::new("bearer", [scope.as_str()]))
                .response("401", problem("Missing or unknown API key"))
                .response(
                    "403",
                    problem(match r.access {
                        Access::Global(_) => "The key lacks the scope, or is bound to a tenant",
                        _ => "The key lacks the scope",
                    }),
                )
                .response("429", problem("The key's rate limit is exceeded"));
        }
        if r.path.contains('{') {
            op = op.response("404", problem("No such object (or another tenant's)"));
        }
        if r.method != axum::http::Method::GET {
            op = op.response("422", problem("Invalid input; `code` says which rule"));
        }
        paths.add_path_operation(r.path, vec![method(&r.method)], op.build());
    }
    let problem_schema = ObjectBuilder::new()
        .schema_type(Type::Object)
        .property("type", ObjectBuilder::new().schema_type(Type::String))
        .property("title", ObjectBuilder::new().schema_type(Type::String))
        .property("status", ObjectBuilder::new().schema_type(Type::Integer))
        .property("detail", ObjectBuilder::new().schema_type(Type::String))
        .property("code", ObjectBuilder::new().schema_type(Type::String))
        .required("code")
        .required("status");
    OpenApiBuilder::new()
        .info(
            InfoBuilder::new()
                .title("Hookgate")
                .version(env!("CARGO_PKG_VERSION"))
                .description(Some(
                    "Webhook gateway API. Errors are RFC 9457 problem+json with a stable `code`. \
                     Authenticate with `Authorization: Bearer <key>`; each operation's security \
                     requirement names the scope it needs (`admin` satisfies all).",
                )),
        )
        .paths(paths)
        .components(Some(
            ComponentsBuilder::new()
                .security_scheme(
                    "bearer",
                    SecurityScheme::Http(Http::new(HttpAuthScheme::Bearer)),
                )
                .schema("Problem", problem_schema)
                .build(),
        ))
        .build()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoint_bodies_describe_the_delivery_policy() {
        let doc = serde_json::to_value(document()).unwrap();
        for (path, method) in [("/v1/endpoints", "post"), ("/v1/endpoints/{id}", "patch")] {
            let body = &doc["paths"][path][method]["requestBody"]["content"]["application/json"];
            let policy = &body["schema"]["properties"]["delivery"];
            let keys: Vec<&String> = policy["properties"].as_object().unwrap().keys().collect();
            assert_eq!(
                keys.len(),
                6,
                "{method} {path}: the six overridable keys: {keys:?}"
            );
            assert_eq!(policy["additionalProperties"], false, "{method} {path}");
        }
    }
}
