//! 2-d convolution on NCHW `f32` as one matrix product per image over an im2col buffer: the
//! forward, the input gradient (product, then col2im) and the weight gradient (products
//! accumulated over the batch).
//!
//! Flex 0.21 runs the forward as products over 512-position tiles with an NHWC copy and a
//! scattered write-back, and the input gradient as a transposed convolution; on this project's
//! 3x3 shapes both reach 0.3-0.9x PyTorch (oneDNN), its weight gradient 0.3-0.6x
//! (docs/performance.md, `kernel_probe`). One product per image reads the NCHW weight as it
//! lies (`[c_out, c_in * k_h * k_w]`) and writes the NCHW output in place.
//!
//! Images run in parallel, each product on one thread, when the batch has at least as many
//! images as rayon has threads; otherwise images run one after the other with each product
//! split over the pool (a single image at evaluation). Small maps (fewer than
//! [`FOLD_BELOW_POSITIONS`] output positions) run the whole batch as one product split over
//! the pool, with the batch's im2col matrices side by side.

use burn::backend::flex::FlexTensor;
use burn::tensor::TensorMetadata;
use burn::tensor::ops::ConvOptions;
use rayon::prelude::*;

use super::matmul::{MatRef, Threads, matmul};
use super::tensor::{contiguous, is_f32, tensor, values};

/// Below this many output positions per image the whole batch is one product
/// (`[c_out, rows] x [rows, batch * positions]`) instead of one per image: per-image products
/// with 49 columns ran ResNet-50's layer-4 3x3 convolution at 0.3-0.6x PyTorch, one over the
/// batch at 0.6-0.8x (`kernel_probe`). At 14x14 it measured no faster: three alternating
/// iterations each with a threshold of 128 (12.1-13.2 s), 256 (12.5-13.6 s) and without
/// folding (12.3-14.0 s).
const FOLD_BELOW_POSITIONS: usize = 128;

/// The batch's im2col matrix stays under this size; above it, one product per image.
const FOLD_MAX_BYTES: usize = 256 << 20;

/// The sizes of a convolution these kernels run: groups 1, `f32`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ConvGeometry {
    batch: usize,
    channels_in: usize,
    height: usize,
    width: usize,
    channels_out: usize,
    kernel: [usize; 2],
    stride: [usize; 2],
    padding: [usize; 2],
    dilation: [usize; 2],
    height_out: usize,
    width_out: usize,
}

impl ConvGeometry {
    /// The geometry of `x` convolved with `weight`, or `None` where these kernels do not apply
    /// (grouped convolution, another float type, an empty output).
    pub(crate) fn of(
        x: &FlexTensor,
        weight: &FlexTensor,
        options: &ConvOptions<2>,
    ) -> Option<Self> {
        if options.groups != 1 || !is_f32(&[x, weight]) {
            return None;
        }
        let [batch, channels_in, height, width] = x.shape().dims();
        let [channels_out, weight_in, kernel_h, kernel_w] = weight.shape().dims();
        let out = |size: usize, k: usize, axis: usize| {
            let span = options.dilation[axis] * (k - 1) + 1;
            (size + 2 * options.padding[axis])
                .checked_sub(span)
                .map(|s| s / options.stride[axis] + 1)
        };
        let geometry = Self {
            batch,
            channels_in,
            height,
            width,
            channels_out,
            kernel: [kernel_h, kernel_w],
            stride: options.stride,
            padding: options.padding,
            dilation: options.dilation,
            height_out: out(height, kernel_h, 0)?,
            width_out: out(width, kernel_w, 1)?,
        };
        let sized = [batch, channels_in, channels_out, kernel_h, kernel_w]
            .iter()
            .all(|&s| s > 0);
        (weight_in == channels_in && sized).then_some(geometry)
    }

    /// Output positions per image.
    fn positions(&self) -> usize {
        self.height_out * self.width_out
    }

    /// Rows of the im2col matrix: one per input channel and kernel position, in the order of
    /// the weight's `[c_in, k_h, k_w]` (so the weight is `[c_out, rows]` as it lies).
    fn col_rows(&self) -> usize {
        self.channels_in * self.kernel[0] * self.kernel[1]
    }

    fn image_len(&self) -> usize {
        self.channels_in * self.height * self.width
    }

