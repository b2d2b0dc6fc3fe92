//! The convolution of `FineFaceBackend` against Burn's own: same output, same gradients.
//!
//! On Flex it is our im2col kernel (forward, input gradient, weight gradient), so the cases
//! cover what its index arithmetic must get right: 1x1 with and without an im2col buffer,
//! padding wider than the kernel reaches, strides on odd sizes, the 7x7 stem, non-square
//! kernels, dilation, a bias, and its three ways of running: small maps (under 128 output
//! positions) as one product per thread over its share of the batch (uneven shares, and
//! shares of one image, included; the whole batch with one thread), larger ones as one
//! product per image with images in parallel (an uneven share of the batch per thread
//! included, with the forward a block of output rows at a time where an image's im2col matrix
//! is large), and a single image whose product is split over the pool. The weight gradient
//! runs as its transpose where the im2col matrix has many rows and the map is large (3x3 and
//! 1x1 reductions; more than 16 output channels included). Stride-1 3x3 convolutions with 128
//! channels or more on maps of 14x14 or more run their forward and input gradient as Winograd
//! F(2x2, 3x3): a map of whole tiles, odd sizes (a last tile half outside the map) with the
//! images grouped into one product per group, and a bias in evaluation. BatchNorm's fused op is checked
//! against Burn's layer in `defaults.rs` (and, as the model's layer, in fineface-model's
//! `tests/modules.rs`).

#![cfg(feature = "flex")]
#![allow(clippy::unwrap_used)] // Tests panic on failure by design.

mod common;

use burn::backend::{Autodiff, Flex};
use burn::nn::PaddingConfig2d;
use burn::nn::conv::Conv2dConfig;
use burn::nn::pool::MaxPool2dConfig;
use burn::tensor::{Distribution, Tensor};
use fineface_kernels::{
    BatchNormActivation, SgdOptions, add_relu, batch_norm_inference, conv2d, max_pool2d,
    prelu_channels, sgd_step,
};
use rstest::rstest;

type A = Autodiff<Flex>;

/// Runs `f` on a pool of two threads, the count the cases are sized for (images in parallel
/// from a batch of two, shares of the batch, the forward in blocks), whatever the machine's.
fn on_two_threads(f: impl FnOnce() + Send) {
    rayon::ThreadPoolBuilder::new()
        .num_threads(2)
        .build()
        .unwrap()
        .install(f);
}

/// A convolution to compare: `[batch, channels_in, channels_out]`, input `[h, w]`, kernel
/// `[k_h, k_w]`, stride, padding `[p_h, p_w]` and dilation (the same on both axes).
struct Case {
    channels: [usize; 3],
    size: [usize; 2],
    kernel: [usize; 2],
    stride: usize,
    padding: [usize; 2],
    dilation: usize,
}

impl Case {
    fn config(&self) -> Conv2dConfig {
        let [_, channels_in, channels_out] = self.channels;
        let [p_h, p_w] = self.padding;
        Conv2dConfig::new([channels_in, channels_out], self.kernel)
            .with_stride([self.stride; 2])
            .with_dilation([self.dilation; 2])
            .with_padding(PaddingConfig2d::Explicit(p_h, p_w, p_h, p_w))
    }

    fn input_dims(&self) -> [usize; 4] {
        let [batch, channels_in, _] = self.channels;
        [batch, channels_in, self.size[0], self.size[1]]
    }
}

