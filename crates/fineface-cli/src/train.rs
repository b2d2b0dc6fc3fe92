//! `fineface train`: a new run from an experiment, or a run resumed.

use std::path::{Path, PathBuf};

use anyhow::Context;
use clap::Args;
use fineface_model::FineFaceAutodiffBackend;
use fineface_train::{
    BackboneChoice, BackendTask, ExperimentConfig, NodeSettings, Overrides, RunOptions, RunSummary,
    backbone_config, next_run_dir, on_devices, parse_devices,
};

use crate::experiment::{experiment_path, print_summary};
use crate::flags;
use crate::logging::init_logging;
use crate::nodes::Cluster;

#[derive(Args)]
pub(crate) struct TrainArgs {
    /// Experiment name (reads `configs/<name>.toml`) or a TOML path; optional with
    /// `--resume`, which reads the run's own config.
    #[arg(required_unless_present = "resume")]
    pub(crate) experiment: Option<String>,
    /// Dataset root.
    #[arg(long)]
    pub(crate) data: Option<PathBuf>,
    /// Epochs.
    #[arg(long, value_parser = flags::epochs)]
    pub(crate) epochs: Option<usize>,
    /// Images per batch (2 or more: BatchNorm needs two).
    #[arg(long, value_parser = flags::batch_size)]
    pub(crate) batch_size: Option<usize>,
    /// One device: `cpu`, `cuda:0`, `wgpu` (the default adapter) or `wgpu:N` (the N-th adapter).
    #[arg(long, conflicts_with = "devices", value_parser = flags::device)]
    pub(crate) device: Option<String>,
    /// Several devices for data parallelism, one worker each, running at once:
    /// `cuda:0,cuda:1`.
    #[arg(long, value_delimiter = ',', value_parser = flags::device)]
    pub(crate) devices: Option<Vec<String>>,
    /// Started by `mpirun` or `srun` over several machines (a build with the `mpi`
    /// feature): seconds a node waits for the others at an exchange before it stops the run
    /// naming those that did not come. Node 0 validates and checkpoints between epochs while
    /// the others wait: give it longer than that.
    #[arg(long, default_value_t = 600, value_parser = clap::value_parser!(u64).range(1..))]
    pub(crate) node_timeout: u64,
    /// The run folder (default `runs/<name>/run-NNN`).
    #[arg(long)]
    pub(crate) out: Option<PathBuf>,
    /// Seed of initialisation, splits, order and augmentation.
    #[arg(long)]
    pub(crate) seed: Option<u64>,
    /// Backbone (`resnet18` ... `resnet152`, `mobilenet_v2`).
    #[arg(long)]
    pub(crate) backbone: Option<BackboneChoice>,
    /// Training crop size in pixels, 32 or more (the paper: 448).
    #[arg(long, value_parser = flags::image_size)]
    pub(crate) image_size: Option<u32>,
    /// ImageNet weights of the backbone (torchvision `.pth` or `.safetensors`).
    #[arg(long, conflicts_with = "no_weights")]
    pub(crate) weights: Option<PathBuf>,
    /// Train the backbone from scratch even if the experiment names ImageNet weights.
    #[arg(long)]
    pub(crate) no_weights: bool,
    /// Continue the run in this folder from its latest checkpoint (on the devices of its
    /// config.toml, or on `--device`/`--devices`: any number of them).
    #[arg(long, conflicts_with = "out")]
    pub(crate) resume: Option<PathBuf>,
    /// Stop after this many epochs (resumable), e.g. to split a long run; 1 or more.
    #[arg(long, value_parser = flags::epochs)]
    pub(crate) stop_after_epoch: Option<usize>,
    /// Folder of experiment files.
    #[arg(long, default_value = "configs")]
    pub(crate) configs: PathBuf,
    /// No progress bar.
    #[arg(long)]
    pub(crate) quiet: bool,
    /// Without a progress bar (off a terminal, or `--quiet`), log a progress line (iteration,
    /// images/s, the epoch's ETA) every this many seconds.
    #[arg(long, default_value_t = 30.0)]
    pub(crate) progress_every: f64,
}

