//! FineFACE in Burn: torchvision-exact ResNet and MobileNetV2 backbones, expert heads with
//! attention maps, the concat head, the plain baseline, and torchvision weight import.
//!
//! The forward pass reads like the paper's figure: a [`Backbone`] gives three feature maps
//! (stride 8, 16, 32), an [`Expert`] on each proposes a prediction and an attention map
//! ([`attention_map`]), and a [`Classifier`] reads the concatenation of the experts' pooled
//! features:
//!
//! ```
//! use burn::backend::Flex;
//! use burn::tensor::{Distribution, Tensor};
//! use fineface_model::{FineFaceConfig, ResNetConfig};
//!
//! let device = Default::default();
//! // ResNet-18 topology at width 8 and 64 px keep the example fast; the paper's model is
//! // `ResNetConfig::resnet50()` (width 64) at 448 px with head width 1024.
//! let backbone = ResNetConfig::resnet18().with_width(8).init::<Flex>(&device);
//! let model = FineFaceConfig::new(2).with_head_width(16).init(backbone, &device);
//! let images = Tensor::<Flex, 4>::random([2, 3, 64, 64], Distribution::Normal(0.0, 1.0), &device);
//! let out = model.forward(images);
//! assert_eq!(out.concat.dims(), [2, 2]);
//! let maps = model.attention_maps(&out);
//! assert_eq!(maps.expert1.dims(), [2, 8, 8]); // stride 8
//! ```
//!
//! # Adding a backbone
//! Implement [`Backbone`] for your Burn module in one file: say how many channels its
//! stride-8/16/32 maps have and return them from `forward_features`. [`FineFace`] and
//! [`Baseline`] are generic over it; nothing else changes. [`ResNet`] (in `resnet/resnet.rs`)
//! is the worked example: it returns layer2, layer3 and layer4; [`MobileNetV2`] (in
//! `mobilenet/mobilenet_v2.rs`) returns `features.6`, `features.13` and `features.18`.
//!
//! # Weights
//! [`load_torchvision_weights`] reads torchvision's `resnet*.pth` and `mobilenet_v2-*.pth`
//! (pickle) or the same tensors as `.safetensors` ([`ImageNetBackbone::load_torchvision`]), through burn-store, and fails with the list of missing, unexpected and
//! mis-shaped keys. [`export_torchvision_safetensors`] writes PyTorch-named safetensors;
//! [`save_model`] and [`load_model`] keep whole models in Burn's burnpack format.

// The workspace's `unsafe` code is in fineface-kernels (the Flex kernels, the CUDA driver probe).
#![forbid(unsafe_code)]

mod arch;
mod backbone;
mod baseline;
mod device;
mod error;
mod fineface;
mod mobilenet;
mod norm;
mod resnet;
mod store;

pub use arch::{ArchConfig, BackboneArch, IMAGENET_MEAN, IMAGENET_STD, Normalisation, UnknownArch};
pub use backbone::{Backbone, BackboneFeatures};
pub use baseline::{Baseline, BaselineConfig};
pub use device::{BackendDevices, Cpu, CpuAutodiff, DeviceSpec, FoundDevice, found_devices};
#[cfg(feature = "cuda")]
pub use device::{Cuda, CudaAutodiff};
#[cfg(feature = "wgpu")]
pub use device::{Wgpu, WgpuAutodiff, wgpu_device};
pub use error::{ModelError, Result};
pub use fineface::{
    Attention, AttentionCrop, AttentionCropConfig, AttentionMaps, Classifier, ClassifierConfig,
    ConvBlock, ConvBlockConfig, CropBoxes, Expert, ExpertConfig, ExpertOutput, FineFace,
    FineFaceConfig, FineFaceOutput, HeadLogits, Predict, argmax, attention_map,
};
pub use mobilenet::{
    Conv2dNormActivation, InvertedResidual, MobileNetV2, MobileNetV2Config, MobileNetV2Layer,
};
pub use norm::{BatchNorm, BatchNormConfig};
// The backend extension every module runs on, and its ops, from fineface-kernels: re-exported
// so that users of the model need not name that crate.
pub use fineface_kernels::{
    BatchNormActivation, BatchNormForward, BatchNormGradients, BatchNormOptions,
    BatchNormStatistics, CollectiveVersion, DeviceCollective, FineFaceAutodiffBackend,
    FineFaceBackend, MaxPoolOptions, NodeGroup, NodeGroupError, NodeGroupId, SgdOptions, SgdUpdate,
    add_relu, batch_norm_inference, conv2d, max_pool2d, per_row, prelu_channels, sgd_step,
};
pub use resnet::{
    BasicBlock, BlockKind, Bottleneck, Downsample, FloatCastAdapter, ImageNetBackbone, LoadReport,
    ResNet, ResNetConfig, ResNetOutput, ResidualBlock, WeightFormat,
    export_torchvision_safetensors, load_torchvision_weights,
};
pub use store::{load_model, save_model};
