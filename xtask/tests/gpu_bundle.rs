//! The GPU check's scripts on a fake machine: `tools/gpu/run.sh` finding (or not finding) the
//! driver, NVRTC, CUDA's headers and NCCL (with the `libnccl.so` link cudarc loads) where real
//! machines keep them, its "no CUDA driver" exit, and `tools/gpu/gpu_check.py` turning its
//! steps' outputs into `gpu-check.json`. The real binaries' run on a GPU is in
//! docs/performance.md.

#![allow(clippy::unwrap_used)] // Test helpers panic on broken fixtures by design.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

mod common;

use common::repo;

fn touch(path: &Path) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, b"").unwrap();
}

fn script(path: &Path, body: &str) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, format!("#!/bin/sh\n{body}\n")).unwrap();
    let status = Command::new("chmod").arg("+x").arg(path).status().unwrap();
    assert!(status.success());
}

/// A machine under `root`: no system library unless the test adds one, and a "python" whose
/// NVIDIA packages are `packages`.
struct FakeMachine {
    dir: tempfile::TempDir,
}

impl FakeMachine {
    fn new(packages: &[&str]) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let listing: Vec<String> = packages
            .iter()
            .map(|p| dir.path().join("site/nvidia").join(p).display().to_string())
            .collect();
        script(
            &dir.path().join("python"),
            &format!("cat >/dev/null\nprintf '%s\\n' {}", listing.join(" ")),
        );
        Self { dir }
    }

    fn path(&self, relative: &str) -> PathBuf {
        self.dir.path().join(relative)
    }

    fn run_sh(&self, script: &Path, args: &[&str], ld_library_path: &str) -> Output {
        Command::new("bash")
            .arg(script)
            .args(args)
            .env("FINEFACE_LIB_ROOT", self.dir.path().join("root"))
            .env("PYTHON", self.path("python"))
            .env("LD_LIBRARY_PATH", ld_library_path)
            .env("TMPDIR", self.dir.path())
            .env_remove("CUDA_PATH")
            .output()
            .unwrap()
    }

    fn find(&self) -> (bool, String) {
        let out = self.run_sh(&repo().join("tools/gpu/run.sh"), &["--find-libraries"], "");
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    }
}

#[test]
fn the_driver_folder_and_cuda13_python_packages_are_found() {
    let machine = FakeMachine::new(&["cu13", "cudnn", "nccl"]);
    // PyTorch's NCCL wheel keeps the library in a package of its own.
    touch(&machine.path("site/nvidia/nccl/lib/libnccl.so.2"));
    touch(&machine.path("root/usr/local/nvidia/lib64/libcuda.so.1"));
    touch(&machine.path("site/nvidia/cu13/lib/libnvrtc.so.13"));
    touch(&machine.path("site/nvidia/cu13/include/cuda_runtime.h"));
    touch(&machine.path("site/nvidia/cu13/include/nvrtc.h"));
    let (ok, log) = machine.find();
    assert!(ok, "{log}");
    let lib = machine.path("root/usr/local/nvidia/lib64/libcuda.so.1");
    assert!(
        log.contains(&format!("libcuda: {}", lib.display())),
        "{log}"
    );
    let nvrtc = machine.path("site/nvidia/cu13/lib/libnvrtc.so.13");
    assert!(
        log.contains(&format!("nvrtc: {}", nvrtc.display())),
        "{log}"
    );
    let headers = machine.path("site/nvidia/cu13/include");
    assert!(
        log.contains(&format!("CUDA headers: {}", headers.display())),
        "{log}"
    );
    let nccl = machine.path("site/nvidia/nccl/lib/libnccl.so.2");
    assert!(log.contains(&format!("nccl: {}", nccl.display())), "{log}");
}

