//! The FineFACE cases (`iteration`, `baseline`, `forward`, `backward`, `eval`, `crops`,
//! `all`): our `bench_fineface` example beside the PyTorch reference
//! (`tools/reference/bench_fineface_torch.py`).

use std::process::Command;

use anyhow::Context;
use clap::Args;

use super::BenchArgs;
use super::process::measure;
use super::result::CaseResult;
use super::rounds::{Timing, alternate};
use crate::cargo::{GpuFeature, Target, build_release, workspace_root};

/// The model and batch of the FineFACE cases.
#[derive(Debug, Clone, Args)]
pub struct ModelBench {
    /// Backbone architecture (`resnet18` ... `resnet152`, `mobilenet_v2`).
    #[arg(long, default_value = "resnet50")]
    backbone: String,
    /// Base width of the backbone (64 = torchvision's).
    #[arg(long, default_value_t = 64)]
    width: usize,
    /// Feature width of each expert head (1024 in the paper).
    #[arg(long, default_value_t = 1024)]
    head_width: usize,
    /// Square image size in pixels.
    #[arg(long, default_value_t = 224)]
    image_size: usize,
    /// Images per batch.
    #[arg(long, default_value_t = 8)]
    batch: usize,
    /// Timed iterations per process (after one warm-up iteration).
    #[arg(long, default_value_t = 2)]
    iters: usize,
    /// `cpu`, `cuda:N` (builds ours with the `cuda` feature; PyTorch on the same GPU) or
    /// `wgpu[:N]` (builds ours with the `wgpu` feature; PyTorch has no wgpu backend, so the
    /// reference runs on `--reference-device`).
    #[arg(long, default_value = "cpu")]
    device: String,
    /// Where the PyTorch reference runs: `cpu` or `cuda:N` (default: `--device`, or `cpu`
    /// when that is a wgpu adapter; on an NVIDIA GPU pass `cuda:0` to put wgpu beside
    /// PyTorch's CUDA).
    #[arg(long)]
    reference_device: Option<String>,
    /// Our lean iteration (the reference always runs the exact one).
    #[arg(long)]
    lean: bool,
    /// The reference's crops: its per-sample loop (`loop`, as the authors' code) or one
    /// batched grid_sample (`batched`).
    #[arg(long, default_value = "loop")]
    crops: String,
}

impl BenchArgs {
    /// Every FineFACE case, the matmul rate and, on the CPU, the data pipeline when the
    /// UTKFace sample is there.
    pub(super) fn all(&self, m: &ModelBench) -> anyhow::Result<Vec<CaseResult>> {
        let mut cases = Vec::new();
        for case in [
            "iteration",
            "baseline",
            "forward",
            "backward",
            "eval",
            "crops",
        ] {
            cases.push(self.fineface_case(m, case)?);
        }
        let matmul = ModelBench {
            image_size: 2048,
            ..m.clone()
        };
        cases.push(self.fineface_case(&matmul, "matmul")?);
        if m.device == "cpu" {
            let utkface = workspace_root().join("../shared/data/utkface");
            if utkface.is_dir() {
                cases.push(self.data(&utkface, 512, 2)?);
            }
        }
        Ok(cases)
    }

    /// A FineFACE case: `repeat` rounds, one process per side per round, alternating; each
    /// process times `iters` iterations after a warm-up. The iteration case also counts its
    /// floating-point work (PyTorch's flop counter on the reference) and measures the
    /// machine's matmul rate, to report achieved FLOP/s against it.
    pub(super) fn fineface_case(&self, m: &ModelBench, case: &str) -> anyhow::Result<CaseResult> {
        let features: Vec<GpuFeature> = GpuFeature::of_device(&m.device).into_iter().collect();
        let ours_exe = build_release(
            "fineface-train",
            Target::Example("bench_fineface"),
            &features,
        )?;
        let reference_device =
            m.reference_device
                .clone()
                .unwrap_or_else(|| match GpuFeature::of_device(&m.device) {
                    Some(GpuFeature::Wgpu) => "cpu".to_owned(),
                    _ => m.device.clone(),
                });
        let script = workspace_root().join("tools/reference/bench_fineface_torch.py");
        let common = |cmd: &mut Command| {
            cmd.args(["--case", case, "--backbone", &m.backbone])
                .args(["--width", &m.width.to_string()])
                .args(["--head-width", &m.head_width.to_string()])
                .args(["--image-size", &m.image_size.to_string()])
                .args(["--batch", &m.batch.to_string()])
                .args(["--iters", &m.iters.to_string()]);
            if m.lean {
                cmd.arg("--lean");
            }
        };
        let mut ours = Command::new(&ours_exe);
        common(&mut ours);
        ours.args(["--device", &m.device]);
        let mut reference = Command::new(&self.python);
        reference.arg(&script).args(["--crops", &m.crops]);
        common(&mut reference);
        reference.args(["--device", &reference_device]);
        let rounds = alternate(
            case,
            self.repeat,
            Timing::Printed,
            &mut ours,
            &mut reference,
        )?;
        let (name, shape) = case_name_and_shape(m, case, &reference_device);
        let mut result = CaseResult::summarise(name, &rounds, shape)?;
        self.add_notes(&mut result, m, case, || {
            let mut count = Command::new(&self.python);
            count.arg(&script).args(["--crops", &m.crops, "--flops"]);
            common(&mut count);
            count.args(["--device", &reference_device]);
            count
        })?;
        Ok(result)
    }

