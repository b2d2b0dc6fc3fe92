//! `cargo xtask report DIR` and `cargo xtask compare RUN...`: markdown reports with SVG
//! charts, read from the files a training run writes.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use anyhow::Context;
use clap::Args;
use fineface_fair::{SubgroupReport, markdown_cell, markdown_inline};
use fineface_run::{
    Column, EpochMetrics, EvaluatedSplit, FinishedRun, History, RunInfo, SplitSummary,
};

use crate::charts::{self, Bar, Panel, Point, Series};

/// Writes `report.md`, `curves.svg` and `groups.svg` into a run folder.
#[derive(Debug, Args)]
pub struct ReportArgs {
    /// The run folder.
    run: PathBuf,
}

/// Writes a side-by-side table and an accuracy-vs-DoB scatter of several runs.
#[derive(Debug, Args)]
pub struct CompareArgs {
    /// Run folders.
    #[arg(required = true, num_args = 2..)]
    runs: Vec<PathBuf>,
    /// Output folder of `compare.md` and `compare.svg`.
    #[arg(long, default_value = "runs/compare")]
    out: PathBuf,
}

/// One finished run, read through `fineface-run`'s types.
struct Run {
    dir: PathBuf,
    run: FinishedRun,
}

impl Run {
    fn open(dir: &Path) -> anyhow::Result<Self> {
        Ok(Self {
            dir: dir.to_owned(),
            run: FinishedRun::open(dir)?,
        })
    }

    fn label(&self) -> String {
        let folder = self.dir.file_name().and_then(|n| n.to_str()).unwrap_or("");
        format!("{} ({})", self.run.info.name, folder)
    }

    fn info(&self) -> &RunInfo {
        &self.run.info
    }

    fn test(&self) -> &SplitSummary {
        &self.run.test.summary
    }

    fn fairness(&self) -> &SubgroupReport {
        &self.run.test.fairness
    }
}

/// Whether `column` is drawn and tabled: not the epoch or the learning rates, and without
/// FineFACE's head readings (`has_heads` false: the baseline's would repeat its one
/// prediction).
fn is_shown(column: Column, has_heads: bool) -> bool {
    let heads = matches!(column, Column::ValAccuracyConcat | Column::ValAccuracyHeads);
    !matches!(column, Column::Epoch | Column::LrBackbone | Column::LrNew) && (has_heads || !heads)
}

/// The accuracies drawn on the accuracy panel.
fn is_accuracy(column: Column) -> bool {
    matches!(
        column,
        Column::TrainAccuracy
            | Column::ValAccuracy
            | Column::ValAccuracyConcat
            | Column::ValAccuracyHeads
            | Column::ValWorstGroupAccuracy
    )
}

/// The `columns` of `history` that `keep` names, as `name(column)` and `scale` x values.
fn series(
    history: &History,
    keep: impl Fn(Column) -> bool,
    name: impl Fn(Column) -> String,
    scale: f64,
) -> Vec<Series> {
    history
        .columns
        .iter()
        .filter(|&&c| keep(c))
        .map(|&c| Series {
            name: name(c),
            values: history
                .epochs
                .iter()
                .map(|m| {
                    let value = c.value(m).expect(
                        "series are of number columns, which read_history fills in every epoch",
                    );
                    value * scale
                })
                .collect(),
        })
        .collect()
}

/// `curves.svg`'s panels: each step's loss (by its name), the accuracies in percent on a
/// 0-100 axis.
fn panels(history: &History, has_heads: bool) -> Vec<Panel> {
    vec![
        Panel {
            title: "training losses",
            y_desc: "mean loss (nats)",
            series: series(
                history,
                |c| matches!(c, Column::Loss(_)),
                |c| match c {
                    Column::Loss(loss) => loss.name().to_owned(),
                    other => other.name(),
                },
                1.0,
            ),
            y_max: None,
        },
        Panel {
            title: "accuracy",
            y_desc: "accuracy (%)",
            series: series(
                history,
                |c| is_accuracy(c) && is_shown(c, has_heads),
                Column::name,
                100.0,
            ),
            y_max: Some(100.0),
        },
    ]
}

impl Run {
    /// The title, what was trained and the test split's numbers.
    fn summary_section(&self) -> String {
        let info = self.info();
        let mut md = String::new();
        // Names come from the user's files: shown as written, never rendered.
        let _ = writeln!(
            md,
            "# {} ({}) on {}\n",
            markdown_inline(&info.name),
            info.method,
            markdown_inline(&info.dataset)
        );
        let _ = writeln!(
            md,
            "Target {} (classes {}), groups by {}. Test split: {} images, under the \
             checkpoint selected on validation{}.\n",
            markdown_inline(&info.target),
            markdown_inline(&info.classes.join(", ")),
            markdown_inline(&info.sensitive.join(" x ")),
            self.test().n,
            self.run
                .best
                .as_ref()
                .map(|b| format!(" (epoch {})", b.epoch))
                .unwrap_or_default()
        );
        md.push_str("## Test summary\n\n| metric | value |\n|---|---|\n");
        for (name, value) in self.summary_rows() {
            let _ = writeln!(md, "| {name} | {value} |");
        }
        md
    }

