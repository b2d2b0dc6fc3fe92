//! The MobileNetV2 network (Sandler et al., "MobileNetV2: Inverted Residuals and Linear
//! Bottlenecks", CVPR 2018) as torchvision builds it, without its classifier.

use burn::config::Config;
use burn::module::Module;
use burn::tensor::Tensor;
use burn::tensor::backend::Backend;
use fineface_kernels::FineFaceBackend;

use super::block::{Conv2dNormActivation, InvertedResidual, MobileNetV2Layer};
use crate::backbone::{Backbone, BackboneFeatures};

/// The paper's Table 2, torchvision's `inverted_residual_setting`: expansion `t`, output
/// channels `c`, repeats `n`, stride of the first repeat `s`.
const INVERTED_RESIDUAL_SETTING: [[usize; 4]; 7] = [
    [1, 16, 1, 1],
    [6, 24, 2, 2],
    [6, 32, 3, 2],
    [6, 64, 4, 2],
    [6, 96, 3, 1],
    [6, 160, 3, 2],
    [6, 320, 1, 1],
];

/// Indices in `features` of the last layer at stride 8, 16 and 32 (torchvision's
/// `features.6`, `features.13`, `features.18`).
const TAPS: [usize; 3] = [6, 13, 18];

/// torchvision's `_make_divisible`: `v` rounded to the nearest multiple of `divisor`, at least
/// `divisor`, and never more than 10 % below `v`.
fn make_divisible(v: f64, divisor: usize) -> usize {
    let d = divisor as f64;
    let rounded = ((v + d / 2.0) as usize / divisor * divisor).max(divisor);
    if (rounded as f64) < 0.9 * v {
        rounded + divisor
    } else {
        rounded
    }
}

/// Configuration of torchvision's MobileNetV2 (`torchvision.models.mobilenet_v2`), up to
/// `features` (the classifier is the [`Baseline`](crate::Baseline)'s or FineFACE's).
#[derive(Config, Debug)]
pub struct MobileNetV2Config {
    /// Width multiplier of every layer's channels (torchvision's `width_mult`; 1.0 for the
    /// ImageNet weights).
    #[config(default = 1.0)]
    pub width_mult: f64,
    /// Channels are rounded to multiples of this (torchvision's `round_nearest`).
    #[config(default = 8)]
    pub round_nearest: usize,
}

impl MobileNetV2Config {
    /// The stem's output channels.
    fn stem_channels(&self) -> usize {
        make_divisible(32.0 * self.width_mult, self.round_nearest)
    }

    /// The last layer's output channels (1280 at width 1 and below).
    pub fn last_channels(&self) -> usize {
        make_divisible(1280.0 * self.width_mult.max(1.0), self.round_nearest)
    }

    /// Output channels of each entry of `features`.
    pub fn feature_channels(&self) -> Vec<usize> {
        let mut channels = vec![self.stem_channels()];
        for [_, c, n, _] in INVERTED_RESIDUAL_SETTING {
            let out = make_divisible(c as f64 * self.width_mult, self.round_nearest);
            channels.extend(std::iter::repeat_n(out, n));
        }
        channels.push(self.last_channels());
        channels
    }

    /// Builds the network with torchvision's initialisation (Kaiming normal fan-out
    /// convolutions, BatchNorm at 1 and 0).
    pub fn init<B: Backend>(&self, device: &B::Device) -> MobileNetV2<B> {
        let channels = self.feature_channels();
        let mut features = vec![MobileNetV2Layer::Conv(Conv2dNormActivation::new(
            [3, channels[0]],
            3,
            2,
            1,
            device,
        ))];
        let mut index = 1;
        for [t, _, n, s] in INVERTED_RESIDUAL_SETTING {
            for i in 0..n {
                let stride = if i == 0 { s } else { 1 };
                let block = InvertedResidual::new(
                    [channels[index - 1], channels[index]],
                    stride,
                    t,
                    device,
                );
                features.push(MobileNetV2Layer::InvertedResidual(block));
                index += 1;
            }
        }
        features.push(MobileNetV2Layer::Conv(Conv2dNormActivation::new(
            [channels[index - 1], channels[index]],
            1,
            1,
            1,
            device,
        )));
        MobileNetV2 {
            features,
            taps: TAPS.map(|i| channels[i]),
        }
    }
}

/// torchvision's MobileNetV2 without its classifier: `features.0` ... `features.18` carry
/// torchvision's indices, so its state dict loads with the renaming of
/// [`ImageNetBackbone::load_torchvision`](crate::ImageNetBackbone::load_torchvision). A
/// FineFACE [`Backbone`] with the maps of stride 8, 16 and 32 after `features.6`,
/// `features.13` and `features.18` (32, 96 and 1280 channels at width 1).
#[derive(Module, Debug)]
pub struct MobileNetV2<B: Backend> {
    /// The stem, 17 inverted residual blocks and the last 1x1 convolution.
    pub features: Vec<MobileNetV2Layer<B>>,
    /// Channels of the three tapped maps.
    #[module(skip)]
    pub taps: [usize; 3],
}

impl<B: FineFaceBackend> MobileNetV2<B> {
    /// Runs `features[range]` over `x`.
    fn run(&self, range: std::ops::RangeInclusive<usize>, x: Tensor<B, 4>) -> Tensor<B, 4> {
        self.features[range]
            .iter()
            .fold(x, |x, layer| layer.forward(x))
    }
}

impl<B: FineFaceBackend> Backbone<B> for MobileNetV2<B> {
    fn tap_channels(&self) -> [usize; 3] {
        self.taps
    }

    fn forward_features(&self, images: Tensor<B, 4>) -> BackboneFeatures<B> {
        let stride8 = self.forward_stride8(images); // [b, 32, h/8, w/8]
        let stride16 = self.run(TAPS[0] + 1..=TAPS[1], stride8.clone()); // [b, 96, h/16, w/16]
        let stride32 = self.run(TAPS[1] + 1..=TAPS[2], stride16.clone()); // [b, 1280, h/32, w/32]
        BackboneFeatures {
            stride8,
            stride16,
            stride32,
        }
    }

    fn forward_stride8(&self, images: Tensor<B, 4>) -> Tensor<B, 4> {
        self.run(0..=TAPS[0], images) // [b, 32, h/8, w/8]
    }

    fn forward_stride16(&self, images: Tensor<B, 4>) -> Tensor<B, 4> {
        let stride8 = self.forward_stride8(images);
        self.run(TAPS[0] + 1..=TAPS[1], stride8) // [b, 96, h/16, w/16]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn channels_are_torchvisions() {
        let full = MobileNetV2Config::new();
        let channels = full.feature_channels();
        assert_eq!(channels.len(), 19);
        assert_eq!(TAPS.map(|i| channels[i]), [32, 96, 1280]);
        assert_eq!(channels[1], 16);
        assert_eq!(channels[17], 320);
        // torchvision's mobilenet_v2(width_mult=0.5) and (width_mult=1.4).
        let half = MobileNetV2Config::new()
            .with_width_mult(0.5)
            .feature_channels();
        assert_eq!(half[..3], [16, 8, 16]);
        assert_eq!(half[18], 1280);
        let wide = MobileNetV2Config::new()
            .with_width_mult(1.4)
            .feature_channels();
        assert_eq!(wide[..3], [48, 24, 32]);
        assert_eq!(wide[18], 1792);
    }
}
