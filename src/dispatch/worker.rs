//! One attempt, from a due delivery to a recorded outcome.
//!
//! Runs as its own task, holding a global in-flight permit for its whole life. It never decides
//! *when* to run (the scheduler does) and never touches the database directly (the store does);
//! it turns a [`crate::delivery`] answer into the delivery's next state.

use std::sync::Arc;

use rand::Rng;
use tokio::sync::Semaphore;

use super::chain::{self, Prepared};
use super::registry::LiveEndpoint;
use super::Shared;
use crate::config::DeliveryPolicy;
use crate::delivery::headers::{self, AttemptIds};
use crate::delivery::{classify, retry, Verdict};
use crate::store::{
    now_ms, AttemptOutcome, AttemptRecord, DeliveryRecord, DeliveryStatus, DueDelivery,
    EndpointEffect, EndpointState, Millis,
};

/// How long to wait before trying again when recording an outcome failed (disk trouble): the
/// delivery is still pending in the store, so it will be attempted again — at-least-once.
const RECORD_FAILURE_BACKOFF_MS: Millis = 1_000;

/// What the scheduler learns when an attempt is over.
#[derive(Debug)]
pub struct Completion {
    /// Endpoint of the delivery.
    pub endpoint_id: String,
    /// The delivery.
    pub delivery_id: String,
    /// When it is due again, if still pending.
    pub next_due_ms: Option<Millis>,
    /// The endpoint's new persistent state, if the attempt changed it.
    pub endpoint_state: Option<EndpointState>,
}

/// Makes one attempt and records it. The request itself holds one of the endpoint's
/// `requests` slots (its `max_in_flight`); the plugin chain before it does not.
pub async fn attempt(
    shared: Arc<Shared>,
    live: Arc<LiveEndpoint>,
    requests: &Semaphore,
    item: DueDelivery,
) -> Completion {
    let d = &item.delivery;
    let settings = shared.settings.load_full();
    // Resolved once per attempt from the live endpoint and the live global block: a PATCH, a
    // reload of either, applies from the next attempt; fields the endpoint leaves unset follow
    // the global block.
    let policy = settings.policy(live.config.delivery.as_ref());
    let n = d.attempts + 1;
    let started_ms = now_ms();
    let ids = AttemptIds {
        event_id: &item.event.id,
        event_type: &item.event.event_type,
        tenant: &item.event.tenant,
        delivery_id: &d.id,
    };
    let m = crate::metrics::global();
    m.in_flight.inc();
    let _in_flight = scopeguard::guard((), |()| {
        m.in_flight.dec();
    });
    let chain_started = std::time::Instant::now();
    let prepared = chain::prepare(&shared, &live, &item, ids).await;
    if !live.config.plugins.is_empty() && item.payload.is_none() {
        m.plugin_seconds
            .observe(chain_started.elapsed().as_secs_f64());
    }
    let (body, custom, new_payload) = match prepared {
        Prepared::Send {
            body,
            custom,
            new_payload,
        } => (body, custom, new_payload),
        Prepared::Filtered { reason } => {
            tracing::debug!(endpoint_id = %d.endpoint_id, delivery_id = %d.id, %reason, "delivery filtered");
            let outcome = AttemptOutcome {
                delivery: d.clone(),
                attempt: None,
                payload: None,
                reason: Some(reason),
                status: DeliveryStatus::Filtered,
                next_attempt_ms: None,
                fifo: live.is_fifo(),
                endpoint_effect: EndpointEffect::None,
            };
            return record(&shared, d, outcome, None).await;
        }
        Prepared::Failed { error } => {
            // Counts as a failed attempt of the delivery (it follows the retry schedule), but
            // not against the endpoint: a plugin bug says nothing about the receiver.
            let next = next_attempt(&policy, n - d.retry_base, None);
            tracing::warn!(endpoint_id = %d.endpoint_id, delivery_id = %d.id, attempt = n, %error, "plugin chain failed");
            let attempt = AttemptRecord {
                n,
                started_ms,
                status_code: None,
                latency_ms: now_ms().saturating_sub(started_ms),
                response_body: String::new(),
                error: Some(error),
                next_attempt_ms: next,
                url: live.config.url.to_string(),
                request_headers: Vec::new(),
            };
            let outcome = AttemptOutcome {
                delivery: d.clone(),
                attempt: Some(attempt),
                payload: None,
                reason: None,
                status: if next.is_some() {
                    DeliveryStatus::Pending
                } else {
                    DeliveryStatus::Dead
                },
                next_attempt_ms: next,
                fifo: live.is_fifo(),
                endpoint_effect: EndpointEffect::None,
            };
            return record(&shared, d, outcome, next).await;
        }
    };
    // Taken before signing, so a wait for a slot never ages the signature's timestamp. The
    // scheduler never closes the semaphore; if it did, sending anyway is the safe side.
    let request_slot = requests.acquire().await.ok();
    let hdrs = headers::build(
        &custom,
        &live.config.signature,
        &live.signing_secrets(started_ms),
        ids,
        (started_ms / 1000) as i64,
        &body,
    );
    let client = shared.client.load_full();
    let resp = client
        .post(
            &live.config.url,
            &hdrs,
            body,
            policy.timeout,
            settings.response_body_limit,
        )
        .await;
    drop(request_slot);

    let verdict = classify(resp.status, policy.fail_fast_4xx);
    let failure = EndpointEffect::Failure {
        auto_disable_after: policy.auto_disable_after,
    };
    let (mut status, next, effect) = match verdict {
        Verdict::Success => {
            // A success on an endpoint with no failure streak changes nothing: skip the state
            // row in the store (the registry mirrors it).
            let st = shared.registry.state(&d.endpoint_id);
            let effect = if st.consecutive_failures == 0 && !st.disabled {
                EndpointEffect::None
            } else {
                EndpointEffect::Success
            };
            (DeliveryStatus::Succeeded, None, effect)
        }
        Verdict::Gone => (DeliveryStatus::Dead, None, EndpointEffect::Gone),
        Verdict::Dead => (DeliveryStatus::Dead, None, failure),
        Verdict::Retry => match next_attempt(&policy, n - d.retry_base, resp.retry_after) {
            Some(t) => (DeliveryStatus::Pending, Some(t), failure),
            None => (DeliveryStatus::Dead, None, failure),
        },
    };
    // Removed from config while in flight: no further attempts.
    if status == DeliveryStatus::Pending && shared.registry.get(&d.endpoint_id).is_none() {
        status = DeliveryStatus::Cancelled;
    }
    tracing::debug!(
        endpoint_id = %d.endpoint_id,
        delivery_id = %d.id,
        attempt = n,
        status_code = resp.status,
        latency_ms = resp.latency.as_millis() as u64,
        outcome = ?status,
        error = resp.error.as_deref(),
        "attempt finished"
    );
    let attempt = AttemptRecord {
        n,
        started_ms,
        status_code: resp.status,
        latency_ms: resp.latency.as_millis() as u64,
        response_body: String::from_utf8_lossy(&resp.body).into_owned(),
        error: resp.error,
        next_attempt_ms: next.filter(|_| status == DeliveryStatus::Pending),
        url: live.config.url.to_string(),
        request_headers: hdrs,
    };
    let outcome = AttemptOutcome {
        delivery: d.clone(),
        attempt: Some(attempt),
        payload: new_payload,
        reason: None,
        status,
        next_attempt_ms: next,
        fifo: live.is_fifo(),
        endpoint_effect: effect,
    };
    record(&shared, d, outcome, next).await
}

