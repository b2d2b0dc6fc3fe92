//! Our side of `cargo xtask bench iteration|baseline|forward|backward|eval|crops`: times one
//! case on a device and prints `{"case", "times_s": [...]}`.
//!
//! ```sh
//! cargo run --release -p fineface-train --example bench_fineface -- --case iteration \
//!     --backbone resnet50 --image-size 224 --batch 8
//! ```
//! Cases (same as `tools/reference/bench_fineface_torch.py`):
//! - `iteration`: one FineFACE training iteration (five steps, crops, optimiser);
//!   with `--op-times FILE`, every kernel's time as well (`tools/op_times.py`);
//! - `baseline`: one baseline training iteration;
//! - `forward`: backbone forward in evaluation mode;
//! - `backward`: backbone forward + backward in training mode (sum of the layer4 map);
//! - `eval`: FineFACE inference (forward, crops, forward on the combined crop, 8 logits);
//! - `crops`: the four attention crops of a batch from given maps;
//! - `matmul`: one float32 `[n, n] @ [n, n]` with n = `--image-size` (the machine's rate).
//!
//! With `--workers N` (`iteration` and `baseline`), the iteration runs data-parallel: N
//! workers on the device, each on its shard of the batch (`DataParallel`), the batch
//! uploaded from the host each time as in training.

#![allow(clippy::print_stdout)] // The JSON result is this program's output.

use std::time::Instant;

use burn::module::AutodiffModule;
use burn::tensor::{Distribution, Int, Tensor};
use clap::{Parser, ValueEnum};
use fineface_model::AttentionCropConfig;
use fineface_model::{Backbone, DeviceSpec, FineFaceAutodiffBackend, Predict};
use fineface_train::LocalReducer;
use fineface_train::{
    BackboneChoice, BackboneConfig, GroupedSgd, IterationContext, ModelSettings, Shard,
    TrainBackbone, TrainSettings, TrainStep, backbone_config, build_baseline, build_fineface,
};

#[derive(Debug, Clone, Copy, ValueEnum)]
enum Case {
    Iteration,
    Baseline,
    Forward,
    Backward,
    Eval,
    Crops,
    Matmul,
}

#[derive(Parser)]
struct Args {
    #[arg(long, value_enum)]
    case: Case,
    #[arg(long, default_value = "resnet50")]
    backbone: BackboneChoice,
    /// A ResNet's stem channels.
    #[arg(long, default_value_t = 64)]
    width: usize,
    /// MobileNetV2's width multiplier.
    #[arg(long, default_value_t = 1.0)]
    width_mult: f64,
    #[arg(long, default_value_t = 1024)]
    head_width: usize,
    #[arg(long, default_value_t = 224)]
    image_size: usize,
    #[arg(long, default_value_t = 8)]
    batch: usize,
    /// Timed iterations after the warm-up.
    #[arg(long, default_value_t = 3)]
    iters: usize,
    #[arg(long, default_value_t = 1)]
    warmup: usize,
    #[arg(long, default_value = "cpu")]
    device: String,
    /// Data-parallel workers on the device (`iteration`, `baseline`).
    #[arg(long, default_value_t = 1)]
    workers: usize,
    /// The lean iteration (skips the forward work expert 2's and expert 1's losses cannot see).
    #[arg(long)]
    lean: bool,
    /// Writes the closing line of every kernel's and optimiser step's `trace` span of the timed
    /// iterations (their busy time) to this file, for `tools/op_times.py`.
    #[arg(long)]
    op_times: Option<std::path::PathBuf>,
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let spec: DeviceSpec = args.device.parse()?;
    spec.check()?;
    let times = match spec {
        DeviceSpec::Cpu => run::<fineface_model::CpuAutodiff>(&args, &Default::default())?,
        #[cfg(feature = "cuda")]
        DeviceSpec::Cuda(i) => {
            run::<fineface_model::CudaAutodiff>(&args, &burn::backend::cuda::CudaDevice::new(i))?
        }
        #[cfg(not(feature = "cuda"))]
        DeviceSpec::Cuda(_) => anyhow::bail!("built without the cuda feature"),
        #[cfg(feature = "wgpu")]
        DeviceSpec::Wgpu(i) => {
            run::<fineface_model::WgpuAutodiff>(&args, &fineface_model::wgpu_device(i)?)?
        }
        #[cfg(not(feature = "wgpu"))]
        DeviceSpec::Wgpu(_) => anyhow::bail!("built without the wgpu feature"),
    };
    println!(
        "{{\"case\": \"{:?}\", \"times_s\": {:?}}}",
        args.case, times
    );
    Ok(())
}

