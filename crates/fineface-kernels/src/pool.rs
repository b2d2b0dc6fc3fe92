//! The settings of a max pool, as the backend's op takes them.

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
