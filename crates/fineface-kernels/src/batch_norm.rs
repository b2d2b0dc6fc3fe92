//! Training-mode BatchNorm as one op with a closed-form backward.
//!
//! Both passes work on `[batch * channels, spatial]` rows (one row per sample and channel):
//! an NCHW tensor reshaped, which keeps every per-channel value a per-row scalar ([`per_row`])
//! instead of a `[1, C, 1, 1]` broadcast (slow on Flex 0.21). The generic versions here are
//! Burn tensor ops and run on any backend; `flex/batch_norm.rs` fuses them into two sweeps over
//! memory each way for Flex.

use burn::tensor::backend::Backend;
use burn::tensor::ops::FloatTensor;
use burn::tensor::{Tensor, TensorPrimitive};

/// How a training-mode BatchNorm op runs.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BatchNormOptions {
    /// Samples in the batch: the rows are `[batch * channels, spatial]`.
    pub batch: usize,
    /// Added to the variance for numerical stability.
    pub epsilon: f64,
    /// The activation that follows, as part of the op: the output is clipped (at zero, or
    /// to [0, 6]), and the backward masks the output gradient where it was (the mask is
    /// recomputed from the input, so nothing more is kept). What `relu(batch_norm(x))` or
    /// `relu6(batch_norm(x))` computes, in one pass less each way (and, on Flex, without
    /// Burn's clamp and its backward, which run on the calling thread).
    pub activation: BatchNormActivation,
}

/// The activation fused into a training-mode BatchNorm op.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum BatchNormActivation {
    /// None: the normalised values as they are.
    #[default]
    Identity,
    /// `max(y, 0)` (ResNet's blocks).
    Relu,
    /// `min(max(y, 0), 6)` (MobileNetV2's, PyTorch's `ReLU6`); its gradient is zero where
    /// `y <= 0` or `y >= 6`, as PyTorch's `hardtanh_backward`.
    Relu6,
}

impl BatchNormActivation {
    /// The activation of `y`.
    #[inline]
    pub fn apply(self, y: f32) -> f32 {
        match self {
            Self::Identity => y,
            Self::Relu => y.max(0.0),
            Self::Relu6 => y.clamp(0.0, 6.0),
        }
    }

    /// Whether the gradient passes the activation at pre-activation `y`.
    #[inline]
    pub fn passes(self, y: f32) -> bool {
        match self {
            Self::Identity => true,
            Self::Relu => y > 0.0,
            Self::Relu6 => y > 0.0 && y < 6.0,
        }
    }
}

/// What a training-mode BatchNorm computes: the output, the batch statistics and what the
/// backward pass needs. Only `output` carries a gradient.
#[derive(Debug)]
pub struct BatchNormForward<B: Backend> {
    /// Normalised, scaled and shifted rows (then [`BatchNormOptions::activation`]),
    /// `[batch * channels, spatial]`.
    pub output: FloatTensor<B>,
    /// Per-channel batch mean, `[channels]`.
    pub mean: FloatTensor<B>,
    /// Per-channel biased batch variance, `[channels]`.
    pub var: FloatTensor<B>,
    /// `1 / sqrt(var + eps)`, `[channels]`
    pub inv_std: FloatTensor<B>,
}

/// The per-channel values a training-mode BatchNorm's backward needs besides the output
/// gradient and the input rows, each `[channels]`.
#[derive(Debug, Clone)]
pub struct BatchNormStatistics<B: Backend> {
    /// The forward's batch mean.
    pub mean: FloatTensor<B>,
    /// The forward's `1 / sqrt(var + eps)`.
    pub inv_std: FloatTensor<B>,
    /// Scale.
    pub gamma: FloatTensor<B>,
    /// Shift (for the activation's mask).
    pub beta: FloatTensor<B>,
}

