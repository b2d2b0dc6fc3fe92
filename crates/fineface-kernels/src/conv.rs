//! Convolution modules through [`FineFaceBackend`].

use burn::nn::PaddingConfig2d;
use burn::nn::conv::Conv2d;
use burn::tensor::ops::ConvOptions;
use burn::tensor::{Tensor, TensorPrimitive};

use crate::FineFaceBackend;

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
