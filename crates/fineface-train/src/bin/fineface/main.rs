//! `fineface`: train, evaluate and predict. Usually started through `cargo xtask train`,
//! `cargo xtask eval` and `cargo xtask predict`, which build it with the right features.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use clap::{Args, Parser, Subcommand};
use fineface_data::{DatasetConfig, Split};
use fineface_model::FineFaceAutodiffBackend;
use fineface_train::study::{
    StudyOptions, StudyOutcome, StudyPlan, StudyRecord, StudyRequest, next_study_dir, run_study,
};
use fineface_train::{
    BackboneChoice, BackendTask, EvalData, EvalRequest, EvalSplit, ExperimentConfig, NodeSettings,
    Overrides, RunFolder, RunOptions, RunSummary, backbone_config, next_run_dir, on_devices,
    parse_devices, write_json,
};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Layer};

mod flags;
mod photos;

#[derive(Parser)]
#[command(
    name = "fineface",
    about = "FineFACE: fair face-attribute classification",
    version
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Train an experiment (`configs/<name>.toml` or a path to a TOML file).
    Train(TrainArgs),
    /// Evaluate a trained run on its test split or on another dataset.
    Eval(EvalArgs),
    /// Predict the attribute of aligned face images, or of every face of raw photos
    /// (`--detect`: `faces.csv` and annotated pictures).
    Predict(photos::PredictArgs),
    /// Raw photos of a dataset made into aligned face chips in the same layout, as FairFace
    /// was prepared: `--root RAW --out CHIPS [--padding 0.25 --size 224]`.
    Align(photos::AlignArgs),
    /// A seed study: every method trained on each seed (paired), evaluated on the test
    /// split and across datasets; `study.json`, `study.md`, `study.svg`.
    Study(StudyArgs),
    /// List the devices this build can run on (CPU, CUDA, wgpu adapters); `--probe DEVICE`
    /// also runs a small convolution with its gradients there and compares it with the CPU.
    Devices(DevicesArgs),
}

#[derive(Args)]
struct TrainArgs {
    /// Experiment name (reads `configs/<name>.toml`) or a TOML path; optional with
    /// `--resume`, which reads the run's own config.
    #[arg(required_unless_present = "resume")]
    experiment: Option<String>,
    /// Dataset root.
    #[arg(long)]
    data: Option<PathBuf>,
    /// Epochs.
    #[arg(long, value_parser = flags::epochs)]
    epochs: Option<usize>,
    /// Images per batch (2 or more: BatchNorm needs two).
    #[arg(long, value_parser = flags::batch_size)]
    batch_size: Option<usize>,
    /// One device: `cpu`, `cuda:0`, `wgpu` (the default adapter) or `wgpu:N` (the N-th adapter).
    #[arg(long, conflicts_with = "devices", value_parser = flags::device)]
    device: Option<String>,
    /// Several devices for data parallelism, one worker each, running at once:
    /// `cuda:0,cuda:1`.
    #[arg(long, value_delimiter = ',', value_parser = flags::device)]
    devices: Option<Vec<String>>,
    /// Machines in a data-parallel run over several machines; each runs this command with
    /// its own `--node-rank`, the same `--hub` and the same number of devices.
    #[arg(long, requires_all = ["node_rank", "hub"])]
    nodes: Option<u32>,
    /// This machine's rank, `0..nodes`: node 0 is the hub the others connect to, and it
    /// validates, checkpoints and writes the run folder.
    #[arg(long, requires = "nodes")]
    node_rank: Option<u32>,
    /// `HOST:PORT` of node 0 as the other nodes reach it; node 0 listens there (an address
    /// of its machine; `0.0.0.0:PORT` for every interface).
    #[arg(long, requires = "nodes")]
    hub: Option<String>,
    /// The run folder (default `runs/<name>/run-NNN`).
    #[arg(long)]
    out: Option<PathBuf>,
    /// Seed of initialisation, splits, order and augmentation.
    #[arg(long)]
    seed: Option<u64>,
    /// Backbone (`resnet18` ... `resnet152`, `mobilenet_v2`).
    #[arg(long)]
    backbone: Option<BackboneChoice>,
    /// Training crop size in pixels, 32 or more (the paper: 448).
    #[arg(long, value_parser = flags::image_size)]
    image_size: Option<u32>,
    /// ImageNet weights of the backbone (torchvision `.pth` or `.safetensors`).
    #[arg(long, conflicts_with = "no_weights")]
    weights: Option<PathBuf>,
    /// Train the backbone from scratch even if the experiment names ImageNet weights.
    #[arg(long)]
    no_weights: bool,
    /// Continue the run in this folder from its latest checkpoint (on the devices of its
    /// config.toml, or on `--device`/`--devices`: any number of them).
    #[arg(long, conflicts_with = "out")]
    resume: Option<PathBuf>,
    /// Stop after this many epochs (resumable), e.g. to split a long run; 1 or more.
    #[arg(long, value_parser = flags::epochs)]
    stop_after_epoch: Option<usize>,
    /// Folder of experiment files.
    #[arg(long, default_value = "configs")]
    configs: PathBuf,
    /// No progress bar.
    #[arg(long)]
    quiet: bool,
    /// Without a progress bar (off a terminal, or `--quiet`), log a progress line (iteration,
    /// images/s, the epoch's ETA) every this many seconds.
    #[arg(long, default_value_t = 30.0)]
    progress_every: f64,
}