/// Our convolution beside Burn's `Conv2d::forward` with the same weight, under the loss
/// `sum(y * r)` for a random `r` (so the output gradient is not uniform).
#[rstest]
#[case::pointwise(Case { channels: [2, 6, 5], size: [8, 9], kernel: [1, 1], stride: 1, padding: [0, 0], dilation: 1 })]
#[case::pointwise_strided_odd(Case { channels: [2, 6, 5], size: [9, 9], kernel: [1, 1], stride: 2, padding: [0, 0], dilation: 1 })]
#[case::pointwise_padded(Case { channels: [2, 3, 4], size: [5, 6], kernel: [1, 1], stride: 1, padding: [1, 2], dilation: 1 })]
#[case::three_by_three(Case { channels: [2, 4, 8], size: [10, 10], kernel: [3, 3], stride: 1, padding: [1, 1], dilation: 1 })]
#[case::three_by_three_strided_odd(Case { channels: [2, 4, 8], size: [11, 9], kernel: [3, 3], stride: 2, padding: [1, 1], dilation: 1 })]
#[case::padding_beyond_the_kernel(Case { channels: [2, 3, 4], size: [4, 5], kernel: [3, 3], stride: 1, padding: [3, 2], dilation: 1 })]
#[case::stem(Case { channels: [2, 3, 8], size: [20, 20], kernel: [7, 7], stride: 2, padding: [3, 3], dilation: 1 })]
#[case::non_square(Case { channels: [2, 3, 5], size: [7, 8], kernel: [3, 1], stride: 1, padding: [1, 0], dilation: 1 })]
#[case::dilated(Case { channels: [2, 3, 5], size: [9, 9], kernel: [3, 3], stride: 1, padding: [2, 2], dilation: 2 })]
#[case::per_image_pointwise(Case { channels: [2, 6, 5], size: [12, 12], kernel: [1, 1], stride: 1, padding: [0, 0], dilation: 1 })]
#[case::per_image_three_by_three(Case { channels: [2, 4, 8], size: [16, 17], kernel: [3, 3], stride: 1, padding: [1, 1], dilation: 1 })]
#[case::large_map_three_by_three(Case { channels: [3, 4, 8], size: [24, 24], kernel: [3, 3], stride: 1, padding: [1, 1], dilation: 1 })]
#[case::per_image_strided_uneven_batch(Case { channels: [5, 3, 4], size: [33, 32], kernel: [3, 3], stride: 2, padding: [1, 1], dilation: 1 })]
#[case::single_image(Case { channels: [1, 4, 8], size: [10, 10], kernel: [3, 3], stride: 1, padding: [1, 1], dilation: 1 })]
#[case::uneven_batch(Case { channels: [5, 4, 8], size: [6, 7], kernel: [3, 3], stride: 1, padding: [1, 1], dilation: 1 })]
#[case::folded_pointwise_shares(Case { channels: [4, 6, 5], size: [7, 6], kernel: [1, 1], stride: 1, padding: [0, 0], dilation: 1 })]
#[case::pointwise_reduction(Case { channels: [2, 12, 5], size: [23, 24], kernel: [1, 1], stride: 1, padding: [0, 0], dilation: 1 })]
#[case::three_by_three_many_outputs(Case { channels: [2, 5, 20], size: [24, 23], kernel: [3, 3], stride: 1, padding: [1, 1], dilation: 1 })]
#[case::forward_in_blocks(Case { channels: [2, 8, 6], size: [167, 100], kernel: [3, 3], stride: 1, padding: [1, 1], dilation: 1 })]
#[case::forward_in_blocks_strided(Case { channels: [2, 8, 6], size: [333, 201], kernel: [3, 3], stride: 2, padding: [1, 1], dilation: 1 })]
#[case::folded_strided_shares(Case { channels: [4, 3, 4], size: [9, 9], kernel: [3, 3], stride: 2, padding: [1, 1], dilation: 1 })]
#[case::winograd(Case { channels: [2, 128, 128], size: [14, 14], kernel: [3, 3], stride: 1, padding: [1, 1], dilation: 1 })]
#[case::winograd_odd_sizes_grouped(Case { channels: [5, 128, 130], size: [15, 17], kernel: [3, 3], stride: 1, padding: [1, 1], dilation: 1 })]
fn convolution_and_gradients_match_burns(#[case] case: Case) {
    on_two_threads(|| {
        let device = Default::default();
        let conv = case.config().with_bias(false).init::<A>(&device);
        let x = Tensor::<A, 4>::random(case.input_dims(), Distribution::Normal(0.0, 1.0), &device)
            .require_grad();

        let y_ours = conv2d(&conv, x.clone());
        let y_burn = conv.forward(x.clone());
        assert_eq!(y_ours.dims(), y_burn.dims());
        let r = Tensor::<A, 4>::random(y_burn.dims(), Distribution::Normal(0.0, 1.0), &device);
        let grads_ours = (y_ours.clone() * r.clone()).sum().backward();
        let grads_burn = (y_burn.clone() * r).sum().backward();

        let output = common::relative_diff(y_ours.inner(), y_burn.inner());
        let input =
            common::relative_diff(x.grad(&grads_ours).unwrap(), x.grad(&grads_burn).unwrap());
        let weight = common::relative_diff(
            conv.weight.grad(&grads_ours).unwrap(),
            conv.weight.grad(&grads_burn).unwrap(),
        );
        assert!(output < 1e-6, "output differs by {output}");
        assert!(input < 1e-5, "input gradient differs by {input}");
        // Each weight gradient sums batch x height x width products (33,400 for
        // `forward_in_blocks`) in another order than Burn's: f32 rounding grows as about
        // sqrt(n) x 2^-24, 1.1e-5 there, and a fixed 1e-5 failed one random input in CI.
        let [batch, _, height, width] = case.input_dims();
        let terms = (batch * height * width) as f32;
        let tolerance = (4.0 * terms.sqrt() * f32::EPSILON).max(1e-5);
        assert!(
            weight < tolerance,
            "weight gradient differs by {weight} (tolerance {tolerance})"
        );
    });
}

