//! Depthwise 2-d convolution (groups = input channels = output channels, MobileNetV2's 3x3
//! layers) on NCHW `f32`, plane by plane: the forward, the input gradient and the weight
//! gradient.
//!
//! A depthwise convolution reads each input plane with its own small kernel: 9 multiply-adds
//! per output value, so it is bound by memory, not arithmetic. Flex 0.21 runs grouped
//! convolutions as one im2col product per group, a `[1, 9] x [9, positions]` product per
//! channel with a 9x copy of the input; here every `(image, channel)` plane is one task, the
//! planes spread over the pool. MobileNetV2's 3x3 (padding 1, stride 1 or 2) sweeps each
//! output row once over the three input rows it reads (stride 2 over the even and odd columns
//! split apart, so that reads are contiguous and vectorise); any other kernel sweeps the rows
//! once per tap (`out_row[x] += w * in_row[x * stride + offset]`).

use burn::backend::flex::FlexTensor;
use burn::tensor::TensorMetadata;
use burn::tensor::ops::ConvOptions;
use rayon::prelude::*;

use super::conv::reading_range;
use super::tensor::{contiguous, is_f32, par_chunks_zeroed, tensor, values};

/// The sizes of a depthwise convolution: `[c, 1, k_h, k_w]` weights over `c` channels.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct DepthwiseGeometry {
    batch: usize,
    channels: usize,
    height: usize,
    width: usize,
    kernel: [usize; 2],
    stride: [usize; 2],
    padding: [usize; 2],
    dilation: [usize; 2],
    height_out: usize,
    width_out: usize,
}

/// For one kernel tap along one axis: the output indices `[lo, hi)` that read inside the
/// input, and the input index of output 0 (negative in the padding).
#[derive(Debug, Clone, Copy)]
struct Tap {
    lo: usize,
    hi: usize,
    offset: isize,
}

impl DepthwiseGeometry {
    /// The geometry of `x` convolved with `weight`, or `None` where this kernel does not apply
    /// (not depthwise with one output per channel, another float type, an empty output).
    pub(crate) fn of(
        x: &FlexTensor,
        weight: &FlexTensor,
        options: &ConvOptions<2>,
    ) -> Option<Self> {
        let [batch, channels, height, width] = x.shape().dims();
        let [channels_out, per_group, kernel_h, kernel_w] = weight.shape().dims();
        let depthwise = options.groups == channels && channels_out == channels && per_group == 1;
        if !depthwise || !is_f32(&[x, weight]) || batch == 0 || channels == 0 {
            return None;
        }
        let out = |size: usize, k: usize, axis: usize| {
            let span = options.dilation[axis] * (k.checked_sub(1)?) + 1;
            (size + 2 * options.padding[axis])
                .checked_sub(span)
                .map(|s| s / options.stride[axis] + 1)
        };
        Some(Self {
            batch,
            channels,
            height,
            width,
            kernel: [kernel_h, kernel_w],
            stride: options.stride,
            padding: options.padding,
            dilation: options.dilation,
            height_out: out(height, kernel_h, 0)?,
            width_out: out(width, kernel_w, 1)?,
        })
    }

    /// A `trace`-level span for one pass, with the channels, kernel, stride and input size.
    pub(crate) fn span(&self, pass: &'static str) -> tracing::Span {
        tracing::trace_span!(
            "conv2d_depthwise",
            pass,
            channels = self.channels,
            kernel = self.kernel[0],
            stride = self.stride[0],
            size = self.height,
        )
    }

    fn plane_in(&self) -> usize {
        self.height * self.width
    }

    fn plane_out(&self) -> usize {
        self.height_out * self.width_out
    }

    fn taps(&self) -> usize {
        self.kernel[0] * self.kernel[1]
    }

    /// Where kernel tap `k` along `axis` reads.
    fn tap(&self, axis: usize, k: usize) -> Tap {
        let (size, out) = if axis == 0 {
            (self.height, self.height_out)
        } else {
            (self.width, self.width_out)
        };
        let offset = (k * self.dilation[axis]) as isize - self.padding[axis] as isize;
        let (lo, hi) = reading_range(size, out, self.stride[axis], offset);
        Tap { lo, hi, offset }
    }

