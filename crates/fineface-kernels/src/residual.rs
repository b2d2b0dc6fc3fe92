//! The end of a residual block through [`FineFaceBackend`].

use burn::tensor::{Tensor, TensorPrimitive};

use crate::FineFaceBackend;

/// `relu(lhs + rhs)` as one op ([`FineFaceBackend::add_relu`]): the residual addition and the
/// ReLU after it.
///
/// # Shapes
/// - `lhs`, `rhs`: the same shape
/// - output: that shape
///
/// # Panics
/// If the shapes differ (no broadcasting).
pub fn add_relu<B: FineFaceBackend, const D: usize>(
    lhs: Tensor<B, D>,
    rhs: Tensor<B, D>,
) -> Tensor<B, D> {
    assert_eq!(
        lhs.dims(),
        rhs.dims(),
        "add_relu takes two tensors of one shape"
    );
    let output = B::add_relu(lhs.into_primitive().tensor(), rhs.into_primitive().tensor());
    Tensor::from_primitive(TensorPrimitive::Float(output))
}
