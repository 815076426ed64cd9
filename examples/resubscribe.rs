//! Time from restart to fully resubscribed: fills a store with `--count` synthetic
//! subscriptions through the `Store` API (skipped when it already holds them, so a second run
//! reuses the first run's database), then opens the store again as a restarting relay does
//! and times `Index::load`, reporting the VmRSS it added.
//!
//! ```text
//! cargo run --release --example resubscribe -- --count 1000000
//! cargo run --release --example resubscribe -- --database postgres://postgres@127.0.0.1/bench
//! ```

use std::path::PathBuf;
use std::time::Instant;

use anyhow::Context;
use clap::Parser;
use futures::{StreamExt, TryStreamExt};
use relay::clock;
use relay::crypto::RelayKeys;
use relay::delivery::Index;
use relay::store::{self, Store};

mod support;

#[derive(Parser)]
struct Args {
    /// Store URL (`sqlite://…` or `postgres://…`).
    #[arg(long, default_value = "sqlite://target/bench/resubscribe.db")]
    database: String,
    /// Key directory; `storage.key` must stay the same between runs on one database.
    #[arg(long, default_value = "target/bench/keys")]
    keys: PathBuf,
    /// Subscriptions the store must hold.
    #[arg(long, default_value_t = 1_000_000)]
    count: u64,
    /// Upserts in flight while filling.
    #[arg(long, default_value_t = 16)]
    concurrency: usize,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    relay::crypto::init()?;
    let keys = RelayKeys::load_or_create(&args.keys)?;
    let now = clock::unix_now();
    let pool_size = u32::try_from(args.concurrency).unwrap_or(u32::MAX);

    let filling = store::open(&args.database, pool_size, &keys.storage).await?;
    fill(filling.as_ref(), &args, now).await?;
    drop(filling);

    // The restart: a new connection pool, then everything the relay needs before it serves.
    let before = support::vm_rss()?;
    let started = Instant::now();
    let restarted = store::open(&args.database, pool_size, &keys.storage).await?;
    let index = Index::load(restarted.as_ref(), now).await?;
    let elapsed = started.elapsed();
    let growth = support::vm_rss()?.saturating_sub(before);
    let held = index.len() as u64;
    anyhow::ensure!(held >= args.count, "index holds {held} of {}", args.count);
    println!(
        "resubscribe: open + Index::load of {held} subscriptions in {:.2} s ({:.0}/s); \
         VmRSS +{:.1} MiB ({} bytes per subscription)",
        elapsed.as_secs_f64(),
        held as f64 / elapsed.as_secs_f64(),
        growth as f64 / 1048576.0,
        growth / held.max(1),
    );
    Ok(())
}

/// Upserts synthetic subscriptions until the store holds `--count` live ones.
async fn fill(store: &dyn Store, args: &Args, now: i64) -> anyhow::Result<()> {
    let live: u64 = store
        .count_by_service(now)
        .await?
        .iter()
        .map(|(_, n)| n)
        .sum();
    if live >= args.count {
        println!("resubscribe: store already holds {live} live subscriptions");
        return Ok(());
    }
    // Upserts are idempotent, so an interrupted fill is simply done again from the start.
    let started = Instant::now();
    futures::stream::iter(0..args.count)
        .map(|i| async move { store.upsert(&support::synthetic(i, now), now).await })
        .buffer_unordered(args.concurrency)
        .try_for_each(|_| async { Ok(()) })
        .await
        .context("filling the store")?;
    println!(
        "resubscribe: upserted {} subscriptions in {:.1} s ({:.0} upserts/s, concurrency {})",
        args.count,
        started.elapsed().as_secs_f64(),
        args.count as f64 / started.elapsed().as_secs_f64(),
        args.concurrency,
    );
    Ok(())
}
