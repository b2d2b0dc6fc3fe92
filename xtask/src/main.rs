//! `cargo xtask <task>`: the project's command line.
//!
//! Each task lives in its own module with a clap `Args` struct and a `run` method; heavy work
//! stays in the library crates.

mod bench;
mod data;
mod fairness;

use std::io::IsTerminal;

use clap::{Parser, Subcommand};

/// FineFACE-rs tasks.
#[derive(Debug, Parser)]
#[command(name = "cargo xtask", version, about)]
struct Cli {
    #[command(subcommand)]
    task: Task,
}

#[derive(Debug, Subcommand)]
enum Task {
    /// Audit a predictions CSV per demographic subgroup (accuracy, DoB, SER, parity metrics).
    Fairness(fairness::FairnessArgs),
    /// Benchmarks against the Python reference tools, measured in the same run.
    Bench(bench::BenchArgs),
    /// Dataset checks.
    Data(data::DataArgs),
}

fn main() -> std::process::ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .with_target(false)
        .init();
    let cli = Cli::parse();
    let result = match cli.task {
        Task::Fairness(args) => args.run(),
        Task::Bench(args) => args.run(),
        Task::Data(args) => args.run(),
    };
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(error) => {
            // A closed stdout (`| head`) is not a failure of the task.
            if error
                .downcast_ref::<std::io::Error>()
                .is_some_and(|e| e.kind() == std::io::ErrorKind::BrokenPipe)
            {
                return std::process::ExitCode::SUCCESS;
            }
            tracing::error!("{error:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
