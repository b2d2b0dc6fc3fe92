//! `cargo xtask train|eval|predict`: build the `fineface` binary (with CUDA when a CUDA
//! device is asked for) and run it with the arguments as given.

use std::process::Command;

use anyhow::{Context, bail};
use clap::Args;

use crate::cargo::{Target, build_release, workspace_root};

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
        let binary = build_release(
            "fineface-train",
            Target::Bin("fineface"),
            wants_cuda(&self.args),
        )?;
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

/// Whether `fineface` is asked to run on a CUDA device: a value of `--device X`,
/// `--device=X`, `--devices a,b` or `--devices=a,b` starts with `cuda`. Other arguments are
/// not looked at, so a path such as `--data /home/me/cuda-data` does not count.
fn wants_cuda(args: &[String]) -> bool {
    let mut values: Vec<&str> = Vec::new();
    let mut args = args.iter();
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--device" | "--devices" => values.extend(args.next().map(String::as_str)),
            other => values.extend(
                other
                    .strip_prefix("--device=")
                    .or_else(|| other.strip_prefix("--devices=")),
            ),
        }
    }
    values
        .iter()
        .flat_map(|v| v.split(','))
        .any(|device| device.trim().starts_with("cuda"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cuda(args: &[&str]) -> bool {
        wants_cuda(&args.iter().map(|s| s.to_string()).collect::<Vec<_>>())
    }

    #[test]
    fn cuda_is_decided_by_the_device_values_only() {
        assert!(cuda(&["fairface", "--device", "cuda:0"]));
        assert!(cuda(&["fairface", "--device=cuda"]));
        assert!(cuda(&["fairface", "--devices", "cuda:0,cuda:1"]));
        assert!(cuda(&["fairface", "--devices=cpu,cuda:1"]));
        assert!(!cuda(&["fairface", "--device", "cpu"]));
        assert!(!cuda(&["fairface", "--devices=cpu"]));
        assert!(!cuda(&["fairface"]));
        // A path (or any other value) that merely contains the text.
        assert!(!cuda(&["fairface", "--data", "/home/me/cuda-data"]));
        assert!(!cuda(&["fairface", "--out=runs/cuda", "--device", "cpu"]));
        assert!(!cuda(&["fairface", "--run", "cuda:0"]));
        assert!(!cuda(&["predict", "--run", "r", "cuda.png"]));
        // A trailing `--device` without a value asks for nothing.
        assert!(!cuda(&["fairface", "--device"]));
    }
}
