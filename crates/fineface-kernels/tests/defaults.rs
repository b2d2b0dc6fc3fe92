//! Every [`FineFaceBackend`] method, on every backend this build implements it for, against
//! Burn's own ops at tiny shapes, within 1e-5 of the largest value compared:
//!
//! - `conv2d_tracked` against `burn::tensor::module::conv2d`, with and without a bias;
//!   `conv2d_input_gradient` / `conv2d_weight_gradient` against the backend's
//!   `conv2d_x_backward` / `conv2d_weight_backward`;
//! - `batch_norm_train` and `batch_norm_forward` (output, batch mean, biased variance,
//!   `1 / sqrt(var + eps)`) and `batch_norm_backward` (input, gamma and beta gradients)
//!   against `burn::nn::BatchNorm` in training mode, followed by a ReLU where the op
//!   includes one; `batch_norm_inference` against the layer in evaluation mode;
//! - `max_pool2d_tracked` against Burn's `MaxPool2d`; `prelu_rows` against Burn's `PRelu`;
//! - `add_relu` against `relu(lhs + rhs)`; `relu_gradient` against `relu_backward`;
//! - `sgd_step` against three steps of Burn's `Sgd` with momentum, dampening and weight decay;
//! - on `Autodiff<B>` over the backend: the convolution, BatchNorm and `add_relu` autodiff ops
//!   (outputs and every input's gradient) against Burn's autodiff of the same computation;
//! - the sum between nodes: a backend without a device-side collective refuses a group, one
//!   with NCCL (CUDA) sums over a group of one node to the bit.
//!
//! On NdArray, CUDA and wgpu these run the trait's defaults, on Flex its kernels (at these shapes
//! the im2col paths; `ops.rs` covers the rest of Flex's convolution, Winograd included).
//!
//! A new backend gets all of these with one `backend_tests!` line at the bottom.

#![allow(clippy::unwrap_used)] // Tests panic on failure by design.
#![cfg_attr(
    // Without a backend feature no `backend_tests!` line is compiled: the checks go unused.
    not(any(feature = "flex", feature = "ndarray", feature = "cuda", feature = "wgpu")),
    allow(dead_code, unused_imports, unused_macros)
)]

mod common;

use burn::backend::Autodiff;
use burn::module::{Module, Param, RunningState};
use burn::nn::conv::Conv2dConfig;
use burn::nn::pool::MaxPool2dConfig;
use burn::nn::{BatchNormConfig, PReluConfig, PaddingConfig2d};
use burn::optim::decay::WeightDecayConfig;
use burn::optim::momentum::MomentumConfig;
use burn::optim::{GradientsParams, Optimizer, SgdConfig};
use burn::tensor::activation::relu;
use burn::tensor::backend::Backend;
use burn::tensor::ops::ConvOptions;
use burn::tensor::{Distribution, Tensor, TensorPrimitive};
use common::{assert_close, float, primitive};
use fineface_kernels::{
    BatchNormActivation, BatchNormOptions, BatchNormStatistics, DeviceCollective, FineFaceBackend,
    NodeGroupError, NodeGroupId, SgdOptions, add_relu, batch_norm_inference, conv2d, max_pool2d,
    prelu_channels, sgd_step,
};

/// Largest difference allowed, relative to the largest value compared.
const TOLERANCE: f32 = 1e-5;

fn normal<B: Backend, const D: usize>(dims: [usize; D], device: &B::Device) -> Tensor<B, D> {
    Tensor::random(dims, Distribution::Normal(0.0, 1.0), device)
}

/// A convolution: `[batch, channels_in, channels_out]`, input `[h, w]`, kernel `[k_h, k_w]`,
/// stride, padding `[p_h, p_w]` and dilation (the same on both axes).
#[derive(Debug, Clone, Copy)]
struct ConvCase {
    channels: [usize; 3],
    size: [usize; 2],
    kernel: [usize; 2],
    stride: usize,
    padding: [usize; 2],
    dilation: usize,
}

