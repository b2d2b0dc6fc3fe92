//! Training FineFACE over a backbone that is not a ResNet, through the public API only.
//!
//! ```sh
//! cargo run --release -p fineface-train --example custom_backbone -- --epochs 5
//! cargo xtask report runs/synthface-tiny-vgg/run-001
//! cargo run --release -p fineface-train --example custom_backbone -- \
//!     --evaluate runs/synthface-tiny-vgg/run-001
//! ```
//!
//! [`TinyVgg`] below is a VGG-style network defined entirely in this file: five stride-2
//! stages of 3x3 convolution, BatchNorm and ReLU, whose last three outputs (strides 8, 16
//! and 32) are the three maps FineFACE's experts read. Implementing
//! [`Backbone`](fineface_model::Backbone) for it is all FineFACE needs; [`Trainer`] then
//! trains, validates, checkpoints, resumes and audits it exactly as it does a ResNet, and
//! writes the same run folder (`test/fairness.json`, `metrics.csv`, `crops.png`, ...).
//! Read back, the folder gives the method, settings and weights and this program the
//! backbone they fit ([`RunFolder::load_model_over`]): `--evaluate RUN` scores the test
//! split again into `RUN/eval-<dataset>-test/`.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};

use burn::config::Config;
use burn::module::Module;
use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::nn::{BatchNorm, BatchNormConfig, PaddingConfig2d, Relu};
use burn::tensor::Tensor;
use burn::tensor::backend::Backend;
use clap::Parser;
use fineface_model::{Backbone, BackboneFeatures, Cpu, CpuAutodiff, FineFaceConfig};
use fineface_train::{
    BackboneChoice, EvalData, EvalOutcome, EvalRequest, Experiment, ExperimentConfig, Overrides,
    RunFolder, RunOptions, RunSummary, Trainer, next_run_dir,
};

/// One stage: a 3x3 convolution of stride 2, BatchNorm and ReLU (halves the map).
#[derive(Module, Debug)]
pub struct Stage<B: Backend> {
    conv: Conv2d<B>,
    norm: BatchNorm<B>,
    relu: Relu,
}

impl<B: Backend> Stage<B> {
    fn new(channels: [usize; 2], device: &B::Device) -> Self {
        Self {
            conv: Conv2dConfig::new(channels, [3, 3])
                .with_stride([2, 2])
                .with_padding(PaddingConfig2d::Explicit(1, 1, 1, 1))
                .with_bias(false)
                .init(device),
            norm: BatchNormConfig::new(channels[1]).init(device),
            relu: Relu::new(),
        }
    }

    /// # Shapes
    /// - `x`: `[batch, c_in, h, w]`
    /// - output: `[batch, c_out, h / 2, w / 2]`
    fn forward(&self, x: Tensor<B, 4>) -> Tensor<B, 4> {
        self.relu.forward(self.norm.forward(self.conv.forward(x)))
    }
}

/// Configuration of [`TinyVgg`].
#[derive(Config, Debug)]
pub struct TinyVggConfig {
    /// Channels of the first stage; each later stage doubles them.
    #[config(default = 16)]
    pub width: usize,
}

impl TinyVggConfig {
    /// A randomly initialised network on `device`.
    pub fn init<B: Backend>(&self, device: &B::Device) -> TinyVgg<B> {
        let w = self.width;
        TinyVgg {
            stem: Stage::new([3, w], device),
            stage2: Stage::new([w, 2 * w], device),
            stage3: Stage::new([2 * w, 4 * w], device),
            stage4: Stage::new([4 * w, 8 * w], device),
            stage5: Stage::new([8 * w, 16 * w], device),
        }
    }
}

/// A VGG-style backbone: five stride-2 stages, tapped after the third, fourth and fifth.
#[derive(Module, Debug)]
pub struct TinyVgg<B: Backend> {
    stem: Stage<B>,
    stage2: Stage<B>,
    stage3: Stage<B>,
    stage4: Stage<B>,
    stage5: Stage<B>,
}

impl<B: Backend> Backbone<B> for TinyVgg<B> {
    fn tap_channels(&self) -> [usize; 3] {
        let w = self.stem.conv.weight.dims()[0];
        [4 * w, 8 * w, 16 * w]
    }

