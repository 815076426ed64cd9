//! The `session-push-relay` binary: parses the command line and hands over to the library.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use session_push_relay::config::Config;
use session_push_relay::{app, crypto, logging};

#[derive(Parser)]
#[command(
    name = "session-push-relay",
    version,
    about = "Push-notification relay for Session"
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Run the relay (the default).
    Serve {
        /// TOML configuration file.
        #[arg(long)]
        config: Option<PathBuf>,
    },
    /// Create missing key files and print the onion public key.
    Keygen {
        /// Key directory (default: [keys] dir of the defaults, `data/keys`).
        #[arg(long)]
        dir: Option<PathBuf>,
    },
    /// Validate a configuration file and exit.
    CheckConfig {
        /// TOML configuration file.
        #[arg(long)]
        config: PathBuf,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command.unwrap_or(Command::Serve { config: None }) {
        Command::Serve { config } => serve(config),
        Command::Keygen { dir } => keygen(dir),
        Command::CheckConfig { config } => match Config::load(Some(&config)) {
            Ok(_) => {
                println!("configuration ok");
                ExitCode::SUCCESS
            }
            Err(e) => config_failure(&e),
        },
    }
}

fn config_failure(e: &session_push_relay::config::ConfigError) -> ExitCode {
    eprintln!("{e}");
    ExitCode::from(2)
}

fn serve(path: Option<PathBuf>) -> ExitCode {
    let config = match Config::load(path.as_deref()) {
        Ok(c) => c,
        Err(e) => return config_failure(&e),
    };
    if let Err(e) = logging::init(&config.log) {
        eprintln!("{e}");
        return ExitCode::from(2);
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("cannot start the tokio runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(app::run(config)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn keygen(dir: Option<PathBuf>) -> ExitCode {
    let dir = dir.unwrap_or_else(|| Config::default().keys.dir);
    if let Err(e) = crypto::init() {
        eprintln!("error: {e}");
        return ExitCode::FAILURE;
    }
    match crypto::RelayKeys::load_or_create(&dir) {
        Ok(keys) => {
            println!("{}", hex::encode(keys.onion.public()));
            println!(
                "onion public key (publish this to clients); keys in {}",
                dir.display()
            );
            println!("swarm public key: {}", hex::encode(keys.swarm.public()));
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
