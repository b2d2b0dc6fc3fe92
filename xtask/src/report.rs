//! `cargo xtask report DIR` and `cargo xtask compare RUN...`: markdown reports with SVG
//! charts, read from the files a training run writes.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use clap::Args;
use fineface_fair::{RunInfo, SplitSummary, SubgroupReport};
use plotters::prelude::*;

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

    fn series(&self, filter: impl Fn(&str) -> bool) -> Vec<(String, Vec<f64>)> {
        self.order
            .iter()
            .filter(|n| filter(n))
            .filter_map(|n| self.columns.get(n).map(|v| (n.clone(), v.clone())))
            .collect()
    }
}

/// A markdown table cell: group names join values with `|`.
fn cell(text: &str) -> String {
    text.replace('|', "\\|")
}

fn percent(x: f64) -> String {
    format!("{:.2}", 100.0 * x)
}

impl ReportArgs {
    /// Writes the report.
    pub fn run(&self) -> anyhow::Result<()> {
        let run = Run::open(&self.run)?;
        let epochs = run
            .metrics
            .columns
            .get("epoch")
            .cloned()
            .unwrap_or_default();
        line_chart(
            &self.run.join("curves.svg"),
            &epochs,
            &[
                (
                    "training losses",
                    run.metrics.series(|n| n.starts_with("loss_")),
                ),
                (
                    "accuracy",
                    run.metrics
                        .series(|n| n.ends_with("accuracy") || n.starts_with("val_accuracy")),
                ),
            ],
        )?;
        let groups: Vec<(String, f64)> = run
            .fairness
            .groups
            .iter()
            .map(|(g, m)| (g.clone(), m.accuracy))
            .collect();
        bar_chart(
            &self.run.join("groups.svg"),
            "test accuracy per subgroup",
            &groups,
        )?;
        let config = std::fs::read_to_string(self.run.join("config.toml")).unwrap_or_default();
        let best: Option<serde_json::Value> = read_json(&self.run.join("best.json")).ok();
        let a = &run.fairness.aggregates;
        let mut md = String::new();
        let _ = writeln!(
            md,
            "# {} ({}) on {}\n",
            run.info.name, run.info.method, run.info.dataset
        );
        let _ = writeln!(
            md,
            "Target `{}` (classes {}), groups by {}. Test split: {} images, under the checkpoint selected on validation{}.\n",
            run.info.target,
            run.info.classes.join(", "),
            run.info.sensitive.join(" x "),
            run.test.n,
            best.as_ref()
                .and_then(|b| b["epoch"].as_u64())
                .map(|e| format!(" (epoch {e})"))
                .unwrap_or_default()
        );
        md.push_str("## Test summary\n\n| metric | value |\n|---|---|\n");
        let ser = run
            .test
            .ser
            .map_or("undefined".to_owned(), |s| format!("{s:.3}"));
        let ratio = a
            .max_min_accuracy_ratio
            .map_or("undefined".to_owned(), |r| format!("{r:.3}"));
        for (name, value) in [
            ("accuracy (final prediction, %)", percent(run.test.accuracy)),
            (
                "accuracy, concat head on the image (%)",
                percent(run.test.accuracy_concat),
            ),
            (
                "accuracy, 4 heads on the image (%)",
                percent(run.test.accuracy_heads),
            ),
            ("worst group", cell(&run.test.worst_group)),
            (
                "worst-group accuracy (%)",
                percent(run.test.worst_group_accuracy),
            ),
            (
                "DoB: std of group accuracies (ddof 0, %)",
                percent(run.test.dob),
            ),
            ("SER: worst / best group error", ser),
            ("max / min group accuracy", ratio),
            (
                "images skipped (could not be decoded)",
                run.test.skipped.to_string(),
            ),
        ] {
            let _ = writeln!(md, "| {name} | {value} |");
        }
        md.push_str("\n## Subgroups (test)\n\n![subgroup accuracy](groups.svg)\n\n| group | n | accuracy (%) | error (%) |\n|---|---|---|---|\n");
        for (group, m) in &run.fairness.groups {
            let _ = writeln!(
                md,
                "| {} | {} | {} | {} |",
                cell(group),
                m.n,
                percent(m.accuracy),
                percent(1.0 - m.accuracy)
            );
        }
        md.push_str("\n## Training curves\n\n![curves](curves.svg)\n\n");
        md.push_str("| epoch | ");
        let shown: Vec<&String> = run
            .metrics
            .order
            .iter()
            .filter(|n| n.as_str() != "epoch" && !n.starts_with("lr_"))
            .collect();
        let _ = writeln!(
            md,
            "{} |",
            shown
                .iter()
                .map(|s| s.as_str())
                .collect::<Vec<_>>()
                .join(" | ")
        );
        let _ = writeln!(md, "|---|{}", "---|".repeat(shown.len()));
        for (i, epoch) in epochs.iter().enumerate() {
            let _ = write!(md, "| {epoch} |");
            for name in &shown {
                let _ = write!(md, " {:.4} |", run.metrics.columns[*name][i]);
            }
            md.push('\n');
        }
        if self.run.join("crops.png").is_file() {
            md.push_str(
                "\n## Attention crops (validation images)\n\nColumns: original, expert 1, expert 2 and expert 3's crops, the combined crop.\n\n![attention crops](crops.png)\n",
            );
        }
        let _ = write!(md, "\n## Configuration\n\n```toml\n{}```\n", config);
        let path = self.run.join("report.md");
        std::fs::write(&path, md).with_context(|| format!("cannot write {}", path.display()))?;
        tracing::info!("wrote {}", path.display());
        Ok(())
    }
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
                run.label(),
                run.info.method,
                run.info.dataset,
                percent(run.test.accuracy),
                percent(run.test.dob),
                run.test
                    .ser
                    .map_or("undefined".to_owned(), |s| format!("{s:.3}")),
                a.max_min_accuracy_ratio
                    .map_or("undefined".to_owned(), |r| format!("{r:.3}")),
                cell(&run.test.worst_group),
                percent(run.test.worst_group_accuracy)
            );
        }
        let points: Vec<(String, f64, f64)> = runs
            .iter()
            .map(|r| (r.label(), 100.0 * r.test.accuracy, 100.0 * r.test.dob))
            .collect();
        scatter(&self.out.join("compare.svg"), &points)?;
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

