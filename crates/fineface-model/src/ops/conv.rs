//! Convolution through [`FineFaceBackend`], and the weight gradient as matrix products.

use burn::nn::PaddingConfig2d;
use burn::nn::conv::Conv2d;
use burn::tensor::TensorMetadata;
use burn::tensor::backend::Backend;
use burn::tensor::ops::{ConvOptions, FloatTensor};
use burn::tensor::{Slice, Tensor, TensorPrimitive};

use super::FineFaceBackend;

/// `conv.forward(input)` through [`FineFaceBackend::conv2d_tracked`], so that an autodiff
/// backend computes the weight gradient with the inner backend's
/// [`FineFaceBackend::conv2d_weight_gradient`]. Padding other than symmetric explicit or
/// valid goes through Burn's `Conv2d::forward` unchanged.
///
/// # Shapes
/// - `input`: `[batch, channels_in, height, width]`
/// - output: `[batch, channels_out, height_out, width_out]`
pub fn conv2d<B: FineFaceBackend>(conv: &Conv2d<B>, input: Tensor<B, 4>) -> Tensor<B, 4> {
    let padding = match conv.padding {
        PaddingConfig2d::Valid => [0, 0],
        PaddingConfig2d::Explicit(top, left, bottom, right) if top == bottom && left == right => {
            [top, left]
        }
        _ => return conv.forward(input),
    };
    let options = ConvOptions::new(conv.stride, padding, conv.dilation, conv.groups);
    let output = B::conv2d_tracked(
        input.into_primitive().tensor(),
        conv.weight.val().into_primitive().tensor(),
        conv.bias
            .as_ref()
            .map(|b| b.val().into_primitive().tensor()),
        options,
    );
    Tensor::from_primitive(TensorPrimitive::Float(output))
}

/// Below this many output positions per image a 1x1 convolution's weight gradient is one
/// matrix product over the whole batch, above it one per image (measured with `kernel_probe`:
/// at 7x7 the per-image products are too small to run at speed, at 56x56 the transposing copy
/// the single product needs costs more than it saves).
const PER_IMAGE_MIN_POSITIONS: usize = 128;

/// Kernels larger than 1x1 take one product per kernel position only with at least this many
/// output channels and output positions; below either, Burn's weight gradient wins (the
/// copies of the shifted input then dominate). `kernel_probe` with Flex's rayon GEMM: 512 ->
/// 1024 head at 28x28 0.78 s against Burn's 1.04 s; 256 channels at 14x14 0.048 against 0.034
/// and 512 at 7x7 0.050 against 0.025.
const PER_POSITION_MIN_CHANNELS_OUT: usize = 256;
const PER_POSITION_MIN_POSITIONS: usize = 256;

/// The weight gradient of a 2-d convolution as matrix products: for every kernel position
/// `(i, j)`, `grad_w[:, :, i, j] = sum over batch and output positions of
/// output_grad x shifted(x)^T`. Grouped or dilated convolutions, and small kernels where this
/// loses, go to Burn's `conv2d_weight_backward`.
///
/// # Shapes
/// - `x`: `[batch, channels_in, height, width]`
/// - `weight`: `[channels_out, channels_in, kernel_h, kernel_w]`
/// - `output_grad`: `[batch, channels_out, height_out, width_out]`
/// - output: same as `weight`
pub fn conv2d_weight_gradient_gemm<B: Backend>(
    x: FloatTensor<B>,
    weight: FloatTensor<B>,
    output_grad: FloatTensor<B>,
    options: ConvOptions<2>,
) -> FloatTensor<B> {
    let x = Tensor::<B, 4>::from_primitive(TensorPrimitive::Float(x));
    let grad = Tensor::<B, 4>::from_primitive(TensorPrimitive::Float(output_grad));
    let [channels_out, channels_in, kernel_h, kernel_w] = weight.shape().dims();
    let [batch, _, height_out, width_out] = grad.dims();
    let positions = height_out * width_out;
    let pointwise = kernel_h == 1 && kernel_w == 1 && options.padding == [0, 0];
    let supported = options.groups == 1
        && options.dilation == [1, 1]
        && (pointwise
            || (channels_out >= PER_POSITION_MIN_CHANNELS_OUT
                && positions >= PER_POSITION_MIN_POSITIONS));
    if !supported {
        return B::conv2d_weight_backward(
            x.into_primitive().tensor(),
            weight,
            grad.into_primitive().tensor(),
            options,
        );
    }

    let [pad_h, pad_w] = options.padding;
    let [stride_h, stride_w] = options.stride;
    let x = if pad_h > 0 || pad_w > 0 {
        x.pad((pad_w, pad_w, pad_h, pad_h), 0.0) // [b, c_in, h + 2p, w + 2p]
    } else {
        x
    };
    // The input seen by kernel position (i, j): rows i, i + stride, ... (height_out of them).
    let shifted = |i: usize, j: usize| {
        let rows = Slice::new(
            i as isize,
            Some((i + stride_h * (height_out - 1) + 1) as isize),
            stride_h as isize,
        );
        let cols = Slice::new(
            j as isize,
            Some((j + stride_w * (width_out - 1) + 1) as isize),
            stride_w as isize,
        );
        x.clone().slice([Slice::full(), Slice::full(), rows, cols]) // [b, c_in, h_out, w_out]
    };

    let gradient = if pointwise && positions >= PER_IMAGE_MIN_POSITIONS {
        // One product per image on the tensors as they lie: [b, c_out, l] x [b, l, c_in].
        let grad = grad.reshape([batch, channels_out, positions]);
        let x = shifted(0, 0).reshape([batch, channels_in, positions]);
        grad.matmul(x.swap_dims(1, 2))
            .sum_dim(0)
            .reshape([channels_out, channels_in, 1, 1])
    } else {
        // One product over the whole batch per kernel position: [c_out, b * l] x [b * l, c_in].
        let grad = grad
            .swap_dims(0, 1)
            .reshape([channels_out, batch * positions]);
        let per_position = (0..kernel_h)
            .flat_map(|i| (0..kernel_w).map(move |j| (i, j)))
            .map(|(i, j)| {
                let x = shifted(i, j)
                    .swap_dims(0, 1)
                    .reshape([channels_in, batch * positions]);
                grad.clone()
                    .matmul(x.transpose())
                    .reshape([channels_out, channels_in, 1])
            })
            .collect();
        Tensor::cat(per_position, 2).reshape([channels_out, channels_in, kernel_h, kernel_w])
    };
    gradient.into_primitive().tensor()
}
