//! What replicas exchange: the gradients (and loss) of every step, summed by one
//! all-reduce, and the weights of the first replica, sent to all when workers start.
//!
//! burn-collective reduces tensor by tensor and expects every peer to call in the same
//! order. Parameters are therefore visited in the module's own order (the same on every
//! node, whereas `ParamId`s are random per process), and a step's gradients travel as one
//! flat bucket ([`reduce_step`](crate::reducer)), as PyTorch's DDP buckets them: one
//! all-reduce per step instead of one per parameter.

use burn::module::{AutodiffModule, ModuleMapper, ModuleVisitor, Param};
use burn::tensor::backend::{AutodiffBackend, Backend};
use burn::tensor::{ElementConversion, Tensor, TensorData, TensorPrimitive};
use burn_collective::{CollectiveError, ReduceOperation, all_reduce, broadcast};
use fineface_model::FineFaceBackend;

use super::link::{NodeExchange, NodeLink};
use super::nodes::Peer;
use crate::error::{Result, TrainError};
use crate::reducer::GradientReducer;

/// What the nodes check they agree on before summing: the batch's epoch and index and its
/// images over every worker (catches nodes that resumed from different checkpoints or
/// skipped different images).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct BatchTag {
    /// 0-based epoch.
    pub epoch: usize,
    /// 0-based batch within the epoch.
    pub batch: usize,
    /// Images in the batch over every worker.
    pub images: usize,
}

impl BatchTag {
    /// The tag of the start-up exchange of weights.
    const START: [u64; 3] = [u64::MAX; 3];

    fn words(self) -> [u64; 3] {
        [self.epoch, self.batch, self.images].map(|v| v as u64)
    }
}

/// One worker's side of the collective sum: burn-collective's all-reduce between the
/// workers of its node and, on a node's first worker over several machines, the link `L` to
/// the other nodes, held as a value for the length of the run (the other workers' is
/// [`NoLink`](super::link::NoLink)).
#[derive(Debug)]
pub(crate) struct CollectiveReducer<L = NodeLink> {
    peer: Peer,
    /// The node's link to the other nodes: on the node's first worker over several nodes.
    link: Option<L>,
    /// The batch being reduced; `None` before the first.
    batch: Option<BatchTag>,
}

impl<L: NodeExchange> CollectiveReducer<L> {
    /// The reducer of worker `peer`; `link` is the node's, given to its first worker.
    pub(crate) fn new(peer: Peer, link: Option<L>) -> Self {
        Self {
            peer,
            link,
            batch: None,
        }
    }

    /// This worker.
    pub(crate) fn peer(&self) -> Peer {
        self.peer
    }

    /// Registers this worker with burn-collective on `device`.
    ///
    /// # Errors
    /// [`TrainError::Collective`] when burn-collective refuses the registration.
    pub(crate) fn register<B: Backend>(
        &self,
        device: B::Device,
        config: burn_collective::CollectiveConfig,
    ) -> Result<()> {
        let peer = self.peer;
        burn_collective::register::<B>(peer.id, device, config)
            .map_err(collective(peer, "register"))
    }

    /// The steps that follow reduce `batch`.
    pub(crate) fn begin(&mut self, batch: BatchTag) {
        self.batch = Some(batch);
    }

    /// Sums `values` over every worker: burn-collective's all-reduce between the workers
    /// of this node, then, over several nodes, the node leader's exchange with the other
    /// nodes ([`NodeLink`]: MPI, or NCCL on the devices) and burn-collective's broadcast of
    /// the total from the leader to the node's other workers. The broadcast carries a status
    /// first, so that when the leader's exchange fails the node's other workers fail too
    /// instead of waiting, while the leader returns the cause.
    fn sum<B: FineFaceBackend>(
        &mut self,
        values: Tensor<B, 1>,
        tag: [u64; 3],
    ) -> Result<Tensor<B, 1>> {
        let peer = self.peer;
        let device = values.device();
        let local = all_reduce::<B>(
            peer.id,
            values.into_primitive().tensor(),
            ReduceOperation::Sum,
        )
        .map_err(collective(peer, "all-reduce"))?;
        let local = Tensor::<B, 1>::from_primitive(TensorPrimitive::Float(local));
        let Some(leader) = peer.node_leader else {
            return Ok(local);
        };
        let (sent, outcome) = if peer.id == leader {
            let exchanged = self.exchange(local.clone(), tag);
            let status = Tensor::<B, 1>::from_data(
                TensorData::new(vec![if exchanged.is_ok() { 1.0f32 } else { 0.0 }], [1]),
                &device,
            );
            let total = exchanged.as_ref().map_or(local, Clone::clone);
            (
                Some(
                    Tensor::cat(vec![status, total], 0)
                        .into_primitive()
                        .tensor(),
                ),
                Some(exchanged),
            )
        } else {
            (None, None)
        };
        let received = broadcast::<B>(peer.id, sent);
        // The leader's own outcome first: a failed exchange is the cause even when the
        // broadcast that follows it fails too.
        match outcome {
            Some(Err(cause)) => return Err(cause),
            Some(Ok(total)) => {
                received.map_err(collective(peer, "broadcast in the node"))?;
                return Ok(total);
            }
            None => {}
        }
        let received = received.map_err(collective(peer, "broadcast in the node"))?;
        // burn-collective hands the broadcast tensor over on the device of the first worker
        // to call, not necessarily this worker's.
        let received =
            Tensor::<B, 1>::from_primitive(TensorPrimitive::Float(received)).to_device(&device);
        let n = received.dims()[0];
        let status = received.clone().slice(0..1).into_scalar().elem::<f64>();
        if status != 1.0 {
            return Err(TrainError::Nodes(format!(
                "worker {} stops: its node's first worker could not exchange with the other nodes",
                peer.id.0
            )));
        }
        Ok(received.slice(1..n))
    }