/// Without autodiff (evaluation), a convolution with a bias runs our kernel too (on two threads,
/// so that a batch of four runs its images in parallel as Winograd needs).
#[rstest]
#[case::pointwise(Case { channels: [3, 6, 5], size: [7, 7], kernel: [1, 1], stride: 1, padding: [0, 0], dilation: 1 })]
#[case::three_by_three(Case { channels: [1, 4, 8], size: [9, 8], kernel: [3, 3], stride: 2, padding: [1, 1], dilation: 1 })]
#[case::winograd(Case { channels: [4, 128, 136], size: [14, 15], kernel: [3, 3], stride: 1, padding: [1, 1], dilation: 1 })]
fn evaluation_with_bias_matches_burns(#[case] case: Case) {
    on_two_threads(|| {
        let device = Default::default();
        let conv = case.config().with_bias(true).init::<Flex>(&device);
        let bias = conv.bias.as_ref().unwrap().val();
        assert!(
            common::max_abs(bias) > 0.0,
            "the bias is initialised non-zero"
        );
        let x =
            Tensor::<Flex, 4>::random(case.input_dims(), Distribution::Normal(0.0, 1.0), &device);

        let diff = common::relative_diff(conv2d(&conv, x.clone()), conv.forward(x));
        assert!(diff < 1e-6, "output differs by {diff}");
    });
}

/// A depthwise convolution (groups = channels, one output per channel: MobileNetV2's 3x3
/// layers), which Flex runs plane by plane (`flex/depthwise.rs`): `[batch, channels]`, input
/// `[h, w]`, kernel, stride, padding `[p_h, p_w]`, dilation.
struct Depthwise {
    planes: [usize; 2],
    size: [usize; 2],
    kernel: [usize; 2],
    stride: [usize; 2],
    padding: [usize; 2],
    dilation: usize,
}

impl Depthwise {
    fn config(&self) -> Conv2dConfig {
        let channels = self.planes[1];
        let [p_h, p_w] = self.padding;
        Conv2dConfig::new([channels, channels], self.kernel)
            .with_groups(channels)
            .with_stride(self.stride)
            .with_dilation([self.dilation; 2])
            .with_padding(PaddingConfig2d::Explicit(p_h, p_w, p_h, p_w))
    }

    fn input_dims(&self) -> [usize; 4] {
        [self.planes[0], self.planes[1], self.size[0], self.size[1]]
    }
}

