//! The backend extension trait, with a default for every op built from Burn's own ops.

use std::time::Duration;

use burn::tensor::backend::{AutodiffBackend, Backend};
use burn::tensor::ops::{ConvOptions, FloatTensor};
use burn::tensor::{Tensor, TensorPrimitive};

use crate::batch_norm::{
    BatchNormActivation, BatchNormForward, BatchNormGradients, BatchNormOptions,
    BatchNormStatistics, normalise, normalise_backward, normalise_inference, prelu_per_row,
};
use crate::node_group::{DeviceCollective, NodeGroup, NodeGroupError, NodeGroupId};
use crate::pool::MaxPoolOptions;
use crate::sgd::{SgdOptions, SgdUpdate, sgd_reference};

/// A Burn backend with the kernels FineFACE-rs replaces.
///
/// Every method has a default built from Burn's ops (the convolution ones are Burn's own, the
/// BatchNorm ones the closed form in Burn tensor ops, the SGD update Burn's `Sgd` arithmetic),
/// so a backend opts in with an empty impl and runs exactly what Burn would. `Flex` overrides
/// them with this crate's CPU kernels. `Autodiff<B>` (over any `B: FineFaceBackend`)
/// implements [`FineFaceBackend::conv2d_tracked`], [`FineFaceBackend::batch_norm_train`] and
/// [`FineFaceBackend::add_relu`] as single autodiff ops that run the inner backend's forward,
/// and whose backward asks it for [`FineFaceBackend::conv2d_input_gradient`],
/// [`FineFaceBackend::conv2d_weight_gradient`], [`FineFaceBackend::batch_norm_backward`] and
/// [`FineFaceBackend::relu_gradient`].
///
/// # Implementations
/// | backend | cargo feature | ops |
/// |---|---|---|
/// | `burn::backend::Flex` | `flex` (default) | this crate's kernels (`flex/`) |
/// | `burn::backend::NdArray` | `ndarray` | the defaults (Burn's ops) |
/// | `burn::backend::Cuda` | `cuda` | the defaults (Burn's CUDA kernels); NCCL between nodes |
/// | `burn::backend::Wgpu` | `wgpu` | the defaults (Burn's CubeCL kernels on Vulkan/Metal/DX12) |
/// | `burn::backend::Autodiff<B>` | (always) | single autodiff ops over `B`'s |
///
/// # Adding a backend
/// By Rust's orphan rule a trait may be implemented for a type only in the crate that defines
/// the trait or the one that defines the type, so only this crate can implement
/// `FineFaceBackend` for Burn's own backend types (`Wgpu`, `LibTorch`, `Candle`, ...); a
/// backend type you define yourself you can opt in from your own crate with the empty impl.
/// To add one of Burn's here:
/// 1. a cargo feature of the backend's name in this crate's `Cargo.toml` that switches on
///    Burn's feature of that name (`wgpu = ["burn/wgpu"]`);
/// 2. one line in `src/backends.rs`, `#[cfg(feature = "wgpu")] impl FineFaceBackend for
///    burn::backend::Wgpu {}`, which runs the defaults (override a method there only with a
///    kernel measured faster than Burn's);
/// 3. one line in `tests/defaults.rs`, `#[cfg(feature = "wgpu")] backend_tests!(wgpu,
///    burn::backend::Wgpu);`, which checks every method, and the autodiff ops over the
///    backend, against Burn's own ops;
/// 4. a row in the table above and in the README, and the feature in CI's test command.
///
/// `Autodiff<B>` needs nothing: its implementation is generic over the inner backend.
pub trait FineFaceBackend: Backend {
    /// A 2-d convolution (same contract as Burn's `ModuleOps::conv2d`). On an autodiff
    /// backend its gradients come from [`FineFaceBackend::conv2d_input_gradient`] and
    /// [`FineFaceBackend::conv2d_weight_gradient`].
    fn conv2d_tracked(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        bias: Option<FloatTensor<Self>>,
        options: ConvOptions<2>,
    ) -> FloatTensor<Self> {
        Self::conv2d(x, weight, bias, options)
    }

