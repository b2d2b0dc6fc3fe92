//! `cargo xtask report DIR` and `cargo xtask compare RUN...`: markdown reports with SVG
//! charts, read from the files a training run writes.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use anyhow::Context;
use clap::Args;
use fineface_fair::{RunInfo, SplitSummary, SubgroupReport, markdown_cell, markdown_inline};

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

/// One trained run's files.
struct Run {
    dir: PathBuf,
    info: RunInfo,
    test: SplitSummary,
    fairness: SubgroupReport,
    metrics: Metrics,
}

/// `metrics.csv` as columns.
struct Metrics {
    columns: BTreeMap<String, Vec<f64>>,
    order: Vec<String>,
}

fn read_json<T: serde::de::DeserializeOwned>(path: &Path) -> anyhow::Result<T> {
    let text = std::fs::read_to_string(path).with_context(|| {
        format!(
            "cannot read {} (is this a finished run folder?)",
            path.display()
        )
    })?;
    serde_json::from_str(&text).with_context(|| format!("cannot parse {}", path.display()))
}

impl Run {
    fn open(dir: &Path) -> anyhow::Result<Self> {
        Ok(Self {
            dir: dir.to_owned(),
            info: read_json(&dir.join(RunInfo::FILE_NAME))?,
            test: read_json(&dir.join("test").join(SplitSummary::FILE_NAME))?,
            fairness: read_json(&dir.join("test/fairness.json"))?,
            metrics: Metrics::read(&dir.join("metrics.csv"))?,
        })
    }

    fn label(&self) -> String {
        let folder = self.dir.file_name().and_then(|n| n.to_str()).unwrap_or("");
        format!("{} ({})", self.info.name, folder)
    }
}

impl Metrics {
    fn read(path: &Path) -> anyhow::Result<Self> {
        let mut reader = csv::Reader::from_path(path)
            .with_context(|| format!("cannot read {}", path.display()))?;
        let order: Vec<String> = reader.headers()?.iter().map(str::to_owned).collect();
        let mut columns: BTreeMap<String, Vec<f64>> = BTreeMap::new();
        for (line, record) in reader.records().enumerate() {
            let record = record.with_context(|| format!("{}:{}", path.display(), line + 2))?;
            for (name, value) in order.iter().zip(record.iter()) {
                let value: f64 = value.parse().with_context(|| {
                    format!("{}:{}: `{value}` in {name}", path.display(), line + 2)
                })?;
                columns.entry(name.clone()).or_default().push(value);
            }
        }
        Ok(Self { columns, order })
    }

    /// The columns `keep` names (in file order), as `name(column)` and `scale` x values.
    fn series(
        &self,
        keep: impl Fn(&str) -> bool,
        name: impl Fn(&str) -> String,
        scale: f64,
    ) -> Vec<Series> {
        self.order
            .iter()
            .filter(|n| keep(n))
            .filter_map(|n| {
                self.columns.get(n).map(|v| Series {
                    name: name(n),
                    values: v.iter().map(|x| x * scale).collect(),
                })
            })
            .collect()
    }

    /// Whether `column` is drawn and tabled: not the learning rates, and for a baseline
    /// (`one_prediction`) not FineFACE's head readings, which repeat its one prediction.
    fn shown(column: &str, one_prediction: bool) -> bool {
        let heads = column == "val_accuracy_concat" || column == "val_accuracy_heads";
        column != "epoch" && !column.starts_with("lr_") && !(one_prediction && heads)
    }

    /// `curves.svg`'s panels: each step's loss (named without `loss_`), the accuracies in
    /// percent on a 0-100 axis.
    fn panels(&self, one_prediction: bool) -> Vec<Panel> {
        vec![
            Panel {
                title: "training losses",
                y_desc: "mean loss (nats)",
                series: self.series(
                    |n| n.starts_with("loss_"),
                    |n| n.trim_start_matches("loss_").to_owned(),
                    1.0,
                ),
                y_max: None,
            },
            Panel {
                title: "accuracy",
                y_desc: "accuracy (%)",
                series: self.series(
                    |n| {
                        (n.ends_with("accuracy") || n.starts_with("val_accuracy"))
                            && Self::shown(n, one_prediction)
                    },
                    str::to_owned,
                    100.0,
                ),
                y_max: Some(100.0),
            },
        ]
    }
}

impl Run {
    /// The title, what was trained and the test split's numbers.
    fn summary_section(&self) -> String {
        let best: Option<serde_json::Value> = read_json(&self.dir.join("best.json")).ok();
        let mut md = String::new();
        // Names come from the user's files: shown as written, never rendered.
        let _ = writeln!(
            md,
            "# {} ({}) on {}\n",
            markdown_inline(&self.info.name),
            markdown_inline(&self.info.method),
            markdown_inline(&self.info.dataset)
        );
        let _ = writeln!(
            md,
            "Target {} (classes {}), groups by {}. Test split: {} images, under the \
             checkpoint selected on validation{}.\n",
            markdown_inline(&self.info.target),
            markdown_inline(&self.info.classes.join(", ")),
            markdown_inline(&self.info.sensitive.join(" x ")),
            self.test.n,
            best.as_ref()
                .and_then(|b| b["epoch"].as_u64())
                .map(|e| format!(" (epoch {e})"))
                .unwrap_or_default()
        );
        md.push_str("## Test summary\n\n| metric | value |\n|---|---|\n");
        let t = &self.test;
        let undefined = |v: Option<f64>| v.map_or("undefined".to_owned(), |v| format!("{v:.3}"));
        let mut rows = vec![("accuracy (final prediction, %)", percent(t.accuracy))];
        // The baseline has one prediction: FineFACE's head readings would repeat it.
        if self.info.method != "baseline" {
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
                undefined(self.fairness.aggregates.max_min_accuracy_ratio),
            ),
            (
                "images skipped (could not be decoded)",
                t.skipped.to_string(),
            ),
        ]);
        for (name, value) in rows {
            let _ = writeln!(md, "| {name} | {value} |");
        }
        md
    }
}

