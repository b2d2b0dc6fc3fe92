//! `bench data`: decode + 448-px training transform, beside torchvision's PIL pipeline and
//! DataLoader on the same UTKFace images.

use std::path::Path;
use std::process::Command;

use super::BenchArgs;
use super::result::CaseResult;
use super::rounds::{Timing, alternate};
use crate::cargo::{Target, build_release, workspace_root};

impl BenchArgs {
    pub(super) fn data(
        &self,
        root: &Path,
        images: usize,
        workers: usize,
    ) -> anyhow::Result<CaseResult> {
        let ours_exe = build_release("fineface-data", Target::Example("bench_pipeline"), &[])?;
        let args = |cmd: &mut Command| {
            cmd.arg("--root")
                .arg(root)
                .args([
                    "--images",
                    &images.to_string(),
                    "--workers",
                    &workers.to_string(),
                ])
                .args(["--rounds", "2"]);
        };
        let mut ours = Command::new(&ours_exe);
        args(&mut ours);
        let mut reference = Command::new(&self.python);
        reference.arg(workspace_root().join("tools/bench_torchvision_pipeline.py"));
        args(&mut reference);
        let rounds = alternate(
            "data",
            self.repeat,
            Timing::Printed,
            &mut ours,
            &mut reference,
        )?;
        let mut result = CaseResult::summarise(
            format!("data_pipeline_{images}_images"),
            &rounds,
            String::new(),
        )?;
        result.notes = format!(
            "UTKFace 200 px JPEGs -> resize 460 -> random crop 448 (pad 8) -> flip -> normalise, \
             batches of 16, {workers} workers; ours {:.0} img/s, torchvision {:.0} img/s",
            images as f64 / result.ours_s,
            images as f64 / result.reference_s
        );
        Ok(result)
    }
}
