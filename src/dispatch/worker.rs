//! One attempt, from a due delivery to a recorded outcome.
//!
//! Runs as its own task, holding a global in-flight permit for its whole life. It never decides
//! *when* to run (the scheduler does) and never touches the database directly (the store does).
//! An attempt goes through typed stages: [`Attempt`] (what is known before anything runs) →
//! [`Prepared`] (the plugin chain's decision) → [`Sent`] (the request and its answer) →
//! [`Settled`] (the delivery's next state, from the pure table in
//! [`crate::delivery::transition`]) → one [`AttemptOutcome`], built in one place. Each attempt
//! runs in a tracing span `attempt{delivery_id, endpoint_id, n}`.

use std::sync::Arc;

use rand::Rng;
use tokio::sync::Semaphore;
use tracing::Instrument;

use super::chain::{self, Prepared};
use super::registry::LiveEndpoint;
use super::Shared;
use crate::config::{DeliveryConfig, DeliveryPolicy};
use crate::delivery::headers::{self, AttemptIds};
use crate::delivery::transition::{transition, Health, Next};
use crate::delivery::{classify, retry, Response, Verdict};
use crate::store::{
    now_ms, AttemptOutcome, AttemptRecord, DeliveryStatus, DueDelivery, EndpointEffect,
    EndpointState, Millis, QueuePlace, StoredPayload,
};

/// How long to wait before attempting again when the store refused an outcome for good (not a
/// transient failure): the delivery is still pending in the store, so it will be attempted
/// again — at-least-once.
const RECORD_FAILURE_BACKOFF_MS: Millis = 1_000;
/// First pause before offering an outcome again to a store that is unavailable for now.
const RECORD_RETRY_MIN: std::time::Duration = std::time::Duration::from_millis(100);
/// Longest pause between such offers.
const RECORD_RETRY_MAX: std::time::Duration = std::time::Duration::from_secs(2);

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
    let span = tracing::debug_span!(
        "attempt",
        delivery_id = %item.delivery.id,
        endpoint_id = %item.delivery.endpoint_id,
        n = item.delivery.attempts + 1,
    );
    run(&shared, &live, requests, item).instrument(span).await
}

async fn run(
    shared: &Shared,
    live: &LiveEndpoint,
    requests: &Semaphore,
    item: DueDelivery,
) -> Completion {
    let m = crate::metrics::global();
    m.in_flight.inc();
    let _in_flight = scopeguard::guard((), |()| {
        m.in_flight.dec();
    });
    // The `delivery:` section as it is now: a reload applies from the next attempt.
    let settings = shared.settings.load_full();
    let a = Attempt::new(live, &settings, item);
    let settled = match a.prepare(shared).await {
        Prepared::Filtered { reason } => {
            tracing::debug!(%reason, "delivery filtered");
            Settled::filtered(reason)
        }
        Prepared::Failed { error } => a.chain_failed(error),
        Prepared::Send {
            body,
            custom,
            new_payload,
        } => {
            let sent = a.send(shared, requests, body, &custom).await;
            a.judge(shared, sent, new_payload)
        }
    };
    record(shared, a.outcome(settled)).await
}

/// Stage 1: what an attempt knows before anything runs.
struct Attempt<'a> {
    live: &'a LiveEndpoint,
    item: DueDelivery,
    /// The `delivery:` section as it was when the attempt started.
    settings: &'a DeliveryConfig,
    /// Resolved once per attempt from the live endpoint and the live global block: a PATCH,
    /// a reload of either, applies from the next attempt; fields the endpoint leaves unset
    /// follow the global block.
    policy: DeliveryPolicy<'a>,
    /// 1-based number of this attempt.
    n: u32,
    started_ms: Millis,
}

impl<'a> Attempt<'a> {
    fn new(live: &'a LiveEndpoint, settings: &'a DeliveryConfig, item: DueDelivery) -> Self {
        let policy = settings.policy(live.config.delivery.as_deref());
        Attempt {
            n: item.delivery.attempts + 1,
            live,
            item,
            settings,
            policy,
            started_ms: now_ms(),
        }
    }