    fn output_len(&self) -> usize {
        self.channels_out * self.positions()
    }

    /// A 1x1 convolution with stride 1 and no padding reads the image itself as its im2col
    /// matrix.
    fn is_pointwise(&self) -> bool {
        self.kernel == [1, 1] && self.stride == [1, 1] && self.padding == [0, 0]
    }

    /// Values of one image's im2col buffer (none where the image is its own, see
    /// [`ConvGeometry::is_pointwise`]).
    fn scratch_len(&self) -> usize {
        if self.is_pointwise() {
            0
        } else {
            self.col_rows() * self.positions()
        }
    }

    /// Whether the batch runs as one product ([`FOLD_BELOW_POSITIONS`]).
    fn folds(&self) -> bool {
        let col_bytes = self.col_rows() * self.batch * self.positions() * size_of::<f32>();
        self.batch > 1 && self.positions() < FOLD_BELOW_POSITIONS && col_bytes <= FOLD_MAX_BYTES
    }

    /// Whether images run in parallel (one thread per product) or in turn (products split).
    fn threads(&self) -> Threads {
        if self.batch >= rayon::current_num_threads() {
            Threads::One
        } else {
            Threads::Pool
        }
    }

    /// For kernel offset `k` along `axis`, the output positions `[lo, hi)` that read inside
    /// the input, and the input index of output position 0 (negative in the padding).
    fn valid_range(&self, axis: usize, k: usize) -> (usize, usize, isize) {
        let (size, out) = if axis == 0 {
            (self.height, self.height_out)
        } else {
            (self.width, self.width_out)
        };
        let stride = self.stride[axis] as isize;
        let offset = (k * self.dilation[axis]) as isize - self.padding[axis] as isize;
        // Smallest o with o * stride + offset >= 0, and smallest o with it >= size.
        let first_at_least = |bound: isize| {
            let need = bound - offset;
            if need <= 0 {
                0
            } else {
                ((need + stride - 1) / stride) as usize
            }
        };
        let hi = first_at_least(size as isize).min(out);
        let lo = first_at_least(0).min(hi);
        (lo, hi, offset)
    }

    /// Channel, kernel row and kernel column of im2col row `r`.
    fn row_origin(&self, r: usize) -> (usize, usize, usize) {
        let [kh, kw] = self.kernel;
        (r / (kh * kw), (r / kw) % kh, r % kw)
    }
}

/// `for_each` over `chunk`-long pieces of `data` with their index: split over the pool when
/// one image's products are ([`Threads::Pool`]), on the calling thread when images run in
/// parallel (nested splitting there only adds scheduling: measured 6 ms on a strided 1x1).
fn for_each_chunk(
    data: &mut [f32],
    chunk: usize,
    threads: Threads,
    f: impl Fn((usize, &mut [f32])) + Send + Sync,
) {
    match threads {
        Threads::Pool => data.par_chunks_mut(chunk).enumerate().for_each(f),
        Threads::One => data.chunks_mut(chunk).enumerate().for_each(f),
    }
}

/// Fills `col` (`[col_rows, positions]`) with the input values each output position sees.
fn im2col(g: &ConvGeometry, image: &[f32], col: &mut [f32]) {
    for_each_chunk(col, g.positions(), g.threads(), |(r, row)| {
        im2col_row(g, image, r, row);
    });
}

/// Row `r` of [`im2col`] for one image: `out` is `positions` long.
fn im2col_row(g: &ConvGeometry, image: &[f32], r: usize, out: &mut [f32]) {
    let plane = g.height * g.width;
    let (c, ki, kj) = g.row_origin(r);
    let (h_lo, h_hi, h_offset) = g.valid_range(0, ki);
    let (w_lo, w_hi, w_offset) = g.valid_range(1, kj);
    let channel = &image[c * plane..(c + 1) * plane];
    for (oh, out) in out.chunks_mut(g.width_out).enumerate() {
        if oh < h_lo || oh >= h_hi {
            out.fill(0.0);
            continue;
        }
        let ih = (oh * g.stride[0]) as isize + h_offset;
        let line = &channel[ih as usize * g.width..(ih as usize + 1) * g.width];
        out[..w_lo].fill(0.0);
        out[w_hi..].fill(0.0);
        if w_lo == w_hi {
            continue;
        }
        let first = (w_lo * g.stride[1]) as isize + w_offset;
        if g.stride[1] == 1 {
            let first = first as usize;
            out[w_lo..w_hi].copy_from_slice(&line[first..first + (w_hi - w_lo)]);
        } else {
            for (o, &v) in out[w_lo..w_hi]
                .iter_mut()
                .zip(line[first as usize..].iter().step_by(g.stride[1]))
            {
                *o = v;
            }
        }
    }
}

