//! The SGD update as one parallel sweep. Burn's `Sgd` runs weight decay, momentum and the step
//! as five to six element-wise ops, each a sweep over the parameter on the calling thread
//! (Flex 0.21's element-wise ops are single-threaded): 0.2 s of a FineFACE iteration with the
//! pool idle (docs/performance.md).

use burn::backend::flex::FlexTensor;
use burn::tensor::TensorMetadata;
use rayon::prelude::*;

use super::tensor::{PIECE, contiguous, par_chunks_zeroed, tensor, values, writable_values};
use crate::sgd::{SgdOptions, SgdUpdate};

/// `tensor` with a contiguous buffer of its own to write into: as it is when nothing else
/// holds its storage, else a copy.
fn owned(tensor: FlexTensor) -> FlexTensor {
    let mut tensor = contiguous(tensor);
    if writable_values(&mut tensor).is_some() {
        return tensor;
    }
    let shape = tensor.shape().to_vec();
    self::tensor(values(&tensor).to_vec(), shape)
}

/// The values of a tensor from [`owned`], mutably.
fn values_mut(tensor: &mut FlexTensor) -> &mut [f32] {
    writable_values(tensor).expect("an owned f32 buffer (from `owned`)")
}

/// Burn's `Sgd` update (see [`crate::sgd::sgd_reference`]) element by element, with the
/// same `f32` operations in the same order, so the result is the same to the bit:
/// the parameter and momentum buffer are written in place where they are not shared.
pub(crate) fn sgd_step(
    param: FlexTensor,
    grad: FlexTensor,
    velocity: Option<FlexTensor>,
    options: SgdOptions,
) -> SgdUpdate<burn::backend::Flex> {
    // Burn's scalar ops round each factor to f32 (its `Momentum` keeps the factor as f32).
    let decay = options.weight_decay;
    let keep = (1.0 - options.dampening) as f32;
    let momentum = options.momentum as f32;
    let lr = options.lr as f32;
    let grad = contiguous(grad);
    let grad = values(&grad);
    let mut param = owned(param);
    let first = velocity.is_none();
    let mut velocity = match velocity {
        Some(v) => owned(v),
        None => tensor(
            par_chunks_zeroed(grad.len(), PIECE, |_, _| {}),
            param.shape().to_vec(),
        ),
    };
    values_mut(&mut param)
        .par_chunks_mut(PIECE)
        .zip(values_mut(&mut velocity).par_chunks_mut(PIECE))
        .zip(grad.par_chunks(PIECE))
        .for_each(|((p, v), g)| {
            for ((p, v), &g) in p.iter_mut().zip(v.iter_mut()).zip(g) {
                let g = *p * decay + g;
                *v = if first { g } else { g * keep + *v * momentum };
                *p -= *v * lr;
            }
        });
    SgdUpdate { param, velocity }
}
