//! A bounds-checked view of the `gemm` crate (the GEMM Flex itself runs on) for strided
//! `f32` matrices, so the convolution kernels can multiply transposed views in place.

/// A read-only `rows x cols` matrix inside `data`: element `(i, j)` at
/// `i * row_stride + j * col_stride`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct MatRef<'a> {
    data: &'a [f32],
    rows: usize,
    cols: usize,
    row_stride: usize,
    col_stride: usize,
}

impl<'a> MatRef<'a> {
    /// `data` as a row-major `rows x cols` matrix.
    ///
    /// # Panics
    /// If `data` holds fewer than `rows * cols` values.
    pub(crate) fn row_major(data: &'a [f32], rows: usize, cols: usize) -> Self {
        assert!(
            data.len() >= rows * cols,
            "a {rows}x{cols} matrix needs {} values, got {}",
            rows * cols,
            data.len()
        );
        Self {
            data,
            rows,
            cols,
            row_stride: cols,
            col_stride: 1,
        }
    }

    /// A `rows x cols` matrix in `data` whose rows start `row_stride` values apart.
    ///
    /// # Panics
    /// If `row_stride < cols` or `data` is too short for the last row.
    pub(crate) fn with_row_stride(
        data: &'a [f32],
        rows: usize,
        cols: usize,
        row_stride: usize,
    ) -> Self {
        assert!(
            row_stride >= cols && data.len() >= rows.saturating_sub(1) * row_stride + cols,
            "{} values with row stride {row_stride} cannot hold a {rows}x{cols} matrix",
            data.len()
        );
        Self {
            data,
            rows,
            cols,
            row_stride,
            col_stride: 1,
        }
    }

    /// The transposed view (no copy).
    pub(crate) fn t(self) -> Self {
        Self {
            rows: self.cols,
            cols: self.rows,
            row_stride: self.col_stride,
            col_stride: self.row_stride,
            ..self
        }
    }
}

/// How one product may use the thread pool.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Threads {
    /// On the calling thread (the caller runs several products in parallel).
    One,
    /// Split over rayon's pool.
    Pool,
}

/// `dst = lhs x rhs`, or `dst += lhs x rhs` when `accumulate`, with `dst` row-major.
///
/// # Panics
/// If the shapes do not chain or `dst` is not `lhs.rows x rhs.cols`.
pub(crate) fn matmul(
    dst: &mut [f32],
    lhs: MatRef<'_>,
    rhs: MatRef<'_>,
    accumulate: bool,
    threads: Threads,
) {
    assert_eq!(
        dst.len(),
        lhs.rows * rhs.cols,
        "destination is not {}x{}",
        lhs.rows,
        rhs.cols
    );
    matmul_strided(dst, rhs.cols, lhs, rhs, accumulate, threads);
}

/// [`matmul`] into the `lhs.rows x rhs.cols` block of `dst` whose row `i` starts at
/// `i * dst_row_stride` (a block of columns of a wider row-major matrix).
///
/// # Panics
/// If the shapes do not chain, `dst_row_stride < rhs.cols` or `dst` is too short for the
/// block.
pub(crate) fn matmul_strided(
    dst: &mut [f32],
    dst_row_stride: usize,
    lhs: MatRef<'_>,
    rhs: MatRef<'_>,
    accumulate: bool,
    threads: Threads,
) {
    let (m, k, n) = (lhs.rows, lhs.cols, rhs.cols);
    assert_eq!(
        rhs.rows, k,
        "inner dimensions differ: {m}x{k} by {}x{n}",
        rhs.rows
    );
    assert!(
        dst_row_stride >= n && dst.len() >= m.saturating_sub(1) * dst_row_stride + n,
        "destination of {} values with row stride {dst_row_stride} cannot hold {m}x{n}",
        dst.len()
    );
    if m == 0 || n == 0 {
        return;
    }
    if k == 0 {
        if !accumulate {
            for row in dst.chunks_mut(dst_row_stride).take(m) {
                row[..n].fill(0.0);
            }
        }
        return;
    }
    let parallelism = match threads {
        Threads::One => gemm::Parallelism::None,
        Threads::Pool => gemm::Parallelism::Rayon(0),
    };
    // SAFETY: `row_major` checked that each operand's slice holds its whole matrix and `t` only
    // swaps the two strides, so every element gemm reads, `(i, j)` at `i * row_stride + j *
    // col_stride` for `i < rows, j < cols`, lies in its slice; `dst` holds an `m x n`
    // row-major block with rows `dst_row_stride >= n` apart (checked above), and is borrowed
    // mutably, so nothing else aliases it.
    #[allow(unsafe_code)]
    unsafe {
        gemm::gemm(
            m,
            n,
            k,
            dst.as_mut_ptr(),
            1,
            dst_row_stride as isize,
            accumulate,
            lhs.data.as_ptr(),
            lhs.col_stride as isize,
            lhs.row_stride as isize,
            rhs.data.as_ptr(),
            rhs.col_stride as isize,
            rhs.row_stride as isize,
            1.0,
            1.0,
            false,
            false,
            false,
            parallelism,
        );
    }
}
