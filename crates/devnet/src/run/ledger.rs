//! The devnet ledger: which devices must receive each offered message, what the mock providers
//! received, and whether each payload opened the way the app would open it.
//!
//! A message is offered before it is stored, so a push can never arrive ahead of its entry.
//! Every received push is opened with the device's `enc_key` by [`device::open`] and checked
//! against the message it names (account, hash, namespace, data); the result is counted per
//! (message, device), so a missing or a second delivery shows up in the [`Verdict`].

use std::collections::{BTreeMap, HashMap};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use tokio::sync::watch;

use super::message::{message_data, parse_hash};
use super::verdict::{Progress, Verdict};
use crate::device::{self, Platform, Shown};

/// Examples of faults kept for the summary (the counts are complete).
const EXAMPLES: usize = 5;

/// An account whose messages the ledger expects, and the devices subscribed for it.
#[derive(Clone, Debug)]
pub struct LedgerAccount {
    /// The account ID as 66 hex digits (what `@` must say).
    pub hex: String,
    /// The namespace its messages are stored in.
    pub namespace: i16,
}

/// A device that subscribed successfully.
#[derive(Clone, Debug)]
pub struct LedgerDevice {
    /// Index into the ledger's accounts.
    pub account: usize,
    /// The service name it subscribed with (`apns`, `firebase`).
    pub service: &'static str,
    /// Which app opens its payloads.
    pub platform: Platform,
    /// The device token, as the provider sees it.
    pub token: String,
    /// The key the relay encrypts its payloads with.
    pub enc_key: [u8; 32],
}

/// One push as a mock provider received it.
pub struct Receipt<'a> {
    /// The device token the push was addressed to.
    pub token: &'a str,
    /// The `enc_payload` field, if the body had one.
    pub enc_payload: Option<&'a str>,
    /// Whether the mock found the request well-formed (and answered 200).
    pub accepted: bool,
    /// When the mock received it.
    pub at: Instant,
}

impl<'a> Receipt<'a> {
    /// What a mock recorded: accepted when its checks found no `problems`.
    pub fn new(
        token: &'a str,
        enc_payload: Option<&'a str>,
        problems: &[String],
        at: Instant,
    ) -> Self {
        Receipt {
            token,
            enc_payload,
            accepted: problems.is_empty(),
            at,
        }
    }
}

#[derive(Default)]
struct Book {
    /// Offered messages by number: the account index and when it was offered.
    sent: Vec<(usize, Instant)>,
    expected: u64,
    counts: HashMap<(u64, usize), u32>,
    delivered: u64,
    duplicated: u64,
    by_service: BTreeMap<&'static str, u64>,
    faults: BTreeMap<&'static str, u64>,
    examples: Vec<String>,
    latencies: Vec<Duration>,
    window: Vec<Duration>,
    last: Option<Instant>,
}

/// Offered messages and received pushes; shared by the load generator and the mock readers.
pub struct Ledger {
    accounts: Vec<LedgerAccount>,
    devices: Vec<LedgerDevice>,
    /// Device indices per account.
    by_account: Vec<Vec<usize>>,
    by_token: HashMap<String, usize>,
    book: Mutex<Book>,
    delivered: watch::Sender<u64>,
}

impl Ledger {
    /// A ledger over `accounts` and the `devices` that subscribed for them.
    pub fn new(accounts: Vec<LedgerAccount>, devices: Vec<LedgerDevice>) -> Self {
        let mut by_account = vec![Vec::new(); accounts.len()];
        for (i, d) in devices.iter().enumerate() {
            if let Some(list) = by_account.get_mut(d.account) {
                list.push(i);
            }
        }
        let by_token = devices
            .iter()
            .enumerate()
            .map(|(i, d)| (d.token.clone(), i))
            .collect();
        Ledger {
            accounts,
            devices,
            by_account,
            by_token,
            book: Mutex::new(Book::default()),
            delivered: watch::channel(0).0,
        }
    }

    /// Whether `account` has a subscribed device (messages to others are not worth offering).
    pub fn has_devices(&self, account: usize) -> bool {
        self.by_account.get(account).is_some_and(|d| !d.is_empty())
    }

    /// Records that a message for `account` is about to be stored; returns its number.
    pub fn offer(&self, account: usize) -> u64 {
        let devices = self.by_account.get(account).map_or(0, Vec::len) as u64;
        let mut book = self.lock();
        book.sent.push((account, Instant::now()));
        book.expected += devices;
        book.sent.len() as u64 - 1
    }

