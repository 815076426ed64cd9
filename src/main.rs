//! The `session-push-relay` binary: parses the command line and hands over to the library.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use relay::config::Config;
use relay::{app, crypto, logging};

#[cfg(feature = "devnet")]
mod devnet_command;
mod import_command;

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
    /// Run a whole simulated network in this process (fake oxend and storage nodes, mock APNs
    /// and FCM, simulated clients) against the real relay, and check every push.
    #[cfg(feature = "devnet")]
    Devnet(devnet_command::DevnetArgs),
    /// Create missing key files and print the onion public key.
    Keygen {
        /// Key directory (default: [keys] dir of the defaults, `data/keys`).
        #[arg(long)]
        dir: Option<PathBuf>,
    },
    /// Copy the upstream push server's subscriptions (its Postgres database) into this relay's
    /// store, verifying each as /subscribe would.
    ImportSpns(import_command::ImportArgs),
    /// Validate a configuration file (and the SPR_* environment) and exit.
    CheckConfig {
        /// TOML configuration file.
        #[arg(long, required_unless_present = "list_keys")]
        config: Option<PathBuf>,
        /// Print every configuration key the relay accepts, one per line, and exit.
        #[arg(long)]
        list_keys: bool,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command.unwrap_or(Command::Serve { config: None }) {
        Command::Serve { config } => serve(config),
        #[cfg(feature = "devnet")]
        Command::Devnet(args) => devnet_command::run(args),
        Command::Keygen { dir } => keygen(dir),
        Command::ImportSpns(args) => import_command::run(args),
        Command::CheckConfig {
            list_keys: true, ..
        } => {
            for key in Config::keys() {
                println!("{key}");
            }
            ExitCode::SUCCESS
        }
        Command::CheckConfig { config, .. } => match Config::load(config.as_deref()) {
            Ok(_) => {
                println!("configuration ok");
                ExitCode::SUCCESS
            }
            Err(e) => config_failure(&e),
        },
    }
}

fn config_failure(e: &relay::config::ConfigError) -> ExitCode {
    eprintln!("{e}");
    ExitCode::from(2)
}

fn runtime() -> Option<tokio::runtime::Runtime> {
    match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => Some(rt),
        Err(e) => {
            eprintln!("cannot start the tokio runtime: {e}");
            None
        }
    }
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
    let Some(runtime) = runtime() else {
        return ExitCode::FAILURE;
    };
    match runtime.block_on(app::run(config)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            // A key file refused (shared mode, all zeros, unreadable) is a configuration
            // problem: exit 2 like any other, the message names the file.
            let key_file = e.chain().any(|c| {
                matches!(
                    c.downcast_ref::<crypto::CryptoError>(),
                    Some(crypto::CryptoError::KeyFile { .. })
                )
            });
            if key_file {
                ExitCode::from(2)
            } else {
                ExitCode::FAILURE
            }
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
            // `writeln!`, not `println!`: a closed pipe (`keygen | head -0`) is not an error
            // here, the keys are on disk either way.
            use std::io::Write;
            let mut out = std::io::stdout().lock();
            let _ = writeln!(out, "{}", hex::encode(keys.onion.public()))
                .and_then(|()| {
                    writeln!(
                        out,
                        "onion public key (publish this to clients); keys in {}",
                        dir.display()
                    )
                })
                .and_then(|()| {
                    writeln!(
                        out,
                        "swarm public key: {}",
                        hex::encode(keys.swarm.public())
                    )
                })
                .and_then(|()| out.flush());
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
