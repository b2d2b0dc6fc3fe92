//! Moving between [`FlexTensor`]s and the `f32` slices the kernels work on.

use burn::backend::flex::FlexTensor;
use burn::tensor::{DType, TensorData};

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

/// Whether the kernels apply (`f32`; anything else takes Burn's or the generic path).
pub(crate) fn is_f32(tensors: &[&FlexTensor]) -> bool {
    tensors.iter().all(|t| t.dtype() == DType::F32)
}
