//! MobileNetV2's layers with torchvision's structure: `Conv2dNormActivation` (conv, BN,
//! ReLU6) and the inverted residual block (Sandler et al. 2018, Table 1).

use burn::module::Module;
use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::nn::{Initializer, PaddingConfig2d};
use burn::tensor::Tensor;
use burn::tensor::backend::Backend;
use fineface_kernels::{FineFaceBackend, conv2d};

use crate::norm::{BatchNorm, BatchNormConfig};

/// torchvision's `kaiming_normal_(weight, mode="fan_out")` for a convolution: a normal of
/// standard deviation `sqrt(2 / (out_channels * kernel * kernel))`. PyTorch's fan-out does
/// not divide by the groups (Burn's does), which matters for the depthwise convolutions.
fn torchvision_conv(
    channels: [usize; 2],
    kernel: usize,
    stride: usize,
    groups: usize,
) -> Conv2dConfig {
    let padding = (kernel - 1) / 2;
    let fan_out = (channels[1] * kernel * kernel) as f64;
    Conv2dConfig::new(channels, [kernel, kernel])
        .with_stride([stride, stride])
        .with_padding(PaddingConfig2d::Explicit(
            padding, padding, padding, padding,
        ))
        .with_groups(groups)
        .with_bias(false)
        .with_initializer(Initializer::Normal {
            mean: 0.0,
            std: (2.0 / fan_out).sqrt(),
        })
}

/// Convolution, BatchNorm and (optionally) ReLU6: torchvision's `Conv2dNormActivation`
/// (whose children `0` and `1` are our `conv` and `bn`).
#[derive(Module, Debug)]
pub struct Conv2dNormActivation<B: Backend> {
    /// Bias-free convolution, padding `(kernel - 1) / 2`.
    pub conv: Conv2d<B>,
    /// BatchNorm after it.
    pub bn: BatchNorm<B>,
}

impl<B: Backend> Conv2dNormActivation<B> {
    /// A `kernel x kernel` convolution of `stride` over `groups` groups, then BatchNorm.
    pub(crate) fn new(
        channels: [usize; 2],
        kernel: usize,
        stride: usize,
        groups: usize,
        device: &B::Device,
    ) -> Self {
        Self {
            conv: torchvision_conv(channels, kernel, stride, groups).init(device),
            bn: BatchNormConfig::new(channels[1]).init(device),
        }
    }
}

impl<B: FineFaceBackend> Conv2dNormActivation<B> {
    /// Convolution, BatchNorm, ReLU6.
    ///
    /// # Shapes
    /// - `x`: `[batch, in_channels, h, w]`
    /// - output: `[batch, out_channels, h / stride, w / stride]`
    pub fn forward(&self, x: Tensor<B, 4>) -> Tensor<B, 4> {
        self.bn.forward_relu6(conv2d(&self.conv, x))
    }
}

/// MobileNetV2's inverted residual: a 1x1 expansion to `expand_ratio` times the channels
/// (absent when the ratio is 1), a 3x3 depthwise convolution carrying the stride, a linear
/// 1x1 projection; the input is added back when the shape is kept (torchvision's
/// `InvertedResidual`, whose `conv.0` ... `conv.3` are our `expand`, `depthwise`, `project`
/// and `project_bn`; in `features.1`, without expansion, `conv.0` ... `conv.2` are the last
/// three).
#[derive(Module, Debug)]
pub struct InvertedResidual<B: Backend> {
    /// 1x1 expansion with BN and ReLU6 (none when `expand_ratio` is 1).
    pub expand: Option<Conv2dNormActivation<B>>,
    /// 3x3 depthwise convolution with BN and ReLU6; carries the stride.
    pub depthwise: Conv2dNormActivation<B>,
    /// 1x1 linear projection to the output channels.
    pub project: Conv2d<B>,
    /// BatchNorm after the projection (no activation: the bottleneck is linear).
    pub project_bn: BatchNorm<B>,
    /// Whether the input is added to the output (stride 1 and as many channels out as in).
    #[module(skip)]
    pub residual: bool,
}

impl<B: Backend> InvertedResidual<B> {
    /// torchvision's `InvertedResidual(inp, oup, stride, expand_ratio)`.
    pub(crate) fn new(
        channels: [usize; 2],
        stride: usize,
        expand_ratio: usize,
        device: &B::Device,
    ) -> Self {
        let [inp, oup] = channels;
        let hidden = inp * expand_ratio;
        Self {
            expand: (expand_ratio != 1)
                .then(|| Conv2dNormActivation::new([inp, hidden], 1, 1, 1, device)),
            depthwise: Conv2dNormActivation::new([hidden, hidden], 3, stride, hidden, device),
            project: torchvision_conv([hidden, oup], 1, 1, 1).init(device),
            project_bn: BatchNormConfig::new(oup).init(device),
            residual: stride == 1 && inp == oup,
        }
    }
}

impl<B: FineFaceBackend> InvertedResidual<B> {
    /// # Shapes
    /// - `x`: `[batch, in_channels, h, w]`
    /// - output: `[batch, out_channels, h / stride, w / stride]`
    pub fn forward(&self, x: Tensor<B, 4>) -> Tensor<B, 4> {
        let hidden = match &self.expand {
            Some(expand) => expand.forward(x.clone()), // [b, t * c_in, h, w]
            None => x.clone(),
        };
        let hidden = self.depthwise.forward(hidden); // [b, t * c_in, h / s, w / s]
        let out = self.project_bn.forward(conv2d(&self.project, hidden)); // [b, c_out, h / s, w / s]
        if self.residual { out + x } else { out }
    }
}

/// One entry of MobileNetV2's `features`: the stem and last 1x1 convolutions, or an inverted
/// residual block (the variant name is not part of weight keys).
#[derive(Module, Debug)]
// A network has 2 convolutions and 17 blocks; boxing would only add indirection.
#[allow(clippy::large_enum_variant)]
pub enum MobileNetV2Layer<B: Backend> {
    /// `features.0` (3x3 stride 2) and `features.18` (1x1 to the last channels).
    Conv(Conv2dNormActivation<B>),
    /// `features.1` ... `features.17`.
    InvertedResidual(InvertedResidual<B>),
}

impl<B: FineFaceBackend> MobileNetV2Layer<B> {
    /// # Shapes
    /// - `x`: `[batch, in_channels, h, w]`
    /// - output: `[batch, out_channels, h / stride, w / stride]`
    pub fn forward(&self, x: Tensor<B, 4>) -> Tensor<B, 4> {
        match self {
            Self::Conv(layer) => layer.forward(x),
            Self::InvertedResidual(block) => block.forward(x),
        }
    }
}
