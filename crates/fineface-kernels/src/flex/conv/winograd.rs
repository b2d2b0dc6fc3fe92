//! 3x3 convolutions with stride 1 and padding 1 by Winograd's minimal filtering F(2x2, 3x3)
//! (Lavin and Gray, "Fast Algorithms for Convolutional Neural Networks", 2016).
//!
//! Each 2x2 block of output positions (a tile) is computed from the 4x4 block of input it
//! sees: the input tile and the 3x3 filter are each taken to 16 points (`V = B^T d B`,
//! `U = G f G^T`), multiplied point by point and summed over the input channels, and taken
//! back (`Y = A^T M A`). Summed over channels, each point is one matrix product, `M[p] =
//! U[p] x V[p]` (`[c_out, c_in] x [c_in, tiles]`), so the 36 multiply-adds per tile and
//! channel pair of the direct 3x3 convolution become 16: 2.25x less arithmetic, and an input
//! copy 4x the image instead of im2col's 9x.
//!
//! The input gradient of such a convolution is the same kind of convolution of the output
//! gradient, with the filter flipped and its channels swapped, so it runs here too. The
//! weight gradient stays an im2col product.
//!
//! Rounding: the transforms add and halve values, so results differ from the direct sum in
//! the last bits. In `tests/ops.rs` the input gradient differs from Burn's direct convolution
//! by 2-5e-7 of its largest value (the im2col path matches it exactly); the forward stays
//! within the 1e-6 both paths show.
//!
//! Scratch: a group's transformed input and products, `16 * tiles * (c_in + c_out)` values
//! (for the heads' 3x3 at 224 px 19 MB a thread, 77 MB at 448 px; im2col needed 14 and 58).

use std::ops::Range;

use super::super::matmul::{MatRef, Threads, matmul};
use super::super::tensor::par_chunks_zeroed;
use super::with_scratch;

/// Points per tile: a 4x4 input tile, a 2x2 output tile.
const POINTS: usize = 16;

/// A product should cover at least this many tiles: on small maps (49 tiles an image at
/// 14x14) a group of images runs as one product, their tiles side by side.
const MIN_TILES_PER_PRODUCT: usize = 128;

/// A stride-1, padding-1 3x3 convolution of `[batch, channels_in, height, width]` into
/// `[batch, channels_out, height, width]`.
#[derive(Debug, Clone, Copy)]
pub(super) struct WinogradShape {
    pub(super) batch: usize,
    pub(super) channels_in: usize,
    pub(super) channels_out: usize,
    pub(super) height: usize,
    pub(super) width: usize,
}

impl WinogradShape {
    fn tiles_h(&self) -> usize {
        self.height.div_ceil(2)
    }

    fn tiles_w(&self) -> usize {
        self.width.div_ceil(2)
    }

    /// Tiles per image.
    fn tiles(&self) -> usize {
        self.tiles_h() * self.tiles_w()
    }

    fn plane(&self) -> usize {
        self.height * self.width
    }

    /// Images per product: enough for [`MIN_TILES_PER_PRODUCT`] tiles, within one thread's
    /// share of the batch, and dividing the share evenly.
    fn group_size(&self) -> usize {
        let share = self.batch.div_ceil(rayon::current_num_threads()).max(1);
        let wanted = MIN_TILES_PER_PRODUCT.div_ceil(self.tiles()).clamp(1, share);
        share.div_ceil(share.div_ceil(wanted))
    }

    /// Scratch values for a group of `images`: its transformed input and products.
    fn scratch_len(&self, images: usize) -> usize {
        POINTS * images * self.tiles() * (self.channels_in + self.channels_out)
    }
}

/// Which filter a convolution applies: the weight `[c_out, c_in, 3, 3]` as it lies (the
/// forward), or flipped with its channels swapped (the input gradient).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Filter {
    /// `f[o][i] = weight[o][i]`.
    Forward,
    /// `f[i][o] = weight[o][i]` rotated by 180 degrees.
    Adjoint,
}

