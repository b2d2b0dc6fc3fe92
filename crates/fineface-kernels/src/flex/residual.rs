//! The end of a residual block, `relu(lhs + rhs)`, and the ReLU's gradient as single
//! parallel sweeps (Flex 0.21 runs element-wise ops on the calling thread with the pool idle).

use burn::backend::flex::FlexTensor;
use burn::tensor::TensorMetadata;
use rayon::prelude::*;

use super::tensor::{PIECE, contiguous, par_chunks_zeroed, tensor, values, writable_values};

/// `f(target[i], other[i])` for every `i` of two `f32` tensors of one shape, in parallel:
/// written over `target` where its buffer is contiguous and not shared (no allocation), else
/// into a new one.
fn zip_into(
    target: FlexTensor,
    other: FlexTensor,
    f: impl Fn(f32, f32) -> f32 + Sync + Send,
) -> FlexTensor {
    let (mut target, other) = (contiguous(target), contiguous(other));
    let other = values(&other);
    let len = other.len();
    if let Some(buffer) = writable_values(&mut target) {
        buffer
            .par_chunks_mut(PIECE)
            .zip(other.par_chunks(PIECE))
            .for_each(|(t, o)| t.iter_mut().zip(o).for_each(|(t, &o)| *t = f(*t, o)));
        return target;
    }
    let shape = target.shape().to_vec();
    let target = values(&target);
    let fresh = par_chunks_zeroed(len, PIECE, |i, out| {
        let (t, o) = (&target[i * PIECE..], &other[i * PIECE..]);
        for ((out, &t), &o) in out.iter_mut().zip(t).zip(o) {
            *out = f(t, o);
        }
    });
    tensor(fresh, shape)
}

/// `relu(lhs + rhs)` for two `f32` tensors of one shape (`max(0)` as Flex's ReLU).
pub(crate) fn add_relu(lhs: FlexTensor, rhs: FlexTensor) -> FlexTensor {
    zip_into(lhs, rhs, |x, y| (x + y).max(0.0))
}

/// `grad` where `output > 0`, zero elsewhere (Flex's `relu_backward`).
pub(crate) fn relu_gradient(output: FlexTensor, grad: FlexTensor) -> FlexTensor {
    zip_into(grad, output, |g, out| if out > 0.0 { g } else { 0.0 })
}
