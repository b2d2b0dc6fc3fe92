//! `fineface`: train, evaluate and predict. Usually started through `cargo xtask train`,
//! `cargo xtask eval` and `cargo xtask predict`, which build it with the right features.
//!
//! One module per subcommand; the library crates do the work.

use clap::{Parser, Subcommand};

mod devices;
mod eval;
mod experiment;
mod flags;
mod logging;
mod nodes;
mod photos;
mod study;
mod train;

use logging::{EXIT_TARGET, init_logging};

#[derive(Parser)]
#[command(
    name = "fineface",
    about = "FineFACE: fair face-attribute classification",
    version
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Train an experiment (`configs/<name>.toml` or a path to a TOML file).
    Train(train::TrainArgs),
    /// Evaluate a trained run on its test split or on another dataset.
    Eval(eval::EvalArgs),
    /// Predict the attribute of aligned face images, or of every face of raw photos
    /// (`--detect`: `faces.csv` and annotated pictures).
    Predict(photos::PredictArgs),
    /// Raw photos of a dataset made into aligned face chips in the same layout, as FairFace
    /// was prepared: `--root RAW --out CHIPS [--padding 0.25 --size 224]`.
    Align(photos::AlignArgs),
    /// A seed study: every method trained on each seed (paired), evaluated on the test
    /// split and across datasets; `study.json`, `study.md`, `study.svg`.
    Study(study::StudyArgs),
    /// List the devices this build can run on (CPU, CUDA, wgpu adapters); `--probe DEVICE`
    /// also runs a small convolution with its gradients there and compares it with the CPU.
    Devices(devices::DevicesArgs),
}

fn main() -> std::process::ExitCode {
    match run(Cli::parse()) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(error) => {
            report_error(&error);
            std::process::ExitCode::FAILURE
        }
    }
}

/// The command's last word on a failure. Each cause once, on one line, no backtrace even
/// under RUST_BACKTRACE=1: a bad flag or file is the user's to fix and the message says
/// how; a bug panics, and a panic keeps its backtrace.
pub(crate) fn report_error(error: &anyhow::Error) {
    let text = fineface_data::error_chain(error.as_ref());
    // Always on stderr, whatever RUST_LOG filters; into the run's log too, through a target
    // the stderr layer leaves out.
    #[allow(clippy::print_stderr)] // The command's last word is for its user.
    {
        eprintln!("error: {text}");
    }
    tracing::error!(target: EXIT_TARGET, "{text}");
}

fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Train(args) => train::train(args),
        Command::Eval(args) => {
            init_logging(None)?;
            eval::eval(args)
        }
        Command::Predict(args) => {
            init_logging(None)?;
            photos::predict(args)
        }
        Command::Align(args) => {
            init_logging(None)?;
            photos::align(args)
        }
        Command::Study(args) => study::study(args),
        Command::Devices(args) => {
            init_logging(None)?;
            devices::devices(&args)
        }
    }
}