/// Our depthwise convolution beside Burn's grouped `Conv2d::forward` under `sum(y * r)`:
/// MobileNetV2's 3x3 of stride 1 and 2 (padding 1) on even and odd maps, maps of one pixel,
/// one row and one column at stride 2, taps that read only padding, padding beyond the
/// kernel, non-square kernels and strides, dilation,
/// a single image and more images than threads.
#[rstest]
#[case::mobilenet_stride_1(Depthwise { planes: [2, 6], size: [10, 10], kernel: [3, 3], stride: [1, 1], padding: [1, 1], dilation: 1 })]
#[case::mobilenet_stride_2_even(Depthwise { planes: [2, 6], size: [12, 12], kernel: [3, 3], stride: [2, 2], padding: [1, 1], dilation: 1 })]
#[case::mobilenet_stride_2_odd(Depthwise { planes: [3, 5], size: [11, 9], kernel: [3, 3], stride: [2, 2], padding: [1, 1], dilation: 1 })]
#[case::one_by_one_map(Depthwise { planes: [2, 4], size: [1, 1], kernel: [3, 3], stride: [1, 1], padding: [1, 1], dilation: 1 })]
#[case::two_by_two_strided(Depthwise { planes: [2, 4], size: [2, 2], kernel: [3, 3], stride: [2, 2], padding: [1, 1], dilation: 1 })]
#[case::one_by_one_strided(Depthwise { planes: [2, 4], size: [1, 1], kernel: [3, 3], stride: [2, 2], padding: [1, 1], dilation: 1 })]
#[case::one_column_strided(Depthwise { planes: [2, 3], size: [3, 1], kernel: [3, 3], stride: [2, 2], padding: [1, 1], dilation: 1 })]
#[case::one_row_strided(Depthwise { planes: [2, 3], size: [1, 3], kernel: [3, 3], stride: [2, 2], padding: [1, 1], dilation: 1 })]
#[case::three_by_three_strided(Depthwise { planes: [2, 3], size: [3, 3], kernel: [3, 3], stride: [2, 2], padding: [1, 1], dilation: 1 })]
#[case::taps_reading_only_padding(Depthwise { planes: [2, 3], size: [1, 1], kernel: [5, 5], stride: [1, 1], padding: [2, 2], dilation: 1 })]
#[case::dilated_taps_reading_only_padding(Depthwise { planes: [2, 3], size: [1, 2], kernel: [3, 3], stride: [1, 1], padding: [2, 2], dilation: 2 })]
#[case::padding_beyond_the_kernel(Depthwise { planes: [2, 3], size: [4, 5], kernel: [3, 3], stride: [1, 1], padding: [3, 2], dilation: 1 })]
#[case::no_padding(Depthwise { planes: [2, 3], size: [7, 6], kernel: [3, 3], stride: [1, 1], padding: [0, 0], dilation: 1 })]
#[case::non_square(Depthwise { planes: [2, 3], size: [8, 7], kernel: [5, 1], stride: [2, 1], padding: [2, 0], dilation: 1 })]
#[case::dilated(Depthwise { planes: [2, 3], size: [9, 10], kernel: [3, 3], stride: [1, 1], padding: [2, 2], dilation: 2 })]
#[case::single_image(Depthwise { planes: [1, 8], size: [14, 14], kernel: [3, 3], stride: [1, 1], padding: [1, 1], dilation: 1 })]
#[case::many_images(Depthwise { planes: [5, 7], size: [16, 15], kernel: [3, 3], stride: [2, 2], padding: [1, 1], dilation: 1 })]
fn depthwise_convolution_and_gradients_match_burns(#[case] case: Depthwise) {
    on_two_threads(|| {
        let device = Default::default();
        let conv = case.config().with_bias(false).init::<A>(&device);
        let x = Tensor::<A, 4>::random(case.input_dims(), Distribution::Normal(0.0, 1.0), &device)
            .require_grad();

        let y_ours = conv2d(&conv, x.clone());
        let y_burn = conv.forward(x.clone());
        assert_eq!(y_ours.dims(), y_burn.dims());
        let r = Tensor::<A, 4>::random(y_burn.dims(), Distribution::Normal(0.0, 1.0), &device);
        let grads_ours = (y_ours.clone() * r.clone()).sum().backward();
        let grads_burn = (y_burn.clone() * r).sum().backward();

        let output = common::relative_diff(y_ours.inner(), y_burn.inner());
        let input =
            common::relative_diff(x.grad(&grads_ours).unwrap(), x.grad(&grads_burn).unwrap());
        let weight = common::relative_diff(
            conv.weight.grad(&grads_ours).unwrap(),
            conv.weight.grad(&grads_burn).unwrap(),
        );
        assert!(output < 1e-6, "output differs by {output}");
        assert!(input < 1e-5, "input gradient differs by {input}");
        assert!(weight < 1e-5, "weight gradient differs by {weight}");
    });
}