    /// The rows of the test summary table.
    fn summary_rows(&self) -> Vec<(&'static str, String)> {
        let t = self.test();
        let undefined = |v: Option<f64>| v.map_or("undefined".to_owned(), |v| format!("{v:.3}"));
        let mut rows = vec![("accuracy (final prediction, %)", percent(t.accuracy))];
        // The baseline has one prediction: FineFACE's head readings would repeat it.
        if self.info().method.has_heads() {
            rows.push((
                "accuracy, concat head on the image (%)",
                percent(t.accuracy_concat),
            ));
            rows.push((
                "accuracy, 4 heads on the image (%)",
                percent(t.accuracy_heads),
            ));
        }
        rows.extend([
            ("worst group", markdown_cell(&t.worst_group)),
            ("worst-group accuracy (%)", percent(t.worst_group_accuracy)),
            ("DoB: std of group accuracies (ddof 0, %)", percent(t.dob)),
            ("SER: worst / best group error", undefined(t.ser)),
            (
                "max / min group accuracy",
                undefined(self.fairness().aggregates.max_min_accuracy_ratio),
            ),
            (
                "images skipped (could not be decoded)",
                t.skipped.to_string(),
            ),
        ]);
        rows
    }
}

/// The curves and a table of every epoch (the columns [`is_shown`]).
fn curves_section(history: &History, has_heads: bool) -> String {
    let mut md = String::from("\n## Training curves\n\n![curves](curves.svg)\n\n");
    let shown: Vec<Column> = history
        .columns
        .iter()
        .copied()
        .filter(|&c| is_shown(c, has_heads))
        .collect();
    let names: Vec<String> = shown.iter().map(|c| c.name()).collect();
    let _ = writeln!(md, "| epoch | {} |", names.join(" | "));
    let _ = writeln!(md, "|---|{}", "---|".repeat(shown.len()));
    // Counts and megabytes as they are (a column of whole numbers), rates and losses to
    // four places.
    let places: Vec<usize> = shown
        .iter()
        .map(|&c| {
            let whole = history
                .epochs
                .iter()
                .all(|m| c.value(m).is_some_and(|v| v.fract() == 0.0));
            if whole { 0 } else { 4 }
        })
        .collect();
    for epoch in &history.epochs {
        let _ = write!(md, "| {} |", epoch.epoch);
        for (&column, &places) in shown.iter().zip(&places) {
            let _ = write!(md, " {} |", cell(column, epoch, places));
        }
        md.push('\n');
    }
    md
}

/// One cell of the epoch table: a number to `places`, the worst group as written.
fn cell(column: Column, epoch: &EpochMetrics, places: usize) -> String {
    match column {
        Column::ValWorstGroup => markdown_cell(&epoch.val_worst_group),
        _ => {
            let value = column
                .value(epoch)
                .expect("read_history fills every column of the header in every epoch");
            format!("{value:.places$}")
        }
    }
}

fn percent(x: f64) -> String {
    format!("{:.2}", 100.0 * x)
}

impl ReportArgs {
    /// Writes the report.
    pub fn run(&self) -> anyhow::Result<()> {
        let run = Run::open(&self.run)?;
        let history = &run.run.history;
        let epochs: Vec<u32> = history.epochs.iter().map(|m| m.epoch as u32).collect();
        let has_heads = run.info().method.has_heads();
        let report = run.run.files.report();
        charts::curves(&report.curves, &epochs, &panels(history, has_heads))?;
        charts::group_bars(
            &report.groups,
            "test accuracy per subgroup",
            &bars(run.fairness()),
            Some(100.0 * run.fairness().overall.metrics.accuracy),
        )?;
        let evaluations = run.run.evaluations()?;
        let mut md = run.summary_section();
        md.push_str(&groups_section(run.fairness()));
        md.push_str(&curves_section(history, has_heads));
        if run.run.files.crops().is_file() {
            md.push_str(CROPS_SECTION);
        }
        md.push_str(&evaluations_section(&evaluations));
        let config = std::fs::read_to_string(run.run.files.config()).unwrap_or_default();
        let _ = write!(md, "\n## Configuration\n\n```toml\n{config}```\n");
        let path = report.markdown;
        std::fs::write(&path, md).with_context(|| format!("cannot write {}", path.display()))?;
        tracing::info!("wrote {}", path.display());
        Ok(())
    }
}

/// `crops.png`'s section: its eight columns, as fineface-train's `picture.rs` draws them.
const CROPS_SECTION: &str = "\n## Attention crops (validation images)\n\n\
    One row per image. Columns: the input; each expert's attention map over the image it \
    crops (ATTN 1-3, red where the expert looks); each expert's crop (CROP 1-3); the \
    combined crop FineFACE's prediction also reads (COMBINED).\n\n\
    ![attention crops](crops.png)\n";

