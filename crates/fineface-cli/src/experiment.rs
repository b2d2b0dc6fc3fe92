//! Where an experiment's config is and how a run's numbers are printed.

use std::path::{Path, PathBuf};

use fineface_train::{ExperimentConfig, RunSummary};

pub(crate) fn experiment_path(experiment: &str, configs: &Path) -> PathBuf {
    let direct = PathBuf::from(experiment);
    if experiment.ends_with(".toml") || direct.is_file() {
        direct
    } else {
        configs.join(format!("{experiment}.toml"))
    }
}

/// FineFACE's other two readings of its heads, ` (concat X, 4 heads Y)`; nothing for the
/// baseline, which has one head.
pub(crate) fn head_accuracies(method: fineface_train::Method, concat: f64, heads: f64) -> String {
    match method {
        fineface_train::Method::FineFace => format!(" (concat {concat:.4}, 4 heads {heads:.4})"),
        fineface_train::Method::Baseline => String::new(),
    }
}

#[allow(clippy::print_stdout)]
pub(crate) fn print_summary(summary: &RunSummary, config: &ExperimentConfig, node_rank: u32) {
    println!("run: {}", summary.run_dir.display());
    if let Some((value, epoch)) = summary.best {
        let metric = match config.train.select_by {
            fineface_train::SelectBy::Accuracy => "validation accuracy",
            fineface_train::SelectBy::WorstGroup => "validation worst-group accuracy",
        };
        println!("selected epoch {epoch}: {metric} {value:.4} (train.select_by)");
    }
    match &summary.test {
        Some(t) => println!(
            "test ({} images): accuracy {:.4}{}, worst group {} {:.4}, DoB {:.4}, {:.0} s",
            t.n,
            t.accuracy,
            head_accuracies(config.method, t.accuracy_concat, t.accuracy_heads),
            t.worst_group,
            t.worst_group_accuracy,
            t.dob,
            summary.seconds
        ),
        None if summary.epochs >= config.train.epochs => println!(
            "node {node_rank}: trained all {} epochs; node 0 evaluates the test split and writes \
             the run folder",
            summary.epochs
        ),
        None => println!(
            "stopped after epoch {}; continue with `--resume {}`",
            summary.epochs,
            summary.run_dir.display()
        ),
    }
}
