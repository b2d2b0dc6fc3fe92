//! One SGD update of a parameter (weight decay, momentum and the step as one op): its
//! settings, its result and its reference in Burn's tensor ops (the default of
//! [`FineFaceBackend::sgd_step`](crate::FineFaceBackend::sgd_step)).

use burn::tensor::Scalar;
use burn::tensor::backend::Backend;

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
