//! Memory per subscription in the subscriber index: fills `delivery::Index` with `--count`
//! synthetic subscriptions through `Changes::subscribed`, exactly as the API does after each
//! committed subscribe, and reports VmRSS growth per subscription.
//!
//! ```text
//! cargo run --release --example index_memory -- --count 1000000
//! ```

use std::time::Instant;

use clap::Parser;
use relay::clock;
use relay::delivery::Index;
use relay::store::{Changes, Upsert};

mod support;

#[derive(Parser)]
struct Args {
    /// Subscriptions to hold.
    #[arg(long, default_value_t = 1_000_000)]
    count: u64,
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    relay::crypto::init()?;
    let sig_ts = clock::unix_now();
    let index = Index::new();
    let before = support::vm_rss()?;
    let started = Instant::now();
    for i in 0..args.count {
        // Each subscription is built, handed over and dropped, as the API does.
        index.subscribed(&support::synthetic(i, sig_ts), Upsert::Added);
    }
    let elapsed = started.elapsed();
    let after = support::vm_rss()?;
    anyhow::ensure!(
        index.len() as u64 == args.count,
        "index holds {}",
        index.len()
    );
    let growth = after.saturating_sub(before);
    println!(
        "index_memory: {} subscriptions in {:.2} s; VmRSS {:.1} MiB -> {:.1} MiB: \
         {} bytes per subscription",
        args.count,
        elapsed.as_secs_f64(),
        before as f64 / 1048576.0,
        after as f64 / 1048576.0,
        growth / args.count.max(1),
    );
    Ok(())
}
