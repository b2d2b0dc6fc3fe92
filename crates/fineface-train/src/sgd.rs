//! Burn's `Sgd` (momentum, dampening, weight decay; no Nesterov) with each parameter's update
//! as one backend op ([`fineface_model::sgd_step`]), for [`crate::GroupedSgd`].
//!
//! On Flex Burn's `Sgd` runs its five to six element-wise ops per parameter as sweeps on the
//! calling thread: 0.2 s of a FineFACE iteration on this project's CPU with the thread pool
//! idle (docs/performance.md). The update here is Burn's arithmetic in the same order, so the
//! parameters are the same to the bit; the state keeps Burn's record layout (`momentum`, then
//! `velocity`), so checkpoints written with Burn's `Sgd` load.

use burn::module::AutodiffModule;
use burn::optim::LearningRate;
use burn::optim::SimpleOptimizer;
use burn::optim::adaptor::OptimizerAdaptor;
use burn::record::Record;
use burn::tensor::Tensor;
use burn::tensor::backend::{AutodiffBackend, Backend};
use fineface_model::{FineFaceBackend, SgdOptions, sgd_step};

/// SGD with momentum and weight decay, PyTorch's update without Nesterov.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FusedSgd {
    /// The momentum factor.
    pub momentum: f64,
    /// The dampening of the gradient in the momentum buffer (PyTorch's default is 0).
    pub dampening: f64,
    /// The L2 penalty added to the gradient.
    pub weight_decay: f32,
}

/// A parameter's state, laid out as Burn's `SgdState`.
#[derive(Record, Clone)]
pub struct SgdState<B: Backend, const D: usize> {
    /// The momentum buffer.
    pub momentum: Option<MomentumState<B, D>>,
}

/// A parameter's momentum buffer, laid out as Burn's `MomentumState`.
#[derive(Record, Clone)]
pub struct MomentumState<B: Backend, const D: usize> {
    /// `momentum * velocity + (1 - dampening) * gradient` so far.
    pub velocity: Tensor<B, D>,
}

impl FusedSgd {
    /// The optimiser over the parameters of `M`.
    pub fn init<B, M>(self) -> OptimizerAdaptor<Self, M, B>
    where
        B: AutodiffBackend<InnerBackend: FineFaceBackend>,
        M: AutodiffModule<B>,
    {
        OptimizerAdaptor::from(self)
    }
}

impl<B: FineFaceBackend> SimpleOptimizer<B> for FusedSgd {
    type State<const D: usize> = SgdState<B, D>;

    fn step<const D: usize>(
        &self,
        lr: LearningRate,
        tensor: Tensor<B, D>,
        grad: Tensor<B, D>,
        state: Option<Self::State<D>>,
    ) -> (Tensor<B, D>, Option<Self::State<D>>) {
        let velocity = state.and_then(|s| s.momentum).map(|m| m.velocity);
        let options = SgdOptions {
            lr,
            momentum: self.momentum,
            dampening: self.dampening,
            weight_decay: self.weight_decay,
        };
        let [param, velocity] = sgd_step(tensor, grad, velocity, options);
        let momentum = Some(MomentumState { velocity });
        (param, Some(SgdState { momentum }))
    }

    fn to_device<const D: usize>(state: Self::State<D>, device: &B::Device) -> Self::State<D> {
        SgdState {
            momentum: state.momentum.map(|m| MomentumState {
                velocity: m.velocity.to_device(device),
            }),
        }
    }
}