/// Adds every im2col entry of `col` back onto the input position it was read from (the
/// adjoint of [`im2col`]); `image` must start zeroed.
fn col2im(g: &ConvGeometry, col: &[f32], image: &mut [f32]) {
    let positions = g.positions();
    for_each_chunk(image, g.height * g.width, g.threads(), |(c, channel)| {
        col2im_channel(g, |r| &col[r * positions..(r + 1) * positions], c, channel);
    });
}

/// [`col2im`] for channel `c` of one image, reading im2col row `r` from `row(r)`.
fn col2im_channel<'a>(
    g: &ConvGeometry,
    row: impl Fn(usize) -> &'a [f32],
    c: usize,
    channel: &mut [f32],
) {
    let per_channel = g.kernel[0] * g.kernel[1];
    for r in c * per_channel..(c + 1) * per_channel {
        let (_, ki, kj) = g.row_origin(r);
        let (h_lo, h_hi, h_offset) = g.valid_range(0, ki);
        let (w_lo, w_hi, w_offset) = g.valid_range(1, kj);
        if w_lo == w_hi {
            continue;
        }
        let row = row(r);
        for oh in h_lo..h_hi {
            let ih = ((oh * g.stride[0]) as isize + h_offset) as usize;
            let line = &mut channel[ih * g.width..(ih + 1) * g.width];
            let values = &row[oh * g.width_out + w_lo..oh * g.width_out + w_hi];
            let first = ((w_lo * g.stride[1]) as isize + w_offset) as usize;
            if g.stride[1] == 1 {
                for (i, &v) in line[first..first + values.len()].iter_mut().zip(values) {
                    *i += v;
                }
            } else {
                for (i, &v) in line[first..].iter_mut().step_by(g.stride[1]).zip(values) {
                    *i += v;
                }
            }
        }
    }
}

/// Small maps: the batch as one matrix. `im2col` of every image side by side,
/// `[col_rows, batch * positions]`, image `b` in columns `b * positions..`.
fn im2col_batch(g: &ConvGeometry, x: &[f32]) -> Vec<f32> {
    let positions = g.positions();
    let mut col = vec![0.0f32; g.col_rows() * g.batch * positions];
    col.par_chunks_mut(g.batch * positions)
        .enumerate()
        .for_each(|(r, row)| {
            for (b, out) in row.chunks_mut(positions).enumerate() {
                im2col_row(g, &x[b * g.image_len()..(b + 1) * g.image_len()], r, out);
            }
        });
    col
}

/// `[batch, channels, positions]` as `[channels, batch * positions]` (and back with
/// [`unfold_batch`]).
fn fold_batch(values: &[f32], batch: usize, channels: usize, positions: usize) -> Vec<f32> {
    let mut folded = vec![0.0f32; values.len()];
    folded
        .par_chunks_mut(batch * positions)
        .enumerate()
        .for_each(|(c, row)| {
            for (b, out) in row.chunks_mut(positions).enumerate() {
                let start = (b * channels + c) * positions;
                out.copy_from_slice(&values[start..start + positions]);
            }
        });
    folded
}

/// `[channels, batch * positions]` as `[batch, channels, positions]`.
fn unfold_batch(folded: &[f32], batch: usize, channels: usize, positions: usize) -> Vec<f32> {
    let mut values = vec![0.0f32; folded.len()];
    values
        .par_chunks_mut(positions)
        .enumerate()
        .for_each(|(i, out)| {
            let (b, c) = (i / channels, i % channels);
            let start = c * batch * positions + b * positions;
            out.copy_from_slice(&folded[start..start + positions]);
        });
    values
}

