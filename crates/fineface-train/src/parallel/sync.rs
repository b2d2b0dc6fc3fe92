//! What replicas exchange: the gradients (and loss) of every step, summed by one
//! all-reduce, and the weights of the first replica, sent to all when workers start.
//!
//! burn-collective reduces tensor by tensor and expects every peer to call in the same
//! order. Parameters are therefore visited in the module's own order (the same on every
//! node, whereas `ParamId`s are random per process), and a step's gradients travel as one
//! flat bucket, as PyTorch's DDP buckets them: one all-reduce per step instead of one per
//! parameter.

use std::collections::HashMap;

use burn::module::{AutodiffModule, ModuleMapper, ModuleVisitor, Param, ParamId};
use burn::optim::GradientsParams;
use burn::tensor::backend::{AutodiffBackend, Backend};
use burn::tensor::{ElementConversion, Tensor, TensorPrimitive};
use burn_collective::{CollectiveError, PeerId, ReduceOperation, all_reduce, broadcast};

use super::hub;

use crate::error::{Result, TrainError};
use crate::optim::GroupGradients;

/// A worker's place among all workers: its burn-collective id (its global rank) and, over
/// several nodes, the id of its node's first worker, which exchanges the node's sums with
/// the other nodes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Peer {
    /// burn-collective's id of this worker (unique over all nodes).
    pub id: PeerId,
    /// Over several nodes, the id of this node's first worker; `None` on one machine.
    pub node_leader: Option<PeerId>,
}

impl Peer {
    /// Registers this worker with burn-collective on `device`.
    ///
    /// # Errors
    /// [`TrainError::Collective`] when burn-collective refuses the registration.
    pub(crate) fn register<B: Backend>(
        &self,
        device: B::Device,
        config: burn_collective::CollectiveConfig,
    ) -> Result<()> {
        burn_collective::register::<B>(self.id, device, config).map_err(self.error("register"))
    }

    fn error(&self, operation: &'static str) -> impl Fn(CollectiveError) -> TrainError {
        let peer = self.id.0;
        move |e| TrainError::Collective {
            operation,
            peer,
            message: format!("{e:?}"),
        }
    }

    /// Sums `values` over every worker: burn-collective's all-reduce between the workers
    /// of this node, then, over several nodes, the node leaders' exchange through node 0
    /// ([`NodeLink`](crate::NodeLink)) and burn-collective's broadcast of the total from
    /// the leader to the node's other workers.
    ///
    /// `tag` names what is summed (epoch, batch, images of the batch): the nodes must agree
    /// on it, which catches nodes that resumed from different checkpoints or skipped
    /// different images.
    fn all_reduce_sum<B: Backend>(
        &self,
        values: Tensor<B, 1>,
        tag: [u64; 3],
    ) -> Result<Tensor<B, 1>> {
        let device = values.device();
        let local = all_reduce::<B>(
            self.id,
            values.into_primitive().tensor(),
            ReduceOperation::Sum,
        )
        .map_err(self.error("all-reduce"))?;
        let local = Tensor::<B, 1>::from_primitive(TensorPrimitive::Float(local));
        let Some(leader) = self.node_leader else {
            return Ok(local);
        };
        let total =
            (self.id == leader).then(|| hub::exchange(local, tag).into_primitive().tensor());
        let total = broadcast::<B>(self.id, total).map_err(self.error("broadcast in the node"))?;
        // burn-collective hands the broadcast tensor over on the device of the first worker
        // to call, not necessarily this worker's.
        Ok(Tensor::from_primitive(TensorPrimitive::Float(total)).to_device(&device))
    }
}

/// How one worker's step joins the others': who it is and the images of the whole (global)
/// batch, so that its shard's mean loss is weighted by its share and the summed gradients
/// are the whole batch's mean gradient.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GradientSync {
    /// This worker.
    pub peer: Peer,
    /// Images in the batch over all workers.
    pub batch_images: usize,
    /// The batch's epoch (0-based), which the nodes check they agree on.
    pub epoch: usize,
    /// The batch's index in its epoch, which the nodes check they agree on.
    pub batch: usize,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Group {
    Backbone,
    Heads,
}

/// Sums `loss` (a one-value tensor: this worker's share of the batch loss) and `grads` over
/// every worker; returns the batch loss. Afterwards every worker holds the same gradients.
///
/// # Errors
/// [`TrainError::Collective`] when the all-reduce fails.
pub fn all_reduce_step<B: AutodiffBackend, M: AutodiffModule<B>>(
    model: &M,
    grads: &mut GroupGradients,
    loss: Tensor<B::InnerBackend, 1>,
    sync: GradientSync,
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
    let tag = [sync.epoch, sync.batch, sync.batch_images].map(|v| v as u64);
    let reduced = sync.peer.all_reduce_sum(bucket, tag)?;
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

/// Gives every replica the first replica's weights and BatchNorm running statistics
/// (PyTorch's DDP does the same when it wraps a module): whatever each node initialised or
/// resumed, the replicas start equal. It is one all-reduce (sum) of a bucket in which the
/// worker with `root` puts its values and every other worker zeros (burn-collective 0.21
/// has no broadcast between nodes).
///
/// # Errors
/// [`TrainError::Collective`] when the all-reduce fails.
pub fn broadcast_module<B: AutodiffBackend, M: AutodiffModule<B>>(
    model: M,
    peer: Peer,
    root: bool,
) -> Result<M> {
    let mut collect = Collect::<B::InnerBackend>(Vec::new());
    model.visit(&mut collect);
    if collect.0.is_empty() {
        return Ok(model);
    }
    // [every float of the module]
    let bucket = Tensor::cat(collect.0, 0);
    let sent = if root { bucket } else { bucket.zeros_like() };
    let received = peer.all_reduce_sum(sent, START_TAG)?;
    if root {
        return Ok(model);
    }
    Ok(model.map(&mut Scatter {
        bucket: received,
        offset: 0,
    }))
}

/// The tag of the start-up exchange of weights.
const START_TAG: [u64; 3] = [u64::MAX; 3];

/// Every float of a module (parameters and running statistics), flattened, in visiting
/// order.
struct Collect<B: Backend>(Vec<Tensor<B, 1>>);

impl<AB: AutodiffBackend> ModuleVisitor<AB> for Collect<AB::InnerBackend> {
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<AB, D>>) {
        let value = param.val().inner();
        let n = value.shape().num_elements();
        self.0.push(value.reshape([n]));
    }
}

/// Replaces every float of a module by the next values of `bucket`, in visiting order.
struct Scatter<B: Backend> {
    bucket: Tensor<B, 1>,
    offset: usize,
}

impl<AB: AutodiffBackend> ModuleMapper<AB> for Scatter<AB::InnerBackend> {
    fn map_float<const D: usize>(&mut self, param: Param<Tensor<AB, D>>) -> Param<Tensor<AB, D>> {
        let (id, tensor, mapper) = param.consume();
        let dims: [usize; D] = tensor.dims();
        let n = tensor.shape().num_elements();
        let value = self
            .bucket
            .clone()
            .slice(self.offset..self.offset + n)
            .reshape(dims)
            .to_device(&tensor.device());
        self.offset += n;
        let value = Tensor::from_inner(value).set_require_grad(tensor.is_require_grad());
        Param::from_mapped_value(id, value, mapper)
    }
}
