//! De-duplication of the copies every swarm member sends (PROTOCOL §9 step 2).
//!
//! Two rotating sets of filter keys: a key is "seen" if it is in either set, so a duplicate
//! is suppressed for one to two windows. Memory is bounded: a set that reaches its cap rotates
//! early, which only shortens suppression under overload.

use std::collections::HashSet;
use std::time::Duration;

use tokio::time::Instant;

use crate::admin::metrics as names;
use crate::crypto;

/// Filter keys held per set by default: at ~50 bytes each, two full sets take ~200 MB.
pub const DEFAULT_SET_CAP: usize = 2_000_000;

/// Whether a (service, svcid, hash) triple was seen within the window.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Seen {
    /// First copy: push it.
    New,
    /// A copy already handled: skip it.
    Duplicate,
}

/// The filter key `F = BLAKE2b-256(service ‖ svcid ‖ hash)` (PROTOCOL §9 step 2).
pub fn filter_key(service: &str, svcid: &str, hash: &[u8]) -> [u8; 32] {
    crypto::blake2b(&[service.as_bytes(), svcid.as_bytes(), hash])
}

/// The rotating pair of filter-key sets. Owned by the dispatch task, so it needs no lock.
pub struct Dedup {
    current: HashSet<[u8; 32]>,
    previous: HashSet<[u8; 32]>,
    rotated_at: Instant,
    window: Duration,
    cap: usize,
}

impl Dedup {
    /// A filter whose sets rotate every `window` and hold at most `cap` keys each.
    pub fn new(window: Duration, cap: usize) -> Self {
        Dedup {
            current: HashSet::new(),
            previous: HashSet::new(),
            rotated_at: Instant::now(),
            window,
            cap: cap.max(1),
        }
    }

    /// Records the triple and says whether it had been seen; counts suppressed duplicates.
    pub fn check(&mut self, service: &str, svcid: &str, hash: &[u8]) -> Seen {
        self.check_key(filter_key(service, svcid, hash))
    }

    fn check_key(&mut self, key: [u8; 32]) -> Seen {
        let now = Instant::now();
        if now.duration_since(self.rotated_at) >= self.window {
            self.rotate(now);
        }
        if self.current.contains(&key) || self.previous.contains(&key) {
            metrics::counter!(names::DEDUP_DROPPED).increment(1);
            return Seen::Duplicate;
        }
        if self.current.len() >= self.cap {
            self.rotate(now);
        }
        self.current.insert(key);
        Seen::New
    }

    fn rotate(&mut self, now: Instant) {
        // Two windows without any check empty both sets; one window moves current to previous.
        if now.duration_since(self.rotated_at) >= self.window * 2 {
            self.previous.clear();
        } else {
            self.previous = std::mem::take(&mut self.current);
        }
        self.current.clear();
        self.rotated_at = now;
    }

    /// Keys held in both sets (for tests and the status page).
    pub fn len(&self) -> usize {
        self.current.len() + self.previous.len()
    }

    /// Whether no key is held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::delivery::tests_support::payload_vectors;

    #[test]
    fn filter_keys_match_the_vectors() {
        crypto::init().unwrap();
        let v = payload_vectors();
        let cases = v["dedup_filter"]["cases"].as_array().unwrap();
        assert!(!cases.is_empty());
        for case in cases {
            let key = filter_key(
                case["service"].as_str().unwrap(),
                case["svcid"].as_str().unwrap(),
                case["hash"].as_str().unwrap().as_bytes(),
            );
            assert_eq!(hex::encode(key), case["filter_key"].as_str().unwrap());
        }
    }

    #[tokio::test(start_paused = true)]
    async fn duplicates_are_suppressed_for_one_to_two_windows() {
        crypto::init().unwrap();
        let window = Duration::from_secs(600);
        let mut d = Dedup::new(window, 100);
        assert_eq!(d.check("apns", "tok", b"h1"), Seen::New);
        assert_eq!(d.check("apns", "tok", b"h1"), Seen::Duplicate);
        assert_eq!(
            d.check("apns", "tok2", b"h1"),
            Seen::New,
            "svcid is part of F"
        );
        assert_eq!(
            d.check("firebase", "tok", b"h1"),
            Seen::New,
            "service is part of F"
        );
        tokio::time::advance(window).await;
        assert_eq!(
            d.check("apns", "tok", b"h1"),
            Seen::Duplicate,
            "previous set"
        );
        tokio::time::advance(window).await;
        assert_eq!(
            d.check("apns", "tok", b"h1"),
            Seen::New,
            "forgotten after two windows"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn long_idle_forgets_everything() {
        crypto::init().unwrap();
        let window = Duration::from_secs(10);
        let mut d = Dedup::new(window, 100);
        d.check("s", "t", b"a");
        tokio::time::advance(window * 3).await;
        assert_eq!(d.check("s", "t", b"b"), Seen::New);
        assert_eq!(d.len(), 1);
    }

    #[tokio::test(start_paused = true)]
    async fn memory_is_bounded_by_the_cap() {
        crypto::init().unwrap();
        let mut d = Dedup::new(Duration::from_secs(600), 10);
        for i in 0..1000u32 {
            assert_eq!(d.check("s", "t", &i.to_be_bytes()), Seen::New);
        }
        assert!(d.len() <= 20, "two sets of at most 10, held {}", d.len());
    }
}
