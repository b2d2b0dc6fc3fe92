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
//! [`FOLD_BELOW_POSITIONS`] output positions) run each thread's share of the batch as one
//! product, with the share's im2col matrices side by side.
//!
//! Where one image's im2col matrix outgrows the cache, the forward writes and multiplies it a
//! block of output rows at a time ([`ConvGeometry::forward_in_blocks`]); where it has many
//! more rows than there are output channels, the weight gradient is computed as its transpose
//! ([`ConvGeometry::weight_gradient_transposed`]).
//!
//! 3x3 convolutions with stride 1 on maps of 14x14 and more with at least 128 channels run
//! their forward and input gradient as Winograd F(2x2, 3x3) instead ([`winograd`],
//! [`ConvGeometry::winograd`]): 2.25x less arithmetic.
//!
//! Output buffers are zeroed piece by piece by the thread that fills the piece
//! ([`super::tensor::par_chunks_zeroed`]), not up front on the calling thread.

use std::borrow::Cow;
use std::cell::RefCell;
use std::ops::Range;

use burn::backend::flex::FlexTensor;
use burn::tensor::TensorMetadata;
use burn::tensor::ops::ConvOptions;
use rayon::prelude::*;

use super::matmul::{MatRef, Threads, matmul, matmul_strided};
use super::tensor::{contiguous, is_f32, par_chunks_zeroed, tensor, values};

mod winograd;

use winograd::{Filter, WinogradShape};

/// Below this many output positions per image a share of the batch is one product
/// (`[c_out, rows] x [rows, images * positions]`) instead of one per image: per-image products
/// with 49 columns ran ResNet-50's layer-4 3x3 convolution at 0.3-0.6x PyTorch, one over the
/// batch at 0.6-0.8x (`kernel_probe`). At 14x14 it measured no faster: three alternating
/// iterations each with a threshold of 128 (12.1-13.2 s), 256 (12.5-13.6 s) and without
/// folding (12.3-14.0 s).
const FOLD_BELOW_POSITIONS: usize = 128;

/// A folded im2col matrix of the whole batch stays under this size; above it, one product per
/// image.
const FOLD_MAX_BYTES: usize = 256 << 20;

/// [`ConvGeometry::winograd`] applies from this many input and output channels on ...
const WINOGRAD_MIN_CHANNELS: usize = 128;

