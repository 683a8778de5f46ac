//! `cairn`: parse the command line, resolve a validated [`config::Config`]
//! (flags, the environment over `.env`, `cairn.toml`), run the command, and
//! map the result to an exit code (see [`exit`]).
#![forbid(unsafe_code)]

mod args;
mod backfill;
mod commands;
mod config;
mod dotenv;
mod exit;
mod generate;
mod new;
mod output;
mod progress;
mod verify_engines;

use std::io::IsTerminal as _;
use std::process::ExitCode;

use clap::Parser as _;

fn main() -> ExitCode {
    let cli = args::Cli::parse();
    init_logging(cli.global.verbose);
    if let Some(result) = generate::run(&cli.command) {
        return exit::finish(result);
    }
    let result = dotenv::DotEnv::load(cli.global.no_dotenv)
        .and_then(|dotenv| {
            let env = dotenv::Layered {
                process: config::ProcessEnv,
                dotenv,
            };
            config::Config::resolve(&cli, &env, std::io::stdout().is_terminal())
        })
        .and_then(|config| commands::run(&cli.command, &config));
    exit::finish(result)
}

/// Logs to stderr: warnings by default, more with each `-v`; `RUST_LOG` wins.
fn init_logging(verbose: u8) {
    let level = match verbose {
        0 => "warn",
        1 => "info",
        2 => "debug",
        _ => "trace",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(level));
    let colour = std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none();
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(colour)
        .with_target(false)
        .init();
}