    fn ids(&self) -> AttemptIds<'_> {
        AttemptIds {
            event_id: &self.item.event.id,
            event_type: &self.item.event.event_type,
            tenant: &self.item.event.tenant,
            delivery_id: &self.item.delivery.id,
        }
    }

    /// Stage 2: the stored chain output, the chain run now, or the plain envelope.
    async fn prepare(&self, shared: &Shared) -> Prepared {
        let started = std::time::Instant::now();
        let prepared = chain::prepare(shared, self.live, &self.item, self.ids()).await;
        if !self.live.config.plugins.is_empty() && self.item.payload.is_none() {
            let m = crate::metrics::global();
            m.plugin_seconds.observe(started.elapsed().as_secs_f64());
        }
        prepared
    }

    /// Stage 3: the signed request and the receiver's answer.
    async fn send(
        &self,
        shared: &Shared,
        requests: &Semaphore,
        body: bytes::Bytes,
        custom: &[(String, String)],
    ) -> Sent {
        // Taken before signing, so a wait for a slot never ages the signature's timestamp.
        // The scheduler never closes the semaphore; if it did, sending anyway is the safe side.
        let _slot = requests.acquire().await.ok();
        let headers = headers::build(
            custom,
            &self.live.config.signature,
            &self.live.signing_secrets(self.started_ms),
            self.ids(),
            (self.started_ms / 1000) as i64,
            &body,
        );
        let client = shared.client.load_full();
        let response = client
            .post(
                &self.live.config.url,
                &headers,
                body,
                self.policy.timeout,
                self.settings.response_body_limit,
            )
            .await;
        Sent { headers, response }
    }

    /// Stage 4 for a request that was made: its verdict through the transition table.
    fn judge(&self, shared: &Shared, sent: Sent, payload: Option<StoredPayload>) -> Settled {
        let Sent { headers, response } = sent;
        let verdict = classify(response.status, self.policy.fail_fast_4xx);
        // Only a retry needs the schedule (and its random draw): not every success.
        let retry_at = match verdict {
            Verdict::Retry => self.retry_at(response.retry_after),
            _ => None,
        };
        let st = shared.registry.state(&self.item.delivery.endpoint_id);
        let t = transition(
            verdict,
            retry_at,
            st.consecutive_failures > 0 || st.disabled,
        );
        let (mut status, next) = match t.next {
            Next::Delivered => (DeliveryStatus::Succeeded, None),
            Next::RetryAt(at) => (DeliveryStatus::Pending, Some(at)),
            Next::Dead => (DeliveryStatus::Dead, None),
        };
        // Removed from config while in flight: no further attempts.
        if status == DeliveryStatus::Pending && shared.registry.get(&self.live.config.id).is_none()
        {
            status = DeliveryStatus::Cancelled;
        }
        tracing::debug!(
            status_code = response.status,
            latency_ms = response.latency.as_millis() as u64,
            outcome = ?status,
            error = response.error.as_deref(),
            "attempt finished"
        );
        let attempt = AttemptRecord {
            next_attempt_ms: next.filter(|_| status == DeliveryStatus::Pending),
            request_headers: headers,
            ..self.record_of(&response)
        };
        Settled {
            attempt: Some(attempt),
            payload,
            status,
            next,
            effect: self.effect(t.health),
            reason: None,
        }
    }

    /// Stage 4 for a chain that failed: a failed attempt of the delivery (it follows the
    /// retry schedule), but not against the endpoint: a plugin bug says nothing about the
    /// receiver.
    fn chain_failed(&self, error: String) -> Settled {
        tracing::warn!(
            endpoint_id = %self.live.config.id,
            delivery_id = %self.item.delivery.id,
            attempt = self.n,
            %error,
            "plugin chain failed"
        );
        let next = self.retry_at(None);
        let attempt = AttemptRecord {
            n: self.n,
            started_ms: self.started_ms,
            status_code: None,
            latency_ms: now_ms().saturating_sub(self.started_ms),
            response_body: String::new(),
            error: Some(error),
            next_attempt_ms: next,
            url: self.live.config.url.to_string(),
            request_headers: Vec::new(),
        };
        Settled {
            attempt: Some(attempt),
            payload: None,
            status: match next {
                Some(_) => DeliveryStatus::Pending,
                None => DeliveryStatus::Dead,
            },
            next,
            effect: EndpointEffect::None,
            reason: None,
        }
    }

    /// The attempt record of a request that got `response` (headers and next time unset).
    fn record_of(&self, response: &Response) -> AttemptRecord {
        AttemptRecord {
            n: self.n,
            started_ms: self.started_ms,
            status_code: response.status,
            latency_ms: response.latency.as_millis() as u64,
            response_body: String::from_utf8_lossy(&response.body).into_owned(),
            error: response.error.clone(),
            next_attempt_ms: None,
            url: self.live.config.url.to_string(),
            request_headers: Vec::new(),
        }
    }

    /// When the next attempt is due after this failed one (counted from the last manual
    /// requeue), or `None` when the endpoint's schedule is spent.
    fn retry_at(&self, retry_after: Option<std::time::Duration>) -> Option<Millis> {
        let draw: f64 = rand::rng().random();
        let p = &self.policy;
        let n = self.n - self.item.delivery.retry_base;
        retry::next_delay(
            n,
            p.retry_schedule,
            p.jitter,
            retry_after,
            p.retry_after_cap,
            draw,
        )
        .map(|delay| now_ms() + delay.as_millis() as Millis)
    }

    fn effect(&self, health: Health) -> EndpointEffect {
        match health {
            Health::Unchanged => EndpointEffect::None,
            Health::Recovered => EndpointEffect::Success,
            Health::Failed => EndpointEffect::Failure {
                auto_disable_after: self.policy.auto_disable_after,
            },
            Health::Gone => EndpointEffect::Gone,
        }
    }

    /// Stage 5: the one place an [`AttemptOutcome`] is built.
    fn outcome(self, s: Settled) -> AttemptOutcome {
        AttemptOutcome {
            place: if self.live.is_fifo() {
                QueuePlace::Keep
            } else {
                QueuePlace::ByNextAttempt
            },
            delivery: self.item.delivery,
            attempt: s.attempt,
            payload: s.payload,
            status: s.status,
            next_attempt_ms: s.next,
            endpoint_effect: s.effect,
            reason: s.reason,
            claim: self.item.claim,
        }
    }
}

