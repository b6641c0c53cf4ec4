//! The due scan: what the scheduler asks for many endpoints at once.
//!
//! One read transaction serves a whole batch of endpoints, and an event is decoded once per
//! batch however many of its deliveries are due, so a fan-out to every endpoint costs one event
//! read per batch, not one per delivery.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use redb::{ReadOnlyTable, ReadTransaction};

use super::codec;
use super::tables::*;
use crate::store::*;

/// The tables a due scan reads, opened once per batch.
pub struct DueTables {
    due: ReadOnlyTable<(&'static str, u64, &'static str), ()>,
    deliveries: ReadOnlyTable<&'static str, &'static [u8]>,
    events: ReadOnlyTable<&'static str, &'static [u8]>,
    payloads: ReadOnlyTable<&'static str, &'static [u8]>,
    /// Events already decoded in this batch.
    cache: HashMap<String, Arc<EventRecord>>,
}

impl DueTables {
    /// Opens the tables in `txn`.
    pub fn open(txn: &ReadTransaction) -> Result<Self, StoreError> {
        Ok(DueTables {
            due: txn.open_table(DUE).map_err(storage)?,
            deliveries: txn.open_table(DELIVERIES).map_err(storage)?,
            events: txn.open_table(EVENTS).map_err(storage)?,
            payloads: txn.open_table(PAYLOADS).map_err(storage)?,
            cache: HashMap::new(),
        })
    }

    /// One endpoint's due deliveries not in `claimed` (see [`DeliveryQueue::claim`]).
    pub fn scan(
        &mut self,
        want: &DueWant<'_>,
        claimed: &HashSet<String>,
        now_ms: Millis,
    ) -> Result<DueScan, StoreError> {
        let ep = want.endpoint_id;
        let mut scan = DueScan::default();
        let mut later: Option<Millis> = None;
        for entry in self.due.range((ep, 0u64, "")..).map_err(storage)? {
            let (k, _) = entry.map_err(storage)?;
            let (key_ep, due, id) = k.value();
            if key_ep != ep {
                break;
            }
            if due > now_ms || scan.items.len() >= want.limit {
                scan.next_due_ms = Some(due);
                break;
            }
            if claimed.contains(id) {
                continue;
            }
            let Some(item) = self.item(id)? else {
                continue;
            };
            // The due key is a lower bound (a FIFO retry keeps its creation time as key): the
            // record's own next attempt decides. Nothing behind a FIFO head that waits may go.
            match item.delivery.next_attempt_ms.filter(|t| *t > now_ms) {
                Some(t) if want.fifo => {
                    later = Some(later.map_or(t, |l| l.min(t)));
                    break;
                }
                Some(t) => later = Some(later.map_or(t, |l| l.min(t))),
                None => scan.items.push(item),
            }
        }
        if let Some(t) = later {
            scan.next_due_ms = Some(scan.next_due_ms.map_or(t, |n| n.min(t)));
        }
        Ok(scan)
    }

    /// A pending delivery with its event and stored chain output; `None` if a row is missing.
    fn item(&mut self, id: &str) -> Result<Option<DueDelivery>, StoreError> {
        let Some(row) = self.deliveries.get(id).map_err(storage)? else {
            return Ok(None);
        };
        let delivery = codec::decode_delivery(row.value())?;
        let Some(event) = self.event(&delivery.event_id)? else {
            return Ok(None);
        };
        let payload = match &delivery.payload {
            None => None,
            Some(meta) => {
                load_payload(&self.payloads, id, meta, event.body.as_bytes())?.map(Arc::new)
            }
        };
        Ok(Some(DueDelivery {
            delivery,
            event,
            payload,
            claim: NO_CLAIM,
        }))
    }

    fn event(&mut self, id: &str) -> Result<Option<Arc<EventRecord>>, StoreError> {
        if let Some(e) = self.cache.get(id) {
            return Ok(Some(e.clone()));
        }
        let Some(row) = self.events.get(id).map_err(storage)? else {
            return Ok(None);
        };
        let (event, _) = codec::decode_event(row.value())?;
        let event = Arc::new(event);
        self.cache.insert(id.to_owned(), event.clone());
        Ok(Some(event))
    }
}
