//! CPU kernels for [Burn](https://burn.dev) 0.21 where its defaults measured too slow for
//! training convolutional networks, as a backend extension ([`FineFaceBackend`]) in the way
//! Burn's own guide extends backends: 2-d convolution (im2col and Winograd F(2x2, 3x3)),
//! BatchNorm with an optional ReLU or ReLU6 (training and evaluation modes), PReLU, max pooling, the end of a residual block
//! (`relu(lhs + rhs)`) and the SGD update.
//!
//! Each op has a default built from Burn's own ops, so every backend runs it; `Flex`
//! overrides them with the kernels in `flex/`, and `Autodiff<B>` turns the convolution,
//! BatchNorm and `add_relu` into single autodiff ops whose backward passes call the inner
//! backend's kernels. Nothing here is specific to FineFACE: the ResNet of `fineface-model` is
//! one user.
//!
//! ```
//! use burn::backend::{Autodiff, Flex};
//! use burn::nn::conv::Conv2dConfig;
//! use burn::tensor::{Distribution, Tensor};
//!
//! type A = Autodiff<Flex>;
//! let device = Default::default();
//! let conv = Conv2dConfig::new([3, 8], [3, 3]).init::<A>(&device);
//! let x = Tensor::<A, 4>::random([2, 3, 16, 16], Distribution::Normal(0.0, 1.0), &device);
//! // Burn's `conv.forward(x)`, through Flex's im2col kernel and its closed-form gradients.
//! let y = fineface_kernels::conv2d(&conv, x);
//! let y = fineface_kernels::add_relu(y.clone(), y);
//! assert_eq!(y.dims(), [2, 8, 14, 14]);
//! ```
//!
//! # Backends and features
//! [`FineFaceBackend`] is implemented here for Burn's backends, each behind the cargo feature
//! of its name: `flex` (default; the fast kernels), `ndarray`, `cuda` and `wgpu` (Burn's
//! ops unchanged), and `Autodiff<B>` over any of them. The trait's documentation says how another
//! backend is added.
//!
//! # Unsafe code
//! The workspace denies `unsafe`, and this crate is where the workspace's `unsafe` lives (so
//! that the model crate can forbid it). It is allowed block by block, each block with an
//! `#[allow(unsafe_code)]` and a `SAFETY` comment, rather than for a whole module, so that a
//! new one cannot slip in unreviewed: filling an output buffer in parallel without zeroing it
//! on one thread first (two blocks, `flex/tensor.rs`), handing the `gemm` crate raw strided
//! views after checking their bounds (`flex/matmul.rs`), and, with the `cuda` feature, asking
//! whether the CUDA driver library can be loaded and how much memory a device has
//! (`cuda/device.rs`; the first in a one-line function that holds nothing else) and NCCL
//! between nodes (`cuda/nccl.rs`: whether the library loads, the communicator's set-up, its
//! all-reduce on Burn's device buffers, its error query and error strings, abort and
//! destruction).
//!
//! # Between machines
//! [`FineFaceBackend::device_collective`], [`FineFaceBackend::node_group`] and
//! [`FineFaceBackend::node_all_reduce_sum`] sum a bucket between the nodes of a run on the
//! devices themselves where the backend has a library for it (NCCL on CUDA; [`NodeGroup`]),
//! so that fineface-train's sum between nodes needs no copy through host memory.

mod activation;
mod autodiff;
mod backend;
mod backends;
mod batch_norm;
mod batch_norm_inference;
mod conv;
#[cfg(feature = "cuda")]
pub mod cuda;
#[cfg(feature = "flex")]
mod flex;
mod module;
mod node_group;
mod pool;
mod residual;
mod sgd;
#[cfg(feature = "wgpu")]
pub mod wgpu;

pub use activation::prelu_channels;
pub use backend::{FineFaceAutodiffBackend, FineFaceBackend};
pub use batch_norm::{
    BatchNormActivation, BatchNormForward, BatchNormGradients, BatchNormOptions,
    BatchNormStatistics, per_row,
};
pub use batch_norm_inference::batch_norm_inference;
pub use module::{conv2d, max_pool2d, sgd_step};
pub use node_group::{CollectiveVersion, DeviceCollective, NodeGroup, NodeGroupError, NodeGroupId};
pub use pool::MaxPoolOptions;
pub use residual::add_relu;
pub use sgd::{SgdOptions, SgdUpdate};
