//! Subscribe load against a relay running as its **own process**: signed `/subscribe` requests
//! (05 accounts and 03 group subaccounts), sent directly (`POST /subscribe`) or wrapped in v4
//! onion requests (`POST /oxen/v4/lsrpc`) by `--concurrency` workers.
//!
//! By default this process runs devnet's network (fake oxend, `--nodes` fake storage servers in
//! `--swarms` swarms) and `session-push-relay serve` as a child (`--relay`, database from
//! `--database`), so the relay also sends the `monitor.messages` each new account causes, and
//! its CPU is read from `/proc/PID/stat` alone. With `--url` and `--relay-pubkey` it loads a
//! relay that is already running instead (no swarm, no CPU figures unless `--relay-pid`).
//!
//! ```text
//! cargo build --release --bin session-push-relay --example subscribe_load
//! ./target/release/examples/subscribe_load --mode onion --count 20000 --concurrency 32
//! ./target/release/examples/subscribe_load --mode direct \
//!     --database postgres://relay@127.0.0.1/bench_subscribe
//! ```
//!
//! Requests are signed and encrypted before the clock starts. Prints subscribes/s, latency
//! p50/p99, errors, and the relay's CPU per subscribe: over the sending phase, and over the
//! sending phase plus the wait until every swarm member accepted every account (the
//! `monitor.messages` side), with how many `monitor.messages` requests that took.

use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{ensure, Context};
use clap::{Parser, ValueEnum};
use devnet::clients::SimAccount;
use devnet::network::Network;
use devnet::onion_client::{ClientEncType, OnionClient, OnionRequest};
use devnet::run::process::{Cpu, Probe};
use devnet::run::wait_monitored;
use relay::clock;
use relay::crypto;
use relay::subscription::AccountId;

/// How long the swarm side gets to submit every account after the last reply.
const MONITOR_WAIT: Duration = Duration::from_secs(120);