/// Trains, as one node of several when `mpirun` or `srun` started this process (MPI
/// between the nodes); on a failure there, stops every node.
pub(crate) fn train(args: TrainArgs) -> anyhow::Result<()> {
    let cluster = Cluster::join(std::time::Duration::from_secs(args.node_timeout))?;
    let trained = train_as(&args, cluster.nodes());
    cluster.finish(trained)
}

/// Trains as node `nodes` (this machine alone with `None`).
fn train_as(args: &TrainArgs, nodes: Option<&NodeSettings>) -> anyhow::Result<()> {
    let rank = nodes.map_or(0, NodeSettings::rank);
    let (config, run_dir, resume) = match &args.resume {
        Some(run) => {
            let config = resumed_config(args, run)?;
            let resume = has_checkpoint(run);
            if !resume {
                refuse_retraining_results(run)?;
                fineface_train::check_imagenet_weights(&config.model)?;
            }
            (config, run.clone(), resume)
        }
        None => {
            let (config, run_dir) = new_run(args, nodes)?;
            (config, run_dir, false)
        }
    };
    // Everything that can be refused is checked before the run folder is touched.
    let devices = parse_devices(&config.train.devices)?;
    let workers = devices.len() * nodes.map_or(1, NodeSettings::nodes) as usize;
    anyhow::ensure!(
        config.train.batch_size >= 2 * workers,
        "a batch of {} images (--batch-size or train.batch_size) cannot give each of {workers} \
         workers the 2 images BatchNorm needs: use --batch-size {} or more, or fewer devices",
        config.train.batch_size,
        2 * workers
    );
    let options = run_options(args, &run_dir, resume, nodes)?;
    // A start that fails before its first checkpoint (a split too small) leaves no folder
    // behind when it made it: the same command can be run again. Over several nodes the
    // folder and its logs stay (the other nodes log there too, and a node that stops the
    // run aborts them all); a folder of logs alone is taken again by the same command.
    let made_here = args.resume.is_none() && nodes.is_none() && !run_dir.exists();
    start_logging(args, &run_dir, resume, rank)?;
    tracing::info!(run = %run_dir.display(), experiment = %config.name, method = ?config.method, "starting");
    let trained = on_devices(
        &devices,
        Train {
            config: &config,
            options: &options,
        },
    );
    let summary = match trained {
        Ok(summary) => summary,
        Err(error) if made_here && !has_checkpoint(&run_dir) => {
            if std::fs::remove_dir_all(&run_dir).is_ok() {
                tracing::info!(
                    "removed {}: the run stopped before its first checkpoint",
                    run_dir.display()
                );
            }
            return Err(error.into());
        }
        // The dataset of a resumed run, where its config.toml says: it may have moved.
        Err(fineface_train::TrainError::Data(source))
            if args.resume.is_some() && args.data.is_none() =>
        {
            return Err(fineface_train::TrainError::RunDataset {
                config: fineface_train::RunFiles::new(&run_dir).config(),
                source: Box::new(source),
            }
            .into());
        }
        Err(error) => return Err(error.into()),
    };
    print_summary(&summary, &config, rank);
    Ok(())
}

/// How the run is trained: where, resumed or not, progress, the other nodes.
fn run_options(
    args: &TrainArgs,
    run_dir: &Path,
    resume: bool,
    nodes: Option<&NodeSettings>,
) -> anyhow::Result<RunOptions> {
    Ok(RunOptions {
        run_dir: run_dir.to_owned(),
        resume,
        stop_after_epoch: args.stop_after_epoch,
        progress: !args.quiet,
        progress_every: std::time::Duration::try_from_secs_f64(args.progress_every)
            .with_context(|| format!("--progress-every {}", args.progress_every))?,
        nodes: nodes.cloned(),
        allow_changed_config: false,
    })
}

/// Makes the run folder and logs into it (`train.log`; `train-node<R>.log` on nodes after
/// the first, beside node 0's when the folder is shared).
fn start_logging(args: &TrainArgs, run_dir: &Path, resume: bool, rank: u32) -> anyhow::Result<()> {
    std::fs::create_dir_all(run_dir)
        .with_context(|| format!("cannot create the run folder {}", run_dir.display()))?;
    // Nodes after the first log beside node 0's log when the run folder is shared.
    let log = fineface_train::RunFiles::new(run_dir).log(rank);
    init_logging(Some(&log))?;
    if args.resume.is_some() && !resume {
        tracing::info!(
            "{} has no checkpoint yet: training it from the start with its config.toml",
            run_dir.display()
        );
    }
    Ok(())
}

