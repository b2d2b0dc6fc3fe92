//! PReLU and the two-class softmax over `[batch, channels, h, w]` maps without Flex 0.21's
//! `[1, C, 1, 1]` broadcasts, which run on its slow strided path (Burn's `PRelu` and
//! `softmax(x, 1)` took 60 % of a detection's time under `perf`): the PReLU as one sweep of
//! per-channel rows (`prelu_channels`), the softmax from the two channels' slices.

use burn::nn::PRelu;
use burn::tensor::Tensor;
use burn::tensor::backend::Backend;
use fineface_model::{FineFaceBackend, prelu_channels};

/// `layer.forward(x)` for a map, through [`prelu_channels`] (one parallel sweep on Flex).
///
/// # Shapes
/// - `x`: `[batch, channels, h, w]`
/// - output: same as `x`
pub(crate) fn prelu_map<B: FineFaceBackend>(layer: &PRelu<B>, x: Tensor<B, 4>) -> Tensor<B, 4> {
    prelu_channels(x, layer.alpha.val())
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
