//! `fineface study`: every method trained over several seeds, summarised with intervals.

use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use clap::Args;
use fineface_model::FineFaceAutodiffBackend;
use fineface_run::write_json;
use fineface_study::{
    StudyOptions, StudyOutcome, StudyPlan, StudyRecord, StudyRequest, next_study_dir, run_study,
};
use fineface_train::{BackendTask, Overrides, on_devices, parse_devices};

use crate::experiment::experiment_path;
use crate::flags;
use crate::logging::init_logging;

#[derive(Args)]
pub(crate) struct StudyArgs {
    /// Experiment name: method `fineface` trains `configs/<name>.toml`, `baseline`
    /// `configs/<name>-baseline.toml`, any other method `configs/<name>-<method>.toml`.
    #[arg(required_unless_present = "resume")]
    pub(crate) experiment: Option<String>,
    /// Seeds 0, 1, ..., N-1.
    #[arg(long, default_value_t = 3, conflicts_with = "seed_list")]
    pub(crate) seeds: u64,
    /// These seeds instead: `--seed-list 1,2,3`.
    #[arg(long, value_delimiter = ',')]
    pub(crate) seed_list: Option<Vec<u64>>,
    /// Methods in the order compared (paired differences are first minus second).
    #[arg(long, value_delimiter = ',', default_value = "fineface,baseline")]
    pub(crate) methods: Vec<String>,
    /// Epochs of every run.
    #[arg(long, value_parser = flags::epochs)]
    pub(crate) epochs: Option<usize>,
    /// Dataset root of every method.
    #[arg(long)]
    pub(crate) data: Option<PathBuf>,
    /// ImageNet weights of every method's backbone (torchvision `.pth` or `.safetensors`).
    #[arg(long)]
    pub(crate) weights: Option<PathBuf>,
    /// Cross-dataset audit of every run, on all images of a dataset: `NAME=DATASET:PATH`
    /// (`--eval celeba=celeba:data/celeba`); may be repeated.
    #[arg(long = "eval")]
    pub(crate) evals: Vec<String>,
    /// The study folder (default `runs/<experiment>/study-NNN`).
    #[arg(long, conflicts_with = "resume")]
    pub(crate) out: Option<PathBuf>,
    /// Continue the study in this folder (its `plan.json`): finished runs are kept, an
    /// unfinished run resumes from its checkpoint.
    #[arg(long, conflicts_with_all = [
        "experiment", "seeds", "seed_list", "methods", "epochs", "data", "weights", "evals",
        "configs",
    ])]
    pub(crate) resume: Option<PathBuf>,
    /// One device for every run: `cpu`, `cuda:0`, `wgpu`, `wgpu:N` (with `--resume`: instead
    /// of the devices the study started on).
    #[arg(long, conflicts_with = "devices", value_parser = flags::device)]
    pub(crate) device: Option<String>,
    /// Several devices for data parallelism: `cuda:0,cuda:1`.
    #[arg(long, value_delimiter = ',', value_parser = flags::device)]
    pub(crate) devices: Option<Vec<String>>,
    /// Stop after training this many runs (resumable with `--resume`), to split a long study.
    #[arg(long)]
    pub(crate) stop_after_runs: Option<usize>,
    /// Also write the paper's Table 2/3 layout with its numbers (`paper-tables.md`); on by
    /// default when the experiment trains on FairFace.
    #[arg(long)]
    pub(crate) paper_tables: bool,
    /// Bootstrap replicates of one run's test-sample intervals in `study.md` (0: none).
    #[arg(long, default_value_t = 1000)]
    pub(crate) bootstrap: usize,
    /// Folder of experiment files.
    #[arg(long, default_value = "configs")]
    pub(crate) configs: PathBuf,
    /// No progress bars.
    #[arg(long)]
    pub(crate) quiet: bool,
}

/// The experiment file a study method trains: `fineface` the experiment's own file, any
/// other method `<experiment>-<method>.toml` beside it.
fn method_config(experiment: &str, method: &str, configs: &Path) -> PathBuf {
    let own = experiment_path(experiment, configs);
    if method == "fineface" {
        return own;
    }
    let stem = own
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    own.with_file_name(format!("{stem}-{method}.toml"))
}

