//! Kernels where FineFACE-rs measured Burn 0.21's default too slow on CPU, as a backend
//! extension ([`FineFaceBackend`]) in the way Burn's own guide extends backends: convolution,
//! training-mode BatchNorm, the residual addition with its ReLU and the SGD update on Flex; every other
//! backend keeps Burn's ops.

mod autodiff;
mod backend;
mod batch_norm;
mod conv;
mod flex;
mod residual;
mod sgd;

pub use backend::{FineFaceAutodiffBackend, FineFaceBackend};
pub(crate) use batch_norm::per_row;
pub use batch_norm::{BatchNormForward, BatchNormGradients, BatchNormOptions, BatchNormStatistics};
pub use conv::conv2d;
pub use residual::add_relu;
pub use sgd::{SgdOptions, SgdUpdate, sgd_step};
