//! `cargo xtask gpu-bundle`: the one-shot CUDA check for a machine with an NVIDIA GPU but no
//! Rust and no network (a lent GPU, a cluster node): the `fineface` binary and the
//! `bench_fineface` example built here with `--features cuda` (release, stripped), the
//! experiment files, the PyTorch reference and `run.sh`, in one folder small enough to travel
//! (48 MiB by default; the binaries go into a gzip archive when they do not fit as they are).
//!
//! On the GPU machine, `bash run.sh OUT` finds the driver's libcuda and an NVRTC library,
//! probes the device, trains, benchmarks against PyTorch and writes `OUT/gpu-check.json`
//! (`tools/gpu/run.sh` says what each step does; docs/performance.md has the figures).

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, bail};
use clap::Args;
use serde::Serialize;

use crate::cargo::{GpuFeature, Target, build_release, workspace_root};

/// Arguments of `cargo xtask gpu-bundle`.
#[derive(Debug, Args)]
pub struct GpuBundleArgs {
    /// The bundle folder, replaced if present (relative paths from the workspace root).
    #[arg(long, default_value = "target/gpu-bundle")]
    out: PathBuf,
    /// The largest bundle allowed, MiB (the device tool carries 64 MiB with the working tree).
    #[arg(long, default_value_t = 48.0)]
    max_mib: f64,
}

/// What a bundle holds, written as its `bundle.json`.
#[derive(Debug, Serialize)]
pub(crate) struct BundleInfo {
    /// `git describe --always --dirty` of the tree it was built from.
    pub(crate) commit: String,
    /// The cargo features the binaries were built with.
    pub(crate) features: Vec<String>,
    /// Whether the binaries are in `bin.tar.gz` (else in `bin/`).
    pub(crate) compressed: bool,
    /// Each file's path in the bundle and size in bytes.
    pub(crate) files: Vec<(String, u64)>,
    /// Their total, bytes.
    pub(crate) total_bytes: u64,
}

/// The files besides the binaries: (source under the workspace root, path in the bundle).
const SCRIPTS: [(&str, &str); 4] = [
    ("tools/gpu/run.sh", "run.sh"),
    ("tools/gpu/gpu_check.py", "gpu_check.py"),
    (
        "tools/reference/bench_fineface_torch.py",
        "reference/bench_fineface_torch.py",
    ),
    (
        "tools/reference/fineface_torch.py",
        "reference/fineface_torch.py",
    ),
];

impl GpuBundleArgs {
    /// Builds the binaries with CUDA and assembles the bundle.
    pub fn run(&self) -> anyhow::Result<()> {
        let root = workspace_root();
        let features = [GpuFeature::Cuda];
        let executables = [
            build_release("fineface-cli", Target::Bin("fineface"), &features)?,
            build_release(
                "fineface-train",
                Target::Example("bench_fineface"),
                &features,
            )?,
        ];
        let out = root.join(&self.out);
        let max_bytes = (self.max_mib * 1024.0 * 1024.0) as u64;
        let info = assemble(&root, &out, &executables, max_bytes)?;
        tracing::info!(
            folder = %out.display(),
            mib = format!("{:.1}", info.total_bytes as f64 / 1048576.0),
            compressed = info.compressed,
            commit = %info.commit,
            "GPU bundle written; on a GPU machine: bash {}/run.sh OUT_DIR",
            self.out.display()
        );
        Ok(())
    }
}

/// Writes the bundle into `out` (replaced): `executables` stripped into `bin/` (or
/// `bin.tar.gz` when the bundle would exceed `max_bytes` otherwise), the scripts, the
/// experiment files of `root/configs` and `bundle.json`.
///
/// # Errors
/// A file that cannot be copied, `strip` or `tar` failing, or a bundle over `max_bytes` even
/// compressed (naming each file's size).
pub(crate) fn assemble(
    root: &Path,
    out: &Path,
    executables: &[PathBuf],
    max_bytes: u64,
) -> anyhow::Result<BundleInfo> {
    if out.exists() {
        std::fs::remove_dir_all(out)
            .with_context(|| format!("cannot replace {}", out.display()))?;
    }
    let bin = out.join("bin");
    std::fs::create_dir_all(&bin).with_context(|| format!("cannot create {}", bin.display()))?;
    for exe in executables {
        let name = exe
            .file_name()
            .with_context(|| format!("{} has no file name", exe.display()))?;
        let copy = bin.join(name);
        std::fs::copy(exe, &copy)
            .with_context(|| format!("cannot copy {} into the bundle", exe.display()))?;
        strip(&copy)?;
    }
    for (source, dest) in SCRIPTS {
        copy_into(&root.join(source), &out.join(dest))?;
    }
    let configs = root.join("configs");
    for entry in
        std::fs::read_dir(&configs).with_context(|| format!("cannot list {}", configs.display()))?
    {
        let path = entry?.path();
        if path.extension().is_some_and(|e| e == "toml") {
            let name = path.file_name().context("a config without a name")?;
            copy_into(&path, &out.join("configs").join(name))?;
        }
    }
    let compressed = folder_bytes(out)? > max_bytes;
    if compressed {
        let archive = out.join("bin.tar.gz");
        run(Command::new("tar")
            .arg("-czf")
            .arg(&archive)
            .arg("-C")
            .arg(&bin)
            .arg("."))?;
        std::fs::remove_dir_all(&bin)?;
    }
    let mut info = BundleInfo {
        commit: git_describe(root),
        features: vec!["cuda".to_owned()],
        compressed,
        files: Vec::new(),
        total_bytes: 0,
    };
    list_files(out, out, &mut info.files)?;
    info.files.sort();
    info.total_bytes = info.files.iter().map(|(_, size)| size).sum();
    let json = serde_json::to_string_pretty(&info)?;
    std::fs::write(out.join("bundle.json"), json + "\n")?;
    if info.total_bytes > max_bytes {
        let sizes: Vec<String> = info
            .files
            .iter()
            .map(|(name, size)| format!("{name} {:.1} MiB", *size as f64 / 1048576.0))
            .collect();
        bail!(
            "the bundle is {:.1} MiB, over the {:.1} MiB allowed even compressed: {}",
            info.total_bytes as f64 / 1048576.0,
            max_bytes as f64 / 1048576.0,
            sizes.join(", ")
        );
    }
    Ok(info)
}