/// The groups of a report as bars.
fn bars(report: &SubgroupReport) -> Vec<Bar> {
    report
        .groups
        .iter()
        .map(|(g, m)| Bar {
            name: g.clone(),
            percent: 100.0 * m.accuracy,
            n: m.n,
        })
        .collect()
}

/// The subgroup table under its chart.
fn groups_section(report: &SubgroupReport) -> String {
    let mut md = String::from(
        "\n## Subgroups (test)\n\n![subgroup accuracy](groups.svg)\n\n\
         | group | n | accuracy (%) | error (%) |\n|---|---|---|---|\n",
    );
    for (group, m) in &report.groups {
        let _ = writeln!(
            md,
            "| {} | {} | {} | {} |",
            markdown_cell(group),
            m.n,
            percent(m.accuracy),
            percent(1.0 - m.accuracy)
        );
    }
    md
}

/// The run's `eval-*` folders: one summary row each, then each one's groups.
fn evaluations_section(evaluations: &[EvaluatedSplit]) -> String {
    if evaluations.is_empty() {
        return String::new();
    }
    let mut md = String::from(
        "\n## Other evaluations (`eval-*`)\n\nThe selected checkpoint on other splits or \
         datasets (`cargo xtask eval`).\n\n| evaluation | images | skipped | accuracy (%) | \
         worst group | worst-group acc. (%) | DoB (%) | SER |\n|---|---|---|---|---|---|---|---|\n",
    );
    for e in evaluations {
        let s = &e.summary;
        let _ = writeln!(
            md,
            "| [{text}](<{name}/fairness.md>) | {} | {} | {} | {} | {} | {} | {} |",
            s.n,
            s.skipped,
            percent(s.accuracy),
            markdown_cell(&s.worst_group),
            percent(s.worst_group_accuracy),
            percent(s.dob),
            s.ser.map_or("undefined".to_owned(), |v| format!("{v:.3}")),
            text = markdown_cell(&e.name),
            name = e.name
        );
    }
    for e in evaluations {
        let _ = write!(
            md,
            "\n### {}\n\n| group | n | accuracy (%) |\n|---|---|---|\n",
            markdown_inline(&e.name)
        );
        for (group, m) in &e.fairness.groups {
            let _ = writeln!(
                md,
                "| {} | {} | {} |",
                markdown_cell(group),
                m.n,
                percent(m.accuracy)
            );
        }
    }
    md
}

impl CompareArgs {
    /// Writes the comparison.
    pub fn run(&self) -> anyhow::Result<()> {
        let runs: Vec<Run> = self
            .runs
            .iter()
            .map(|d| Run::open(d))
            .collect::<anyhow::Result<_>>()?;
        let datasets: std::collections::BTreeSet<&str> =
            runs.iter().map(|r| r.info().dataset.as_str()).collect();
        if datasets.len() > 1 {
            tracing::warn!(?datasets, "comparing runs on different datasets");
        }
        let mut seen = std::collections::BTreeSet::new();
        for dir in &self.runs {
            let same = dir.canonicalize().unwrap_or_else(|_| dir.clone());
            if !seen.insert(same) {
                tracing::warn!(
                    "{} is given twice: its row and point appear twice",
                    dir.display()
                );
            }
        }
        std::fs::create_dir_all(&self.out)
            .with_context(|| format!("cannot create {}", self.out.display()))?;
        let mut md = String::from(
            "| run | method | dataset | accuracy (%) | DoB (%) | SER | max/min | worst group | worst-group acc. (%) |\n|---|---|---|---|---|---|---|---|---|\n",
        );
        for run in &runs {
            let a = &run.fairness().aggregates;
            let _ = writeln!(
                md,
                "| {} | {} | {} | {} | {} | {} | {} | {} | {} |",
                markdown_cell(&run.label()),
                run.info().method,
                run.info().dataset,
                percent(run.test().accuracy),
                percent(run.test().dob),
                run.test()
                    .ser
                    .map_or("undefined".to_owned(), |s| format!("{s:.3}")),
                a.max_min_accuracy_ratio
                    .map_or("undefined".to_owned(), |r| format!("{r:.3}")),
                markdown_cell(&run.test().worst_group),
                percent(run.test().worst_group_accuracy)
            );
        }
        let points: Vec<Point> = runs
            .iter()
            .map(|r| Point {
                label: r.label(),
                accuracy: 100.0 * r.test().accuracy,
                dob: 100.0 * r.test().dob,
            })
            .collect();
        charts::accuracy_vs_dob(&self.out.join("compare.svg"), &points)?;
        let full = format!(
            "# Comparison\n\nTest splits under each run's selected checkpoint. Better is right (accuracy) and low (DoB).\n\n{md}\n![accuracy vs DoB](compare.svg)\n"
        );
        let path = self.out.join("compare.md");
        std::fs::write(&path, full).with_context(|| format!("cannot write {}", path.display()))?;
        let mut out = std::io::stdout().lock();
        std::io::Write::write_all(&mut out, md.as_bytes())?;
        tracing::info!("wrote {} and compare.svg", path.display());
        Ok(())
    }
}
