//! A whole seed study at tiny size: 2 seeds x {FineFACE, baseline}, 2 epochs each, with a
//! cross-dataset evaluation. `study.json` must carry each run's own `fairness.json`
//! numbers, the paired differences must be the Student-t intervals of the per-seed
//! differences, and a study killed between runs (and inside one) continues where it
//! stopped.

#![allow(clippy::unwrap_used)] // Tests panic on failure by design.

use std::path::{Path, PathBuf};

use fineface_data::{DatasetConfig, SynthFace};
use fineface_fair::SubgroupReport;
use fineface_model::CpuAutodiff;
use fineface_study::{
    CrossEval, StudyMethod, StudyOptions, StudyOutcome, StudyPlan, StudySummary, run_study,
};
use fineface_train::Method;

#[path = "../../fineface-train/tests/common/mod.rs"]
mod common;

use common::tiny_config;

fn plan(dir: &Path, epochs: usize) -> StudyPlan {
    let data = dir.join("synthface");
    let method = |name: &str, method: Method| {
        let mut config = tiny_config(&data, method);
        config.train.epochs = epochs;
        config.name = format!("tiny-{name}");
        StudyMethod {
            name: name.to_owned(),
            config,
        }
    };
    // Another draw of SynthFace: the same classes and groups, other faces.
    let shifted = dir.join("shifted");
    StudyPlan {
        experiment: "tiny".to_owned(),
        seeds: vec![0, 1],
        methods: vec![
            method("fineface", Method::FineFace),
            method("baseline", Method::Baseline),
        ],
        evals: vec![CrossEval {
            name: "shifted".to_owned(),
            data: DatasetConfig::SynthFace(SynthFace {
                root: shifted.clone(),
                images: 48,
                size: 32,
                seed: 11,
            }),
            root: shifted,
        }],
        out: dir.join("study"),
    }
}

fn options(stop_after_runs: Option<usize>) -> StudyOptions {
    StudyOptions {
        stop_after_runs,
        progress: false,
        bootstrap_replicates: 200,
        paper_tables: true,
        ..StudyOptions::default()
    }
}

fn report(path: PathBuf) -> SubgroupReport {
    serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap()
}

fn study(plan: &StudyPlan, options: &StudyOptions) -> fineface_study::Result<StudyOutcome> {
    run_study::<CpuAutodiff>(plan, &[Default::default()], options)
}

/// The study's numbers of one run against its `fairness.json`, exactly.
fn assert_same_numbers(metrics: &fineface_study::RunMetrics, path: PathBuf) {
    let report = report(path);
    let a = &report.aggregates;
    assert_eq!(metrics.accuracy, report.overall.metrics.accuracy);
    assert_eq!(metrics.dob, a.dob_std_ddof0);
    assert_eq!(metrics.worst_group_accuracy, a.min_group_accuracy);
    assert_eq!(metrics.worst_group, a.worst_groups.join(" / "));
    assert_eq!(metrics.ser, a.ser);
    assert_eq!(metrics.max_min_ratio, a.max_min_accuracy_ratio);
}

/// scipy.stats.t.ppf(0.975, 1): two seeds give one degree of freedom.
const T_975_DF1: f64 = 12.706_204_736_174_694;

fn mean_and_interval(values: [f64; 2]) -> (f64, [f64; 2]) {
    let mean = (values[0] + values[1]) / 2.0;
    let sd = ((values[0] - mean).powi(2) + (values[1] - mean).powi(2)).sqrt(); // ddof 1
    let half = T_975_DF1 * sd / 2f64.sqrt();
    (mean, [mean - half, mean + half])
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-12 * (1.0 + b.abs())
}

