//! `study.json`: every run's test (and cross-dataset) numbers, their means and intervals
//! over seeds, the paired differences between the first two methods, and the verdict.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use fineface_fair::SubgroupReport;
use fineface_run::{RunFiles, SplitFiles};
use serde::{Deserialize, Serialize};

use crate::error::{Result, StudyError};
use crate::plan::{StudyMethod, StudyPlan};
use crate::stats::{Interval95, PairedDifference, mean_ci95, sd_ddof1};

/// The numbers a study compares, read from one run's `fairness.json` (fractions, not %).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunMetrics {
    /// Pooled accuracy (`overall.accuracy`).
    pub accuracy: f64,
    /// Degree of Bias: standard deviation of the group accuracies, ddof 0
    /// (`aggregates.dob_std_ddof0`).
    pub dob: f64,
    /// The group(s) of lowest accuracy, joined by ` / ` on a tie.
    pub worst_group: String,
    /// Their accuracy (`aggregates.min_group_accuracy`).
    pub worst_group_accuracy: f64,
    /// Skewed Error Ratio: `"inf"` when the best group made no error, `null` when no group did.
    #[serde(with = "fineface_fair::extended_float")]
    pub ser: Option<f64>,
    /// Highest over lowest group accuracy (the papers' max/min).
    #[serde(with = "fineface_fair::extended_float")]
    pub max_min_ratio: Option<f64>,
}

impl RunMetrics {
    /// The study's numbers of a fairness report.
    pub fn of(report: &SubgroupReport) -> Self {
        let a = &report.aggregates;
        Self {
            accuracy: report.overall.metrics.accuracy,
            dob: a.dob_std_ddof0,
            worst_group: a.worst_groups.join(" / "),
            worst_group_accuracy: a.min_group_accuracy,
            ser: a.ser,
            max_min_ratio: a.max_min_accuracy_ratio,
        }
    }

    /// One metric's value.
    pub fn get(&self, metric: Metric) -> Option<f64> {
        match metric {
            Metric::Accuracy => Some(self.accuracy),
            Metric::Dob => Some(self.dob),
            Metric::WorstGroupAccuracy => Some(self.worst_group_accuracy),
            Metric::Ser => self.ser,
            Metric::MaxMinRatio => self.max_min_ratio,
        }
    }
}

/// The metrics averaged over seeds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Metric {
    /// Pooled accuracy.
    Accuracy,
    /// Degree of Bias (std of group accuracy).
    Dob,
    /// Accuracy of the worst group.
    WorstGroupAccuracy,
    /// Skewed Error Ratio.
    Ser,
    /// Max/min group accuracy.
    MaxMinRatio,
}

impl Metric {
    /// Every metric, in the order of the tables.
    pub const ALL: [Metric; 5] = [
        Metric::Accuracy,
        Metric::Dob,
        Metric::WorstGroupAccuracy,
        Metric::Ser,
        Metric::MaxMinRatio,
    ];

    /// The JSON key.
    pub fn key(self) -> &'static str {
        match self {
            Metric::Accuracy => "accuracy",
            Metric::Dob => "dob",
            Metric::WorstGroupAccuracy => "worst_group_accuracy",
            Metric::Ser => "ser",
            Metric::MaxMinRatio => "max_min_ratio",
        }
    }

    /// Whether the metric is a fraction shown in percentage points (the others are ratios).
    pub fn is_fraction(self) -> bool {
        matches!(
            self,
            Metric::Accuracy | Metric::Dob | Metric::WorstGroupAccuracy
        )
    }
}

/// One value per metric (a mean over seeds, or `None` where undefined).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct MetricValues {
    /// Accuracy.
    pub accuracy: Option<f64>,
    /// Degree of Bias.
    pub dob: Option<f64>,
    /// Worst group's accuracy.
    pub worst_group_accuracy: Option<f64>,
    /// SER (`"inf"` when a run's SER is infinite).
    #[serde(with = "fineface_fair::extended_float")]
    pub ser: Option<f64>,
    /// Max/min ratio.
    #[serde(with = "fineface_fair::extended_float")]
    pub max_min_ratio: Option<f64>,
}

