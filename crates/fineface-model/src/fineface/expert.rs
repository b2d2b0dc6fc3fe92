//! One FineFACE expert: conv block, global max pool, classifier.

use burn::config::Config;
use burn::module::Module;
use burn::nn::PaddingConfig2d;
use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::tensor::Tensor;
use burn::tensor::backend::Backend;
use fineface_kernels::{FineFaceBackend, conv2d};

use super::classifier::{Classifier, ClassifierConfig};
use crate::norm::{BatchNorm, BatchNormConfig};

/// Momentum of the conv-block BatchNorms (PyTorch convention), as in the reference.
const CONV_BLOCK_BN_MOMENTUM: f64 = 0.01;

/// Configuration of a [`ConvBlock`].
#[derive(Config, Debug)]
pub struct ConvBlockConfig {
    /// Channels of the backbone tap.
    pub in_channels: usize,
    /// Channels after the 1x1 convolution (512 in the paper).
    pub hidden: usize,
    /// Channels of the output feature map (1024 in the paper).
    pub out_channels: usize,
}

/// `[conv 1x1 -> BN -> ReLU] -> [conv 3x3 pad 1 -> BN -> ReLU]`, no conv bias, BN momentum
/// 0.01.
#[derive(Module, Debug)]
pub struct ConvBlock<B: Backend> {
    /// 1x1 convolution.
    pub conv1: Conv2d<B>,
    /// BatchNorm after `conv1`.
    pub bn1: BatchNorm<B>,
    /// 3x3 convolution.
    pub conv2: Conv2d<B>,
    /// BatchNorm after `conv2`.
    pub bn2: BatchNorm<B>,
}

impl ConvBlockConfig {
    /// PyTorch's default conv initialisation (Burn's default matches it).
    pub fn init<B: Backend>(&self, device: &B::Device) -> ConvBlock<B> {
        let bn = |n| {
            BatchNormConfig::new(n)
                .with_momentum(CONV_BLOCK_BN_MOMENTUM)
                .init(device)
        };
        ConvBlock {
            conv1: Conv2dConfig::new([self.in_channels, self.hidden], [1, 1])
                .with_bias(false)
                .init(device),
            bn1: bn(self.hidden),
            conv2: Conv2dConfig::new([self.hidden, self.out_channels], [3, 3])
                .with_padding(PaddingConfig2d::Explicit(1, 1, 1, 1))
                .with_bias(false)
                .init(device),
            bn2: bn(self.out_channels),
        }
    }
}

impl<B: FineFaceBackend> ConvBlock<B> {
    /// # Shapes
    /// - `x`: `[batch, in_channels, h, w]`
    /// - output: `[batch, out_channels, h, w]`
    pub fn forward(&self, x: Tensor<B, 4>) -> Tensor<B, 4> {
        let x = self.bn1.forward_relu(conv2d(&self.conv1, x)); // [b, 512, h, w]
        self.bn2.forward_relu(conv2d(&self.conv2, x)) // [b, 1024, h, w]
    }
}

/// Configuration of an [`Expert`].
#[derive(Config, Debug)]
pub struct ExpertConfig {
    /// Channels of the backbone tap it reads.
    pub in_channels: usize,
    /// Number of classes.
    pub n_classes: usize,
    /// Channels of the feature map and of the pooled vector (1024 in the paper); the conv
    /// block's middle width and the classifier's hidden width are half of it.
    #[config(default = 1024)]
    pub features: usize,
}

/// One expert: conv block on a backbone tap, global max pool, classifier.
#[derive(Module, Debug)]
pub struct Expert<B: Backend> {
    /// The conv block producing the expert's feature map `F_k`.
    pub conv_block: ConvBlock<B>,
    /// The classifier on the pooled features.
    pub classifier: Classifier<B>,
}

/// What an expert computes.
#[derive(Debug, Clone)]
pub struct ExpertOutput<B: Backend> {
    /// `F_k`, `[batch, features, h, w]` (attached to the graph).
    pub feature_map: Tensor<B, 4>,
    /// `v_k`, the global max over `h x w`: `[batch, features]`.
    pub pooled: Tensor<B, 2>,
    /// `[batch, n_classes]`.
    pub logits: Tensor<B, 2>,
}

impl ExpertConfig {
    /// Builds the expert.
    pub fn init<B: Backend>(&self, device: &B::Device) -> Expert<B> {
        let half = self.features / 2;
        Expert {
            conv_block: ConvBlockConfig::new(self.in_channels, half, self.features).init(device),
            classifier: ClassifierConfig::new(self.features, half, self.n_classes).init(device),
        }
    }
}

impl<B: FineFaceBackend> Expert<B> {
    /// # Shapes
    /// - `tap`: `[batch, in_channels, h, w]`
    pub fn forward(&self, tap: Tensor<B, 4>) -> ExpertOutput<B> {
        let feature_map = self.conv_block.forward(tap); // [b, 1024, h, w]
        let [b, c, h, w] = feature_map.dims();
        // A true global max (the reference hard-codes the kernel to the 448-px map size).
        let pooled = feature_map
            .clone()
            .reshape([b, c, h * w])
            .max_dim(2)
            .reshape([b, c]); // [b, 1024]
        let logits = self.classifier.forward(pooled.clone()); // [b, n_classes]
        ExpertOutput {
            feature_map,
            pooled,
            logits,
        }
    }
}
