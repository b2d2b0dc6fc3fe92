//! `fineface`: train, evaluate and predict. Usually started through `cargo xtask train`,
//! `cargo xtask eval` and `cargo xtask predict`, which build it with the right features.

use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use clap::{Args, Parser, Subcommand};
use fineface_data::{DatasetConfig, FaceDataset, Split, TransformConfig};
use fineface_model::AttentionCropConfig;
use fineface_model::{DeviceSpec, FineFaceBackend};
use fineface_train::{
    EvalSettings, ExperimentConfig, Method, Overrides, Predict, RunInfo, RunOptions, RunSummary,
    batch_tensor, build_backbone, build_baseline, build_fineface, load_weights, next_run_dir,
    predict_samples, summarise, write_evaluation, write_json,
};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Layer};

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
    /// Predict the attribute of single images.
    Predict(PredictArgs),
}

#[derive(Args)]
struct TrainArgs {
    /// Experiment name (reads `configs/<name>.toml`) or a TOML path.
    experiment: String,
    /// Dataset root.
    #[arg(long)]
    data: Option<PathBuf>,
    /// Epochs.
    #[arg(long)]
    epochs: Option<usize>,
    /// Images per batch.
    #[arg(long)]
    batch_size: Option<usize>,
    /// One device: `cpu`, `cuda:0`.
    #[arg(long, conflicts_with = "devices")]
    device: Option<String>,
    /// Several devices for data parallelism: `cuda:0,cuda:1`.
    #[arg(long, value_delimiter = ',')]
    devices: Option<Vec<String>>,
    /// The run folder (default `runs/<name>/run-NNN`).
    #[arg(long)]
    out: Option<PathBuf>,
    /// Seed of initialisation, splits, order and augmentation.
    #[arg(long)]
    seed: Option<u64>,
    /// Backbone (`resnet18` ... `resnet152`).
    #[arg(long)]
    backbone: Option<String>,
    /// Training crop size in pixels (the paper: 448).
    #[arg(long)]
    image_size: Option<u32>,
    /// ImageNet weights of the backbone (torchvision `.pth` or `.safetensors`).
    #[arg(long)]
    weights: Option<PathBuf>,
    /// Continue the run in this folder from its latest checkpoint.
    #[arg(long, conflicts_with = "out")]
    resume: Option<PathBuf>,
    /// Stop after this many epochs (resumable), e.g. to split a long run.
    #[arg(long)]
    stop_after_epoch: Option<usize>,
    /// Folder of experiment files.
    #[arg(long, default_value = "configs")]
    configs: PathBuf,
    /// No progress bar.
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
    /// Output folder (default `<run>/eval-<dataset>-<split>`).
    #[arg(long)]
    out: Option<PathBuf>,
    /// Device.
    #[arg(long, default_value = "cpu")]
    device: String,
    /// Images per forward pass.
    #[arg(long, default_value_t = 32)]
    batch_size: usize,
}

#[derive(Args)]
struct PredictArgs {
    /// The run folder.
    #[arg(long)]
    run: PathBuf,
    /// Images.
    #[arg(required = true)]
    images: Vec<PathBuf>,
    /// Device.
    #[arg(long, default_value = "cpu")]
    device: String,
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    match cli.command {
        Command::Train(args) => train(args),
        Command::Eval(args) => {
            init_logging(None)?;
            eval(args)
        }
        Command::Predict(args) => {
            init_logging(None)?;
            predict(args)
        }
    }
}