    /// Calls `f(output_row, input_row, kernel_index, column_tap)` for every output row of a
    /// plane and every kernel tap that reads inside the input.
    fn for_each_tap(&self, mut f: impl FnMut(usize, usize, usize, Tap)) {
        let [kernel_h, kernel_w] = self.kernel;
        let columns: Vec<Tap> = (0..kernel_w).map(|kx| self.tap(1, kx)).collect();
        for ky in 0..kernel_h {
            let rows = self.tap(0, ky);
            for oy in rows.lo..rows.hi {
                let iy = (oy as isize * self.stride[0] as isize + rows.offset) as usize;
                // A tap that reads only padding has no columns (and its start may lie
                // outside the row).
                for (kx, &column) in columns.iter().enumerate().filter(|(_, c)| c.lo < c.hi) {
                    f(oy, iy, ky * kernel_w + kx, column);
                }
            }
        }
    }
}

/// `out[x] += w * input[x * stride + offset]` over the tap's columns.
#[inline]
fn accumulate_row(out: &mut [f32], input: &[f32], w: f32, stride: usize, tap: Tap) {
    let start = tap.lo as isize * stride as isize + tap.offset;
    let out = &mut out[tap.lo..tap.hi];
    if stride == 1 {
        let input = &input[start as usize..start as usize + out.len()];
        out.iter_mut().zip(input).for_each(|(o, i)| *o += w * i);
    } else {
        let input = input[start as usize..].iter().step_by(stride);
        out.iter_mut().zip(input).for_each(|(o, i)| *o += w * i);
    }
}

/// `grad[x * stride + offset] += w * out_grad[x]` over the tap's columns.
#[inline]
fn scatter_row(grad: &mut [f32], out_grad: &[f32], w: f32, stride: usize, tap: Tap) {
    let start = (tap.lo as isize * stride as isize + tap.offset) as usize;
    let out_grad = &out_grad[tap.lo..tap.hi];
    if stride == 1 {
        let grad = &mut grad[start..start + out_grad.len()];
        grad.iter_mut().zip(out_grad).for_each(|(g, o)| *g += w * o);
    } else {
        let grad = grad[start..].iter_mut().step_by(stride);
        grad.zip(out_grad).for_each(|(g, o)| *g += w * o);
    }
}

/// `sum(out_grad[x] * input[x * stride + offset])` over the tap's columns.
#[inline]
fn dot_row(out_grad: &[f32], input: &[f32], stride: usize, tap: Tap) -> f32 {
    let start = (tap.lo as isize * stride as isize + tap.offset) as usize;
    let out_grad = &out_grad[tap.lo..tap.hi];
    if stride == 1 {
        let input = &input[start..start + out_grad.len()];
        out_grad.iter().zip(input).map(|(o, i)| o * i).sum()
    } else {
        let input = input[start..].iter().step_by(stride);
        out_grad.iter().zip(input).map(|(o, i)| o * i).sum()
    }
}

/// The forward of MobileNetV2's case, a 3x3 kernel with padding 1 and no dilation at stride
/// 1 or 2: each output row in one sweep over the three input rows it reads (the nine taps
/// summed in registers, not nine read-modify-write passes), stride 2 over the even and odd
/// columns split apart first so that every read is contiguous.
fn forward_3x3_row(
    g: &DepthwiseGeometry,
    input: &[f32],
    w: &[f32],
    oy: usize,
    out: &mut [f32],
    scratch: &mut Vec<f32>,
) {
    let width = g.width;
    let stride = g.stride[0];
    for ky in 0..3 {
        // Input row of tap row `ky`: oy * stride - 1 + ky.
        let Some(iy) = (oy * stride + ky)
            .checked_sub(1)
            .filter(|&iy| iy < g.height)
        else {
            continue;
        };
        let row = &input[iy * width..(iy + 1) * width];
        let [w0, w1, w2] = [w[3 * ky], w[3 * ky + 1], w[3 * ky + 2]];
        if stride == 1 {
            // out[x] += w0 * row[x - 1] + w1 * row[x] + w2 * row[x + 1]
            out[0] += w1 * row[0] + if width > 1 { w2 * row[1] } else { 0.0 };
            if width > 1 {
                let n = width - 2;
                let (left, centre, right) = (&row[..n], &row[1..n + 1], &row[2..]);
                for (((o, a), b), c) in out[1..width - 1]
                    .iter_mut()
                    .zip(left)
                    .zip(centre)
                    .zip(right)
                {
                    *o += w0 * a + w1 * b + w2 * c;
                }
                out[width - 1] += w0 * row[width - 2] + w1 * row[width - 1];
            }
        } else {
            // out[x] += w0 * row[2x - 1] + w1 * row[2x] + w2 * row[2x + 1]
            let (even_len, odd_len) = (width.div_ceil(2), width / 2);
            scratch.clear();
            scratch.extend(row.iter().step_by(2));
            scratch.extend(row.iter().skip(1).step_by(2));
            let (even, odd) = scratch.split_at(even_len);
            let n = g.width_out;
            // x = 0: row[-1] is padding.
            out[0] += w1 * even[0] + if odd_len > 0 { w2 * odd[0] } else { 0.0 };
            // 1 <= x < full: odd[x - 1], even[x], odd[x]; past the row's end (x >= odd_len)
            // odd[x] is padding.
            let full = n.min(odd_len);
            if full > 1 {
                for (((o, a), b), c) in out[1..full]
                    .iter_mut()
                    .zip(&odd[..full - 1])
                    .zip(&even[1..full])
                    .zip(&odd[1..full])
                {
                    *o += w0 * a + w1 * b + w2 * c;
                }
            }
            for x in full.max(1)..n {
                out[x] += w0 * odd[x - 1] + w1 * even[x];
            }
        }
    }
}