/// The filters taken to the 16 points, `U = G f G^T` with `G = [[1, 0, 0], [1/2, 1/2, 1/2],
/// [1/2, -1/2, 1/2], [0, 0, 1]]`, laid out `[outputs, 16, inputs]` (point `p`'s matrix is
/// `[outputs, inputs]` with rows `16 * inputs` apart), computed in parallel over the outputs:
/// for the heads' 3x3 convolution that is 8 M values a call.
fn transform_filters(weight: &[f32], shape: &WinogradShape, filter: Filter) -> Vec<f32> {
    let (outputs, inputs) = (shape.channels_out, shape.channels_in);
    par_chunks_zeroed(outputs * POINTS * inputs, POINTS * inputs, |o, u| {
        for i in 0..inputs {
            let f: [[f32; 3]; 3] = match filter {
                Filter::Forward => {
                    let w = &weight[(o * inputs + i) * 9..][..9];
                    std::array::from_fn(|r| std::array::from_fn(|c| w[r * 3 + c]))
                }
                Filter::Adjoint => {
                    // The weight is [outputs of the forward = inputs here, outputs here, 3, 3].
                    let w = &weight[(i * outputs + o) * 9..][..9];
                    std::array::from_fn(|r| std::array::from_fn(|c| w[(2 - r) * 3 + (2 - c)]))
                }
            };
            // G f: [4, 3]
            let gf: [[f32; 3]; 4] = [
                f[0],
                std::array::from_fn(|c| 0.5 * (f[0][c] + f[1][c] + f[2][c])),
                std::array::from_fn(|c| 0.5 * (f[0][c] - f[1][c] + f[2][c])),
                f[2],
            ];
            for (a, row) in gf.iter().enumerate() {
                // Row a of (G f) G^T.
                let point = [
                    row[0],
                    0.5 * (row[0] + row[1] + row[2]),
                    0.5 * (row[0] - row[1] + row[2]),
                    row[2],
                ];
                for (b, value) in point.into_iter().enumerate() {
                    u[(a * 4 + b) * inputs + i] = value;
                }
            }
        }
    })
}

/// Takes the input tiles of `images` to the 16 points, `V = B^T d B` with `B^T = [[1, 0, -1,
/// 0], [0, 1, 1, 0], [0, -1, 1, 0], [0, 1, 0, -1]]`: `v` is `[16, channels_in, tiles]`, image
/// `k` of the group in tiles `k * tiles_per_image..`.
///
/// A row of tiles reads four input rows (zero outside the map). They are combined row-wise
/// for every column at once (`B^T d`), then column-wise per tile (`(B^T d) B`), each step a
/// loop over whole rows. Gathering and transforming tile by tile (neighbouring tiles share two
/// columns) took 3.6 % of an iteration's samples (`perf`).
fn transform_input(shape: &WinogradShape, input: &[f32], images: Range<usize>, v: &mut [f32]) {
    let tiles = images.len() * shape.tiles();
    let per_point = shape.channels_in * tiles;
    let (width, tiles_w) = (shape.width, shape.tiles_w());
    // Column j of a band holds input column j - 1: one zero column each side (two on the
    // right of an odd width).
    let columns = 2 * tiles_w + 2;
    let mut band = vec![0.0f32; 4 * columns];
    let mut combined = vec![0.0f32; 4 * columns];
    for (k, b) in images.enumerate() {
        for c in 0..shape.channels_in {
            let plane = &input[(b * shape.channels_in + c) * shape.plane()..][..shape.plane()];
            for th in 0..shape.tiles_h() {
                for (i, row) in band.chunks_mut(columns).enumerate() {
                    match (2 * th + i).checked_sub(1).filter(|&r| r < shape.height) {
                        Some(r) => {
                            row[0] = 0.0;
                            row[1..=width].copy_from_slice(&plane[r * width..][..width]);
                            row[width + 1..].fill(0.0);
                        }
                        None => row.fill(0.0),
                    }
                }
                // B^T d, every column: [4, columns]
                let (d0, rest) = band.split_at(columns);
                let (d1, rest) = rest.split_at(columns);
                let (d2, d3) = rest.split_at(columns);
                // Rows of B^T as (row, row, sign): x + (-1) y is x - y exactly.
                let rows = [
                    (d0, d2, -1.0),
                    (d1, d2, 1.0),
                    (d2, d1, -1.0),
                    (d1, d3, -1.0),
                ];
                for (out, (x, y, sign)) in combined.chunks_mut(columns).zip(rows) {
                    for (o, (x, y)) in out.iter_mut().zip(x.iter().zip(y)) {
                        *o = x + sign * y;
                    }
                }
                // (B^T d) B, tile by tile along the row: tile tw reads columns 2 tw..2 tw + 4.
                let first = c * tiles + k * shape.tiles() + th * tiles_w;
                for (a, s) in combined.chunks(columns).enumerate() {
                    let mut point = |b: usize, f: fn(&[f32]) -> f32| {
                        let out = &mut v[(a * 4 + b) * per_point + first..][..tiles_w];
                        for (tw, o) in out.iter_mut().enumerate() {
                            *o = f(&s[2 * tw..2 * tw + 4]);
                        }
                    };
                    point(0, |r| r[0] - r[2]);
                    point(1, |r| r[1] + r[2]);
                    point(2, |r| r[2] - r[1]);
                    point(3, |r| r[1] - r[3]);
                }
            }
        }
    }
}

