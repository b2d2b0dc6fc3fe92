//! 2-d max pooling as one parallel sweep over the planes. Flex 0.21 runs `max_pool2d` as
//! its 3-d pool with indices, computing and dropping an index per output: 41 % of an MTCNN
//! detection's time under `perf` (P-Net's pools over the whole image pyramid).

use burn::backend::flex::FlexTensor;
use burn::tensor::TensorMetadata;

use super::tensor::{PIECE, contiguous, par_chunks_zeroed, tensor, values};
use crate::pool::MaxPoolOptions;

/// Max pooling of a contiguous `f32` `[batch, channels, h, w]` tensor with dilation 1:
/// padding reads as `-inf` (a window's maximum is over its pixels inside the map).
pub(crate) fn max_pool2d(x: FlexTensor, options: MaxPoolOptions) -> FlexTensor {
    let x = contiguous(x);
    let shape = x.shape().to_vec();
    let (planes, h, w) = (shape[0] * shape[1], shape[2], shape[3]);
    let (oh, ow) = (options.output_size(h, 0), options.output_size(w, 1));
    let x = values(&x);
    let plane_out = oh * ow;
    if planes == 0 || plane_out == 0 {
        return tensor(Vec::new(), vec![shape[0], shape[1], oh, ow]);
    }
    let planes_per_piece = PIECE.div_ceil(plane_out * 4).max(1);
    let output = par_chunks_zeroed(
        planes * plane_out,
        planes_per_piece * plane_out,
        |i, piece| {
            for (k, out) in piece.chunks_mut(plane_out).enumerate() {
                let p = i * planes_per_piece + k;
                pool_plane(
                    &x[p * h * w..(p + 1) * h * w],
                    [h, w],
                    out,
                    [oh, ow],
                    &options,
                );
            }
        },
    );
    tensor(output, vec![shape[0], shape[1], oh, ow])
}

/// The window of output index `o` along an axis: the input range it covers, clipped.
fn window(o: usize, size: usize, kernel: usize, stride: usize, padding: usize) -> (usize, usize) {
    let start = (o * stride).saturating_sub(padding);
    let end = (o * stride + kernel).saturating_sub(padding).min(size);
    (start, end)
}

/// The larger of two values, NaN if either is (PyTorch's `max_pool2d` propagates NaN;
/// `f32::max` would drop it), written so that a loop of it vectorises.
#[inline]
fn nan_max(a: f32, b: f32) -> f32 {
    if a > b || a.is_nan() { a } else { b }
}

/// One plane: per output row, the maximum over the window's input rows column by column
/// (a vectorised sweep), then over each window's columns.
fn pool_plane(
    plane: &[f32],
    [h, w]: [usize; 2],
    out: &mut [f32],
    [oh, ow]: [usize; 2],
    options: &MaxPoolOptions,
) {
    let ([kh, kw], [sh, sw], [ph, pw]) = (options.kernel_size, options.stride, options.padding);
    let mut columns = vec![f32::NEG_INFINITY; w];
    for oy in 0..oh {
        let (y0, y1) = window(oy, h, kh, sh, ph);
        columns.fill(f32::NEG_INFINITY);
        for y in y0..y1 {
            for (c, &v) in columns.iter_mut().zip(&plane[y * w..(y + 1) * w]) {
                *c = nan_max(*c, v);
            }
        }
        for (ox, out) in out[oy * ow..(oy + 1) * ow].iter_mut().enumerate() {
            let (x0, x1) = window(ox, w, kw, sw, pw);
            *out = columns[x0..x1]
                .iter()
                .fold(f32::NEG_INFINITY, |m, &v| nan_max(m, v));
        }
    }
}
