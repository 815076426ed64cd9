//! The simulated users: accounts (05 Session IDs and 03 groups joined with a subaccount), their
//! devices (iOS on `apns`, Android on `firebase`), and the subscribe phase that registers them
//! through onion requests with every client encryption type.

use std::time::Instant;

use futures::StreamExt;

use super::ledger::{Ledger, LedgerAccount, LedgerDevice};
use super::report::SubscribePhase;
use crate::clients::SimAccount;
use crate::device::Platform;
use crate::network::Network;
use crate::onion_client::ClientEncType;
use relay::clock;
use relay::crypto;

/// Subscribes in flight at once.
const CONCURRENCY: usize = 32;
/// Every third account is a group (PROTOCOL §3.4: 03 accounts sign with a subaccount).
const GROUP_EVERY: usize = 3;
/// Every fourth account has a second device, on the other service.
const SECOND_DEVICE_EVERY: usize = 4;
/// Namespace of direct messages and of group messages.
const DM_NAMESPACE: i16 = 0;
const GROUP_NAMESPACE: i16 = 11;

/// One device that will subscribe.
pub struct PlannedDevice {
    /// Index into the accounts.
    pub account: usize,
    /// `apns` or `firebase`.
    pub service: &'static str,
    /// Its device token.
    pub token: String,
    /// The key it asks the relay to encrypt with.
    pub enc_key: [u8; 32],
    /// How its onion request is encrypted.
    pub enc: ClientEncType,
}

/// Accounts with fresh random keys and devices with fresh tokens (a reused database holds
/// nothing that could collide with them).
pub struct Population {
    /// The accounts.
    pub accounts: Vec<SimAccount>,
    /// The namespace each account's messages go to.
    pub namespaces: Vec<i16>,
    /// Every device, in subscribe order.
    pub devices: Vec<PlannedDevice>,
}

impl Population {
    /// `count` accounts, mixed as the module describes.
    pub fn new(count: usize) -> Self {
        let mut accounts = Vec::with_capacity(count);
        let mut namespaces = Vec::with_capacity(count);
        let mut devices = Vec::new();
        for i in 0..count {
            if i % GROUP_EVERY == GROUP_EVERY - 1 {
                accounts.push(SimAccount::group_member(
                    crypto::random_array(),
                    crypto::random_array(),
                ));
                namespaces.push(GROUP_NAMESPACE);
            } else {
                accounts.push(SimAccount::session(crypto::random_array()));
                namespaces.push(DM_NAMESPACE);
            }
            let first = if i % 2 == 0 { "apns" } else { "firebase" };
            devices.push(device(i, first, devices.len()));
            if i % SECOND_DEVICE_EVERY == 0 {
                let other = if first == "apns" { "firebase" } else { "apns" };
                devices.push(device(i, other, devices.len()));
            }
        }
        Population {
            accounts,
            namespaces,
            devices,
        }
    }

    /// A ledger expecting deliveries to the devices whose subscribe succeeded.
    pub fn ledger(&self, subscribed: &[bool]) -> Ledger {
        let accounts = self
            .accounts
            .iter()
            .zip(&self.namespaces)
            .map(|(a, &namespace)| LedgerAccount {
                hex: a.account.to_hex(),
                namespace,
            })
            .collect();
        let devices = self
            .devices
            .iter()
            .zip(subscribed)
            .filter(|(_, ok)| **ok)
            .map(|(d, _)| LedgerDevice {
                account: d.account,
                service: d.service,
                platform: platform(d.service),
                token: d.token.clone(),
                enc_key: d.enc_key,
            })
            .collect();
        Ledger::new(accounts, devices)
    }
}

fn device(account: usize, service: &'static str, n: usize) -> PlannedDevice {
    let token = match service {
        "apns" => hex::encode(crypto::random_bytes(32)),
        _ => format!("devnet-fcm-{}", hex::encode(crypto::random_bytes(24))),
    };
    PlannedDevice {
        account,
        service,
        token,
        enc_key: crypto::random_array(),
        enc: ClientEncType::ALL[n % ClientEncType::ALL.len()],
    }
}

/// APNs devices are iPhones, the others Android phones.
fn platform(service: &str) -> Platform {
    if service == "apns" {
        Platform::Ios
    } else {
        Platform::Android
    }
}

/// Subscribes every device through an onion request; which succeeded, and the phase's figures.
pub async fn subscribe_all(net: &Network, population: &Population) -> (Vec<bool>, SubscribePhase) {
    let started = Instant::now();
    let results: Vec<(usize, anyhow::Result<()>)> =
        futures::stream::iter(population.devices.iter().enumerate())
            .map(|(i, d)| async move {
                (
                    i,
                    subscribe(
                        net,
                        &population.accounts[d.account],
                        population.namespaces[d.account],
                        d,
                    )
                    .await,
                )
            })
            .buffer_unordered(CONCURRENCY)
            .collect()
            .await;
    let seconds = started.elapsed().as_secs_f64();
    let mut ok = vec![false; population.devices.len()];
    let mut failed = 0;
    for (i, result) in results {
        match result {
            Ok(()) => ok[i] = true,
            Err(e) => {
                failed += 1;
                if failed <= 3 {
                    println!("subscribe of device {i} failed: {e:#}");
                }
            }
        }
    }
    let accepted = ok.iter().filter(|o| **o).count();
    let phase = SubscribePhase {
        accepted,
        failed,
        seconds,
        per_second: if seconds > 0.0 {
            accepted as f64 / seconds
        } else {
            0.0
        },
    };
    (ok, phase)
}

async fn subscribe(
    net: &Network,
    account: &SimAccount,
    namespace: i16,
    device: &PlannedDevice,
) -> anyhow::Result<()> {
    let body = account.subscribe_body(
        device.service,
        &device.token,
        &device.enc_key,
        &[namespace],
        clock::unix_now(),
    );
    let reply = net.onion(device.enc, "/subscribe", &body).await?;
    let json: serde_json::Value = serde_json::from_slice(&reply.body).unwrap_or_default();
    if reply.code != 200 || json["success"] != true {
        anyhow::bail!("the relay answered {}: {json}", reply.code);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_population_mixes_account_kinds_services_and_enc_types() {
        crypto::init().unwrap();
        let p = Population::new(12);
        let kinds: Vec<u8> = p.accounts.iter().map(|a| a.account.0[0]).collect();
        assert_eq!(kinds.iter().filter(|k| **k == 0x03).count(), 4);
        assert_eq!(kinds.iter().filter(|k| **k == 0x05).count(), 8);
        assert_eq!(p.devices.len(), 12 + 3);
        for service in ["apns", "firebase"] {
            assert!(p.devices.iter().any(|d| d.service == service));
        }
        for enc in ClientEncType::ALL {
            assert!(p.devices.iter().any(|d| d.enc == enc));
        }
        assert!(p.devices.iter().all(|d| d.token.len() >= 32));
        let groups = p
            .namespaces
            .iter()
            .filter(|n| **n == GROUP_NAMESPACE)
            .count();
        assert_eq!(groups, 4);
    }

    #[test]
    fn the_ledger_expects_only_subscribed_devices() {
        crypto::init().unwrap();
        let p = Population::new(4);
        // Account 0 has two devices; only its second subscribed.
        let ok: Vec<bool> = (0..p.devices.len()).map(|i| i == 1).collect();
        let ledger = p.ledger(&ok);
        assert!(ledger.has_devices(0));
        assert!(!ledger.has_devices(1));
    }
}
