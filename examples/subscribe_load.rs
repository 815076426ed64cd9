//! Onion subscribe load generator: signed `/subscribe` requests (05 accounts and 03 group
//! subaccounts) wrapped in v4 onion requests, POSTed to `/oxen/v4/lsrpc` by `--concurrency`
//! workers; prints subscribes per second and request latency.
//!
//! By default it starts the relay in this process through `app::serve` (database from
//! `--database`, one `log` service named `dummy`); with `--url` and `--relay-pubkey` it loads
//! a relay that is already running (which must have a service named by `--service`).
//!
//! ```text
//! cargo run --release --example subscribe_load -- --count 20000 --concurrency 64
//! cargo run --release --example subscribe_load -- --database postgres://postgres@127.0.0.1/bench
//! ```
//!
//! Requests are signed and encrypted before the clock starts, so the rate is the relay's
//! (plus the HTTP client's share of the CPU), not the simulated clients'.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, ensure, Context};
use clap::{Parser, ValueEnum};
use devnet::clients::SimAccount;
use devnet::onion_client::{ClientEncType, OnionClient, OnionRequest};
use relay::clock;
use relay::{app, config::Config, crypto, crypto::RelayKeys};
use tokio_util::sync::CancellationToken;

#[derive(Parser)]
struct Args {
    /// Database of the in-process relay: `sqlite` (a fresh file) or a `postgres://` URL.
    #[arg(long, default_value = "sqlite")]
    database: String,
    /// Load a running relay at this base URL instead (needs `--relay-pubkey`).
    #[arg(long, requires = "relay_pubkey")]
    url: Option<String>,
    /// The running relay's onion public key, 64 hex characters (`keygen` prints it).
    #[arg(long)]
    relay_pubkey: Option<String>,
    /// Key directory of the in-process relay; kept between runs because a database's sealed
    /// tokens open only with the `storage.key` that sealed them.
    #[arg(long, default_value = "target/bench/keys")]
    keys: PathBuf,
    /// Service name sent in each subscription.
    #[arg(long, default_value = "dummy")]
    service: String,
    /// Subscribe requests to send.
    #[arg(long, default_value_t = 20_000)]
    count: usize,
    /// Requests in flight at once.
    #[arg(long, default_value_t = 64)]
    concurrency: usize,
    /// Onion layer cipher.
    #[arg(long, value_enum, default_value_t = Enc::Mixed)]
    enc: Enc,
}

#[derive(Clone, Copy, ValueEnum)]
enum Enc {
    Xchacha20,
    AesGcm,
    /// Alternate the two.
    Mixed,
}

/// The relay under load: its URL, its onion key, and how to stop it if this process runs it.
struct Target {
    url: String,
    pubkey: [u8; 32],
    stop: Option<(
        CancellationToken,
        tokio::task::JoinHandle<anyhow::Result<()>>,
    )>,
    _dir: Option<tempfile::TempDir>,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    crypto::init()?;
    let _ = rustls::crypto::ring::default_provider().install_default();
    let mut target = match &args.url {
        Some(url) => running_relay(url, args.relay_pubkey.as_deref().unwrap_or_default())?,
        None => start_relay(&args.database, &args.keys).await?,
    };
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(args.concurrency)
        .build()?;
    wait_until_up(&client, &mut target).await?;

    let built = Instant::now();
    let requests = Arc::new(build_requests(&args, target.pubkey)?);
    eprintln!(
        "built {} signed onion requests in {:.1?}",
        requests.len(),
        built.elapsed()
    );

