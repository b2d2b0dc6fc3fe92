//! The plain classifier FineFACE is measured against.

use burn::config::Config;
use burn::module::Module;
use burn::nn::{Linear, LinearConfig};
use burn::tensor::Tensor;
use burn::tensor::backend::Backend;

use crate::backbone::Backbone;

/// Configuration of a [`Baseline`].
#[derive(Config, Debug)]
pub struct BaselineConfig {
    /// Number of classes.
    pub n_classes: usize,
}

/// The deepest backbone map, global average pool, one Linear layer: torchvision's ResNet
/// classifier. With a [`ResNet`](crate::ResNet) backbone its `fc` takes torchvision's `fc.*`
/// weights.
#[derive(Module, Debug)]
pub struct Baseline<B: Backend, M: Module<B>> {
    /// The feature extractor.
    pub backbone: M,
    /// The classifier (`fc` as in torchvision).
    pub fc: Linear<B>,
}

impl BaselineConfig {
    /// Adds the classifier to `backbone`.
    pub fn init<B: Backend, M: Backbone<B>>(
        &self,
        backbone: M,
        device: &B::Device,
    ) -> Baseline<B, M> {
        let [_, _, channels] = backbone.tap_channels();
        Baseline {
            fc: LinearConfig::new(channels, self.n_classes).init(device),
            backbone,
        }
    }
}

impl<B: Backend, M: Backbone<B>> Baseline<B, M> {
    /// # Shapes
    /// - `images`: `[batch, 3, h, w]`
    /// - output: `[batch, n_classes]` logits
    pub fn forward(&self, images: Tensor<B, 4>) -> Tensor<B, 2> {
        let deep = self.backbone.forward_features(images).stride32; // [b, 2048, h/32, w/32]
        let [b, c, h, w] = deep.dims();
        let pooled = deep.reshape([b, c, h * w]).mean_dim(2).reshape([b, c]); // [b, 2048]
        self.fc.forward(pooled)
    }
}
