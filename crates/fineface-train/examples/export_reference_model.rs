//! Writes a seeded FineFACE's weights with PyTorch names through our safetensors export,
//! for `tools/reference/parity_goldens.py` to load into the PyTorch reference.
//!
//! `cargo run --release -p fineface-train --example export_reference_model -- OUT.safetensors
//!  [--arch resnet18 --width 4 --head-width 8 --classes 2 --seed 7]`

use std::path::PathBuf;

use burn::tensor::backend::Backend;
use clap::Parser;
use fineface_model::{ArchConfig, BackboneArch, Cpu, export_torchvision_safetensors};

#[derive(Parser)]
struct Args {
    out: PathBuf,
    #[arg(long, default_value = "resnet18")]
    arch: BackboneArch,
    #[arg(long, default_value_t = 4)]
    width: usize,
    #[arg(long, default_value_t = 8)]
    head_width: usize,
    #[arg(long, default_value_t = 2)]
    classes: usize,
    #[arg(long, default_value_t = 7)]
    seed: u64,
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let device = Default::default();
    Cpu::seed(&device, args.seed);
    let ArchConfig::ResNet(config) = args.arch.config() else {
        anyhow::bail!("--arch {}: the reference model is a ResNet", args.arch);
    };
    let backbone = config.with_width(args.width).init::<Cpu>(&device);
    let model = fineface_model::FineFaceConfig::new(args.classes)
        .with_head_width(args.head_width)
        .init(backbone, &device);
    export_torchvision_safetensors(&model, &args.out)?;
    Ok(())
}
