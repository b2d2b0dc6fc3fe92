//! Normalisation layers.

mod batch_norm;

pub use batch_norm::{BatchNorm, BatchNormConfig};
