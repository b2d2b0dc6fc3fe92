//! PReLU through [`FineFaceBackend`].

use burn::tensor::{Tensor, TensorPrimitive};

use crate::FineFaceBackend;

/// `x` where `x >= 0`, `alpha[c] * x` elsewhere, one slope per channel (what Burn's `PRelu`
/// with `num_parameters = channels` and PyTorch's `PReLU` compute), through
/// [`FineFaceBackend::prelu_rows`] (on Flex one parallel sweep, in place where `x` is not
/// shared).
///
/// # Shapes
/// - `x`: `[batch, channels, h, w]`
/// - `alpha`: `[channels]`
/// - output: same as `x`
pub fn prelu_channels<B: FineFaceBackend>(x: Tensor<B, 4>, alpha: Tensor<B, 1>) -> Tensor<B, 4> {
    let dims = x.dims();
    let [batch, channels, h, w] = dims;
    assert_eq!(
        alpha.dims()[0],
        channels,
        "prelu_channels takes one slope per channel"
    );
    let rows = x.reshape([batch * channels, h * w]);
    let out = B::prelu_rows(
        rows.into_primitive().tensor(),
        alpha.into_primitive().tensor(),
    );
    Tensor::<B, 2>::from_primitive(TensorPrimitive::Float(out)).reshape(dims)
}