#[derive(Args)]
struct StudyArgs {
    /// Experiment name: method `fineface` trains `configs/<name>.toml`, `baseline`
    /// `configs/<name>-baseline.toml`, any other method `configs/<name>-<method>.toml`.
    #[arg(required_unless_present = "resume")]
    experiment: Option<String>,
    /// Seeds 0, 1, ..., N-1.
    #[arg(long, default_value_t = 3, conflicts_with = "seed_list")]
    seeds: u64,
    /// These seeds instead: `--seed-list 1,2,3`.
    #[arg(long, value_delimiter = ',')]
    seed_list: Option<Vec<u64>>,
    /// Methods in the order compared (paired differences are first minus second).
    #[arg(long, value_delimiter = ',', default_value = "fineface,baseline")]
    methods: Vec<String>,
    /// Epochs of every run.
    #[arg(long, value_parser = flags::epochs)]
    epochs: Option<usize>,
    /// Dataset root of every method.
    #[arg(long)]
    data: Option<PathBuf>,
    /// ImageNet weights of every method's backbone (torchvision `.pth` or `.safetensors`).
    #[arg(long)]
    weights: Option<PathBuf>,
    /// Cross-dataset audit of every run, on all images of a dataset: `NAME=DATASET:PATH`
    /// (`--eval celeba=celeba:data/celeba`); may be repeated.
    #[arg(long = "eval")]
    evals: Vec<String>,
    /// The study folder (default `runs/<experiment>/study-NNN`).
    #[arg(long, conflicts_with = "resume")]
    out: Option<PathBuf>,
    /// Continue the study in this folder (its `plan.json`): finished runs are kept, an
    /// unfinished run resumes from its checkpoint.
    #[arg(long, conflicts_with_all = [
        "experiment", "seeds", "seed_list", "methods", "epochs", "data", "weights", "evals",
        "configs",
    ])]
    resume: Option<PathBuf>,
    /// One device for every run: `cpu`, `cuda:0`, `wgpu`, `wgpu:N` (with `--resume`: instead
    /// of the devices the study started on).
    #[arg(long, conflicts_with = "devices", value_parser = flags::device)]
    device: Option<String>,
    /// Several devices for data parallelism: `cuda:0,cuda:1`.
    #[arg(long, value_delimiter = ',', value_parser = flags::device)]
    devices: Option<Vec<String>>,
    /// Stop after training this many runs (resumable with `--resume`), to split a long study.
    #[arg(long)]
    stop_after_runs: Option<usize>,
    /// Also write the paper's Table 2/3 layout with its numbers (`paper-tables.md`); on by
    /// default when the experiment trains on FairFace.
    #[arg(long)]
    paper_tables: bool,
    /// Bootstrap replicates of one run's test-sample intervals in `study.md` (0: none).
    #[arg(long, default_value_t = 1000)]
    bootstrap: usize,
    /// Folder of experiment files.
    #[arg(long, default_value = "configs")]
    configs: PathBuf,
    /// No progress bars.
    #[arg(long)]
    quiet: bool,
}