/// Whether [`forward_3x3_row`] applies.
fn is_mobilenet_3x3(g: &DepthwiseGeometry) -> bool {
    g.kernel == [3, 3]
        && g.padding == [1, 1]
        && g.dilation == [1, 1]
        && g.stride[0] == g.stride[1]
        && (g.stride[0] == 1 || g.stride[0] == 2)
}

/// The forward: `[batch, channels, height_out, width_out]`.
pub(crate) fn conv2d_depthwise(
    g: DepthwiseGeometry,
    x: FlexTensor,
    weight: FlexTensor,
    bias: Option<FlexTensor>,
) -> FlexTensor {
    let (x, weight, bias) = (contiguous(x), contiguous(weight), bias.map(contiguous));
    let (x, weight) = (values(&x), values(&weight));
    let bias = bias.as_ref().map(values);
    let (plane_in, plane_out, taps) = (g.plane_in(), g.plane_out(), g.taps());
    let output = par_chunks_zeroed(g.batch * g.channels * plane_out, plane_out, |p, out| {
        let c = p % g.channels;
        let input = &x[p * plane_in..(p + 1) * plane_in];
        let w = &weight[c * taps..(c + 1) * taps];
        if let Some(bias) = bias {
            out.fill(bias[c]);
        }
        if is_mobilenet_3x3(&g) {
            let mut scratch = Vec::with_capacity(g.width);
            for (oy, out_row) in out.chunks_mut(g.width_out).enumerate() {
                forward_3x3_row(&g, input, w, oy, out_row, &mut scratch);
            }
            return;
        }
        g.for_each_tap(|oy, iy, k, column| {
            let out_row = &mut out[oy * g.width_out..(oy + 1) * g.width_out];
            let in_row = &input[iy * g.width..(iy + 1) * g.width];
            accumulate_row(out_row, in_row, w[k], g.stride[1], column);
        });
    });
    tensor(output, vec![g.batch, g.channels, g.height_out, g.width_out])
}

/// The input gradient: `[batch, channels, height, width]`.
pub(crate) fn conv2d_depthwise_input_gradient(
    g: DepthwiseGeometry,
    weight: FlexTensor,
    output_grad: FlexTensor,
) -> FlexTensor {
    let (weight, output_grad) = (contiguous(weight), contiguous(output_grad));
    let (weight, output_grad) = (values(&weight), values(&output_grad));
    let (plane_in, plane_out, taps) = (g.plane_in(), g.plane_out(), g.taps());
    let grad = par_chunks_zeroed(g.batch * g.channels * plane_in, plane_in, |p, grad| {
        let c = p % g.channels;
        let out_grad = &output_grad[p * plane_out..(p + 1) * plane_out];
        let w = &weight[c * taps..(c + 1) * taps];
        if is_mobilenet_3x3(&g) && g.stride[0] == 1 {
            // At stride 1 the input gradient is the forward's correlation of the output
            // gradient with the kernel turned by 180 degrees (same size, same padding).
            let turned: Vec<f32> = w.iter().rev().copied().collect();
            let mut scratch = Vec::new();
            for (iy, grad_row) in grad.chunks_mut(g.width).enumerate() {
                forward_3x3_row(&g, out_grad, &turned, iy, grad_row, &mut scratch);
            }
            return;
        }
        g.for_each_tap(|oy, iy, k, column| {
            let grad_row = &mut grad[iy * g.width..(iy + 1) * g.width];
            let out_row = &out_grad[oy * g.width_out..(oy + 1) * g.width_out];
            scatter_row(grad_row, out_row, w[k], g.stride[1], column);
        });
    });
    tensor(grad, vec![g.batch, g.channels, g.height, g.width])
}