    /// Checks and counts one push received by a mock.
    pub fn receive(&self, receipt: Receipt<'_>) {
        let (seq, index) = match self.check(&receipt) {
            Ok(found) => found,
            Err((kind, example)) => return self.fault(kind, example),
        };
        let device = &self.devices[index];
        let mut guard = self.lock();
        let book = &mut *guard;
        *book.by_service.entry(device.service).or_default() += 1;
        let count = book.counts.entry((seq, index)).or_default();
        *count += 1;
        if *count > 1 {
            book.duplicated += 1;
            if book.examples.len() < EXAMPLES {
                let example = format!("message {seq} reached device {index} {count} times");
                book.examples.push(example);
            }
            return;
        }
        let offered_at = book.sent[seq as usize].1;
        let latency = receipt.at.saturating_duration_since(offered_at);
        book.latencies.push(latency);
        book.window.push(latency);
        book.delivered += 1;
        book.last = Some(book.last.map_or(receipt.at, |l| l.max(receipt.at)));
        let delivered = book.delivered;
        drop(guard);
        self.delivered.send_replace(delivered);
    }

    /// Opens the payload as the device would and finds the (message, device) it is for.
    fn check(&self, receipt: &Receipt<'_>) -> Result<(u64, usize), (&'static str, String)> {
        let Some(&index) = self.by_token.get(receipt.token) else {
            return Err((
                "unknown device token",
                "a device that never subscribed".into(),
            ));
        };
        let fault = |kind: &'static str| (kind, format!("device {index}"));
        if !receipt.accepted {
            return Err(fault("rejected by the mock provider"));
        }
        let device = &self.devices[index];
        let payload = receipt.enc_payload.ok_or_else(|| fault("no enc_payload"))?;
        let (metadata, data) = match device::open(device.platform, payload, &device.enc_key) {
            Ok(Shown::Data { metadata, data }) => (metadata, data),
            Ok(_) => return Err(fault("not shown with its data")),
            Err(e) => return Err(("payload did not open", format!("device {index}: {e}"))),
        };
        let seq = parse_hash(&metadata.hash).ok_or_else(|| fault("unknown message hash"))?;
        let account = self.lock().sent.get(seq as usize).map(|s| s.0);
        let account = account.ok_or_else(|| fault("unknown message hash"))?;
        let wrong = |kind: &'static str| (kind, format!("message {seq} to device {index}"));
        if account != device.account {
            return Err(wrong("pushed to a device of another account"));
        }
        let expected = &self.accounts[account];
        if metadata.account != expected.hex
            || metadata.namespace != Some(i64::from(expected.namespace))
            || data != message_data(seq)
        {
            return Err(wrong("metadata or data differ from the message"));
        }
        Ok((seq, index))
    }

    /// Records that message `seq` could not be stored on its swarm.
    pub fn store_failed(&self, seq: u64, why: &str) {
        self.fault(
            "message could not be stored",
            format!("message {seq}: {why}"),
        );
    }

    fn fault(&self, kind: &'static str, example: impl Into<String>) {
        let mut book = self.lock();
        *book.faults.entry(kind).or_default() += 1;
        if book.examples.len() < EXAMPLES {
            book.examples.push(format!("{kind}: {}", example.into()));
        }
    }

    /// Waits until every expected delivery arrived, at most `limit`; `true` when complete.
    pub async fn wait_complete(&self, limit: Duration) -> bool {
        let mut delivered = self.delivered.subscribe();
        let expected = self.lock().expected;
        tokio::time::timeout(limit, delivered.wait_for(|d| *d >= expected))
            .await
            .is_ok_and(|r| r.is_ok())
    }

    /// Counts so far.
    pub fn progress(&self) -> Progress {
        let book = self.lock();
        Progress {
            offered: book.sent.len() as u64,
            expected: book.expected,
            delivered: book.delivered,
            by_service: book.by_service.clone(),
            errors: book.faults.values().sum::<u64>() + book.duplicated,
        }
    }

    /// The latencies of first deliveries since the previous call (the live line's window).
    pub fn take_window(&self) -> Vec<Duration> {
        std::mem::take(&mut self.lock().window)
    }

