//! `study.md`: the study's tables for people.

use std::fmt::Write as _;

use fineface_fair::{BootstrapReport, Interval};

use crate::stats::{Interval95, sd_ddof1};
use crate::summary::{Metric, MetricIntervals, MetricValues, PairedSummary, StudySummary};

/// A metric's mean with the half-width of its interval: `82.1 ± 1.2` (accuracy, DoB and
/// worst group in %, ratios as they are), `inf`, or `n/a`.
fn mean_pm(metric: Metric, mean: Option<f64>, ci: Option<Interval95>) -> String {
    let Some(mean) = mean else {
        return "n/a".to_owned();
    };
    if mean.is_infinite() {
        return "inf".to_owned();
    }
    let (scale, digits) = scale(metric);
    match ci {
        Some([low, high]) => format!(
            "{:.digits$} ± {:.digits$}",
            scale * mean,
            scale * (high - low) / 2.0
        ),
        None => format!("{:.digits$}", scale * mean),
    }
}

/// The worst group(s) of a run; a tie of more than two (a perfect run ties every group) as
/// its count.
fn worst_groups(joined: &str) -> String {
    match joined.split(" / ").count() {
        n if n > 2 => format!("{n} groups tie at"),
        _ => fineface_fair::markdown_cell(joined),
    }
}

fn scale(metric: Metric) -> (f64, usize) {
    if metric.is_fraction() {
        (100.0, 1)
    } else {
        (1.0, 2)
    }
}

fn value(metric: Metric, v: Option<f64>) -> String {
    match v {
        None => "n/a".to_owned(),
        Some(v) if v.is_infinite() => "inf".to_owned(),
        Some(v) => {
            let (scale, digits) = scale(metric);
            format!("{:.digits$}", scale * v)
        }
    }
}

fn interval(metric: Metric, ci: Option<Interval95>) -> String {
    match ci {
        None => "n/a".to_owned(),
        Some([low, high]) => {
            let (scale, digits) = scale(metric);
            format!("[{:+.digits$}, {:+.digits$}]", scale * low, scale * high)
        }
    }
}

const HEADER: &str = "| method | seeds | accuracy (%) | DoB (%) | worst group (%) | SER | max/min |\n\
                      |---|---:|---:|---:|---:|---:|---:|\n";

fn method_row(out: &mut String, name: &str, n: usize, mean: &MetricValues, ci: &MetricIntervals) {
    let cells: Vec<String> = Metric::ALL
        .iter()
        .map(|&m| mean_pm(m, mean.get(m), ci.get(m)))
        .collect();
    let _ = writeln!(out, "| {name} | {n} | {} |", cells.join(" | "));
}

fn paired_row(out: &mut String, paired: &PairedSummary) {
    let cells: Vec<String> = Metric::ALL
        .iter()
        .map(|&m| {
            let d = paired.get(m);
            match d.mean_diff {
                None => "n/a".to_owned(),
                Some(mean) => {
                    let (scale, digits) = scale(m);
                    format!("{:+.digits$} {}", scale * mean, interval(m, d.ci95))
                }
            }
        })
        .collect();
    let _ = writeln!(
        out,
        "| {} − {} (paired) | {} | {} |",
        paired.first,
        paired.second,
        paired.accuracy.n_seeds,
        cells.join(" | ")
    );
}

fn bootstrap_interval(metric: Metric, interval: Option<&Interval>) -> String {
    match interval {
        Some(Interval {
            low: Some(low),
            high: Some(high),
            ..
        }) => {
            let (scale, digits) = scale(metric);
            format!("[{:.digits$}, {:.digits$}]", scale * low, scale * high)
        }
        _ => "n/a".to_owned(),
    }
}

/// The markdown of `study.md`: per dataset a table of means ± 95 % half-widths over seeds,
/// the paired differences with their intervals and the verdict, every run, and the
/// representative run's test-sample bootstrap intervals beside the seed spread.
pub fn study_markdown(
    summary: &StudySummary,
    bootstrap: Option<&(String, BootstrapReport)>,
) -> String {
    let mut out = String::new();
    let seeds: Vec<String> = summary.seeds.iter().map(u64::to_string).collect();
    let _ = writeln!(out, "# Seed study: {}\n", summary.experiment);
    let _ = writeln!(
        out,
        "Seeds {} for every method; a seed fixes initialisation, splits, data order and \
         augmentation, so the methods are paired. Cells are the mean over seeds ± the \
         half-width of its Student-t 95 % interval; paired rows are the mean of the per-seed \
         differences with its 95 % interval. Accuracy, DoB (std of group accuracy, ddof 0) \
         and the worst group's accuracy in %.\n",
        seeds.join(", ")
    );
    let _ = writeln!(out, "## Test split\n");
    out.push_str(HEADER);
    for name in &summary.method_order {
        let m = &summary.methods[name];
        method_row(&mut out, name, m.runs.len(), &m.mean, &m.ci95);
    }
    if let Some(paired) = &summary.paired {
        paired_row(&mut out, paired);
    }
    let _ = writeln!(out, "\n**Verdict:** {}\n", summary.verdict);
    runs_table(&mut out, summary);
    if let Some((run_dir, report)) = bootstrap {
        noise_table(&mut out, summary, run_dir, report);
    }
    for (name, eval) in &summary.evals {
        let _ = writeln!(
            out,
            "\n## Cross-dataset: {name} ({} at `{}`, all images; groups by {})\n",
            eval.dataset,
            eval.root.display(),
            if eval.groups.is_empty() {
                "its sensitive attributes".to_owned()
            } else {
                eval.groups.join(" x ")
            }
        );
        out.push_str(HEADER);
        for method in &summary.method_order {
            let m = &summary.methods[method];
            if let Some(s) = m.evals.get(name) {
                method_row(&mut out, method, m.runs.len(), &s.mean, &s.ci95);
            }
        }
        if let Some(paired) = &eval.paired {
            paired_row(&mut out, paired);
        }
        if let Some(verdict) = &eval.verdict {
            let _ = writeln!(out, "\n**Verdict on {name}:** {verdict}");
        }
        group_table(&mut out, summary, name);
    }
    out
}