/// Takes the products `m` (`[16, channels_out, tiles]`) of a group back to its output
/// (`[images, channels_out, height, width]`, every value written), `Y = A^T M A` with `A^T =
/// [[1, 1, 1, 0], [0, 1, -1, -1]]`, adding `bias`; a row of tiles at a time, like
/// [`transform_input`].
fn inverse_output(shape: &WinogradShape, m: &[f32], bias: Option<&[f32]>, out: &mut [f32]) {
    let images = out.len() / (shape.channels_out * shape.plane());
    let tiles = images * shape.tiles();
    let per_point = shape.channels_out * tiles;
    let (width, tiles_w) = (shape.width, shape.tiles_w());
    // A^T M for a row of tiles: [2, 4, tiles_w]
    let mut q = vec![0.0f32; 8 * tiles_w];
    for (i, plane) in out.chunks_mut(shape.plane()).enumerate() {
        let (k, o) = (i / shape.channels_out, i % shape.channels_out);
        let bias = bias.map_or(0.0, |bias| bias[o]);
        for th in 0..shape.tiles_h() {
            let first = o * tiles + k * shape.tiles() + th * tiles_w;
            let point = |p: usize| &m[p * per_point + first..][..tiles_w];
            let (q0, q1) = q.split_at_mut(4 * tiles_w);
            for c in 0..4 {
                let (m0, m1, m2, m3) = (point(c), point(4 + c), point(8 + c), point(12 + c));
                let q0 = &mut q0[c * tiles_w..][..tiles_w];
                let q1 = &mut q1[c * tiles_w..][..tiles_w];
                for tw in 0..tiles_w {
                    q0[tw] = m0[tw] + m1[tw] + m2[tw];
                    q1[tw] = m1[tw] - m2[tw] - m3[tw];
                }
            }
            // (A^T M) A: output row 2 th + a, columns 2 tw and 2 tw + 1.
            for (a, q) in q.chunks(4 * tiles_w).enumerate() {
                let Some(row) = plane.chunks_mut(width).nth(2 * th + a) else {
                    break;
                };
                let (q0, rest) = q.split_at(tiles_w);
                let (q1, rest) = rest.split_at(tiles_w);
                let (q2, q3) = rest.split_at(tiles_w);
                for (tw, pair) in row.chunks_mut(2).enumerate() {
                    pair[0] = q0[tw] + q1[tw] + q2[tw] + bias;
                    if let Some(second) = pair.get_mut(1) {
                        *second = q1[tw] - q2[tw] - q3[tw] + bias;
                    }
                }
            }
        }
    }
}

/// The convolution of `input` by the filters of `weight` ([`Filter`]) plus `bias`, images in
/// parallel (a group of [`WinogradShape::group_size`] images per product, each product on one
/// thread).
///
/// # Shapes
/// - `input`: `[batch, channels_in, height, width]`
/// - `weight`: `[channels_out, channels_in, 3, 3]` for [`Filter::Forward`],
///   `[channels_in, channels_out, 3, 3]` for [`Filter::Adjoint`]
/// - output: `[batch, channels_out, height, width]`
pub(super) fn convolve(
    shape: WinogradShape,
    input: &[f32],
    weight: &[f32],
    filter: Filter,
    bias: Option<&[f32]>,
) -> Vec<f32> {
    let u = transform_filters(weight, &shape, filter);
    let size = shape.group_size();
    let image_out = shape.channels_out * shape.plane();
    par_chunks_zeroed(shape.batch * image_out, size * image_out, |index, out| {
        let images = index * size..(index * size + out.len() / image_out);
        let tiles = images.len() * shape.tiles();
        with_scratch(shape.scratch_len(images.len()), |scratch| {
            let (v, m) = scratch.split_at_mut(POINTS * shape.channels_in * tiles);
            transform_input(&shape, input, images, v);
            for p in 0..POINTS {
                // [c_out, c_in] x [c_in, tiles] -> [c_out, tiles]
                let u = MatRef::with_row_stride(
                    &u[p * shape.channels_in..],
                    shape.channels_out,
                    shape.channels_in,
                    POINTS * shape.channels_in,
                );
                let v = &v[p * shape.channels_in * tiles..][..shape.channels_in * tiles];
                let v = MatRef::row_major(v, shape.channels_in, tiles);
                let m = &mut m[p * shape.channels_out * tiles..][..shape.channels_out * tiles];
                matmul(m, u, v, false, Threads::One);
            }
            inverse_output(&shape, m, bias, out);
        });
    })
}