impl MetricValues {
    /// One metric's value.
    pub fn get(&self, metric: Metric) -> Option<f64> {
        match metric {
            Metric::Accuracy => self.accuracy,
            Metric::Dob => self.dob,
            Metric::WorstGroupAccuracy => self.worst_group_accuracy,
            Metric::Ser => self.ser,
            Metric::MaxMinRatio => self.max_min_ratio,
        }
    }

    fn slot(&mut self, metric: Metric) -> &mut Option<f64> {
        match metric {
            Metric::Accuracy => &mut self.accuracy,
            Metric::Dob => &mut self.dob,
            Metric::WorstGroupAccuracy => &mut self.worst_group_accuracy,
            Metric::Ser => &mut self.ser,
            Metric::MaxMinRatio => &mut self.max_min_ratio,
        }
    }
}

/// One 95 % interval per metric; `None` with fewer than 2 seeds or an infinite value.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct MetricIntervals {
    /// Accuracy.
    pub accuracy: Option<Interval95>,
    /// Degree of Bias.
    pub dob: Option<Interval95>,
    /// Worst group's accuracy.
    pub worst_group_accuracy: Option<Interval95>,
    /// SER.
    pub ser: Option<Interval95>,
    /// Max/min ratio.
    pub max_min_ratio: Option<Interval95>,
}

impl MetricIntervals {
    /// One metric's interval.
    pub fn get(&self, metric: Metric) -> Option<Interval95> {
        match metric {
            Metric::Accuracy => self.accuracy,
            Metric::Dob => self.dob,
            Metric::WorstGroupAccuracy => self.worst_group_accuracy,
            Metric::Ser => self.ser,
            Metric::MaxMinRatio => self.max_min_ratio,
        }
    }

    fn slot(&mut self, metric: Metric) -> &mut Option<Interval95> {
        match metric {
            Metric::Accuracy => &mut self.accuracy,
            Metric::Dob => &mut self.dob,
            Metric::WorstGroupAccuracy => &mut self.worst_group_accuracy,
            Metric::Ser => &mut self.ser,
            Metric::MaxMinRatio => &mut self.max_min_ratio,
        }
    }
}

/// Means and intervals over seeds of one method on one dataset.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SeedSummary {
    /// Mean of each metric over the seeds.
    pub mean: MetricValues,
    /// Student-t 95 % interval of each mean.
    pub ci95: MetricIntervals,
    /// Each group's accuracy averaged over the seeds (the paper's per-subgroup cells).
    pub group_accuracy_mean: BTreeMap<String, f64>,
    /// Each group's accuracy: its size, and its seed-to-seed spread beside one run's
    /// sampling noise (absent in studies written before this field).
    #[serde(default)]
    pub groups: BTreeMap<String, GroupSpread>,
}

/// One group's accuracy over the seeds of a study, and the two sources of its noise, each as
/// the standard deviation of a single run's number so that they compare like with like.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GroupSpread {
    /// Images of the group (in the first run's report; a split carved per seed may differ
    /// by a few).
    pub n: u64,
    /// Mean accuracy over the seeds.
    pub accuracy_mean: f64,
    /// Student-t 95 % interval of that mean (`None` with one seed).
    pub accuracy_ci95: Option<Interval95>,
    /// Seed to seed: standard deviation (ddof 1) of the runs' accuracies (`None` with one seed).
    pub seed_sd: Option<f64>,
    /// One run's sampling noise: the binomial standard deviation `sqrt(p (1 - p) / n)` at
    /// the mean accuracy `p`, what a run's number moves by when the group's images are
    /// drawn again.
    pub sampling_sd: f64,
}

impl GroupSpread {
    fn of(group: &str, reports: &[&SubgroupReport]) -> Option<Self> {
        let cells: Vec<&fineface_fair::GroupMetrics> =
            reports.iter().filter_map(|r| r.groups.get(group)).collect();
        let n = cells.first()?.n;
        let accuracies: Vec<Option<f64>> = cells.iter().map(|c| Some(c.accuracy)).collect();
        let (mean, ci) = mean_ci95(&accuracies);
        let p = mean?;
        Some(Self {
            n,
            accuracy_mean: p,
            accuracy_ci95: ci,
            seed_sd: sd_ddof1(&accuracies.iter().flatten().copied().collect::<Vec<_>>()),
            sampling_sd: (p * (1.0 - p) / n.max(1) as f64).sqrt(),
        })
    }
}