/// 3x3 with padding, 1x1, a strided one on odd sizes, a dilated non-square one, and 1x1 of
/// stride 2 on even and odd sizes (ResNet's downsample: the kernel skips pixels, where Burn
/// 0.21's CubeCL input gradient is wrong and the trait's default works around it).
const CONVS: [ConvCase; 6] = [
    ConvCase {
        channels: [2, 3, 4],
        size: [6, 7],
        kernel: [3, 3],
        stride: 1,
        padding: [1, 1],
        dilation: 1,
    },
    ConvCase {
        channels: [2, 5, 3],
        size: [4, 5],
        kernel: [1, 1],
        stride: 1,
        padding: [0, 0],
        dilation: 1,
    },
    ConvCase {
        channels: [3, 2, 4],
        size: [9, 7],
        kernel: [3, 3],
        stride: 2,
        padding: [1, 1],
        dilation: 1,
    },
    ConvCase {
        channels: [2, 3, 2],
        size: [8, 8],
        kernel: [3, 2],
        stride: 1,
        padding: [2, 1],
        dilation: 2,
    },
    ConvCase {
        channels: [2, 3, 4],
        size: [8, 6],
        kernel: [1, 1],
        stride: 2,
        padding: [0, 0],
        dilation: 1,
    },
    ConvCase {
        channels: [2, 3, 4],
        size: [7, 5],
        kernel: [1, 1],
        stride: 3,
        padding: [0, 0],
        dilation: 1,
    },
];

impl ConvCase {
    /// Whether the kernel spans fewer pixels than the stride (some input pixels unread).
    fn skips_pixels(&self) -> bool {
        (0..2).any(|i| self.dilation * (self.kernel[i] - 1) + 1 < self.stride)
    }

