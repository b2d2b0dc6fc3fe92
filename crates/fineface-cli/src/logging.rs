//! Logging: plain lines to stderr (colour only on a terminal) and, for runs and studies,
//! to a log file in their folder.

use std::io::IsTerminal;
use std::path::Path;

use anyhow::Context;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Layer};

/// The target of the error a command ends with: written to the log file, not again to
/// stderr (`main` prints it there).
pub(crate) const EXIT_TARGET: &str = "fineface::exit";

/// Logs to stderr (`RUST_LOG`, default info) and, for runs, to `train.log` in the run folder.
pub(crate) fn init_logging(file: Option<&Path>) -> anyhow::Result<()> {
    // Colour codes only on a terminal: a log redirected to a file or a pipe stays plain.
    let stderr = tracing_subscriber::fmt::layer()
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .with_filter(EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")))
        .with_filter(tracing_subscriber::filter::filter_fn(|meta| {
            meta.target() != EXIT_TARGET
        }));
    let file_layer = match file {
        Some(path) => {
            let log = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(path)
                .with_context(|| format!("cannot open the log {}", path.display()))?;
            Some(
                tracing_subscriber::fmt::layer()
                    .with_ansi(false)
                    .with_writer(std::sync::Mutex::new(log))
                    .with_filter(EnvFilter::new("info,fineface_train=debug")),
            )
        }
        None => None,
    };
    tracing_subscriber::registry()
        .with(stderr)
        .with(file_layer)
        .try_init()
        .context("cannot install the logger")
}