    /// The final account: what is missing, duplicated or did not verify.
    pub fn verdict(&self) -> Verdict {
        let book = self.lock();
        let mut missing = 0;
        let mut examples = book.examples.clone();
        for (seq, &(account, _)) in book.sent.iter().enumerate() {
            for &device in &self.by_account[account] {
                if !book.counts.contains_key(&(seq as u64, device)) {
                    missing += 1;
                    if examples.len() < EXAMPLES * 2 {
                        examples.push(format!("message {seq} never reached device {device}"));
                    }
                }
            }
        }
        let mut latencies = book.latencies.clone();
        latencies.sort_unstable();
        Verdict {
            expected: book.expected,
            delivered: book.delivered,
            missing,
            duplicated: book.duplicated,
            faults: book.faults.clone(),
            examples,
            latencies,
            span: book.sent.first().map(|s| s.1).zip(book.last),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Book> {
        self.book.lock().unwrap_or_else(|p| p.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::run::message::message_hash;
    use relay::crypto;
    use relay::delivery::payload::{self, NoDataForm};
    use relay::subscription::{AccountId, EncKey};
    use relay::swarm::Notification;

    const KEY: [u8; 32] = [7; 32];

    fn account(n: u8) -> AccountId {
        AccountId([n; 33])
    }

    /// Two accounts: account 0 with an iOS and an Android device, account 1 with none.
    fn ledger() -> Ledger {
        crypto::init().unwrap();
        let accounts = (5..7)
            .map(|n| LedgerAccount {
                hex: account(n).to_hex(),
                namespace: 0,
            })
            .collect();
        let device = |service, platform, token: &str| LedgerDevice {
            account: 0,
            service,
            platform,
            token: token.into(),
            enc_key: KEY,
        };
        Ledger::new(
            accounts,
            vec![
                device("apns", Platform::Ios, "ios"),
                device("firebase", Platform::Android, "droid"),
            ],
        )
    }

    /// What the relay would push for message `seq` of account byte `n`.
    fn payload(seq: u64, n: u8, data: Vec<u8>, key: [u8; 32]) -> String {
        let msg = Notification {
            account: account(n),
            hash: message_hash(seq).into_bytes().into(),
            namespace: 0,
            timestamp_ms: 1,
            expiry_ms: 2,
            data: Some(data.clone().into()),
            received: tokio::time::Instant::now(),
        };
        payload::build(&msg, Some(&data), NoDataForm::Dict, &EncKey(key), &[1; 24])
            .unwrap()
            .enc_payload
    }

    /// Offers a message to account 0 and returns the payload its devices should get.
    fn offer_to_account_0(ledger: &Ledger) -> String {
        let seq = ledger.offer(0);
        payload(seq, 5, message_data(seq), KEY)
    }

    fn receive(ledger: &Ledger, token: &str, enc_payload: &str) {
        ledger.receive(Receipt {
            token,
            enc_payload: Some(enc_payload),
            accepted: true,
            at: Instant::now(),
        });
    }

    #[test]
    fn each_device_once_passes() {
        let ledger = ledger();
        let good = offer_to_account_0(&ledger);
        receive(&ledger, "ios", &good);
        assert!(
            !ledger.verdict().passed(),
            "the Android device is still missing"
        );
        receive(&ledger, "droid", &good);
        let verdict = ledger.verdict();
        assert!(verdict.passed(), "{verdict:?}");
        assert_eq!((verdict.expected, verdict.delivered), (2, 2));
        assert_eq!(verdict.latencies.len(), 2);
        assert_eq!(ledger.progress().by_service.get("apns"), Some(&1));
    }

    #[test]
    fn missing_and_duplicates_fail() {
        let ledger = ledger();
        let good = offer_to_account_0(&ledger);
        receive(&ledger, "ios", &good);
        receive(&ledger, "ios", &good);
        let verdict = ledger.verdict();
        assert_eq!((verdict.missing, verdict.duplicated), (1, 1));
        assert!(!verdict.passed());
        assert!(verdict
            .examples
            .iter()
            .any(|e| e.contains("never reached device 1")));
    }

    #[test]
    fn payloads_that_do_not_verify_are_faults() {
        let ledger = ledger();
        let seq = ledger.offer(0);
        receive(&ledger, "ios", &payload(seq, 5, message_data(seq), [8; 32]));
        receive(&ledger, "ios", &payload(seq, 6, message_data(seq), KEY));
        receive(
            &ledger,
            "ios",
            &payload(seq, 5, b"other data".to_vec(), KEY),
        );
        receive(
            &ledger,
            "ios",
            &payload(seq + 1, 5, message_data(seq + 1), KEY),
        );
        receive(
            &ledger,
            "stranger",
            &payload(seq, 5, message_data(seq), KEY),
        );
        let verdict = ledger.verdict();
        assert_eq!(verdict.delivered, 0);
        assert_eq!(
            verdict.faults.values().sum::<u64>(),
            5,
            "{:?}",
            verdict.faults
        );
        assert_eq!(
            verdict.faults["metadata or data differ from the message"],
            2
        );
    }

    #[test]
    fn a_message_to_an_account_without_devices_expects_nothing() {
        let ledger = ledger();
        assert!(!ledger.has_devices(1));
        ledger.offer(1);
        assert!(ledger.verdict().passed());
    }

    #[tokio::test]
    async fn wait_complete_resolves_on_the_last_delivery() {
        let ledger = std::sync::Arc::new(ledger());
        let good = offer_to_account_0(&ledger);
        receive(&ledger, "ios", &good);
        assert!(!ledger.wait_complete(Duration::ZERO).await);
        let waiter = tokio::spawn({
            let ledger = ledger.clone();
            async move { ledger.wait_complete(Duration::from_secs(10)).await }
        });
        receive(&ledger, "droid", &good);
        assert!(waiter.await.unwrap());
    }
}