/// ... on maps at least this high and wide.
const WINOGRAD_MIN_SIZE: usize = 14;

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

    /// A `trace`-level span for one pass of this convolution, with its channels, kernel,
    /// stride and input size as fields.
    pub(crate) fn span(&self, pass: &'static str) -> tracing::Span {
        tracing::trace_span!(
            "conv2d",
            pass,
            c_in = self.channels_in,
            c_out = self.channels_out,
            kernel = self.kernel[0],
            stride = self.stride[0],
            size = self.height,
        )
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

    /// Whether small maps run several images as one product ([`FOLD_BELOW_POSITIONS`]).
    fn folds(&self) -> bool {
        let col_bytes = self.col_rows() * self.batch * self.positions() * size_of::<f32>();
        self.batch > 1 && self.positions() < FOLD_BELOW_POSITIONS && col_bytes <= FOLD_MAX_BYTES
    }

    /// Whether the weight gradient is computed as its transpose, `[rows, c_out]`. With
    /// `[c_out, rows]` the product's long side is the im2col matrix, which `gemm` repacks for
    /// every image; transposed, it repacks the smaller output gradient instead. That pays where
    /// the im2col matrix has at least twice as many rows as there are output channels, at most
    /// 256 output channels and at least 512 positions per image (`kernel_probe`, 2 threads,
    /// batch 8): the stem 0.0198 -> 0.0161 s, the 64-channel 3x3 at 56x56 0.0130 -> 0.0100 s,
    /// the 128-channel 3x3 at 28x28 0.0106 -> 0.0097 s, the 256 -> 64 1x1 0.0056 -> 0.0043 s.
    /// Elsewhere it lost: 14x14 and 7x7 maps (the 1024 -> 512 1x1 0.0079 -> 0.0121 s, layer 4's
    /// 3x3 0.0104 -> 0.0191 s) and the heads' 1024-channel 3x3 (0.294 -> 0.310 s).
    fn weight_gradient_transposed(&self) -> bool {
        self.col_rows() >= 2 * self.channels_out
            && self.channels_out <= 256
            && self.positions() >= 512
    }

    /// Whether one image's forward runs a block of output rows at a time
    /// ([`forward_in_blocks`]): images in parallel, an im2col matrix larger than
    /// [`BLOCK_FROM_BYTES`] with at most [`BLOCK_MAX_ROWS`] rows. Against the whole matrix at
    /// once (`kernel_probe`, batch 8, three alternating runs): at 224 px the stem 0.0180-0.0188
    /// -> 0.0158-0.0162 s; at 448 px the stem 0.114-0.121 -> 0.100-0.107 s, the 64-channel 3x3
    /// at 112x112 0.063-0.072 -> 0.044-0.046 s, the 128-channel 3x3 at 56x56 0.045-0.053 ->
    /// 0.040-0.044 s. With more rows a block no longer fits in L2, and the heads' 3x3 (4608
    /// rows) ran 2-4 % slower.
    fn forward_in_blocks(&self) -> bool {
        let rows = self.col_rows();
        self.threads() == Threads::One
            && !self.is_pointwise()
            && rows <= BLOCK_MAX_ROWS
            && rows * self.positions() * size_of::<f32>() > BLOCK_FROM_BYTES
    }

    /// Whether the forward and the input gradient run as Winograd F(2x2, 3x3)
    /// ([`winograd`]): a 3x3 kernel with stride 1, padding 1 and no dilation, images in
    /// parallel, at least [`WINOGRAD_MIN_CHANNELS`] channels on each side and maps of at least
    /// [`WINOGRAD_MIN_SIZE`]. Against im2col (`kernel_probe`, batch 8, two alternating runs,
    /// forward / input gradient in seconds): the heads' 512 -> 1024 at 28x28 0.288-0.296 /
    /// 0.291-0.305 -> 0.184-0.200 / 0.196-0.245, layer 3's 256-channel at 14x14 0.0106 / 0.0099
    /// -> 0.0066-0.0069 / 0.0069-0.0078, layer 2's 128-channel at 28x28 0.0098 / 0.0094-0.0108 ->
    /// 0.0086-0.0093 / 0.0083-0.0084. It lost on layer 1's 64-channel at 56x56 (0.011-0.013 ->
    /// 0.017-0.023 s: too few channels for the transforms to pay) and, for the forward, on
    /// layer 4's 7x7 maps (0.0099-0.0102 -> 0.0110-0.0119 s: a 7x7 map is 16 tiles padded to 8x8).
    fn winograd(&self) -> bool {
        self.kernel == [3, 3]
            && self.stride == [1, 1]
            && self.padding == [1, 1]
            && self.dilation == [1, 1]
            && self.threads() == Threads::One
            && self.channels_in.min(self.channels_out) >= WINOGRAD_MIN_CHANNELS
            && self.height.min(self.width) >= WINOGRAD_MIN_SIZE
    }

    /// The [`winograd`] convolution of the forward.
    fn winograd_shape(&self) -> WinogradShape {
        WinogradShape {
            batch: self.batch,
            channels_in: self.channels_in,
            channels_out: self.channels_out,
            height: self.height,
            width: self.width,
        }
    }

    /// Whether groups of images run in parallel (one thread per product) or in turn (each
    /// product split over the pool).
    fn threads(&self) -> Threads {
        if self.batch >= rayon::current_num_threads() {
            Threads::One
        } else {
            Threads::Pool
        }
    }

    /// Images per product: one, or with [`ConvGeometry::folds`] an equal share of the batch
    /// per thread (the whole batch when there are fewer images than threads). One product
    /// over the whole batch, split by `gemm` over two threads, ran layer 4's 3x3 convolution
    /// only 1.2x faster than on one thread; a share per thread runs it 1.6-1.9x faster.
    fn group_size(&self) -> usize {
        match (self.folds(), self.threads()) {
            (false, _) => 1,
            (true, Threads::One) => self.batch.div_ceil(rayon::current_num_threads()),
            (true, Threads::Pool) => self.batch,
        }
    }

    /// Values of the im2col buffer for `images` images side by side (none for one image of a
    /// convolution that reads the image itself, see [`ConvGeometry::is_pointwise`]).
    fn scratch_len(&self, images: usize) -> usize {
        if self.is_pointwise() && images == 1 {
            0
        } else {
            self.col_rows() * images * self.positions()
        }
    }

    /// Image `b` of a `[batch, ...]` buffer of `len` values per image.
    fn image<'a>(&self, data: &'a [f32], b: usize, len: usize) -> &'a [f32] {
        &data[b * len..(b + 1) * len]
    }

    /// For kernel offset `k` along `axis`, the output positions `[lo, hi)` that read inside
    /// the input, and the input index of output position 0 (negative in the padding).
    fn valid_range(&self, axis: usize, k: usize) -> (usize, usize, isize) {
        let (size, out) = if axis == 0 {
            (self.height, self.height_out)
        } else {
            (self.width, self.width_out)
        };
        let offset = (k * self.dilation[axis]) as isize - self.padding[axis] as isize;
        let (lo, hi) = reading_range(size, out, self.stride[axis], offset);
        (lo, hi, offset)
    }

    /// Channel, kernel row and kernel column of im2col row `r`.
    fn row_origin(&self, r: usize) -> (usize, usize, usize) {
        let [kh, kw] = self.kernel;
        (r / (kh * kw), (r / kw) % kh, r % kw)
    }
}