#[test]
fn a_two_seed_study_matches_its_runs_and_continues_after_a_kill() {
    let dir = tempfile::tempdir().unwrap();
    let plan = plan(dir.path(), 2);

    // Sitting 1, "killed" after its first run.
    match study(&plan, &options(Some(1))).unwrap() {
        StudyOutcome::Stopped { finished, total } => assert_eq!((finished, total), (1, 4)),
        StudyOutcome::Finished(_) => panic!("the study should have stopped after one run"),
    }
    let first = plan.run_dir("fineface", 0);
    assert!(first.join("test/fairness.json").is_file());
    assert!(first.join("eval-shifted/fairness.json").is_file());
    assert!(!plan.run_dir("baseline", 0).exists());
    assert!(!plan.out.join("study.json").exists());
    let first_summary = std::fs::read(first.join("summary.json")).unwrap();
    let first_metrics = std::fs::read(first.join("metrics.csv")).unwrap();

    // A kill inside the second run, after its first epoch's checkpoint: the run folder has
    // that checkpoint and no test numbers.
    let second = plan.run_dir("baseline", 0);
    let second_config = plan.run_config(&plan.methods[1], 0);
    fineface_train::train::<CpuAutodiff>(
        &second_config,
        &[Default::default()],
        &fineface_train::RunOptions {
            progress: false,
            stop_after_epoch: Some(1),
            ..fineface_train::RunOptions::new(&second)
        },
    )
    .unwrap();
    let before_kill = std::fs::read_to_string(second.join("metrics.csv")).unwrap();
    assert_eq!(before_kill.lines().count(), 2, "{before_kill}");
    assert!(!second.join("test").exists());

    // Sitting 2 finishes the study.
    let StudyOutcome::Finished(summary) = study(&plan, &options(None)).unwrap() else {
        panic!("the study should have finished");
    };
    // The finished run was kept as it was, not trained again.
    assert_eq!(
        std::fs::read(first.join("summary.json")).unwrap(),
        first_summary
    );
    assert_eq!(
        std::fs::read(first.join("metrics.csv")).unwrap(),
        first_metrics
    );
    // The unfinished one continued from its checkpoint: epoch 1 as it was (timings
    // included), then epoch 2.
    let metrics = std::fs::read_to_string(second.join("metrics.csv")).unwrap();
    let lines: Vec<&str> = metrics.lines().collect();
    assert_eq!(lines.len(), 3, "{metrics}");
    assert_eq!(lines[..2].join("\n"), before_kill.trim_end());
    assert!(lines[2].starts_with("2,"), "{metrics}");
    assert!(second.join("test/fairness.json").is_file());

    // study.json is what was returned, and every number is the run's own.
    let written: StudySummary =
        serde_json::from_str(&std::fs::read_to_string(plan.out.join("study.json")).unwrap())
            .unwrap();
    assert_eq!(&written, summary.as_ref());
    assert_eq!(written.seeds, [0, 1]);
    assert_eq!(written.method_order, ["fineface", "baseline"]);
    for (name, method) in &written.methods {
        assert_eq!(method.runs.len(), 2, "{name}");
        for (run, seed) in method.runs.iter().zip([0, 1]) {
            assert_eq!(run.seed, seed);
            assert_eq!(run.run_dir, plan.run_dir(name, seed));
            assert_same_numbers(&run.test, run.run_dir.join("test/fairness.json"));
            assert_same_numbers(
                &run.evals["shifted"],
                run.run_dir.join("eval-shifted/fairness.json"),
            );
        }
        let accuracy = [method.runs[0].test.accuracy, method.runs[1].test.accuracy];
        let (mean, ci) = mean_and_interval(accuracy);
        assert!(close(method.mean.accuracy.unwrap(), mean));
        let found = method.ci95.accuracy.unwrap();
        assert!(
            close(found[0], ci[0]) && close(found[1], ci[1]),
            "{found:?} {ci:?}"
        );
    }

    // Paired differences: first method minus second, seed by seed.
    let paired = written.paired.as_ref().unwrap();
    assert_eq!(
        (paired.first.as_str(), paired.second.as_str()),
        ("fineface", "baseline")
    );
    for (metric, get) in [
        (
            "accuracy",
            (|m: &fineface_study::RunMetrics| m.accuracy) as fn(&_) -> f64,
        ),
        ("dob", |m| m.dob),
        ("worst_group_accuracy", |m| m.worst_group_accuracy),
    ] {
        let runs = |name: &str| written.methods[name].runs.iter().map(|r| get(&r.test));
        let d: Vec<f64> = runs("fineface")
            .zip(runs("baseline"))
            .map(|(a, b)| a - b)
            .collect();
        let (mean, ci) = mean_and_interval([d[0], d[1]]);
        let found = match metric {
            "accuracy" => &paired.accuracy,
            "dob" => &paired.dob,
            _ => &paired.worst_group_accuracy,
        };
        assert_eq!(found.n_seeds, 2);
        assert!(close(found.mean_diff.unwrap(), mean), "{metric}");
        let [low, high] = found.ci95.unwrap();
        assert!(close(low, ci[0]) && close(high, ci[1]), "{metric}");
    }
    assert_eq!(written.verdict, paired.verdict());
    assert!(written.evals["shifted"].paired.is_some());

    // Each group of the audit set: its size, seed mean and seed-to-seed deviation from the
    // runs' reports, and one run's binomial sampling deviation at that mean.
    let shifted = &written.methods["fineface"].evals["shifted"];
    let reports: Vec<fineface_fair::SubgroupReport> = written.methods["fineface"]
        .runs
        .iter()
        .map(|r| {
            let text = std::fs::read_to_string(r.run_dir.join("eval-shifted/fairness.json"));
            serde_json::from_str(&text.unwrap()).unwrap()
        })
        .collect();
    assert_eq!(shifted.groups.len(), reports[0].groups.len());
    for (group, spread) in &shifted.groups {
        let [a, b] = [0, 1].map(|i| reports[i].groups[group].accuracy);
        assert_eq!(spread.n, reports[0].groups[group].n, "{group}");
        assert!(close(spread.accuracy_mean, (a + b) / 2.0), "{group}");
        assert!(
            close(spread.seed_sd.unwrap(), (a - b).abs() / 2f64.sqrt()),
            "{group}"
        );
        let p = spread.accuracy_mean;
        assert!(
            close(spread.sampling_sd, (p * (1.0 - p) / spread.n as f64).sqrt()),
            "{group}"
        );
    }

    // The files for people.
    let markdown = std::fs::read_to_string(plan.out.join("study.md")).unwrap();
    for expected in [
        "| fineface | 2 |",
        "| baseline | 2 |",
        "| fineface − baseline (paired) | 2 |",
        &format!("**Verdict:** {}", written.verdict),
        "| test sample: bootstrap 95 % interval of `",
        "| seed to seed: standard deviation of the runs (ddof 1) |",
        "## Cross-dataset: shifted (synthface",
        "### Groups of shifted: seed spread and sampling noise",
        "| method | group | n | accuracy (%) | seed-to-seed SD | sampling SD |",
        "Table 2",
        "Table 3",
    ] {
        assert!(
            markdown.contains(expected),
            "no `{expected}` in\n{markdown}"
        );
    }
    // Group names join values with `|`: escaped, so that every run row keeps its 8 cells.
    for row in markdown.lines().filter(|l| l.ends_with("` |")) {
        let cells = row.replace("\\|", "").matches('|').count() - 1;
        assert_eq!(cells, 8, "{row}");
    }
    let svg = std::fs::read_to_string(plan.out.join("study.svg")).unwrap();
    assert!(svg.starts_with("<svg") && svg.contains("accuracy (%)"));

    // The paper's layout: a row per subgroup with our mean over seeds, then overall, DoB
    // and max/min. SynthFace is not the paper's dataset: its published columns stay empty.
    let tables = std::fs::read_to_string(plan.out.join("paper-tables.md")).unwrap();
    assert!(
        tables.contains("published columns are left empty"),
        "{tables}"
    );
    for (group, accuracy) in &written.methods["fineface"].group_accuracy_mean {
        let group = group.replace('|', "\\|");
        let row = format!("| {group} | {:.1} | – |", 100.0 * accuracy);
        assert!(tables.contains(&row), "no `{row}` in\n{tables}");
    }
    let overall = |fineface: &str, baseline: &str| {
        format!(
            "| **overall** | {:.1} | {fineface} | {:.1} | {baseline} |",
            100.0 * written.methods["fineface"].mean.accuracy.unwrap(),
            100.0 * written.methods["baseline"].mean.accuracy.unwrap()
        )
    };
    assert!(tables.contains(&overall("–", "–")), "{tables}");
    assert!(tables.contains("| shifted (synthface) |"), "{tables}");
    // The same study as if trained on FairFace gender: the published numbers beside ours.
    let mut fairface = plan.clone();
    for method in &mut fairface.methods {
        method.config.data =
            DatasetConfig::with_root(fineface_data::DatasetKind::FairFace, "data/fairface".into());
    }
    let tables = fineface_study::paper_tables(&written, &fairface);
    assert!(!tables.contains("left empty"), "{tables}");
    assert!(tables.contains(&overall("96.4", "93.2")), "{tables}");
    let dob = format!(
        "| **DoB** | {:.1} | 0.6 | {:.1} | 4.2 |",
        100.0 * written.methods["fineface"].mean.dob.unwrap(),
        100.0 * written.methods["baseline"].mean.dob.unwrap()
    );
    assert!(tables.contains(&dob), "{tables}");

    // Run folders of another config in the way are an error naming what differs, not
    // silently reused.
    let mut other = self::plan(dir.path(), 2);
    other.methods[0].config.train.lr_new = 0.5;
    let message = study(&other, &options(None)).unwrap_err().to_string();
    assert!(
        message.contains("fineface-seed-0 was trained with other settings")
            && message.contains("train.lr_new: run 0.01, study 0.5"),
        "{message}"
    );
}

#[test]
fn a_plan_without_seeds_or_with_repeats_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let mut no_seeds = plan(dir.path(), 1);
    no_seeds.seeds.clear();
    let mut repeated_seed = plan(dir.path(), 1);
    repeated_seed.seeds = vec![3, 3];
    let mut repeated_method = plan(dir.path(), 1);
    repeated_method.methods[1].name = "fineface".to_owned();
    for (plan, expected) in [
        (no_seeds, "at least one seed"),
        (repeated_seed, "seed 3 is listed twice"),
        (repeated_method, "method `fineface` is listed twice"),
    ] {
        let message = study(&plan, &options(None)).unwrap_err().to_string();
        assert!(message.contains(expected), "{message}");
    }
}