/// Refuses to train a run folder again from the start when it holds results but no
/// checkpoint (its `checkpoints/` deleted, or not copied with it): the new run would replace
/// them.
fn refuse_retraining_results(run: &Path) -> anyhow::Result<()> {
    let files = fineface_train::RunFiles::new(run);
    let results: Vec<String> = [
        files.best_weights(),
        files.summary(),
        files.metrics(),
        files.test().dir().to_owned(),
    ]
    .into_iter()
    .filter(|f| f.exists())
    .filter_map(|f| f.file_name().map(|n| n.to_string_lossy().into_owned()))
    .collect();
    anyhow::ensure!(
        results.is_empty(),
        "--resume {}: the run holds results ({}) but no checkpoint to continue from \
         (checkpoints/ deleted, or not copied with it); training it again from the start \
         would replace them: restore its checkpoints/ folder, or start a new run with --out",
        run.display(),
        results.join(", ")
    );
    Ok(())
}

/// Whether the run to resume has a checkpoint. One stopped before its first (a failed
/// start, `--stop-after-epoch` before the end of epoch 1, a node 0 stopped while waiting)
/// has nothing to continue: it starts over from its own config.toml, saying so. Damaged
/// checkpoints are not "none": the resume verifies them (once) and their error stands.
fn has_checkpoint(run: &Path) -> bool {
    !fineface_train::Checkpoints::new(run).is_empty()
}

/// The config and folder of a new run, checked (the dataset found, the weights there) before
/// anything is created; an `--out` that already holds files is refused, not overwritten.
fn new_run(
    args: &TrainArgs,
    nodes: Option<&NodeSettings>,
) -> anyhow::Result<(ExperimentConfig, PathBuf)> {
    let experiment = args
        .experiment
        .as_deref()
        .context("name an experiment (or --resume RUN)")?;
    // Each node would pick the next free folder of `runs/` for itself, not all the same.
    anyhow::ensure!(
        nodes.is_none() || args.out.is_some(),
        "over several nodes, name the run folder with --out (the same on every node; on a \
         shared file system node 0 writes the run there and the others their logs)"
    );
    let path = experiment_path(experiment, &args.configs);
    let mut config = ExperimentConfig::from_file_with(&path, &overrides(args))?;
    if args.no_weights {
        config.model.weights = None;
    }
    backbone_config(&config.model).with_context(|| path.display().to_string())?;
    fineface_train::check_imagenet_weights(&config.model)?;
    config.data.load(&config.split)?;
    let run_dir = match &args.out {
        Some(out) => {
            // Nodes after the first share node 0's folder, where they may already have
            // started their logs; logs alone are no run (a start that failed over several
            // nodes leaves them).
            let used = nodes.is_none_or(NodeSettings::is_first)
                && std::fs::read_dir(out).is_ok_and(|entries| {
                    entries.filter_map(Result::ok).any(|e| {
                        !fineface_train::RunFiles::is_log(&e.file_name().to_string_lossy())
                    })
                });
            anyhow::ensure!(
                !used,
                "--out {}: the folder already holds files (a finished or started run is never \
                 overwritten): continue it with `--resume {}`, or give another --out",
                out.display(),
                out.display()
            );
            out.clone()
        }
        None => next_run_dir(Path::new("runs"), &config.name),
    };
    Ok((config, run_dir))
}

/// The command line's settings over an experiment's.
fn overrides(args: &TrainArgs) -> Overrides {
    Overrides {
        data: args.data.clone(),
        epochs: args.epochs,
        batch_size: args.batch_size,
        devices: args
            .devices
            .clone()
            .or_else(|| args.device.clone().map(|d| vec![d])),
        seed: args.seed,
        backbone: args.backbone.clone(),
        image_size: args.image_size,
        weights: args.weights.clone(),
    }
}

