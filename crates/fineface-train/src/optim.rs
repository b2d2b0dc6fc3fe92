//! SGD with two learning-rate groups (backbone, new layers) and the cosine schedule.
//!
//! Burn 0.21 has no parameter groups; the gradients are split by module instead
//! ([`GradientsParams::from_module`] takes the backbone's out of a backward pass) and one
//! optimiser, with one state for all parameters, steps each part at its own rate. A
//! parameter without a gradient is left untouched (no momentum, no weight decay), as in
//! PyTorch 2.x.

use burn::module::AutodiffModule;
use burn::optim::adaptor::OptimizerAdaptor;
use burn::optim::{GradientsParams, MultiGradientsParams, Optimizer};
use burn::tensor::backend::{AutodiffBackend, DeviceId};
use fineface_model::FineFaceAutodiffBackend;

use crate::config::TrainSettings;
use crate::sgd::FusedSgd;

/// The gradients of one backward pass, split into the two learning-rate groups.
pub struct GroupGradients {
    /// Gradients of backbone parameters.
    pub backbone: GradientsParams,
    /// Gradients of every other parameter (heads, conv blocks, classifiers).
    pub heads: GradientsParams,
}

/// A model whose parameters form the backbone group and the new-layer group.
pub trait GroupedModule<B: AutodiffBackend>: AutodiffModule<B> {
    /// Splits the gradients of a backward pass into the two groups.
    fn split_gradients(&self, grads: B::Gradients) -> GroupGradients;
}

/// The cosine schedule by epoch, `lr0 / 2 * (cos(pi * epoch / epochs) + 1)` with `epoch`
/// counted from 0 and the rate constant within an epoch: what Burn's
/// [`CosineAnnealingLrScheduler`](burn::lr_scheduler::cosine::CosineAnnealingLrScheduler)
/// gives when stepped once per epoch (a test steps it beside this), in closed form, so that a
/// resumed run needs nothing but its epoch. A zero rate (a frozen group) stays zero.
pub(crate) fn cosine_lr(lr0: f64, epoch: usize, epochs: usize) -> f64 {
    // Burn's expression (`min + 0.5 * (max - min) * (1 + cos(t / T * pi))` with a minimum of
    // 0), in its order, so that a run resumed here continues one the scheduler stepped to the
    // bit.
    0.5 * lr0 * (1.0 + (epoch as f64 / epochs.max(1) as f64 * std::f64::consts::PI).cos())
}

/// The learning rates of one epoch.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct EpochRates {
    /// Backbone group.
    pub backbone: f64,
    /// New layers.
    pub heads: f64,
}

/// SGD (momentum, weight decay) stepping the two groups at their own rates: Burn's `Sgd`
/// update with each parameter's update as one op ([`FusedSgd`]).
pub struct GroupedSgd<B: FineFaceAutodiffBackend, M: AutodiffModule<B>> {
    optimizer: OptimizerAdaptor<FusedSgd, M, B>,
    lr_backbone: f64,
    lr_heads: f64,
    epochs: usize,
}

/// The optimiser's state, as checkpointed.
pub type OptimizerRecord<B, M> = <OptimizerAdaptor<FusedSgd, M, B> as Optimizer<M, B>>::Record;

impl<B: FineFaceAutodiffBackend, M: GroupedModule<B>> GroupedSgd<B, M> {
    /// The optimiser of the settings: PyTorch's SGD (dampening 0, no Nesterov).
    pub fn new(settings: &TrainSettings) -> Self {
        let optimizer = FusedSgd {
            momentum: settings.momentum,
            // Burn's `MomentumConfig` defaults to 0.1; PyTorch (and the reference) use 0.
            dampening: 0.0,
            weight_decay: settings.weight_decay as f32,
        }
        .init::<B, M>();
        Self {
            optimizer,
            lr_backbone: settings.lr_backbone,
            lr_heads: settings.lr_new,
            epochs: settings.epochs,
        }
    }

    /// The rates of `epoch` (0-based).
    pub fn rates(&self, epoch: usize) -> EpochRates {
        EpochRates {
            backbone: cosine_lr(self.lr_backbone, epoch, self.epochs),
            heads: cosine_lr(self.lr_heads, epoch, self.epochs),
        }
    }

    /// One optimiser step from the gradients of one or several devices (data parallel: the
    /// per-device gradients are summed by Burn's [`MultiGradientsParams`]).
    pub fn step(&mut self, model: M, epoch: usize, grads: Vec<(GroupGradients, DeviceId)>) -> M {
        let _span = tracing::trace_span!("sgd_step").entered();
        let rates = self.rates(epoch);
        if grads.len() == 1 {
            let Some((g, _)) = grads.into_iter().next() else {
                return model;
            };
            let model = self.optimizer.step(rates.backbone, model, g.backbone);
            return self.optimizer.step(rates.heads, model, g.heads);
        }
        let mut backbone = MultiGradientsParams::default();
        let mut heads = MultiGradientsParams::default();
        for (g, device) in grads {
            backbone.grads.push((g.backbone, device));
            heads.grads.push((g.heads, device));
        }
        let model = self.optimizer.step_multi(rates.backbone, model, backbone);
        self.optimizer.step_multi(rates.heads, model, heads)
    }

    /// The momentum buffers, for checkpoints.
    pub fn to_record(&self) -> OptimizerRecord<B, M> {
        self.optimizer.to_record()
    }

    /// Restores momentum buffers from a checkpoint.
    pub fn load_record(mut self, record: OptimizerRecord<B, M>) -> Self {
        self.optimizer = self.optimizer.load_record(record);
        self
    }
}

#[cfg(test)]
mod tests {
    use super::cosine_lr;

    #[test]
    fn the_schedule_is_the_specified_cosine_by_epoch() {
        for epochs in [1, 6, 25] {
            for epoch in 0..epochs {
                let expected = 0.002 / 2.0
                    * ((std::f64::consts::PI * epoch as f64 / epochs as f64).cos() + 1.0);
                let got = cosine_lr(0.002, epoch, epochs);
                assert!(
                    (got - expected).abs() < 1e-15,
                    "{epoch}/{epochs}: {got} vs {expected}"
                );
            }
        }
        assert_eq!(
            cosine_lr(0.002, 0, 25),
            0.002,
            "the first epoch runs at the initial rate"
        );
        assert_eq!(cosine_lr(0.0, 3, 25), 0.0, "a frozen group stays frozen");
    }

    #[test]
    fn the_closed_form_is_burns_cosine_scheduler_stepped_once_per_epoch() {
        use burn::lr_scheduler::LrScheduler;
        use burn::lr_scheduler::cosine::CosineAnnealingLrSchedulerConfig;
        for (lr0, epochs) in [(0.002, 1), (0.01, 6), (1.0, 25)] {
            let mut burn = CosineAnnealingLrSchedulerConfig::new(lr0, epochs)
                .init()
                .expect("a valid schedule");
            for epoch in 0..epochs {
                let (ours, theirs) = (cosine_lr(lr0, epoch, epochs), burn.step());
                assert_eq!(
                    ours.to_bits(),
                    theirs.to_bits(),
                    "{epoch}/{epochs}: {ours} vs Burn's {theirs}"
                );
            }
        }
    }
}