/// One image's share of MobileNetV2's 3x3 (padding 1, stride 1 or 2) weight gradient for one
/// channel: per tap, `acc[ky][kx][x] += out_grad[y][x] * input[y * s - 1 + ky][x * s - 1 + kx]`
/// over the output rows, element-wise (vectorised; the nine sums are taken once per channel,
/// not once per row).
fn weight_gradient_3x3_plane(
    g: &DepthwiseGeometry,
    input: &[f32],
    out_grad: &[f32],
    acc: &mut [[Vec<f32>; 3]; 3],
    scratch: &mut Vec<f32>,
) {
    let (width, n) = (g.width, g.width_out);
    let stride = g.stride[0];
    for (oy, d) in out_grad.chunks(n).enumerate() {
        for (ky, [a0, a1, a2]) in acc.iter_mut().enumerate() {
            let Some(iy) = (oy * stride + ky)
                .checked_sub(1)
                .filter(|&iy| iy < g.height)
            else {
                continue;
            };
            let row = &input[iy * width..(iy + 1) * width];
            if stride == 1 {
                // kx = 0 reads row[x - 1] (x >= 1), kx = 1 row[x], kx = 2 row[x + 1].
                let m = width - 1;
                for ((a, dv), r) in a0[1..].iter_mut().zip(&d[1..]).zip(&row[..m]) {
                    *a += dv * r;
                }
                for ((a, dv), r) in a1.iter_mut().zip(d).zip(row) {
                    *a += dv * r;
                }
                for ((a, dv), r) in a2[..m].iter_mut().zip(&d[..m]).zip(&row[1..]) {
                    *a += dv * r;
                }
            } else {
                // row[2x - 1] = odd[x - 1] (x >= 1), row[2x] = even[x], row[2x + 1] = odd[x].
                scratch.clear();
                scratch.extend(row.iter().step_by(2));
                let even_len = scratch.len();
                scratch.extend(row.iter().skip(1).step_by(2));
                let (even, odd) = scratch.split_at(even_len);
                for ((a, dv), r) in a0[1..n].iter_mut().zip(&d[1..]).zip(odd) {
                    *a += dv * r;
                }
                for ((a, dv), r) in a1[..n].iter_mut().zip(d).zip(even) {
                    *a += dv * r;
                }
                for ((a, dv), r) in a2[..n].iter_mut().zip(d).zip(odd) {
                    *a += dv * r;
                }
            }
        }
    }
}

/// The weight gradient: `[channels, 1, k_h, k_w]`, each channel's taps summed over the batch
/// (one task per channel).
pub(crate) fn conv2d_depthwise_weight_gradient(
    g: DepthwiseGeometry,
    x: FlexTensor,
    output_grad: FlexTensor,
) -> FlexTensor {
    let (x, output_grad) = (contiguous(x), contiguous(output_grad));
    let (x, output_grad) = (values(&x), values(&output_grad));
    let (plane_in, plane_out, taps) = (g.plane_in(), g.plane_out(), g.taps());
    let mut grad = vec![0.0f32; g.channels * taps];
    grad.par_chunks_mut(taps)
        .enumerate()
        .for_each(|(c, w_grad)| {
            if is_mobilenet_3x3(&g) {
                let mut acc: [[Vec<f32>; 3]; 3] =
                    std::array::from_fn(|_| std::array::from_fn(|_| vec![0.0; g.width_out]));
                let mut scratch = Vec::with_capacity(g.width);
                for b in 0..g.batch {
                    let p = b * g.channels + c;
                    let input = &x[p * plane_in..(p + 1) * plane_in];
                    let out_grad = &output_grad[p * plane_out..(p + 1) * plane_out];
                    weight_gradient_3x3_plane(&g, input, out_grad, &mut acc, &mut scratch);
                }
                for (w, a) in w_grad.iter_mut().zip(acc.iter().flatten()) {
                    *w = a.iter().sum();
                }
                return;
            }
            for b in 0..g.batch {
                let p = b * g.channels + c;
                let input = &x[p * plane_in..(p + 1) * plane_in];
                let out_grad = &output_grad[p * plane_out..(p + 1) * plane_out];
                g.for_each_tap(|oy, iy, k, column| {
                    let out_row = &out_grad[oy * g.width_out..(oy + 1) * g.width_out];
                    let in_row = &input[iy * g.width..(iy + 1) * g.width];
                    w_grad[k] += dot_row(out_row, in_row, g.stride[1], column);
                });
            }
        });
    tensor(grad, vec![g.channels, 1, g.kernel[0], g.kernel[1]])
}
