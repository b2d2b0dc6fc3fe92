//! BatchNorm as fused kernels: in training two sweeps over memory forward and two backward
//! (PyTorch's CPU kernels do the same), parallel over channels with rayon; in evaluation one
//! sweep, in place.
//!
//! Flex 0.21 allocates a fresh buffer and sweeps memory once per element-wise op, so the
//! generic formulation in [`crate::batch_norm`] costs about eight sweeps each way
//! (`cargo run --release -p fineface-kernels --example kernel_probe`, docs/performance.md).

use burn::backend::flex::FlexTensor;
use burn::tensor::TensorMetadata;
use rayon::prelude::*;

use super::tensor::{PIECE, contiguous, par_chunks_zeroed, tensor, values, writable_values};
use crate::batch_norm::{
    BatchNormActivation, BatchNormForward, BatchNormGradients, BatchNormOptions,
    BatchNormStatistics,
};

/// Row `r` of `[rows, spatial]` values.
fn row_of(data: &[f32], r: usize, spatial: usize) -> &[f32] {
    &data[r * spatial..(r + 1) * spatial]
}

/// Per-channel sums of `row_sum(row index, channel)` over the `batch` rows of each channel.
fn channel_sums<T: std::iter::Sum + Send>(
    channels: usize,
    batch: usize,
    row_sum: impl Fn(usize, usize) -> T + Sync,
) -> Vec<T> {
    (0..channels)
        .into_par_iter()
        .map(|c| (0..batch).map(|b| row_sum(b * channels + c, c)).sum())
        .collect()
}

/// A pair of sums accumulated in one sweep.
#[derive(Debug, Clone, Copy, Default)]
struct TwoSums(f64, f64);

impl std::iter::Sum for TwoSums {
    fn sum<I: Iterator<Item = Self>>(iter: I) -> Self {
        iter.fold(Self::default(), |a, b| Self(a.0 + b.0, a.1 + b.1))
    }
}

/// Independent accumulators per sweep. One accumulator makes a chain of dependent f64 adds
/// (a few cycles each, so a sweep ran at a fraction of memory speed); sixteen side by side
/// fill two AVX-512 registers per sum and let the compiler vectorise the sweep.
const LANES: usize = 16;

/// The sums of `term(a[i], b[i])` over two equally long rows, accumulated in [`LANES`]
/// interleaved f64 accumulators.
fn lane_sums(a: &[f32], b: &[f32], term: impl Fn(f32, f32) -> TwoSums) -> TwoSums {
    let (a_chunks, a_tail) = a.as_chunks::<LANES>();
    let (b_chunks, b_tail) = b.as_chunks::<LANES>();
    let mut first = [0.0f64; LANES];
    let mut second = [0.0f64; LANES];
    for (a, b) in a_chunks.iter().zip(b_chunks) {
        for i in 0..LANES {
            let TwoSums(s, t) = term(a[i], b[i]);
            first[i] += s;
            second[i] += t;
        }
    }
    let tail: TwoSums = a_tail.iter().zip(b_tail).map(|(&a, &b)| term(a, b)).sum();
    TwoSums(
        first.iter().sum::<f64>() + tail.0,
        second.iter().sum::<f64>() + tail.1,
    )
}

/// The forward's per-channel affine map `y = x * scale + shift`, computed the same way in the
/// backward so that the ReLU mask it recomputes is exactly the forward's.
fn affine(mean: f32, inv_std: f32, gamma: f32, beta: f32) -> (f32, f32) {
    let scale = inv_std * gamma;
    (scale, beta - mean * scale)
}