/// Every run's test numbers, one row each.
fn runs_table(out: &mut String, summary: &StudySummary) {
    let _ = writeln!(out, "### Runs\n");
    let _ = writeln!(
        out,
        "| method | seed | accuracy (%) | DoB (%) | worst group | SER | max/min | run |\n\
         |---|---:|---:|---:|---|---:|---:|---|"
    );
    for name in &summary.method_order {
        for run in &summary.methods[name].runs {
            let t = &run.test;
            let _ = writeln!(
                out,
                "| {name} | {} | {} | {} | {} {} | {} | {} | `{}` |",
                run.seed,
                value(Metric::Accuracy, Some(t.accuracy)),
                value(Metric::Dob, Some(t.dob)),
                worst_groups(&t.worst_group),
                value(Metric::WorstGroupAccuracy, Some(t.worst_group_accuracy)),
                value(Metric::Ser, t.ser),
                value(Metric::MaxMinRatio, t.max_min_ratio),
                run.run_dir.display()
            );
        }
    }
}

/// Each group's accuracy on a cross-dataset evaluation per method: mean ± its 95 % interval
/// over seeds, and the seed-to-seed deviation beside one run's sampling deviation.
fn group_table(out: &mut String, summary: &StudySummary, eval: &str) {
    let _ = writeln!(
        out,
        "\n### Groups of {eval}: seed spread and sampling noise\n\n\
         Accuracy in %: the mean over seeds ± the half-width of its 95 % interval; then the \
         standard deviation of a single run's accuracy from seed to seed (ddof 1) and from the \
         sampling of the group's images (binomial, `sqrt(p (1 - p) / n)`).\n\n\
         | method | group | n | accuracy (%) | seed-to-seed SD | sampling SD |\n\
         |---|---|---:|---:|---:|---:|"
    );
    for method in &summary.method_order {
        let Some(s) = summary.methods[method].evals.get(eval) else {
            continue;
        };
        for (group, g) in &s.groups {
            let _ = writeln!(
                out,
                "| {method} | {} | {} | {} | {} | {:.2} |",
                fineface_fair::markdown_cell(group),
                g.n,
                mean_pm(Metric::Accuracy, Some(g.accuracy_mean), g.accuracy_ci95),
                g.seed_sd
                    .map_or_else(|| "n/a".to_owned(), |sd| format!("{:.2}", 100.0 * sd)),
                100.0 * g.sampling_sd
            );
        }
    }
}

/// Seed-to-seed spread beside one test split's sampling noise: both as the standard
/// deviation of a single run's number, so that they compare like with like.
fn noise_table(out: &mut String, summary: &StudySummary, run_dir: &str, report: &BootstrapReport) {
    let Some(first) = summary.method_order.first() else {
        return;
    };
    let method = &summary.methods[first];
    let values = |metric: Metric| -> Vec<f64> {
        method
            .runs
            .iter()
            .filter_map(|r| r.test.get(metric))
            .collect()
    };
    let range = |metric: Metric| {
        let v = values(metric);
        let low = v.iter().copied().fold(f64::INFINITY, f64::min);
        let high = v.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        format!("{:.1} to {:.1}", 100.0 * low, 100.0 * high)
    };
    let sd = |metric: Metric| {
        sd_ddof1(&values(metric))
            .map_or_else(|| "n/a".to_owned(), |sd| format!("{:.1}", 100.0 * sd))
    };
    let width = |interval: Option<&Interval>| match interval {
        Some(Interval {
            low: Some(low),
            high: Some(high),
            ..
        }) => format!(
            "{:.1}",
            100.0 * (high - low) / (2.0 * 1.959_963_984_540_054)
        ),
        _ => "n/a".to_owned(),
    };
    let _ = writeln!(
        out,
        "\n### Which noise dominates ({first})\n\n\
         | source | accuracy (%) | DoB (%) |\n|---|---|---|"
    );
    let _ = writeln!(
        out,
        "| the {} runs, one per seed: lowest to highest | {} | {} |",
        method.runs.len(),
        range(Metric::Accuracy),
        range(Metric::Dob)
    );
    let _ = writeln!(
        out,
        "| seed to seed: standard deviation of the runs (ddof 1) | {} | {} |",
        sd(Metric::Accuracy),
        sd(Metric::Dob)
    );
    let _ = writeln!(
        out,
        "| test sample: bootstrap 95 % interval of `{run_dir}` ({} replicates, stratified by group) | {} | {} |",
        report.replicates,
        bootstrap_interval(Metric::Accuracy, Some(&report.overall_accuracy)),
        bootstrap_interval(Metric::Dob, report.aggregates.get("dob_std_ddof0"))
    );
    let _ = writeln!(
        out,
        "| test sample: the same as a standard deviation (half-width / 1.96) | {} | {} |",
        width(Some(&report.overall_accuracy)),
        width(report.aggregates.get("dob_std_ddof0"))
    );
    let _ = writeln!(
        out,
        "\nWhen one run's test-sample deviation is as large as the deviation between seeds, the \
         test split's size, not the seed, limits what the study can tell; more seeds then \
         narrow the mean's interval only as 1/sqrt(seeds)."
    );
}