/// The model settings of the command line.
fn settings(args: &Args) -> ModelSettings {
    ModelSettings {
        backbone: args.backbone.clone(),
        width: args.width,
        width_mult: args.width_mult,
        head_width: args.head_width,
        weights: None,
    }
}

fn run<B: FineFaceAutodiffBackend>(args: &Args, device: &B::Device) -> anyhow::Result<Vec<f64>> {
    B::seed(device, 0);
    match backbone_config(&settings(args))? {
        BackboneConfig::ResNet(c) => run_on::<B, _>(args, device, c.init(device)),
        BackboneConfig::MobileNetV2(c) => run_on::<B, _>(args, device, c.init(device)),
    }
}

fn run_on<B, N>(args: &Args, device: &B::Device, backbone: N) -> anyhow::Result<Vec<f64>>
where
    B: FineFaceAutodiffBackend,
    N: TrainBackbone<B> + 'static,
{
    if args.workers > 1 {
        return run_parallel::<B, N>(args, device, backbone);
    }
    let settings = settings(args);
    let train = TrainSettings::default();
    let shape = [args.batch, 3, args.image_size, args.image_size];
    let x = Tensor::<B::InnerBackend, 4>::random(shape, Distribution::Normal(0.0, 1.0), device);
    let y = Tensor::<B, 1, Int>::from_data(
        burn::tensor::TensorData::new(
            (0..args.batch as i64).map(|i| i % 2).collect(),
            [args.batch],
        ),
        device,
    );
    let crop = AttentionCropConfig::new().init();
    let shards = [Shard {
        images: x.clone(),
        targets: y,
        device: device.clone(),
    }];
    let context = IterationContext {
        epoch: 0,
        batch: 0,
        seed: 0,
        lean: args.lean,
    };
    let sync = || B::sync(device).map_err(|e| anyhow::anyhow!("device sync failed: {e:?}"));
    let mut step: Box<dyn FnMut() -> anyhow::Result<()>> = match args.case {
        Case::Iteration => {
            let model = build_fineface::<B, N>(&settings, 2, backbone, device);
            training_step(model, &train, shards, crop, context)
        }
        Case::Baseline => {
            let model = build_baseline::<B, N>(2, backbone, device);
            training_step(model, &train, shards, crop, context)
        }
        Case::Forward => {
            let backbone = backbone.valid();
            Box::new(move || {
                let taps = backbone.forward_features(x.clone());
                let _ = taps.stride32.sum().into_scalar();
                Ok(())
            })
        }
        Case::Backward => Box::new(move || {
            let taps = backbone.forward_features(Tensor::from_inner(x.clone()));
            let loss = taps.stride32.mean();
            let _ = loss.clone().into_scalar();
            let _grads = loss.backward();
            sync()
        }),
        Case::Eval => {
            let model = build_fineface::<B, N>(&settings, 2, backbone, device).valid();
            Box::new(move || {
                let logits = model.predict(x.clone(), &crop);
                let _ = logits.combined.sum().into_scalar();
                Ok(())
            })
        }
        Case::Matmul => {
            let n = args.image_size;
            let a = Tensor::<B::InnerBackend, 2>::random(
                [n, n],
                Distribution::Normal(0.0, 1.0),
                device,
            );
            let b = Tensor::<B::InnerBackend, 2>::random(
                [n, n],
                Distribution::Normal(0.0, 1.0),
                device,
            );
            Box::new(move || {
                let _ = a
                    .clone()
                    .matmul(b.clone())
                    .slice([0..1, 0..1])
                    .into_scalar();
                Ok(())
            })
        }
        Case::Crops => {
            let s = args.image_size;
            let maps: [Tensor<B::InnerBackend, 3>; 3] = [8, 16, 32].map(|stride| {
                Tensor::random(
                    [args.batch, s / stride, s / stride],
                    Distribution::Normal(0.0, 1.0),
                    device,
                )
            });
            Box::new(move || {
                for c in crop.crops_all(x.clone(), maps.clone()) {
                    let _ = c.sum().into_scalar();
                }
                Ok(())
            })
        }
    };
    for _ in 0..args.warmup {
        step()?;
    }
    sync()?;
    let mut timed = || -> anyhow::Result<Vec<f64>> {
        (0..args.iters)
            .map(|_| {
                let start = Instant::now();
                step()?;
                sync()?;
                Ok(start.elapsed().as_secs_f64())
            })
            .collect()
    };
    match &args.op_times {
        None => timed(),
        Some(path) => {
            let file = std::fs::File::create(path)
                .map_err(|e| anyhow::anyhow!("cannot create {}: {e}", path.display()))?;
            let spans = tracing_subscriber::fmt()
                .with_env_filter("fineface_kernels=trace,fineface_model=trace,fineface_train=trace")
                .with_span_events(tracing_subscriber::fmt::format::FmtSpan::CLOSE)
                .with_ansi(false)
                .with_writer(std::sync::Mutex::new(file))
                .finish();
            tracing::subscriber::with_default(spans, timed)
        }
    }
}

