//! P-Net: the fully convolutional proposal network, run over every scale of the pyramid.

use burn::module::Module;
use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::nn::pool::{MaxPool2d, MaxPool2dConfig};
use burn::nn::{PRelu, PReluConfig};
use burn::tensor::Tensor;
use burn::tensor::backend::Backend;
use fineface_model::{FineFaceBackend, conv2d, max_pool2d};

use super::layers::{prelu_map, softmax_pair};
use crate::weights::{RestoreColumnMajor, conv_column_major};

/// What P-Net proposes at every position of its output map (one per 12 x 12 window of the
/// input, stride 2).
#[derive(Debug, Clone)]
pub struct PNetOutput<B: Backend> {
    /// Box offsets `[dx1, dy1, dx2, dy2]` in window sizes, `[batch, 4, h', w']`.
    pub regression: Tensor<B, 4>,
    /// Softmax over (not a face, face), `[batch, 2, h', w']`.
    pub probability: Tensor<B, 4>,
}

/// facenet-pytorch's `PNet`: three 3x3 convolutions with PReLU (a 2x2 max pool, ceil mode,
/// after the first), then two 1x1 heads.
#[derive(Module, Debug)]
pub struct PNet<B: Backend> {
    conv1: Conv2d<B>,
    prelu1: PRelu<B>,
    pool1: MaxPool2d,
    conv2: Conv2d<B>,
    prelu2: PRelu<B>,
    conv3: Conv2d<B>,
    prelu3: PRelu<B>,
    conv4_1: Conv2d<B>,
    conv4_2: Conv2d<B>,
}

impl<B: Backend> PNet<B> {
    /// The network with Burn's default initialisation (load weights with
    /// [`MtcnnWeights`](crate::MtcnnWeights)).
    pub fn new(device: &B::Device) -> Self {
        Self {
            conv1: Conv2dConfig::new([3, 10], [3, 3]).init(device),
            prelu1: PReluConfig::new().with_num_parameters(10).init(device),
            pool1: MaxPool2dConfig::new([2, 2])
                .with_strides([2, 2])
                .with_ceil_mode(true)
                .init(),
            conv2: Conv2dConfig::new([10, 16], [3, 3]).init(device),
            prelu2: PReluConfig::new().with_num_parameters(16).init(device),
            conv3: Conv2dConfig::new([16, 32], [3, 3]).init(device),
            prelu3: PReluConfig::new().with_num_parameters(32).init(device),
            conv4_1: Conv2dConfig::new([32, 2], [1, 1]).init(device),
            conv4_2: Conv2dConfig::new([32, 4], [1, 1]).init(device),
        }
    }
}

impl<B: FineFaceBackend> PNet<B> {
    /// # Shapes
    /// - `x`: `[batch, 3, h, w]`, pixels as `(value - 127.5) / 128`, `h, w >= 12`
    /// - output maps: `[batch, _, h', w']` with `h' = ceil((h - 2) / 2) - 4`
    pub fn forward(&self, x: Tensor<B, 4>) -> PNetOutput<B> {
        let x = prelu_map(&self.prelu1, conv2d(&self.conv1, x)); // [b, 10, h - 2, w - 2]
        let x = max_pool2d(&self.pool1, x); // [b, 10, ceil((h - 2) / 2), ...]
        let x = prelu_map(&self.prelu2, conv2d(&self.conv2, x)); // [b, 16, ...]
        let x = prelu_map(&self.prelu3, conv2d(&self.conv3, x)); // [b, 32, h', w']
        PNetOutput {
            regression: conv2d(&self.conv4_2, x.clone()),
            probability: softmax_pair(conv2d(&self.conv4_1, x)),
        }
    }
}

impl<B: Backend> RestoreColumnMajor for PNet<B> {
    fn restore_column_major(mut self) -> Self {
        self.conv1 = conv_column_major(self.conv1);
        self.conv2 = conv_column_major(self.conv2);
        self.conv3 = conv_column_major(self.conv3);
        self.conv4_1 = conv_column_major(self.conv4_1);
        self.conv4_2 = conv_column_major(self.conv4_2);
        self
    }
}