/// In evaluation a depthwise convolution with a bias runs our kernel too.
#[test]
fn depthwise_evaluation_with_bias_matches_burns() {
    let case = Depthwise {
        planes: [3, 5],
        size: [9, 8],
        kernel: [3, 3],
        stride: [2, 2],
        padding: [1, 1],
        dilation: 1,
    };
    let device = Default::default();
    let conv = case.config().with_bias(true).init::<Flex>(&device);
    let x = Tensor::<Flex, 4>::random(case.input_dims(), Distribution::Normal(0.0, 1.0), &device);
    let diff = common::relative_diff(conv2d(&conv, x.clone()), conv.forward(x));
    assert!(diff < 1e-6, "output differs by {diff}");
}

/// `add_relu` (the end of a residual block) against Burn's `relu(lhs + rhs)`: output and both
/// input gradients under a non-uniform upstream gradient, at sizes below, at and beyond one
/// parallel piece of the Flex kernel (32 Ki values, the last piece shorter), with a quarter
/// of the sums exactly zero (where the ReLU's gradient is zero). `owned`: `lhs` is an
/// intermediate result nothing else holds, which the Flex kernel overwrites in place (a
/// leaf tensor the test keeps is shared, so the kernel writes a new buffer).
#[rstest]
fn add_relu_and_its_gradients_match_burns(
    #[values([2, 3, 5, 7], [1, 2, 128, 128], [2, 3, 150, 151])] dims: [usize; 4],
    #[values(false, true)] owned: bool,
) {
    let device = Default::default();
    let lhs = Tensor::<A, 4>::random(dims, Distribution::Normal(0.0, 1.0), &device);
    // rhs = -lhs on every fourth value, so that those sums are exactly zero.
    let mask = Tensor::<A, 1>::from_data(
        burn::tensor::TensorData::new(
            (0..dims.iter().product::<usize>())
                .map(|i| if i % 4 == 0 { 1.0f32 } else { 0.0 })
                .collect(),
            [dims.iter().product::<usize>()],
        ),
        &device,
    )
    .reshape(dims);
    let noise = Tensor::<A, 4>::random(dims, Distribution::Normal(0.0, 1.0), &device);
    let rhs = mask.clone().neg() * lhs.clone() + (mask.neg() + 1.0) * noise;
    let (lhs, rhs) = (lhs.require_grad(), rhs.detach().require_grad());
    let r = Tensor::<A, 4>::random(dims, Distribution::Normal(0.0, 1.0), &device);

    let lhs_in = if owned {
        lhs.clone().mul_scalar(1.0)
    } else {
        lhs.clone()
    };
    let ours = add_relu(lhs_in, rhs.clone());
    let burns = burn::tensor::activation::relu(lhs.clone() + rhs.clone());
    let grads_ours = (ours.clone() * r.clone()).sum().backward();
    let grads_burn = (burns.clone() * r).sum().backward();

    let zeros = ours
        .clone()
        .inner()
        .equal_elem(0.0)
        .int()
        .sum()
        .into_scalar();
    assert!(
        zeros as usize >= dims.iter().product::<usize>() / 4,
        "zeros: {zeros}"
    );
    assert_eq!(ours.inner().into_data(), burns.inner().into_data());
    for (name, x) in [("lhs", &lhs), ("rhs", &rhs)] {
        assert_eq!(
            x.grad(&grads_ours).unwrap().into_data(),
            x.grad(&grads_burn).unwrap().into_data(),
            "{name} gradient"
        );
    }
}