/// Training-mode BatchNorm forward over `[batch * channels, spatial]` rows: one sweep for the
/// statistics and one for the output (then [`BatchNormOptions::activation`]).
pub(crate) fn batch_norm_forward(
    rows: FlexTensor,
    gamma: FlexTensor,
    beta: FlexTensor,
    options: BatchNormOptions,
) -> BatchNormForward<burn::backend::Flex> {
    let BatchNormOptions {
        batch,
        epsilon,
        activation,
    } = options;
    let (rows, gamma, beta) = (contiguous(rows), contiguous(gamma), contiguous(beta));
    let (x, gamma, beta) = (values(&rows), values(&gamma), values(&beta));
    let channels = gamma.len();
    let spatial = x.len() / (batch * channels);
    let n = (batch * spatial) as f64;
    let row = |r: usize| row_of(x, r, spatial);

    // Sum and sum of squares in one sweep, accumulated in f64 (so `E[x^2] - mean^2` keeps
    // ~1e-16 relative error: exact enough unless |mean| / std exceeds ~1e6).
    let sums = channel_sums(channels, batch, |r, _| {
        lane_sums(row(r), row(r), |v, _| {
            let v = f64::from(v);
            TwoSums(v, v * v)
        })
    });
    let mean: Vec<f32> = sums.iter().map(|s| (s.0 / n) as f32).collect();
    let var: Vec<f64> = sums
        .iter()
        .map(|s| {
            let mean = s.0 / n;
            (s.1 / n - mean * mean).max(0.0)
        })
        .collect();
    let inv_std: Vec<f32> = var
        .iter()
        .map(|v| (1.0 / (v + epsilon).sqrt()) as f32)
        .collect();

    let output = par_chunks_zeroed(x.len(), spatial, |r, out| {
        let c = r % channels;
        let (scale, shift) = affine(mean[c], inv_std[c], gamma[c], beta[c]);
        let values = out.iter_mut().zip(row(r));
        match activation {
            BatchNormActivation::Identity => {
                values.for_each(|(o, &v)| *o = v * scale + shift);
            }
            BatchNormActivation::Relu => {
                values.for_each(|(o, &v)| *o = (v * scale + shift).max(0.0));
            }
            BatchNormActivation::Relu6 => {
                values.for_each(|(o, &v)| *o = (v * scale + shift).clamp(0.0, 6.0));
            }
        }
    });

    let per_channel = |v: Vec<f32>| tensor(v, vec![channels]);
    BatchNormForward {
        output: tensor(output, vec![batch * channels, spatial]),
        mean: per_channel(mean),
        var: per_channel(var.iter().map(|&v| v as f32).collect()),
        inv_std: per_channel(inv_std),
    }
}

/// Evaluation-mode BatchNorm over `[batch * channels, spatial]` rows with fixed per-channel
/// `scale` and `shift`, then `activation`: one parallel sweep, written over `rows` where its
/// buffer is not shared, else into a new one.
pub(crate) fn batch_norm_inference(
    rows: FlexTensor,
    scale: FlexTensor,
    shift: FlexTensor,
    activation: BatchNormActivation,
) -> FlexTensor {
    let (scale, shift) = (contiguous(scale), contiguous(shift));
    let (scale, shift) = (values(&scale), values(&shift));
    sweep_rows(rows, |r, row| {
        let c = r % scale.len();
        scale_shift(row, scale[c], shift[c], activation);
    })
}

/// PReLU over `[batch * channels, spatial]` rows with a slope per channel: one parallel
/// sweep of whole rows, written over `rows` where its buffer is not shared.
pub(crate) fn prelu_rows(rows: FlexTensor, alpha: FlexTensor) -> FlexTensor {
    let alpha = contiguous(alpha);
    let alpha = values(&alpha);
    sweep_rows(rows, |r, row| {
        let a = alpha[r % alpha.len()];
        // Flex's and PyTorch's `prelu`: `x` where `x >= 0`, else `alpha * x`.
        row.iter_mut()
            .for_each(|v| *v = if *v >= 0.0 { *v } else { a * *v });
    })
}

/// `update(row index, row)` over every row of a `[rows, spatial]` `f32` tensor, in parallel
/// pieces of whole rows (about `PIECE` values each: small maps have rows of 16-49), in place
/// where the buffer is not shared, else on a copy.
fn sweep_rows(rows: FlexTensor, update: impl Fn(usize, &mut [f32]) + Sync) -> FlexTensor {
    let mut rows = contiguous(rows);
    let shape = rows.shape().to_vec();
    let spatial = shape[1];
    if spatial == 0 || shape[0] == 0 {
        return rows;
    }
    let rows_per_piece = PIECE.div_ceil(spatial);
    let sweep = |first_row: usize, piece: &mut [f32]| {
        for (i, row) in piece.chunks_mut(spatial).enumerate() {
            update(first_row + i, row);
        }
    };
    if let Some(buffer) = writable_values(&mut rows) {
        buffer
            .par_chunks_mut(rows_per_piece * spatial)
            .enumerate()
            .for_each(|(i, piece)| sweep(i * rows_per_piece, piece));
        return rows;
    }
    let x = values(&rows);
    let output = par_chunks_zeroed(x.len(), rows_per_piece * spatial, |i, piece| {
        let start = i * rows_per_piece * spatial;
        piece.copy_from_slice(&x[start..start + piece.len()]);
        sweep(i * rows_per_piece, piece);
    });
    tensor(output, shape)
}

