//! The FineFACE cases (`iteration`, `baseline`, `forward`, `backward`, `eval`, `crops`,
//! `all`): our `bench_fineface` example beside the PyTorch reference
//! (`tools/reference/bench_fineface_torch.py`).

use std::process::Command;

use anyhow::Context;
use clap::{Args, ValueEnum};

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
    #[arg(long, value_enum, default_value_t = ReferenceCrops::Loop)]
    crops: ReferenceCrops,
}

/// How the PyTorch reference crops (`--crops` of `bench_fineface_torch.py`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ReferenceCrops {
    /// A per-sample loop, as the authors' code.
    Loop,
    /// One batched grid_sample.
    Batched,
}

impl ReferenceCrops {
    /// Its name on the reference's command line.
    fn arg(self) -> &'static str {
        match self {
            Self::Loop => "loop",
            Self::Batched => "batched",
        }
    }
}

/// One FineFACE case: what `bench_fineface --case` and the reference script time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum ModelCase {
    /// One full training iteration (five steps, crops, optimiser).
    Iteration,
    /// One baseline training iteration.
    Baseline,
    /// Backbone forward, evaluation mode.
    Forward,
    /// Backbone forward + backward, training mode.
    Backward,
    /// Inference: forward, combined crop, forward, 8 logits.
    Eval,
    /// The four attention crops of a batch.
    Crops,
    /// A square float32 matmul of `--image-size` (the machine's rate).
    Matmul,
}

impl ModelCase {
    /// The model cases `all` runs, in order (then the matmul).
    const MODEL: [Self; 6] = [
        Self::Iteration,
        Self::Baseline,
        Self::Forward,
        Self::Backward,
        Self::Eval,
        Self::Crops,
    ];

    /// Its name on both sides' command lines (`--case`).
    fn arg(self) -> &'static str {
        match self {
            Self::Iteration => "iteration",
            Self::Baseline => "baseline",
            Self::Forward => "forward",
            Self::Backward => "backward",
            Self::Eval => "eval",
            Self::Crops => "crops",
            Self::Matmul => "matmul",
        }
    }

    /// Its name in the results.
    fn result_name(self, m: &ModelBench) -> String {
        match self {
            Self::Iteration if m.lean => "iteration_lean".to_owned(),
            Self::Iteration => "iteration".to_owned(),
            Self::Baseline => "baseline_iteration".to_owned(),
            Self::Forward => "backbone_forward".to_owned(),
            Self::Backward => "backbone_forward_backward".to_owned(),
            Self::Eval => "eval_8_logit".to_owned(),
            Self::Crops => "attention_crops".to_owned(),
            Self::Matmul => format!("matmul_{}", m.image_size),
        }
    }
}

impl BenchArgs {
    /// Every FineFACE case, the matmul rate and, on the CPU, the data pipeline when the
    /// UTKFace sample is there.
    pub(super) fn all(&self, m: &ModelBench) -> anyhow::Result<Vec<CaseResult>> {
        let mut cases = Vec::new();
        for case in ModelCase::MODEL {
            cases.push(self.fineface_case(m, case)?);
        }
        let matmul = ModelBench {
            image_size: 2048,
            ..m.clone()
        };
        cases.push(self.fineface_case(&matmul, ModelCase::Matmul)?);
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
    pub(super) fn fineface_case(
        &self,
        m: &ModelBench,
        case: ModelCase,
    ) -> anyhow::Result<CaseResult> {
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
            cmd.args(["--case", case.arg(), "--backbone", &m.backbone])
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
        reference.arg(&script).args(["--crops", m.crops.arg()]);
        common(&mut reference);
        reference.args(["--device", &reference_device]);
        let rounds = alternate(
            case.arg(),
            self.repeat,
            Timing::Printed,
            &mut ours,
            &mut reference,
        )?;
        let (name, shape) = case_name_and_shape(m, case, &reference_device);
        let mut result = CaseResult::summarise(name, &rounds, shape)?;
        self.add_notes(&mut result, m, case, || {
            let mut count = Command::new(&self.python);
            count
                .arg(&script)
                .args(["--crops", m.crops.arg(), "--flops"]);
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
        case: ModelCase,
        flop_counter: impl FnOnce() -> Command,
    ) -> anyhow::Result<()> {
        match case {
            ModelCase::Iteration => {
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
            ModelCase::Eval => {
                result.notes = format!(
                    "{}; ours {:.1} img/s, reference {:.1} img/s (reference crops: {})",
                    result.notes,
                    m.batch as f64 / result.ours_s,
                    m.batch as f64 / result.reference_s,
                    m.crops.arg()
                );
            }
            ModelCase::Crops => {
                result.notes = format!("{}; reference crops: {}", result.notes, m.crops.arg());
            }
            ModelCase::Matmul => {
                let flops = 2.0 * (m.image_size as f64).powi(3);
                result.notes = format!(
                    "float32 [{n}, {n}] @ [{n}, {n}]: ours {:.1} GFLOP/s, reference {:.1} GFLOP/s (the machine's matmul rate)",
                    flops / 1e9 / result.ours_s,
                    flops / 1e9 / result.reference_s,
                    n = m.image_size
                );
            }
            ModelCase::Baseline | ModelCase::Forward | ModelCase::Backward => {}
        }
        Ok(())
    }
}

/// The case's name in the results and the shape it ran at.
fn case_name_and_shape(
    m: &ModelBench,
    case: ModelCase,
    reference_device: &str,
) -> (String, String) {
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
    (case.result_name(m), shape)
}