#[derive(Args)]
struct EvalArgs {
    /// The run folder.
    #[arg(long)]
    run: PathBuf,
    /// Another dataset kind to evaluate on (`utkface`, `celeba`, `lfwa`, `fairface`, ...).
    #[arg(long, requires = "data")]
    dataset: Option<String>,
    /// Root of that dataset.
    #[arg(long)]
    data: Option<PathBuf>,
    /// Which split: `test` (default for the run's own dataset), `val`, `train` or `all`
    /// (default for another dataset).
    #[arg(long)]
    split: Option<String>,
    /// Output folder (default `<run>/eval-<dataset>-<split>`, `...-detect` with `--detect`).
    #[arg(long)]
    out: Option<PathBuf>,
    /// Write over an evaluation already in the output folder (refused otherwise).
    #[arg(long)]
    replace: bool,
    /// Device.
    #[arg(long, default_value = "cpu", value_parser = flags::device)]
    device: String,
    /// Images per forward pass (1 or more).
    #[arg(long, default_value_t = 32, value_parser = flags::at_least_one)]
    batch_size: usize,
    /// The images are raw photos: find each one's face (the kept one of several, `--keep`)
    /// and align it as `fineface align` would before classifying; photos without a face are
    /// skipped with the reason.
    #[arg(long)]
    detect: bool,
    #[command(flatten)]
    faces: photos::FaceArgs,
}

#[derive(Args)]
struct DevicesArgs {
    /// Run the probe on this device (`cuda:0`, `wgpu`, `wgpu:1`); may be repeated. Exits with
    /// an error naming the first device that cannot run it.
    #[arg(long)]
    probe: Vec<String>,
    /// Print JSON (`backends`, `probes`) instead of text.
    #[arg(long)]
    json: bool,
}

fn main() -> std::process::ExitCode {
    match run(Cli::parse()) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(error) => {
            // Each cause once, on one line, no backtrace even under RUST_BACKTRACE=1: a bad
            // flag or file is the user's to fix and the message says how; a bug panics, and
            // a panic keeps its backtrace.
            let text = fineface_data::error_chain(error.as_ref());
            // Always on stderr, whatever RUST_LOG filters; into the run's log too, through
            // a target the stderr layer leaves out.
            #[allow(clippy::print_stderr)] // The command's last word is for its user.
            {
                eprintln!("error: {text}");
            }
            tracing::error!(target: EXIT_TARGET, "{text}");
            std::process::ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Train(args) => train(args),
        Command::Eval(args) => {
            init_logging(None)?;
            eval(args)
        }
        Command::Predict(args) => {
            init_logging(None)?;
            photos::predict(args)
        }
        Command::Align(args) => {
            init_logging(None)?;
            photos::align(args)
        }
        Command::Study(args) => study(args),
        Command::Devices(args) => {
            init_logging(None)?;
            devices(&args)
        }
    }
}

/// `fineface devices`: what each backend finds, then the probes asked for. With `--json`
/// the JSON is printed even when a probe fails (the failure under `probes[].error`), and the
/// exit status still says it failed.
#[allow(clippy::print_stdout)] // The listing is this command's output.
fn devices(args: &DevicesArgs) -> anyhow::Result<()> {
    let found = fineface_model::found_devices();
    let mut probes = Vec::new();
    let mut failure = None;
    for name in &args.probe {
        let result = name
            .parse::<fineface_model::DeviceSpec>()
            .map_err(anyhow::Error::from)
            .and_then(|spec| fineface_train::probe_device(spec).map_err(anyhow::Error::from));
        match result {
            Ok(probe) => probes.push(serde_json::json!(probe)),
            Err(error) => {
                probes.push(serde_json::json!({"device": name, "error": format!("{error:#}")}));
                failure.get_or_insert(error.context(format!("probing {name}")));
                break;
            }
        }
    }
    if args.json {
        let backends: Vec<serde_json::Value> = found
            .iter()
            .map(|b| {
                serde_json::json!({
                    "backend": b.backend,
                    "unavailable": b.unavailable,
                    "devices": b.devices.iter().map(|d| serde_json::json!({
                        "device": d.spec.to_string(),
                        "name": d.name,
                        "detail": d.detail,
                    })).collect::<Vec<_>>(),
                })
            })
            .collect();
        let json = serde_json::json!({"backends": backends, "probes": probes});
        println!("{}", serde_json::to_string_pretty(&json)?);
    } else {
        for backend in &found {
            match &backend.unavailable {
                Some(reason) => println!("{:<5} none: {reason}", backend.backend),
                None => {
                    for d in &backend.devices {
                        println!(
                            "{:<5} {:<8} {} ({})",
                            backend.backend, d.spec, d.name, d.detail
                        );
                    }
                }
            }
        }
        for probe in &probes {
            if probe.get("error").is_none() {
                println!(
                    "probe {}: matches the CPU (relative error {:.1e}); first run {:.2} s, \
                     second {:.3} s",
                    probe["device"].as_str().unwrap_or_default(),
                    probe["max_relative_error"].as_f64().unwrap_or_default(),
                    probe["first_seconds"].as_f64().unwrap_or_default(),
                    probe["seconds"].as_f64().unwrap_or_default(),
                );
            }
        }
    }
    failure.map_or(Ok(()), Err)
}

