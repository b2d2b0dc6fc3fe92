//! O-Net: the last verdict on 48 x 48 crops, with five landmarks.

use burn::module::Module;
use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::nn::pool::MaxPool2d;
use burn::nn::{Linear, LinearConfig, PRelu, PReluConfig};
use burn::tensor::Tensor;
use burn::tensor::activation::softmax;
use burn::tensor::backend::Backend;
use fineface_model::{FineFaceBackend, conv2d, max_pool2d};

use super::layers::prelu_map;
use crate::weights::{RestoreColumnMajor, conv_column_major, linear_column_major};

use super::rnet::{caffe_pool, flatten_caffe};

/// O-Net's verdict on each crop.
#[derive(Debug, Clone)]
pub struct ONetOutput<B: Backend> {
    /// Box offsets `[dx1, dy1, dx2, dy2]` in box sizes, `[n, 4]`.
    pub regression: Tensor<B, 2>,
    /// Landmarks as fractions of the crop: the five x, then the five y (left eye, right
    /// eye, nose, left and right mouth corners), `[n, 10]`.
    pub landmarks: Tensor<B, 2>,
    /// Softmax over (not a face, face), `[n, 2]`.
    pub probability: Tensor<B, 2>,
}

/// facenet-pytorch's `ONet`.
#[derive(Module, Debug)]
pub struct ONet<B: Backend> {
    conv1: Conv2d<B>,
    prelu1: PRelu<B>,
    pool1: MaxPool2d,
    conv2: Conv2d<B>,
    prelu2: PRelu<B>,
    pool2: MaxPool2d,
    conv3: Conv2d<B>,
    prelu3: PRelu<B>,
    pool3: MaxPool2d,
    conv4: Conv2d<B>,
    prelu4: PRelu<B>,
    dense5: Linear<B>,
    prelu5: PRelu<B>,
    dense6_1: Linear<B>,
    dense6_2: Linear<B>,
    dense6_3: Linear<B>,
}

impl<B: Backend> ONet<B> {
    /// The network with Burn's default initialisation.
    pub fn new(device: &B::Device) -> Self {
        let prelu = |n| PReluConfig::new().with_num_parameters(n).init(device);
        Self {
            conv1: Conv2dConfig::new([3, 32], [3, 3]).init(device),
            prelu1: prelu(32),
            pool1: caffe_pool(3),
            conv2: Conv2dConfig::new([32, 64], [3, 3]).init(device),
            prelu2: prelu(64),
            pool2: caffe_pool(3),
            conv3: Conv2dConfig::new([64, 64], [3, 3]).init(device),
            prelu3: prelu(64),
            pool3: caffe_pool(2),
            conv4: Conv2dConfig::new([64, 128], [2, 2]).init(device),
            prelu4: prelu(128),
            dense5: LinearConfig::new(1152, 256).init(device),
            prelu5: prelu(256),
            dense6_1: LinearConfig::new(256, 2).init(device),
            dense6_2: LinearConfig::new(256, 4).init(device),
            dense6_3: LinearConfig::new(256, 10).init(device),
        }
    }
}

impl<B: FineFaceBackend> ONet<B> {
    /// # Shapes
    /// - `x`: `[n, 3, 48, 48]`, pixels as `(value - 127.5) / 128`
    /// - output: regression `[n, 4]`, landmarks `[n, 10]`, probability `[n, 2]`
    pub fn forward(&self, x: Tensor<B, 4>) -> ONetOutput<B> {
        let x = max_pool2d(&self.pool1, prelu_map(&self.prelu1, conv2d(&self.conv1, x))); // [n, 32, 23, 23]
        let x = max_pool2d(&self.pool2, prelu_map(&self.prelu2, conv2d(&self.conv2, x))); // [n, 64, 10, 10]
        let x = max_pool2d(&self.pool3, prelu_map(&self.prelu3, conv2d(&self.conv3, x))); // [n, 64, 4, 4]
        let x = prelu_map(&self.prelu4, conv2d(&self.conv4, x)); // [n, 128, 3, 3]
        let x = self.prelu5.forward(self.dense5.forward(flatten_caffe(x))); // [n, 256]
        ONetOutput {
            regression: self.dense6_2.forward(x.clone()),
            landmarks: self.dense6_3.forward(x.clone()),
            probability: softmax(self.dense6_1.forward(x), 1),
        }
    }
}

impl<B: Backend> RestoreColumnMajor for ONet<B> {
    fn restore_column_major(mut self) -> Self {
        self.conv1 = conv_column_major(self.conv1);
        self.conv2 = conv_column_major(self.conv2);
        self.conv3 = conv_column_major(self.conv3);
        self.conv4 = conv_column_major(self.conv4);
        self.dense5 = linear_column_major(self.dense5);
        self.dense6_1 = linear_column_major(self.dense6_1);
        self.dense6_2 = linear_column_major(self.dense6_2);
        self.dense6_3 = linear_column_major(self.dense6_3);
        self
    }
}