/// The config a run resumes with: its own `config.toml` with the flags that may change on a
/// resume applied (`--epochs`, `--data` where the dataset moved, the devices); an experiment
/// other than the run's, or a flag that would change what is trained (`--batch-size`,
/// `--seed`, ...), is an error naming it.
fn resumed_config(args: &TrainArgs, run: &Path) -> anyhow::Result<ExperimentConfig> {
    let path = fineface_train::RunFiles::new(run).config();
    // Where the dataset and weights are may change (a run copied from another machine, a
    // Windows path in its file): the file is read with them in place.
    let moved = Overrides {
        data: args.data.clone(),
        weights: args.weights.clone(),
        ..Overrides::default()
    };
    let mut config = ExperimentConfig::from_file_with(&path, &moved)
        .with_context(|| format!("cannot resume {}: its config.toml", run.display()))?;
    if let Some(experiment) = &args.experiment {
        let wanted = ExperimentConfig::from_file(&experiment_path(experiment, &args.configs))?;
        anyhow::ensure!(
            wanted.name == config.name,
            "--resume {}: that run trains experiment `{}`, not `{experiment}` (`{}`); drop the \
             experiment to resume it",
            run.display(),
            config.name,
            wanted.name
        );
        // The same name with other settings (an edited or another copy of the file).
        let differs = refused_changes(&config, &wanted, ChangedBy::File);
        anyhow::ensure!(
            differs.is_empty(),
            "--resume {}: `{experiment}` is not the experiment the run trains: {}; drop the \
             experiment to resume the run with its own settings, or start a new run",
            run.display(),
            differs.join(", ")
        );
    }
    if args.weights.is_some() && !args.no_weights {
        tracing::warn!(
            "--weights is not read on a resume: the run's checkpoint holds the weights it trained"
        );
    }
    let before = config.clone();
    config.apply(&overrides(args));
    if args.no_weights {
        config.model.weights = None;
    }
    let refused = refused_changes(&before, &config, ChangedBy::Flags);
    anyhow::ensure!(
        refused.is_empty(),
        "--resume {}: the flags given would change {}; a resumed run keeps the settings it \
         started with (--epochs, --data, --device(s) and --stop-after-epoch apply): drop them, \
         or start a new run",
        run.display(),
        refused.join(", ")
    );
    Ok(config)
}

/// What a resume may change of a run's settings: the epochs (a run extended with
/// `--epochs`), where the dataset and the ImageNet weights are.
const A_RESUME_MAY_CHANGE: [&str; 3] = ["train.epochs", "data.root", "model.weights"];

/// Where the settings a resume is given come from, for its refusals.
#[derive(Clone, Copy, PartialEq, Eq)]
enum ChangedBy {
    /// An experiment file beside `--resume`.
    File,
    /// The flags of the command line, each named.
    Flags,
}

/// The settings `other` changes from the run's `run` that a resume may not, each as
/// `key = new (the run trains with old)`, after the flag that set it where `by` is flags.
fn refused_changes(run: &ExperimentConfig, other: &ExperimentConfig, by: ChangedBy) -> Vec<String> {
    run.differences(other)
        .into_iter()
        .filter(|d| !A_RESUME_MAY_CHANGE.contains(&d.key.as_str()))
        .map(|d| {
            let flag = match by {
                ChangedBy::Flags => flag_of(&d.key).map(|f| format!("{f}: ")),
                ChangedBy::File => None,
            };
            format!(
                "{}{} = {} (the run trains with {})",
                flag.unwrap_or_default(),
                d.key,
                d.other,
                d.this
            )
        })
        .collect()
}

/// The flag of `train` that sets the setting `key`, for messages.
fn flag_of(key: &str) -> Option<&'static str> {
    Some(match key {
        "train.batch_size" => "--batch-size",
        "train.seed" | "split.seed" => "--seed",
        "model.backbone" => "--backbone",
        "transform.crop" | "transform.resize" | "transform.pad" => "--image-size",
        "train.devices" => "--devices",
        _ => return None,
    })
}

/// `fineface_train::train` on the chosen backend.
struct Train<'a> {
    config: &'a ExperimentConfig,
    options: &'a RunOptions,
}

impl BackendTask for Train<'_> {
    type Output = RunSummary;

    fn run<B: FineFaceAutodiffBackend>(
        self,
        devices: Vec<B::Device>,
    ) -> fineface_train::Result<RunSummary> {
        fineface_train::train::<B>(self.config, &devices, self.options)
    }
}
