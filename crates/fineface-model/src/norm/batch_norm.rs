//! BatchNorm with PyTorch's semantics and a layout that is fast on Flex 0.21.

use burn::config::Config;
use burn::module::{Module, Param, RunningState};
use burn::nn::Initializer;
use burn::tensor::backend::Backend;
use burn::tensor::{Tensor, TensorPrimitive};
use fineface_kernels::{
    BatchNormActivation, BatchNormForward, BatchNormOptions, FineFaceBackend, batch_norm_inference,
};

/// Configuration of a [`BatchNorm`] layer.
#[derive(Config, Debug)]
pub struct BatchNormConfig {
    /// Number of channels (`C` of a `[B, C, ...]` input).
    pub num_features: usize,
    /// Added to the variance for numerical stability.
    #[config(default = 1e-5)]
    pub epsilon: f64,
    /// Weight of the newest batch in the running statistics (PyTorch's convention:
    /// `running = (1 - momentum) * running + momentum * batch`).
    #[config(default = 0.1)]
    pub momentum: f64,
}

/// Batch normalisation over `[B, C, ...]` inputs, a drop-in for `burn::nn::BatchNorm`
/// (same field names, so weights load with the same keys) that differs in two ways:
///
/// - the running variance is updated with the *unbiased* batch variance (`n / (n - 1)`), as
///   PyTorch does, so running statistics match a PyTorch model trained on the same batches
///   (Burn 0.21 uses the biased one);
/// - the input is viewed as `[B * C, spatial]` rows and normalised with per-row scalars:
///   Flex 0.21 runs `[B, C, H, W] op [1, C, 1, 1]` broadcasts on a slow scalar path (36-42 ms
///   against ~2 ms for a same-shape op on a ResNet-50 activation), while a `[N, M] op [N, 1]`
///   broadcast is fast.
///
/// Like Burn's, it uses batch statistics (and updates the running ones) on an autodiff
/// backend and the running statistics otherwise (`model.valid()`).
#[derive(Module, Debug)]
pub struct BatchNorm<B: Backend> {
    /// Scale (PyTorch's `weight`).
    pub gamma: Param<Tensor<B, 1>>,
    /// Shift (PyTorch's `bias`).
    pub beta: Param<Tensor<B, 1>>,
    /// Running mean of the batch means.
    pub running_mean: RunningState<Tensor<B, 1>>,
    /// Running mean of the unbiased batch variances.
    pub running_var: RunningState<Tensor<B, 1>>,
    /// Momentum of the running statistics.
    pub momentum: f64,
    /// Added to the variance for numerical stability.
    pub epsilon: f64,
}

impl BatchNormConfig {
    /// A layer with `gamma = 1`, `beta = 0`, running mean 0 and running variance 1.
    pub fn init<B: Backend>(&self, device: &B::Device) -> BatchNorm<B> {
        let n = self.num_features;
        BatchNorm {
            gamma: Initializer::Ones.init([n], device),
            beta: Initializer::Zeros.init([n], device),
            running_mean: RunningState::new(Tensor::zeros([n], device)),
            running_var: RunningState::new(Tensor::ones([n], device)),
            momentum: self.momentum,
            epsilon: self.epsilon,
        }
    }
}

impl<B: FineFaceBackend> BatchNorm<B> {
    /// Normalises `input` per channel.
    ///
    /// # Shapes
    /// - `input`: `[batch, channels, ...]` (rank 2 for BatchNorm1d, 4 for BatchNorm2d)
    /// - output: same as `input`
    pub fn forward<const D: usize>(&self, input: Tensor<B, D>) -> Tensor<B, D> {
        self.forward_with(input, BatchNormActivation::Identity)
    }

    /// `relu(self.forward(input))` as one op (in training one pass less over memory each
    /// way, and no ReLU output kept for the backward; in evaluation one sweep in place).
    ///
    /// # Shapes
    /// - `input`: `[batch, channels, ...]`
    /// - output: same as `input`
    pub fn forward_relu<const D: usize>(&self, input: Tensor<B, D>) -> Tensor<B, D> {
        self.forward_with(input, BatchNormActivation::Relu)
    }

    /// `self.forward(input).clamp(0, 6)` (MobileNetV2's ReLU6) as one op, as
    /// [`BatchNorm::forward_relu`].
    ///
    /// # Shapes
    /// - `input`: `[batch, channels, ...]`
    /// - output: same as `input`
    pub fn forward_relu6<const D: usize>(&self, input: Tensor<B, D>) -> Tensor<B, D> {
        self.forward_with(input, BatchNormActivation::Relu6)
    }

    fn forward_with<const D: usize>(
        &self,
        input: Tensor<B, D>,
        activation: BatchNormActivation,
    ) -> Tensor<B, D> {
        let dims = input.dims();
        let (batch, channels) = (dims[0], dims[1]);
        let spatial: usize = dims[2..].iter().product();
        // [b * c, spatial]: one row per (sample, channel).
        let rows = input.reshape([batch * channels, spatial]);
        let output = if B::ad_enabled(&rows.device()) {
            let options = BatchNormOptions {
                batch,
                epsilon: self.epsilon,
                activation,
            };
            self.forward_train(rows, options, spatial)
        } else {
            self.forward_eval(rows, activation)
        };
        output.reshape(dims)
    }

    /// The running statistics as one per-channel affine map and the activation, one op
    /// ([`batch_norm_inference`]).
    fn forward_eval(&self, rows: Tensor<B, 2>, activation: BatchNormActivation) -> Tensor<B, 2> {
        let device = rows.device();
        let mean = self.running_mean.value().to_device(&device);
        let var = self.running_var.value().to_device(&device);
        // y = x * scale + shift with scale = gamma / sqrt(var + eps), shift = beta - mean * scale.
        let scale = self.gamma.val() * var.add_scalar(self.epsilon).sqrt().recip();
        let shift = self.beta.val() - mean * scale.clone();
        batch_norm_inference(rows, scale, shift, activation)
    }

    /// Batch statistics through [`FineFaceBackend::batch_norm_train`] (one op with a
    /// closed-form backward), and the running statistics updated PyTorch's way.
    fn forward_train(
        &self,
        rows: Tensor<B, 2>,
        options: BatchNormOptions,
        spatial: usize,
    ) -> Tensor<B, 2> {
        let device = rows.device();
        let batch = options.batch;
        let BatchNormForward {
            output, mean, var, ..
        } = B::batch_norm_train(
            rows.into_primitive().tensor(),
            self.gamma.val().into_primitive().tensor(),
            self.beta.val().into_primitive().tensor(),
            options,
        );
        let mean = Tensor::<B, 1>::from_primitive(TensorPrimitive::Float(mean));
        let var = Tensor::<B, 1>::from_primitive(TensorPrimitive::Float(var));

        let n = (batch * spatial) as f64;
        // PyTorch stores the unbiased variance; with one value per channel it has none.
        let unbiased = if n > 1.0 { n / (n - 1.0) } else { 1.0 };
        let m = self.momentum;
        let running_mean = self.running_mean.value_sync().to_device(&device);
        let running_var = self.running_var.value_sync().to_device(&device);
        self.running_mean
            .update((running_mean.mul_scalar(1.0 - m) + mean.detach().mul_scalar(m)).detach());
        self.running_var.update(
            (running_var.mul_scalar(1.0 - m) + var.detach().mul_scalar(m * unbiased)).detach(),
        );
        Tensor::from_primitive(TensorPrimitive::Float(output))
    }
}
