//! Building the workspace's binaries and examples with cargo, and finding what it built.

use std::io::BufRead;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use anyhow::{Context, bail};

/// The workspace root (the parent of `xtask/`).
pub(crate) fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_default()
}

/// What to build: one binary or example of one package, in release mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Target<'a> {
    /// `--bin NAME`.
    Bin(&'a str),
    /// `--example NAME`.
    Example(&'a str),
}

/// The GPU backend a build needs, from the device names it will run on: each is a cargo
/// feature of `fineface-cli` and `fineface-train` (and of the crates below them).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum GpuFeature {
    /// Burn's CUDA backend (`cuda`, `cuda:N`).
    Cuda,
    /// Burn's wgpu backend (`wgpu`, `wgpu:N`).
    Wgpu,
}

impl GpuFeature {
    /// The feature a device name needs: `cuda...` -> CUDA, `wgpu...` -> wgpu, others none.
    pub(crate) fn of_device(device: &str) -> Option<Self> {
        let device = device.trim();
        if device.starts_with("cuda") {
            Some(Self::Cuda)
        } else if device.starts_with("wgpu") {
            Some(Self::Wgpu)
        } else {
            None
        }
    }

    /// The cargo feature's name.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Self::Cuda => "cuda",
            Self::Wgpu => "wgpu",
        }
    }
}

impl Target<'_> {
    fn name(&self) -> &str {
        match self {
            Self::Bin(name) | Self::Example(name) => name,
        }
    }
}

/// Builds `target` of `package` in release mode (with the GPU backends' features asked) and
/// returns the path of the executable, as cargo reports it: wherever `CARGO_TARGET_DIR`,
/// `.cargo/config.toml` or `--target` put it.
pub(crate) fn build_release(
    package: &str,
    target: Target<'_>,
    features: &[GpuFeature],
) -> anyhow::Result<PathBuf> {
    let names: Vec<&str> = features.iter().map(|f| f.name()).collect();
    build_release_with(package, target, &names)
}

/// [`build_release`] with the cargo features `features` of `package` (`mpi`).
pub(crate) fn build_release_with(
    package: &str,
    target: Target<'_>,
    features: &[&str],
) -> anyhow::Result<PathBuf> {
    let mut build = Command::new(env!("CARGO"));
    build.args([
        "build",
        "--release",
        "--message-format=json-render-diagnostics",
        "-p",
        package,
    ]);
    match target {
        Target::Bin(name) => build.args(["--bin", name]),
        Target::Example(name) => build.args(["--example", name]),
    };
    if !features.is_empty() {
        build.args(["--features", &features.join(",")]);
    }
    // Cargo's messages come as JSON on stdout; its progress and diagnostics stay on stderr.
    let mut child = build
        .current_dir(workspace_root())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .with_context(|| format!("cannot run cargo to build {}", target.name()))?;
    let stdout = child.stdout.take().context("cargo's stdout")?;
    let mut executable = None;
    for line in std::io::BufReader::new(stdout).lines() {
        let line = line.context("reading cargo's messages")?;
        executable = executable.or_else(|| artifact_executable(&line, target));
    }
    let status = child.wait().context("waiting for cargo")?;
    if !status.success() {
        bail!("building {} of {package} failed ({status})", target.name());
    }
    executable.with_context(|| {
        format!(
            "cargo built {} of {package} but reported no executable for it",
            target.name()
        )
    })
}

/// The `executable` of a `compiler-artifact` message of cargo's `--message-format=json`
/// when it is `target`'s, else `None`.
fn artifact_executable(line: &str, target: Target<'_>) -> Option<PathBuf> {
    let message: serde_json::Value = serde_json::from_str(line).ok()?;
    if message["reason"] != "compiler-artifact" {
        return None;
    }
    let kind = match target {
        Target::Bin(_) => "bin",
        Target::Example(_) => "example",
    };
    let built = &message["target"];
    let is_target = built["name"] == target.name()
        && built["kind"]
            .as_array()
            .is_some_and(|kinds| kinds.iter().any(|k| k == kind));
    if !is_target {
        return None;
    }
    message["executable"].as_str().map(PathBuf::from)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Messages as cargo 1.8x prints them (trimmed to the fields read).
    const MESSAGES: &str = r#"{"reason":"compiler-artifact","package_id":"path+file:///w/crates/fineface-fair#0.1.0","target":{"kind":["lib"],"crate_types":["lib"],"name":"fineface_fair"},"filenames":["/elsewhere/release/deps/libfineface_fair.rlib"],"executable":null,"fresh":true}
{"reason":"compiler-artifact","target":{"kind":["bin"],"crate_types":["bin"],"name":"fineface"},"filenames":["/elsewhere/release/fineface"],"executable":"/elsewhere/release/fineface","fresh":false}
{"reason":"compiler-artifact","target":{"kind":["example"],"crate_types":["bin"],"name":"bench_fineface"},"executable":"/elsewhere/release/examples/bench_fineface","fresh":false}
{"reason":"build-finished","success":true}"#;

    fn find(target: Target<'_>) -> Option<PathBuf> {
        MESSAGES
            .lines()
            .find_map(|line| artifact_executable(line, target))
    }

    #[test]
    fn the_executable_is_where_cargo_says_not_under_the_workspace() {
        // With CARGO_TARGET_DIR=/elsewhere the binary is not in <root>/target.
        assert_eq!(
            find(Target::Bin("fineface")),
            Some(PathBuf::from("/elsewhere/release/fineface"))
        );
        assert_eq!(
            find(Target::Example("bench_fineface")),
            Some(PathBuf::from("/elsewhere/release/examples/bench_fineface"))
        );
    }

    #[test]
    fn other_artifacts_and_messages_are_not_taken() {
        assert_eq!(find(Target::Bin("bench_fineface")), None);
        assert_eq!(find(Target::Example("fineface")), None);
        assert_eq!(find(Target::Bin("fineface_fair")), None);
        assert_eq!(
            artifact_executable("warning: not json", Target::Bin("x")),
            None
        );
    }
}