/// Gradients of a training-mode BatchNorm.
#[derive(Debug)]
pub struct BatchNormGradients<B: Backend> {
    /// `[batch * channels, spatial]`
    pub input: FloatTensor<B>,
    /// `[channels]`
    pub gamma: FloatTensor<B>,
    /// `[channels]`
    pub beta: FloatTensor<B>,
}

/// Normalises rows with per-channel batch statistics, with Burn tensor ops.
pub(crate) fn normalise<B: Backend>(
    rows: FloatTensor<B>,
    gamma: FloatTensor<B>,
    beta: FloatTensor<B>,
    options: BatchNormOptions,
) -> BatchNormForward<B> {
    let BatchNormOptions {
        batch,
        epsilon,
        activation,
    } = options;
    let (rows, gamma, beta) = (float::<B, 2>(rows), float::<B, 1>(gamma), float(beta));
    let channels = gamma.dims()[0];
    // Rows have equal length, so the mean over the batch of the row means is the channel mean.
    let mean = channel_mean(rows.clone().mean_dim(1), batch, channels); // [c]
    let centered = rows - per_row(mean.clone(), batch, channels); // [b * c, s]
    let var = channel_mean(centered.clone().square().mean_dim(1), batch, channels); // [c]
    let inv_std = var.clone().add_scalar(epsilon).sqrt().recip(); // [c]
    let scale = inv_std.clone() * gamma;
    let output = centered * per_row(scale, batch, channels) + per_row(beta, batch, channels);
    BatchNormForward {
        output: primitive(activate(output, activation)),
        mean: primitive(mean),
        var: primitive(var),
        inv_std: primitive(inv_std),
    }
}

/// Evaluation-mode BatchNorm with Burn tensor ops: `activation(x * scale[c] + shift[c])` for
/// every value `x` of a `[batch * channels, spatial]` row of channel `c`.
pub(crate) fn normalise_inference<B: Backend>(
    rows: FloatTensor<B>,
    scale: FloatTensor<B>,
    shift: FloatTensor<B>,
    activation: BatchNormActivation,
) -> FloatTensor<B> {
    let (rows, scale, shift) = (float::<B, 2>(rows), float::<B, 1>(scale), float(shift));
    let channels = scale.dims()[0];
    let batch = rows.dims()[0] / channels;
    let output = rows * per_row(scale, batch, channels) + per_row(shift, batch, channels);
    primitive(activate(output, activation))
}

/// PReLU over `[batch * channels, spatial]` rows with a slope per channel, with Burn's
/// `prelu` and the slopes as a `[batch * channels, 1]` column ([`per_row`]); rows of no
/// channel come back as they are.
pub(crate) fn prelu_per_row<B: Backend>(
    rows: FloatTensor<B>,
    alpha: FloatTensor<B>,
) -> FloatTensor<B> {
    let (rows, alpha) = (float::<B, 2>(rows), float::<B, 1>(alpha));
    let channels = alpha.dims()[0];
    if channels == 0 {
        return primitive(rows);
    }
    let column = per_row(alpha, rows.dims()[0] / channels, channels);
    B::prelu(primitive(rows), primitive(column))
}

/// `activation` applied to every value, with Burn's ops.
fn activate<B: Backend>(output: Tensor<B, 2>, activation: BatchNormActivation) -> Tensor<B, 2> {
    match activation {
        BatchNormActivation::Identity => output,
        BatchNormActivation::Relu => output.clamp_min(0.0),
        BatchNormActivation::Relu6 => output.clamp(0.0, 6.0),
    }
}