    /// The gradient of a 2-d convolution's input (same contract as Burn's
    /// `ModuleOps::conv2d_x_backward`).
    ///
    /// The default is Burn's op, except where the kernel spans fewer pixels than the stride
    /// (1x1 of stride 2, ResNet's downsample): there Burn 0.21's CubeCL backends (wgpu,
    /// CUDA) are wrong, so the gradient is computed as a stride-1 one over the zero-inserted
    /// output gradient (`conv.rs`, `input_gradient_by_zero_insertion`).
    fn conv2d_input_gradient(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        output_grad: FloatTensor<Self>,
        options: ConvOptions<2>,
    ) -> FloatTensor<Self> {
        let float = |t| Tensor::<Self, 4>::from_primitive(TensorPrimitive::Float(t));
        let (x, weight, output_grad) = (float(x), float(weight), float(output_grad));
        if crate::conv::skips_pixels(weight.dims(), &options)
            && let Some(grad) = crate::conv::input_gradient_by_zero_insertion(
                &x,
                weight.clone(),
                output_grad.clone(),
                &options,
            )
        {
            return grad.into_primitive().tensor();
        }
        Self::conv2d_x_backward(
            x.into_primitive().tensor(),
            weight.into_primitive().tensor(),
            output_grad.into_primitive().tensor(),
            options,
        )
    }

    /// The gradient of a 2-d convolution's weight (same contract as Burn's
    /// `ModuleOps::conv2d_weight_backward`).
    fn conv2d_weight_gradient(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        output_grad: FloatTensor<Self>,
        options: ConvOptions<2>,
    ) -> FloatTensor<Self> {
        Self::conv2d_weight_backward(x, weight, output_grad, options)
    }

    /// Training-mode batch normalisation of `[batch * channels, spatial]` rows (one row per
    /// sample and channel) with per-channel batch statistics. On an autodiff backend it is
    /// one op whose backward is [`FineFaceBackend::batch_norm_backward`], not the graph of a
    /// dozen element-wise ops; with [`BatchNormOptions::activation`] it includes the ReLU or
    /// ReLU6 that follows.
    fn batch_norm_train(
        rows: FloatTensor<Self>,
        gamma: FloatTensor<Self>,
        beta: FloatTensor<Self>,
        options: BatchNormOptions,
    ) -> BatchNormForward<Self> {
        Self::batch_norm_forward(rows, gamma, beta, options)
    }

    /// Evaluation-mode batch normalisation of `[batch * channels, spatial]` rows with fixed
    /// per-channel `scale` and `shift` (`gamma / sqrt(running_var + eps)` and
    /// `beta - running_mean * scale`), then `activation`: `activation(x * scale[c] +
    /// shift[c])` for every value `x` of a row of channel `c` (row `i` holds channel
    /// `i % channels`, as in [`FineFaceBackend::batch_norm_train`]).
    ///
    /// # Shapes
    /// - `rows`: `[batch * channels, spatial]`
    /// - `scale`, `shift`: `[channels]`
    /// - output: `[batch * channels, spatial]`
    fn batch_norm_inference(
        rows: FloatTensor<Self>,
        scale: FloatTensor<Self>,
        shift: FloatTensor<Self>,
        activation: BatchNormActivation,
    ) -> FloatTensor<Self> {
        normalise_inference::<Self>(rows, scale, shift, activation)
    }

    /// PReLU over `[batch * channels, spatial]` rows with one slope per channel (row `i`
    /// holds channel `i % channels`): `x` where `x >= 0`, `alpha[c] * x` elsewhere
    /// (PyTorch's `PReLU(num_parameters = channels)`; Burn's `prelu` with a `[1, C, 1, 1]`
    /// slope broadcast).
    ///
    /// # Shapes
    /// - `rows`: `[batch * channels, spatial]`
    /// - `alpha`: `[channels]`
    /// - output: `[batch * channels, spatial]`
    fn prelu_rows(rows: FloatTensor<Self>, alpha: FloatTensor<Self>) -> FloatTensor<Self> {
        prelu_per_row::<Self>(rows, alpha)
    }

    /// A 2-d max pool (same contract as Burn's `ModuleOps::max_pool2d`); on an autodiff
    /// backend Burn's own op with its gradient.
    fn max_pool2d_tracked(x: FloatTensor<Self>, options: MaxPoolOptions) -> FloatTensor<Self> {
        Self::max_pool2d(
            x,
            options.kernel_size,
            options.stride,
            options.padding,
            options.dilation,
            options.ceil_mode,
        )
    }

    /// `relu(lhs + rhs)` of two tensors of one shape: the end of a residual block. On an
    /// autodiff backend it is one op whose backward hands both inputs
    /// [`FineFaceBackend::relu_gradient`], not an addition and a ReLU node.
    fn add_relu(lhs: FloatTensor<Self>, rhs: FloatTensor<Self>) -> FloatTensor<Self> {
        Self::relu(Self::float_add(lhs, rhs))
    }