    let endpoint = format!("{}/oxen/v4/lsrpc", target.url);
    let next = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let workers: Vec<_> = (0..args.concurrency)
        .map(|_| {
            let (client, endpoint) = (client.clone(), endpoint.clone());
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
    let elapsed = started.elapsed();
    report(&args, &latencies, errors, elapsed);

    if let Some((token, task)) = target.stop {
        token.cancel();
        task.await??;
    }
    ensure!(errors == 0, "{errors} subscribe requests failed");
    Ok(())
}

fn running_relay(url: &str, pubkey: &str) -> anyhow::Result<Target> {
    let pubkey = hex::decode(pubkey)
        .ok()
        .and_then(|k| <[u8; 32]>::try_from(k).ok())
        .context("--relay-pubkey must be 64 hex characters")?;
    Ok(Target {
        url: url.trim_end_matches('/').into(),
        pubkey,
        stop: None,
        _dir: None,
    })
}

/// Starts the relay in this process on 127.0.0.1 (SQLite: a fresh file in a temporary directory).
async fn start_relay(database: &str, keys: &Path) -> anyhow::Result<Target> {
    let dir = tempfile::tempdir()?;
    let url = match database {
        "sqlite" => format!("sqlite://{}/relay.db", dir.path().display()),
        url => url.to_string(),
    };
    let toml = format!(
        "[database]\nurl = {url:?}\n[keys]\ndir = {keys:?}\n\
         [[services]]\nname = \"dummy\"\nkind = \"log\"\n",
        keys = keys.display().to_string(),
    );
    let config = Config::load_from(Some(&toml), Default::default())?;
    let keys = RelayKeys::load_or_create(&config.keys.dir)?;
    let pubkey = *keys.onion.public();
    let api = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let admin = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let url = format!("http://{}", api.local_addr()?);
    let token = CancellationToken::new();
    let task = tokio::spawn(app::serve(config, keys, api, admin, token.clone()));
    Ok(Target {
        url,
        pubkey,
        stop: Some((token, task)),
        _dir: Some(dir),
    })
}

/// Polls `GET /` (an outside client has no readiness signal to await); fails early with the
/// relay's own error if it stops during start-up.
async fn wait_until_up(client: &reqwest::Client, target: &mut Target) -> anyhow::Result<()> {
    let url = target.url.clone();
    for _ in 0..300 {
        let answer = client.get(&url).send().await;
        if answer.is_ok_and(|r| r.status().is_success()) {
            return Ok(());
        }
        if let Some((_, task)) = target.stop.as_mut().filter(|(_, t)| t.is_finished()) {
            task.await??;
            bail!("the relay stopped during start-up");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    bail!("relay at {url} did not answer within 30 s")
}

/// One signed subscription per request; every fourth account is a 03 group subaccount.
fn build_requests(args: &Args, relay_pubkey: [u8; 32]) -> anyhow::Result<Vec<OnionRequest>> {
    let onion = OnionClient::new(relay_pubkey);
    let run: [u8; 16] = crypto::random_array();
    let sig_ts = clock::unix_now();
    (0..args.count)
        .map(|i| {
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
            let enc = match args.enc {
                Enc::Xchacha20 => ClientEncType::XChaCha20,
                Enc::AesGcm => ClientEncType::AesGcm,
                Enc::Mixed if i.is_multiple_of(2) => ClientEncType::XChaCha20,
                Enc::Mixed => ClientEncType::AesGcm,
            };
            onion.request(enc, "POST", "/subscribe", Some(&serde_json::to_vec(&body)?))
        })
        .collect()
}

/// POSTs one onion request and checks that the inner reply is a successful subscribe.
async fn subscribe(
    client: &reqwest::Client,
    endpoint: &str,
    request: &OnionRequest,
) -> anyhow::Result<()> {
    let response = client
        .post(endpoint)
        .body(request.body().to_vec())
        .send()
        .await?;
    ensure!(response.status().is_success(), "HTTP {}", response.status());
    let reply = request.open_reply(&response.bytes().await?)?;
    ensure!(reply.code == 200, "inner code {}", reply.code);
    let body: serde_json::Value = serde_json::from_slice(&reply.body)?;
    ensure!(body["success"] == true, "subscribe refused: {body}");
    Ok(())
}

fn report(args: &Args, latencies: &[Duration], errors: usize, elapsed: Duration) {
    let mut sorted = latencies.to_vec();
    sorted.sort_unstable();
    let pct = |p: f64| {
        let i = ((sorted.len() as f64 * p).ceil() as usize).saturating_sub(1);
        sorted.get(i).map_or(0.0, |d| d.as_secs_f64() * 1e3)
    };
    let ok = latencies.len();
    println!(
        "subscribe_load: {ok} ok, {errors} errors, concurrency {}, {:.2} s: {:.0} subscribes/s; \
         latency p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
        args.concurrency,
        elapsed.as_secs_f64(),
        ok as f64 / elapsed.as_secs_f64(),
        pct(0.50),
        pct(0.99),
        pct(1.0),
    );
}
