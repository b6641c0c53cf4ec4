//! What recording an attempt's outcome does to its delivery, as one pure function every backend
//! calls inside its own transaction: the backends differ in how they read and write rows, not
//! in what a retry, a filtered delivery or a cancelled one becomes.

use super::*;

/// The changes [`apply_outcome`] asks the backend to write besides the delivery row itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Applied {
    /// The due-index key (its time part) to remove: the delivery was pending.
    pub unqueue_ms: Option<Millis>,
    /// The due-index key to add: the delivery stays pending.
    pub queue_ms: Option<Millis>,
    /// Store the outcome's chain output in a payload row (too large or not UTF-8 to inline).
    pub payload_row: bool,
    /// What to do to the endpoint's failure streak ([`EndpointState::apply`]).
    pub effect: EndpointEffect,
    /// What to add to the endpoint's counters for this hour, when a request was made.
    pub counts: Option<Counters>,
    /// The delivery finished now and retention keeps it until then: the expiry entry to add.
    pub expires_ms: Option<Millis>,
}

/// Moves `d` (the delivery as stored now) on by `o`, at `now`. A delivery that is no longer
/// pending (cancelled, or finished by an operator while the attempt was in flight) keeps its
/// status: the attempt is logged, nothing is resurrected, the endpoint's streak is untouched.
/// A delivery that finishes is stamped with its expiry under `rules`.
pub fn apply_outcome(
    d: &mut DeliveryRecord,
    o: &AttemptOutcome,
    now: Millis,
    rules: &dyn RetentionRules,
) -> Applied {
    if let Some(a) = &o.attempt {
        d.attempts = d.attempts.max(a.n);
        d.last_status_code = a.status_code;
        d.last_error = a.error.clone();
    }
    d.updated_ms = now;
    let mut payload_row = false;
    if let (Some(p), None) = (&o.payload, &d.payload) {
        payload_row = p.needs_row();
        d.payload = Some(p.meta.clone());
    }
    let mut applied = Applied {
        unqueue_ms: None,
        queue_ms: None,
        payload_row,
        effect: EndpointEffect::None,
        counts: None,
        expires_ms: None,
    };
    if d.status == DeliveryStatus::Pending {
        applied.unqueue_ms = Some(d.due_key_ms);
        applied.effect = o.endpoint_effect;
        d.status = o.status;
        if o.attempt.is_none() {
            // No request was made (a plugin filtered it): the reason is what the log shows.
            d.last_error = o.reason.clone();
        }
        d.next_attempt_ms = o
            .next_attempt_ms
            .filter(|_| o.status == DeliveryStatus::Pending);
        if let Some(next) = d.next_attempt_ms {
            if o.place == QueuePlace::ByNextAttempt {
                d.due_key_ms = next;
            }
            applied.queue_ms = Some(d.due_key_ms);
        }
        d.expires_ms = RulesSlot::expiry(rules, &d.endpoint_id, d.status, now);
        applied.expires_ms = d.expires_ms;
    }
    if o.attempt.is_some() {
        let mut c = Counters::default();
        match d.status {
            DeliveryStatus::Succeeded => {
                c.attempts_ok = 1;
                c.delivered = 1;
            }
            DeliveryStatus::Dead => {
                c.attempts_failed = 1;
                c.dead = 1;
            }
            _ => c.attempts_failed = 1,
        }
        applied.counts = Some(c);
    }
    applied
}

/// The record of a delivery the fan-out just made: pending and due at the event's time.
pub fn new_delivery(e: &EventRecord, d: &DeliveryRef) -> DeliveryRecord {
    DeliveryRecord {
        id: d.id.clone(),
        event_id: e.id.clone(),
        endpoint_id: d.endpoint_id.clone(),
        tenant: e.tenant.clone(),
        status: DeliveryStatus::Pending,
        attempts: 0,
        created_ms: e.timestamp_ms,
        updated_ms: e.timestamp_ms,
        next_attempt_ms: Some(e.timestamp_ms),
        due_key_ms: e.timestamp_ms,
        last_status_code: None,
        last_error: None,
        payload: None,
        retry_base: 0,
        expires_ms: None,
    }
}

/// Marks a pending delivery cancelled at `now`, stamped under `rules`. Returns the expiry.
pub fn cancel(d: &mut DeliveryRecord, now: Millis, rules: &dyn RetentionRules) -> Option<Millis> {
    d.status = DeliveryStatus::Cancelled;
    d.next_attempt_ms = None;
    d.updated_ms = now;
    d.expires_ms = RulesSlot::expiry(rules, &d.endpoint_id, d.status, now);
    d.expires_ms
}

