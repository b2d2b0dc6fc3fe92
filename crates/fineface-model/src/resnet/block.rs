//! Residual blocks with torchvision's structure and parameter names.

use burn::config::Config;
use burn::module::Module;
use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::nn::{Initializer, PaddingConfig2d};
use burn::tensor::Tensor;
use burn::tensor::backend::Backend;
use fineface_kernels::{FineFaceBackend, add_relu, conv2d};

use crate::norm::{BatchNorm, BatchNormConfig};

/// torchvision's conv initialisation: Kaiming normal, fan-out, ReLU gain.
fn kaiming_fan_out() -> Initializer {
    Initializer::KaimingNormal {
        gain: std::f64::consts::SQRT_2,
        fan_out_only: true,
    }
}

/// A bias-free convolution with torchvision's initialisation.
pub(crate) fn conv(
    channels: [usize; 2],
    kernel: usize,
    stride: usize,
    padding: usize,
) -> Conv2dConfig {
    Conv2dConfig::new(channels, [kernel, kernel])
        .with_stride([stride, stride])
        .with_padding(PaddingConfig2d::Explicit(
            padding, padding, padding, padding,
        ))
        .with_bias(false)
        .with_initializer(kaiming_fan_out())
}

/// The projection shortcut: 1x1 conv (with the block's stride) and BatchNorm
/// (torchvision's `downsample.0` / `downsample.1`).
#[derive(Module, Debug)]
pub struct Downsample<B: Backend> {
    /// 1x1 strided convolution.
    pub conv: Conv2d<B>,
    /// BatchNorm after it.
    pub bn: BatchNorm<B>,
}

impl<B: Backend> Downsample<B> {
    fn new(channels: [usize; 2], stride: usize, device: &B::Device) -> Self {
        Self {
            conv: conv(channels, 1, stride, 0).init(device),
            bn: BatchNormConfig::new(channels[1]).init(device),
        }
    }
}

impl<B: FineFaceBackend> Downsample<B> {
    fn forward(&self, x: Tensor<B, 4>) -> Tensor<B, 4> {
        self.bn.forward(conv2d(&self.conv, x))
    }
}

/// Configuration of one residual block.
#[derive(Config, Debug)]
pub struct BlockConfig {
    /// Input channels.
    pub in_channels: usize,
    /// `planes` in torchvision: output channels of a basic block, inner width of a bottleneck.
    pub planes: usize,
    /// Stride of the block (on the 3x3 convolution).
    #[config(default = 1)]
    pub stride: usize,
    /// Start the block's last BatchNorm at gamma = 0 (torchvision's `zero_init_residual`).
    #[config(default = false)]
    pub zero_init_residual: bool,
}

/// The two-3x3 block of ResNet-18/34 (expansion 1).
#[derive(Module, Debug)]
pub struct BasicBlock<B: Backend> {
    /// 3x3 convolution, carries the stride.
    pub conv1: Conv2d<B>,
    /// BatchNorm after `conv1`.
    pub bn1: BatchNorm<B>,
    /// 3x3 convolution.
    pub conv2: Conv2d<B>,
    /// BatchNorm after `conv2`.
    pub bn2: BatchNorm<B>,
    /// Projection shortcut when the shape changes.
    pub downsample: Option<Downsample<B>>,
}

/// The 1x1-3x3-1x1 block of ResNet-50/101/152 (expansion 4), stride on the 3x3 conv
/// (torchvision's "ResNet v1.5").
#[derive(Module, Debug)]
pub struct Bottleneck<B: Backend> {
    /// 1x1 reduction.
    pub conv1: Conv2d<B>,
    /// BatchNorm after `conv1`.
    pub bn1: BatchNorm<B>,
    /// 3x3 convolution, carries the stride.
    pub conv2: Conv2d<B>,
    /// BatchNorm after `conv2`.
    pub bn2: BatchNorm<B>,
    /// 1x1 expansion to `4 * planes`.
    pub conv3: Conv2d<B>,
    /// BatchNorm after `conv3`.
    pub bn3: BatchNorm<B>,
    /// Projection shortcut when the shape changes.
    pub downsample: Option<Downsample<B>>,
}

