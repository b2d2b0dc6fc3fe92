//! Op-level timings behind docs/performance.md: ResNet-50's convolution shapes (batch 8,
//! 224 px) and FineFACE's 512 -> 1024 head, forward, input gradient and weight gradient
//! (Flex's own and ours through `FineFaceBackend`), and a training-mode BatchNorm
//! forward+backward (ours, `FineFaceBackend::batch_norm_train` on the `[B*C, H*W]` rows the
//! model's layer reshapes to, and Burn's stock layer). `tools/kernel_probe_torch.py` prints the same lines for PyTorch.
//!
//! ```sh
//! cargo run --release -p fineface-kernels --example kernel_probe
//! python3 tools/kernel_probe_torch.py
//! ```
//! Each line is `{"op", "shape", "seconds"}` (median of 5 after one warm-up).

#![allow(clippy::print_stdout)] // The JSON lines are this program's output.

use std::time::Instant;

use burn::backend::{Autodiff, Flex};
use burn::nn::BatchNormConfig as BurnBatchNormConfig;
use burn::tensor::ops::{ConvOptions, FloatTensor, ModuleOps};
use burn::tensor::{Distribution, Tensor, TensorPrimitive};
use fineface_kernels::{BatchNormOptions, FineFaceBackend};

type A = Autodiff<Flex>;

/// `[batch, channels_in, channels_out, size, kernel, stride]`
const CONVS: [[usize; 6]; 11] = [
    [8, 3, 64, 224, 7, 2],
    [8, 64, 64, 56, 3, 1],
    [8, 256, 64, 56, 1, 1],
    [8, 64, 256, 56, 1, 1],
    [8, 256, 512, 56, 1, 2],
    [8, 128, 128, 56, 3, 2],
    [8, 128, 128, 28, 3, 1],
    [8, 256, 256, 14, 3, 1],
    [8, 1024, 512, 14, 1, 1],
    [8, 512, 512, 7, 3, 1],
    [8, 512, 1024, 28, 3, 1],
];

/// A convolution op given `(x, weight, output_grad, options)`.
type Probe = fn(
    FloatTensor<Flex>,
    FloatTensor<Flex>,
    FloatTensor<Flex>,
    ConvOptions<2>,
) -> FloatTensor<Flex>;

fn median_seconds(mut f: impl FnMut() -> f32) -> f64 {
    std::hint::black_box(f());
    let mut times: Vec<f64> = (0..5)
        .map(|_| {
            let start = Instant::now();
            std::hint::black_box(f());
            start.elapsed().as_secs_f64()
        })
        .collect();
    times.sort_by(f64::total_cmp);
    times[2]
}

fn report(op: &str, shape: &str, seconds: f64) {
    println!("{{\"op\": \"{op}\", \"shape\": \"{shape}\", \"seconds\": {seconds:.5}}}");
}

fn float<const D: usize>(t: &Tensor<Flex, D>) -> FloatTensor<Flex> {
    t.clone().into_primitive().tensor()
}

fn sum<const D: usize>(t: FloatTensor<Flex>) -> f32 {
    Tensor::<Flex, D>::from_primitive(TensorPrimitive::Float(t))
        .sum()
        .into_scalar()
}

fn main() {
    let device = Default::default();
    let normal = Distribution::Normal(0.0, 1.0);
    for [batch, cin, cout, size, kernel, stride] in CONVS {
        let padding = kernel / 2;
        let out = (size + 2 * padding - kernel) / stride + 1;
        let x = Tensor::<Flex, 4>::random([batch, cin, size, size], normal, &device);
        let w = Tensor::<Flex, 4>::random([cout, cin, kernel, kernel], normal, &device);
        let g = Tensor::<Flex, 4>::random([batch, cout, out, out], normal, &device);
        let options = ConvOptions::new([stride; 2], [padding; 2], [1, 1], 1);
        let shape = format!("{batch}x{cin}x{size}x{size} -> {cout}, {kernel}x{kernel}/{stride}");
        let (xf, wf, gf) = (float(&x), float(&w), float(&g));
        let probes: [(&str, Probe); 6] = [
            ("conv forward, Flex", |x, w, _, o| {
                Flex::conv2d(x, w, None, o)
            }),
            ("conv forward, ours", |x, w, _, o| {
                Flex::conv2d_tracked(x, w, None, o)
            }),
            ("conv input gradient, Flex", Flex::conv2d_x_backward),
            ("conv input gradient, ours", Flex::conv2d_input_gradient),
            ("conv weight gradient, Flex", Flex::conv2d_weight_backward),
            ("conv weight gradient, ours", Flex::conv2d_weight_gradient),
        ];
        for (op, probe) in probes {
            let seconds = median_seconds(|| {
                sum::<4>(probe(xf.clone(), wf.clone(), gf.clone(), options.clone()))
            });
            report(op, &shape, seconds);
        }
    }

    // BatchNorm2d forward + backward under a dense upstream gradient.
    let dims = [8, 256, 56, 56];
    let shape = "8x256x56x56";
    let x = Tensor::<A, 4>::random(dims, normal, &device).require_grad();
    let r = Tensor::<A, 4>::random(dims, normal, &device);
    let [batch, channels, height, width] = dims;
    let gamma = Tensor::<A, 1>::ones([channels], &device).require_grad();
    let beta = Tensor::<A, 1>::zeros([channels], &device).require_grad();
    let options = BatchNormOptions {
        batch,
        epsilon: 1e-5,
        activation: fineface_kernels::BatchNormActivation::Identity,
    };
    let seconds = median_seconds(|| {
        let rows = x.clone().reshape([batch * channels, height * width]);
        let forward = A::batch_norm_train(
            rows.into_primitive().tensor(),
            gamma.clone().into_primitive().tensor(),
            beta.clone().into_primitive().tensor(),
            options,
        );
        let y =
            Tensor::<A, 2>::from_primitive(TensorPrimitive::Float(forward.output)).reshape(dims);
        let grads = (y * r.clone()).sum().backward();
        x.grad(&grads).map_or(0.0, |g| g.sum().into_scalar())
    });
    report("batchnorm train forward+backward, ours", shape, seconds);
    let burns = BurnBatchNormConfig::new(256).init::<A>(&device);
    let seconds = median_seconds(|| {
        let grads = (burns.forward(x.clone()) * r.clone()).sum().backward();
        x.grad(&grads).map_or(0.0, |g| g.sum().into_scalar())
    });
    report("batchnorm train forward+backward, Burn", shape, seconds);
}
