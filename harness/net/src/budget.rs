//! What the harness keeps of what an IUT sends, counted at its real cost: one budget per run and
//! one per process, shared by every run at once (`--jobs`).
//!
//! Every datagram an IUT sends is kept until its run is judged: two link-trace records (sent,
//! delivered), the capture record, the checker's and the transcript's view of it, timing samples.
//! [`datagram_cost`] charges what those really take (measured with tiny and large floods, see
//! `docs/hostile.md`), not only the payload. A run that uses its budget up, or finds the process's
//! used up by the runs beside it, stops reading: its capture is what it took in, and it fails with
//! the flood's reason. What a run took goes back to the process when the run ends.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

/// What one real-time run takes in from its IUT at most, at [`datagram_cost`]: several hundred
/// times what the largest library scenario receives (about 1,000 datagrams, 150 KB).
pub const RUN_BUDGET: u64 = 32 << 20;

/// What every run of one harness process together takes in at most, at [`datagram_cost`]: six
/// runs' budgets, however many jobs run at once.
pub const PROCESS_BUDGET: u64 = 192 << 20;

/// What the harness keeps for a datagram besides its payload bytes (measured: 1.3 KB; rounded
/// up).
pub const DATAGRAM_COST: u64 = 1536;

/// How many copies of a payload the harness keeps until the run is judged (the socket's, the
/// trace's sent and delivered records, the capture, the checker's and its decoder's; measured: 5.9).
pub const PAYLOAD_COPIES: u64 = 7;

/// What keeping a datagram of `len` bytes costs the harness.
pub fn datagram_cost(len: usize) -> u64 {
    DATAGRAM_COST + PAYLOAD_COPIES * len as u64
}

static PROCESS_LEFT: AtomicU64 = AtomicU64::new(PROCESS_BUDGET);

/// Which budget ran out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exhausted {
    /// The run's own.
    Run,
    /// The process's, shared with the runs beside it.
    Process,
}

/// One run's budget: what it may still take, and what it took from the process's (given back
/// when the budget is dropped, with the run).
#[derive(Debug)]
pub struct RunBudget {
    limit: AtomicU64,
    left: AtomicU64,
    taken: AtomicU64,
    /// Datagrams turned away after the budget ran out (counted, not kept).
    turned_away: AtomicU64,
}

impl RunBudget {
    /// A run budget of `limit` bytes (at [`datagram_cost`]).
    pub fn new(limit: u64) -> Arc<RunBudget> {
        Arc::new(RunBudget {
            limit: AtomicU64::new(limit),
            left: AtomicU64::new(limit),
            taken: AtomicU64::new(0),
            turned_away: AtomicU64::new(0),
        })
    }

    /// The run's limit.
    pub fn limit(&self) -> u64 {
        self.limit.load(Ordering::Relaxed)
    }

    /// Sets the run's limit (before anything is taken: what was taken stays taken).
    pub fn set_limit(&self, limit: u64) {
        self.limit.store(limit, Ordering::Relaxed);
        self.left
            .store(limit.saturating_sub(self.taken()), Ordering::Relaxed);
    }

    /// What the run has taken so far.
    pub fn taken(&self) -> u64 {
        self.taken.load(Ordering::Relaxed)
    }

    /// Takes `cost` from the run's budget and the process's; nothing is taken when either has
    /// not that much left.
    pub fn take(&self, cost: u64) -> Result<(), Exhausted> {
        take_from(&self.left, cost).map_err(|()| Exhausted::Run)?;
        if take_from(&PROCESS_LEFT, cost).is_err() {
            self.left.fetch_add(cost, Ordering::Relaxed);
            return Err(Exhausted::Process);
        }
        self.taken.fetch_add(cost, Ordering::Relaxed);
        Ok(())
    }

    /// Counts a datagram that arrived after the budget ran out (not kept).
    pub fn turn_away(&self) {
        self.turned_away.fetch_add(1, Ordering::Relaxed);
    }

    /// Datagrams that arrived after the budget ran out.
    pub fn turned_away(&self) -> u64 {
        self.turned_away.load(Ordering::Relaxed)
    }
}

impl Drop for RunBudget {
    fn drop(&mut self) {
        PROCESS_LEFT.fetch_add(*self.taken.get_mut(), Ordering::Relaxed);
    }
}

/// What the process's budget has left (for tests and reports).
pub fn process_left() -> u64 {
    PROCESS_LEFT.load(Ordering::Relaxed)
}

fn take_from(budget: &AtomicU64, cost: u64) -> Result<(), ()> {
    budget
        .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |left| {
            left.checked_sub(cost)
        })
        .map(|_| ())
        .map_err(|_| ())
}

#[cfg(test)]
mod tests {
    use super::*;

    // One test touches the process budget: tests in this crate run on threads of one process.
    #[test]
    fn runs_take_their_own_budget_share_the_process_s_and_give_it_back() {
        let before = process_left();
        let a = RunBudget::new(PROCESS_BUDGET);
        let b = RunBudget::new(PROCESS_BUDGET);
        assert_eq!(a.take(before - 10), Ok(()));
        assert_eq!(
            b.take(11),
            Err(Exhausted::Process),
            "the process's is used up by a"
        );
        assert_eq!(b.take(10), Ok(()), "what is left of it is b's");
        assert_eq!(b.taken(), 10);
        drop(a);
        assert_eq!(process_left(), before - 10, "a's share went back");
        drop(b);
        assert_eq!(process_left(), before);

        let run = RunBudget::new(3 * datagram_cost(100));
        for _ in 0..3 {
            assert_eq!(run.take(datagram_cost(100)), Ok(()));
        }
        assert_eq!(run.take(datagram_cost(0)), Err(Exhausted::Run));
        assert_eq!(run.taken(), 3 * datagram_cost(100));
        run.turn_away();
        assert_eq!(run.turned_away(), 1);
    }
}
