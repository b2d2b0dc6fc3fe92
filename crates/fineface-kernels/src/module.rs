//! Burn's modules and SGD's update run through [`FineFaceBackend`], so that a backend's own
//! kernels run: functions over Burn's `Conv2d` and `MaxPool2d` and a parameter's tensors, as
//! Burn's `burn::tensor::module` functions run its `ModuleOps`.

use burn::nn::PaddingConfig2d;
use burn::nn::conv::Conv2d;
use burn::nn::pool::MaxPool2d;
use burn::tensor::ops::ConvOptions;
use burn::tensor::{Tensor, TensorPrimitive};

use crate::FineFaceBackend;
use crate::pool::MaxPoolOptions;
use crate::sgd::SgdOptions;

/// `conv.forward(input)` through [`FineFaceBackend::conv2d_tracked`], so that the backend's
/// own convolution kernels run (on an autodiff backend: forward and both gradients). Padding other than symmetric explicit or
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

/// `pool.forward(input)` through [`FineFaceBackend::max_pool2d_tracked`] (on Flex one
/// parallel sweep over the planes, without the indices Flex 0.21's op computes and throws
/// away). Padding other than valid or symmetric explicit goes through Burn's
/// `MaxPool2d::forward` unchanged.
///
/// # Shapes
/// - `input`: `[batch, channels, height, width]`
/// - output: `[batch, channels, height_out, width_out]`
pub fn max_pool2d<B: FineFaceBackend>(pool: &MaxPool2d, input: Tensor<B, 4>) -> Tensor<B, 4> {
    let padding = match pool.padding {
        PaddingConfig2d::Valid => [0, 0],
        PaddingConfig2d::Explicit(top, left, bottom, right) if top == bottom && left == right => {
            [top, left]
        }
        _ => return pool.forward(input),
    };
    let options = MaxPoolOptions {
        kernel_size: pool.kernel_size,
        stride: pool.stride,
        padding,
        dilation: pool.dilation,
        ceil_mode: pool.ceil_mode,
    };
    let output = B::max_pool2d_tracked(input.into_primitive().tensor(), options);
    Tensor::from_primitive(TensorPrimitive::Float(output))
}

/// The parameter and momentum buffer after one SGD update ([`FineFaceBackend::sgd_step`]),
/// `velocity` being `None` at a parameter's first step.
///
/// # Shapes
/// - `param`, `grad`, `velocity`: the same shape
/// - outputs: that shape
///
/// # Panics
/// If the shapes differ.
pub fn sgd_step<B: FineFaceBackend, const D: usize>(
    param: Tensor<B, D>,
    grad: Tensor<B, D>,
    velocity: Option<Tensor<B, D>>,
    options: SgdOptions,
) -> [Tensor<B, D>; 2] {
    let dims = param.dims();
    assert_eq!(dims, grad.dims(), "sgd_step: the gradient's shape differs");
    if let Some(v) = &velocity {
        assert_eq!(
            dims,
            v.dims(),
            "sgd_step: the momentum buffer's shape differs"
        );
    }
    let update = B::sgd_step(
        param.into_primitive().tensor(),
        grad.into_primitive().tensor(),
        velocity.map(|v| v.into_primitive().tensor()),
        options,
    );
    let unwrap = |t| Tensor::<B, 1>::from_primitive(TensorPrimitive::Float(t)).reshape(dims);
    [unwrap(update.param), unwrap(update.velocity)]
}
