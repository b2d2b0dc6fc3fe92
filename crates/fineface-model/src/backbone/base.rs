//! The [`Backbone`] trait.

use burn::module::Module;
use burn::tensor::Tensor;
use burn::tensor::backend::Backend;

/// The three feature maps the experts read, from shallow to deep.
///
/// For a torchvision ResNet these are the outputs of layer2, layer3 and layer4.
#[derive(Debug, Clone)]
pub struct BackboneFeatures<B: Backend> {
    /// Stride-8 map (expert 1's input), `[batch, channels[0], h / 8, w / 8]`.
    pub stride8: Tensor<B, 4>,
    /// Stride-16 map (expert 2's input), `[batch, channels[1], h / 16, w / 16]`.
    pub stride16: Tensor<B, 4>,
    /// Stride-32 map (expert 3's input), `[batch, channels[2], h / 32, w / 32]`.
    pub stride32: Tensor<B, 4>,
}

/// A feature extractor the FineFACE experts can sit on.
///
/// Implement it for a Burn module in one file, and [`FineFace`](crate::FineFace) and the
/// trainer work with it unchanged: the expert heads are sized from
/// [`tap_channels`](Backbone::tap_channels). [`ResNet`](crate::ResNet) is the worked example:
///
/// ```
/// use burn::backend::Flex;
/// use fineface_model::{Backbone, FineFaceConfig, ResNetConfig};
///
/// let device = Default::default();
/// let backbone = ResNetConfig::resnet18().with_width(8).init::<Flex>(&device);
/// assert_eq!(backbone.tap_channels(), [16, 32, 64]);
/// let model = FineFaceConfig::new(2).with_head_width(16).init(backbone, &device);
/// # let _ = model;
/// ```
pub trait Backbone<B: Backend>: Module<B> {
    /// Channels of the stride-8, stride-16 and stride-32 maps.
    fn tap_channels(&self) -> [usize; 3];

    /// Runs the images through the network and returns the three maps.
    ///
    /// # Shapes
    /// - `images`: `[batch, 3, height, width]`
    fn forward_features(&self, images: Tensor<B, 4>) -> BackboneFeatures<B>;

    /// The stride-8 map alone. Backbones that can stop early override this (the lean
    /// training iteration uses it for expert 1's step); the default runs the whole network.
    fn forward_stride8(&self, images: Tensor<B, 4>) -> Tensor<B, 4> {
        self.forward_features(images).stride8
    }

    /// The stride-16 map alone (for expert 2's lean step); the default runs everything.
    fn forward_stride16(&self, images: Tensor<B, 4>) -> Tensor<B, 4> {
        self.forward_features(images).stride16
    }
}
