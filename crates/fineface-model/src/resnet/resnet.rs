//! The ResNet network and its named configurations.

use burn::config::Config;
use burn::module::Module;
use burn::nn::PaddingConfig2d;
use burn::nn::conv::Conv2d;
use burn::nn::pool::{MaxPool2d, MaxPool2dConfig};
use burn::tensor::Tensor;
use burn::tensor::backend::Backend;
use fineface_kernels::{FineFaceBackend, conv2d};
use serde::{Deserialize, Serialize};

use super::block::{BlockConfig, ResidualBlock, conv};
use crate::backbone::{Backbone, BackboneFeatures};
use crate::norm::{BatchNorm, BatchNormConfig};

/// Which residual block a ResNet stacks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum BlockKind {
    /// Two 3x3 convolutions (ResNet-18/34).
    Basic,
    /// 1x1-3x3-1x1 with expansion 4 (ResNet-50/101/152).
    Bottleneck,
}

impl BlockKind {
    /// Output channels per `planes`.
    pub fn expansion(self) -> usize {
        match self {
            Self::Basic => 1,
            Self::Bottleneck => 4,
        }
    }
}

/// Configuration of a torchvision-layout ResNet (stem, layer1..layer4; no classifier).
#[derive(Config, Debug)]
pub struct ResNetConfig {
    /// The residual block.
    pub block: BlockKind,
    /// Blocks in layer1..layer4.
    pub layers: [usize; 4],
    /// Base width: stem channels and `planes` of layer1 (torchvision: 64). Smaller widths
    /// give the same topology for tests.
    #[config(default = 64)]
    pub width: usize,
    /// Start each block's last BatchNorm at gamma = 0 (torchvision's default: off).
    #[config(default = false)]
    pub zero_init_residual: bool,
}

impl ResNetConfig {
    /// ResNet-18: basic blocks [2, 2, 2, 2].
    pub fn resnet18() -> Self {
        Self::new(BlockKind::Basic, [2, 2, 2, 2])
    }

    /// ResNet-34: basic blocks [3, 4, 6, 3].
    pub fn resnet34() -> Self {
        Self::new(BlockKind::Basic, [3, 4, 6, 3])
    }

    /// ResNet-50: bottlenecks [3, 4, 6, 3].
    pub fn resnet50() -> Self {
        Self::new(BlockKind::Bottleneck, [3, 4, 6, 3])
    }

    /// ResNet-101: bottlenecks [3, 4, 23, 3].
    pub fn resnet101() -> Self {
        Self::new(BlockKind::Bottleneck, [3, 4, 23, 3])
    }

    /// ResNet-152: bottlenecks [3, 8, 36, 3].
    pub fn resnet152() -> Self {
        Self::new(BlockKind::Bottleneck, [3, 8, 36, 3])
    }

    /// Output channels of layer1..layer4.
    pub fn layer_channels(&self) -> [usize; 4] {
        let e = self.block.expansion();
        [1, 2, 4, 8].map(|m| self.width * m * e)
    }

    /// Builds the network with torchvision's initialisation.
    pub fn init<B: Backend>(&self, device: &B::Device) -> ResNet<B> {
        let mut in_channels = self.width;
        let mut make_layer = |planes: usize, blocks: usize, stride: usize| {
            (0..blocks)
                .map(|i| {
                    let config = BlockConfig::new(in_channels, planes)
                        .with_stride(if i == 0 { stride } else { 1 })
                        .with_zero_init_residual(self.zero_init_residual);
                    in_channels = planes * self.block.expansion();
                    match self.block {
                        BlockKind::Basic => ResidualBlock::Basic(config.init_basic(device)),
                        BlockKind::Bottleneck => {
                            ResidualBlock::Bottleneck(config.init_bottleneck(device))
                        }
                    }
                })
                .collect::<Vec<_>>()
        };
        let w = self.width;
        let layer1 = make_layer(w, self.layers[0], 1);
        let layer2 = make_layer(w * 2, self.layers[1], 2);
        let layer3 = make_layer(w * 4, self.layers[2], 2);
        let layer4 = make_layer(w * 8, self.layers[3], 2);
        ResNet {
            conv1: conv([3, w], 7, 2, 3).init(device),
            bn1: BatchNormConfig::new(w).init(device),
            maxpool: MaxPool2dConfig::new([3, 3])
                .with_strides([2, 2])
                .with_padding(PaddingConfig2d::Explicit(1, 1, 1, 1))
                .init(),
            layer1,
            layer2,
            layer3,
            layer4,
            channels: self.layer_channels(),
        }
    }
}