    fn forward_features(&self, images: Tensor<B, 4>) -> BackboneFeatures<B> {
        let x = self.stage2.forward(self.stem.forward(images)); // [b, 2w, h/4, w/4]
        let stride8 = self.stage3.forward(x); // [b, 4w, h/8, w/8]
        let stride16 = self.stage4.forward(stride8.clone()); // [b, 8w, h/16, w/16]
        let stride32 = self.stage5.forward(stride16.clone()); // [b, 16w, h/32, w/32]
        BackboneFeatures {
            stride8,
            stride16,
            stride32,
        }
    }
}

/// FineFACE over a VGG-style backbone on SynthFace.
#[derive(Debug, Parser)]
struct Args {
    /// Where SynthFace is (generated there on first use).
    #[arg(long, default_value = "data/synthface")]
    data: PathBuf,
    /// Epochs.
    #[arg(long, default_value_t = 5)]
    epochs: usize,
    /// Channels of the backbone's first stage.
    #[arg(long, default_value_t = 16)]
    width: usize,
    /// The run folder (default `runs/synthface-tiny-vgg/run-NNN`).
    #[arg(long)]
    out: Option<PathBuf>,
    /// Instead of training: score a finished run of this example on its test split again,
    /// into `RUN/eval-<dataset>-test/`.
    #[arg(long, value_name = "RUN")]
    evaluate: Option<PathBuf>,
}

/// The experiment: SynthFace's config, with this backbone's name recorded in the run.
fn experiment(args: &Args) -> anyhow::Result<ExperimentConfig> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../configs/synthface.toml");
    let mut config = ExperimentConfig::from_file(&path)?;
    config.name = "synthface-tiny-vgg".to_owned();
    config.model.backbone = BackboneChoice::Custom("tiny-vgg".to_owned());
    config.model.width = args.width;
    config.apply(&Overrides {
        data: Some(args.data.clone()),
        epochs: Some(args.epochs),
        ..Overrides::default()
    });
    Ok(config)
}

/// Trains FineFACE over [`TinyVgg`] and returns the run's summary.
fn run(config: ExperimentConfig, options: RunOptions) -> anyhow::Result<RunSummary> {
    let experiment = Experiment::new(config, vec![Default::default()])?;
    let trainer = Trainer::<CpuAutodiff>::new(experiment, options)?;
    let n_classes = trainer.n_classes();
    let (width, head_width) = (
        trainer.config().model.width,
        trainer.config().model.head_width,
    );
    let model = trainer.init_model(|device| {
        let backbone = TinyVggConfig::new().with_width(width).init(device);
        Ok(FineFaceConfig::new(n_classes)
            .with_head_width(head_width)
            .init(backbone, device))
    })?;
    Ok(trainer.fit(model)?)
}

/// Scores the finished run `dir` of this example on its own test split again: the run
/// folder gives the method, settings and selected weights, this program the backbone.
fn evaluate(dir: &Path) -> anyhow::Result<EvalOutcome> {
    let run = RunFolder::open(dir)?;
    let device = Default::default();
    let backbone = TinyVggConfig::new()
        .with_width(run.config.model.width)
        .init::<Cpu>(&device);
    let model = run.load_model_over(backbone, &device)?;
    let request = EvalRequest {
        replace: true,
        ..EvalRequest::new(EvalData::Own)
    };
    Ok(run.evaluate_model(&*model, &request, &device)?)
}

fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .init();
    let args = Args::parse();
    if let Some(run) = &args.evaluate {
        let outcome = evaluate(run)?;
        tracing::info!(
            out = %outcome.dir.display(), accuracy = outcome.summary.accuracy,
            dob = outcome.summary.dob, "evaluated"
        );
        return Ok(());
    }
    let config = experiment(&args)?;
    let out = args
        .out
        .clone()
        .unwrap_or_else(|| next_run_dir("runs".as_ref(), &config.name));
    let summary = run(config, RunOptions::new(out))?;
    tracing::info!(
        run = %summary.run_dir.display(),
        test = ?summary.test,
        "done; `cargo xtask report {}` writes its report",
        summary.run_dir.display()
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)] // Tests panic on failure by design.

    use super::*;
    use burn::backend::Flex;
    use fineface_data::{DatasetConfig, SynthFace};

    #[test]
    fn the_taps_are_at_strides_8_16_and_32() {
        let device = Default::default();
        let backbone = TinyVggConfig::new().with_width(2).init::<Flex>(&device);
        let images = Tensor::<Flex, 4>::zeros([1, 3, 64, 64], &device);
        let features = backbone.forward_features(images);
        assert_eq!(backbone.tap_channels(), [8, 16, 32]);
        assert_eq!(features.stride8.dims(), [1, 8, 8, 8]);
        assert_eq!(features.stride16.dims(), [1, 16, 4, 4]);
        assert_eq!(features.stride32.dims(), [1, 32, 2, 2]);
    }

    #[test]
    fn fineface_over_a_custom_backbone_writes_a_whole_run_folder() {
        let dir = tempfile::tempdir().unwrap();
        let args = Args {
            data: dir.path().join("synthface"),
            epochs: 2,
            width: 4,
            out: None,
            evaluate: None,
        };
        let mut config = experiment(&args).unwrap();
        config.data = DatasetConfig::SynthFace(SynthFace {
            root: args.data.clone(),
            images: 96,
            size: 32,
            seed: 3,
        });
        config.model.head_width = 8;
        config.train.batch_size = 8;
        config.train.crop_grid_images = 2;
        config.transform.resize = 34;
        config.transform.crop = 32;
        config.transform.pad = 1;
        let out = dir.path().join("run");
        let options = RunOptions {
            progress: false,
            stop_after_epoch: Some(1),
            ..RunOptions::new(&out)
        };
        // Killed after epoch 1, then resumed: the custom model checkpoints like a ResNet.
        let stopped = run(config.clone(), options.clone()).unwrap();
        assert!(stopped.test.is_none());
        let summary = run(
            config,
            RunOptions {
                stop_after_epoch: None,
                resume: true,
                ..options
            },
        )
        .unwrap();
        assert_eq!(summary.epochs, 2);
        let test = summary.test.unwrap();
        assert!(test.n > 0 && (0.0..=1.0).contains(&test.accuracy));
        for file in [
            "config.toml",
            "run.json",
            "metrics.csv",
            "best.mpk",
            "summary.json",
            "crops.png",
            "test/predictions.csv",
            "test/fairness.md",
        ] {
            assert!(out.join(file).is_file(), "{file} missing");
        }
        let report: fineface_fair::SubgroupReport =
            serde_json::from_str(&std::fs::read_to_string(out.join("test/fairness.json")).unwrap())
                .unwrap();
        assert_eq!(report.meta.grouping.features, ["tone", "sex"]);
        assert!((report.overall.metrics.accuracy - test.accuracy).abs() < 1e-12);
        let saved = ExperimentConfig::from_file(&out.join("config.toml")).unwrap();
        assert_eq!(
            saved.model.backbone,
            BackboneChoice::Custom("tiny-vgg".to_owned())
        );
        // Read back: the library cannot build the backbone, this program can, and the
        // selected weights score the test split exactly as training's last step did.
        let refused = RunFolder::open(&out)
            .unwrap()
            .load_model::<Cpu>(&Default::default())
            .err()
            .unwrap()
            .to_string();
        assert!(refused.contains("load_model_over"), "{refused}");
        // On a thread of known stack, as `Trainer::fit` trains: an unoptimised build's
        // forward passes go deeper than a test thread's 2 MiB.
        let again = std::thread::scope(|scope| {
            std::thread::Builder::new()
                .stack_size(64 << 20)
                .spawn_scoped(scope, || evaluate(&out).unwrap())
                .unwrap()
                .join()
                .unwrap()
        });
        assert_eq!(again.summary.n, test.n);
        assert_eq!(again.summary.accuracy, test.accuracy);
        assert_eq!(again.summary.dob, test.dob);
        // And reported: the run folder reads back whole, the evaluation with it.
        let finished = fineface_run::FinishedRun::open(&out).unwrap();
        assert_eq!(finished.history.epochs.len(), 2);
        assert_eq!(finished.test.summary, test);
        let evaluations = finished.evaluations().unwrap();
        assert_eq!(evaluations.len(), 1);
        assert_eq!(evaluations[0].summary.accuracy, test.accuracy);
    }
}
