//! One SGD update of a parameter through [`FineFaceBackend`]: weight decay, momentum and the
//! step as one op.

use burn::tensor::backend::Backend;
use burn::tensor::{Scalar, Tensor, TensorPrimitive};

use crate::FineFaceBackend;

/// The settings of one SGD update: PyTorch's `SGD` without Nesterov, as Burn's `Sgd` computes
/// it with momentum and weight decay.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SgdOptions {
    /// The learning rate.
    pub lr: f64,
    /// The momentum factor.
    pub momentum: f64,
    /// The dampening of the gradient in the momentum buffer (PyTorch's default is 0).
    pub dampening: f64,
    /// The L2 penalty added to the gradient.
    pub weight_decay: f32,
}

/// A parameter after one SGD update, with its new momentum buffer.
#[derive(Debug, Clone)]
pub struct SgdUpdate<B: Backend> {
    /// The updated parameter.
    pub param: B::FloatTensorPrimitive,
    /// The momentum buffer (`velocity` in Burn's `MomentumState`).
    pub velocity: B::FloatTensorPrimitive,
}

/// The update in Burn's tensor ops, in the order Burn's `Sgd` applies them, so that the
/// result is the same to the bit: `g = param * weight_decay + grad`; `v = g` at the first
/// step, else `g * (1 - dampening) + velocity * momentum`; `param - v * lr`.
pub(crate) fn sgd_reference<B: Backend>(
    param: B::FloatTensorPrimitive,
    grad: B::FloatTensorPrimitive,
    velocity: Option<B::FloatTensorPrimitive>,
    options: SgdOptions,
) -> SgdUpdate<B> {
    let SgdOptions {
        lr,
        momentum,
        dampening,
        weight_decay,
    } = options;
    // Burn's `Momentum` keeps its factor as the float element type, so round it the same way.
    let momentum = f64::from(momentum as f32);
    let grad = B::float_add(
        B::float_mul_scalar(param.clone(), Scalar::Float(f64::from(weight_decay))),
        grad,
    );
    let velocity = match velocity {
        Some(velocity) => B::float_add(
            B::float_mul_scalar(grad, Scalar::Float(1.0 - dampening)),
            B::float_mul_scalar(velocity, Scalar::Float(momentum)),
        ),
        None => grad,
    };
    let param = B::float_sub(
        param,
        B::float_mul_scalar(velocity.clone(), Scalar::Float(lr)),
    );
    SgdUpdate { param, velocity }
}

/// The parameter and momentum buffer after one SGD update ([`FineFaceBackend::sgd_step`]),
/// `velocity` being `None` at a parameter's first step.
///
/// # Shapes
/// - `param`, `grad`, `velocity`: the same shape
/// - outputs: that shape
///
/// # Panics
/// If the shapes differ.
pub fn sgd_step<B: FineFaceBackend, const D: usize>(
    param: Tensor<B, D>,
    grad: Tensor<B, D>,
    velocity: Option<Tensor<B, D>>,
    options: SgdOptions,
) -> [Tensor<B, D>; 2] {
    let dims = param.dims();
    assert_eq!(dims, grad.dims(), "sgd_step: the gradient's shape differs");
    if let Some(v) = &velocity {
        assert_eq!(
            dims,
            v.dims(),
            "sgd_step: the momentum buffer's shape differs"
        );
    }
    let update = B::sgd_step(
        param.into_primitive().tensor(),
        grad.into_primitive().tensor(),
        velocity.map(|v| v.into_primitive().tensor()),
        options,
    );
    let unwrap = |t| Tensor::<B, 1>::from_primitive(TensorPrimitive::Float(t)).reshape(dims);
    [unwrap(update.param), unwrap(update.velocity)]
}