impl SeedSummary {
    fn of(runs: &[&RunMetrics], reports: &[&SubgroupReport]) -> Self {
        let mut mean = MetricValues::default();
        let mut ci95 = MetricIntervals::default();
        for metric in Metric::ALL {
            let values: Vec<Option<f64>> = runs.iter().map(|r| r.get(metric)).collect();
            let (m, ci) = mean_ci95(&values);
            *mean.slot(metric) = m;
            *ci95.slot(metric) = ci;
        }
        let mut sums: BTreeMap<String, (f64, usize)> = BTreeMap::new();
        for report in reports {
            for (group, metrics) in &report.groups {
                let entry = sums.entry(group.clone()).or_default();
                entry.0 += metrics.accuracy;
                entry.1 += 1;
            }
        }
        let groups = sums
            .keys()
            .filter_map(|group| Some((group.clone(), GroupSpread::of(group, reports)?)))
            .collect();
        Self {
            mean,
            ci95,
            group_accuracy_mean: sums
                .into_iter()
                .map(|(group, (sum, n))| (group, sum / n as f64))
                .collect(),
            groups,
        }
    }
}

/// One trained run of a study.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StudyRun {
    /// Its seed (initialisation, splits, order, augmentation).
    pub seed: u64,
    /// Its run folder.
    pub run_dir: PathBuf,
    /// Its test split's numbers (equal to `run_dir/test/fairness.json`).
    pub test: RunMetrics,
    /// Its numbers on each cross-dataset evaluation, by evaluation name
    /// (`run_dir/eval-<name>/fairness.json`).
    pub evals: BTreeMap<String, RunMetrics>,
}

/// One method of a study: its runs and their summary over seeds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MethodSummary {
    /// The experiment it trains (`utkface-cpu-baseline`).
    pub experiment: String,
    /// One run per seed, in the order of the seeds.
    pub runs: Vec<StudyRun>,
    /// Test metrics averaged over the seeds.
    pub mean: MetricValues,
    /// Their 95 % intervals.
    pub ci95: MetricIntervals,
    /// Each test group's accuracy averaged over the seeds.
    pub group_accuracy_mean: BTreeMap<String, f64>,
    /// The same summary per cross-dataset evaluation.
    pub evals: BTreeMap<String, SeedSummary>,
}

/// Paired differences `first - second` (same seed, same splits, same data order).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PairedSummary {
    /// The method whose numbers are subtracted from.
    pub first: String,
    /// The method subtracted.
    pub second: String,
    /// Accuracy difference.
    pub accuracy: PairedDifference,
    /// DoB difference (negative: the first method is fairer).
    pub dob: PairedDifference,
    /// Worst group accuracy difference.
    pub worst_group_accuracy: PairedDifference,
    /// SER difference over the seeds where both SERs are finite.
    pub ser: PairedDifference,
    /// Max/min difference over the seeds where both are finite.
    pub max_min_ratio: PairedDifference,
}

impl PairedSummary {
    fn of(first: &str, second: &str, a: &[&RunMetrics], b: &[&RunMetrics]) -> Self {
        let diff = |metric: Metric| {
            let values = |runs: &[&RunMetrics]| runs.iter().map(|r| r.get(metric)).collect();
            let (x, y): (Vec<_>, Vec<_>) = (values(a), values(b));
            PairedDifference::of(&x, &y)
        };
        Self {
            first: first.to_owned(),
            second: second.to_owned(),
            accuracy: diff(Metric::Accuracy),
            dob: diff(Metric::Dob),
            worst_group_accuracy: diff(Metric::WorstGroupAccuracy),
            ser: diff(Metric::Ser),
            max_min_ratio: diff(Metric::MaxMinRatio),
        }
    }