/// Stage 3's result: every header sent (signature included) and the answer.
struct Sent {
    headers: Vec<(String, String)>,
    response: Response,
}

/// Stage 4's result: the delivery's next state and what to store with it.
struct Settled {
    /// The attempt to append (`None` when no request was made).
    attempt: Option<AttemptRecord>,
    /// The chain output to store (first attempt only).
    payload: Option<StoredPayload>,
    status: DeliveryStatus,
    /// When to try again, with `Pending`.
    next: Option<Millis>,
    effect: EndpointEffect,
    /// Why, when no request was made.
    reason: Option<String>,
}

impl Settled {
    /// A plugin dropped the delivery: no request, no effect on the endpoint.
    fn filtered(reason: String) -> Self {
        Settled {
            attempt: None,
            payload: None,
            status: DeliveryStatus::Filtered,
            next: None,
            effect: EndpointEffect::None,
            reason: Some(reason),
        }
    }
}

/// Records an outcome and tells the scheduler what became of the delivery. While the store is
/// unavailable (a full disk, a reopen) the same outcome is offered again until it is taken, so
/// an attempt the receiver already got is recorded once the store is back rather than sent
/// again; meanwhile the delivery keeps its in-flight slot, so no new attempt starts whose
/// outcome could not be kept either.
async fn record(shared: &Shared, outcome: AttemptOutcome) -> Completion {
    count(&outcome);
    let endpoint_id = outcome.delivery.endpoint_id.clone();
    let delivery_id = outcome.delivery.id.clone();
    let next = outcome.next_attempt_ms;
    let mut pause = RECORD_RETRY_MIN;
    let result = loop {
        match shared.store.record(vec![outcome.clone()]).await {
            Err(e) if e.is_transient() => {
                tracing::warn!(%delivery_id, error = %e, retry_in_ms = pause.as_millis() as u64, "cannot record attempt yet; will offer it again");
                tokio::time::sleep(pause).await;
                pause = (pause * 2).min(RECORD_RETRY_MAX);
            }
            other => break other,
        }
    };
    match result {
        Ok(mut rec) => {
            let rec = rec.pop().unwrap_or_default();
            if rec.stale {
                crate::metrics::global().stale_outcomes.inc();
                tracing::warn!(%delivery_id, "claim expired before the outcome was recorded; another node owns the delivery now (this attempt was a duplicate)");
            }
            Completion {
                endpoint_id,
                delivery_id,
                next_due_ms: next.filter(|_| rec.status == Some(DeliveryStatus::Pending)),
                endpoint_state: rec.endpoint_state,
            }
        }
        Err(e) => {
            tracing::error!(%delivery_id, error = %e, "cannot record attempt; it will be repeated");
            Completion {
                endpoint_id,
                delivery_id,
                next_due_ms: Some(now_ms() + RECORD_FAILURE_BACKOFF_MS),
                endpoint_state: None,
            }
        }
    }
}

/// The attempt and delivery metrics of one outcome.
fn count(outcome: &AttemptOutcome) {
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
}