#[test]
fn split_cuda12_packages_get_one_folder_of_headers() {
    let machine = FakeMachine::new(&["cuda_nvrtc", "cuda_runtime"]);
    touch(&machine.path("root/usr/lib/x86_64-linux-gnu/libcuda.so.1"));
    touch(&machine.path("site/nvidia/cuda_nvrtc/lib/libnvrtc.so.12"));
    touch(&machine.path("site/nvidia/cuda_nvrtc/include/nvrtc.h"));
    touch(&machine.path("site/nvidia/cuda_runtime/include/cuda_runtime.h"));
    let (ok, log) = machine.find();
    // NCCL is optional: the check goes on without it.
    assert!(ok, "{log}");
    assert!(log.contains("nccl: not found (optional"), "{log}");
    let merged = machine.path("fineface-cuda-headers");
    assert!(
        log.contains(&format!("CUDA headers: {}/include", merged.display())),
        "{log}"
    );
    assert!(merged.join("include/nvrtc.h").exists());
    assert!(merged.join("include/cuda_runtime.h").exists());
}

#[test]
fn a_stub_libcuda_is_not_a_driver() {
    let machine = FakeMachine::new(&[]);
    // CUDA's link-time stand-in, reachable through LD_LIBRARY_PATH as on many images.
    let stubs = machine.path("root/usr/local/cuda/lib64/stubs");
    touch(&stubs.join("libcuda.so.1"));
    let out = machine.run_sh(
        &repo().join("tools/gpu/run.sh"),
        &["--find-libraries"],
        &stubs.display().to_string(),
    );
    let log = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{log}");
    assert!(log.contains("libcuda: not found"), "{log}");
}

#[test]
fn without_a_driver_the_check_stops_with_no_cuda_driver_and_keeps_the_probe() {
    let machine = FakeMachine::new(&[]);
    let bundle = machine.path("bundle");
    std::fs::create_dir_all(&bundle).unwrap();
    std::fs::copy(repo().join("tools/gpu/run.sh"), bundle.join("run.sh")).unwrap();
    script(
        &bundle.join("bin/fineface"),
        r#"echo '{"probes": [{"device": "cuda:0", "error": "no CUDA driver library"}]}'; exit 1"#,
    );
    let out_dir = machine.path("results");
    let out = machine.run_sh(&bundle.join("run.sh"), &[out_dir.to_str().unwrap()], "");
    let log = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{log}");
    assert!(
        log.contains("run.sh: no CUDA driver: libcuda.so.1 is in none of"),
        "{log}"
    );
    let probe = std::fs::read_to_string(out_dir.join("probe.json")).unwrap();
    assert!(probe.contains("no CUDA driver library"), "{probe}");
}

#[test]
fn a_lone_libnccl_so_2_gets_the_libnccl_so_link_cudarc_loads() {
    let machine = FakeMachine::new(&["cu13", "nccl"]);
    touch(&machine.path("root/usr/lib/x86_64-linux-gnu/libcuda.so.1"));
    touch(&machine.path("site/nvidia/cu13/lib/libnvrtc.so.13"));
    touch(&machine.path("site/nvidia/cu13/include/cuda_runtime.h"));
    touch(&machine.path("site/nvidia/cu13/include/nvrtc.h"));
    let nccl = machine.path("site/nvidia/nccl/lib/libnccl.so.2");
    touch(&nccl);
    // The "python" lists the packages, and as gpu_check.py records the library path.
    let seen = machine.path("ld_library_path");
    let packages = ["cu13", "nccl"].map(|p| machine.path("site/nvidia").join(p));
    script(
        &machine.path("python"),
        &format!(
            "case \"$1\" in *gpu_check.py) echo \"$LD_LIBRARY_PATH\" > {}; exit 0;; esac\n\
             cat >/dev/null\nprintf '%s\\n' {} {}",
            seen.display(),
            packages[0].display(),
            packages[1].display()
        ),
    );
    let bundle = machine.path("bundle");
    std::fs::create_dir_all(&bundle).unwrap();
    std::fs::copy(repo().join("tools/gpu/run.sh"), bundle.join("run.sh")).unwrap();
    script(&bundle.join("bin/fineface"), "exit 0");
    let out_dir = machine.path("results");
    let out = machine.run_sh(&bundle.join("run.sh"), &[out_dir.to_str().unwrap()], "");
    let log = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{log}");
    let link = machine.path("fineface-nccl/libnccl.so");
    assert_eq!(std::fs::read_link(&link).unwrap(), nccl);
    let path = std::fs::read_to_string(&seen).unwrap();
    let folder = link.parent().unwrap().to_str().unwrap();
    assert!(path.trim_end().split(':').any(|d| d == folder), "{path}");
}

