//! The kernels of `FineFaceBackend` against Burn's own ops: same outputs, same gradients.
//!
//! The convolution keeps Burn's forward and input gradient and replaces the weight gradient
//! (matrix products instead of Burn's convolution of the input with the output gradient);
//! BatchNorm in training is one op with a closed-form backward instead of Burn's graph of
//! element-wise ops. Both must agree with Burn's stock path on every gradient, on each
//! dispatch branch of the weight gradient.

#![allow(clippy::unwrap_used)] // Tests panic on failure by design.

mod common;

use burn::backend::{Autodiff, Flex};
use burn::module::Param;
use burn::nn::BatchNormConfig as BurnBatchNormConfig;
use burn::nn::PaddingConfig2d;
use burn::nn::conv::Conv2dConfig;
use burn::tensor::{Distribution, Tensor};
use fineface_model::{BatchNormConfig, conv2d};
use rstest::rstest;

type A = Autodiff<Flex>;

/// Max |a - b| relative to max |b|.
fn relative_diff<const D: usize>(a: Tensor<Flex, D>, b: Tensor<Flex, D>) -> f32 {
    let scale = b.clone().abs().max().into_scalar();
    common::max_abs_diff(a, b) / (scale + 1e-6)
}

/// Our convolution beside Burn's `Conv2d::forward` with the same weight, under the loss
/// `sum(y * r)` for a random `r` (so the output gradient is not uniform).
#[rstest]
// 1x1, 12x12 outputs: one product per image.
#[case::pointwise_per_image(2, 6, 5, 12, 1, 1, 0)]
// 1x1, 5x5 outputs: one product over the batch.
#[case::pointwise_batched(3, 6, 5, 5, 1, 1, 0)]
// ResNet's strided 1x1 projection, on an odd size.
#[case::pointwise_strided(2, 6, 5, 9, 1, 2, 0)]
// 3x3 with >= 256 output channels and >= 256 output positions: one product per kernel
// position.
#[case::per_position(2, 4, 256, 16, 3, 1, 1)]
#[case::per_position_strided(2, 4, 256, 32, 3, 2, 1)]
// 3x3 with few output channels or positions: Burn's own weight gradient.
#[case::burns_weight_gradient(2, 4, 8, 16, 3, 1, 1)]
#[case::burns_weight_gradient_few_positions(2, 4, 256, 6, 3, 1, 1)]
fn convolution_gradients_match_burns(
    #[case] batch: usize,
    #[case] channels_in: usize,
    #[case] channels_out: usize,
    #[case] size: usize,
    #[case] kernel: usize,
    #[case] stride: usize,
    #[case] padding: usize,
) {
    let device = Default::default();
    let conv = Conv2dConfig::new([channels_in, channels_out], [kernel, kernel])
        .with_stride([stride, stride])
        .with_padding(PaddingConfig2d::Explicit(
            padding, padding, padding, padding,
        ))
        .with_bias(false)
        .init::<A>(&device);
    let x = Tensor::<A, 4>::random(
        [batch, channels_in, size, size],
        Distribution::Normal(0.0, 1.0),
        &device,
    )
    .require_grad();

    let y_ours = conv2d(&conv, x.clone());
    let y_burn = conv.forward(x.clone());
    assert_eq!(y_ours.dims(), y_burn.dims());
    let r = Tensor::<A, 4>::random(y_burn.dims(), Distribution::Normal(0.0, 1.0), &device);
    let grads_ours = (y_ours.clone() * r.clone()).sum().backward();
    let grads_burn = (y_burn.clone() * r).sum().backward();

    let output = relative_diff(y_ours.inner(), y_burn.inner());
    let input = relative_diff(x.grad(&grads_ours).unwrap(), x.grad(&grads_burn).unwrap());
    let weight = relative_diff(
        conv.weight.grad(&grads_ours).unwrap(),
        conv.weight.grad(&grads_burn).unwrap(),
    );
    assert!(output < 1e-6, "output differs by {output}");
    assert!(input < 1e-5, "input gradient differs by {input}");
    assert!(weight < 1e-5, "weight gradient differs by {weight}");
}

/// Our training-mode BatchNorm (one op, closed-form backward) beside Burn's stock layer
/// (element-wise autodiff) under the loss `sum(y * r)`.
#[rstest]
#[case::bn2d(vec![4, 6, 5, 3])]
#[case::bn1d(vec![8, 6])]
fn batch_norm_gradients_match_burns(#[case] shape: Vec<usize>) {
    let device = Default::default();
    let gamma = Tensor::<A, 1>::random([6], Distribution::Uniform(0.5, 1.5), &device);
    let beta = Tensor::<A, 1>::random([6], Distribution::Normal(0.0, 0.1), &device);
    let mut ours = BatchNormConfig::new(6).init::<A>(&device);
    let mut burns = BurnBatchNormConfig::new(6).init::<A>(&device);
    ours.gamma = Param::from_tensor(gamma.clone());
    ours.beta = Param::from_tensor(beta.clone());
    burns.gamma = Param::from_tensor(gamma);
    burns.beta = Param::from_tensor(beta);
    let total: usize = shape.iter().product();
    let x = Tensor::<A, 1>::random([total], Distribution::Normal(1.0, 2.0), &device);
    let r = Tensor::<A, 1>::random([total], Distribution::Normal(0.0, 1.0), &device);

    macro_rules! check {
        ($D:literal) => {{
            let dims: [usize; $D] = shape.clone().try_into().unwrap();
            let x = x.clone().reshape(dims).require_grad();
            let r = r.clone().reshape(dims);
            let y_ours = ours.forward(x.clone());
            let y_burn = burns.forward(x.clone());
            let grads_ours = (y_ours.clone() * r.clone()).sum().backward();
            let grads_burn = (y_burn.clone() * r).sum().backward();
            let output = relative_diff(y_ours.inner(), y_burn.inner());
            assert!(output < 1e-5, "output differs by {output}");
            let input = relative_diff(x.grad(&grads_ours).unwrap(), x.grad(&grads_burn).unwrap());
            assert!(input < 1e-4, "input gradient differs by {input}");
            let gamma = relative_diff(
                ours.gamma.grad(&grads_ours).unwrap(),
                burns.gamma.grad(&grads_burn).unwrap(),
            );
            assert!(gamma < 1e-5, "gamma gradient differs by {gamma}");
            let beta = relative_diff(
                ours.beta.grad(&grads_ours).unwrap(),
                burns.beta.grad(&grads_burn).unwrap(),
            );
            assert!(beta < 1e-5, "beta gradient differs by {beta}");
        }};
    }
    match shape.len() {
        4 => check!(4),
        _ => check!(2),
    }
}