/// `activation(v * scale + shift)` for every `v` of `row`, in place (a loop per activation,
/// so that each vectorises).
fn scale_shift(row: &mut [f32], scale: f32, shift: f32, activation: BatchNormActivation) {
    match activation {
        BatchNormActivation::Identity => row.iter_mut().for_each(|v| *v = *v * scale + shift),
        BatchNormActivation::Relu => row
            .iter_mut()
            .for_each(|v| *v = (*v * scale + shift).max(0.0)),
        BatchNormActivation::Relu6 => row
            .iter_mut()
            .for_each(|v| *v = (*v * scale + shift).clamp(0.0, 6.0)),
    }
}

/// The closed-form BatchNorm backward: one sweep for `sum(g)` and `sum(g * (x - mean))`,
/// one for the input gradient `a * g + b * x + d` with per-channel `a, b, d`. With
/// an activation ([`BatchNormOptions::activation`]) both sweeps read `g` as zero where the
/// forward's output was clipped.
pub(crate) fn batch_norm_backward(
    grad: FlexTensor,
    rows: FlexTensor,
    statistics: BatchNormStatistics<burn::backend::Flex>,
    options: BatchNormOptions,
) -> BatchNormGradients<burn::backend::Flex> {
    // One copy of the sweeps per activation, so that its mask is a compare in the inner
    // loop (a `match` there measured 30 % slower on MobileNetV2's layers).
    match options.activation {
        BatchNormActivation::Identity => backward_masked(grad, rows, statistics, options, |_| true),
        BatchNormActivation::Relu => backward_masked(grad, rows, statistics, options, |y| y > 0.0),
        BatchNormActivation::Relu6 => {
            backward_masked(grad, rows, statistics, options, |y| y > 0.0 && y < 6.0)
        }
    }
}

/// [`batch_norm_backward`] with the gradient passing where `passes(y)` for the forward's
/// output `y` before its activation.
fn backward_masked(
    grad: FlexTensor,
    rows: FlexTensor,
    statistics: BatchNormStatistics<burn::backend::Flex>,
    options: BatchNormOptions,
    passes: impl Fn(f32) -> bool + Copy + Sync,
) -> BatchNormGradients<burn::backend::Flex> {
    let batch = options.batch;
    let (grad, rows) = (contiguous(grad), contiguous(rows));
    let BatchNormStatistics {
        mean,
        inv_std,
        gamma,
        beta,
    } = statistics;
    let (mean, inv_std) = (contiguous(mean), contiguous(inv_std));
    let (gamma, beta) = (contiguous(gamma), contiguous(beta));
    let (g, x) = (values(&grad), values(&rows));
    let (mean, inv_std) = (values(&mean), values(&inv_std));
    let (gamma, beta) = (values(&gamma), values(&beta));
    let channels = gamma.len();
    let spatial = x.len() / (batch * channels);
    let n = (batch * spatial) as f32;
    // The gradient reaching the normalisation: `g`, masked by the activation if there is one.
    let masked = |c: usize| {
        let (scale, shift) = affine(mean[c], inv_std[c], gamma[c], beta[c]);
        move |gv: f32, xv: f32| {
            if passes(xv * scale + shift) { gv } else { 0.0 }
        }
    };

    let sums = channel_sums(channels, batch, |r, c| {
        let (m, masked) = (mean[c], masked(c));
        lane_sums(row_of(g, r, spatial), row_of(x, r, spatial), |gv, xv| {
            let gv = masked(gv, xv);
            TwoSums(f64::from(gv), f64::from(gv * (xv - m)))
        })
    });
    let d_beta: Vec<f32> = sums.iter().map(|s| s.0 as f32).collect();
    // sum(g * x_hat) = inv_std * sum(g * (x - mean))
    let d_gamma: Vec<f32> = sums
        .iter()
        .zip(inv_std)
        .map(|(s, &k)| s.1 as f32 * k)
        .collect();

    // d_x = gamma * inv_std * (g - d_beta / n - (x - mean) * inv_std * d_gamma / n)
    let input = par_chunks_zeroed(x.len(), spatial, |r, out| {
        let c = r % channels;
        let masked = masked(c);
        let a = gamma[c] * inv_std[c];
        let b = -a * inv_std[c] * d_gamma[c] / n;
        let d = -a * d_beta[c] / n - b * mean[c];
        for ((o, &gv), &xv) in out
            .iter_mut()
            .zip(row_of(g, r, spatial))
            .zip(row_of(x, r, spatial))
        {
            *o = a * masked(gv, xv) + b * xv + d;
        }
    });

    BatchNormGradients {
        input: tensor(input, vec![batch * channels, spatial]),
        gamma: tensor(d_gamma, vec![channels]),
        beta: tensor(d_beta, vec![channels]),
    }
}

