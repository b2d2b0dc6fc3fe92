//! [`FineFaceBackend`] on Flex: the kernels of this folder where they apply (`f32`, the
//! shapes each handles), Burn's ops or the generic versions elsewhere.

use burn::backend::Flex;
use burn::tensor::TensorMetadata;
use burn::tensor::ops::{ActivationOps, ConvOptions, FloatTensor, FloatTensorOps, ModuleOps};
use tracing::trace_span;

use crate::FineFaceBackend;
use crate::batch_norm::{
    BatchNormActivation, BatchNormForward, BatchNormGradients, BatchNormOptions,
    BatchNormStatistics, normalise, normalise_backward, normalise_inference, prelu_per_row,
};
use crate::flex::{self, ConvGeometry, DepthwiseGeometry};
use crate::pool::MaxPoolOptions;
use crate::sgd::{SgdOptions, SgdUpdate, sgd_reference};

/// Convolutions (groups 1, `f32`) as one matrix product per image over an im2col buffer
/// (`flex/conv.rs`), depthwise ones (groups = channels) plane by plane
/// (`flex/depthwise.rs`); other grouped or non-`f32` ones stay Burn's. Flex 0.21's own 3x3 forward and
/// input gradient ran at 0.3-0.9x PyTorch's, and its weight gradient (a convolution of the
/// input with the output gradient, thousands of matrix-vector products) at 0.06-0.6x
/// (`cargo run --release -p fineface-kernels --example kernel_probe`, docs/performance.md).
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
        if let Some(geometry) = DepthwiseGeometry::of(&x, &weight, &options).filter(|_| bias_f32) {
            let _span = geometry.span("forward").entered();
            return flex::conv2d_depthwise(geometry, x, weight, bias);
        }
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
        let depthwise = DepthwiseGeometry::of(&x, &weight, &options);
        if let Some(geometry) = depthwise.filter(|_| flex::is_f32(&[&output_grad])) {
            let _span = geometry.span("input_gradient").entered();
            return flex::conv2d_depthwise_input_gradient(geometry, weight, output_grad);
        }
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
        let depthwise = DepthwiseGeometry::of(&x, &weight, &options);
        if let Some(geometry) = depthwise.filter(|_| flex::is_f32(&[&output_grad])) {
            let _span = geometry.span("weight_gradient").entered();
            return flex::conv2d_depthwise_weight_gradient(geometry, x, output_grad);
        }
        match ConvGeometry::of(&x, &weight, &options) {
            Some(geometry) if flex::is_f32(&[&output_grad]) => {
                let _span = geometry.span("weight_gradient").entered();
                flex::conv2d_weight_gradient(geometry, x, output_grad)
            }
            _ => Self::conv2d_weight_backward(x, weight, output_grad, options),
        }
    }

    /// One parallel sweep, in place where the rows are not shared; Flex 0.21 runs the
    /// multiplication, the addition and the activation as three sweeps on the calling thread
    /// (an evaluation pass of MobileNetV2 spent about a third of its time there).
    fn batch_norm_inference(
        rows: FloatTensor<Self>,
        scale: FloatTensor<Self>,
        shift: FloatTensor<Self>,
        activation: BatchNormActivation,
    ) -> FloatTensor<Self> {
        let fits = rows.shape().num_dims() == 2
            && scale.shape().num_elements() == shift.shape().num_elements()
            && scale.shape().num_elements() > 0
            && rows.shape()[0].is_multiple_of(scale.shape().num_elements());
        if flex::is_f32(&[&rows, &scale, &shift]) && fits {
            let _span = trace_span!("batch_norm", pass = "inference").entered();
            flex::batch_norm_inference(rows, scale, shift, activation)
        } else {
            normalise_inference::<Self>(rows, scale, shift, activation)
        }
    }

    /// One parallel sweep of whole rows, in place where the rows are not shared (Flex
    /// 0.21's `prelu` with a `[rows, 1]` slope column runs its strided binary path).
    fn prelu_rows(rows: FloatTensor<Self>, alpha: FloatTensor<Self>) -> FloatTensor<Self> {
        let fits = rows.shape().num_dims() == 2
            && alpha.shape().num_elements() > 0
            && rows.shape()[0].is_multiple_of(alpha.shape().num_elements());
        if flex::is_f32(&[&rows, &alpha]) && fits {
            let _span = trace_span!("prelu").entered();
            flex::prelu_rows(rows, alpha)
        } else {
            prelu_per_row::<Self>(rows, alpha)
        }
    }

    /// One parallel sweep over the planes (dilation 1); Flex 0.21's op computes indices it
    /// then drops.
    fn max_pool2d_tracked(x: FloatTensor<Self>, options: MaxPoolOptions) -> FloatTensor<Self> {
        // PyTorch's conditions (padding at most half the window, a window that fits the
        // padded input, non-zero steps); anything else goes to Burn's op and its checks.
        let shape = x.shape();
        let fits = shape.num_dims() == 4
            && (0..2).all(|i| {
                let (k, s, p) = (
                    options.kernel_size[i],
                    options.stride[i],
                    options.padding[i],
                );
                k > 0 && s > 0 && 2 * p <= k && shape[2 + i] + 2 * p >= k
            });
        if flex::is_f32(&[&x]) && fits && options.dilation == [1, 1] {
            let _span = trace_span!("max_pool2d").entered();
            flex::max_pool2d(x, options)
        } else {
            let o = options;
            Self::max_pool2d(
                x,
                o.kernel_size,
                o.stride,
                o.padding,
                o.dilation,
                o.ceil_mode,
            )
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

    /// Two sweeps over memory each way instead of about eight (see `flex/batch_norm.rs`).
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