    /// One metric's difference.
    pub fn get(&self, metric: Metric) -> &PairedDifference {
        match metric {
            Metric::Accuracy => &self.accuracy,
            Metric::Dob => &self.dob,
            Metric::WorstGroupAccuracy => &self.worst_group_accuracy,
            Metric::Ser => &self.ser,
            Metric::MaxMinRatio => &self.max_min_ratio,
        }
    }

    /// One sentence: whether `first` has higher accuracy AND lower DoB than `second` with
    /// both intervals excluding 0, and otherwise which part is not shown.
    pub fn verdict(&self) -> String {
        let (first, second) = (&self.first, &self.second);
        let n = self.accuracy.n_seeds.min(self.dob.n_seeds);
        if n < 2 {
            return format!(
                "No verdict: {n} paired seed(s) give no interval; run 3 or more seeds."
            );
        }
        let accuracy = describe(&self.accuracy, "accuracy", "higher", "lower");
        let dob = describe(&self.dob, "DoB", "lower", "higher");
        let better_accuracy = self.accuracy.sign() == Some(true);
        let fairer = self.dob.sign() == Some(false);
        if better_accuracy && fairer {
            format!(
                "{first} beats {second} over {n} seeds: {accuracy} and {dob}, both intervals \
                 excluding 0."
            )
        } else {
            format!("Not shown that {first} beats {second} over {n} seeds: {accuracy} and {dob}.")
        }
    }
}

/// `accuracy is higher (+1.2 points, 95 % CI [0.3, 2.1])`, or `... inconclusive (...)`.
fn describe(diff: &PairedDifference, name: &str, good: &str, bad: &str) -> String {
    let (Some(mean), Some([low, high])) = (diff.mean_diff, diff.ci95) else {
        return format!("{name} has no interval");
    };
    let word = match diff.sign() {
        Some(true) if good == "higher" => good,
        Some(true) => bad,
        Some(false) if good == "lower" => good,
        Some(false) => bad,
        None => "inconclusive",
    };
    format!(
        "{name} {word} ({:+.1} points, 95 % CI [{:+.1}, {:+.1}])",
        100.0 * mean,
        100.0 * low,
        100.0 * high
    )
}

/// A cross-dataset evaluation of every run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EvalSummary {
    /// Its dataset kind (`celeba`).
    pub dataset: String,
    /// Where the dataset was read.
    pub root: PathBuf,
    /// The sensitive attributes its groups are formed from (that dataset's own, e.g. CelebA's
    /// `Male` alone by default, not the training dataset's).
    pub groups: Vec<String>,
    /// Paired differences on it, with two or more methods.
    pub paired: Option<PairedSummary>,
    /// The verdict on it, with two or more methods.
    pub verdict: Option<String>,
}

/// `study.json`: the whole study.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StudySummary {
    /// The experiment studied (the first method's config name).
    pub experiment: String,
    /// The seeds, in order.
    pub seeds: Vec<u64>,
    /// The methods in the order compared (paired differences are first minus second).
    pub method_order: Vec<String>,
    /// Each method's runs and summary.
    pub methods: BTreeMap<String, MethodSummary>,
    /// Test-split paired differences of the first two methods.
    pub paired: Option<PairedSummary>,
    /// One sentence on the test split: does the first method beat the second?
    pub verdict: String,
    /// Each cross-dataset evaluation, by name.
    pub evals: BTreeMap<String, EvalSummary>,
}

impl StudySummary {
    /// `study.json`.
    pub const FILE_NAME: &'static str = "study.json";