/// The output positions `[lo, hi)` (of `out`) whose input index `o * stride + offset` lies
/// inside `0..size`: where one kernel tap reads the input rather than its padding.
pub(super) fn reading_range(
    size: usize,
    out: usize,
    stride: usize,
    offset: isize,
) -> (usize, usize) {
    let stride = stride as isize;
    // Smallest o with o * stride + offset >= bound.
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
    (lo, hi)
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

/// The images of group `index`, groups being `size` images long (the last may be shorter).
fn group_images(g: &ConvGeometry, size: usize, index: usize) -> Range<usize> {
    index * size..((index + 1) * size).min(g.batch)
}

/// Fills `col` (`[col_rows, images.len() * positions]`) with the input values each output
/// position of `images` sees, image `k` of the group in columns `k * positions..`.
fn im2col(g: &ConvGeometry, x: &[f32], images: Range<usize>, col: &mut [f32]) {
    let positions = g.positions();
    for_each_chunk(col, images.len() * positions, g.threads(), |(r, row)| {
        for (out, b) in row.chunks_mut(positions).zip(images.clone()) {
            im2col_row(g, g.image(x, b, g.image_len()), r, out);
        }
    });
}

/// Row `r` of [`im2col`] for one image: `out` is `positions` long.
fn im2col_row(g: &ConvGeometry, image: &[f32], r: usize, out: &mut [f32]) {
    im2col_row_part(g, image, r, 0..g.height_out, out);
}

/// The part of [`im2col_row`] for output rows `lines`: `out` is `lines.len() * width_out`
/// long.
fn im2col_row_part(
    g: &ConvGeometry,
    image: &[f32],
    r: usize,
    lines: Range<usize>,
    out: &mut [f32],
) {
    let plane = g.height * g.width;
    let (c, ki, kj) = g.row_origin(r);
    let (h_lo, h_hi, h_offset) = g.valid_range(0, ki);
    let (w_lo, w_hi, w_offset) = g.valid_range(1, kj);
    let channel = &image[c * plane..(c + 1) * plane];
    for (oh, out) in lines.zip(out.chunks_mut(g.width_out)) {
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

/// Adds every entry of `col` (`[col_rows, images * positions]`, laid out as [`im2col`] writes
/// it) back onto the input position it was read from, into `input` (`[images, channels_in,
/// height, width]`, zeroed): the adjoint of [`im2col`].
fn col2im(g: &ConvGeometry, col: &[f32], input: &mut [f32]) {
    let positions = g.positions();
    let columns = input.len() / g.image_len() * positions;
    for_each_chunk(input, g.height * g.width, g.threads(), |(i, channel)| {
        let (k, c) = (i / g.channels_in, i % g.channels_in);
        let row = |r: usize| &col[r * columns + k * positions..][..positions];
        col2im_channel(g, row, c, channel);
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

/// `[images, channels, positions]` as `[channels, images * positions]`: a group's output
/// gradient as the matrix its product reads.
fn fold(values: &[f32], channels: usize, positions: usize) -> Vec<f32> {
    let images = values.len() / (channels * positions);
    let mut folded = vec![0.0f32; values.len()];
    for (c, row) in folded.chunks_mut(images * positions).enumerate() {
        for (k, out) in row.chunks_mut(positions).enumerate() {
            let start = (k * channels + c) * positions;
            out.copy_from_slice(&values[start..start + positions]);
        }
    }
    folded
}

/// `[channels, images * positions]` written into `out` as `[images, channels, positions]`.
fn unfold(folded: &[f32], channels: usize, positions: usize, out: &mut [f32]) {
    let images = out.len() / (channels * positions);
    for (i, dst) in out.chunks_mut(positions).enumerate() {
        let (k, c) = (i / channels, i % channels);
        dst.copy_from_slice(&folded[(c * images + k) * positions..][..positions]);
    }
}

/// The im2col matrix of `images` (`[col_rows, images.len() * positions]`): written into
/// `scratch`, or the image itself where `scratch` is empty ([`ConvGeometry::scratch_len`]).
fn columns<'a>(
    g: &ConvGeometry,
    x: &'a [f32],
    images: Range<usize>,
    scratch: &'a mut [f32],
) -> &'a [f32] {
    if scratch.is_empty() {
        g.image(x, images.start, g.image_len())
    } else {
        im2col(g, x, images, scratch);
        scratch
    }
}

/// The output gradient of `images` as the `[c_out, images.len() * positions]` matrix a
/// product reads: one image's as it lies, several folded side by side ([`fold`]).
fn output_grad_matrix<'a>(
    g: &ConvGeometry,
    grad: &'a [f32],
    images: Range<usize>,
) -> Cow<'a, [f32]> {
    let grad = &grad[images.start * g.output_len()..images.end * g.output_len()];
    if images.len() == 1 {
        Cow::Borrowed(grad)
    } else {
        Cow::Owned(fold(grad, g.channels_out, g.positions()))
    }
}

thread_local! {
    /// This thread's im2col buffer, kept from one convolution to the next. A fresh zeroed
    /// buffer per rayon job (up to eight per convolution) went into the `memset` share of an
    /// iteration's CPU samples, 2.8 % before and 1.9 % after keeping it (`perf`). It holds the
    /// largest matrix this thread has needed: for the heads' 3x3 convolution one image's,
    /// 14 MB at 224 px, 58 MB at 448 px.
    static SCRATCH: RefCell<Vec<f32>> = const { RefCell::new(Vec::new()) };
}

/// Runs `f` on a `len`-long scratch buffer of unspecified contents: this thread's kept one,
/// or a new one where that is in use (a convolution run from inside another on this thread).
fn with_scratch<R>(len: usize, f: impl FnOnce(&mut [f32]) -> R) -> R {
    SCRATCH.with(|cell| match cell.try_borrow_mut() {
        Ok(mut scratch) => {
            if scratch.len() < len {
                scratch.resize(len, 0.0);
            }
            f(&mut scratch[..len])
        }
        Err(_) => f(&mut vec![0.0; len]),
    })
}

/// Runs `per_group(images, scratch, out)` for every group of [`ConvGeometry::group_size`]
/// images, `out` being the group's part (`out_len` values per image) of the new zeroed
/// `[batch * out_len]` buffer it returns; groups run in parallel or in turn as
/// [`ConvGeometry::threads`] says, and `scratch` is a buffer of
/// [`ConvGeometry::scratch_len`] values for the group, of unspecified contents.
fn for_each_group(
    g: &ConvGeometry,
    out_len: usize,
    per_group: impl Fn(Range<usize>, &mut [f32], &mut [f32]) + Sync + Send,
) -> Vec<f32> {
    let size = g.group_size();
    let run = |i: usize, out: &mut [f32]| {
        let images = group_images(g, size, i);
        with_scratch(g.scratch_len(images.len()), |scratch| {
            per_group(images, scratch, out);
        });
    };
    match g.threads() {
        Threads::One => par_chunks_zeroed(g.batch * out_len, size * out_len, run),
        Threads::Pool => {
            let mut output = vec![0.0; g.batch * out_len];
            for (i, out) in output.chunks_mut(size * out_len).enumerate() {
                run(i, out);
            }
            output
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
    if g.winograd() {
        let bias = bias.as_ref().map(values);
        let output = winograd::convolve(g.winograd_shape(), x, weight, Filter::Forward, bias);
        return tensor(output, vec![g.batch, g.channels_out, g.height, g.width]);
    }
    let (rows, positions) = (g.col_rows(), g.positions());
    let weight = MatRef::row_major(weight, g.channels_out, rows);
    let add_bias = |out: &mut [f32]| {
        if let Some(bias) = &bias {
            for (channel, &b) in out.chunks_mut(positions).zip(values(bias).iter().cycle()) {
                channel.iter_mut().for_each(|v| *v += b);
            }
        }
    };

    let output = for_each_group(&g, g.output_len(), |images, scratch, out| {
        let n = images.len();
        if n == 1 && g.forward_in_blocks() {
            forward_in_blocks(
                &g,
                g.image(x, images.start, g.image_len()),
                weight,
                scratch,
                out,
            );
            add_bias(out);
            return;
        }
        let col = MatRef::row_major(columns(&g, x, images, scratch), rows, n * positions);
        if n == 1 {
            // [c_out, rows] x [rows, positions] -> [c_out, positions]
            matmul(out, weight, col, false, g.threads());
        } else {
            // [c_out, rows] x [rows, n * positions] -> [c_out, n * positions]
            let mut folded = vec![0.0f32; g.channels_out * n * positions];
            matmul(&mut folded, weight, col, false, g.threads());
            unfold(&folded, g.channels_out, positions, out);
        }
        add_bias(out);
    });
    tensor(
        output,
        vec![g.batch, g.channels_out, g.height_out, g.width_out],
    )
}

/// Output positions per block of [`forward_in_blocks`] (rounded down to whole output rows).
const BLOCK_POSITIONS: usize = 256;

/// [`forward_in_blocks`] applies up to this many im2col rows: a block of [`BLOCK_POSITIONS`]
/// columns is then at most 1.2 MB, about the size of a core's L2 cache here (1 MB).
const BLOCK_MAX_ROWS: usize = 1152;

/// ... and from this size of one image's im2col matrix on (smaller ones stay in cache whole).
const BLOCK_FROM_BYTES: usize = 4 << 20;

/// One image's forward, `[c_out, rows] x im2col`, a block of whole output rows at a time:
/// each block's im2col columns are written into `scratch` and multiplied while they are in
/// cache, instead of the whole matrix going out to memory and back before `gemm` packs it
/// ([`ConvGeometry::forward_in_blocks`]).
fn forward_in_blocks(
    g: &ConvGeometry,
    image: &[f32],
    weight: MatRef<'_>,
    scratch: &mut [f32],
    out: &mut [f32],
) {
    let (rows, positions) = (g.col_rows(), g.positions());
    let lines_per_block = (BLOCK_POSITIONS / g.width_out).max(1);
    for first in (0..g.height_out).step_by(lines_per_block) {
        let lines = first..(first + lines_per_block).min(g.height_out);
        let width = lines.len() * g.width_out;
        let col = &mut scratch[..rows * width];
        for (r, row) in col.chunks_mut(width).enumerate() {
            im2col_row_part(g, image, r, lines.clone(), row);
        }
        let start = first * g.width_out;
        let block = &mut out[start..(g.channels_out - 1) * positions + start + width];
        // [c_out, rows] x [rows, width] -> columns `start..start + width` of the output
        let col = MatRef::row_major(col, rows, width);
        matmul_strided(block, positions, weight, col, false, Threads::One);
    }
}

/// The gradient of `conv2d(x, weight)` with respect to `x`: per group of images
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
    if g.winograd() {
        // The adjoint of a stride-1, padding-1 3x3 convolution: the same kind of convolution
        // of the output gradient, channels swapped and the filter flipped.
        let shape = WinogradShape {
            channels_in: g.channels_out,
            channels_out: g.channels_in,
            ..g.winograd_shape()
        };
        let input_grad = winograd::convolve(shape, grad, weight, Filter::Adjoint, None);
        return tensor(input_grad, vec![g.batch, g.channels_in, g.height, g.width]);
    }
    let (rows, positions) = (g.col_rows(), g.positions());
    let weight_t = MatRef::row_major(weight, g.channels_out, rows).t();

    let input_grad = for_each_group(&g, g.image_len(), |images, scratch, out| {
        let n = images.len();
        let grad = output_grad_matrix(&g, grad, images);
        let grad = MatRef::row_major(&grad, g.channels_out, n * positions);
        if scratch.is_empty() {
            // [c_in, c_out] x [c_out, positions] -> the image's gradient
            matmul(out, weight_t, grad, false, g.threads());
        } else {
            // [rows, c_out] x [c_out, n * positions] -> [rows, n * positions]
            matmul(scratch, weight_t, grad, false, g.threads());
            col2im(&g, scratch, out);
        }
    });
    tensor(input_grad, vec![g.batch, g.channels_in, g.height, g.width])
}

/// The gradient of `conv2d(x, weight)` with respect to `weight`:
/// `sum over images of output_grad x im2col(x)^T`, one product per group of images. With
/// groups in parallel, each thread sums its share of the batch into its own buffer and the
/// buffers are added in a fixed order, so the result does not depend on scheduling.
///
/// Where [`ConvGeometry::weight_gradient_transposed`] says so (3x3 convolutions and 1x1
/// reductions with few output channels on large maps), each share computes the transpose,
/// `im2col(x) x output_grad^T` (`[rows, c_out]`), and the shares are summed and transposed in
/// one pass at the end.
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
    let size = g.group_size();
    let transposed = g.weight_gradient_transposed();

    let threads = g.threads();
    let shares = match threads {
        Threads::One => rayon::current_num_threads().min(g.batch),
        Threads::Pool => 1,
    };
    let per_share = g.batch.div_ceil(shares);

    let sum_share = |images: Range<usize>| {
        let mut sum = vec![0.0f32; len];
        for (i, start) in images.clone().step_by(size).enumerate() {
            let group = start..(start + size).min(images.end);
            let n = group.len();
            with_scratch(g.scratch_len(n), |scratch| {
                let grad = output_grad_matrix(&g, grad, group.clone());
                let grad = MatRef::row_major(&grad, g.channels_out, n * positions);
                let col = MatRef::row_major(columns(&g, x, group, scratch), rows, n * positions);
                if transposed {
                    // [rows, n * positions] x [n * positions, c_out] -> [rows, c_out]
                    matmul(&mut sum, col, grad.t(), i > 0, threads);
                } else {
                    // [c_out, n * positions] x [n * positions, rows] -> [c_out, rows]
                    matmul(&mut sum, grad, col.t(), i > 0, threads);
                }
            });
        }
        sum
    };
    let sums: Vec<Vec<f32>> = (0..shares)
        .into_par_iter()
        .map(|s| sum_share(group_images(&g, per_share, s)))
        .collect();
    let gradient = if transposed {
        sum_transposed(&sums, rows, g.channels_out)
    } else {
        sum_in_order(sums, len)
    };
    tensor(
        gradient,
        vec![g.channels_out, g.channels_in, g.kernel[0], g.kernel[1]],
    )
}

/// The sum of `sums`, added in their order.
fn sum_in_order(sums: Vec<Vec<f32>>, len: usize) -> Vec<f32> {
    let mut sums = sums.into_iter();
    let mut total = sums.next().unwrap_or_else(|| vec![0.0; len]);
    for sum in sums {
        // In parallel: the heads' 3x3 weight gradient is 4.7 M values, and a sum on the
        // calling thread alone left the pool idle (about 20 ms an iteration, `perf_idle.py`).
        total
            .par_chunks_mut(1 << 15)
            .zip(sum.par_chunks(1 << 15))
            .for_each(|(a, b)| a.iter_mut().zip(b).for_each(|(a, &b)| *a += b));
    }
    total
}

/// The `[cols, rows]` transpose of the sum of `sums` (each `[rows, cols]` row-major), added in
/// their order, in one parallel pass.
fn sum_transposed(sums: &[Vec<f32>], rows: usize, cols: usize) -> Vec<f32> {
    // Sixteen output rows per piece: each input row contributes one 64-byte run to a piece.
    const BLOCK: usize = 16;
    par_chunks_zeroed(rows * cols, BLOCK * rows, |piece, out| {
        let first = piece * BLOCK;
        let block = out.len() / rows;
        for r in 0..rows {
            for sum in sums {
                let run = &sum[r * cols + first..][..block];
                for (c, &v) in run.iter().enumerate() {
                    out[c * rows + r] += v;
                }
            }
        }
    })
}