/// The evaluation-mode BatchNorm on Flex (one parallel sweep of whole rows, in place where
/// the rows are not shared) equals the default (Burn's tensor ops, run here through
/// `Autodiff<Flex>`, which keeps the default) to the bit, for every activation: rows of one
/// value (1x1 maps), short rows many to a parallel piece, and rows longer than a piece (200x200,
/// one row a piece, the last piece shorter). `owned`: the rows are an intermediate result
/// nothing else holds, which the kernel overwrites; otherwise the test keeps them, and they
/// must come out untouched.
#[rstest]
fn batch_norm_inference_matches_the_default_to_the_bit(
    #[values([2, 3, 1, 1], [3, 5, 4, 4], [32, 24, 7, 7], [1, 2, 200, 200])] dims: [usize; 4],
    #[values(false, true)] owned: bool,
) {
    let device = Default::default();
    let [batch, channels, height, width] = dims;
    let x = Tensor::<Flex, 2>::random(
        [batch * channels, height * width],
        Distribution::Normal(0.0, 4.0),
        &device,
    );
    let scale = Tensor::<Flex, 1>::random([channels], Distribution::Normal(1.0, 1.0), &device);
    let shift = Tensor::<Flex, 1>::random([channels], Distribution::Normal(0.0, 2.0), &device);
    for activation in [
        BatchNormActivation::Identity,
        BatchNormActivation::Relu,
        BatchNormActivation::Relu6,
    ] {
        let default = batch_norm_inference(
            Tensor::<A, 2>::from_inner(x.clone()),
            Tensor::from_inner(scale.clone()),
            Tensor::from_inner(shift.clone()),
            activation,
        )
        .inner();
        let input = if owned {
            x.clone().mul_scalar(1.0)
        } else {
            x.clone()
        };
        let before = x.clone().into_data();
        let ours = batch_norm_inference(input, scale.clone(), shift.clone(), activation);
        assert_eq!(ours.into_data(), default.into_data(), "{activation:?}");
        assert_eq!(
            x.clone().into_data(),
            before,
            "{activation:?}: input changed"
        );
    }
}

/// PReLU with a slope per channel on Flex (one parallel sweep of rows, in place where the
/// rows are not shared) equals the default (Burn's `prelu` with the slopes as a column, run
/// through `Autodiff<Flex>`) to the bit, on maps of one value, small maps many to a piece,
/// and rows longer than a piece, with exact zeros; a kept input comes out untouched.
#[rstest]
fn prelu_channels_matches_the_default_to_the_bit(
    #[values([2, 3, 1, 1], [5, 28, 11, 11], [1, 2, 200, 200])] dims: [usize; 4],
    #[values(false, true)] owned: bool,
) {
    let device = Default::default();
    let x = Tensor::<Flex, 4>::random(dims, Distribution::Normal(0.0, 1.0), &device).mask_fill(
        Tensor::<Flex, 4>::random(dims, Distribution::Uniform(0.0, 1.0), &device).lower_elem(0.1),
        0.0,
    );
    let alpha = Tensor::<Flex, 1>::random([dims[1]], Distribution::Normal(0.0, 1.0), &device);
    let default = prelu_channels(
        Tensor::<A, 4>::from_inner(x.clone()),
        Tensor::from_inner(alpha.clone()),
    )
    .inner();
    let before = x.clone().into_data();
    let input = if owned {
        x.clone().mul_scalar(1.0)
    } else {
        x.clone()
    };
    let ours = prelu_channels(input, alpha);
    assert_eq!(ours.into_data(), default.into_data());
    assert_eq!(x.into_data(), before, "input changed");
}