/// A torchvision-layout ResNet without its classifier: `conv1`, `bn1`, `layer1`..`layer4`
/// carry torchvision's parameter names, so torchvision weight files load with one remapping
/// (`downsample.0`/`.1` -> `downsample.conv`/`.bn`).
#[derive(Module, Debug)]
pub struct ResNet<B: Backend> {
    /// 7x7 stride-2 stem convolution (padding 3).
    pub conv1: Conv2d<B>,
    /// Stem BatchNorm.
    pub bn1: BatchNorm<B>,
    /// 3x3 stride-2 max pool (padding 1).
    pub maxpool: MaxPool2d,
    /// Stride-4 stage.
    pub layer1: Vec<ResidualBlock<B>>,
    /// Stride-8 stage (expert 1's tap).
    pub layer2: Vec<ResidualBlock<B>>,
    /// Stride-16 stage (expert 2's tap).
    pub layer3: Vec<ResidualBlock<B>>,
    /// Stride-32 stage (expert 3's tap).
    pub layer4: Vec<ResidualBlock<B>>,
    /// Output channels of layer1..layer4.
    #[module(skip)]
    pub channels: [usize; 4],
}

/// The four stage outputs of a [`ResNet`].
#[derive(Debug, Clone)]
pub struct ResNetOutput<B: Backend> {
    /// `[b, c1, h / 4, w / 4]`
    pub layer1: Tensor<B, 4>,
    /// `[b, c2, h / 8, w / 8]`
    pub layer2: Tensor<B, 4>,
    /// `[b, c3, h / 16, w / 16]`
    pub layer3: Tensor<B, 4>,
    /// `[b, c4, h / 32, w / 32]`
    pub layer4: Tensor<B, 4>,
}

fn run<B: FineFaceBackend>(blocks: &[ResidualBlock<B>], x: Tensor<B, 4>) -> Tensor<B, 4> {
    blocks.iter().fold(x, |x, block| block.forward(x))
}

impl<B: FineFaceBackend> ResNet<B> {
    /// The stem (conv, BN, ReLU, max pool).
    ///
    /// # Shapes
    /// - `images`: `[batch, 3, h, w]`
    /// - output: `[batch, width, h / 4, w / 4]`
    pub fn stem(&self, images: Tensor<B, 4>) -> Tensor<B, 4> {
        let x = self.bn1.forward_relu(conv2d(&self.conv1, images)); // [b, 64, h/2, w/2]
        self.maxpool.forward(x) // [b, 64, h/4, w/4]
    }

    /// All four stage outputs.
    ///
    /// # Shapes
    /// - `images`: `[batch, 3, h, w]` (224 or 448 px for ResNet-50: 56/28/14/7 or 112/56/28/14)
    pub fn forward_stages(&self, images: Tensor<B, 4>) -> ResNetOutput<B> {
        let x = self.stem(images);
        let layer1 = run(&self.layer1, x); // [b, 256, h/4, w/4]
        let layer2 = run(&self.layer2, layer1.clone()); // [b, 512, h/8, w/8]
        let layer3 = run(&self.layer3, layer2.clone()); // [b, 1024, h/16, w/16]
        let layer4 = run(&self.layer4, layer3.clone()); // [b, 2048, h/32, w/32]
        ResNetOutput {
            layer1,
            layer2,
            layer3,
            layer4,
        }
    }

    /// Output channels of the last stage.
    pub fn out_channels(&self) -> usize {
        self.channels[3]
    }
}

impl<B: FineFaceBackend> Backbone<B> for ResNet<B> {
    fn tap_channels(&self) -> [usize; 3] {
        [self.channels[1], self.channels[2], self.channels[3]]
    }

    fn forward_features(&self, images: Tensor<B, 4>) -> BackboneFeatures<B> {
        let stages = self.forward_stages(images);
        BackboneFeatures {
            stride8: stages.layer2,
            stride16: stages.layer3,
            stride32: stages.layer4,
        }
    }

    fn forward_stride8(&self, images: Tensor<B, 4>) -> Tensor<B, 4> {
        let x = self.stem(images);
        run(&self.layer2, run(&self.layer1, x)) // [b, 512, h/8, w/8]
    }

    fn forward_stride16(&self, images: Tensor<B, 4>) -> Tensor<B, 4> {
        run(&self.layer3, self.forward_stride8(images)) // [b, 1024, h/16, w/16]
    }
}