/// Logs to stderr (`RUST_LOG`, default info) and, for runs, to `train.log` in the run folder.
fn init_logging(file: Option<&Path>) -> anyhow::Result<()> {
    let stderr = tracing_subscriber::fmt::layer()
        .with_writer(std::io::stderr)
        .with_filter(EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")));
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
    let (config, run_dir, resume) = if let Some(run) = &args.resume {
        let path = run.join("config.toml");
        let config = ExperimentConfig::from_file(&path)
            .with_context(|| format!("cannot resume {}: its config.toml", run.display()))?;
        (config, run.clone(), true)
    } else {
        let path = experiment_path(&args.experiment, &args.configs);
        let mut config = ExperimentConfig::from_file(&path)?;
        if let Some(weights) = &args.weights
            && !weights.is_file()
        {
            bail!(
                "--weights {}: no such file (torchvision publishes resnet50-0676ba61.pth at https://download.pytorch.org/models/)",
                weights.display()
            );
        }
        config.apply(&Overrides {
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
        });
        config
            .validate()
            .map_err(|m| anyhow::anyhow!("{}: {m}", path.display()))?;
        let run_dir = args
            .out
            .clone()
            .unwrap_or_else(|| next_run_dir(Path::new("runs"), &config.name));
        (config, run_dir, false)
    };
    std::fs::create_dir_all(&run_dir)
        .with_context(|| format!("cannot create the run folder {}", run_dir.display()))?;
    init_logging(Some(&run_dir.join("train.log")))?;
    tracing::info!(run = %run_dir.display(), experiment = %config.name, method = ?config.method, "starting");
    let options = RunOptions {
        run_dir: run_dir.clone(),
        resume,
        stop_after_epoch: args.stop_after_epoch,
        progress: !args.quiet,
    };
    let devices = parse_devices(&config.train.devices)?;
    let summary = dispatch_train(&config, &devices, &options)?;
    print_summary(&summary);
    Ok(())
}

fn experiment_path(experiment: &str, configs: &Path) -> PathBuf {
    let direct = PathBuf::from(experiment);
    if experiment.ends_with(".toml") || direct.is_file() {
        direct
    } else {
        configs.join(format!("{experiment}.toml"))
    }
}

fn parse_devices(names: &[String]) -> anyhow::Result<Vec<DeviceSpec>> {
    let devices: Vec<DeviceSpec> = names
        .iter()
        .map(|n| n.parse::<DeviceSpec>())
        .collect::<Result<_, _>>()?;
    let cuda = devices
        .iter()
        .filter(|d| matches!(d, DeviceSpec::Cuda(_)))
        .count();
    if cuda != 0 && cuda != devices.len() {
        bail!("devices {names:?} mix cpu and cuda; use one kind");
    }
    for device in &devices {
        device.check()?;
    }
    Ok(devices)
}

fn dispatch_train(
    config: &ExperimentConfig,
    devices: &[DeviceSpec],
    options: &RunOptions,
) -> anyhow::Result<RunSummary> {
    match devices.first() {
        Some(DeviceSpec::Cuda(_)) => cuda_train(config, devices, options),
        _ => {
            let cpus = vec![Default::default(); devices.len().max(1)];
            Ok(fineface_train::train::<fineface_model::CpuAutodiff>(
                config, &cpus, options,
            )?)
        }
    }
}

#[cfg(feature = "cuda")]
fn cuda_train(
    config: &ExperimentConfig,
    devices: &[DeviceSpec],
    options: &RunOptions,
) -> anyhow::Result<RunSummary> {
    let cuda: Vec<_> = devices.iter().map(cuda_device).collect();
    Ok(fineface_train::train::<fineface_model::CudaAutodiff>(
        config, &cuda, options,
    )?)
}

#[cfg(feature = "cuda")]
fn cuda_device(spec: &DeviceSpec) -> burn::backend::cuda::CudaDevice {
    match spec {
        DeviceSpec::Cuda(i) => burn::backend::cuda::CudaDevice::new(*i),
        DeviceSpec::Cpu => burn::backend::cuda::CudaDevice::new(0),
    }
}

#[cfg(not(feature = "cuda"))]
fn cuda_train(
    _config: &ExperimentConfig,
    _devices: &[DeviceSpec],
    _options: &RunOptions,
) -> anyhow::Result<RunSummary> {
    bail!(
        "this build has no CUDA support: `cargo xtask train ... --device cuda:0` builds it \
         with `--features cuda`"
    )
}

#[allow(clippy::print_stdout)]
fn print_summary(summary: &RunSummary) {
    println!("run: {}", summary.run_dir.display());
    if let Some((value, epoch)) = summary.best {
        println!("best validation value {value:.4} at epoch {epoch}");
    }
    match &summary.test {
        Some(t) => println!(
            "test ({} images): accuracy {:.4} (concat {:.4}, 4 heads {:.4}), worst group {} {:.4}, DoB {:.4}, {:.0} s",
            t.n,
            t.accuracy,
            t.accuracy_concat,
            t.accuracy_heads,
            t.worst_group,
            t.worst_group_accuracy,
            t.dob,
            summary.seconds
        ),
        None => println!(
            "stopped after epoch {}; continue with `--resume {}`",
            summary.epochs,
            summary.run_dir.display()
        ),
    }
}

/// A trained run folder: its config and what it learnt.
struct RunFolder {
    dir: PathBuf,
    config: ExperimentConfig,
    info: RunInfo,
}

impl RunFolder {
    fn open(run: &Path) -> anyhow::Result<Self> {
        let mut config = ExperimentConfig::from_file(&run.join("config.toml"))
            .with_context(|| format!("{} is not a run folder", run.display()))?;
        // The trained weights replace the ImageNet ones.
        config.model.weights = None;
        let info_path = run.join("run.json");
        let info: RunInfo = serde_json::from_str(
            &std::fs::read_to_string(&info_path)
                .with_context(|| format!("cannot read {}", info_path.display()))?,
        )
        .with_context(|| format!("cannot parse {}", info_path.display()))?;
        Ok(Self {
            dir: run.to_owned(),
            config,
            info,
        })
    }
}

fn eval(args: EvalArgs) -> anyhow::Result<()> {
    let device: DeviceSpec = args.device.parse()?;
    device.check()?;
    match device {
        DeviceSpec::Cpu => eval_on::<fineface_model::Cpu>(&args, &Default::default()),
        #[cfg(feature = "cuda")]
        DeviceSpec::Cuda(i) => {
            eval_on::<fineface_model::Cuda>(&args, &burn::backend::cuda::CudaDevice::new(i))
        }
        #[cfg(not(feature = "cuda"))]
        DeviceSpec::Cuda(_) => bail!("this build has no CUDA support (build with --features cuda)"),
    }
}

fn eval_on<B: FineFaceBackend>(args: &EvalArgs, device: &B::Device) -> anyhow::Result<()> {
    let run = RunFolder::open(&args.run)?;
    let (data, other) = match (&args.dataset, &args.data) {
        (Some(kind), Some(root)) => (
            DatasetConfig::with_root(kind, root.clone())
                .with_context(|| format!("unknown dataset kind `{kind}`"))?,
            true,
        ),
        (None, Some(root)) => {
            let mut config = run.config.clone();
            config.apply(&Overrides {
                data: Some(root.clone()),
                ..Overrides::default()
            });
            (config.data, false)
        }
        _ => (run.config.data.clone(), false),
    };
    let dataset = data.load(&run.config.split)?;
    for class in &dataset.classes {
        if !run.info.classes.contains(class) {
            return Err(fineface_train::TrainError::ClassMismatch {
                run: run.info.classes.clone(),
                dataset: dataset.name.clone(),
                found: dataset.classes.clone(),
            }
            .into());
        }
    }
    let split = args
        .split
        .clone()
        .unwrap_or_else(|| if other { "all" } else { "test" }.to_owned());
    let samples = split_samples(&dataset, &split)?;
    let out = args
        .out
        .clone()
        .unwrap_or_else(|| args.run.join(format!("eval-{}-{split}", dataset.name)));
    let crop = AttentionCropConfig::new()
        .with_threshold(run.config.crop.threshold)
        .with_padding(run.config.crop.padding)
        .init();
    let settings = EvalSettings {
        transform: &run.config.transform,
        crop: &crop,
        batch_size: args.batch_size,
        workers: run.config.train.workers,
    };
    let evaluation = with_model::<B, _>(&run, device, |model| {
        predict_samples(model, &samples, &run.info.classes, &settings, device)
    })??;
    let report = write_evaluation(
        &out,
        &evaluation,
        &samples,
        &run.info.classes,
        &dataset.sensitive,
    )?;
    let summary = summarise(&evaluation, &report);
    write_json(&out.join("summary.json"), &summary)?;
    #[allow(clippy::print_stdout)]
    {
        println!(
            "{} {} ({} images, {} undecodable): accuracy {:.4} (concat {:.4}, 4 heads {:.4}), worst group {} {:.4}, DoB {:.4}",
            dataset.name,
            split,
            summary.n,
            evaluation.bad_images.len(),
            summary.accuracy,
            summary.accuracy_concat,
            summary.accuracy_heads,
            summary.worst_group,
            summary.worst_group_accuracy,
            summary.dob
        );
        println!("wrote {}", out.display());
    }
    Ok(())
}

fn split_samples(
    dataset: &FaceDataset,
    split: &str,
) -> anyhow::Result<Vec<fineface_data::FaceSample>> {
    let pick = |s: Split| dataset.split(s).to_vec();
    Ok(match split {
        "train" => pick(Split::Train),
        "val" => pick(Split::Val),
        "test" => pick(Split::Test),
        "all" => [Split::Train, Split::Val, Split::Test]
            .into_iter()
            .flat_map(pick)
            .collect(),
        other => bail!("--split {other}: expected train, val, test or all"),
    })
}

/// Builds the run's model on `device`, loads its selected weights, and hands it to `f`.
fn with_model<B: FineFaceBackend, T>(
    run: &RunFolder,
    device: &B::Device,
    f: impl FnOnce(&dyn Predict<B>) -> T,
) -> anyhow::Result<T> {
    let weights = run.dir.join("best.mpk");
    let n_classes = run.info.classes.len();
    let backbone = build_backbone::<B>(&run.config.model, device)?;
    Ok(match run.config.method {
        Method::FineFace => {
            let model = build_fineface(&run.config.model, n_classes, backbone, device);
            let model = load_weights(model, &weights, device)?;
            f(&model)
        }
        Method::Baseline => {
            let model = build_baseline(n_classes, backbone, device);
            let model = load_weights(model, &weights, device)?;
            f(&model)
        }
    })
}

fn predict(args: PredictArgs) -> anyhow::Result<()> {
    let device: DeviceSpec = args.device.parse()?;
    device.check()?;
    match device {
        DeviceSpec::Cpu => predict_on::<fineface_model::Cpu>(&args, &Default::default()),
        #[cfg(feature = "cuda")]
        DeviceSpec::Cuda(i) => {
            predict_on::<fineface_model::Cuda>(&args, &burn::backend::cuda::CudaDevice::new(i))
        }
        #[cfg(not(feature = "cuda"))]
        DeviceSpec::Cuda(_) => bail!("this build has no CUDA support (build with --features cuda)"),
    }
}

fn predict_on<B: FineFaceBackend>(args: &PredictArgs, device: &B::Device) -> anyhow::Result<()> {
    let run = RunFolder::open(&args.run)?;
    let transform: &TransformConfig = &run.config.transform;
    let crop = AttentionCropConfig::new()
        .with_threshold(run.config.crop.threshold)
        .with_padding(run.config.crop.padding)
        .init();
    let classes = &run.info.classes;
    let lines = with_model::<B, _>(&run, device, |model| -> anyhow::Result<Vec<String>> {
        let mut lines = Vec::new();
        for path in &args.images {
            let image =
                image::open(path).with_context(|| format!("cannot decode {}", path.display()))?;
            let tensor = transform.eval(&image);
            let size = tensor.size as usize;
            let batch = fineface_data::ImageBatch {
                images: tensor.values,
                size,
                targets: vec![0],
                indices: vec![0],
            };
            let logits = model.predict(batch_tensor::<B>(batch, device), &crop);
            let probabilities = logits
                .probabilities()
                .into_data()
                .convert::<f32>()
                .to_vec::<f32>()
                .unwrap_or_default();
            let (best, p) =
                probabilities
                    .iter()
                    .enumerate()
                    .fold(
                        (0, f32::NEG_INFINITY),
                        |b, (i, &v)| if v > b.1 { (i, v) } else { b },
                    );
            lines.push(format!("{}\t{}\t{:.4}", path.display(), classes[best], p));
        }
        Ok(lines)
    })??;
    #[allow(clippy::print_stdout)]
    for line in lines {
        println!("{line}");
    }
    Ok(())
}
