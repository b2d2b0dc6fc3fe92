//! Running a study: every method x seed trained (or kept, or resumed), evaluated, then
//! summarised into `study.json`, `study.md` and `study.svg`.

use std::path::Path;

use fineface_fair::{
    AuditOptions, BootstrapConfig, BootstrapReport, CsvSpec, SensitiveColumns, audit,
    read_predictions_csv,
};
use fineface_model::FineFaceAutodiffBackend;
use fineface_run::{RunFiles, RunSummary, SplitFiles, read_json};

use crate::error::{Result, StudyError};
use crate::paper::paper_tables;
use crate::plan::StudyPlan;
use crate::plot::write_study_svg;
use crate::render::study_markdown;
use crate::summary::{StudySummary, read_report};
use fineface_run::{write_atomic, write_json};
use fineface_train::Checkpoints;
use fineface_train::ExperimentConfig;
use fineface_train::{EvalData, EvalRequest, RunFolder};
use fineface_train::{RunOptions, train};

/// How a study runs.
#[derive(Debug, Clone)]
pub struct StudyOptions {
    /// Stop (as if killed) after training this many runs in this sitting; the study
    /// continues where it stopped when started again.
    pub stop_after_runs: Option<usize>,
    /// Progress bars on a terminal.
    pub progress: bool,
    /// Images per forward pass of the cross-dataset evaluations.
    pub eval_batch_size: usize,
    /// Bootstrap replicates of the representative run's test-sample intervals in `study.md`.
    pub bootstrap_replicates: usize,
    /// Also write the paper's Table 2 and Table 3 layout (`paper-tables.md`) with the
    /// published FairFace numbers beside ours.
    pub paper_tables: bool,
}

impl Default for StudyOptions {
    fn default() -> Self {
        Self {
            stop_after_runs: None,
            progress: true,
            eval_batch_size: 32,
            bootstrap_replicates: 1000,
            paper_tables: false,
        }
    }
}

/// How a call of [`run_study`] ended.
#[derive(Debug, Clone)]
pub enum StudyOutcome {
    /// Every run is finished; the summary was written.
    Finished(Box<StudySummary>),
    /// Stopped by [`StudyOptions::stop_after_runs`] with runs left; nothing summarised.
    Stopped {
        /// Runs finished so far (this sitting and earlier ones).
        finished: usize,
        /// Runs in the study.
        total: usize,
    },
}

/// Where one run of the study stands.
enum RunState {
    /// `summary.json` with test numbers and `test/fairness.json`: kept as it is.
    Finished,
    /// Checkpoints but no test numbers: resumed from the newest intact one.
    Unfinished,
    /// Nothing to continue from (absent, or killed before its first checkpoint).
    New,
}

fn run_state(dir: &Path) -> Result<RunState> {
    let files = RunFiles::new(dir);
    let finished = read_json::<RunSummary>(&files.summary()).is_ok_and(|s| s.test.is_some())
        && files.test().fairness().is_file();
    if finished {
        return Ok(RunState::Finished);
    }
    // Every checkpoint damaged is an error naming them: nothing is thrown away silently.
    Ok(match Checkpoints::new(dir).resume_point()? {
        Some(_) => RunState::Unfinished,
        None => RunState::New,
    })
}

/// A kept or resumed run must be the run the study asks for: its saved `config.toml` equal to
/// the study's config for it, up to devices and decoding threads (which do not change what is
/// trained) and how the dataset root is spelled. Returns that saved config.
fn check_same_run(dir: &Path, expected: &ExperimentConfig) -> Result<ExperimentConfig> {
    let found = ExperimentConfig::from_file(&RunFiles::new(dir).config())?;
    let differences: Vec<String> = found
        .differences(expected)
        .iter()
        .map(|d| format!("{}: run {}, study {}", d.key, d.this, d.other))
        .collect();
    if differences.is_empty() {
        return Ok(found);
    }
    Err(StudyError::Invalid(format!(
        "{} was trained with other settings than the study asks for ({}); give the study \
         another --out, or remove that run folder",
        dir.display(),
        differences.join("; ")
    )))
}

