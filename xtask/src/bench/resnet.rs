//! `bench resnet`: ResNet forward, forward+backward and one BatchNorm layer on Flex, beside
//! PyTorch CPU.

use std::process::Command;

use super::BenchArgs;
use super::result::CaseResult;
use super::rounds::{Timing, alternate};
use crate::cargo::{Target, build_release, workspace_root};

impl BenchArgs {
    /// Each case runs `repeat` rounds, one process per side per round, alternating; each
    /// process times `iters` iterations after a warm-up. Medians are over all iterations.
    pub(super) fn resnet(
        &self,
        arch: &str,
        batch: usize,
        size: usize,
        iters: usize,
    ) -> anyhow::Result<Vec<CaseResult>> {
        let ours_exe = build_release("fineface-model", Target::Example("bench_resnet"), &[])?;
        let script = workspace_root().join("tools/bench_torch.py");
        let common = |cmd: &mut Command, case: &str| {
            cmd.args(["--case", case, "--arch", arch])
                .args(["--batch", &batch.to_string(), "--size", &size.to_string()])
                .args(["--iters", &iters.to_string()]);
        };
        let mut results = Vec::new();
        for (case, reference_case) in [
            ("forward", "forward"),
            ("forward-backward", "forward-backward"),
            ("batchnorm", "batchnorm"),
            ("batchnorm-burn", "batchnorm"),
        ] {
            let mut ours = Command::new(&ours_exe);
            common(&mut ours, case);
            let mut reference = Command::new(&self.python);
            reference.arg(&script);
            common(&mut reference, reference_case);
            let rounds = alternate(
                case,
                self.repeat,
                Timing::Printed,
                &mut ours,
                &mut reference,
            )?;
            let notes = match case {
                "batchnorm-burn" => {
                    "Burn's stock burn::nn::BatchNorm, same shape, beside PyTorch's".to_owned()
                }
                "batchnorm" => format!(
                    "one BatchNorm2d forward+backward, training mode, [{batch}, 256, {s}, {s}]",
                    s = size / 4
                ),
                _ => format!("{arch}, batch {batch}, {size} px, Flex vs PyTorch CPU (all cores)"),
            };
            results.push(CaseResult::summarise(
                format!("{arch}_{case}"),
                &rounds,
                notes,
            )?);
        }
        Ok(results)
    }
}
