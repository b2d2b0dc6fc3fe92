//! torchvision's MobileNetV2 in Burn.

mod block;
mod mobilenet_v2;
mod weights;

pub use block::{Conv2dNormActivation, InvertedResidual, MobileNetV2Layer};
pub use mobilenet_v2::{MobileNetV2, MobileNetV2Config};