    /// The case's rates beside its times: GFLOP/s for the iteration (PyTorch's flop counter
    /// run by `flop_counter`) and the matmul, images/s for the evaluation.
    fn add_notes(
        &self,
        result: &mut CaseResult,
        m: &ModelBench,
        case: &str,
        flop_counter: impl FnOnce() -> Command,
    ) -> anyhow::Result<()> {
        match case {
            "iteration" => {
                let out = measure(&mut flop_counter())?;
                let json: serde_json::Value = serde_json::from_str(out.stdout.trim())
                    .with_context(|| format!("flop count output: {}", out.stdout))?;
                let flops = json["flops"].as_f64().unwrap_or(0.0);
                result.notes = format!(
                    "{}; {:.1} GFLOP per iteration (torch.utils.flop_counter on the reference: \
                     convolutions and matmuls, forward and backward of the five steps): \
                     ours {:.1} GFLOP/s, reference {:.1} GFLOP/s{}",
                    result.notes,
                    flops / 1e9,
                    flops / 1e9 / result.ours_s,
                    flops / 1e9 / result.reference_s,
                    if m.lean {
                        "; ours lean (fewer FLOPs than counted)"
                    } else {
                        ""
                    }
                );
            }
            "eval" => {
                result.notes = format!(
                    "{}; ours {:.1} img/s, reference {:.1} img/s (reference crops: {})",
                    result.notes,
                    m.batch as f64 / result.ours_s,
                    m.batch as f64 / result.reference_s,
                    m.crops
                );
            }
            "crops" => {
                result.notes = format!("{}; reference crops: {}", result.notes, m.crops);
            }
            "matmul" => {
                let flops = 2.0 * (m.image_size as f64).powi(3);
                result.notes = format!(
                    "float32 [{n}, {n}] @ [{n}, {n}]: ours {:.1} GFLOP/s, reference {:.1} GFLOP/s (the machine's matmul rate)",
                    flops / 1e9 / result.ours_s,
                    flops / 1e9 / result.reference_s,
                    n = m.image_size
                );
            }
            _ => {}
        }
        Ok(())
    }
}

/// The case's name in the results and the shape it ran at.
fn case_name_and_shape(m: &ModelBench, case: &str, reference_device: &str) -> (String, String) {
    let devices = if reference_device == m.device {
        m.device.clone()
    } else {
        format!("ours {}, reference {reference_device}", m.device)
    };
    // `--width` is a ResNet's; MobileNetV2 runs at torchvision's width.
    let width = if m.backbone.starts_with("resnet") {
        format!("width {}, ", m.width)
    } else {
        String::new()
    };
    let shape = format!(
        "{} ({width}heads {}), batch {}, {} px, {devices}",
        m.backbone, m.head_width, m.batch, m.image_size
    );
    let name = match case {
        "iteration" if m.lean => "iteration_lean".to_owned(),
        "iteration" => "iteration".to_owned(),
        "baseline" => "baseline_iteration".to_owned(),
        "forward" => "backbone_forward".to_owned(),
        "backward" => "backbone_forward_backward".to_owned(),
        "eval" => "eval_8_logit".to_owned(),
        "crops" => "attention_crops".to_owned(),
        "matmul" => format!("matmul_{}", m.image_size),
        other => other.to_owned(),
    };
    (name, shape)
}
