//! [`FineFaceBackend`] on Burn's autodiff backend: the inner backend's kernels as single
//! autodiff ops with closed-form backward passes.

use burn::backend::Autodiff;
use burn::backend::autodiff::NodeId;
use burn::backend::autodiff::checkpoint::base::Checkpointer;
use burn::backend::autodiff::checkpoint::strategy::CheckpointStrategy;
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::ops::{Backward, Ops, OpsKind};
use burn::tensor::backend::AutodiffBackend;
use burn::tensor::ops::{ConvOptions, FloatTensor, ModuleOps};
use burn::tensor::{Tensor, TensorPrimitive};

use crate::FineFaceBackend;
use crate::batch_norm::{BatchNormForward, BatchNormOptions, BatchNormStatistics};

impl<B: FineFaceBackend, C: CheckpointStrategy> FineFaceBackend for Autodiff<B, C> {
    /// `B::conv2d_tracked` forward, `B::conv2d_input_gradient` and `B::conv2d_weight_gradient`
    /// backward. A convolution with a bias (none in FineFACE) is Burn's autodiff convolution
    /// unchanged, except where the kernel skips pixels (1x1 of stride 2), whose input gradient
    /// Burn's CubeCL backends get wrong: there, this op without the bias, then the bias added.
    fn conv2d_tracked(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        bias: Option<FloatTensor<Self>>,
        options: ConvOptions<2>,
    ) -> FloatTensor<Self> {
        if let Some(bias) = bias {
            let weight_dims: [usize; 4] =
                Tensor::<Self, 4>::from_primitive(TensorPrimitive::Float(weight.clone())).dims();
            if !crate::conv::skips_pixels(weight_dims, &options) {
                return Self::conv2d(x, weight, Some(bias), options);
            }
            let output = Self::conv2d_tracked(x, weight, None, options);
            let output = Tensor::<Self, 4>::from_primitive(TensorPrimitive::Float(output));
            let bias = Tensor::<Self, 1>::from_primitive(TensorPrimitive::Float(bias));
            let channels = bias.dims()[0];
            // [batch, channels_out, height_out, width_out]
            return (output + bias.reshape([1, channels, 1, 1]))
                .into_primitive()
                .tensor();
        }
        match Conv2dBackward
            .prepare::<C>([x.node.clone(), weight.node.clone()])
            .compute_bound()
            .stateful()
        {
            OpsKind::Tracked(mut prep) => {
                let x_state = prep.checkpoint(&x);
                let weight_state = prep.checkpoint(&weight);
                prep.finish(
                    (x_state, weight_state, options.clone()),
                    B::conv2d_tracked(x.primitive, weight.primitive, None, options),
                )
            }
            OpsKind::UnTracked(prep) => prep.finish(B::conv2d_tracked(
                x.primitive,
                weight.primitive,
                None,
                options,
            )),
        }
    }

    /// `B::add_relu` forward, keeping the output; the backward hands both inputs
    /// `B::relu_gradient(output, grad)`.
    fn add_relu(lhs: FloatTensor<Self>, rhs: FloatTensor<Self>) -> FloatTensor<Self> {
        match AddReluBackward
            .prepare::<C>([lhs.node.clone(), rhs.node.clone()])
            .compute_bound()
            .stateful()
        {
            OpsKind::Tracked(prep) => {
                let output = B::add_relu(lhs.primitive, rhs.primitive);
                prep.finish(output.clone(), output)
            }
            OpsKind::UnTracked(prep) => prep.finish(B::add_relu(lhs.primitive, rhs.primitive)),
        }
    }

