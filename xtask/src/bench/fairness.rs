//! `bench fairness`: `cargo xtask fairness` beside fairlearn's `MetricFrame` on one generated
//! predictions file.

use std::io::Write;
use std::path::Path;
use std::process::Command;

use anyhow::Context;
use rand::{Rng, SeedableRng};

use super::BenchArgs;
use super::result::CaseResult;
use super::rounds::{Timing, alternate};
use crate::cargo::workspace_root;

impl BenchArgs {
    pub(super) fn fairness(&self, rows: usize) -> anyhow::Result<CaseResult> {
        let root = workspace_root();
        let data = root
            .join("target/bench")
            .join(format!("predictions_{rows}.csv"));
        if !data.exists() {
            write_synthetic_predictions(&data, rows)?;
        }
        let script = root.join("tools/bench_fairlearn.py");
        let exe = std::env::current_exe().context("locating the xtask binary")?;
        let out = std::env::temp_dir().join("fineface-bench-report.json");
        let mut ours = Command::new(&exe);
        ours.arg("fairness")
            .arg(&data)
            .args(["--sensitive", "race,gender", "--pos-label", "Male", "--out"])
            .arg(&out)
            .env("RUST_LOG", "warn");
        let mut reference = Command::new(&self.python);
        reference.arg(&script).arg(&data).args([
            "--sensitive",
            "race,gender",
            "--pos-label",
            "Male",
        ]);
        let rounds = alternate(
            "fairness",
            self.repeat,
            Timing::Wall,
            &mut ours,
            &mut reference,
        )?;
        let phases = rounds.reference_stdout.trim().to_owned();
        CaseResult::summarise(
            format!("fairness_{}k_rows", rows / 1000),
            &rounds,
            format!(
                "ours: `cargo xtask fairness` (CSV parse + full report: intersectional, per feature, per class).\n\
                 reference: fairlearn MetricFrame via tools/bench_fairlearn.py (process wall time, imports included); \
                 its own phase times of the last run: {phases}"
            ),
        )
    }
}

/// A FairFace-shaped predictions file: gender predicted for 7 races x 2 genders, group sizes
/// and accuracies uneven, plus the path and score columns a training run writes.
fn write_synthetic_predictions(path: &Path, rows: usize) -> anyhow::Result<()> {
    use fineface_data::formats::fairface::RACES;
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    tracing::info!("writing {rows} synthetic predictions to {}", path.display());
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(20261128);
    let mut out = std::io::BufWriter::new(std::fs::File::create(path)?);
    writeln!(out, "path,y_true,y_pred,race,gender,score")?;
    for i in 0..rows {
        let race = RACES[(rng.random::<f64>().powi(2) * RACES.len() as f64) as usize];
        let female = rng.random_bool(0.45);
        let (truth, other) = if female {
            ("Female", "Male")
        } else {
            ("Male", "Female")
        };
        let accuracy = 0.96 - if female { 0.03 } else { 0.0 } - 0.01 * race.len() as f64 / 5.0;
        let pred = if rng.random_bool(accuracy) {
            truth
        } else {
            other
        };
        let score: f64 = rng.random();
        writeln!(
            out,
            "val/{i:07}.jpg,{truth},{pred},{race},{truth},{score:.4}"
        )?;
    }
    out.flush()?;
    Ok(())
}