/// Runs a study on `devices`: for each seed, each method's run is kept when finished,
/// resumed from its newest intact checkpoint when unfinished, or trained; then each run is
/// evaluated on every cross-dataset evaluation not yet written. When every run is there,
/// writes `study.json` ([`StudySummary`]), `study.md`, `study.svg` and, when asked,
/// `paper-tables.md` into the study folder.
///
/// # Errors
/// An invalid plan, a run trained with another config in the way, any training or
/// evaluation error (the runs finished before it are kept), or an unwritable folder.
pub fn run_study<B: FineFaceAutodiffBackend>(
    plan: &StudyPlan,
    devices: &[B::Device],
    options: &StudyOptions,
) -> Result<StudyOutcome> {
    plan.validate()?;
    check_bootstrap(options)?;
    let Some(device) = devices.first() else {
        return Err(StudyError::Invalid("no device given".to_owned()));
    };
    // A mistyped `--eval` path fails now, not after the first run has trained.
    plan.check_evals()?;
    std::fs::create_dir_all(&plan.out).map_err(|e| StudyError::io(&plan.out, e))?;
    let total = plan.seeds.len() * plan.methods.len();
    let mut trained = 0;
    let mut finished = 0;
    let mut eta = StudyEta::default();
    for (seed_index, &seed) in plan.seeds.iter().enumerate() {
        for (method_index, method) in plan.methods.iter().enumerate() {
            let dir = plan.run_dir(&method.name, seed);
            let config = plan.run_config(method, seed);
            let state = run_state(&dir)?;
            let position = format!("run {}/{total}", finished + 1);
            if matches!(state, RunState::Finished) {
                check_same_run(&dir, &config)?;
                tracing::info!(run = %dir.display(), "{position}: {} seed {seed} finished earlier; kept", method.name);
            } else {
                if options.stop_after_runs.is_some_and(|n| trained >= n) {
                    tracing::info!(finished, total, "study stopped; start it again to continue");
                    return Ok(StudyOutcome::Stopped { finished, total });
                }
                let resume = matches!(state, RunState::Unfinished);
                // A resumed run continues with the config it started with.
                let config = if resume {
                    check_same_run(&dir, &config)?
                } else {
                    config
                };
                tracing::info!(
                    run = %dir.display(),
                    "{position}: {} seed {seed}: {}",
                    method.name,
                    if resume { "resuming from its checkpoint" } else { "training" }
                );
                let run_options = RunOptions {
                    resume,
                    progress: options.progress,
                    ..RunOptions::new(&dir)
                };
                let started = std::time::Instant::now();
                train::<B>(&config, devices, &run_options)?;
                evaluate_missing::<B>(plan, &dir, device, options)?;
                eta.record(method_index, started.elapsed());
                trained += 1;
                let done = seed_index * plan.methods.len() + method_index + 1;
                let left: Vec<usize> = (done..total).map(|i| i % plan.methods.len()).collect();
                tracing::info!(
                    "study: run {done}/{total} done in {}; {} left, about {} to go",
                    minutes(started.elapsed()),
                    left.len(),
                    eta.remaining(&left).map_or_else(|| "?".to_owned(), minutes)
                );
            }
            finished += 1;
            evaluate_missing::<B>(plan, &dir, device, options)?;
        }
    }
    let summary = StudySummary::collect(plan)?;
    write_summaries(plan, &summary, options)?;
    Ok(StudyOutcome::Finished(Box::new(summary)))
}

/// Bootstrap settings that cannot work fail before any run trains.
fn check_bootstrap(options: &StudyOptions) -> Result<()> {
    let bootstrap = BootstrapConfig::new(options.bootstrap_replicates, 0);
    if options.bootstrap_replicates > 0
        && options.bootstrap_replicates < bootstrap.minimum_replicates()
    {
        return Err(StudyError::Invalid(format!(
            "--bootstrap {}: a 95 % percentile interval needs at least {} replicates (0 for \
             none)",
            options.bootstrap_replicates,
            bootstrap.minimum_replicates()
        )));
    }
    Ok(())
}

/// `study.json`, `study.md`, `study.svg` and, when asked, `paper-tables.md`.
fn write_summaries(plan: &StudyPlan, summary: &StudySummary, options: &StudyOptions) -> Result<()> {
    write_json(&plan.out.join(StudySummary::FILE_NAME), summary)?;
    // Extra detail: a failure is logged and the files are written without it.
    let bootstrap = representative_bootstrap(summary, options).unwrap_or_else(|error| {
        tracing::warn!("no test-sample bootstrap in study.md: {error}");
        None
    });
    let mut markdown = study_markdown(summary, bootstrap.as_ref());
    if options.paper_tables {
        let tables = paper_tables(summary, plan);
        write_atomic(&plan.out.join("paper-tables.md"), tables.as_bytes())?;
        markdown.push('\n');
        markdown.push_str(&tables);
    }
    write_atomic(&plan.out.join("study.md"), markdown.as_bytes())?;
    write_study_svg(&plan.out.join("study.svg"), summary)?;
    tracing::info!(out = %plan.out.display(), verdict = %summary.verdict, "study written");
    Ok(())
}

