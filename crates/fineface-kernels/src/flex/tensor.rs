//! Moving between [`FlexTensor`]s and the `f32` slices the kernels work on.

use std::mem::MaybeUninit;

use burn::backend::flex::FlexTensor;
use burn::tensor::{DType, TensorData, TensorMetadata};
use rayon::prelude::*;

/// The tensor with contiguous storage, copying only a strided one.
pub(crate) fn contiguous(tensor: FlexTensor) -> FlexTensor {
    if tensor.as_slice::<f32>().is_some() {
        tensor
    } else {
        tensor.to_contiguous()
    }
}

/// The values of a contiguous `f32` tensor (see [`contiguous`] and [`is_f32`]).
pub(crate) fn values(tensor: &FlexTensor) -> &[f32] {
    tensor
        .as_slice::<f32>()
        .expect("contiguous f32 tensor (checked by the caller)")
}

/// A tensor owning `values`, laid out as `shape`.
pub(crate) fn tensor(values: Vec<f32>, shape: Vec<usize>) -> FlexTensor {
    FlexTensor::from_data(TensorData::new(values, shape))
}

/// Values per parallel piece of the element-wise kernels: 128 KiB of each buffer, enough to
/// outweigh the scheduling.
pub(crate) const PIECE: usize = 32 * 1024;

/// The values of `tensor`, mutably, where its storage is exactly its contiguous `f32` values
/// (from offset 0) and nothing else holds it, so a kernel may write over them in place.
pub(crate) fn writable_values(tensor: &mut FlexTensor) -> Option<&mut [f32]> {
    let len = tensor.shape().num_elements();
    let whole = tensor.layout().contiguous_offsets() == Some((0, len));
    let buffer = tensor.try_storage_mut::<f32>().filter(|_| whole)?;
    Some(&mut buffer[..len])
}

/// Whether the kernels apply (`f32`; anything else takes Burn's or the generic path).
pub(crate) fn is_f32(tensors: &[&FlexTensor]) -> bool {
    tensors.iter().all(|t| t.dtype() == DType::F32)
}

/// A new `len`-long buffer filled in parallel, `chunk` values at a time: each piece (the last
/// may be shorter) is zeroed by the thread that then hands it to `fill(index, piece)`.
///
/// `vec![0.0; len]` zeroes the whole buffer on the calling thread before any work starts, with
/// the pool idle: 1-3 % of an iteration's wall time (`perf`, docs/performance.md). Here the
/// zeroing is split like the work, and a piece is still in cache when `fill` writes it.
pub(crate) fn par_chunks_zeroed(
    len: usize,
    chunk: usize,
    fill: impl Fn(usize, &mut [f32]) + Sync + Send,
) -> Vec<f32> {
    let mut buffer = Vec::with_capacity(len);
    buffer.spare_capacity_mut()[..len]
        .par_chunks_mut(chunk.max(1))
        .enumerate()
        .for_each(|(index, piece)| fill(index, zeroed(piece)));
    // SAFETY: `par_chunks_mut` covers all of the first `len` elements, and `zeroed`
    // initialised every piece before `fill` ran (if `fill` panics, the panic propagates
    // before this line and the buffer is dropped with length 0).
    #[allow(unsafe_code)]
    unsafe {
        buffer.set_len(len);
    }
    buffer
}

/// `piece` set to zero, as the initialised slice it now is.
fn zeroed(piece: &mut [MaybeUninit<f32>]) -> &mut [f32] {
    piece.fill(MaybeUninit::new(0.0));
    // SAFETY: every element was initialised on the line above, and `MaybeUninit<f32>` has the
    // size, alignment and validity of `f32`.
    #[allow(unsafe_code)]
    unsafe {
        &mut *(std::ptr::from_mut::<[MaybeUninit<f32>]>(piece) as *mut [f32])
    }
}