/// Runs `per_image(b, scratch, out_b)` for every image, over `out` split into `out_len`-long
/// chunks, in parallel or in turn as [`ConvGeometry::threads`] says; `scratch` is a reusable
/// buffer for one image's im2col matrix ([`ConvGeometry::scratch_len`]).
fn for_each_image(
    g: &ConvGeometry,
    out: &mut [f32],
    out_len: usize,
    per_image: impl Fn(usize, &mut [f32], &mut [f32]) + Sync,
) {
    let scratch_len = g.scratch_len();
    match g.threads() {
        Threads::One => out.par_chunks_mut(out_len).enumerate().for_each_init(
            || vec![0.0; scratch_len],
            |scratch, (b, out_b)| per_image(b, scratch, out_b),
        ),
        Threads::Pool => {
            let mut scratch = vec![0.0; scratch_len];
            for (b, out_b) in out.chunks_mut(out_len).enumerate() {
                per_image(b, &mut scratch, out_b);
            }
        }
    }
}

/// `conv2d(x, weight) + bias`.
///
/// # Shapes
/// - `x`: `[batch, channels_in, height, width]`
/// - `weight`: `[channels_out, channels_in, kernel_h, kernel_w]`
/// - `bias`: `[channels_out]`
/// - output: `[batch, channels_out, height_out, width_out]`
pub(crate) fn conv2d(
    g: ConvGeometry,
    x: FlexTensor,
    weight: FlexTensor,
    bias: Option<FlexTensor>,
) -> FlexTensor {
    let (x, weight) = (contiguous(x), contiguous(weight));
    let bias = bias.map(contiguous);
    let (x, weight) = (values(&x), values(&weight));
    let (rows, positions) = (g.col_rows(), g.positions());
    let weight = MatRef::row_major(weight, g.channels_out, rows);
    let add_bias = |out: &mut [f32]| {
        if let Some(bias) = &bias {
            for (channel, &b) in out.chunks_mut(positions).zip(values(bias).iter().cycle()) {
                channel.iter_mut().for_each(|v| *v += b);
            }
        }
    };
    let shape = vec![g.batch, g.channels_out, g.height_out, g.width_out];

    if g.folds() {
        let columns = g.batch * positions;
        let col = im2col_batch(&g, x);
        // [c_out, rows] x [rows, batch * positions] -> [c_out, batch * positions]
        let mut folded = vec![0.0f32; g.channels_out * columns];
        let col = MatRef::row_major(&col, rows, columns);
        matmul(&mut folded, weight, col, false, Threads::Pool);
        let mut output = unfold_batch(&folded, g.batch, g.channels_out, positions);
        add_bias(&mut output);
        return tensor(output, shape);
    }

    let mut output = vec![0.0f32; g.batch * g.output_len()];
    for_each_image(&g, &mut output, g.output_len(), |b, col, out| {
        let image = &x[b * g.image_len()..(b + 1) * g.image_len()];
        let col: &[f32] = if g.is_pointwise() {
            image
        } else {
            im2col(&g, image, col);
            col
        };
        // [c_out, rows] x [rows, positions] -> [c_out, positions]
        let col = MatRef::row_major(col, rows, positions);
        matmul(out, weight, col, false, g.threads());
        add_bias(out);
    });
    tensor(output, shape)
}

/// The gradient of `conv2d(x, weight)` with respect to `x`: per image
/// `col = weight^T x output_grad`, then [`col2im`].
///
/// # Shapes
/// - `weight`: `[channels_out, channels_in, kernel_h, kernel_w]`
/// - `output_grad`: `[batch, channels_out, height_out, width_out]`
/// - output: `[batch, channels_in, height, width]`
pub(crate) fn conv2d_input_gradient(
    g: ConvGeometry,
    weight: FlexTensor,
    output_grad: FlexTensor,
) -> FlexTensor {
    let (weight, grad) = (contiguous(weight), contiguous(output_grad));
    let (weight, grad) = (values(&weight), values(&grad));
    let (rows, positions) = (g.col_rows(), g.positions());
    let weight_t = MatRef::row_major(weight, g.channels_out, rows).t();
    let shape = vec![g.batch, g.channels_in, g.height, g.width];

    if g.folds() {
        let columns = g.batch * positions;
        let grad = fold_batch(grad, g.batch, g.channels_out, positions);
        // [rows, c_out] x [c_out, batch * positions] -> [rows, batch * positions]
        let mut col = vec![0.0f32; rows * columns];
        let grad = MatRef::row_major(&grad, g.channels_out, columns);
        matmul(&mut col, weight_t, grad, false, Threads::Pool);
        let mut input_grad = vec![0.0f32; g.batch * g.image_len()];
        let plane = g.height * g.width;
        input_grad
            .par_chunks_mut(plane)
            .enumerate()
            .for_each(|(i, channel)| {
                let (b, c) = (i / g.channels_in, i % g.channels_in);
                let row = |r: usize| &col[r * columns + b * positions..][..positions];
                col2im_channel(&g, row, c, channel);
            });
        return tensor(input_grad, shape);
    }

    let mut input_grad = vec![0.0f32; g.batch * g.image_len()];
    for_each_image(&g, &mut input_grad, g.image_len(), |b, col, out| {
        let grad = &grad[b * g.output_len()..(b + 1) * g.output_len()];
        // [rows, c_out] x [c_out, positions] -> [rows, positions]
        let grad = MatRef::row_major(grad, g.channels_out, positions);
        if g.is_pointwise() {
            matmul(out, weight_t, grad, false, g.threads());
        } else {
            matmul(col, weight_t, grad, false, g.threads());
            col2im(&g, col, out);
        }
    });
    tensor(input_grad, shape)
}

