//! The backend extension trait and its implementations for the backends we ship.

use burn::backend::Flex;
use burn::tensor::TensorMetadata;
use burn::tensor::backend::{AutodiffBackend, Backend};
use burn::tensor::ops::{ActivationOps, ConvOptions, FloatTensor, FloatTensorOps, ModuleOps};
use tracing::trace_span;

use super::batch_norm::{
    BatchNormForward, BatchNormGradients, BatchNormOptions, BatchNormStatistics, normalise,
    normalise_backward,
};
use super::flex::{self, ConvGeometry};
use super::sgd::{SgdOptions, SgdUpdate, sgd_reference};

/// A Burn backend with the kernels FineFACE-rs replaces.
///
/// Every method has a default built from Burn's ops (the convolution ones are Burn's own, the
/// BatchNorm ones the closed form in Burn tensor ops), so a backend opts in with an empty
/// `impl FineFaceBackend for MyBackend {}`. `Autodiff<B>` implements
/// [`FineFaceBackend::conv2d_tracked`] and [`FineFaceBackend::batch_norm_train`] as single
/// autodiff ops that run the inner backend's forward, and whose backward asks it for
/// [`FineFaceBackend::conv2d_input_gradient`], [`FineFaceBackend::conv2d_weight_gradient`]
/// and [`FineFaceBackend::batch_norm_backward`].
pub trait FineFaceBackend: Backend {
    /// A 2-d convolution (same contract as Burn's `ModuleOps::conv2d`). On an autodiff
    /// backend its gradients come from [`FineFaceBackend::conv2d_input_gradient`] and
    /// [`FineFaceBackend::conv2d_weight_gradient`].
    fn conv2d_tracked(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        bias: Option<FloatTensor<Self>>,
        options: ConvOptions<2>,
    ) -> FloatTensor<Self> {
        Self::conv2d(x, weight, bias, options)
    }

    /// The gradient of a 2-d convolution's input (same contract as Burn's
    /// `ModuleOps::conv2d_x_backward`).
    fn conv2d_input_gradient(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        output_grad: FloatTensor<Self>,
        options: ConvOptions<2>,
    ) -> FloatTensor<Self> {
        Self::conv2d_x_backward(x, weight, output_grad, options)
    }

    /// The gradient of a 2-d convolution's weight (same contract as Burn's
    /// `ModuleOps::conv2d_weight_backward`).
    fn conv2d_weight_gradient(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        output_grad: FloatTensor<Self>,
        options: ConvOptions<2>,
    ) -> FloatTensor<Self> {
        Self::conv2d_weight_backward(x, weight, output_grad, options)
    }

    /// Training-mode batch normalisation of `[batch * channels, spatial]` rows (one row per
    /// sample and channel) with per-channel batch statistics. On an autodiff backend it is
    /// one op whose backward is [`FineFaceBackend::batch_norm_backward`], not the graph of a
    /// dozen element-wise ops; with [`BatchNormOptions::relu`] it includes the ReLU that
    /// follows.
    fn batch_norm_train(
        rows: FloatTensor<Self>,
        gamma: FloatTensor<Self>,
        beta: FloatTensor<Self>,
        options: BatchNormOptions,
    ) -> BatchNormForward<Self> {
        Self::batch_norm_forward(rows, gamma, beta, options)
    }

    /// `relu(lhs + rhs)` of two tensors of one shape: the end of a residual block. On an
    /// autodiff backend it is one op whose backward hands both inputs
    /// [`FineFaceBackend::relu_gradient`], not an addition and a ReLU node.
    fn add_relu(lhs: FloatTensor<Self>, rhs: FloatTensor<Self>) -> FloatTensor<Self> {
        Self::relu(Self::float_add(lhs, rhs))
    }

    /// The gradient through a ReLU from its output: `grad` where `output > 0`, zero elsewhere
    /// (same contract as Burn's `ActivationOps::relu_backward`).
    fn relu_gradient(output: FloatTensor<Self>, grad: FloatTensor<Self>) -> FloatTensor<Self> {
        Self::relu_backward(output, grad)
    }

    /// The forward of [`FineFaceBackend::batch_norm_train`] with what its backward needs.
    fn batch_norm_forward(
        rows: FloatTensor<Self>,
        gamma: FloatTensor<Self>,
        beta: FloatTensor<Self>,
        options: BatchNormOptions,
    ) -> BatchNormForward<Self> {
        normalise::<Self>(rows, gamma, beta, options)
    }

    /// The closed-form backward of [`FineFaceBackend::batch_norm_forward`], given the
    /// output gradient, the input rows and the forward's statistics.
    fn batch_norm_backward(
        grad: FloatTensor<Self>,
        rows: FloatTensor<Self>,
        statistics: BatchNormStatistics<Self>,
        options: BatchNormOptions,
    ) -> BatchNormGradients<Self> {
        normalise_backward::<Self>(grad, rows, statistics, options)
    }

    /// One SGD update of a parameter from its gradient and momentum buffer (`None` at its
    /// first step), with the arithmetic of Burn's `Sgd` (weight decay, momentum, step).
    fn sgd_step(
        param: FloatTensor<Self>,
        grad: FloatTensor<Self>,
        velocity: Option<FloatTensor<Self>>,
        options: SgdOptions,
    ) -> SgdUpdate<Self> {
        sgd_reference::<Self>(param, grad, velocity, options)
    }
}

/// An autodiff backend whose inner backend is a [`FineFaceBackend`] too (what training needs:
/// the crops and evaluation run on the inner backend).
pub trait FineFaceAutodiffBackend:
    AutodiffBackend<InnerBackend: FineFaceBackend> + FineFaceBackend
{
}

