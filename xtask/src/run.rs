//! `cargo xtask train|eval|predict`: build the `fineface` binary (with CUDA when a CUDA
//! device is asked for) and run it with the arguments as given.

use std::path::PathBuf;
use std::process::Command;

use anyhow::{Context, bail};
use clap::Args;

use crate::bench::workspace_root;

/// Arguments passed through to `fineface <command>`.
#[derive(Debug, Args)]
pub struct PassThrough {
    /// Arguments of `fineface <command>` (see `cargo xtask <command> -- --help`).
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    args: Vec<String>,
}

impl PassThrough {
    /// Builds `fineface` and runs `fineface <command> <args...>`.
    pub fn run(&self, command: &str) -> anyhow::Result<()> {
        let cuda = self.args.iter().any(|a| a.contains("cuda"));
        let binary = build_fineface(cuda)?;
        let mut args = vec![command.to_owned()];
        args.extend(self.args.iter().cloned());
        if command == "train" && !self.args.iter().any(|a| a == "--configs") {
            args.push("--configs".to_owned());
            args.push(workspace_root().join("configs").display().to_string());
        }
        let status = Command::new(&binary)
            .args(&args)
            .status()
            .with_context(|| format!("cannot start {}", binary.display()))?;
        if !status.success() {
            bail!("fineface {command} failed ({status})");
        }
        Ok(())
    }
}

/// Builds the `fineface` binary in release mode and returns its path.
fn build_fineface(cuda: bool) -> anyhow::Result<PathBuf> {
    let root = workspace_root();
    let mut build = Command::new(env!("CARGO"));
    build.args([
        "build",
        "--release",
        "-p",
        "fineface-train",
        "--bin",
        "fineface",
    ]);
    if cuda {
        build.args(["--features", "cuda"]);
    }
    let status = build
        .current_dir(&root)
        .status()
        .context("cannot run cargo to build fineface")?;
    if !status.success() {
        bail!("building fineface failed");
    }
    Ok(root.join("target/release/fineface"))
}
