//! What an attempt's verdict does to its delivery and to its endpoint's health: the one table
//! the retry machinery turns on, as a pure function so it is tested row by row.

use super::classify::Verdict;

/// Where a delivery goes after an attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Next {
    /// Delivered: finished.
    Delivered,
    /// Try again at this time (ms since the epoch).
    RetryAt(u64),
    /// No more attempts: the schedule is spent or the receiver refused for good.
    Dead,
}

/// How an attempt weighs on its endpoint's failure streak.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Health {
    /// Nothing to write: a success on an endpoint that had no streak.
    Unchanged,
    /// A success that ends a streak.
    Recovered,
    /// A failure: the streak grows.
    Failed,
    /// 410 Gone: the endpoint is disabled at once.
    Gone,
}

/// The delivery's next state and the endpoint's health change after one attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Transition {
    /// What becomes of the delivery.
    pub next: Next,
    /// What becomes of the endpoint's streak.
    pub health: Health,
}

/// The transition for `verdict`. `retry_at` is when the schedule allows the next attempt
/// (`None` when it is spent); `streak` is whether the endpoint has a failure streak (or is
/// disabled) that a success would end.
pub fn transition(verdict: Verdict, retry_at: Option<u64>, streak: bool) -> Transition {
    let (next, health) = match verdict {
        Verdict::Success if streak => (Next::Delivered, Health::Recovered),
        Verdict::Success => (Next::Delivered, Health::Unchanged),
        Verdict::Gone => (Next::Dead, Health::Gone),
        Verdict::Dead => (Next::Dead, Health::Failed),
        Verdict::Retry => match retry_at {
            Some(t) => (Next::RetryAt(t), Health::Failed),
            None => (Next::Dead, Health::Failed),
        },
    };
    Transition { next, health }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_transition_table() {
        use Health::*;
        use Next::*;
        let rows = [
            // (verdict, retry allowed at, endpoint had a streak) → (next, health)
            (Verdict::Success, None, false, Delivered, Unchanged),
            (Verdict::Success, Some(9), false, Delivered, Unchanged),
            (Verdict::Success, None, true, Delivered, Recovered),
            (Verdict::Retry, Some(9), false, RetryAt(9), Failed),
            (Verdict::Retry, Some(9), true, RetryAt(9), Failed),
            (Verdict::Retry, None, false, Dead, Failed),
            (Verdict::Dead, Some(9), false, Dead, Failed),
            (Verdict::Gone, Some(9), false, Dead, Gone),
            (Verdict::Gone, None, true, Dead, Gone),
        ];
        for (verdict, retry_at, streak, next, health) in rows {
            assert_eq!(
                transition(verdict, retry_at, streak),
                Transition { next, health },
                "{verdict:?} retry_at={retry_at:?} streak={streak}"
            );
        }
    }
}