pub(crate) fn study(args: StudyArgs) -> anyhow::Result<()> {
    let devices = args
        .devices
        .clone()
        .or_else(|| args.device.clone().map(|d| vec![d]));
    let (record, out) = match (&args.resume, &args.experiment) {
        (Some(dir), _) => resumed_record(dir, devices.as_deref())?,
        (None, Some(experiment)) => new_record(&args, experiment, devices)?,
        (None, None) => bail!("name an experiment or --resume a study folder"),
    };
    let plan = record.plan(&out)?;
    plan.check_evals()?;
    std::fs::create_dir_all(&out)
        .with_context(|| format!("cannot create the study folder {}", out.display()))?;
    write_json(&out.join(StudyRecord::FILE_NAME), &record)?;
    init_logging(Some(&out.join("study.log")))?;
    let paper_tables = args.paper_tables
        || plan
            .methods
            .first()
            .is_some_and(|m| m.config.data.kind() == fineface_data::DatasetKind::FairFace);
    let options = StudyOptions {
        stop_after_runs: args.stop_after_runs,
        progress: !args.quiet,
        bootstrap_replicates: args.bootstrap,
        paper_tables,
        ..StudyOptions::default()
    };
    let devices = parse_devices(&plan.methods[0].config.train.devices)?;
    let outcome = on_devices(
        &devices,
        RunStudy {
            plan: &plan,
            options: &options,
        },
    )??;
    #[allow(clippy::print_stdout)]
    match outcome {
        StudyOutcome::Finished(summary) => {
            println!("study: {}", out.display());
            println!("{}", summary.verdict);
            println!("wrote study.json, study.md, study.svg");
        }
        StudyOutcome::Stopped { finished, total } => println!(
            "stopped with {finished} of {total} runs finished; continue with `--resume {}`",
            out.display()
        ),
    }
    Ok(())
}

/// The plan of the study in `dir`, to continue on `devices` where given.
fn resumed_record(
    dir: &Path,
    devices: Option<&[String]>,
) -> anyhow::Result<(StudyRecord, PathBuf)> {
    let path = dir.join(StudyRecord::FILE_NAME);
    let text = std::fs::read_to_string(&path)
        .with_context(|| format!("cannot resume the study {}", dir.display()))?;
    let mut record: StudyRecord = serde_json::from_str(&text)
        .with_context(|| format!("{} is not a study plan", path.display()))?;
    if let Some(devices) = devices {
        record.set_devices(devices);
    }
    Ok((record, dir.to_owned()))
}

/// A new study's plan from the flags, and its folder: refused when that folder holds a study
/// of other settings.
fn new_record(
    args: &StudyArgs,
    experiment: &str,
    devices: Option<Vec<String>>,
) -> anyhow::Result<(StudyRecord, PathBuf)> {
    // A file `x.toml` in the configs folder studies experiment `x`.
    let name = if experiment.ends_with(".toml") {
        Path::new(experiment).file_stem().map_or_else(
            || experiment.to_owned(),
            |s| s.to_string_lossy().into_owned(),
        )
    } else {
        experiment.to_owned()
    };
    let request = StudyRequest {
        experiment: name.clone(),
        seeds: args
            .seed_list
            .clone()
            .unwrap_or_else(|| (0..args.seeds).collect()),
        methods: args
            .methods
            .iter()
            .map(|m| (m.clone(), method_config(experiment, m, &args.configs)))
            .collect(),
        evals: args.evals.clone(),
        overrides: Overrides {
            data: args.data.clone(),
            epochs: args.epochs,
            weights: args.weights.clone(),
            devices,
            ..Overrides::default()
        },
    };
    let record = StudyRecord::resolve(&request)?;
    let out = args
        .out
        .clone()
        .unwrap_or_else(|| next_study_dir(Path::new("runs"), &name));
    let existing = out.join(StudyRecord::FILE_NAME);
    if let Ok(text) = std::fs::read_to_string(&existing) {
        let same = serde_json::from_str::<StudyRecord>(&text).is_ok_and(|r| r == record);
        if !same {
            bail!(
                "{} holds a study of other settings ({}); continue it with `--resume {}` \
                 or give another --out",
                out.display(),
                existing.display(),
                out.display()
            );
        }
    }
    Ok((record, out))
}

/// `run_study` on the chosen backend.
struct RunStudy<'a> {
    plan: &'a StudyPlan,
    options: &'a StudyOptions,
}

impl BackendTask for RunStudy<'_> {
    type Output = fineface_study::Result<StudyOutcome>;

    fn run<B: FineFaceAutodiffBackend>(
        self,
        devices: Vec<B::Device>,
    ) -> fineface_train::Result<Self::Output> {
        Ok(run_study::<B>(self.plan, &devices, self.options))
    }
}