    /// The gradient through a ReLU from its output: `grad` where `output > 0`, zero elsewhere
    /// (same contract as Burn's `ActivationOps::relu_backward`).
    fn relu_gradient(output: FloatTensor<Self>, grad: FloatTensor<Self>) -> FloatTensor<Self> {
        Self::relu_backward(output, grad)
    }

    /// The forward of [`FineFaceBackend::batch_norm_train`] with what its backward needs.
    fn batch_norm_forward(
        rows: FloatTensor<Self>,
        gamma: FloatTensor<Self>,
        beta: FloatTensor<Self>,
        options: BatchNormOptions,
    ) -> BatchNormForward<Self> {
        normalise::<Self>(rows, gamma, beta, options)
    }

    /// The closed-form backward of [`FineFaceBackend::batch_norm_forward`], given the
    /// output gradient, the input rows and the forward's statistics.
    fn batch_norm_backward(
        grad: FloatTensor<Self>,
        rows: FloatTensor<Self>,
        statistics: BatchNormStatistics<Self>,
        options: BatchNormOptions,
    ) -> BatchNormGradients<Self> {
        normalise_backward::<Self>(grad, rows, statistics, options)
    }

    /// One SGD update of a parameter from its gradient and momentum buffer (`None` at its
    /// first step), with the arithmetic of Burn's `Sgd` (weight decay, momentum, step).
    fn sgd_step(
        param: FloatTensor<Self>,
        grad: FloatTensor<Self>,
        velocity: Option<FloatTensor<Self>>,
        options: SgdOptions,
    ) -> SgdUpdate<Self> {
        sgd_reference::<Self>(param, grad, velocity, options)
    }

    /// The device-side collective this backend sums between the nodes of a run over several
    /// machines through (`Some(DeviceCollective::Nccl)` on CUDA), or `None`: the sum then
    /// goes through host memory (fineface-train's MPI link). An autodiff backend's sums run
    /// on its inner backend (gradients are reduced there), so `Autodiff<B>` answers `None`.
    fn device_collective() -> Option<DeviceCollective> {
        None
    }

    /// Joins the group `id` names as `rank` of `nodes` processes, summing on `device`. Every
    /// node must call it at the same point: the library's set-up waits for all of them.
    ///
    /// # Errors
    /// [`NodeGroupError::Unsupported`] where [`FineFaceBackend::device_collective`] is
    /// `None` (the default); the library's errors (not found, set-up failed) otherwise.
    fn node_group(
        device: &Self::Device,
        id: &NodeGroupId,
        nodes: usize,
        rank: usize,
    ) -> Result<NodeGroup, NodeGroupError> {
        let _ = (device, id, nodes, rank);
        Err(NodeGroupError::Unsupported)
    }

    /// Sums `bucket` over the processes of `group` on the device, without a copy through host
    /// memory, into a new tensor; every process gets the same total (NCCL's all-reduce: the
    /// same bits on every node; from run to run the same in practice on the same machines,
    /// NCCL version and `NCCL_ALGO`/`NCCL_PROTO`, which NCCL does not promise).
    /// Waits at most `timeout`; past it, or when the library reports another node gone, the
    /// group is aborted and every later sum refused.
    ///
    /// # Shapes
    /// - `bucket`: `[n]`, f32
    /// - output: `[n]`
    ///
    /// # Errors
    /// [`NodeGroupError::Unsupported`] by default; [`NodeGroupError::Stalled`],
    /// [`NodeGroupError::WrongDevice`], [`NodeGroupError::WrongBucket`],
    /// [`NodeGroupError::Aborted`] or the library's error otherwise.
    fn node_all_reduce_sum(
        bucket: FloatTensor<Self>,
        group: &mut NodeGroup,
        timeout: Duration,
    ) -> Result<FloatTensor<Self>, NodeGroupError> {
        let _ = (bucket, group, timeout);
        Err(NodeGroupError::Unsupported)
    }
}

/// An autodiff backend whose inner backend is a [`FineFaceBackend`] too (what training needs:
/// the crops and evaluation run on the inner backend).
pub trait FineFaceAutodiffBackend:
    AutodiffBackend<InnerBackend: FineFaceBackend> + FineFaceBackend
{
}

impl<B> FineFaceAutodiffBackend for B where
    B: AutodiffBackend<InnerBackend: FineFaceBackend> + FineFaceBackend
{
}
