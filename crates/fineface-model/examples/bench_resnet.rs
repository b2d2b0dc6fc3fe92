//! One side of `cargo xtask bench resnet`: times our ResNet on Flex and prints JSON.
//!
//! ```sh
//! cargo run --release -p fineface-model --example bench_resnet -- --case forward-backward
//! ```
//! Cases: `forward` (eval, the torchvision classifier), `forward-backward` (training mode,
//! cross-entropy, backward; no optimiser step), `batchnorm` and `batchnorm-burn` (one
//! BatchNorm2d forward+backward on a `[batch, 256, size/4, size/4]` activation, ours against
//! Burn's stock layer).

#![allow(clippy::print_stdout)] // The JSON result is this program's output.
#![allow(clippy::print_stderr)] // A refused argument is reported on standard error.

use std::time::Instant;

use burn::backend::{Autodiff, Flex};
use burn::nn::loss::CrossEntropyLossConfig;
use burn::tensor::{Distribution, Int, Tensor};
use clap::{Parser, ValueEnum};
use fineface_model::{ArchConfig, BackboneArch, BaselineConfig, BatchNormConfig};

#[derive(Debug, Clone, Copy, ValueEnum)]
enum Case {
    Forward,
    ForwardBackward,
    Batchnorm,
    BatchnormBurn,
}

#[derive(Parser)]
struct Args {
    #[arg(long, value_enum)]
    case: Case,
    #[arg(long, default_value = "resnet50")]
    arch: BackboneArch,
    #[arg(long, default_value_t = 8)]
    batch: usize,
    #[arg(long, default_value_t = 224)]
    size: usize,
    /// Timed iterations after the warm-up.
    #[arg(long, default_value_t = 3)]
    iters: usize,
    #[arg(long, default_value_t = 1)]
    warmup: usize,
}

fn main() {
    let args = Args::parse();
    let device = Default::default();
    let ArchConfig::ResNet(config) = args.arch.config() else {
        eprintln!("--arch {}: this benchmark runs the ResNets", args.arch);
        std::process::exit(2);
    };
    let shape = [args.batch, 3, args.size, args.size];
    let mut step: Box<dyn FnMut() -> f32> = match args.case {
        Case::Forward => {
            let model = BaselineConfig::new(1000).init(config.init::<Flex>(&device), &device);
            let x = Tensor::<Flex, 4>::random(shape, Distribution::Normal(0.0, 1.0), &device);
            Box::new(move || model.forward(x.clone()).sum().into_scalar())
        }
        Case::ForwardBackward => {
            type A = Autodiff<Flex>;
            let model = BaselineConfig::new(1000).init(config.init::<A>(&device), &device);
            let x = Tensor::<A, 4>::random(shape, Distribution::Normal(0.0, 1.0), &device);
            let y = Tensor::<A, 1, Int>::zeros([args.batch], &device);
            let loss_fn = CrossEntropyLossConfig::new().init(&device);
            Box::new(move || {
                let loss = loss_fn.forward(model.forward(x.clone()), y.clone());
                let value = loss.clone().into_scalar();
                let _grads = loss.backward();
                value
            })
        }
        Case::Batchnorm | Case::BatchnormBurn => {
            type A = Autodiff<Flex>;
            let hw = args.size / 4;
            let x = Tensor::<A, 4>::random(
                [args.batch, 256, hw, hw],
                Distribution::Normal(0.0, 1.0),
                &device,
            )
            .require_grad();
            if matches!(args.case, Case::Batchnorm) {
                let bn = BatchNormConfig::new(256).init::<A>(&device);
                Box::new(move || {
                    let y = bn.forward(x.clone()).sum();
                    let v = y.clone().into_scalar();
                    let _ = y.backward();
                    v
                })
            } else {
                let bn = burn::nn::BatchNormConfig::new(256).init::<A>(&device);
                Box::new(move || {
                    let y = bn.forward(x.clone()).sum();
                    let v = y.clone().into_scalar();
                    let _ = y.backward();
                    v
                })
            }
        }
    };
    for _ in 0..args.warmup {
        step();
    }
    let times: Vec<f64> = (0..args.iters)
        .map(|_| {
            let start = Instant::now();
            std::hint::black_box(step());
            start.elapsed().as_secs_f64()
        })
        .collect();
    println!(
        "{{\"case\": \"{:?}\", \"times_s\": {:?}}}",
        args.case, times
    );
}
