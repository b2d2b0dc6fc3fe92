//! Runs a torchvision ResNet or MobileNetV2 checkpoint through our network and writes what it
//! computes, so anyone can compare with torchvision's own outputs:
//!
//! ```sh
//! cargo run --release -p fineface-model --example torchvision_parity -- \
//!     --arch resnet50 --weights resnet50-0676ba61.pth --input x.safetensors --out y.safetensors
//! cargo run --release -p fineface-model --example torchvision_parity -- \
//!     --arch mobilenet_v2 --weights mobilenet_v2-b0353104.pth --input x.safetensors --out y.safetensors
//! ```
//!
//! `--input` holds an f32 NCHW tensor named `input`; `--out` receives `logits` (the
//! torchvision classifier head) and the three feature maps FineFACE taps, in eval mode, under
//! torchvision's names: `layer2`, `layer3`, `layer4` of a ResNet, `features_6`,
//! `features_13`, `features_18` of MobileNetV2. A ResNet's base width and the number of
//! classes are read from the weights, so narrow test networks work too (MobileNetV2's width
//! multiplier is `--width-mult`).

#![allow(clippy::print_stderr)] // A command-line program reports where it wrote.

use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use burn::tensor::{Tensor, TensorData};
use burn_store::{ModuleStore, PytorchStore, SafetensorsStore};
use clap::Parser;
use fineface_model::{
    ArchConfig, Backbone, BackboneArch, Baseline, BaselineConfig, Cpu, WeightFormat,
};

#[derive(Parser)]
struct Args {
    /// resnet18, resnet34, resnet50, resnet101, resnet152 or mobilenet_v2.
    #[arg(long)]
    arch: BackboneArch,
    /// MobileNetV2's width multiplier (torchvision's `width_mult`).
    #[arg(long, default_value_t = 1.0)]
    width_mult: f64,
    /// torchvision weights (.pth or .safetensors).
    #[arg(long)]
    weights: PathBuf,
    /// Safetensors file with an f32 tensor `input` of shape [n, 3, h, w].
    #[arg(long)]
    input: PathBuf,
    /// Where to write `logits`, `layer2`, `layer3`, `layer4`.
    #[arg(long)]
    out: PathBuf,
}

/// Shape of one tensor of the weights file.
fn weight_shape(path: &Path, key: &str) -> anyhow::Result<Vec<usize>> {
    fn shape_in(mut store: impl ModuleStore, path: &Path, key: &str) -> anyhow::Result<Vec<usize>> {
        let snapshot = store
            .get_snapshot(key)
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        Ok(snapshot
            .with_context(|| format!("no `{key}` in {}", path.display()))?
            .shape
            .to_vec())
    }
    match WeightFormat::from_path(path)? {
        // Keys as the file has them (burn-store renumbers gaps in indices by default).
        WeightFormat::PyTorch => shape_in(
            PytorchStore::from_file(path).map_indices_contiguous(false),
            path,
            key,
        ),
        WeightFormat::Safetensors => shape_in(SafetensorsStore::from_file(path), path, key),
    }
}

/// The input tensor of `--input`.
fn read_input(args: &Args) -> anyhow::Result<Tensor<Cpu, 4>> {
    let bytes =
        std::fs::read(&args.input).with_context(|| format!("reading {}", args.input.display()))?;
    let file = safetensors::SafeTensors::deserialize(&bytes)?;
    let view = file
        .tensor("input")
        .context("no tensor `input` in --input")?;
    if view.dtype() != safetensors::Dtype::F32 || view.shape().len() != 4 {
        bail!(
            "`input` must be f32 with 4 dimensions, found {:?} {:?}",
            view.dtype(),
            view.shape()
        );
    }
    let values: Vec<f32> = view
        .data()
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .collect();
    let device = Default::default();
    Ok(Tensor::from_data(
        TensorData::new(values, view.shape().to_vec()),
        &device,
    ))
}

/// The logits and the three tapped maps under their torchvision names.
type Outputs = Vec<(&'static str, TensorData)>;

/// Runs `model` in eval mode (no autodiff backend: BatchNorm uses its running statistics).
fn run<N: Backbone<Cpu>>(
    model: &Baseline<Cpu, N>,
    input: Tensor<Cpu, 4>,
    names: [&'static str; 3],
) -> Outputs {
    let maps = model.backbone.forward_features(input.clone());
    vec![
        ("logits", model.forward(input).into_data()),
        (names[0], maps.stride8.into_data()),
        (names[1], maps.stride16.into_data()),
        (names[2], maps.stride32.into_data()),
    ]
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let device = Default::default();
    let input = read_input(&args)?;
    let outputs = match args.arch.config() {
        ArchConfig::ResNet(config) => {
            let width = weight_shape(&args.weights, "conv1.weight")?[0];
            let n_classes = weight_shape(&args.weights, "fc.weight")?[0];
            let backbone = config.with_width(width).init::<Cpu>(&device);
            let mut model = BaselineConfig::new(n_classes).init(backbone, &device);
            model.load_torchvision(&args.weights)?;
            run(&model, input, ["layer2", "layer3", "layer4"])
        }
        ArchConfig::MobileNetV2(config) => {
            let n_classes = weight_shape(&args.weights, "classifier.1.weight")?[0];
            let backbone = config.with_width_mult(args.width_mult).init::<Cpu>(&device);
            let mut model = BaselineConfig::new(n_classes).init(backbone, &device);
            model.load_torchvision(&args.weights)?;
            run(&model, input, ["features_6", "features_13", "features_18"])
        }
    };
    write_outputs(&args.out, outputs)
}

/// Writes the outputs as an f32 safetensors file.
fn write_outputs(path: &Path, outputs: Outputs) -> anyhow::Result<()> {
    let names: Vec<&str> = outputs.iter().map(|(name, _)| *name).collect();
    let outputs: Vec<(&str, Vec<usize>, Vec<u8>)> = outputs
        .into_iter()
        .map(|(name, data)| {
            let shape = data.shape.to_vec();
            let bytes = data
                .to_vec::<f32>()
                .unwrap_or_default()
                .iter()
                .flat_map(|v| v.to_le_bytes())
                .collect();
            (name, shape, bytes)
        })
        .collect();
    let views: Vec<(&str, safetensors::tensor::TensorView<'_>)> = outputs
        .iter()
        .map(|(name, shape, bytes)| {
            safetensors::tensor::TensorView::new(safetensors::Dtype::F32, shape.clone(), bytes)
                .map(|v| (*name, v))
        })
        .collect::<Result<_, _>>()?;
    safetensors::serialize_to_file(views, None, path)?;
    eprintln!("wrote {} to {}", names.join(", "), path.display());
    Ok(())
}
