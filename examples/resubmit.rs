//! The second half of "restart to fully resubscribed": from a loaded subscriber index to every
//! storage server of the swarm holding every account. Fills `delivery::Index` with `--count`
//! synthetic subscriptions (as `Index::load` leaves it after a restart; `resubscribe` times
//! that part), starts `--nodes` fake storage servers in one swarm behind a fake oxend, starts the
//! swarm side and times until each node has answered a `monitor.messages` item for every
//! account. The fakes check each item as a storage server does (the synthetic signatures fail
//! that check, which costs the fakes, not the relay, and is counted like success here).
//!
//! ```text
//! cargo run --release --example resubmit -- --count 1000000 --nodes 5
//! ```

use std::sync::Arc;
use std::time::{Duration, Instant};

use clap::Parser;
use devnet::fake_oxend::FakeOxend;
use devnet::fake_storage::FakeStorage;
use relay::clock;
use relay::config::SwarmConfig;
use relay::crypto::KeyPair;
use relay::delivery::Index;
use relay::store::{Changes, Upsert};
use relay::swarm::nodes::Node;
use relay::swarm::Swarm;
use tokio_util::sync::CancellationToken;

mod support;

#[derive(Parser)]
struct Args {
    /// Subscriptions in the index.
    #[arg(long, default_value_t = 1_000_000)]
    count: u64,
    /// Storage servers in the (single) swarm; every account goes to each of them.
    #[arg(long, default_value_t = 5)]
    nodes: usize,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    relay::crypto::init()?;
    let now = clock::unix_now();
    let index = Arc::new(Index::new());
    for i in 0..args.count {
        index.subscribed(&support::synthetic(i, now), Upsert::Added);
    }
    let nodes: Vec<FakeStorage> = (0..args.nodes)
        .map(|_| FakeStorage::start(KeyPair::generate()))
        .collect::<anyhow::Result<_>>()?;
    let list = nodes
        .iter()
        .map(|n| Node {
            pubkey_x25519: n.pubkey(),
            ip: "127.0.0.1".into(),
            port: n.port(),
            swarm_id: 1 << 63,
        })
        .collect();
    let oxend = FakeOxend::start("tcp://127.0.0.1:0", None, list)?;
    let config = SwarmConfig {
        oxend: oxend.endpoint().into(),
        ..SwarmConfig::default()
    };
    let (tx, _notifications) = tokio::sync::mpsc::channel(16);
    let swarm = Swarm::new(&config, KeyPair::generate(), index.clone(), tx)?;
    let shutdown = CancellationToken::new();
    let started = Instant::now();
    tokio::spawn(swarm.run(shutdown.clone()));
    let wanted = usize::try_from(args.count)?;
    for node in &nodes {
        let done = node
            .wait_for(Duration::from_secs(600), |records| {
                records.iter().map(|r| r.items.len()).sum::<usize>() >= wanted
            })
            .await;
        anyhow::ensure!(done, "a node did not receive every account within 600 s");
    }
    let elapsed = started.elapsed();
    println!(
        "resubmit: {} accounts to each of {} nodes ({} items) in {:.2} s ({:.0} items/s); \
         process VmRSS {:.0} MiB (fakes included)",
        args.count,
        args.nodes,
        args.count * args.nodes as u64,
        elapsed.as_secs_f64(),
        (args.count * args.nodes as u64) as f64 / elapsed.as_secs_f64(),
        support::vm_rss()? as f64 / 1048576.0,
    );
    shutdown.cancel();
    Ok(())
}
