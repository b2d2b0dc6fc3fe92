//! The convolution of `FineFaceBackend` against Burn's own: same output, same gradients.
//!
//! It keeps Burn's forward and input gradient and replaces the weight gradient (matrix
//! products instead of Burn's convolution of the input with the output gradient), with one
//! case per dispatch branch. BatchNorm's fused op is checked against Burn's layer in
//! `modules.rs`.

#![allow(clippy::unwrap_used)] // Tests panic on failure by design.

mod common;

use burn::backend::{Autodiff, Flex};
use burn::nn::PaddingConfig2d;
use burn::nn::conv::Conv2dConfig;
use burn::tensor::{Distribution, Tensor};
use fineface_model::conv2d;
use rstest::rstest;

type A = Autodiff<Flex>;

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

    let output = common::relative_diff(y_ours.inner(), y_burn.inner());
    let input = common::relative_diff(x.grad(&grads_ours).unwrap(), x.grad(&grads_burn).unwrap());
    let weight = common::relative_diff(
        conv.weight.grad(&grads_ours).unwrap(),
        conv.weight.grad(&grads_burn).unwrap(),
    );
    assert!(output < 1e-6, "output differs by {output}");
    assert!(input < 1e-5, "input gradient differs by {input}");
    assert!(weight < 1e-5, "weight gradient differs by {weight}");
}