/// A residual block of either kind (the variant name does not appear in weight keys).
#[derive(Module, Debug)]
// A network holds one kind only and blocks are few; boxing would only add indirection.
#[allow(clippy::large_enum_variant)]
pub enum ResidualBlock<B: Backend> {
    /// ResNet-18/34 block.
    Basic(BasicBlock<B>),
    /// ResNet-50/101/152 block.
    Bottleneck(Bottleneck<B>),
}

impl BlockConfig {
    /// A basic block; its output has `planes` channels.
    pub fn init_basic<B: Backend>(&self, device: &B::Device) -> BasicBlock<B> {
        let (cin, planes, stride) = (self.in_channels, self.planes, self.stride);
        let mut bn2 = BatchNormConfig::new(planes).init(device);
        if self.zero_init_residual {
            bn2.gamma = Initializer::Zeros.init([planes], device);
        }
        BasicBlock {
            conv1: conv([cin, planes], 3, stride, 1).init(device),
            bn1: BatchNormConfig::new(planes).init(device),
            conv2: conv([planes, planes], 3, 1, 1).init(device),
            bn2,
            downsample: (stride != 1 || cin != planes)
                .then(|| Downsample::new([cin, planes], stride, device)),
        }
    }

    /// A bottleneck block; its output has `4 * planes` channels.
    pub fn init_bottleneck<B: Backend>(&self, device: &B::Device) -> Bottleneck<B> {
        let (cin, planes, stride) = (self.in_channels, self.planes, self.stride);
        let out = planes * Bottleneck::<B>::EXPANSION;
        let mut bn3 = BatchNormConfig::new(out).init(device);
        if self.zero_init_residual {
            bn3.gamma = Initializer::Zeros.init([out], device);
        }
        Bottleneck {
            conv1: conv([cin, planes], 1, 1, 0).init(device),
            bn1: BatchNormConfig::new(planes).init(device),
            conv2: conv([planes, planes], 3, stride, 1).init(device),
            bn2: BatchNormConfig::new(planes).init(device),
            conv3: conv([planes, out], 1, 1, 0).init(device),
            bn3,
            downsample: (stride != 1 || cin != out)
                .then(|| Downsample::new([cin, out], stride, device)),
        }
    }
}

impl<B: FineFaceBackend> BasicBlock<B> {
    /// Output channels per `planes`.
    pub const EXPANSION: usize = 1;

    /// # Shapes
    /// - `x`: `[batch, in_channels, h, w]`
    /// - output: `[batch, planes, h / stride, w / stride]`
    pub fn forward(&self, x: Tensor<B, 4>) -> Tensor<B, 4> {
        let identity = match &self.downsample {
            Some(d) => d.forward(x.clone()),
            None => x.clone(),
        };
        let out = self.bn1.forward_relu(conv2d(&self.conv1, x));
        let out = self.bn2.forward(conv2d(&self.conv2, out));
        add_relu(out, identity)
    }
}

impl<B: Backend> Bottleneck<B> {
    /// Output channels per `planes`.
    pub const EXPANSION: usize = 4;
}

impl<B: FineFaceBackend> Bottleneck<B> {
    /// # Shapes
    /// - `x`: `[batch, in_channels, h, w]`
    /// - output: `[batch, 4 * planes, h / stride, w / stride]`
    pub fn forward(&self, x: Tensor<B, 4>) -> Tensor<B, 4> {
        let identity = match &self.downsample {
            Some(d) => d.forward(x.clone()),
            None => x.clone(),
        };
        let out = self.bn1.forward_relu(conv2d(&self.conv1, x));
        let out = self.bn2.forward_relu(conv2d(&self.conv2, out));
        let out = self.bn3.forward(conv2d(&self.conv3, out));
        add_relu(out, identity)
    }
}

impl<B: FineFaceBackend> ResidualBlock<B> {
    /// Runs the block.
    ///
    /// # Shapes
    /// - `x`: `[batch, in_channels, h, w]`
    /// - output: `[batch, expansion * planes, h / stride, w / stride]`
    pub fn forward(&self, x: Tensor<B, 4>) -> Tensor<B, 4> {
        match self {
            Self::Basic(block) => block.forward(x),
            Self::Bottleneck(block) => block.forward(x),
        }
    }
}
