//! `cargo xtask train|eval|predict|study`: build the `fineface` binary (with CUDA or wgpu when
//! such a device is asked for) and run it with the arguments as given.

use std::path::Path;
use std::process::Command;

use anyhow::{Context, bail};
use clap::Args;

use crate::cargo::{GpuFeature, Target, build_release, workspace_root};

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
        let mut features = gpu_features(&self.args);
        if command == "study" && features.is_empty() {
            features = resumed_study_features(&self.args);
        }
        let binary = build_release("fineface-cli", Target::Bin("fineface"), &features)?;
        let args = fineface_args(command, &self.args, &workspace_root().join("configs"));
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

/// `fineface <command> <args...>`, with `--configs <configs>` added for `train` and for a
/// new `study` (the repository's experiment files wherever the command is run from) unless
/// given; a resumed study (`--resume`) reads its recorded configs and takes no `--configs`.
fn fineface_args(command: &str, args: &[String], configs: &Path) -> Vec<String> {
    let mut all = vec![command.to_owned()];
    all.extend(args.iter().cloned());
    let resumed_study = command == "study"
        && args
            .iter()
            .any(|a| a == "--resume" || a.starts_with("--resume="));
    let wants_configs = matches!(command, "train" | "study") && !resumed_study;
    if wants_configs
        && !args
            .iter()
            .any(|a| a == "--configs" || a.starts_with("--configs="))
    {
        all.push("--configs".to_owned());
        all.push(configs.display().to_string());
    }
    all
}

/// The GPU features `fineface` needs for the devices it is asked to run on: the values of
/// `--device X`, `--device=X`, `--devices a,b` and `--devices=a,b` starting with `cuda` or
/// `wgpu`. Other arguments are not looked at, so a path such as `--data /home/me/cuda-data`
/// does not count.
fn gpu_features(args: &[String]) -> Vec<GpuFeature> {
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
    let mut features: Vec<GpuFeature> = values
        .iter()
        .flat_map(|v| v.split(','))
        .filter_map(GpuFeature::of_device)
        .collect();
    features.sort_by_key(|f| f.name());
    features.dedup();
    features
}

/// The GPU features a study continued with `--resume DIR` (and no device flag) needs: those
/// of the devices its `DIR/plan.json` trains on. None when the file cannot be read: then
/// `fineface` itself reports it.
fn resumed_study_features(args: &[String]) -> Vec<GpuFeature> {
    let Some(dir) = args
        .iter()
        .position(|a| a == "--resume")
        .and_then(|i| args.get(i + 1))
        .map(String::as_str)
        .or_else(|| args.iter().find_map(|a| a.strip_prefix("--resume=")))
    else {
        return Vec::new();
    };
    let plan: serde_json::Value = std::fs::read_to_string(Path::new(dir).join("plan.json"))
        .ok()
        .and_then(|text| serde_json::from_str(&text).ok())
        .unwrap_or_default();
    let mut devices = vec!["--devices".to_owned()];
    let names: Vec<&str> = plan["methods"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|m| {
            m["config"]["train"]["devices"]
                .as_array()
                .into_iter()
                .flatten()
        })
        .filter_map(|d| d.as_str())
        .collect();
    devices.push(names.join(","));
    gpu_features(&devices)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn configs_are_added_for_training_and_new_studies_only() {
        let configs = Path::new("/repo/configs");
        let args = |command: &str, args: &[&str]| {
            let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
            fineface_args(command, &args, configs).join(" ")
        };
        assert_eq!(
            args("train", &["synthface"]),
            "train synthface --configs /repo/configs"
        );
        assert_eq!(
            args("study", &["synthface", "--seeds", "5"]),
            "study synthface --seeds 5 --configs /repo/configs"
        );
        // `--resume` conflicts with `--configs`: the study's plan.json has the configs.
        assert_eq!(
            args("study", &["--resume", "runs/s"]),
            "study --resume runs/s"
        );
        assert_eq!(args("study", &["--resume=runs/s"]), "study --resume=runs/s");
        assert_eq!(
            args("train", &["x", "--configs", "c"]),
            "train x --configs c"
        );
        assert_eq!(args("eval", &["--run", "r"]), "eval --run r");
    }

    #[test]
    fn a_resumed_study_builds_the_features_of_the_devices_it_started_on() {
        let dir = tempfile::tempdir().unwrap();
        let plan = r#"{"experiment": "x", "seeds": [0], "evals": [], "methods": [
            {"name": "fineface", "config": {"train": {"devices": ["cuda:0", "cuda:1"]}}}]}"#;
        std::fs::write(dir.path().join("plan.json"), plan).unwrap();
        let args = |extra: &[&str]| {
            let mut args = vec!["--resume".to_owned(), dir.path().display().to_string()];
            args.extend(extra.iter().map(|s| s.to_string()));
            args
        };
        assert_eq!(resumed_study_features(&args(&[])), [GpuFeature::Cuda]);
        let joined = format!("--resume={}", dir.path().display());
        assert_eq!(resumed_study_features(&[joined]), [GpuFeature::Cuda]);
        // Another folder, or none: nothing to read, no feature.
        assert!(
            resumed_study_features(&["--resume".to_owned(), "/nonexistent".to_owned()]).is_empty()
        );
        assert!(resumed_study_features(&["utkface-cpu".to_owned()]).is_empty());
    }

    fn features(args: &[&str]) -> Vec<GpuFeature> {
        gpu_features(&args.iter().map(|s| s.to_string()).collect::<Vec<_>>())
    }

    fn cuda(args: &[&str]) -> bool {
        features(args) == [GpuFeature::Cuda]
    }

    #[test]
    fn wgpu_devices_build_the_wgpu_feature() {
        assert_eq!(
            features(&["synthface", "--device", "wgpu"]),
            [GpuFeature::Wgpu]
        );
        assert_eq!(
            features(&["synthface", "--device=wgpu:1"]),
            [GpuFeature::Wgpu]
        );
        assert_eq!(
            features(&["synthface", "--devices", "wgpu:0,wgpu:1"]),
            [GpuFeature::Wgpu]
        );
        // A mix builds both, so that `fineface` itself names the mix as the error.
        assert_eq!(
            features(&["synthface", "--devices=cuda:0,wgpu"]),
            [GpuFeature::Cuda, GpuFeature::Wgpu]
        );
        assert!(features(&["synthface", "--data", "/data/wgpu-runs"]).is_empty());
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
