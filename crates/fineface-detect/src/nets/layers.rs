//! PReLU and the two-class softmax over `[batch, channels, h, w]` maps in the layout Flex 0.21
//! runs fast: per-channel values broadcast as a `[batch * channels, 1]` column over
//! `[batch * channels, h * w]` rows (a `[1, C, 1, 1]` broadcast, what Burn's `PRelu` and
//! `softmax(x, 1)` amount to, runs on Flex's slow strided path: 60 % of a detection's time
//! under `perf` before).

use burn::nn::PRelu;
use burn::tensor::backend::Backend;
use burn::tensor::{Tensor, TensorPrimitive};
use fineface_model::per_row;

/// `x` where `x >= 0`, `alpha[c] * x` elsewhere (PyTorch's `PReLU` with one slope per
/// channel), the same values as `layer.forward(x)`.
///
/// # Shapes
/// - `x`: `[batch, channels, h, w]`
/// - output: same as `x`
pub(crate) fn prelu_map<B: Backend>(layer: &PRelu<B>, x: Tensor<B, 4>) -> Tensor<B, 4> {
    let dims = x.dims();
    let [batch, channels, h, w] = dims;
    let rows = x.reshape([batch * channels, h * w]);
    let alpha = per_row(layer.alpha.val(), batch, channels); // [b * c, 1]
    let out = B::prelu(
        rows.into_primitive().tensor(),
        alpha.into_primitive().tensor(),
    );
    Tensor::<B, 2>::from_primitive(TensorPrimitive::Float(out)).reshape(dims)
}

/// The softmax over two channels, `exp(a_k - m) / (exp(a_0 - m) + exp(a_1 - m))` with
/// `m = max(a_0, a_1)` (PyTorch's formulation), without a reduction along the channels.
///
/// # Shapes
/// - `logits`: `[batch, 2, h, w]`
/// - output: same as `logits`
pub(crate) fn softmax_pair<B: Backend>(logits: Tensor<B, 4>) -> Tensor<B, 4> {
    let [batch, _, h, w] = logits.dims();
    let a0 = logits.clone().slice([0..batch, 0..1, 0..h, 0..w]);
    let a1 = logits.slice([0..batch, 1..2, 0..h, 0..w]);
    let m = a0.clone().max_pair(a1.clone());
    let (e0, e1) = ((a0 - m.clone()).exp(), (a1 - m).exp());
    let sum = e0.clone() + e1.clone();
    Tensor::cat(vec![e0 / sum.clone(), e1 / sum], 1)
}