#[derive(Parser)]
struct Args {
    /// `direct` (`POST /subscribe`) or `onion` (`POST /oxen/v4/lsrpc`).
    #[arg(long, value_enum, default_value_t = Mode::Onion)]
    mode: Mode,
    /// The relay's database: `sqlite` (a fresh file) or an empty `postgres://` database.
    #[arg(long, default_value = "sqlite")]
    database: String,
    /// The relay binary run as a child process.
    #[arg(long, default_value = "target/release/session-push-relay")]
    relay: PathBuf,
    /// Fake storage servers.
    #[arg(long, default_value_t = 25)]
    nodes: usize,
    /// Swarms they form (round-robin): `nodes / swarms` members each.
    #[arg(long, default_value_t = 5)]
    swarms: usize,
    /// Load a running relay at this base URL instead (needs `--relay-pubkey`).
    #[arg(long, requires = "relay_pubkey")]
    url: Option<String>,
    /// The running relay's onion public key, 64 hex characters (`keygen` prints it).
    #[arg(long)]
    relay_pubkey: Option<String>,
    /// With `--url`: the running relay's process id, for CPU figures.
    #[arg(long)]
    relay_pid: Option<u32>,
    /// Service name sent in each subscription.
    #[arg(long, default_value = "dummy")]
    service: String,
    /// Subscribe requests to send.
    #[arg(long, default_value_t = 20_000)]
    count: usize,
    /// Requests in flight at once.
    #[arg(long, default_value_t = 32)]
    concurrency: usize,
    /// Onion layer cipher.
    #[arg(long, value_enum, default_value_t = Enc::Mixed)]
    enc: Enc,
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Mode {
    Direct,
    Onion,
}

#[derive(Clone, Copy, ValueEnum)]
enum Enc {
    Xchacha20,
    AesGcm,
    /// Alternate the two.
    Mixed,
}

/// One prepared request.
enum Request {
    Direct(Vec<u8>),
    Onion(OnionRequest),
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    crypto::init()?;
    let _ = rustls::crypto::ring::default_provider().install_default();
    let net = match &args.url {
        Some(_) => None,
        None => Some(start_network(&args).await?),
    };
    let (url, pubkey) = match (&net, &args.url) {
        (Some(net), _) => (net.api_url().to_string(), net.onion_pubkey()),
        (None, url) => (
            url.as_deref()
                .unwrap_or_default()
                .trim_end_matches('/')
                .into(),
            parse_pubkey(args.relay_pubkey.as_deref().unwrap_or_default())?,
        ),
    };
    let probe = net
        .as_ref()
        .and_then(Network::relay_pid)
        .or(args.relay_pid)
        .map(Probe::new);
    let result = run(&args, net.as_ref(), &url, pubkey, probe.as_ref()).await;
    if let Some(net) = net {
        if let Err(e) = net.shutdown().await {
            eprintln!("the relay did not stop cleanly: {e:#}");
        }
    }
    result
}

async fn start_network(args: &Args) -> anyhow::Result<Network> {
    let mut builder = Network::builder()
        .nodes(args.nodes)
        .swarms(args.swarms)
        .dummy_service(true)
        // Renewals would add CPU unrelated to the subscribes: none during a run.
        .resubscribe_secs(3_600, 7_200)
        .relay_binary(&args.relay);
    if args.database != "sqlite" {
        builder = builder.database_url(&args.database);
    }
    let net = builder.start().await.context("cannot start the network")?;
    net.wait_ready(Duration::from_secs(30)).await?;
    Ok(net)
}

async fn run(
    args: &Args,
    net: Option<&Network>,
    url: &str,
    pubkey: [u8; 32],
    probe: Option<&Probe>,
) -> anyhow::Result<()> {
    let built = Instant::now();
    let (accounts, requests) = build_requests(args, pubkey)?;
    eprintln!(
        "built {} signed requests in {:.1?}",
        requests.len(),
        built.elapsed()
    );
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(args.concurrency)
        .build()?;
    let endpoint = match args.mode {
        Mode::Direct => format!("{url}/subscribe"),
        Mode::Onion => format!("{url}/oxen/v4/lsrpc"),
    };
    let monitor_requests_before = net.map_or(0, monitor_requests);
    let cpu_before = probe.map(Probe::cpu).transpose()?;
    let started = Instant::now();
    let (latencies, errors) = send_all(args, &client, &endpoint, Arc::new(requests)).await?;
    let elapsed = started.elapsed();
    let cpu_sent = probe.map(Probe::cpu).transpose()?;
    report_rate(args, &latencies, errors, elapsed);
    if let (Some(before), Some(after)) = (cpu_before, cpu_sent) {
        report_cpu("sending phase", before, after, latencies.len());
    }
    if let Some(net) = net {
        let unmonitored = wait_monitored(net, &accounts, MONITOR_WAIT).await;
        let swarm_elapsed = started.elapsed();
        let requests = monitor_requests(net) - monitor_requests_before;
        println!(
            "swarm: every member accepted every account {:.2} s after the first request \
             ({unmonitored} entries missing); {requests} monitor.messages requests received",
            swarm_elapsed.as_secs_f64(),
        );
        let cpu_swarm = probe.map(Probe::cpu).transpose()?;
        if let (Some(before), Some(after)) = (cpu_before, cpu_swarm) {
            report_cpu("until monitored", before, after, latencies.len());
        }
        ensure!(unmonitored == 0, "{unmonitored} monitor entries missing");
    }
    ensure!(errors == 0, "{errors} subscribe requests failed");
    Ok(())
}

fn parse_pubkey(hex_key: &str) -> anyhow::Result<[u8; 32]> {
    hex::decode(hex_key)
        .ok()
        .and_then(|k| <[u8; 32]>::try_from(k).ok())
        .context("--relay-pubkey must be 64 hex characters")
}

/// `monitor.messages` requests every fake storage server received so far.
fn monitor_requests(net: &Network) -> usize {
    net.nodes().iter().map(|n| n.storage.records().len()).sum()
}

/// One signed subscription per request; every fourth account is a 03 group subaccount.
fn build_requests(
    args: &Args,
    relay_pubkey: [u8; 32],
) -> anyhow::Result<(Vec<AccountId>, Vec<Request>)> {
    let onion = OnionClient::new(relay_pubkey);
    let run: [u8; 16] = crypto::random_array();
    let sig_ts = clock::unix_now();
    let mut accounts = Vec::with_capacity(args.count);
    let mut requests = Vec::with_capacity(args.count);
    for i in 0..args.count {
        let seed = |role: u8| {
            let mut s = [role; 32];
            s[..16].copy_from_slice(&run);
            s[16..24].copy_from_slice(&(i as u64).to_le_bytes());
            s
        };
        let account = if i % 4 == 3 {
            SimAccount::group_member(seed(3), seed(1))
        } else {
            SimAccount::session(seed(5))
        };
        let token = hex::encode(seed(7));
        let enc_key: [u8; 32] = crypto::random_array();
        let body = account.subscribe_body(&args.service, &token, &enc_key, &[0], sig_ts);
        let body = serde_json::to_vec(&body)?;
        accounts.push(account.account);
        requests.push(match args.mode {
            Mode::Direct => Request::Direct(body),
            Mode::Onion => {
                let enc = match args.enc {
                    Enc::Xchacha20 => ClientEncType::XChaCha20,
                    Enc::AesGcm => ClientEncType::AesGcm,
                    Enc::Mixed if i.is_multiple_of(2) => ClientEncType::XChaCha20,
                    Enc::Mixed => ClientEncType::AesGcm,
                };
                Request::Onion(onion.request(enc, "POST", "/subscribe", Some(&body))?)
            }
        });
    }
    Ok((accounts, requests))
}

/// Sends every request from `--concurrency` workers: (latencies of the successes, errors).
async fn send_all(
    args: &Args,
    client: &reqwest::Client,
    endpoint: &str,
    requests: Arc<Vec<Request>>,
) -> anyhow::Result<(Vec<Duration>, usize)> {
    let next = Arc::new(AtomicUsize::new(0));
    let workers: Vec<_> = (0..args.concurrency)
        .map(|_| {
            let (client, endpoint) = (client.clone(), endpoint.to_string());
            let (requests, next) = (requests.clone(), next.clone());
            tokio::spawn(async move {
                let mut latencies = Vec::new();
                let mut errors = 0usize;
                while let Some(request) = requests.get(next.fetch_add(1, Ordering::Relaxed)) {
                    let sent = Instant::now();
                    match subscribe(&client, &endpoint, request).await {
                        Ok(()) => latencies.push(sent.elapsed()),
                        Err(e) => {
                            if errors == 0 {
                                eprintln!("first error: {e:#}");
                            }
                            errors += 1;
                        }
                    }
                }
                (latencies, errors)
            })
        })
        .collect();
    let (mut latencies, mut errors) = (Vec::new(), 0);
    for worker in workers {
        let (l, e) = worker.await?;
        latencies.extend(l);
        errors += e;
    }
    Ok((latencies, errors))
}

/// POSTs one request and checks that the (inner) reply is a successful subscribe.
async fn subscribe(
    client: &reqwest::Client,
    endpoint: &str,
    request: &Request,
) -> anyhow::Result<()> {
    let body = match request {
        Request::Direct(body) => body.clone(),
        Request::Onion(onion) => onion.body().to_vec(),
    };
    let response = client.post(endpoint).body(body).send().await?;
    ensure!(response.status().is_success(), "HTTP {}", response.status());
    let bytes = response.bytes().await?;
    let reply = match request {
        Request::Direct(_) => bytes.to_vec(),
        Request::Onion(onion) => {
            let reply = onion.open_reply(&bytes)?;
            ensure!(reply.code == 200, "inner code {}", reply.code);
            reply.body
        }
    };
    let body: serde_json::Value = serde_json::from_slice(&reply)?;
    ensure!(body["success"] == true, "subscribe refused: {body}");
    Ok(())
}

fn report_rate(args: &Args, latencies: &[Duration], errors: usize, elapsed: Duration) {
    let mut sorted = latencies.to_vec();
    sorted.sort_unstable();
    let pct = |p: f64| {
        let i = ((sorted.len() as f64 * p).ceil() as usize).saturating_sub(1);
        sorted.get(i).map_or(0.0, |d| d.as_secs_f64() * 1e3)
    };
    let ok = latencies.len();
    let mode = match args.mode {
        Mode::Direct => "direct",
        Mode::Onion => "onion",
    };
    println!(
        "subscribe_load ({mode}): {ok} ok, {errors} errors, concurrency {}, {:.2} s: \
         {:.0} subscribes/s; latency p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
        args.concurrency,
        elapsed.as_secs_f64(),
        ok as f64 / elapsed.as_secs_f64(),
        pct(0.50),
        pct(0.99),
        pct(1.0),
    );
}

/// The relay's CPU between two readings, per accepted subscribe.
fn report_cpu(phase: &str, before: Cpu, after: Cpu, subscribes: usize) {
    let (user, system) = (after.user - before.user, after.system - before.system);
    println!(
        "relay CPU, {phase}: {:.2} s (user {user:.2}, system {system:.2}) = {:.1} µs per subscribe",
        user + system,
        (user + system) * 1e6 / subscribes.max(1) as f64,
    );
}
