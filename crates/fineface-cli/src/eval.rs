//! `fineface eval`: a trained run on its test split or on another dataset.

use std::path::PathBuf;

use anyhow::Context;
use clap::Args;
use fineface_data::{DatasetConfig, DatasetKind, Split};
use fineface_model::FineFaceAutodiffBackend;
use fineface_train::{
    BackendTask, EvalData, EvalOutcome, EvalRequest, EvalSplit, Method, RunFolder, on_devices,
    parse_devices,
};

use crate::experiment::head_accuracies;
use crate::flags;
use crate::photos;

#[derive(Args)]
pub(crate) struct EvalArgs {
    /// The run folder.
    #[arg(long)]
    pub(crate) run: PathBuf,
    /// Another dataset kind to evaluate on (`utkface`, `celeba`, `lfwa`, `fairface`, ...).
    #[arg(long, requires = "data")]
    pub(crate) dataset: Option<DatasetKind>,
    /// Root of that dataset.
    #[arg(long)]
    pub(crate) data: Option<PathBuf>,
    /// Which split: `test` (default for the run's own dataset), `val`, `train` or `all`
    /// (default for another dataset).
    #[arg(long)]
    pub(crate) split: Option<String>,
    /// Output folder (default `<run>/eval-<dataset>-<split>`, `...-detect` with `--detect`).
    #[arg(long)]
    pub(crate) out: Option<PathBuf>,
    /// Write over an evaluation already in the output folder (refused otherwise).
    #[arg(long)]
    pub(crate) replace: bool,
    /// Device.
    #[arg(long, default_value = "cpu", value_parser = flags::device)]
    pub(crate) device: String,
    /// Images per forward pass (1 or more).
    #[arg(long, default_value_t = 32, value_parser = flags::at_least_one)]
    pub(crate) batch_size: usize,
    /// The images are raw photos: find each one's face (the kept one of several, `--keep`)
    /// and align it as `fineface align` would before classifying; photos without a face are
    /// skipped with the reason.
    #[arg(long)]
    pub(crate) detect: bool,
    #[command(flatten)]
    pub(crate) faces: photos::FaceArgs,
}

pub(crate) fn eval(args: EvalArgs) -> anyhow::Result<()> {
    let devices = parse_devices(std::slice::from_ref(&args.device))?;
    on_devices(&devices, Eval(&args))?
}

/// Evaluation on the chosen backend (its inner, non-autodiff one).
struct Eval<'a>(&'a EvalArgs);

impl BackendTask for Eval<'_> {
    type Output = anyhow::Result<()>;

    fn run<B: FineFaceAutodiffBackend>(
        self,
        devices: Vec<B::Device>,
    ) -> fineface_train::Result<Self::Output> {
        Ok(eval_on::<B::InnerBackend>(self.0, &devices[0]))
    }
}

fn eval_on<B: fineface_model::FineFaceBackend>(
    args: &EvalArgs,
    device: &B::Device,
) -> anyhow::Result<()> {
    args.faces.only_with_detect(args.detect)?;
    let run = RunFolder::open(&args.run)
        .with_context(|| format!("{} is not a run folder", args.run.display()))?;
    let request = eval_request(args, &run)?;
    let outcome = run.evaluate::<B>(&request, device)?;
    print_outcome(&outcome, run.config.method);
    Ok(())
}

/// What to evaluate, from the flags: which data and split, where to write, the faces.
fn eval_request(args: &EvalArgs, run: &RunFolder) -> anyhow::Result<EvalRequest> {
    let data = match (&args.dataset, &args.data) {
        (Some(kind), Some(root)) => EvalData::Other(DatasetConfig::with_root(*kind, root.clone())),
        (None, Some(root)) => EvalData::OwnAt(root.clone()),
        _ => EvalData::Own,
    };
    let split = match &args.split {
        Some(name) => Some(
            name.parse::<EvalSplit>()
                .map_err(|message| anyhow::anyhow!("--split: {message}"))?,
        ),
        None => None,
    };
    let own = !matches!(data, EvalData::Other(_));
    // A run that keeps `trained-on.tsv` is compared image by image (the outcome says so);
    // an older one is warned of by the split asked.
    let compared = run.files.trained_on().is_file();
    if own && !compared && matches!(split, Some(EvalSplit::All | EvalSplit::One(Split::Train))) {
        tracing::warn!(
            "--split {}: the run trained on this dataset's train split, so these numbers \
             include images it learned from and flatter it (its test split is the held-out one)",
            args.split.as_deref().unwrap_or_default()
        );
    }
    Ok(EvalRequest {
        data,
        split,
        out: args.out.clone(),
        batch_size: args.batch_size,
        faces: args
            .detect
            .then(|| args.faces.settings(run.config.transform.resize as usize)),
        replace: args.replace,
    })
}

/// The evaluation's numbers, a few skipped images, and whether it scored images the run
/// trained on.
fn print_outcome(outcome: &EvalOutcome, method: Method) {
    let summary = &outcome.summary;
    #[allow(clippy::print_stdout)]
    {
        println!(
            "{} {} ({} images scored, {} skipped): accuracy {:.4}{}, worst group {} {:.4}, DoB {:.4}",
            outcome.dataset,
            outcome.split.name(),
            summary.n,
            summary.skipped,
            summary.accuracy,
            head_accuracies(method, summary.accuracy_concat, summary.accuracy_heads),
            summary.worst_group,
            summary.worst_group_accuracy,
            summary.dob
        );
        for item in summary.skipped_images.iter().take(5) {
            println!("  skipped {}: {}", item.file, item.reason);
        }
        if summary.skipped > 5 {
            println!("  ... {} more in summary.json", summary.skipped - 5);
        }
        if let Some(o) = &outcome.trained_on {
            println!(
                "  warning: {} of the {} images scored are images the run trained or chose its \
                 checkpoint on (same size and first bytes, the first `{}`): these scores are not \
                 held out",
                o.seen, o.of, o.first
            );
        }
        println!("wrote {}", outcome.dir.display());
    }
}