#[cfg(test)]
mod tests {
    use burn::backend::Flex;
    use burn::tensor::{Distribution, Tensor, TensorPrimitive};

    use super::*;
    use crate::batch_norm::{normalise, normalise_backward};

    fn random<const D: usize>(shape: [usize; D], distribution: Distribution) -> FlexTensor {
        Tensor::<Flex, D>::random(shape, distribution, &Default::default())
            .into_primitive()
            .tensor()
    }

    fn max_relative_diff(a: FlexTensor, b: FlexTensor) -> f32 {
        let a = Tensor::<Flex, 1>::from_primitive(TensorPrimitive::Float(a)).flatten::<1>(0, 0);
        let b = Tensor::<Flex, 1>::from_primitive(TensorPrimitive::Float(b)).flatten::<1>(0, 0);
        let scale = b.clone().abs().max().into_scalar() + 1e-6;
        (a - b).abs().max().into_scalar() / scale
    }

    /// The fused kernels compute what the generic tensor-op formulation computes, with and
    /// without an activation (its mask must zero the same gradient entries in both).
    #[rstest::rstest]
    fn fused_batch_norm_equals_the_generic_formulation(
        #[values(
            BatchNormActivation::Identity,
            BatchNormActivation::Relu,
            BatchNormActivation::Relu6
        )]
        activation: BatchNormActivation,
    ) {
        let (batch, channels, spatial) = (3, 5, 7);
        let options = BatchNormOptions {
            batch,
            epsilon: 1e-5,
            activation,
        };
        let rows = random([batch * channels, spatial], Distribution::Normal(2.0, 3.0));
        // Scales up to 7 so that some outputs pass 6 (ReLU6's upper clip).
        let gamma = random([channels], Distribution::Uniform(0.5, 7.0));
        let beta = random([channels], Distribution::Normal(0.0, 0.5));
        let grad = random([batch * channels, spatial], Distribution::Normal(0.0, 1.0));

        let fused = batch_norm_forward(rows.clone(), gamma.clone(), beta.clone(), options);
        let generic = normalise::<Flex>(rows.clone(), gamma.clone(), beta.clone(), options);
        for (name, a, b) in [
            ("output", fused.output, generic.output),
            ("mean", fused.mean.clone(), generic.mean),
            ("var", fused.var, generic.var),
            ("inv_std", fused.inv_std.clone(), generic.inv_std),
        ] {
            let diff = max_relative_diff(a, b);
            assert!(diff < 1e-5, "{name} differs by {diff}");
        }

        let statistics = BatchNormStatistics {
            mean: fused.mean,
            inv_std: fused.inv_std,
            gamma,
            beta,
        };
        let fused = batch_norm_backward(grad.clone(), rows.clone(), statistics.clone(), options);
        let generic = normalise_backward::<Flex>(grad, rows, statistics, options);
        for (name, a, b) in [
            ("input", fused.input, generic.input),
            ("gamma", fused.gamma, generic.gamma),
            ("beta", fused.beta, generic.beta),
        ] {
            let diff = max_relative_diff(a, b);
            assert!(diff < 1e-5, "{name} gradient differs by {diff}");
        }
    }
}
