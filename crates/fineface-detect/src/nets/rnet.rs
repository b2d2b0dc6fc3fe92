//! R-Net: refines P-Net's candidates on 24 x 24 crops.

use burn::module::Module;
use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::nn::pool::{MaxPool2d, MaxPool2dConfig};
use burn::nn::{Linear, LinearConfig, PRelu, PReluConfig};
use burn::tensor::Tensor;
use burn::tensor::activation::softmax;
use burn::tensor::backend::Backend;
use fineface_model::{FineFaceBackend, conv2d, max_pool2d};

use super::layers::prelu_map;
use crate::weights::{RestoreColumnMajor, conv_column_major, linear_column_major};

/// R-Net's verdict on each crop.
#[derive(Debug, Clone)]
pub struct RNetOutput<B: Backend> {
    /// Box offsets `[dx1, dy1, dx2, dy2]` in box sizes, `[n, 4]`.
    pub regression: Tensor<B, 2>,
    /// Softmax over (not a face, face), `[n, 2]`.
    pub probability: Tensor<B, 2>,
}

/// A `kernel x kernel` max pool of stride 2 in ceil mode (the Caffe original's pooling).
pub(crate) fn caffe_pool(kernel: usize) -> MaxPool2d {
    MaxPool2dConfig::new([kernel, kernel])
        .with_strides([2, 2])
        .with_ceil_mode(true)
        .init()
}

/// `[n, c, h, w]` flattened in the order of facenet-pytorch's `permute(0, 3, 2, 1)` (width,
/// height, channel: the Caffe weights' order), `[n, w * h * c]`.
pub(crate) fn flatten_caffe<B: Backend>(x: Tensor<B, 4>) -> Tensor<B, 2> {
    let [n, c, h, w] = x.dims();
    x.permute([0, 3, 2, 1]).reshape([n, w * h * c])
}

/// facenet-pytorch's `RNet`.
#[derive(Module, Debug)]
pub struct RNet<B: Backend> {
    conv1: Conv2d<B>,
    prelu1: PRelu<B>,
    pool1: MaxPool2d,
    conv2: Conv2d<B>,
    prelu2: PRelu<B>,
    pool2: MaxPool2d,
    conv3: Conv2d<B>,
    prelu3: PRelu<B>,
    dense4: Linear<B>,
    prelu4: PRelu<B>,
    dense5_1: Linear<B>,
    dense5_2: Linear<B>,
}

impl<B: Backend> RNet<B> {
    /// The network with Burn's default initialisation.
    pub fn new(device: &B::Device) -> Self {
        let prelu = |n| PReluConfig::new().with_num_parameters(n).init(device);
        Self {
            conv1: Conv2dConfig::new([3, 28], [3, 3]).init(device),
            prelu1: prelu(28),
            pool1: caffe_pool(3),
            conv2: Conv2dConfig::new([28, 48], [3, 3]).init(device),
            prelu2: prelu(48),
            pool2: caffe_pool(3),
            conv3: Conv2dConfig::new([48, 64], [2, 2]).init(device),
            prelu3: prelu(64),
            dense4: LinearConfig::new(576, 128).init(device),
            prelu4: prelu(128),
            dense5_1: LinearConfig::new(128, 2).init(device),
            dense5_2: LinearConfig::new(128, 4).init(device),
        }
    }
}

impl<B: FineFaceBackend> RNet<B> {
    /// # Shapes
    /// - `x`: `[n, 3, 24, 24]`, pixels as `(value - 127.5) / 128`
    /// - output: regression `[n, 4]`, probability `[n, 2]`
    pub fn forward(&self, x: Tensor<B, 4>) -> RNetOutput<B> {
        let x = max_pool2d(&self.pool1, prelu_map(&self.prelu1, conv2d(&self.conv1, x))); // [n, 28, 11, 11]
        let x = max_pool2d(&self.pool2, prelu_map(&self.prelu2, conv2d(&self.conv2, x))); // [n, 48, 4, 4]
        let x = prelu_map(&self.prelu3, conv2d(&self.conv3, x)); // [n, 64, 3, 3]
        let x = self.prelu4.forward(self.dense4.forward(flatten_caffe(x))); // [n, 128]
        RNetOutput {
            regression: self.dense5_2.forward(x.clone()),
            probability: softmax(self.dense5_1.forward(x), 1),
        }
    }
}

impl<B: Backend> RestoreColumnMajor for RNet<B> {
    fn restore_column_major(mut self) -> Self {
        self.conv1 = conv_column_major(self.conv1);
        self.conv2 = conv_column_major(self.conv2);
        self.conv3 = conv_column_major(self.conv3);
        self.dense4 = linear_column_major(self.dense4);
        self.dense5_1 = linear_column_major(self.dense5_1);
        self.dense5_2 = linear_column_major(self.dense5_2);
        self
    }
}
