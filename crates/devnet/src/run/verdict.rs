//! What the ledger says: running counts for the live line, and the final verdict.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

/// A running count, for the live line.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Progress {
    /// Messages offered so far.
    pub offered: u64,
    /// (message, device) deliveries expected for them.
    pub expected: u64,
    /// Distinct (message, device) pairs delivered and verified.
    pub delivered: u64,
    /// Verified pushes by service name (duplicates included).
    pub by_service: BTreeMap<&'static str, u64>,
    /// Pushes that did not verify, plus duplicates.
    pub errors: u64,
}

/// The outcome of a run.
#[derive(Clone, Debug, Default)]
pub struct Verdict {
    /// (message, device) deliveries expected.
    pub expected: u64,
    /// Distinct (message, device) pairs delivered and verified.
    pub delivered: u64,
    /// Expected pairs never delivered.
    pub missing: u64,
    /// Pairs delivered more than once (each extra copy counted).
    pub duplicated: u64,
    /// Pushes that did not verify, by kind.
    pub faults: BTreeMap<&'static str, u64>,
    /// A few examples of what went wrong, by message number and device number only.
    pub examples: Vec<String>,
    /// End-to-end latency of every first delivery, sorted.
    pub latencies: Vec<Duration>,
    /// When the first message was offered and the last push verified.
    pub span: Option<(Instant, Instant)>,
}

impl Verdict {
    /// Every message reached every subscribed device exactly once and every payload verified.
    pub fn passed(&self) -> bool {
        self.missing == 0 && self.duplicated == 0 && self.faults.is_empty()
    }
}
