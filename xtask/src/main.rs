//! `cargo xtask <task>`: the project's command line.
//!
//! Each task lives in its own module with a clap `Args` struct and a `run` method; heavy work
//! stays in the library crates.

mod bench;
mod cargo;
mod charts;
mod data;
mod fairness;
mod gpu_bundle;
mod report;
mod run;

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
    ///
    /// Every metric's definition, when it is undefined and the file formats:
    /// docs/fairness.md.
    Fairness(fairness::FairnessArgs),
    /// Benchmarks against the Python reference tools, measured in the same run.
    Bench(bench::BenchArgs),
    /// Dataset checks.
    Data(data::DataArgs),
    /// Train an experiment: `cargo xtask train synthface`, `cargo xtask train fairface --data
    /// PATH --device cuda:0` (see `cargo xtask train -- --help`).
    Train(run::PassThrough),
    /// Evaluate a run on its test split or another dataset: `--run DIR [--dataset KIND --data
    /// PATH] [--detect]` (`--detect`: the images are raw photos, faces found and aligned).
    Eval(run::PassThrough),
    /// Predict images with a trained run: `--run DIR IMAGE|DIR...`; raw photos with
    /// `--detect [--out DIR]` (every face found, aligned and classified: `faces.csv` and
    /// annotated pictures).
    Predict(run::PassThrough),
    /// Raw photos of a dataset made into aligned face chips in the same layout, as FairFace
    /// was prepared: `--root RAW --out CHIPS [--padding 0.25 --size 224]`.
    Align(run::PassThrough),
    /// Seed study of FineFACE against the baseline: `cargo xtask study utkface-cpu --seeds 3
    /// --data PATH [--eval celeba=celeba:PATH]` (see `cargo xtask study -- --help`).
    Study(run::PassThrough),
    /// Markdown report of a run with training curves, subgroup chart and attention crops.
    Report(report::ReportArgs),
    /// Side-by-side table and accuracy-vs-DoB scatter of several runs.
    Compare(report::CompareArgs),
    /// Build the one-shot CUDA check for a GPU machine without Rust: `fineface` and
    /// `bench_fineface` with `--features cuda`, the PyTorch reference and `run.sh`, in one
    /// folder under 48 MiB (`target/gpu-bundle`).
    GpuBundle(gpu_bundle::GpuBundleArgs),
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
        Task::Train(args) => args.run("train"),
        Task::Eval(args) => args.run("eval"),
        Task::Predict(args) => args.run("predict"),
        Task::Align(args) => args.run("align"),
        Task::Study(args) => args.run("study"),
        Task::Report(args) => args.run(),
        Task::Compare(args) => args.run(),
        Task::GpuBundle(args) => args.run(),
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
            tracing::error!("{}", fineface_data::error_chain(error.as_ref()));
            std::process::ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::Cli;

    #[test]
    fn bench_repeat_must_be_at_least_one() {
        let error = Cli::try_parse_from(["xtask", "bench", "fairness", "--repeat", "0"])
            .unwrap_err()
            .to_string();
        assert!(error.contains("--repeat"), "{error}");
        assert!(error.contains("0 is not in 1.."), "{error}");
        assert!(Cli::try_parse_from(["xtask", "bench", "fairness", "--repeat", "1"]).is_ok());
        assert!(Cli::try_parse_from(["xtask", "bench", "--repeat", "2", "iteration"]).is_ok());
    }
}