/// When the next attempt is due after failed attempt `n` (counted from the last manual requeue),
/// or `None` when the endpoint's schedule is spent.
fn next_attempt(
    policy: &DeliveryPolicy,
    n: u32,
    retry_after: Option<std::time::Duration>,
) -> Option<Millis> {
    let draw: f64 = rand::rng().random();
    retry::next_delay(
        n,
        policy.retry_schedule,
        policy.jitter,
        retry_after,
        policy.retry_after_cap,
        draw,
    )
    .map(|delay| now_ms() + delay.as_millis() as Millis)
}

/// Records an outcome and tells the scheduler what became of the delivery.
async fn record(
    shared: &Shared,
    d: &DeliveryRecord,
    outcome: AttemptOutcome,
    next: Option<Millis>,
) -> Completion {
    let m = crate::metrics::global();
    if let Some(a) = &outcome.attempt {
        let retried = outcome.status == DeliveryStatus::Pending;
        m.attempt(
            a.latency_ms as f64 / 1000.0,
            outcome.status == DeliveryStatus::Succeeded,
            retried,
        );
    }
    match outcome.status {
        DeliveryStatus::Succeeded => m.finished("succeeded"),
        DeliveryStatus::Dead => m.finished("dead"),
        DeliveryStatus::Filtered => m.finished("filtered"),
        DeliveryStatus::Cancelled => m.finished("cancelled"),
        DeliveryStatus::Pending => {}
    }
    match shared.store.record(vec![outcome]).await {
        Ok(mut rec) => {
            let rec = rec.pop().unwrap_or_default();
            Completion {
                endpoint_id: d.endpoint_id.clone(),
                delivery_id: d.id.clone(),
                next_due_ms: if rec.status == Some(DeliveryStatus::Pending) {
                    next
                } else {
                    None
                },
                endpoint_state: rec.endpoint_state,
            }
        }
        Err(e) => {
            tracing::error!(delivery_id = %d.id, error = %e, "cannot record attempt; it will be repeated");
            Completion {
                endpoint_id: d.endpoint_id.clone(),
                delivery_id: d.id.clone(),
                next_due_ms: Some(now_ms() + RECORD_FAILURE_BACKOFF_MS),
                endpoint_state: None,
            }
        }
    }
}
