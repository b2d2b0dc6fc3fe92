//! Training-mode BatchNorm as fused kernels: three sweeps over memory forward and three
//! backward (PyTorch's CPU kernels do the same), parallel over channels with rayon.
//!
//! Flex 0.21 allocates a fresh buffer and sweeps memory once per element-wise op, so the
//! generic formulation in [`crate::ops::batch_norm`] costs about eight sweeps each way
//! (`cargo run --release -p fineface-model --example kernel_probe`, docs/performance.md).

use burn::backend::flex::FlexTensor;
use rayon::prelude::*;

use super::tensor::{contiguous, tensor, values};
use crate::ops::batch_norm::{BatchNormForward, BatchNormGradients};

/// Row `r` of `[rows, spatial]` values.
fn row_of(data: &[f32], r: usize, spatial: usize) -> &[f32] {
    &data[r * spatial..(r + 1) * spatial]
}

/// Per-channel sums of `row_sum(row index, channel)` over the `batch` rows of each channel.
fn channel_sums(
    channels: usize,
    batch: usize,
    row_sum: impl Fn(usize, usize) -> f64 + Sync,
) -> Vec<f64> {
    (0..channels)
        .into_par_iter()
        .map(|c| (0..batch).map(|b| row_sum(b * channels + c, c)).sum())
        .collect()
}

/// Training-mode BatchNorm forward over `[batch * channels, spatial]` rows: the mean sweep,
/// the variance sweep (two-pass, for accuracy), and the output sweep.
pub(crate) fn batch_norm_forward(
    rows: FlexTensor,
    gamma: FlexTensor,
    beta: FlexTensor,
    batch: usize,
    epsilon: f64,
) -> BatchNormForward<burn::backend::Flex> {
    let (rows, gamma, beta) = (contiguous(rows), contiguous(gamma), contiguous(beta));
    let (x, gamma, beta) = (values(&rows), values(&gamma), values(&beta));
    let channels = gamma.len();
    let spatial = x.len() / (batch * channels);
    let n = (batch * spatial) as f64;
    let row = |r: usize| row_of(x, r, spatial);

    let mean: Vec<f64> = channel_sums(channels, batch, |r, _| {
        row(r).iter().map(|&v| f64::from(v)).sum()
    })
    .into_iter()
    .map(|s| s / n)
    .collect();
    let var: Vec<f64> = channel_sums(channels, batch, |r, c| {
        let m = mean[c] as f32;
        row(r).iter().map(|&v| f64::from((v - m) * (v - m))).sum()
    })
    .into_iter()
    .map(|s| s / n)
    .collect();
    let inv_std: Vec<f32> = var
        .iter()
        .map(|v| (1.0 / (v + epsilon).sqrt()) as f32)
        .collect();

    let mut output = vec![0.0f32; x.len()];
    output
        .par_chunks_mut(spatial)
        .enumerate()
        .for_each(|(r, out)| {
            let c = r % channels;
            let scale = inv_std[c] * gamma[c];
            let shift = beta[c] - mean[c] as f32 * scale;
            for (o, &v) in out.iter_mut().zip(row(r)) {
                *o = v * scale + shift;
            }
        });

    let per_channel = |v: Vec<f32>| tensor(v, vec![channels]);
    BatchNormForward {
        output: tensor(output, vec![batch * channels, spatial]),
        mean: per_channel(mean.iter().map(|&m| m as f32).collect()),
        var: per_channel(var.iter().map(|&v| v as f32).collect()),
        inv_std: per_channel(inv_std),
    }
}

/// The closed-form BatchNorm backward: one sweep for `sum(g)` and `sum(g * (x - mean))`,
/// one for the input gradient `a * g + b * x + d` with per-channel `a, b, d`.
pub(crate) fn batch_norm_backward(
    grad: FlexTensor,
    rows: FlexTensor,
    mean: FlexTensor,
    inv_std: FlexTensor,
    gamma: FlexTensor,
    batch: usize,
) -> BatchNormGradients<burn::backend::Flex> {
    let (grad, rows) = (contiguous(grad), contiguous(rows));
    let (mean, inv_std, gamma) = (contiguous(mean), contiguous(inv_std), contiguous(gamma));
    let (g, x) = (values(&grad), values(&rows));
    let (mean, inv_std, gamma) = (values(&mean), values(&inv_std), values(&gamma));
    let channels = gamma.len();
    let spatial = x.len() / (batch * channels);
    let n = (batch * spatial) as f32;

    let d_beta: Vec<f32> = channel_sums(channels, batch, |r, _| {
        row_of(g, r, spatial).iter().map(|&v| f64::from(v)).sum()
    })
    .into_iter()
    .map(|s| s as f32)
    .collect();
    // sum(g * x_hat) = inv_std * sum(g * (x - mean))
    let d_gamma: Vec<f32> = channel_sums(channels, batch, |r, c| {
        let m = mean[c];
        row_of(g, r, spatial)
            .iter()
            .zip(row_of(x, r, spatial))
            .map(|(&gv, &xv)| f64::from(gv * (xv - m)))
            .sum()
    })
    .into_iter()
    .zip(inv_std)
    .map(|(s, &k)| s as f32 * k)
    .collect();

    // d_x = gamma * inv_std * (g - d_beta / n - (x - mean) * inv_std * d_gamma / n)
    let mut input = vec![0.0f32; x.len()];
    input
        .par_chunks_mut(spatial)
        .enumerate()
        .for_each(|(r, out)| {
            let c = r % channels;
            let a = gamma[c] * inv_std[c];
            let b = -a * inv_std[c] * d_gamma[c] / n;
            let d = -a * d_beta[c] / n - b * mean[c];
            for ((o, &gv), &xv) in out
                .iter_mut()
                .zip(row_of(g, r, spatial))
                .zip(row_of(x, r, spatial))
            {
                *o = a * gv + b * xv + d;
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
    use crate::ops::batch_norm::{normalise, normalise_backward};

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

    /// The fused kernels compute what the generic tensor-op formulation computes.
    #[test]
    fn fused_batch_norm_equals_the_generic_formulation() {
        let (batch, channels, spatial) = (3, 5, 7);
        let rows = random([batch * channels, spatial], Distribution::Normal(2.0, 3.0));
        let gamma = random([channels], Distribution::Uniform(0.5, 1.5));
        let beta = random([channels], Distribution::Normal(0.0, 0.5));
        let grad = random([batch * channels, spatial], Distribution::Normal(0.0, 1.0));

        let fused = batch_norm_forward(rows.clone(), gamma.clone(), beta.clone(), batch, 1e-5);
        let generic = normalise::<Flex>(rows.clone(), gamma.clone(), beta, batch, 1e-5);
        for (name, a, b) in [
            ("output", fused.output, generic.output),
            ("mean", fused.mean.clone(), generic.mean),
            ("var", fused.var, generic.var),
            ("inv_std", fused.inv_std.clone(), generic.inv_std),
        ] {
            let diff = max_relative_diff(a, b);
            assert!(diff < 1e-5, "{name} differs by {diff}");
        }

        let (mean, inv_std) = (fused.mean, fused.inv_std);
        let fused = batch_norm_backward(
            grad.clone(),
            rows.clone(),
            mean.clone(),
            inv_std.clone(),
            gamma.clone(),
            batch,
        );
        let generic = normalise_backward::<Flex>(grad, rows, mean, inv_std, gamma, batch);
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
