//! Max pooling through [`FineFaceBackend`].

use burn::nn::PaddingConfig2d;
use burn::nn::pool::MaxPool2d;
use burn::tensor::{Tensor, TensorPrimitive};

use crate::FineFaceBackend;

/// The settings of a 2-d max pool (those of Burn's `ModuleOps::max_pool2d`), padding
/// symmetric.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MaxPoolOptions {
    /// Window height and width.
    pub kernel_size: [usize; 2],
    /// Step between windows.
    pub stride: [usize; 2],
    /// Rows and columns of `-inf` on each side.
    pub padding: [usize; 2],
    /// Spacing of the window's taps.
    pub dilation: [usize; 2],
    /// Output sizes rounded up (a last window hanging over the edge), as PyTorch's
    /// `ceil_mode`: a window that would start in the right or bottom padding is dropped.
    pub ceil_mode: bool,
}

impl MaxPoolOptions {
    /// The output size along `axis` for an input of `size` (PyTorch's formula).
    pub fn output_size(&self, size: usize, axis: usize) -> usize {
        let (k, s, p, d) = (
            self.kernel_size[axis],
            self.stride[axis],
            self.padding[axis],
            self.dilation[axis],
        );
        let span = (size + 2 * p).saturating_sub(d * (k - 1) + 1);
        let mut out = if self.ceil_mode {
            span.div_ceil(s) + 1
        } else {
            span / s + 1
        };
        if self.ceil_mode && (out - 1) * s >= size + p {
            out -= 1;
        }
        out
    }
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