/// Max pooling on Flex (one sweep over the planes, no indices) equals Burn's `max_pool2d`
/// (run through `Autodiff<Flex>`, which keeps the default) to the bit: MTCNN's 2x2 and 3x3
/// windows of stride 2 in ceil mode on odd and even sizes (a last window hanging over the
/// edge, and the rule that drops a window starting beyond it), padding, stride 1, a map
/// smaller than the window in ceil mode, many small planes to a parallel piece, and a NaN.
#[rstest]
#[case([2, 3, 29, 43], [2, 2], [2, 2], [0, 0], true)]
#[case([2, 3, 22, 22], [3, 3], [2, 2], [0, 0], true)]
#[case([5, 28, 11, 11], [3, 3], [2, 2], [0, 0], true)]
#[case([1, 2, 9, 9], [2, 2], [2, 2], [0, 0], true)]
#[case([1, 4, 13, 10], [3, 3], [2, 2], [1, 1], false)]
#[case([1, 4, 13, 10], [3, 3], [2, 2], [1, 1], true)]
#[case([2, 2, 7, 8], [3, 2], [1, 1], [0, 0], false)]
#[case([1, 3, 2, 2], [3, 3], [2, 2], [0, 0], true)]
#[case([64, 32, 4, 4], [2, 2], [2, 2], [0, 0], true)]
fn max_pool2d_matches_burns(
    #[case] dims: [usize; 4],
    #[case] kernel_size: [usize; 2],
    #[case] stride: [usize; 2],
    #[case] padding: [usize; 2],
    #[case] ceil_mode: bool,
) {
    let device = Default::default();
    let x = Tensor::<Flex, 4>::random(dims, Distribution::Normal(0.0, 1.0), &device);
    let pool = MaxPool2dConfig::new(kernel_size)
        .with_strides(stride)
        .with_padding(PaddingConfig2d::Explicit(
            padding[0], padding[1], padding[0], padding[1],
        ))
        .with_ceil_mode(ceil_mode)
        .init();
    let burns = pool.forward(Tensor::<A, 4>::from_inner(x.clone())).inner();
    let ours = max_pool2d(&pool, x.clone());
    assert_eq!(ours.into_data(), burns.into_data());
    // A NaN reaches the windows over it.
    let nan = x.slice_assign(
        [0..1, 0..1, 0..1, 0..1],
        Tensor::full([1, 1, 1, 1], f32::NAN, &device),
    );
    let nans = max_pool2d(&pool, nan).is_nan().int().sum().into_scalar();
    assert!(nans >= 1, "a NaN input vanished");
}

/// The SGD update on Flex (one parallel sweep, in place where its buffers are not shared)
/// equals the default implementation (Burn's tensor ops in the order of Burn's `Sgd`, run
/// here through `Autodiff<Flex>`, which keeps the default) to the bit: at a parameter's first
/// step (no momentum buffer) and later, over more than one parallel piece. `shared`: the test
/// keeps clones of the parameter and the momentum buffer, which must come out untouched.
#[rstest]
fn sgd_step_matches_the_default_to_the_bit(
    #[values(false, true)] first: bool,
    #[values(false, true)] shared: bool,
) {
    let device = Default::default();
    let dims = [3, 50, 400];
    let random = || Tensor::<Flex, 3>::random(dims, Distribution::Normal(0.0, 1.0), &device);
    let (param, grad, velocity) = (random(), random(), (!first).then(random));
    let options = SgdOptions {
        lr: 0.013,
        momentum: 0.9,
        dampening: 0.1,
        weight_decay: 5e-4,
    };
    let lift = |t: &Tensor<Flex, 3>| Tensor::<A, 3>::from_inner(t.clone());
    let [param_default, velocity_default] = sgd_step(
        lift(&param),
        lift(&grad),
        velocity.as_ref().map(lift),
        options,
    );

    let (param_before, velocity_before) = (
        param.clone().into_data(),
        velocity.as_ref().map(|v| v.clone().into_data()),
    );
    let (param_in, velocity_in) = if shared {
        (param.clone(), velocity.clone())
    } else {
        // Fresh buffers nothing else holds, which the kernel overwrites in place.
        (
            param.clone().mul_scalar(1.0),
            velocity.clone().map(|v| v.mul_scalar(1.0)),
        )
    };
    let [param_ours, velocity_ours] = sgd_step(param_in, grad, velocity_in, options);

    assert_eq!(param_ours.into_data(), param_default.inner().into_data());
    assert_eq!(
        velocity_ours.into_data(),
        velocity_default.inner().into_data()
    );
    assert_eq!(param.into_data(), param_before, "a kept parameter changed");
    assert_eq!(
        velocity.map(|v| v.into_data()),
        velocity_before,
        "a kept momentum buffer changed"
    );
}