    /// The node leader's sum of its node's `local` sum with the other nodes': on the
    /// devices where the link can (NCCL), else through host memory (MPI).
    fn exchange<B: FineFaceBackend>(
        &mut self,
        local: Tensor<B, 1>,
        tag: [u64; 3],
    ) -> Result<Tensor<B, 1>> {
        let link = self
            .link
            .as_mut()
            .ok_or_else(|| TrainError::Nodes("no link to the other nodes".to_owned()))?;
        link.all_reduce_sum_tensor(local, tag)
    }
}

impl<B: FineFaceBackend, L: NodeExchange> GradientReducer<B> for CollectiveReducer<L> {
    fn batch_images(&self) -> Option<usize> {
        self.batch.map(|b| b.images)
    }

    fn all_reduce_sum(&mut self, bucket: Tensor<B, 1>) -> Result<Tensor<B, 1>> {
        let tag = self.batch.map_or(BatchTag::START, BatchTag::words);
        self.sum(bucket, tag)
    }
}

/// The error of burn-collective's `operation` on `peer`.
fn collective(peer: Peer, operation: &'static str) -> impl Fn(CollectiveError) -> TrainError {
    let id = peer.id.0;
    move |e| TrainError::Collective {
        operation,
        peer: id,
        message: format!("{e:?}"),
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
pub(crate) fn broadcast_module<B, M, L>(
    model: M,
    reducer: &mut CollectiveReducer<L>,
    root: bool,
) -> Result<M>
where
    B: AutodiffBackend<InnerBackend: FineFaceBackend>,
    M: AutodiffModule<B>,
    L: NodeExchange,
{
    let mut collect = Collect::<B::InnerBackend>(Vec::new());
    model.visit(&mut collect);
    if collect.0.is_empty() {
        return Ok(model);
    }
    // [every float of the module]
    let bucket = Tensor::cat(collect.0, 0);
    let sent = if root { bucket } else { bucket.zeros_like() };
    let received = reducer.sum(sent, BatchTag::START)?;
    if root {
        return Ok(model);
    }
    Ok(model.map(&mut Scatter {
        bucket: received,
        offset: 0,
    }))
}

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

#[cfg(test)]
mod tests {
    use std::sync::PoisonError;

    use burn::tensor::Tensor;
    use burn_collective::{PeerId, finish_collective, reset_collective};
    use fineface_model::Cpu;

    use super::{BatchTag, CollectiveReducer};
    use crate::error::{Result, TrainError};
    use crate::parallel::link::NoLink;
    use crate::parallel::nodes::{COLLECTIVE, Peer, collective_config};
    use crate::reducer::GradientReducer;

    /// One step's sum on each of a node's two workers whose first worker (the node leader)
    /// has `link`less exchange with the other nodes.
    fn node_of_two_without_a_link() -> [Result<Vec<f32>>; 2] {
        let _turn = COLLECTIVE.lock().unwrap_or_else(PoisonError::into_inner);
        reset_collective::<Cpu>();
        let leader = PeerId::from(0);
        std::thread::scope(|scope| {
            [0usize, 1]
                .map(|i| {
                    scope.spawn(move || {
                        let peer = Peer {
                            id: PeerId::from(i),
                            node_leader: Some(leader),
                        };
                        let mut reducer = CollectiveReducer::<NoLink>::new(peer, None);
                        reducer.register::<Cpu>(Default::default(), collective_config(2))?;
                        reducer.begin(BatchTag {
                            epoch: 0,
                            batch: 0,
                            images: 4,
                        });
                        let bucket = Tensor::<Cpu, 1>::from_floats([1.0, 2.0], &Default::default());
                        let sum = GradientReducer::<Cpu>::all_reduce_sum(&mut reducer, bucket);
                        let _ = finish_collective::<Cpu>(peer.id);
                        let values = sum?.into_data().to_vec::<f32>();
                        values.map_err(|e| TrainError::Nodes(format!("{e:?}")))
                    })
                })
                .map(|worker| {
                    worker
                        .join()
                        .unwrap_or_else(|p| std::panic::resume_unwind(p))
                })
        })
    }

    #[test]
    fn a_failed_exchange_between_nodes_stops_every_worker_of_the_node_with_its_cause() {
        // The node leader's exchange fails (no link): it returns the cause, and the node's
        // other worker, waiting for the leader's broadcast, returns an error that points at
        // it instead of waiting or taking a made-up total.
        let [leader, other] = node_of_two_without_a_link();
        let leader = leader.expect_err("the leader's exchange fails").to_string();
        assert!(leader.contains("no link to the other nodes"), "{leader}");
        let other = other.expect_err("the other worker stops too").to_string();
        assert!(
            other.contains("first worker could not exchange with the other nodes"),
            "{other}"
        );
    }
}