    /// Reads every run's `test/fairness.json` and `eval-<name>/fairness.json` and
    /// summarises them.
    ///
    /// # Errors
    /// A run's report is missing or unreadable (its path is named).
    pub fn collect(plan: &StudyPlan) -> Result<Self> {
        let mut methods = BTreeMap::new();
        let mut eval_groups: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for method in &plan.methods {
            let summary = method_summary(plan, method, &mut eval_groups)?;
            methods.insert(method.name.clone(), summary);
        }
        let order: Vec<String> = plan.methods.iter().map(|m| m.name.clone()).collect();
        let pair = |select: &dyn Fn(&StudyRun) -> Option<&RunMetrics>| -> Option<PairedSummary> {
            let [first, second] = [order.first()?, order.get(1)?];
            let runs = |name: &String| -> Vec<&RunMetrics> {
                methods[name].runs.iter().filter_map(select).collect()
            };
            Some(PairedSummary::of(
                first,
                second,
                &runs(first),
                &runs(second),
            ))
        };
        let paired = pair(&|r: &StudyRun| Some(&r.test));
        let verdict = paired.as_ref().map_or_else(
            || "No verdict: a study of one method has nothing to compare.".to_owned(),
            PairedSummary::verdict,
        );
        let evals = plan
            .evals
            .iter()
            .map(|eval| {
                let groups = eval_groups.get(&eval.name).cloned().unwrap_or_default();
                let paired = pair(&|r: &StudyRun| r.evals.get(&eval.name));
                let verdict = paired.as_ref().map(PairedSummary::verdict);
                let summary = EvalSummary {
                    dataset: eval.data.kind().name().to_owned(),
                    root: eval.root.clone(),
                    groups,
                    paired,
                    verdict,
                };
                (eval.name.clone(), summary)
            })
            .collect();
        Ok(Self {
            experiment: plan.experiment.clone(),
            seeds: plan.seeds.clone(),
            method_order: order,
            methods,
            paired,
            verdict,
            evals,
        })
    }
}

/// One method's runs over the plan's seeds, read back: each run's test and cross-dataset
/// numbers and their summaries over seeds. Notes each evaluation's grouping in
/// `eval_groups`.
fn method_summary(
    plan: &StudyPlan,
    method: &StudyMethod,
    eval_groups: &mut BTreeMap<String, Vec<String>>,
) -> Result<MethodSummary> {
    let mut runs = Vec::new();
    let mut test_reports = Vec::new();
    let mut eval_reports: BTreeMap<String, Vec<SubgroupReport>> = BTreeMap::new();
    for &seed in &plan.seeds {
        let run_dir = plan.run_dir(&method.name, seed);
        let test = read_report(&RunFiles::new(&run_dir).test().fairness())?;
        let mut evals = BTreeMap::new();
        for eval in &plan.evals {
            let path = SplitFiles::new(plan.eval_dir(&run_dir, &eval.name)).fairness();
            let report = read_report(&path)?;
            eval_groups
                .entry(eval.name.clone())
                .or_insert_with(|| report.meta.grouping.features.clone());
            evals.insert(eval.name.clone(), RunMetrics::of(&report));
            eval_reports
                .entry(eval.name.clone())
                .or_default()
                .push(report);
        }
        runs.push(StudyRun {
            seed,
            run_dir,
            test: RunMetrics::of(&test),
            evals,
        });
        test_reports.push(test);
    }
    let tests: Vec<&RunMetrics> = runs.iter().map(|r| &r.test).collect();
    let test_summary = SeedSummary::of(&tests, &test_reports.iter().collect::<Vec<_>>());
    let evals = plan
        .evals
        .iter()
        .map(|eval| {
            let metrics: Vec<&RunMetrics> = runs
                .iter()
                .filter_map(|r| r.evals.get(&eval.name))
                .collect();
            let reports: Vec<&SubgroupReport> = eval_reports
                .get(&eval.name)
                .map(|r| r.iter().collect())
                .unwrap_or_default();
            (eval.name.clone(), SeedSummary::of(&metrics, &reports))
        })
        .collect();
    Ok(MethodSummary {
        experiment: method.config.name.clone(),
        runs,
        mean: test_summary.mean,
        ci95: test_summary.ci95,
        group_accuracy_mean: test_summary.group_accuracy_mean,
        evals,
    })
}

/// A run's `fairness.json`.
pub(crate) fn read_report(path: &Path) -> Result<SubgroupReport> {
    let text = std::fs::read_to_string(path).map_err(|e| StudyError::io(path, e))?;
    serde_json::from_str(&text).map_err(|e| StudyError::Report {
        path: path.to_owned(),
        message: e.to_string(),
    })
}