    /// The input gradient by its definition, a direct loop on the CPU:
    /// `dx[n, i, y, x] = sum of w[o, i, ky, kx] * dy[n, o, oy, ox]` over the output pixels
    /// `(oy, ox)` whose window reads `(y, x)` through kernel tap `(ky, kx)`.
    fn direct_input_gradient<B: Backend>(
        &self,
        weight: Tensor<B, 4>,
        output_grad: Tensor<B, 4>,
    ) -> Tensor<B, 4> {
        let [batch, c_in, c_out] = self.channels;
        let [h, w] = self.size;
        let [kh, kw] = self.kernel;
        let (s, d) = (self.stride, self.dilation);
        let [_, _, oh, ow] = output_grad.dims();
        let device = weight.device();
        let weight = weight.into_data().to_vec::<f32>().unwrap();
        let grad = output_grad.into_data().to_vec::<f32>().unwrap();
        let mut dx = vec![0f32; batch * c_in * h * w];
        for n in 0..batch {
            for o in 0..c_out {
                for oy in 0..oh {
                    for ox in 0..ow {
                        let g = grad[((n * c_out + o) * oh + oy) * ow + ox];
                        for i in 0..c_in {
                            for ky in 0..kh {
                                for kx in 0..kw {
                                    let y = (oy * s + ky * d).checked_sub(self.padding[0]);
                                    let x = (ox * s + kx * d).checked_sub(self.padding[1]);
                                    if let (Some(y), Some(x)) = (y, x)
                                        && y < h
                                        && x < w
                                    {
                                        dx[((n * c_in + i) * h + y) * w + x] +=
                                            weight[((o * c_in + i) * kh + ky) * kw + kx] * g;
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        Tensor::from_data(
            burn::tensor::TensorData::new(dx, [batch, c_in, h, w]),
            &device,
        )
    }

    fn options(&self) -> ConvOptions<2> {
        ConvOptions::new([self.stride; 2], self.padding, [self.dilation; 2], 1)
    }

    fn input<B: Backend>(&self, device: &B::Device) -> Tensor<B, 4> {
        let [batch, channels_in, _] = self.channels;
        normal([batch, channels_in, self.size[0], self.size[1]], device)
    }

    fn weight<B: Backend>(&self, device: &B::Device) -> Tensor<B, 4> {
        let [_, channels_in, channels_out] = self.channels;
        normal(
            [channels_out, channels_in, self.kernel[0], self.kernel[1]],
            device,
        )
    }

    fn bias<B: Backend>(&self, device: &B::Device) -> Tensor<B, 1> {
        normal([self.channels[2]], device)
    }

    fn module<B: Backend>(&self, bias: bool, device: &B::Device) -> burn::nn::conv::Conv2d<B> {
        let [_, channels_in, channels_out] = self.channels;
        let [p_h, p_w] = self.padding;
        Conv2dConfig::new([channels_in, channels_out], self.kernel)
            .with_stride([self.stride; 2])
            .with_dilation([self.dilation; 2])
            .with_padding(PaddingConfig2d::Explicit(p_h, p_w, p_h, p_w))
            .with_bias(bias)
            .init(device)
    }
}

/// `conv2d_tracked` against Burn's `conv2d`.
fn conv2d_tracked<B: FineFaceBackend>() {
    let device = Default::default();
    for case in CONVS {
        for with_bias in [false, true] {
            let (x, weight) = (case.input::<B>(&device), case.weight::<B>(&device));
            let bias = with_bias.then(|| case.bias::<B>(&device));
            let burns = burn::tensor::module::conv2d(
                x.clone(),
                weight.clone(),
                bias.clone(),
                case.options(),
            );
            let ours = B::conv2d_tracked(
                primitive(x),
                primitive(weight),
                bias.map(primitive),
                case.options(),
            );
            let name = format!("{case:?}, bias {with_bias}");
            assert_close(&name, float::<B, 4>(ours), burns, TOLERANCE);
        }
    }
}

/// `conv2d_input_gradient` and `conv2d_weight_gradient` against Burn's `conv2d_x_backward`
/// and `conv2d_weight_backward`.
fn conv2d_gradients<B: FineFaceBackend>() {
    let device = Default::default();
    for case in CONVS {
        let (x, weight) = (case.input::<B>(&device), case.weight::<B>(&device));
        let output = burn::tensor::module::conv2d(x.clone(), weight.clone(), None, case.options());
        let grad = normal::<B, 4>(output.dims(), &device);
        let direct = case.direct_input_gradient(weight.clone(), grad.clone());
        let [x, weight, grad] = [x, weight, grad].map(primitive);
        let options = case.options();
        let input_ours =
            B::conv2d_input_gradient(x.clone(), weight.clone(), grad.clone(), options.clone());
        let input_burns =
            B::conv2d_x_backward(x.clone(), weight.clone(), grad.clone(), options.clone());
        let weight_ours =
            B::conv2d_weight_gradient(x.clone(), weight.clone(), grad.clone(), options.clone());
        let weight_burns = B::conv2d_weight_backward(x, weight, grad, options);
        let name = format!("{case:?}");
        let input_ours = float::<B, 4>(input_ours);
        assert_close(
            &format!("{name}: input gradient against a direct loop"),
            input_ours.clone(),
            direct,
            TOLERANCE,
        );
        // Where the kernel skips pixels Burn's CubeCL op is wrong (the default works around
        // it), so Burn's op is the reference only elsewhere.
        if !case.skips_pixels() {
            assert_close(
                &format!("{name}: input gradient"),
                input_ours,
                float(input_burns),
                TOLERANCE,
            );
        }
        assert_close(
            &format!("{name}: weight gradient"),
            float::<B, 4>(weight_ours),
            float(weight_burns),
            TOLERANCE,
        );
    }
}

/// On `Autodiff<B>`: `fineface_kernels::conv2d` (the autodiff op over `conv2d_tracked`)
/// against Burn's `Conv2d::forward`, output and the input, weight and bias gradients.
fn autodiff_conv2d<B: FineFaceBackend>() {
    let device = Default::default();
    for case in CONVS {
        for with_bias in [false, true] {
            let conv = case.module::<Autodiff<B>>(with_bias, &device);
            let x = case.input::<Autodiff<B>>(&device).require_grad();
            let ours = conv2d(&conv, x.clone());
            let burns = conv.forward(x.clone());
            let r = normal::<Autodiff<B>, 4>(burns.dims(), &device);
            let grads_ours = (ours.clone() * r.clone()).sum().backward();
            let grads_burns = (burns.clone() * r.clone()).sum().backward();
            let name = format!("{case:?}, bias {with_bias}");
            assert_close(&name, ours.inner(), burns.inner(), TOLERANCE);
            let input_grad = x.grad(&grads_ours).unwrap();
            if case.skips_pixels() {
                let direct =
                    case.direct_input_gradient(conv.weight.val().inner(), r.clone().inner());
                assert_close(
                    &format!("{name}: input gradient"),
                    input_grad,
                    direct,
                    TOLERANCE,
                );
            } else {
                assert_close(
                    &format!("{name}: input gradient"),
                    input_grad,
                    x.grad(&grads_burns).unwrap(),
                    TOLERANCE,
                );
            }
            assert_close(
                &format!("{name}: weight gradient"),
                conv.weight.grad(&grads_ours).unwrap(),
                conv.weight.grad(&grads_burns).unwrap(),
                TOLERANCE,
            );
            if let Some(bias) = &conv.bias {
                assert_close(
                    &format!("{name}: bias gradient"),
                    bias.grad(&grads_ours).unwrap(),
                    bias.grad(&grads_burns).unwrap(),
                    TOLERANCE,
                );
            }
        }
    }
}

/// `[batch, channels, height, width]` of the BatchNorm cases.
const NORM_DIMS: [usize; 4] = [3, 4, 5, 6];

/// The activations a BatchNorm op fuses.
const ACTIVATIONS: [BatchNormActivation; 3] = [
    BatchNormActivation::Identity,
    BatchNormActivation::Relu,
    BatchNormActivation::Relu6,
];

/// What Burn's `BatchNorm` in training mode (on `Autodiff<B>`), followed by Burn's ReLU or
/// `clamp(0, 6)` as `activation` says, computes on `x` with `gamma` and `beta` under the upstream gradient `r`.
struct BurnsBatchNorm<B: Backend> {
    output: Tensor<B, 4>,
    input_grad: Tensor<B, 4>,
    gamma_grad: Tensor<B, 1>,
    beta_grad: Tensor<B, 1>,
    epsilon: f64,
}

fn burns_batch_norm<B: FineFaceBackend>(
    [x, r]: [&Tensor<B, 4>; 2],
    [gamma, beta]: [&Tensor<B, 1>; 2],
    activation: BatchNormActivation,
) -> BurnsBatchNorm<B> {
    let device = x.device();
    let mut layer = BatchNormConfig::new(NORM_DIMS[1]).init::<Autodiff<B>>(&device);
    layer.gamma = Param::from_tensor(Tensor::from_inner(gamma.clone()));
    layer.beta = Param::from_tensor(Tensor::from_inner(beta.clone()));
    let x = Tensor::<Autodiff<B>, 4>::from_inner(x.clone()).require_grad();
    let output = layer.forward(x.clone());
    let output = match activation {
        BatchNormActivation::Identity => output,
        BatchNormActivation::Relu => relu(output),
        BatchNormActivation::Relu6 => output.clamp(0.0, 6.0),
    };
    let grads = (output.clone() * Tensor::from_inner(r.clone()))
        .sum()
        .backward();
    BurnsBatchNorm {
        output: output.inner(),
        input_grad: x.grad(&grads).unwrap(),
        gamma_grad: layer.gamma.grad(&grads).unwrap(),
        beta_grad: layer.beta.grad(&grads).unwrap(),
        epsilon: layer.epsilon,
    }
}

/// `[batch, channels, h, w]` as the `[batch * channels, h * w]` rows the ops take.
fn rows<B: Backend>(t: Tensor<B, 4>) -> Tensor<B, 2> {
    let [batch, channels, height, width] = t.dims();
    t.reshape([batch * channels, height * width])
}

/// `batch_norm_train`, `batch_norm_forward` and `batch_norm_backward` on `B` against Burn's
/// `BatchNorm` in training mode (and, for the statistics, Burn's `var_mean_bias`).
fn batch_norm<B: FineFaceBackend>() {
    let device = Default::default();
    let [batch, channels, height, width] = NORM_DIMS;
    for activation in ACTIVATIONS {
        let x = normal::<B, 4>(NORM_DIMS, &device)
            .mul_scalar(2.0)
            .add_scalar(0.5);
        let r = normal::<B, 4>(NORM_DIMS, &device);
        // Scales near 4 for ReLU6, so that some outputs pass its clip at 6.
        let gamma = normal::<B, 1>([channels], &device)
            .add_scalar(1.0)
            .mul_scalar(if activation == BatchNormActivation::Relu6 {
                4.0
            } else {
                1.0
            });
        let beta = normal::<B, 1>([channels], &device);
        let burns = burns_batch_norm([&x, &r], [&gamma, &beta], activation);
        let (var, mean) = x
            .clone()
            .swap_dims(0, 1)
            .reshape([channels, batch * height * width])
            .var_mean_bias(1);
        let (var, mean) = (var.reshape([channels]), mean.reshape([channels]));
        let inv_std = var.clone().add_scalar(burns.epsilon).sqrt().recip();

        let options = BatchNormOptions {
            batch,
            epsilon: burns.epsilon,
            activation,
        };
        let name = |what: &str| format!("{activation:?}: {what}");
        let train = B::batch_norm_train(
            primitive(rows(x.clone())),
            primitive(gamma.clone()),
            primitive(beta.clone()),
            options,
        );
        let output = float::<B, 2>(train.output).reshape(NORM_DIMS);
        assert_close(
            &name("train output"),
            output,
            burns.output.clone(),
            TOLERANCE,
        );
        let forward = B::batch_norm_forward(
            primitive(rows(x.clone())),
            primitive(gamma.clone()),
            primitive(beta.clone()),
            options,
        );
        let output = float::<B, 2>(forward.output).reshape(NORM_DIMS);
        assert_close(&name("output"), output, burns.output, TOLERANCE);
        assert_close(&name("mean"), float(forward.mean.clone()), mean, TOLERANCE);
        assert_close(
            &name("variance"),
            float::<B, 1>(forward.var),
            var,
            TOLERANCE,
        );
        let inv_std_ours = float::<B, 1>(forward.inv_std.clone());
        assert_close(&name("1 / std"), inv_std_ours, inv_std, TOLERANCE);

        let statistics = BatchNormStatistics {
            mean: forward.mean,
            inv_std: forward.inv_std,
            gamma: primitive(gamma),
            beta: primitive(beta),
        };
        let gradients =
            B::batch_norm_backward(primitive(rows(r)), primitive(rows(x)), statistics, options);
        let input_grad = float::<B, 2>(gradients.input).reshape(NORM_DIMS);
        assert_close(
            &name("input gradient"),
            input_grad,
            burns.input_grad,
            TOLERANCE,
        );
        let gamma_grad = float::<B, 1>(gradients.gamma);
        assert_close(
            &name("gamma gradient"),
            gamma_grad,
            burns.gamma_grad,
            TOLERANCE,
        );
        let beta_grad = float::<B, 1>(gradients.beta);
        assert_close(
            &name("beta gradient"),
            beta_grad,
            burns.beta_grad,
            TOLERANCE,
        );
    }
}

/// `batch_norm_inference` on `B` against Burn's `BatchNorm` in evaluation mode (on `B`
/// itself, not autodiff: running statistics), followed by the activation: the scale and
/// shift the op takes computed from the layer's running statistics as fineface-model's layer
/// computes them.
fn batch_norm_inference_op<B: FineFaceBackend>() {
    let device = Default::default();
    let channels = NORM_DIMS[1];
    for activation in ACTIVATIONS {
        let mut layer = BatchNormConfig::new(channels).init::<B>(&device);
        let gain = if activation == BatchNormActivation::Relu6 {
            4.0
        } else {
            1.0
        };
        layer.gamma = Param::from_tensor(normal([channels], &device).add_scalar(1.0) * gain);
        layer.beta = Param::from_tensor(normal([channels], &device));
        let mean = normal::<B, 1>([channels], &device);
        let var = normal::<B, 1>([channels], &device).abs().add_scalar(0.1);
        layer.running_mean = RunningState::new(mean.clone());
        layer.running_var = RunningState::new(var.clone());
        let x = normal::<B, 4>(NORM_DIMS, &device).mul_scalar(2.0);
        let burns = layer.forward(x.clone());
        let burns = match activation {
            BatchNormActivation::Identity => burns,
            BatchNormActivation::Relu => relu(burns),
            BatchNormActivation::Relu6 => burns.clamp(0.0, 6.0),
        };
        let scale = layer.gamma.val() / var.add_scalar(layer.epsilon).sqrt();
        let shift = layer.beta.val() - mean * scale.clone();
        let ours = batch_norm_inference(rows(x), scale, shift, activation).reshape(NORM_DIMS);
        assert_close(&format!("{activation:?}"), ours, burns, TOLERANCE);
    }
}

/// `max_pool2d_tracked` on `B` against Burn's `MaxPool2d` (MTCNN's 3x3 windows of stride 2
/// in ceil mode on an odd map).
fn max_pool_op<B: FineFaceBackend>() {
    let device = Default::default();
    let x = normal::<B, 4>([2, 3, 11, 9], &device);
    let pool = MaxPool2dConfig::new([3, 3])
        .with_strides([2, 2])
        .with_ceil_mode(true)
        .init();
    let ours = max_pool2d(&pool, x.clone());
    assert_close("max pool", ours, pool.forward(x), TOLERANCE);
}

/// `prelu_rows` on `B` (through `prelu_channels`) against Burn's `PRelu` layer with a slope
/// per channel.
fn prelu_op<B: FineFaceBackend>() {
    let device = Default::default();
    let x = normal::<B, 4>(NORM_DIMS, &device);
    let mut layer = PReluConfig::new()
        .with_num_parameters(NORM_DIMS[1])
        .init::<B>(&device);
    layer.alpha = Param::from_tensor(normal([NORM_DIMS[1]], &device));
    let ours = prelu_channels(x.clone(), layer.alpha.val());
    assert_close("prelu", ours, layer.forward(x), TOLERANCE);
}

/// On `Autodiff<B>`: `batch_norm_train` (one autodiff op) against Burn's `BatchNorm` in
/// training mode, output and the input, gamma and beta gradients.
fn autodiff_batch_norm<B: FineFaceBackend>() {
    let device = Default::default();
    let [batch, channels, ..] = NORM_DIMS;
    for activation in ACTIVATIONS {
        let x = normal::<B, 4>(NORM_DIMS, &device).add_scalar(-0.3);
        let r = normal::<B, 4>(NORM_DIMS, &device);
        // Scales near 4 for ReLU6, so that some outputs pass its clip at 6.
        let gamma = normal::<B, 1>([channels], &device)
            .add_scalar(1.0)
            .mul_scalar(if activation == BatchNormActivation::Relu6 {
                4.0
            } else {
                1.0
            });
        let beta = normal::<B, 1>([channels], &device);
        let burns = burns_batch_norm([&x, &r], [&gamma, &beta], activation);

        let lift =
            |t: &Tensor<B, 1>| Tensor::<Autodiff<B>, 1>::from_inner(t.clone()).require_grad();
        let (gamma, beta) = (lift(&gamma), lift(&beta));
        let x = Tensor::<Autodiff<B>, 4>::from_inner(x).require_grad();
        let options = BatchNormOptions {
            batch,
            epsilon: burns.epsilon,
            activation,
        };
        let forward = Autodiff::<B>::batch_norm_train(
            primitive(rows(x.clone())),
            primitive(gamma.clone()),
            primitive(beta.clone()),
            options,
        );
        let output = float::<Autodiff<B>, 2>(forward.output).reshape(NORM_DIMS);
        let grads = (output.clone() * Tensor::from_inner(r)).sum().backward();
        let name = |what: &str| format!("{activation:?}: {what}");
        assert_close(&name("output"), output.inner(), burns.output, TOLERANCE);
        let input_grad = x.grad(&grads).unwrap();
        assert_close(
            &name("input gradient"),
            input_grad,
            burns.input_grad,
            TOLERANCE,
        );
        let gamma_grad = gamma.grad(&grads).unwrap();
        assert_close(
            &name("gamma gradient"),
            gamma_grad,
            burns.gamma_grad,
            TOLERANCE,
        );
        let beta_grad = beta.grad(&grads).unwrap();
        assert_close(
            &name("beta gradient"),
            beta_grad,
            burns.beta_grad,
            TOLERANCE,
        );
    }
}

/// `add_relu` against `relu(lhs + rhs)`.
fn add_relu_op<B: FineFaceBackend>() {
    let device = Default::default();
    let dims = [2, 3, 4, 5];
    let (lhs, rhs) = (normal::<B, 4>(dims, &device), normal::<B, 4>(dims, &device));
    let ours = float::<B, 4>(B::add_relu(primitive(lhs.clone()), primitive(rhs.clone())));
    assert_close("add_relu", ours, relu(lhs + rhs), TOLERANCE);
}

/// `relu_gradient` against Burn's `relu_backward`, where the ReLU's output has zeros.
fn relu_gradient<B: FineFaceBackend>() {
    let device = Default::default();
    let dims = [2, 3, 4, 5];
    let output = relu(normal::<B, 4>(dims, &device));
    let grad = normal::<B, 4>(dims, &device);
    let [output, grad] = [output, grad].map(primitive);
    let ours = B::relu_gradient(output.clone(), grad.clone());
    let burns = B::relu_backward(output, grad);
    assert_close(
        "relu_gradient",
        float::<B, 4>(ours),
        float(burns),
        TOLERANCE,
    );
}

/// On `Autodiff<B>`: `add_relu` (one autodiff op) against Burn's autodiff of
/// `relu(lhs + rhs)`, output and both gradients.
fn autodiff_add_relu<B: FineFaceBackend>() {
    let device = Default::default();
    let dims = [2, 3, 4, 5];
    let lhs = normal::<Autodiff<B>, 4>(dims, &device).require_grad();
    let rhs = normal::<Autodiff<B>, 4>(dims, &device).require_grad();
    let r = normal::<Autodiff<B>, 4>(dims, &device);
    let ours = add_relu(lhs.clone(), rhs.clone());
    let burns = relu(lhs.clone() + rhs.clone());
    let grads_ours = (ours.clone() * r.clone()).sum().backward();
    let grads_burns = (burns.clone() * r).sum().backward();
    assert_close("add_relu", ours.inner(), burns.inner(), TOLERANCE);
    for (name, x) in [("lhs gradient", &lhs), ("rhs gradient", &rhs)] {
        let (ours, burns) = (x.grad(&grads_ours), x.grad(&grads_burns));
        assert_close(name, ours.unwrap(), burns.unwrap(), TOLERANCE);
    }
}

/// One parameter, for Burn's optimiser.
#[derive(Module, Debug)]
struct Weights<B: Backend> {
    weight: Param<Tensor<B, 2>>,
}

/// `sgd_step` against Burn's `Sgd` (momentum with dampening, weight decay) over three steps:
/// the first without a momentum buffer, then with the one the previous step returned.
fn sgd<B: FineFaceBackend>() {
    let device = Default::default();
    let options = SgdOptions {
        lr: 0.05,
        momentum: 0.9,
        dampening: 0.1,
        weight_decay: 5e-4,
    };
    let mut optimizer = SgdConfig::new()
        .with_weight_decay(Some(WeightDecayConfig::new(options.weight_decay)))
        .with_momentum(Some(
            MomentumConfig::new()
                .with_momentum(options.momentum)
                .with_dampening(options.dampening),
        ))
        .init::<Autodiff<B>, Weights<Autodiff<B>>>();
    let dims = [7, 9];
    let mut param = normal::<B, 2>(dims, &device);
    let mut module = Weights {
        weight: Param::from_tensor(Tensor::<Autodiff<B>, 2>::from_inner(param.clone())),
    };
    let mut velocity = None;
    for step in 0..3 {
        let grad = normal::<B, 2>(dims, &device);
        let mut grads = GradientsParams::new();
        grads.register(module.weight.id, grad.clone());
        module = optimizer.step(options.lr, module, grads);
        let [new_param, new_velocity] = sgd_step(param, grad, velocity, options);
        (param, velocity) = (new_param, Some(new_velocity));
        let burns = module.weight.val().inner();
        assert_close(&format!("step {step}"), param.clone(), burns, TOLERANCE);
    }
}

/// A backend without a device-side collective refuses to join a group between nodes (its
/// caller sums through host memory); one with a collective (CUDA's NCCL) sums a bucket over a
/// group of one node into the bucket itself, to the bit, in a new tensor.
fn node_sum<B: FineFaceBackend>() {
    let device = Default::default();
    let values = [1.0f32, -2.5, 3.25e7, f32::MIN_POSITIVE];
    let bucket = Tensor::<B, 1>::from_floats(values, &device);
    let Some(collective) = B::device_collective() else {
        let id = NodeGroupId::from_bytes(DeviceCollective::Nccl, [0; NodeGroupId::LEN]);
        let refused = B::node_group(&device, &id, 1, 0).unwrap_err();
        assert_eq!(refused, NodeGroupError::Unsupported);
        return;
    };
    let id = NodeGroupId::new(collective).unwrap();
    let mut group = B::node_group(&device, &id, 1, 0).unwrap();
    assert_eq!((group.nodes(), group.rank()), (1, 0));
    let total = B::node_all_reduce_sum(
        bucket.clone().into_primitive().tensor(),
        &mut group,
        std::time::Duration::from_secs(60),
    )
    .unwrap();
    let total = Tensor::<B, 1>::from_primitive(TensorPrimitive::Float(total));
    let bits = |t: Tensor<B, 1>| -> Vec<u32> {
        t.into_data()
            .to_vec::<f32>()
            .unwrap()
            .iter()
            .map(|v| v.to_bits())
            .collect()
    };
    assert_eq!(bits(total), bits(bucket));
}

/// Every check above as a `#[test]` on `$backend` (plain and under `Autodiff`), in a module
/// named `$name`, with `$attr` (e.g. an `#[ignore]`) on each.
macro_rules! backend_tests {
    ($name:ident, $backend:ty $(, #[$attr:meta])*) => {
        mod $name {
            type B = $backend;

            $(#[$attr])*
            #[test]
            fn conv2d_tracked_matches_burns_conv2d() {
                super::conv2d_tracked::<B>();
            }

            $(#[$attr])*
            #[test]
            fn conv2d_gradients_match_burns_backward_ops() {
                super::conv2d_gradients::<B>();
            }

            $(#[$attr])*
            #[test]
            fn batch_norm_matches_burns_layer_in_training() {
                super::batch_norm::<B>();
            }

            $(#[$attr])*
            #[test]
            fn batch_norm_inference_matches_burns_layer_in_evaluation() {
                super::batch_norm_inference_op::<B>();
            }

            $(#[$attr])*
            #[test]
            fn prelu_rows_matches_burns_layer() {
                super::prelu_op::<B>();
            }

            $(#[$attr])*
            #[test]
            fn max_pool2d_matches_burns_layer() {
                super::max_pool_op::<B>();
            }

            $(#[$attr])*
            #[test]
            fn add_relu_matches_relu_of_the_sum() {
                super::add_relu_op::<B>();
            }

            $(#[$attr])*
            #[test]
            fn relu_gradient_matches_burns_relu_backward() {
                super::relu_gradient::<B>();
            }

            $(#[$attr])*
            #[test]
            fn sgd_step_matches_burns_sgd() {
                super::sgd::<B>();
            }

            $(#[$attr])*
            #[test]
            fn autodiff_conv2d_matches_burns() {
                super::autodiff_conv2d::<B>();
            }

            $(#[$attr])*
            #[test]
            fn autodiff_batch_norm_matches_burns_layer() {
                super::autodiff_batch_norm::<B>();
            }

            $(#[$attr])*
            #[test]
            fn autodiff_add_relu_matches_burns() {
                super::autodiff_add_relu::<B>();
            }

            $(#[$attr])*
            #[test]
            fn sums_between_nodes_on_the_device_or_refuses() {
                super::node_sum::<B>();
            }
        }
    };
}

#[cfg(feature = "flex")]
backend_tests!(flex, burn::backend::Flex);
#[cfg(feature = "ndarray")]
backend_tests!(ndarray, burn::backend::NdArray);
#[cfg(feature = "cuda")]
backend_tests!(cuda, burn::backend::Cuda, #[ignore = "needs a CUDA device: run with --ignored"]);

/// NCCL loads, or its absence is an error that says where to get it (no GPU needed).
#[cfg(feature = "cuda")]
#[test]
fn nccl_loads_or_says_where_to_get_it() {
    match DeviceCollective::Nccl.load() {
        Ok(version) => {
            assert!(version.code >= 20900, "{version:?}");
            assert!(version.to_string().starts_with("NCCL 2."), "{version}");
        }
        Err(e) => {
            assert!(matches!(e, NodeGroupError::NoLibrary { .. }), "{e:?}");
            let message = e.to_string();
            for part in [
                "libnccl.so is not found",
                "ln -s libnccl.so.2 libnccl.so",
                "LD_LIBRARY_PATH",
            ] {
                assert!(message.contains(part), "{message}");
            }
            // Node 0 cannot make a group's id either, for the same reason.
            assert_eq!(NodeGroupId::new(DeviceCollective::Nccl).unwrap_err(), e);
        }
    }
}
// Runs wherever a Vulkan/Metal/DX12 adapter exists: in CI, Mesa's llvmpipe on the CPU.
#[cfg(feature = "wgpu")]
backend_tests!(wgpu, burn::backend::Wgpu);