    /// `B::batch_norm_forward` on the inner tensors, keeping the input rows and the
    /// statistics for `B::batch_norm_backward`; the statistics come back without a gradient.
    fn batch_norm_train(
        rows: FloatTensor<Self>,
        gamma: FloatTensor<Self>,
        beta: FloatTensor<Self>,
        options: BatchNormOptions,
    ) -> BatchNormForward<Self> {
        let nodes = [rows.node.clone(), gamma.node.clone(), beta.node.clone()];
        let forward = B::batch_norm_forward(
            rows.primitive.clone(),
            gamma.primitive.clone(),
            beta.primitive.clone(),
            options,
        );
        let output = match BatchNormBackward
            .prepare::<C>(nodes)
            .compute_bound()
            .stateful()
        {
            OpsKind::Tracked(prep) => prep.finish(
                BatchNormState {
                    rows: rows.primitive,
                    statistics: BatchNormStatistics {
                        mean: forward.mean.clone(),
                        inv_std: forward.inv_std.clone(),
                        gamma: gamma.primitive,
                        beta: beta.primitive,
                    },
                    options,
                },
                forward.output,
            ),
            OpsKind::UnTracked(prep) => prep.finish(forward.output),
        };
        BatchNormForward {
            output,
            mean: Self::from_inner(forward.mean),
            var: Self::from_inner(forward.var),
            inv_std: Self::from_inner(forward.inv_std),
        }
    }
}

/// What the BatchNorm backward keeps from the forward.
#[derive(Debug, Clone)]
struct BatchNormState<B: FineFaceBackend> {
    rows: FloatTensor<B>,
    statistics: BatchNormStatistics<B>,
    options: BatchNormOptions,
}

/// Backward of a training-mode BatchNorm over rows.
#[derive(Debug)]
struct BatchNormBackward;

impl<B: FineFaceBackend> Backward<B, 3> for BatchNormBackward {
    type State = BatchNormState<B>;

    fn backward(
        self,
        ops: Ops<Self::State, 3>,
        grads: &mut Gradients,
        _checkpointer: &mut Checkpointer,
    ) {
        let [node_rows, node_gamma, node_beta] = ops.parents;
        let grad = grads.consume::<B>(&ops.node);
        let state = ops.state;
        let gradients = B::batch_norm_backward(grad, state.rows, state.statistics, state.options);
        if let Some(node) = node_rows {
            grads.register::<B>(node.id, gradients.input);
        }
        if let Some(node) = node_gamma {
            grads.register::<B>(node.id, gradients.gamma);
        }
        if let Some(node) = node_beta {
            grads.register::<B>(node.id, gradients.beta);
        }
    }
}

/// Backward of `relu(lhs + rhs)`: the same gradient for both inputs.
#[derive(Debug)]
struct AddReluBackward;

impl<B: FineFaceBackend> Backward<B, 2> for AddReluBackward {
    type State = FloatTensor<B>;

    fn backward(
        self,
        ops: Ops<Self::State, 2>,
        grads: &mut Gradients,
        _checkpointer: &mut Checkpointer,
    ) {
        let [node_lhs, node_rhs] = ops.parents;
        let grad = grads.consume::<B>(&ops.node);
        let grad = B::relu_gradient(ops.state, grad);
        if let Some(node) = node_rhs {
            grads.register::<B>(node.id, grad.clone());
        }
        if let Some(node) = node_lhs {
            grads.register::<B>(node.id, grad);
        }
    }
}

/// Backward of a bias-free convolution.
#[derive(Debug)]
struct Conv2dBackward;

impl<B: FineFaceBackend> Backward<B, 2> for Conv2dBackward {
    type State = (NodeId, NodeId, ConvOptions<2>);

    fn backward(
        self,
        ops: Ops<Self::State, 2>,
        grads: &mut Gradients,
        checkpointer: &mut Checkpointer,
    ) {
        let [node_x, node_weight] = ops.parents;
        let grad = grads.consume::<B>(&ops.node);
        let (x_state, weight_state, options) = ops.state;
        let x = checkpointer.retrieve_node_output::<FloatTensor<B>>(x_state);
        let weight = checkpointer.retrieve_node_output::<FloatTensor<B>>(weight_state);

        if let Some(node) = node_x {
            let grad_x =
                B::conv2d_input_gradient(x.clone(), weight.clone(), grad.clone(), options.clone());
            grads.register::<B>(node.id, grad_x);
        }
        if let Some(node) = node_weight {
            grads.register::<B>(node.id, B::conv2d_weight_gradient(x, weight, grad, options));
        }
    }
}