/// Mean wall time (training and evaluations) of each method's runs trained in this sitting,
/// for the study's time-to-go line.
#[derive(Debug, Default)]
struct StudyEta {
    /// Per method index: total time and runs.
    spent: std::collections::BTreeMap<usize, (std::time::Duration, u32)>,
}

impl StudyEta {
    fn record(&mut self, method: usize, took: std::time::Duration) {
        let entry = self.spent.entry(method).or_default();
        entry.0 += took;
        entry.1 += 1;
    }

    /// The time the runs of `methods` (one entry per run left) should take: each method's
    /// mean, or the mean over all methods for one not timed yet; `None` before any run.
    fn remaining(&self, methods: &[usize]) -> Option<std::time::Duration> {
        let (all, n) = self
            .spent
            .values()
            .fold((std::time::Duration::ZERO, 0), |(t, n), (d, k)| {
                (t + *d, n + k)
            });
        let overall = all.checked_div(n)?;
        Some(
            methods
                .iter()
                .map(|m| self.spent.get(m).map_or(overall, |(d, k)| *d / *k))
                .sum(),
        )
    }
}

/// `12 min` (or `45 s` under a minute).
fn minutes(duration: std::time::Duration) -> String {
    let seconds = duration.as_secs();
    if seconds < 60 {
        format!("{seconds} s")
    } else {
        format!("{} min", (seconds + 30) / 60)
    }
}

/// Evaluates a finished run on each cross-dataset evaluation whose `fairness.json` is not
/// there yet.
fn evaluate_missing<B: FineFaceAutodiffBackend>(
    plan: &StudyPlan,
    dir: &Path,
    device: &B::Device,
    options: &StudyOptions,
) -> Result<()> {
    for eval in &plan.evals {
        let out = plan.eval_dir(dir, &eval.name);
        if SplitFiles::new(&out).fairness().is_file() {
            continue;
        }
        let run = RunFolder::open(dir)?;
        // An unfinished evaluation (no fairness.json) is written again.
        let request = EvalRequest {
            out: Some(out),
            batch_size: options.eval_batch_size,
            replace: true,
            ..EvalRequest::new(EvalData::Other(eval.data.clone()))
        };
        let outcome = run.evaluate::<B::InnerBackend>(&request, device)?;
        tracing::info!(
            run = %dir.display(), eval = %eval.name, accuracy = outcome.summary.accuracy,
            dob = outcome.summary.dob, "cross-dataset evaluation written"
        );
    }
    Ok(())
}

/// The test-sample bootstrap intervals of the first method's first run: how much of the
/// seed-to-seed spread one test split's sampling noise explains.
fn representative_bootstrap(
    summary: &StudySummary,
    options: &StudyOptions,
) -> Result<Option<(String, BootstrapReport)>> {
    let Some(run) = summary
        .method_order
        .first()
        .and_then(|m| summary.methods.get(m))
        .and_then(|m| m.runs.first())
    else {
        return Ok(None);
    };
    if options.bootstrap_replicates == 0 {
        return Ok(None);
    }
    let test = RunFiles::new(&run.run_dir).test();
    let report = read_report(&test.fairness())?;
    let spec = CsvSpec {
        y_true: "y_true".to_owned(),
        y_pred: "y_pred".to_owned(),
        sensitive: SensitiveColumns::Columns(report.meta.grouping.features.clone()),
        drop_missing: false,
    };
    let table = read_predictions_csv(test.predictions(), &spec)?;
    let audit_options = AuditOptions {
        pos_label: report.meta.pos_label.clone(),
        bootstrap: Some(BootstrapConfig::new(options.bootstrap_replicates, run.seed)),
    };
    let resampled = audit(&table, &audit_options)?;
    Ok(resampled
        .bootstrap
        .map(|b| (run.run_dir.display().to_string(), b)))
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::{StudyEta, minutes};

    #[test]
    fn time_to_go_sums_each_methods_mean_and_guesses_untimed_ones_from_all() {
        let mut eta = StudyEta::default();
        assert_eq!(eta.remaining(&[0, 1]), None, "nothing timed yet");
        eta.record(0, Duration::from_secs(600));
        eta.record(0, Duration::from_secs(400));
        // Method 1 not timed: the mean over all runs (500 s).
        assert_eq!(eta.remaining(&[1, 0, 1]), Some(Duration::from_secs(1500)));
        eta.record(1, Duration::from_secs(100));
        assert_eq!(eta.remaining(&[0, 1]), Some(Duration::from_secs(600)));
        assert_eq!(minutes(Duration::from_secs(45)), "45 s");
        assert_eq!(minutes(Duration::from_secs(600)), "10 min");
    }
}