/// Removes the symbols (`strip --strip-all`); a build's line tables are for debugging here,
/// not on the GPU machine.
fn strip(path: &Path) -> anyhow::Result<()> {
    run(Command::new("strip").arg("--strip-all").arg(path))
        .with_context(|| format!("cannot strip {} (binutils' `strip`)", path.display()))
}

fn run(command: &mut Command) -> anyhow::Result<()> {
    let status = command
        .status()
        .with_context(|| format!("cannot start {command:?}"))?;
    if !status.success() {
        bail!("{command:?} failed ({status})");
    }
    Ok(())
}

fn copy_into(source: &Path, dest: &Path) -> anyhow::Result<()> {
    if let Some(parent) = dest.parent() {
        std::fs::create_dir_all(parent)
            .with_context(|| format!("cannot create {}", parent.display()))?;
    }
    std::fs::copy(source, dest)
        .with_context(|| format!("cannot copy {} into the bundle", source.display()))?;
    Ok(())
}

fn folder_bytes(dir: &Path) -> anyhow::Result<u64> {
    let mut files = Vec::new();
    list_files(dir, dir, &mut files)?;
    Ok(files.iter().map(|(_, size)| size).sum())
}

fn list_files(base: &Path, dir: &Path, files: &mut Vec<(String, u64)>) -> anyhow::Result<()> {
    for entry in std::fs::read_dir(dir).with_context(|| format!("cannot list {}", dir.display()))? {
        let entry = entry?;
        let path = entry.path();
        if entry.file_type()?.is_dir() {
            list_files(base, &path, files)?;
        } else {
            let name = path.strip_prefix(base).unwrap_or(&path);
            files.push((name.display().to_string(), entry.metadata()?.len()));
        }
    }
    Ok(())
}

fn git_describe(root: &Path) -> String {
    Command::new("git")
        .args(["describe", "--always", "--dirty"])
        .current_dir(root)
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map_or_else(
            || "unknown".to_owned(),
            |o| String::from_utf8_lossy(&o.stdout).trim().to_owned(),
        )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Two real executables (copies of this test binary, which `strip` accepts and gzip
    /// shrinks as it does our binaries), so the size decisions are real.
    fn fake_executables(dir: &Path) -> Vec<PathBuf> {
        let this = std::env::current_exe().unwrap();
        ["fineface", "bench_fineface"]
            .iter()
            .map(|name| {
                let path = dir.join(name);
                std::fs::copy(&this, &path).unwrap();
                path
            })
            .collect()
    }

    #[test]
    fn a_bundle_holds_the_binaries_scripts_configs_and_its_inventory() {
        let dir = tempfile::tempdir().unwrap();
        let exes = fake_executables(dir.path());
        let out = dir.path().join("bundle");
        let info = assemble(&workspace_root(), &out, &exes, 48 << 20).unwrap();
        assert!(!info.compressed);
        for file in [
            "bin/fineface",
            "bin/bench_fineface",
            "run.sh",
            "gpu_check.py",
            "reference/bench_fineface_torch.py",
            "reference/fineface_torch.py",
            "configs/synthface.toml",
            "configs/gpu-resnet50.toml",
            "bundle.json",
        ] {
            assert!(out.join(file).is_file(), "{file} missing");
        }
        let listed: u64 = info.files.iter().map(|(_, s)| s).sum();
        assert_eq!(listed, info.total_bytes);
        let json: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(out.join("bundle.json")).unwrap())
                .unwrap();
        assert_eq!(json["features"][0], "cuda");
    }

    #[test]
    fn binaries_too_large_as_they_are_go_into_an_archive_and_too_large_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let exes = fake_executables(dir.path());
        let out = dir.path().join("bundle");
        let plain = assemble(&workspace_root(), &out, &exes, u64::MAX).unwrap();
        assert!(!plain.compressed);
        // One byte less than the bundle as it is: the binaries go into the archive.
        let info = assemble(&workspace_root(), &out, &exes, plain.total_bytes - 1).unwrap();
        assert!(info.compressed);
        assert!(!out.join("bin").exists());
        assert!(out.join("bin.tar.gz").is_file());
        assert!(info.total_bytes < plain.total_bytes);
        let listing = Command::new("tar")
            .arg("-tzf")
            .arg(out.join("bin.tar.gz"))
            .output()
            .unwrap();
        let listing = String::from_utf8_lossy(&listing.stdout);
        assert!(listing.contains("./fineface") && listing.contains("./bench_fineface"));
        let error = assemble(&workspace_root(), &out, &exes, 1 << 10)
            .unwrap_err()
            .to_string();
        assert!(
            error.contains("over the 0.0 MiB allowed even compressed"),
            "{error}"
        );
        assert!(error.contains("bin.tar.gz"), "{error}");
    }
}
