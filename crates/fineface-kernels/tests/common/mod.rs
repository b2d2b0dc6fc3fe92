//! Helpers shared by the integration tests.
#![allow(dead_code)] // Each test binary uses a subset of the helpers.

use burn::tensor::backend::Backend;
use burn::tensor::ops::FloatTensor;
use burn::tensor::{Tensor, TensorPrimitive};

/// Largest absolute value.
pub fn max_abs<B: Backend, const D: usize>(t: Tensor<B, D>) -> f32 {
    t.abs().max().into_scalar().to_string().parse().unwrap()
}

/// Largest absolute difference; panics on a shape mismatch.
pub fn max_abs_diff<B: Backend, const D: usize>(a: Tensor<B, D>, b: Tensor<B, D>) -> f32 {
    assert_eq!(a.dims(), b.dims(), "shapes differ");
    max_abs(a - b)
}

/// Max |a - b| relative to max |b|.
pub fn relative_diff<B: Backend, const D: usize>(a: Tensor<B, D>, b: Tensor<B, D>) -> f32 {
    let scale = max_abs(b.clone());
    max_abs_diff(a, b) / (scale + 1e-6)
}

/// Asserts that `actual` is within `tolerance` of `expected` relative to max |expected|,
/// naming the value compared.
pub fn assert_close<B: Backend, const D: usize>(
    name: &str,
    actual: Tensor<B, D>,
    expected: Tensor<B, D>,
    tolerance: f32,
) {
    let diff = relative_diff(actual, expected);
    assert!(diff <= tolerance, "{name}: differs by {diff:e} (relative)");
}

/// A primitive float tensor as a tensor of `D` dimensions.
pub fn float<B: Backend, const D: usize>(tensor: FloatTensor<B>) -> Tensor<B, D> {
    Tensor::from_primitive(TensorPrimitive::Float(tensor))
}

/// A tensor's float primitive.
pub fn primitive<B: Backend, const D: usize>(tensor: Tensor<B, D>) -> FloatTensor<B> {
    tensor.into_primitive().tensor()
}