impl<B> FineFaceAutodiffBackend for B where
    B: AutodiffBackend<InnerBackend: FineFaceBackend> + FineFaceBackend
{
}

/// Convolutions (groups 1, `f32`) as one matrix product per image over an im2col buffer
/// (`ops/flex/conv.rs`); grouped or non-`f32` ones stay Burn's. Flex 0.21's own 3x3 forward and
/// input gradient ran at 0.3-0.9x PyTorch's, and its weight gradient (a convolution of the
/// input with the output gradient, thousands of matrix-vector products) at 0.06-0.6x
/// (`cargo run --release -p fineface-model --example kernel_probe`, docs/performance.md).
/// Each Flex kernel below runs inside a `trace`-level span (a convolution's carries its pass
/// and shape), so that a subscriber can time an iteration op by op (`bench_fineface
/// --op-times`, `tools/op_times.py`); without one at `trace` level a span costs a check.
impl FineFaceBackend for Flex {
    fn conv2d_tracked(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        bias: Option<FloatTensor<Self>>,
        options: ConvOptions<2>,
    ) -> FloatTensor<Self> {
        let bias_f32 = bias.as_ref().is_none_or(|b| flex::is_f32(&[b]));
        match ConvGeometry::of(&x, &weight, &options) {
            Some(geometry) if bias_f32 => {
                let _span = geometry.span("forward").entered();
                flex::conv2d(geometry, x, weight, bias)
            }
            _ => Self::conv2d(x, weight, bias, options),
        }
    }

    fn conv2d_input_gradient(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        output_grad: FloatTensor<Self>,
        options: ConvOptions<2>,
    ) -> FloatTensor<Self> {
        match ConvGeometry::of(&x, &weight, &options) {
            Some(geometry) if flex::is_f32(&[&output_grad]) => {
                let _span = geometry.span("input_gradient").entered();
                flex::conv2d_input_gradient(geometry, weight, output_grad)
            }
            _ => Self::conv2d_x_backward(x, weight, output_grad, options),
        }
    }

    fn conv2d_weight_gradient(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        output_grad: FloatTensor<Self>,
        options: ConvOptions<2>,
    ) -> FloatTensor<Self> {
        match ConvGeometry::of(&x, &weight, &options) {
            Some(geometry) if flex::is_f32(&[&output_grad]) => {
                let _span = geometry.span("weight_gradient").entered();
                flex::conv2d_weight_gradient(geometry, x, output_grad)
            }
            _ => Self::conv2d_weight_backward(x, weight, output_grad, options),
        }
    }

    /// One parallel sweep; Flex 0.21 runs the addition and the ReLU as two sweeps on the
    /// calling thread.
    fn add_relu(lhs: FloatTensor<Self>, rhs: FloatTensor<Self>) -> FloatTensor<Self> {
        if flex::is_f32(&[&lhs, &rhs]) && lhs.shape() == rhs.shape() {
            let _span = trace_span!("add_relu").entered();
            flex::add_relu(lhs, rhs)
        } else {
            Self::relu(Self::float_add(lhs, rhs))
        }
    }

    /// One parallel sweep (Flex 0.21's runs on the calling thread).
    fn relu_gradient(output: FloatTensor<Self>, grad: FloatTensor<Self>) -> FloatTensor<Self> {
        if flex::is_f32(&[&output, &grad]) && output.shape() == grad.shape() {
            let _span = trace_span!("relu_gradient").entered();
            flex::relu_gradient(output, grad)
        } else {
            Self::relu_backward(output, grad)
        }
    }

    /// Two sweeps over memory each way instead of about eight (see `ops/flex/batch_norm.rs`).
    fn batch_norm_forward(
        rows: FloatTensor<Self>,
        gamma: FloatTensor<Self>,
        beta: FloatTensor<Self>,
        options: BatchNormOptions,
    ) -> BatchNormForward<Self> {
        if flex::is_f32(&[&rows, &gamma, &beta]) {
            let _span = trace_span!("batch_norm", pass = "forward").entered();
            flex::batch_norm_forward(rows, gamma, beta, options)
        } else {
            normalise::<Self>(rows, gamma, beta, options)
        }
    }

    fn batch_norm_backward(
        grad: FloatTensor<Self>,
        rows: FloatTensor<Self>,
        statistics: BatchNormStatistics<Self>,
        options: BatchNormOptions,
    ) -> BatchNormGradients<Self> {
        let s = &statistics;
        if flex::is_f32(&[&grad, &rows, &s.mean, &s.inv_std, &s.gamma, &s.beta]) {
            let _span = trace_span!("batch_norm", pass = "backward").entered();
            flex::batch_norm_backward(grad, rows, statistics, options)
        } else {
            normalise_backward::<Self>(grad, rows, statistics, options)
        }
    }

    /// One parallel sweep, in place where the parameter and momentum buffer are not shared;
    /// Burn's `Sgd` runs five to six element-wise ops, each a sweep on the calling thread.
    fn sgd_step(
        param: FloatTensor<Self>,
        grad: FloatTensor<Self>,
        velocity: Option<FloatTensor<Self>>,
        options: SgdOptions,
    ) -> SgdUpdate<Self> {
        let fits = {
            let tensors: Vec<_> = [&param, &grad].into_iter().chain(&velocity).collect();
            flex::is_f32(&tensors) && tensors.iter().all(|t| t.shape() == param.shape())
        };
        if fits {
            let _span = trace_span!("sgd_update").entered();
            flex::sgd_step(param, grad, velocity, options)
        } else {
            sgd_reference::<Self>(param, grad, velocity, options)
        }
    }
}

/// Burn's CUDA convolution kernels as they are; BatchNorm as the closed form in tensor ops.
#[cfg(feature = "cuda")]
impl FineFaceBackend for burn::backend::Cuda {}
