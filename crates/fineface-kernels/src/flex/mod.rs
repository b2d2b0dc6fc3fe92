//! Flex kernels where Burn 0.21's CPU ops measured too slow: fused BatchNorm, the im2col
//! convolution, the depthwise convolution, the residual addition with its ReLU and the SGD update (`cargo run --release
//! -p fineface-kernels --example kernel_probe`, docs/performance.md), and the
//! [`FineFaceBackend`](crate::FineFaceBackend) implementation for Flex that calls them.

mod backend;
mod batch_norm;
mod conv;
mod depthwise;
mod matmul;
mod pool;
mod residual;
mod sgd;
mod tensor;

pub(crate) use batch_norm::{
    batch_norm_backward, batch_norm_forward, batch_norm_inference, prelu_rows,
};
pub(crate) use conv::{ConvGeometry, conv2d, conv2d_input_gradient, conv2d_weight_gradient};
pub(crate) use depthwise::{
    DepthwiseGeometry, conv2d_depthwise, conv2d_depthwise_input_gradient,
    conv2d_depthwise_weight_gradient,
};
pub(crate) use pool::max_pool2d;
pub(crate) use residual::{add_relu, relu_gradient};
pub(crate) use sgd::sgd_step;
pub(crate) use tensor::is_f32;
