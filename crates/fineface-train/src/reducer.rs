//! The seam between a training step and the other workers: what happens to a step's
//! gradients between the backward pass and the optimiser step.
//!
//! Burn's own data parallelism keeps this in the strategy (`model.step` -> `syncer.sync(grads)`
//! -> `optimize`); FineFACE's iteration takes five optimiser steps, so each step hands its
//! gradients to the [`GradientReducer`] it was given. On one device that is
//! [`LocalReducer`], which leaves them as they are; data parallelism gives each worker a
//! collective one ([`DataParallel`](crate::DataParallel)) that sums them over every worker.

use std::collections::HashMap;

use burn::module::{AutodiffModule, ModuleVisitor, Param, ParamId};
use burn::optim::GradientsParams;
use burn::tensor::backend::{AutodiffBackend, Backend};
use burn::tensor::{ElementConversion, Tensor};

use crate::error::Result;
use crate::optim::GroupGradients;

/// How a step's loss and gradients join those of the other workers of a data-parallel run.
///
/// A step weights its shard's mean loss by the shard's share of
/// [`batch_images`](GradientReducer::batch_images), so that the sum over workers is the whole
/// batch's mean loss and gradient, then hands [`all_reduce_sum`](GradientReducer::all_reduce_sum)
/// one flat bucket: the loss first, then every gradient in the module's visiting order (the
/// same on every worker, as PyTorch's DDP buckets them).
///
/// Implement it to move gradients another way (MPI, NCCL, a parameter server): the
/// iteration is the same.
pub trait GradientReducer<B: Backend> {
    /// Images of the batch over every worker, or `None` when this worker's shards are the
    /// whole batch (nothing to exchange).
    fn batch_images(&self) -> Option<usize>;

    /// Sums `bucket` (`[n]`, the same length and order on every worker) over every worker.
    ///
    /// # Errors
    /// [`TrainError::Collective`](crate::TrainError::Collective) or
    /// [`TrainError::Nodes`](crate::TrainError::Nodes) when the exchange fails; every
    /// worker of the run then fails its step instead of waiting.
    fn all_reduce_sum(&mut self, bucket: Tensor<B, 1>) -> Result<Tensor<B, 1>>;
}

/// One worker alone: the shards are the whole batch and their gradients are left as they are.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LocalReducer;

impl<B: Backend> GradientReducer<B> for LocalReducer {
    fn batch_images(&self) -> Option<usize> {
        None
    }

    fn all_reduce_sum(&mut self, bucket: Tensor<B, 1>) -> Result<Tensor<B, 1>> {
        Ok(bucket)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Group {
    Backbone,
    Heads,
}

/// Sums `loss` (a one-value tensor: this worker's share of the batch loss) and `grads` over
/// every worker through `reducer`, as one flat bucket in the module's visiting order;
/// returns the batch loss. Afterwards every worker holds the same gradients.
///
/// # Errors
/// The reducer's: [`TrainError::Collective`](crate::TrainError::Collective) or
/// [`TrainError::Nodes`](crate::TrainError::Nodes) when the sum fails.
pub(crate) fn reduce_step<B: AutodiffBackend, M: AutodiffModule<B>>(
    model: &M,
    grads: &mut GroupGradients,
    loss: Tensor<B::InnerBackend, 1>,
    reducer: &mut dyn GradientReducer<B::InnerBackend>,
) -> Result<f64> {
    let mut flatten = Flatten::<B::InnerBackend> {
        grads,
        parts: vec![loss],
        slots: HashMap::new(),
        offset: 1,
    };
    model.visit(&mut flatten);
    let Flatten { parts, slots, .. } = flatten;
    // [1 + parameters with a gradient]
    let bucket = Tensor::cat(parts, 0);
    let reduced = reducer.all_reduce_sum(bucket)?;
    let loss = reduced.clone().slice(0..1).into_scalar().elem::<f64>();
    model.visit(&mut Unflatten {
        grads,
        bucket: reduced,
        slots,
    });
    Ok(loss)
}

/// Takes each parameter's gradient out of its group, flattened, in visiting order.
struct Flatten<'a, B: Backend> {
    grads: &'a mut GroupGradients,
    parts: Vec<Tensor<B, 1>>,
    slots: HashMap<ParamId, (Group, usize, usize)>,
    offset: usize,
}

impl<AB: AutodiffBackend> ModuleVisitor<AB> for Flatten<'_, AB::InnerBackend> {
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<AB, D>>) {
        let id = param.id;
        let taken = [
            (Group::Backbone, &mut self.grads.backbone),
            (Group::Heads, &mut self.grads.heads),
        ]
        .into_iter()
        .find_map(|(group, grads)| {
            grads
                .remove::<AB::InnerBackend, D>(id)
                .map(|grad| (group, grad))
        });
        if let Some((group, grad)) = taken {
            let n = grad.shape().num_elements();
            self.parts.push(grad.reshape([n]));
            self.slots.insert(id, (group, self.offset, n));
            self.offset += n;
        }
    }
}

/// Puts each parameter's reduced gradient back into its group, in its shape.
struct Unflatten<'a, B: Backend> {
    grads: &'a mut GroupGradients,
    bucket: Tensor<B, 1>,
    slots: HashMap<ParamId, (Group, usize, usize)>,
}

impl<AB: AutodiffBackend> ModuleVisitor<AB> for Unflatten<'_, AB::InnerBackend> {
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<AB, D>>) {
        let Some(&(group, offset, n)) = self.slots.get(&param.id) else {
            return;
        };
        let dims: [usize; D] = param.shape().dims();
        let grad = self.bucket.clone().slice(offset..offset + n).reshape(dims);
        let grads: &mut GradientsParams = match group {
            Group::Backbone => &mut self.grads.backbone,
            Group::Heads => &mut self.grads.heads,
        };
        grads.register::<AB::InnerBackend, D>(param.id, grad);
    }
}
