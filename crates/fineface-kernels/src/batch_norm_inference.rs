//! Evaluation-mode BatchNorm through [`FineFaceBackend`].

use burn::tensor::{Tensor, TensorPrimitive};

use crate::{BatchNormActivation, FineFaceBackend};

/// `activation(x * scale[c] + shift[c])` over `[batch * channels, spatial]` rows, row `i`
/// holding channel `c = i % channels` ([`FineFaceBackend::batch_norm_inference`]): an
/// evaluation-mode BatchNorm with `scale = gamma / sqrt(running_var + eps)` and
/// `shift = beta - running_mean * scale`, and the activation after it, as one op.
///
/// # Shapes
/// - `rows`: `[batch * channels, spatial]`
/// - `scale`, `shift`: `[channels]`
/// - output: `[batch * channels, spatial]`
///
/// # Panics
/// If `scale` and `shift` differ in length, or the rows are not a whole number of batches of
/// `channels` rows.
pub fn batch_norm_inference<B: FineFaceBackend>(
    rows: Tensor<B, 2>,
    scale: Tensor<B, 1>,
    shift: Tensor<B, 1>,
    activation: BatchNormActivation,
) -> Tensor<B, 2> {
    let channels = scale.dims()[0];
    assert_eq!(
        shift.dims()[0],
        channels,
        "batch_norm_inference takes a shift per channel of the scale"
    );
    assert!(
        channels > 0 && rows.dims()[0].is_multiple_of(channels),
        "batch_norm_inference: {} rows are not batches of {channels} channels",
        rows.dims()[0]
    );
    let output = B::batch_norm_inference(
        rows.into_primitive().tensor(),
        scale.into_primitive().tensor(),
        shift.into_primitive().tensor(),
        activation,
    );
    Tensor::from_primitive(TensorPrimitive::Float(output))
}