/// Makes `d` pending and due at `now` with its retry schedule restarted (an operator's retry
/// or recover). Returns the due key to remove first, if it was pending; the caller also
/// removes the expiry entry the delivery had (read `expires_ms` before calling), since a
/// pending delivery is never pruned.
pub fn requeue(d: &mut DeliveryRecord, now: Millis) -> Option<Millis> {
    let old = (d.status == DeliveryStatus::Pending).then_some(d.due_key_ms);
    d.expires_ms = None;
    d.status = DeliveryStatus::Pending;
    d.retry_base = d.attempts;
    d.next_attempt_ms = Some(now);
    d.due_key_ms = now;
    d.updated_ms = now;
    old
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rules() -> crate::config::RetentionConfig {
        crate::config::RetentionConfig::default()
    }

    /// A delivery that finishes is stamped with its rule's expiry; one that stays pending is not.
    #[test]
    fn a_finished_delivery_is_stamped_with_its_expiry() {
        let mut d = pending();
        let mut o = failed(QueuePlace::ByNextAttempt);
        let a = apply_outcome(&mut d, &o, 20, &rules());
        assert_eq!((a.expires_ms, d.expires_ms), (None, None));
        o.status = DeliveryStatus::Dead;
        let a = apply_outcome(&mut d, &o, 30, &rules());
        let thirty_days = 30 * 86_400_000;
        assert_eq!(
            (a.expires_ms, d.expires_ms),
            (Some(30 + thirty_days), Some(30 + thirty_days))
        );
        assert_eq!(requeue(&mut d, 40), None);
        assert_eq!(d.expires_ms, None, "pending again: never pruned");
    }

    fn pending() -> DeliveryRecord {
        let e = EventRecord {
            id: "evt_1".into(),
            event_type: "t".into(),
            tenant: "acme".into(),
            timestamp_ms: 10,
            body: "{}".into(),
            fanout: 1,
        };
        let r = DeliveryRef {
            id: "del_1".into(),
            endpoint_id: "ep".into(),
        };
        new_delivery(&e, &r)
    }

    fn failed(place: QueuePlace) -> AttemptOutcome {
        AttemptOutcome {
            delivery: pending(),
            attempt: Some(AttemptRecord {
                n: 1,
                started_ms: 11,
                status_code: Some(500),
                latency_ms: 1,
                response_body: String::new(),
                error: Some("500".into()),
                next_attempt_ms: Some(500),
                url: "http://r".into(),
                request_headers: vec![],
            }),
            payload: None,
            status: DeliveryStatus::Pending,
            next_attempt_ms: Some(500),
            place,
            endpoint_effect: EndpointEffect::Failure {
                auto_disable_after: 3,
            },
            reason: None,
            claim: NO_CLAIM,
        }
    }

    /// A retry of an unordered endpoint waits under its next attempt time; a FIFO endpoint's
    /// keeps its place at the head.
    #[test]
    fn a_retry_waits_by_next_attempt_or_keeps_its_place() {
        let mut d = pending();
        let a = apply_outcome(&mut d, &failed(QueuePlace::ByNextAttempt), 20, &rules());
        assert_eq!((a.unqueue_ms, a.queue_ms), (Some(10), Some(500)));
        assert_eq!((d.attempts, d.due_key_ms, d.updated_ms), (1, 500, 20));
        let mut d = pending();
        let a = apply_outcome(&mut d, &failed(QueuePlace::Keep), 20, &rules());
        assert_eq!((a.unqueue_ms, a.queue_ms), (Some(10), Some(10)));
        assert_eq!(a.counts.unwrap().attempts_failed, 1);
    }

    /// A delivery cancelled while its attempt was out logs the attempt and stays cancelled,
    /// with no effect on the endpoint's streak.
    #[test]
    fn a_cancelled_delivery_is_not_resurrected() {
        let mut d = pending();
        d.status = DeliveryStatus::Cancelled;
        let a = apply_outcome(&mut d, &failed(QueuePlace::ByNextAttempt), 20, &rules());
        assert_eq!(d.status, DeliveryStatus::Cancelled);
        assert_eq!((a.unqueue_ms, a.queue_ms), (None, None));
        assert_eq!(a.effect, EndpointEffect::None);
        assert_eq!(d.attempts, 1, "the attempt is still counted");
    }
}