/// One training iteration of `model` per call, with its optimiser state kept across calls.
fn training_step<B: FineFaceAutodiffBackend, M: TrainStep<B> + 'static>(
    model: M,
    train: &TrainSettings,
    shards: [Shard<B>; 1],
    crop: fineface_model::AttentionCrop,
    context: IterationContext,
) -> Box<dyn FnMut() -> anyhow::Result<()>> {
    let mut model = Some(model);
    let mut optimizer = GroupedSgd::new(train);
    Box::new(move || {
        let m = model.take().ok_or_else(|| anyhow::anyhow!("no model"))?;
        let (m, _) = m.iteration(&mut optimizer, &shards, &crop, context, &mut LocalReducer)?;
        model = Some(m);
        Ok(())
    })
}

/// `iteration` or `baseline` on `args.workers` data-parallel workers on `device`.
fn run_parallel<B: FineFaceAutodiffBackend, N: TrainBackbone<B> + 'static>(
    args: &Args,
    device: &B::Device,
    backbone: N,
) -> anyhow::Result<Vec<f64>> {
    let settings = settings(args);
    match args.case {
        Case::Iteration => time_parallel(
            args,
            device,
            build_fineface::<B, N>(&settings, 2, backbone, device),
        ),
        Case::Baseline => time_parallel(args, device, build_baseline::<B, N>(2, backbone, device)),
        other => anyhow::bail!("--workers applies to iteration and baseline, not {other:?}"),
    }
}

fn time_parallel<B: FineFaceAutodiffBackend, M: TrainStep<B>>(
    args: &Args,
    device: &B::Device,
    model: M,
) -> anyhow::Result<Vec<f64>> {
    use rand::{Rng, SeedableRng};
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(0);
    let size = args.image_size;
    let batch = fineface_data::ImageBatch {
        images: (0..args.batch * 3 * size * size)
            .map(|_| rng.random_range(-2.0f32..2.0))
            .collect(),
        size,
        targets: (0..args.batch).map(|i| i % 2).collect(),
        indices: (0..args.batch).collect(),
    };
    let train = TrainSettings::default();
    let crop = AttentionCropConfig::new().init();
    let devices = vec![device.clone(); args.workers];
    let context = IterationContext {
        epoch: 0,
        batch: 0,
        seed: 0,
        lean: args.lean,
    };
    std::thread::scope(|scope| {
        let mut optimizer = GroupedSgd::new(&train);
        let (mut parallel, mut model) = fineface_train::DataParallel::start(
            scope, model, &optimizer, &train, &devices, &crop, None,
        )?;
        let mut times = Vec::with_capacity(args.iters);
        for i in 0..args.warmup + args.iters {
            let start = Instant::now();
            model = parallel
                .iteration(model, &mut optimizer, batch.clone(), context)?
                .0;
            B::sync(device).map_err(|e| anyhow::anyhow!("device sync failed: {e:?}"))?;
            if i >= args.warmup {
                times.push(start.elapsed().as_secs_f64());
            }
        }
        Ok(times)
    })
}
