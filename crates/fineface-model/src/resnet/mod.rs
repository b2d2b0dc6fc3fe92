//! torchvision's ResNet family in Burn.

mod block;
#[allow(clippy::module_inception)] // Burn's layout: the core type in the file named after it.
mod resnet;
mod weights;

pub use block::{BasicBlock, Bottleneck, Downsample, ResidualBlock};
pub use resnet::{BlockKind, ResNet, ResNetConfig, ResNetOutput};
pub use weights::{
    FloatCastAdapter, ImageNetBackbone, LoadReport, WeightFormat, export_torchvision_safetensors,
    load_torchvision_weights,
};
