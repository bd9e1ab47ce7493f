//! `credrefresh`: the host agent and its `credential_process` helper.
//!
//! ```text
//! credrefresh serve --config /etc/credrefresh/agent.toml
//! credrefresh credential-process --role app --token-file /run/credrefresh/token
//! ```
#![forbid(unsafe_code)]

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use credrefresh::agent::client::{DEFAULT_AGENT_URL, DEFAULT_CLIENT_TIMEOUT, credential_process};
use credrefresh::agent::{Agent, Config};

/// Keeps AWS credentials fresh for every process of a host.
#[derive(Parser)]
#[command(name = "credrefresh", version)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Runs the agent: refreshes the configured roles and serves them.
    Serve {
        /// The TOML configuration file.
        #[arg(long, short)]
        config: PathBuf,
        /// Log level: error, warn, info, debug or trace.
        #[arg(long, default_value = "info")]
        log_level: String,
    },
    /// Checks a configuration file and exits (0 when valid).
    Check {
        /// The TOML configuration file.
        #[arg(long, short)]
        config: PathBuf,
    },
    /// Prints a role's credentials as `credential_process` JSON, asked of a
    /// running agent.
    CredentialProcess {
        /// The role.
        #[arg(long)]
        role: String,
        /// The agent's container endpoint (scheme, host and port).
        #[arg(long, env = "CREDREFRESH_AGENT_URL", default_value = DEFAULT_AGENT_URL)]
        agent_url: String,
        /// A file holding the token (else CREDREFRESH_AGENT_TOKEN).
        #[arg(long)]
        token_file: Option<PathBuf>,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Check { config } => match Config::load(&config) {
            Ok(_) => ExitCode::SUCCESS,
            Err(e) => fail(&e),
        },
        Command::Serve { config, log_level } => serve(&config, &log_level),
        Command::CredentialProcess {
            role,
            agent_url,
            token_file,
        } => print_credentials(&role, &agent_url, token_file),
    }
}

fn fail(e: &dyn std::fmt::Display) -> ExitCode {
    eprintln!("credrefresh: {e}");
    ExitCode::FAILURE
}

fn runtime() -> std::io::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread().enable_all().build()
}

fn serve(path: &std::path::Path, log_level: &str) -> ExitCode {
    let level = match log_level.parse::<tracing::Level>() {
        Ok(level) => level,
        Err(_) => return fail(&format!("unknown log level `{log_level}`")),
    };
    tracing_subscriber::fmt()
        .with_max_level(level)
        .with_writer(std::io::stderr)
        .init();
    // Everything is checked before anything is bound.
    let config = match Config::load(path) {
        Ok(config) => config,
        Err(e) => return fail(&e),
    };
    let rt = match runtime() {
        Ok(rt) => rt,
        Err(e) => return fail(&e),
    };
    rt.block_on(async move {
        let agent = match Agent::start(config).await {
            Ok(agent) => agent,
            Err(e) => return fail(&e),
        };
        tracing::info!(roles = ?agent.refresher().role_names(), "credrefresh agent running");
        wait_for_signal().await;
        tracing::info!("credrefresh agent stopping");
        agent.shutdown().await;
        ExitCode::SUCCESS
    })
}

#[cfg(unix)]
async fn wait_for_signal() {
    use tokio::signal::unix::{SignalKind, signal};
    match signal(SignalKind::terminate()) {
        Ok(mut term) => {
            tokio::select! {
                _ = term.recv() => {}
                _ = tokio::signal::ctrl_c() => {}
            }
        }
        Err(_) => {
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}

#[cfg(not(unix))]
async fn wait_for_signal() {
    let _ = tokio::signal::ctrl_c().await;
}

fn print_credentials(role: &str, agent_url: &str, token_file: Option<PathBuf>) -> ExitCode {
    let token = match token_file {
        Some(path) => match std::fs::read_to_string(&path) {
            Ok(t) => zeroize::Zeroizing::new(t),
            Err(e) => return fail(&format!("cannot read the token file {}: {}", path.display(), e.kind())),
        },
        None => match std::env::var("CREDREFRESH_AGENT_TOKEN") {
            Ok(t) => zeroize::Zeroizing::new(t),
            Err(_) => return fail(&"no token: give --token-file or set CREDREFRESH_AGENT_TOKEN"),
        },
    };
    let rt = match runtime() {
        Ok(rt) => rt,
        Err(e) => return fail(&e),
    };
    match rt.block_on(credential_process(agent_url, role, &token, DEFAULT_CLIENT_TIMEOUT)) {
        Ok(json) => {
            println!("{}", json.as_str());
            ExitCode::SUCCESS
        }
        Err(e) => fail(&e),
    }
}