impl Metrics {
    /// The `epoch` column.
    fn epochs(&self) -> Vec<u32> {
        self.columns
            .get("epoch")
            .map(|e| e.iter().map(|&v| v as u32).collect())
            .unwrap_or_default()
    }

    /// The curves and a table of every epoch (the columns [`Self::shown`]).
    fn curves_section(&self, one_prediction: bool) -> String {
        let mut md = String::from("\n## Training curves\n\n![curves](curves.svg)\n\n");
        let shown: Vec<&String> = self
            .order
            .iter()
            .filter(|n| Self::shown(n, one_prediction))
            .collect();
        let names: Vec<&str> = shown.iter().map(|s| s.as_str()).collect();
        let _ = writeln!(md, "| epoch | {} |", names.join(" | "));
        let _ = writeln!(md, "|---|{}", "---|".repeat(shown.len()));
        for (i, epoch) in self.epochs().iter().enumerate() {
            let _ = write!(md, "| {epoch} |");
            for name in &shown {
                let column = &self.columns[*name];
                // Counts and megabytes as they are, rates and losses to four places.
                let whole = column.iter().all(|v| v.fract() == 0.0);
                let places = if whole { 0 } else { 4 };
                let _ = write!(md, " {:.places$} |", column[i]);
            }
            md.push('\n');
        }
        md
    }
}

fn percent(x: f64) -> String {
    format!("{:.2}", 100.0 * x)
}

impl ReportArgs {
    /// Writes the report.
    pub fn run(&self) -> anyhow::Result<()> {
        let run = Run::open(&self.run)?;
        let epochs = run.metrics.epochs();
        let baseline = run.info.method == "baseline";
        charts::curves(
            &self.run.join("curves.svg"),
            &epochs,
            &run.metrics.panels(baseline),
        )?;
        charts::group_bars(
            &self.run.join("groups.svg"),
            "test accuracy per subgroup",
            &bars(&run.fairness),
            Some(100.0 * run.fairness.overall.metrics.accuracy),
        )?;
        let evaluations = Evaluation::all(&self.run)?;
        let mut md = run.summary_section();
        md.push_str(&groups_section(&run.fairness));
        md.push_str(&run.metrics.curves_section(baseline));
        if self.run.join("crops.png").is_file() {
            md.push_str(CROPS_SECTION);
        }
        md.push_str(&evaluations_section(&evaluations));
        let config = std::fs::read_to_string(self.run.join("config.toml")).unwrap_or_default();
        let _ = write!(md, "\n## Configuration\n\n```toml\n{config}```\n");
        let path = self.run.join("report.md");
        std::fs::write(&path, md).with_context(|| format!("cannot write {}", path.display()))?;
        tracing::info!("wrote {}", path.display());
        Ok(())
    }
}

/// `crops.png`'s section: its eight columns, as `fineface_train::picture` draws them.
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

/// A cross-dataset (or other split's) evaluation of the run: `eval-*/`.
struct Evaluation {
    /// The folder's name (`eval-utkface-all`).
    name: String,
    summary: SplitSummary,
    fairness: SubgroupReport,
}

impl Evaluation {
    /// Every finished `eval-*` folder of `run` (its `summary.json` written), by name.
    fn all(run: &Path) -> anyhow::Result<Vec<Self>> {
        let entries =
            std::fs::read_dir(run).with_context(|| format!("cannot read {}", run.display()))?;
        let mut found = Vec::new();
        for entry in entries {
            let dir = entry
                .with_context(|| format!("cannot read {}", run.display()))?
                .path();
            let Some(name) = dir.file_name().and_then(|n| n.to_str()) else {
                continue;
            };
            if !name.starts_with("eval-") {
                continue;
            }
            // summary.json is the last file an evaluation writes.
            if !dir.join(SplitSummary::FILE_NAME).is_file() {
                tracing::warn!(
                    "{}: unfinished evaluation (no summary.json), left out",
                    dir.display()
                );
                continue;
            }
            found.push(Self {
                name: name.to_owned(),
                summary: read_json(&dir.join(SplitSummary::FILE_NAME))?,
                fairness: read_json(&dir.join("fairness.json"))?,
            });
        }
        found.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(found)
    }
}

/// The run's `eval-*` folders: one summary row each, then each one's groups.
fn evaluations_section(evaluations: &[Evaluation]) -> String {
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
            runs.iter().map(|r| r.info.dataset.as_str()).collect();
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
            let a = &run.fairness.aggregates;
            let _ = writeln!(
                md,
                "| {} | {} | {} | {} | {} | {} | {} | {} | {} |",
                markdown_cell(&run.label()),
                run.info.method,
                run.info.dataset,
                percent(run.test.accuracy),
                percent(run.test.dob),
                run.test
                    .ser
                    .map_or("undefined".to_owned(), |s| format!("{s:.3}")),
                a.max_min_accuracy_ratio
                    .map_or("undefined".to_owned(), |r| format!("{r:.3}")),
                markdown_cell(&run.test.worst_group),
                percent(run.test.worst_group_accuracy)
            );
        }
        let points: Vec<Point> = runs
            .iter()
            .map(|r| Point {
                label: r.label(),
                accuracy: 100.0 * r.test.accuracy,
                dob: 100.0 * r.test.dob,
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