/// Logs to stderr (`RUST_LOG`, default info) and, for runs, to `train.log` in the run folder.
/// The target of the error a command ends with: written to the log file, not again to
/// stderr (`main` prints it there).
const EXIT_TARGET: &str = "fineface::exit";

fn init_logging(file: Option<&Path>) -> anyhow::Result<()> {
    // Colour codes only on a terminal: a log redirected to a file or a pipe stays plain.
    let stderr = tracing_subscriber::fmt::layer()
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .with_filter(EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")))
        .with_filter(tracing_subscriber::filter::filter_fn(|meta| {
            meta.target() != EXIT_TARGET
        }));
    let file_layer = match file {
        Some(path) => {
            let log = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(path)
                .with_context(|| format!("cannot open the log {}", path.display()))?;
            Some(
                tracing_subscriber::fmt::layer()
                    .with_ansi(false)
                    .with_writer(std::sync::Mutex::new(log))
                    .with_filter(EnvFilter::new("info,fineface_train=debug")),
            )
        }
        None => None,
    };
    tracing_subscriber::registry()
        .with(stderr)
        .with(file_layer)
        .try_init()
        .context("cannot install the logger")
}

fn train(args: TrainArgs) -> anyhow::Result<()> {
    let (config, run_dir, resume) = match &args.resume {
        Some(run) => {
            let config = resumed_config(&args, run)?;
            let resume = has_checkpoint(run);
            if !resume {
                refuse_retraining_results(run)?;
                fineface_train::check_imagenet_weights(&config.model)?;
            }
            (config, run.clone(), resume)
        }
        None => {
            let (config, run_dir) = new_run(&args)?;
            (config, run_dir, false)
        }
    };
    // Everything that can be refused is checked before the run folder is touched.
    let devices = parse_devices(&config.train.devices)?;
    let workers = devices.len() * args.nodes.unwrap_or(1) as usize;
    anyhow::ensure!(
        config.train.batch_size >= 2 * workers,
        "a batch of {} images (--batch-size or train.batch_size) cannot give each of {workers} \
         workers the 2 images BatchNorm needs: use --batch-size {} or more, or fewer devices",
        config.train.batch_size,
        2 * workers
    );
    let options = RunOptions {
        run_dir: run_dir.clone(),
        resume,
        stop_after_epoch: args.stop_after_epoch,
        progress: !args.quiet,
        progress_every: std::time::Duration::try_from_secs_f64(args.progress_every)
            .with_context(|| format!("--progress-every {}", args.progress_every))?,
        nodes: node_settings(&args)?,
        allow_changed_config: false,
    };
    // A start that fails before its first checkpoint (a split too small, a hub that cannot
    // listen) leaves no folder behind when it made it: the same command can be run again.
    let made_here = args.resume.is_none() && args.node_rank.unwrap_or(0) == 0 && !run_dir.exists();
    std::fs::create_dir_all(&run_dir)
        .with_context(|| format!("cannot create the run folder {}", run_dir.display()))?;
    // Nodes after the first log beside node 0's log when the run folder is shared.
    let log = match args.node_rank {
        Some(rank) if rank > 0 => format!("train-node{rank}.log"),
        _ => "train.log".to_owned(),
    };
    init_logging(Some(&run_dir.join(log)))?;
    if args.resume.is_some() && !resume {
        tracing::info!(
            "{} has no checkpoint yet: training it from the start with its config.toml",
            run_dir.display()
        );
    }
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
                config: run_dir.join("config.toml"),
                source: Box::new(source),
            }
            .into());
        }
        Err(error) => return Err(error.into()),
    };
    print_summary(&summary, &config, args.node_rank.unwrap_or(0));
    Ok(())
}