/// The closed-form backward of [`normalise`] (what PyTorch's fused kernel computes), with
/// `x_hat = (x - mean) * inv_std` and `n = batch * spatial` values per channel:
/// `d_beta = sum(g)`, `d_gamma = sum(g * x_hat)`,
/// `d_x = gamma * inv_std * (g - d_beta / n - x_hat * d_gamma / n)`; with
/// an activation ([`BatchNormOptions::activation`]), `g` is first zeroed where
/// `y = x_hat * gamma + beta` does not pass it (`y <= 0`, and for ReLU6 also `y >= 6`).
pub(crate) fn normalise_backward<B: Backend>(
    grad: FloatTensor<B>,
    rows: FloatTensor<B>,
    statistics: BatchNormStatistics<B>,
    options: BatchNormOptions,
) -> BatchNormGradients<B> {
    let batch = options.batch;
    let (grad, rows) = (float::<B, 2>(grad), float::<B, 2>(rows));
    let BatchNormStatistics {
        mean,
        inv_std,
        gamma,
        beta,
    } = statistics;
    let (mean, inv_std) = (float::<B, 1>(mean), float::<B, 1>(inv_std));
    let (gamma, beta) = (float::<B, 1>(gamma), float::<B, 1>(beta));
    let channels = gamma.dims()[0];
    let [_, spatial] = grad.dims();
    let n = (batch * spatial) as f64;
    let normalised =
        (rows - per_row(mean, batch, channels)) * per_row(inv_std.clone(), batch, channels); // [b * c, s]
    let output = || {
        normalised.clone() * per_row(gamma.clone(), batch, channels)
            + per_row(beta.clone(), batch, channels)
    };
    let grad = match options.activation {
        BatchNormActivation::Identity => grad,
        BatchNormActivation::Relu => grad.mask_fill(output().lower_equal_elem(0.0), 0.0),
        BatchNormActivation::Relu6 => {
            let y = output();
            let stopped = y
                .clone()
                .lower_equal_elem(0.0)
                .bool_or(y.greater_equal_elem(6.0));
            grad.mask_fill(stopped, 0.0)
        }
    };
    let d_beta = channel_sum(grad.clone().sum_dim(1), batch, channels); // [c]
    let d_gamma = channel_sum(
        (grad.clone() * normalised.clone()).sum_dim(1),
        batch,
        channels,
    ); // [c]
    let centred_grad = grad - per_row(d_beta.clone().div_scalar(n), batch, channels);
    let projection = normalised * per_row(d_gamma.clone().div_scalar(n), batch, channels);
    let input = (centred_grad - projection) * per_row(gamma * inv_std, batch, channels);
    BatchNormGradients {
        input: primitive(input),
        gamma: primitive(d_gamma),
        beta: primitive(d_beta),
    }
}

/// `[channels]` per-channel values as a `[batch * channels, 1]` column matching the row
/// layout of [`FineFaceBackend::batch_norm_train`](crate::FineFaceBackend::batch_norm_train)
/// (row `i` holds channel `i % channels`), to scale or shift rows by broadcasting along the
/// spatial axis (what an evaluation-mode BatchNorm does with its running statistics).
///
/// # Shapes
/// - `values`: `[channels]`
/// - output: `[batch * channels, 1]`
pub fn per_row<B: Backend>(values: Tensor<B, 1>, batch: usize, channels: usize) -> Tensor<B, 2> {
    values
        .reshape([1, channels])
        .repeat_dim(0, batch)
        .reshape([batch * channels, 1])
}

/// Mean over the batch of a `[b * c, 1]` column of per-row values: `[c]`.
fn channel_mean<B: Backend>(rows: Tensor<B, 2>, batch: usize, channels: usize) -> Tensor<B, 1> {
    rows.reshape([batch, channels])
        .mean_dim(0)
        .reshape([channels])
}

/// Sum over the batch of a `[b * c, 1]` column of per-row values: `[c]`.
fn channel_sum<B: Backend>(rows: Tensor<B, 2>, batch: usize, channels: usize) -> Tensor<B, 1> {
    rows.reshape([batch, channels])
        .sum_dim(0)
        .reshape([channels])
}

fn float<B: Backend, const D: usize>(tensor: FloatTensor<B>) -> Tensor<B, D> {
    Tensor::from_primitive(TensorPrimitive::Float(tensor))
}

fn primitive<B: Backend, const D: usize>(tensor: Tensor<B, D>) -> FloatTensor<B> {
    tensor.into_primitive().tensor()
}
