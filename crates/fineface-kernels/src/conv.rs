//! The convolution's input gradient built from Burn's stride-1 ops, for the strided
//! convolutions Burn 0.21's CubeCL backends get wrong (the default of
//! [`FineFaceBackend::conv2d_input_gradient`](crate::FineFaceBackend::conv2d_input_gradient)).

use burn::tensor::backend::Backend;
use burn::tensor::ops::ConvOptions;
use burn::tensor::{Tensor, TensorPrimitive};

/// Whether a convolution's kernel spans fewer pixels than its stride along some axis
/// (`dilation * (kernel - 1) + 1 < stride`), so that some input pixels are never read: a 1x1
/// convolution of stride 2, as in ResNet's downsample branch.
pub(crate) fn skips_pixels(weight: [usize; 4], options: &ConvOptions<2>) -> bool {
    (0..2).any(|i| options.dilation[i] * (weight[2 + i] - 1) + 1 < options.stride[i])
}

/// The input gradient of a strided convolution as a stride-1 one: zeros between the output
/// gradient's pixels (the transposed convolution's "zero insertion"), Burn's stride-1
/// `conv2d_x_backward` over the input rows and columns the convolution reads, and zeros for
/// those it never reads.
///
/// Burn 0.21's CubeCL backends (wgpu, CUDA) compute the input gradient wrongly when the
/// kernel spans fewer pixels than the stride ([`skips_pixels`]): for a 1x1 convolution of
/// stride 2 every value is off (measured on wgpu against Flex and NdArray, and against a
/// direct loop in `tests/defaults.rs`); stride-1 convolutions are right. This path uses
/// only those. `None` where the padding leaves no input pixel read (Burn's own op then).
///
/// # Shapes
/// - `x`: `[batch, channels_in, height, width]` (only its shape is read)
/// - `weight`: `[channels_out, channels_in / groups, kernel_h, kernel_w]`
/// - `output_grad`: `[batch, channels_out, height_out, width_out]`
/// - output: `[batch, channels_in, height, width]`
pub(crate) fn input_gradient_by_zero_insertion<B: Backend>(
    x: &Tensor<B, 4>,
    weight: Tensor<B, 4>,
    output_grad: Tensor<B, 4>,
    options: &ConvOptions<2>,
) -> Option<Tensor<B, 4>> {
    let [batch, channels_in, height, width] = x.dims();
    let [_, _, height_out, width_out] = output_grad.dims();
    let [_, _, kernel_h, kernel_w] = weight.dims();
    let [stride_h, stride_w] = options.stride;
    let device = output_grad.device();
    // The input extent a stride-1 convolution needs to give the zero-inserted gradient.
    let read = |out: usize, stride: usize, kernel: usize, axis: usize| -> Option<usize> {
        let extent = (out - 1) * stride + 1 + options.dilation[axis] * (kernel - 1);
        extent
            .checked_sub(2 * options.padding[axis])
            .filter(|n| *n > 0)
    };
    let read_h = read(height_out, stride_h, kernel_h, 0)?;
    let read_w = read(width_out, stride_w, kernel_w, 1)?;
    if read_h > height || read_w > width {
        return None;
    }
    // [batch, channels_out, (height_out - 1) * stride_h + 1, (width_out - 1) * stride_w + 1]
    let spread = insert_zeros(output_grad, options.stride);
    let stride_1 = ConvOptions::new([1, 1], options.padding, options.dilation, options.groups);
    let read_x = x
        .clone()
        .slice([0..batch, 0..channels_in, 0..read_h, 0..read_w]);
    // [batch, channels_in, read_h, read_w]
    let grad = Tensor::<B, 4>::from_primitive(TensorPrimitive::Float(B::conv2d_x_backward(
        read_x.into_primitive().tensor(),
        weight.into_primitive().tensor(),
        spread.into_primitive().tensor(),
        stride_1,
    )));
    // Rows and columns past the last one read get no gradient.
    let mut grad = grad;
    if read_w < width {
        let zeros = Tensor::zeros([batch, channels_in, read_h, width - read_w], &device);
        grad = Tensor::cat(vec![grad, zeros], 3);
    }
    if read_h < height {
        let zeros = Tensor::zeros([batch, channels_in, height - read_h, width], &device);
        grad = Tensor::cat(vec![grad, zeros], 2);
    }
    Some(grad)
}

/// `output_grad` with `stride - 1` zeros between its pixels along each axis (the transposed
/// convolution's zero insertion).
///
/// # Shapes
/// - `output_grad`: `[batch, channels_out, height_out, width_out]`
/// - output: `[batch, channels_out, (height_out - 1) * stride_h + 1,
///   (width_out - 1) * stride_w + 1]`
fn insert_zeros<B: Backend>(output_grad: Tensor<B, 4>, stride: [usize; 2]) -> Tensor<B, 4> {
    let [batch, channels_out, height_out, width_out] = output_grad.dims();
    let [stride_h, stride_w] = stride;
    let device = output_grad.device();
    let mut spread = output_grad.reshape([batch, channels_out, height_out, 1, width_out, 1]);
    if stride_h > 1 {
        let zeros = Tensor::zeros(
            [batch, channels_out, height_out, stride_h - 1, width_out, 1],
            &device,
        );
        spread = Tensor::cat(vec![spread, zeros], 3);
    }
    if stride_w > 1 {
        let zeros = Tensor::zeros(
            [
                batch,
                channels_out,
                height_out,
                stride_h,
                width_out,
                stride_w - 1,
            ],
            &device,
        );
        spread = Tensor::cat(vec![spread, zeros], 5);
    }
    spread
        .reshape([
            batch,
            channels_out,
            height_out * stride_h,
            width_out * stride_w,
        ])
        .slice([
            0..batch,
            0..channels_out,
            0..(height_out - 1) * stride_h + 1,
            0..(width_out - 1) * stride_w + 1,
        ])
}
