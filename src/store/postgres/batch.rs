//! Group commit for a networked store: callers offer items one request at a time; one task per
//! kind takes whatever arrived while its last transaction ran and writes it all in the next,
//! so one commit (and its fsync) serves every caller waiting meanwhile, as the redb writer does.

use std::future::Future;

use tokio::sync::{mpsc, oneshot};

use crate::store::StoreError;

/// Items to write, and who to answer with one result per item.
pub type Offer<T, R> = (Vec<T>, oneshot::Sender<Result<Vec<R>, StoreError>>);

/// Runs until every sender is gone: `write` gets the items of every offer waiting (up to about
/// `max` items) and returns one result per item, in order.
pub async fn run<T, R, F, Fut>(mut rx: mpsc::Receiver<Offer<T, R>>, max: usize, mut write: F)
where
    F: FnMut(Vec<T>) -> Fut,
    Fut: Future<Output = Result<Vec<R>, StoreError>>,
{
    while let Some(first) = rx.recv().await {
        let mut offers = vec![first];
        let mut n = offers[0].0.len();
        while n < max {
            match rx.try_recv() {
                Ok(o) => {
                    n += o.0.len();
                    offers.push(o);
                }
                Err(_) => break,
            }
        }
        let mut sizes = Vec::with_capacity(offers.len());
        let mut items = Vec::with_capacity(n);
        let mut replies = Vec::with_capacity(offers.len());
        for (batch, reply) in offers {
            sizes.push(batch.len());
            items.extend(batch);
            replies.push(reply);
        }
        let mut results = write(items).await.map(Vec::into_iter);
        for (size, reply) in sizes.into_iter().zip(replies) {
            let answer = match &mut results {
                Ok(it) => Ok(it.by_ref().take(size).collect()),
                Err(e) => Err(same_kind(e)),
            };
            let _ = reply.send(answer);
        }
    }
}

/// Offers `items` to the task behind `tx` and waits for their results.
pub async fn offer<T, R>(
    tx: &mpsc::Sender<Offer<T, R>>,
    items: Vec<T>,
) -> Result<Vec<R>, StoreError> {
    let (reply, answer) = oneshot::channel();
    tx.send((items, reply))
        .await
        .map_err(|_| StoreError::Closed)?;
    answer.await.map_err(|_| StoreError::Closed)?
}

/// The error again for each offer of a failed batch: same kind (so a transient one is offered
/// again), the cause as text.
fn same_kind(e: &StoreError) -> StoreError {
    match e {
        StoreError::Unavailable(_) => StoreError::Unavailable(e.to_string().into()),
        StoreError::Closed => StoreError::Closed,
        StoreError::Corrupt { table, detail } => StoreError::Corrupt {
            table,
            detail: detail.clone(),
        },
        _ => StoreError::Storage(e.to_string().into()),
    }
}
