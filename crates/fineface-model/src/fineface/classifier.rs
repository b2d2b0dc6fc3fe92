//! BN1d - Linear - BN1d - ELU - Linear, the classifier of every FineFACE head.

use burn::config::Config;
use burn::module::Module;
use burn::nn::{Linear, LinearConfig};
use burn::tensor::Tensor;
use burn::tensor::activation::elu;
use burn::tensor::backend::Backend;
use fineface_kernels::FineFaceBackend;

use crate::norm::{BatchNorm, BatchNormConfig};

/// Configuration of a [`Classifier`].
#[derive(Config, Debug)]
pub struct ClassifierConfig {
    /// Input features (1024 for an expert, 3072 for the concat head).
    pub in_features: usize,
    /// Hidden width (512 in the paper).
    pub hidden: usize,
    /// Number of classes.
    pub n_classes: usize,
}

/// `BN1d(in) -> Linear(in, hidden) -> BN1d(hidden) -> ELU -> Linear(hidden, n_classes)`.
///
/// `fc1` is the attention map's `W_a`, `fc2` its `W_b` (Burn stores Linear weights as
/// `[d_in, d_out]`, the transpose of PyTorch's).
#[derive(Module, Debug)]
pub struct Classifier<B: Backend> {
    /// Input BatchNorm.
    pub bn_in: BatchNorm<B>,
    /// First linear layer (`W_a`).
    pub fc1: Linear<B>,
    /// Hidden BatchNorm.
    pub bn_hidden: BatchNorm<B>,
    /// Output layer (`W_b`).
    pub fc2: Linear<B>,
}

impl ClassifierConfig {
    /// PyTorch's default initialisation (Burn's Linear default matches it).
    pub fn init<B: Backend>(&self, device: &B::Device) -> Classifier<B> {
        Classifier {
            bn_in: BatchNormConfig::new(self.in_features).init(device),
            fc1: LinearConfig::new(self.in_features, self.hidden).init(device),
            bn_hidden: BatchNormConfig::new(self.hidden).init(device),
            fc2: LinearConfig::new(self.hidden, self.n_classes).init(device),
        }
    }
}

impl<B: FineFaceBackend> Classifier<B> {
    /// # Shapes
    /// - `features`: `[batch, in_features]`
    /// - output: `[batch, n_classes]` logits
    pub fn forward(&self, features: Tensor<B, 2>) -> Tensor<B, 2> {
        let x = self.fc1.forward(self.bn_in.forward(features)); // [b, hidden]
        let x = elu(self.bn_hidden.forward(x), 1.0);
        self.fc2.forward(x) // [b, n_classes]
    }
}