#[test]
fn gpu_check_writes_every_step_and_the_projection() {
    let dir = tempfile::tempdir().unwrap();
    let bundle = dir.path().join("bundle");
    std::fs::create_dir_all(bundle.join("configs")).unwrap();
    // `fineface`: the probe's JSON; `train` writes a run folder as the real one does.
    script(
        &bundle.join("bin/fineface"),
        r#"if [ "$1" = devices ]; then echo '{"probes": [{"device": "cuda:0", "max_relative_error": 1e-7}]}'; exit 0; fi
out=""; while [ $# -gt 0 ]; do [ "$1" = --out ] && out="$2"; shift; done
mkdir -p "$out/test"
printf 'epoch,seconds,train_seconds,train_images_per_second,val_accuracy\n1,12.5,10,80,0.9\n' > "$out/metrics.csv"
echo '{"accuracy": 0.95, "dob": 0.02}' > "$out/test/summary.json""#,
    );
    script(
        &bundle.join("bin/bench_fineface"),
        r#"echo '{"case": "iteration", "times_s": [0.2, 0.3, 0.25]}'"#,
    );
    std::fs::create_dir_all(bundle.join("reference")).unwrap();
    // The reference runs under the check's own Python: a script printing fixed times.
    std::fs::write(
        bundle.join("reference/bench_fineface_torch.py"),
        "print('{\"case\": \"iteration\", \"times_s\": [0.5, 0.5, 0.5]}')\n",
    )
    .unwrap();
    let out_dir = dir.path().join("out");
    let status = Command::new("python3")
        .arg(repo().join("tools/gpu/gpu_check.py"))
        .args(["--bin", bundle.join("bin").to_str().unwrap()])
        .args(["--bundle", bundle.to_str().unwrap()])
        .args(["--out", out_dir.to_str().unwrap()])
        .args(["--libcuda", "/fake/libcuda.so.1"])
        .env("FINEFACE_GPU_BUDGET_S", "120")
        .status()
        .expect("python3 runs the GPU check; install python3");
    assert!(status.success());
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out_dir.join("gpu-check.json")).unwrap())
            .unwrap();
    let steps = &json["steps"];
    assert_eq!(json["failed_steps"], serde_json::json!([]), "{json:#}");
    assert_eq!(steps["probe"]["probes"][0]["device"], "cuda:0");
    assert_eq!(steps["synthface_2_epochs"]["test"]["accuracy"], 0.95);
    assert_eq!(
        steps["resnet50_448"]["epochs"][0]["train_images_per_second"],
        80.0
    );
    let bench = &steps["bench_iteration"];
    assert_eq!(bench["ours_s"], 0.25);
    assert_eq!(bench["reference_s"], 0.5);
    assert_eq!(bench["ratio_reference_over_ours"], 2.0);
    // 86,744 images x 25 epochs at 80 images/s.
    let hours = steps["projection"]["hours_training"].as_f64().unwrap();
    assert!(
        (hours - 86_744.0 * 25.0 / 80.0 / 3600.0).abs() < 0.01,
        "{hours}"
    );
    assert_eq!(json["libraries"]["libcuda"], "/fake/libcuda.so.1");
}