/// The gradient of `conv2d(x, weight)` with respect to `weight`:
/// `sum over images of output_grad x im2col(x)^T`. With images in parallel, each thread sums
/// its share of the batch into its own buffer and the buffers are added in a fixed order, so
/// the result does not depend on scheduling.
///
/// # Shapes
/// - `x`: `[batch, channels_in, height, width]`
/// - `output_grad`: `[batch, channels_out, height_out, width_out]`
/// - output: `[channels_out, channels_in, kernel_h, kernel_w]`
pub(crate) fn conv2d_weight_gradient(
    g: ConvGeometry,
    x: FlexTensor,
    output_grad: FlexTensor,
) -> FlexTensor {
    let (x, grad) = (contiguous(x), contiguous(output_grad));
    let (x, grad) = (values(&x), values(&grad));
    let (rows, positions) = (g.col_rows(), g.positions());
    let len = g.channels_out * rows;
    let shape = vec![g.channels_out, g.channels_in, g.kernel[0], g.kernel[1]];

    if g.folds() {
        let columns = g.batch * positions;
        let col = im2col_batch(&g, x);
        let grad = fold_batch(grad, g.batch, g.channels_out, positions);
        // [c_out, batch * positions] x [batch * positions, rows] -> [c_out, rows]
        let mut gradient = vec![0.0f32; len];
        let grad = MatRef::row_major(&grad, g.channels_out, columns);
        let col_t = MatRef::row_major(&col, rows, columns).t();
        matmul(&mut gradient, grad, col_t, false, Threads::Pool);
        return tensor(gradient, shape);
    }

    let threads = g.threads();
    let shares = match threads {
        Threads::One => rayon::current_num_threads().min(g.batch),
        Threads::Pool => 1,
    };
    let per_share = g.batch.div_ceil(shares);

    let sum_share = |images: std::ops::Range<usize>| {
        let mut sum = vec![0.0f32; len];
        let mut col = vec![0.0f32; g.scratch_len()];
        for (i, b) in images.enumerate() {
            let image = &x[b * g.image_len()..(b + 1) * g.image_len()];
            let col: &[f32] = if g.is_pointwise() {
                image
            } else {
                im2col(&g, image, &mut col);
                &col
            };
            let grad = &grad[b * g.output_len()..(b + 1) * g.output_len()];
            // [c_out, positions] x [positions, rows] -> [c_out, rows]
            let grad = MatRef::row_major(grad, g.channels_out, positions);
            let col_t = MatRef::row_major(col, rows, positions).t();
            matmul(&mut sum, grad, col_t, i > 0, threads);
        }
        sum
    };
    let sums: Vec<Vec<f32>> = (0..shares)
        .into_par_iter()
        .map(|s| sum_share(s * per_share..((s + 1) * per_share).min(g.batch)))
        .collect();
    let mut sums = sums.into_iter();
    let mut gradient = sums.next().unwrap_or_else(|| vec![0.0; len]);
    for sum in sums {
        gradient.iter_mut().zip(&sum).for_each(|(a, &b)| *a += b);
    }
    tensor(gradient, shape)
}