/// Refuses to train a run folder again from the start when it holds results but no
/// checkpoint (its `checkpoints/` deleted, or not copied with it): the new run would replace
/// them.
fn refuse_retraining_results(run: &Path) -> anyhow::Result<()> {
    let results: Vec<&str> = ["best.mpk", "summary.json", "metrics.csv", "test"]
        .into_iter()
        .filter(|f| run.join(f).exists())
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
fn new_run(args: &TrainArgs) -> anyhow::Result<(ExperimentConfig, PathBuf)> {
    let experiment = args
        .experiment
        .as_deref()
        .context("name an experiment (or --resume RUN)")?;
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
            // Nodes after the first share node 0's folder.
            let first_node = args.node_rank.unwrap_or(0) == 0;
            let used = first_node
                && std::fs::read_dir(out).is_ok_and(|mut entries| entries.next().is_some());
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
    let path = run.join("config.toml");
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

/// `--nodes` and its companions, checked.
fn node_settings(args: &TrainArgs) -> anyhow::Result<Option<NodeSettings>> {
    let (Some(nodes), Some(rank), Some(hub)) = (args.nodes, args.node_rank, args.hub.clone())
    else {
        return Ok(None);
    };
    let settings = NodeSettings { nodes, rank, hub };
    settings.validate()?;
    Ok(Some(settings))
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

fn study(args: StudyArgs) -> anyhow::Result<()> {
    let devices = args
        .devices
        .clone()
        .or_else(|| args.device.clone().map(|d| vec![d]));
    let (record, out) = match (&args.resume, &args.experiment) {
        (Some(dir), _) => {
            let path = dir.join(StudyRecord::FILE_NAME);
            let text = std::fs::read_to_string(&path)
                .with_context(|| format!("cannot resume the study {}", dir.display()))?;
            let mut record: StudyRecord = serde_json::from_str(&text)
                .with_context(|| format!("{} is not a study plan", path.display()))?;
            if let Some(devices) = &devices {
                record.set_devices(devices);
            }
            (record, dir.clone())
        }
        (None, Some(experiment)) => {
            // A file `x.toml` in the configs folder studies experiment `x`.
            let name = if experiment.ends_with(".toml") {
                Path::new(experiment)
                    .file_stem()
                    .map_or_else(|| experiment.clone(), |s| s.to_string_lossy().into_owned())
            } else {
                experiment.clone()
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
            (record, out)
        }
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
            .is_some_and(|m| m.config.data.kind() == "fairface");
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
    )?;
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

/// `run_study` on the chosen backend.
struct RunStudy<'a> {
    plan: &'a StudyPlan,
    options: &'a StudyOptions,
}

impl BackendTask for RunStudy<'_> {
    type Output = StudyOutcome;

    fn run<B: FineFaceAutodiffBackend>(
        self,
        devices: Vec<B::Device>,
    ) -> fineface_train::Result<StudyOutcome> {
        run_study::<B>(self.plan, &devices, self.options)
    }
}

fn experiment_path(experiment: &str, configs: &Path) -> PathBuf {
    let direct = PathBuf::from(experiment);
    if experiment.ends_with(".toml") || direct.is_file() {
        direct
    } else {
        configs.join(format!("{experiment}.toml"))
    }
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

/// FineFACE's other two readings of its heads, ` (concat X, 4 heads Y)`; nothing for the
/// baseline, which has one head.
fn head_accuracies(method: fineface_train::Method, concat: f64, heads: f64) -> String {
    match method {
        fineface_train::Method::FineFace => format!(" (concat {concat:.4}, 4 heads {heads:.4})"),
        fineface_train::Method::Baseline => String::new(),
    }
}

#[allow(clippy::print_stdout)]
fn print_summary(summary: &RunSummary, config: &ExperimentConfig, node_rank: u32) {
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

fn eval(args: EvalArgs) -> anyhow::Result<()> {
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
    let data = match (&args.dataset, &args.data) {
        (Some(kind), Some(root)) => EvalData::Other(
            DatasetConfig::with_root(kind, root.clone()).with_context(|| {
                format!(
                    "--dataset {kind}: unknown dataset kind (one of {})",
                    DatasetConfig::KINDS.join(", ")
                )
            })?,
        ),
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
    let compared = run.dir.join(fineface_train::TRAINED_ON_FILE).is_file();
    if own && !compared && matches!(split, Some(EvalSplit::All | EvalSplit::One(Split::Train))) {
        tracing::warn!(
            "--split {}: the run trained on this dataset's train split, so these numbers \
             include images it learned from and flatter it (its test split is the held-out one)",
            args.split.as_deref().unwrap_or_default()
        );
    }
    let request = EvalRequest {
        data,
        split,
        out: args.out.clone(),
        batch_size: args.batch_size,
        faces: args
            .detect
            .then(|| args.faces.settings(run.config.transform.resize as usize)),
        replace: args.replace,
    };
    let outcome = run.evaluate::<B>(&request, device)?;
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
            head_accuracies(
                run.config.method,
                summary.accuracy_concat,
                summary.accuracy_heads
            ),
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
    Ok(())
}
