//! The `import-spns` sub-command: the flags, and the hand-over to [`relay::import`].

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;
use relay::clock::Clock;
use relay::config::Config;
use relay::import::{self, ImportOptions, Progress};
use relay::logging;

use super::{config_failure, runtime};

/// `session-push-relay import-spns` flags (DESIGN "Command line").
#[derive(Args)]
pub struct ImportArgs {
    /// The upstream server's Postgres database, `postgres://user:pass@host/db` (read only).
    #[arg(long)]
    from: String,
    /// The relay's configuration: its `[database]`, `[keys] dir` and `[[services]]`.
    #[arg(long)]
    config: Option<PathBuf>,
    /// Read and verify everything, count what would be written, write nothing.
    #[arg(long)]
    dry_run: bool,
}

/// Runs the import; prints `added=N updated=N unchanged=N expired=N invalid=N` on stdout.
pub fn run(args: ImportArgs) -> ExitCode {
    let config = match Config::load(args.config.as_deref()) {
        Ok(c) => c,
        Err(e) => return config_failure(&e),
    };
    // Standard error carries the progress line and the one error line: at the default level
    // only warnings join them (`[log] level = "debug"` names each refused row's reason).
    let mut log = config.log.clone();
    if log.level == "info" {
        log.level = "warn".into();
    }
    if let Err(e) = logging::init(&log) {
        eprintln!("{e}");
        return ExitCode::from(2);
    }
    let Some(runtime) = runtime() else {
        return ExitCode::FAILURE;
    };
    let options = ImportOptions {
        from: args.from,
        dry_run: args.dry_run,
    };
    let mut progress = Progress::on_terminal();
    match runtime.block_on(import::run(
        &options,
        &config,
        Clock::system(),
        &mut progress,
    )) {
        Ok(summary) => {
            println!("{summary}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("import-spns: {}", one_line(&e));
            ExitCode::from(e.exit_code())
        }
    }
}

/// The error and its causes on one line, each said once (never the URL, which may hold a
/// password: no message in the chain repeats it).
fn one_line(e: &dyn std::error::Error) -> String {
    let mut line = e.to_string();
    let mut cause = e.source();
    while let Some(c) = cause {
        let text = c.to_string();
        if !line.contains(&text) {
            line.push_str(": ");
            line.push_str(&text);
        }
        cause = c.source();
    }
    line.replace('\n', " ")
}