type Panel = (&'static str, Vec<(String, Vec<f64>)>);

/// One line chart per panel, side by side, x = epoch.
fn line_chart(path: &Path, epochs: &[f64], panels: &[Panel]) -> anyhow::Result<()> {
    if epochs.is_empty() {
        bail!("{}: no epochs in metrics.csv", path.display());
    }
    let width = 520 * panels.len() as u32;
    let root = SVGBackend::new(path, (width, 380)).into_drawing_area();
    root.fill(&WHITE).map_err(plot_error)?;
    let areas = root.split_evenly((1, panels.len()));
    let x_max = epochs.last().copied().unwrap_or(1.0).max(2.0);
    for (area, (title, series)) in areas.iter().zip(panels) {
        let y_max = series
            .iter()
            .flat_map(|(_, v)| v.iter().copied())
            .fold(0.0f64, f64::max)
            .max(1e-3)
            * 1.05;
        let mut chart = ChartBuilder::on(area)
            .caption(*title, ("sans-serif", 18))
            .margin(12)
            .x_label_area_size(32)
            .y_label_area_size(48)
            .build_cartesian_2d(1.0..x_max, 0.0..y_max)
            .map_err(plot_error)?;
        chart
            .configure_mesh()
            .x_desc("epoch")
            .draw()
            .map_err(plot_error)?;
        for (i, (name, values)) in series.iter().enumerate() {
            let colour = Palette99::pick(i).to_rgba();
            chart
                .draw_series(LineSeries::new(
                    epochs.iter().copied().zip(values.iter().copied()),
                    colour.stroke_width(2),
                ))
                .map_err(plot_error)?
                .label(name.as_str())
                .legend(move |(x, y)| {
                    PathElement::new(vec![(x, y), (x + 16, y)], colour.stroke_width(2))
                });
        }
        chart
            .configure_series_labels()
            .background_style(WHITE.mix(0.85))
            .border_style(BLACK)
            .position(SeriesLabelPosition::LowerLeft)
            .draw()
            .map_err(plot_error)?;
    }
    root.present().map_err(plot_error)
}

/// Vertical bars, one per group, accuracy in percent.
fn bar_chart(path: &Path, title: &str, bars: &[(String, f64)]) -> anyhow::Result<()> {
    let width = (80 * bars.len() as u32).max(480);
    let root = SVGBackend::new(path, (width, 400)).into_drawing_area();
    root.fill(&WHITE).map_err(plot_error)?;
    let low = bars.iter().map(|(_, a)| 100.0 * a).fold(100.0f64, f64::min);
    let y_min = (low - 10.0).floor().clamp(0.0, 90.0);
    let mut chart = ChartBuilder::on(&root)
        .caption(title, ("sans-serif", 18))
        .margin(12)
        .x_label_area_size(60)
        .y_label_area_size(48)
        .build_cartesian_2d((0..bars.len() as i32).into_segmented(), y_min..100.0)
        .map_err(plot_error)?;
    let names: Vec<String> = bars.iter().map(|(n, _)| n.clone()).collect();
    chart
        .configure_mesh()
        .y_desc("accuracy (%)")
        .x_labels(bars.len())
        .x_label_formatter(&|v| match v {
            SegmentValue::CenterOf(i) | SegmentValue::Exact(i) => {
                names.get(*i as usize).cloned().unwrap_or_default()
            }
            SegmentValue::Last => String::new(),
        })
        .draw()
        .map_err(plot_error)?;
    chart
        .draw_series(
            Histogram::vertical(&chart)
                .style(RGBColor(70, 110, 180).filled())
                .margin(8)
                .data(
                    bars.iter()
                        .enumerate()
                        .map(|(i, (_, a))| (i as i32, 100.0 * a)),
                ),
        )
        .map_err(plot_error)?;
    root.present().map_err(plot_error)
}

/// Accuracy (x) against DoB (y), one labelled point per run.
fn scatter(path: &Path, points: &[(String, f64, f64)]) -> anyhow::Result<()> {
    let root = SVGBackend::new(path, (640, 440)).into_drawing_area();
    root.fill(&WHITE).map_err(plot_error)?;
    let (x_lo, x_hi) = points.iter().fold((f64::MAX, f64::MIN), |(lo, hi), p| {
        (lo.min(p.1), hi.max(p.1))
    });
    let y_hi = points.iter().map(|p| p.2).fold(0.0f64, f64::max);
    let pad = ((x_hi - x_lo) * 0.2).max(1.0);
    let mut chart = ChartBuilder::on(&root)
        .caption("accuracy vs degree of bias (test)", ("sans-serif", 18))
        .margin(16)
        .x_label_area_size(36)
        .y_label_area_size(48)
        .build_cartesian_2d(
            (x_lo - pad)..(x_hi + pad).min(100.5),
            0.0..(y_hi * 1.3).max(1.0),
        )
        .map_err(plot_error)?;
    chart
        .configure_mesh()
        .x_desc("accuracy (%)")
        .y_desc("DoB (%)")
        .draw()
        .map_err(plot_error)?;
    for (i, (name, x, y)) in points.iter().enumerate() {
        let colour = Palette99::pick(i).to_rgba();
        chart
            .draw_series(std::iter::once(Circle::new((*x, *y), 6, colour.filled())))
            .map_err(plot_error)?;
        chart
            .draw_series(std::iter::once(Text::new(
                name.clone(),
                (*x, *y),
                ("sans-serif", 13).into_font(),
            )))
            .map_err(plot_error)?;
    }
    root.present().map_err(plot_error)
}

fn plot_error<E: std::fmt::Debug>(error: E) -> anyhow::Error {
    anyhow::anyhow!("plotting failed: {error:?}")
}
