//! Runs a torchvision ResNet checkpoint through our ResNet and writes what it computes, so
//! anyone can compare with torchvision's own outputs:
//!
//! ```sh
//! cargo run --release -p fineface-model --example torchvision_parity -- \
//!     --arch resnet50 --weights resnet50-0676ba61.pth --input x.safetensors --out y.safetensors
//! ```
//!
//! `--input` holds an f32 NCHW tensor named `input`; `--out` receives `logits` (the
//! torchvision classifier head) and the `layer2`, `layer3`, `layer4` feature maps, in eval
//! mode. The base width and the number of classes are read from the weights, so narrow test
//! networks work too.

#![allow(clippy::print_stderr)] // A command-line program reports where it wrote.

use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use burn::tensor::{Tensor, TensorData};
use burn_store::{ModuleStore, PytorchStore, SafetensorsStore};
use clap::Parser;
use fineface_model::{BaselineConfig, Cpu, ResNetConfig, WeightFormat};

#[derive(Parser)]
struct Args {
    /// resnet18, resnet34, resnet50, resnet101 or resnet152.
    #[arg(long)]
    arch: String,
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
        WeightFormat::PyTorch => shape_in(PytorchStore::from_file(path), path, key),
        WeightFormat::Safetensors => shape_in(SafetensorsStore::from_file(path), path, key),
    }
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let Some(config) = ResNetConfig::from_arch(&args.arch) else {
        bail!(
            "unknown --arch `{}` (resnet18, resnet34, resnet50, resnet101, resnet152)",
            args.arch
        );
    };
    let width = weight_shape(&args.weights, "conv1.weight")?[0];
    let n_classes = weight_shape(&args.weights, "fc.weight")?[0];
    let device = Default::default();
    let backbone = config.with_width(width).init::<Cpu>(&device);
    let mut model = BaselineConfig::new(n_classes).init(backbone, &device);
    model.load_torchvision(&args.weights)?;

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
    let input =
        Tensor::<Cpu, 4>::from_data(TensorData::new(values, view.shape().to_vec()), &device);

    // No autodiff backend: BatchNorm uses its running statistics (eval mode).
    let stages = model.backbone.forward_stages(input.clone());
    let logits = model.forward(input);
    let outputs: Vec<(&str, Vec<usize>, Vec<u8>)> = [
        ("logits", logits.into_data()),
        ("layer2", stages.layer2.into_data()),
        ("layer3", stages.layer3.into_data()),
        ("layer4", stages.layer4.into_data()),
    ]
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
    safetensors::serialize_to_file(views, None, &args.out)?;
    eprintln!(
        "wrote logits, layer2, layer3, layer4 to {}",
        args.out.display()
    );
    Ok(())
}
