//! One worker per device, all running at once: the calling thread is the first worker, the
//! others are threads of their own, each with a replica of the model and of the optimiser.

use std::ops::Range;
use std::panic::AssertUnwindSafe;
use std::sync::{Arc, MutexGuard, PoisonError, mpsc};
use std::thread::Scope;

use burn::tensor::{Int, Tensor, TensorData};
use burn_collective::{finish_collective, reset_collective};
use fineface_data::ImageBatch;
use fineface_model::{AttentionCrop, FineFaceAutodiffBackend};

use super::link::{NoLink, NodeLink};
use super::nodes::{COLLECTIVE, NodeSettings, Peers, collective_config};
use super::sync::{BatchTag, CollectiveReducer, broadcast_module};
use crate::config::TrainSettings;
use crate::error::{Result, TrainError};
use crate::iteration::{IterationContext, IterationLosses, Shard, TrainStep};
use crate::optim::GroupedSgd;

/// Stack of each worker thread: as [`Trainer::fit`](crate::Trainer::fit)'s.
const WORKER_STACK_BYTES: usize = 64 << 20;

/// Data parallelism over several devices (and, with [`NodeSettings`], several machines),
/// on Burn's collective engine (burn-collective, as Burn's own DDP strategy).
///
/// Each worker holds a replica of the model and of the optimiser. An iteration cuts the
/// batch into one shard per worker; every worker runs all of the method's steps on its own
/// shard (FineFACE's attention crops come from each worker's own images, as one device's
/// come from the whole batch), each step's gradients are summed over all workers by one
/// all-reduce, and every replica takes the same optimiser step, so the replicas stay equal.
///
/// BatchNorm: each replica normalises with its own shard's batch statistics and updates its
/// own running statistics (PyTorch's DDP without `SyncBatchNorm`). The first worker's
/// replica is the one validated and checkpointed, so a checkpoint holds the first replica's
/// running statistics; any run, on any number of devices, resumes from it, and the replicas
/// start from the first one's weights and statistics (broadcast when workers start).
///
/// Backends: Flex (every worker on the one CPU device) and CUDA (NCCL moves tensors between
/// GPUs). Not wgpu with Burn 0.21: no tensor moves between two wgpu devices, and workers
/// sharing one wgpu device were measured summing stale gradients now and then.
pub struct DataParallel<'scope, B: FineFaceAutodiffBackend, M> {
    peers: Peers,
    /// The first worker's (this thread's): it holds the node's link to the other nodes.
    reducer: CollectiveReducer,
    device: B::Device,
    crop: AttentionCrop,
    jobs: Vec<mpsc::Sender<Job<M>>>,
    results: mpsc::Receiver<(usize, Result<IterationLosses>)>,
    workers: Vec<std::thread::ScopedJoinHandle<'scope, ()>>,
    /// A worker failed or panicked: others may wait in a collective operation.
    failed: bool,
    _turn: MutexGuard<'static, ()>,
}

enum Job<M> {
    /// Register and take the first worker's weights (sent once every worker thread runs).
    Start,
    Iterate {
        batch: Arc<ImageBatch>,
        shard: Range<usize>,
        context: IterationContext,
    },
    Replica(mpsc::Sender<M>),
}

/// What a worker thread starts from.
struct WorkerStart<B: FineFaceAutodiffBackend, M: TrainStep<B>> {
    index: usize,
    reducer: CollectiveReducer<NoLink>,
    device: B::Device,
    model: M,
    optimizer: GroupedSgd<B, M>,
    crop: AttentionCrop,
    config: burn_collective::CollectiveConfig,
}

impl<'scope, B, M> DataParallel<'scope, B, M>
where
    B: FineFaceAutodiffBackend,
    M: TrainStep<B> + 'scope,
{
    /// Connects the nodes (with `nodes`), starts a worker thread for each of `devices` after
    /// the first, registers every worker with burn-collective, and gives every replica the
    /// first worker's weights. `model` and `optimizer` are the first worker's: the caller's
    /// thread is that worker. Returns the first worker's model.
    ///
    /// # Errors
    /// [`TrainError::Unsupported`] when a batch cannot give every worker 2 images,
    /// [`TrainError::Nodes`] for unusable node settings or nodes that disagree,
    /// [`TrainError::Collective`] when a worker cannot register or the broadcast fails.
    pub fn start<'env>(
        scope: &'scope Scope<'scope, 'env>,
        model: M,
        optimizer: &GroupedSgd<B, M>,
        settings: &TrainSettings,
        devices: &[B::Device],
        crop: &AttentionCrop,
        nodes: Option<&NodeSettings>,
    ) -> Result<(Self, M)> {
        let turn = COLLECTIVE.lock().unwrap_or_else(PoisonError::into_inner);
        let Some(device) = devices.first().cloned() else {
            return Err(TrainError::Unsupported("no device given".to_owned()));
        };
        let peers = Peers::new(devices.len(), nodes);
        refuse_small_batches(settings, &peers)?;
        let config = collective_config(devices.len());
        let link = nodes
            .map(|nodes| {
                NodeLink::connect_on::<B::InnerBackend>(
                    nodes,
                    devices.len(),
                    fingerprint(settings),
                    &device,
                )
            })
            .transpose()?;
        let mut reducer = CollectiveReducer::new(peers.peer(0), link);
        reset_collective::<B::InnerBackend>();
        let (reply, results) = mpsc::channel();
        let mut jobs = Vec::with_capacity(devices.len() - 1);
        let mut workers = Vec::with_capacity(devices.len() - 1);
        for (index, device) in devices.iter().enumerate().skip(1) {
            // A replica with BatchNorm running statistics of its own (clones of a Burn
            // module share them), on the worker's device.
            let replica = M::from_inner(model.valid()).fork(device);
            let start = WorkerStart {
                index,
                reducer: CollectiveReducer::new(peers.peer(index), None),
                device: device.clone(),
                model: replica,
                optimizer: GroupedSgd::new(settings).load_record(optimizer.to_record()),
                crop: crop.clone(),
                config: config.clone(),
            };
            // The workers already started see their queue close and end.
            let (send, worker) = spawn_worker(scope, start, reply.clone())?;
            jobs.push(send);
            workers.push(worker);
        }
        for job in &jobs {
            let _ = job.send(Job::Start);
        }
        reducer.register::<B::InnerBackend>(device.clone(), config)?;
        let model = broadcast_module(model, &mut reducer, peers.rank(0) == 0)?;
        tracing::info!(
            workers = peers.local,
            nodes = peers.nodes,
            node = peers.node,
            "data-parallel workers started"
        );
        Ok((
            Self {
                peers,
                reducer,
                device,
                crop: crop.clone(),
                jobs,
                results,
                workers,
                failed: false,
                _turn: turn,
            },
            model,
        ))
    }

    /// Workers over all nodes.
    pub fn total_workers(&self) -> usize {
        self.peers.total()
    }

    /// One iteration of every worker on its shard of `batch` (the whole, global batch):
    /// returns the first worker's updated model and the iteration's losses (the batch's, as
    /// one device reports them) with the training accuracy of this node's shards.
    ///
    /// # Errors
    /// Any worker's error ([`TrainError::NonFiniteLoss`] is raised by all of them at once);
    /// [`TrainError::Unsupported`] when a batch has fewer than 2 images per worker or a
    /// worker thread has stopped.
    pub fn iteration(
        &mut self,
        model: M,
        optimizer: &mut GroupedSgd<B, M>,
        batch: ImageBatch,
        context: IterationContext,
    ) -> Result<(M, IterationLosses)> {
        let n = batch.len();
        let total = self.peers.total();
        if n < 2 * total {
            return Err(TrainError::Unsupported(format!(
                "a batch of {n} images cannot give each of {total} workers 2 images"
            )));
        }
        let ranges = shard_ranges(n, total);
        let batch = Arc::new(batch);
        for (k, job) in self.jobs.iter().enumerate() {
            let i = k + 1;
            let sent = job.send(Job::Iterate {
                batch: batch.clone(),
                shard: ranges[self.peers.rank(i)].clone(),
                context,
            });
            if sent.is_err() {
                // The workers already sent this batch wait in its first all-reduce: the
                // collective is reset when this `DataParallel` drops, which ends their wait.
                self.failed = true;
                return Err(stopped(i));
            }
        }
        let own = shard_of::<B>(&batch, ranges[self.peers.rank(0)].clone(), &self.device);
        let crop = &self.crop;
        let reducer = &mut self.reducer;
        reducer.begin(batch_tag(context, n));
        let result = std::panic::catch_unwind(AssertUnwindSafe(|| {
            model.iteration(optimizer, &[own], crop, context, reducer)
        }));
        if result.is_err() {
            // The other workers may wait for this one in an all-reduce: reset the collective
            // so that they fail instead of waiting for ever.
            reset_collective::<B::InnerBackend>();
            self.failed = true;
        }
        let mut others = Vec::with_capacity(self.jobs.len());
        for _ in &self.jobs {
            let (_, losses) = self.results.recv().map_err(|_| stopped(0))?;
            others.push(losses);
        }
        let result = result.unwrap_or_else(|panic| std::panic::resume_unwind(panic));
        // A failed exchange between nodes fails this worker (the node's first) with its
        // cause and the node's other workers with a pointer to it. A worker that panicked
        // reset the collective, which fails the others' all-reduce: its panic is the cause.
        let first_other_error = others.iter().position(Result::is_err);
        if result.is_err() || first_other_error.is_some() {
            self.failed = true;
        }
        let (model, mut losses) = match result {
            Err(e) => {
                let cause = first_other_error
                    .filter(|_| matches!(e, TrainError::Collective { .. }))
                    .map(|i| others.swap_remove(i));
                return Err(match cause {
                    Some(Err(cause)) => cause,
                    _ => e,
                });
            }
            Ok(done) => done,
        };
        for other in others {
            let other = other?;
            losses.correct += other.correct;
            losses.seen += other.seen;
        }
        Ok((model, losses))
    }

    /// The replicas of the other workers on this node, as they are now (for checks: they
    /// equal the first worker's model).
    ///
    /// # Errors
    /// [`TrainError::Unsupported`] when a worker thread has stopped.
    pub fn replicas(&self) -> Result<Vec<M>> {
        self.jobs
            .iter()
            .enumerate()
            .map(|(k, job)| {
                let (send, receive) = mpsc::channel();
                job.send(Job::Replica(send)).map_err(|_| stopped(k + 1))?;
                receive.recv().map_err(|_| stopped(k + 1))
            })
            .collect()
    }
}

impl<B: FineFaceAutodiffBackend, M> Drop for DataParallel<'_, B, M> {
    fn drop(&mut self) {
        // Closing the queues ends the worker threads, which leave the collective; after a
        // failure some may wait in a collective operation, which a reset ends. They are
        // joined before the next data-parallel run may take its turn.
        self.jobs.clear();
        if self.failed || std::thread::panicking() {
            reset_collective::<B::InnerBackend>();
        }
        for worker in self.workers.drain(..) {
            let _ = worker.join();
        }
        let _ = finish_collective::<B::InnerBackend>(self.reducer.peer().id);
    }
}

/// The message a panic carries (`panic!("...")` or a formatted one), or nothing.
fn panic_message(panic: &(dyn std::any::Any + Send)) -> String {
    panic
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_default()
}

/// Where a worker answers: its index and its iteration's losses, or its error.
type Reply = mpsc::Sender<(usize, Result<IterationLosses>)>;

/// Every worker needs 2 images of each batch (BatchNorm over one image is undefined).
fn refuse_small_batches(settings: &TrainSettings, peers: &Peers) -> Result<()> {
    if settings.batch_size < 2 * peers.total() {
        return Err(TrainError::Unsupported(format!(
            "train.batch_size = {} cannot give each of {} workers 2 images",
            settings.batch_size,
            peers.total()
        )));
    }
    Ok(())
}

/// The sender of the jobs of a new worker thread serving `start`, and the thread, which
/// answers on `reply`.
fn spawn_worker<'scope, B, M>(
    scope: &'scope Scope<'scope, '_>,
    start: WorkerStart<B, M>,
    reply: Reply,
) -> Result<(
    mpsc::Sender<Job<M>>,
    std::thread::ScopedJoinHandle<'scope, ()>,
)>
where
    B: FineFaceAutodiffBackend,
    M: TrainStep<B> + 'scope,
{
    let index = start.index;
    let (send, receive) = mpsc::channel();
    let worker = std::thread::Builder::new()
        .name(format!("fineface-worker-{index}"))
        .stack_size(WORKER_STACK_BYTES)
        .spawn_scoped(scope, move || serve(start, receive, reply))
        .map_err(|e| TrainError::Unsupported(format!("cannot start worker {index}: {e}")))?;
    Ok((send, worker))
}

fn stopped(i: usize) -> TrainError {
    TrainError::Unsupported(format!("data-parallel worker {i} has stopped"))
}

/// A worker thread: registers, takes the first replica's weights, then runs the iterations
/// it is sent until its queue closes.
fn serve<B, M>(
    start: WorkerStart<B, M>,
    jobs: mpsc::Receiver<Job<M>>,
    results: mpsc::Sender<(usize, Result<IterationLosses>)>,
) where
    B: FineFaceAutodiffBackend,
    M: TrainStep<B>,
{
    let WorkerStart {
        index,
        mut reducer,
        device,
        model,
        mut optimizer,
        crop,
        config,
    } = start;
    let setup = || -> Result<M> {
        reducer.register::<B::InnerBackend>(device.clone(), config)?;
        broadcast_module(model, &mut reducer, false)
    };
    if !matches!(jobs.recv(), Ok(Job::Start)) {
        return;
    }
    let mut model = match setup() {
        Ok(model) => model,
        Err(e) => {
            tracing::error!(worker = index, error = %e, "data-parallel worker cannot start");
            // The first worker waits for this one in the start-up broadcast: a reset makes
            // it fail instead of waiting for ever.
            reset_collective::<B::InnerBackend>();
            return;
        }
    };
    while let Ok(job) = jobs.recv() {
        match job {
            Job::Iterate {
                batch,
                shard,
                context,
            } => {
                reducer.begin(batch_tag(context, batch.len()));
                let shard = shard_of::<B>(&batch, shard, &device);
                let step = std::panic::catch_unwind(AssertUnwindSafe(|| {
                    model
                        .clone()
                        .iteration(&mut optimizer, &[shard], &crop, context, &mut reducer)
                }));
                let reply = match step {
                    Ok(step) => step.map(|(updated, losses)| {
                        model = updated;
                        losses
                    }),
                    Err(panic) => {
                        // The others may wait for this worker in an all-reduce.
                        reset_collective::<B::InnerBackend>();
                        let message = panic_message(panic.as_ref());
                        let _ = results.send((
                            index,
                            Err(TrainError::Unsupported(format!(
                                "data-parallel worker {index} panicked: {message}"
                            ))),
                        ));
                        return;
                    }
                };
                if results.send((index, reply)).is_err() {
                    break;
                }
            }
            Job::Replica(reply) => {
                let _ = reply.send(model.clone());
            }
            Job::Start => {}
        }
    }
    let _ = finish_collective::<B::InnerBackend>(reducer.peer().id);
}

/// What the nodes agree on for the batch of `images` images (over every worker) at
/// `context`.
fn batch_tag(context: IterationContext, images: usize) -> BatchTag {
    BatchTag {
        epoch: context.epoch,
        batch: context.batch,
        images,
    }
}

/// A digest of the training settings every node must share (devices and decoding threads
/// aside), which the nodes compare when they connect.
fn fingerprint(settings: &TrainSettings) -> u64 {
    use sha2::Digest;
    let shared = TrainSettings {
        devices: Vec::new(),
        workers: 0,
        ..settings.clone()
    };
    let text = toml::to_string(&shared).unwrap_or_else(|_| format!("{shared:?}"));
    let digest = sha2::Sha256::digest(text.as_bytes());
    let mut first = [0u8; 8];
    first.copy_from_slice(&digest[..8]);
    u64::from_le_bytes(first)
}

/// The images of each of `workers` shards of a batch of `n`: sizes differ by at most one.
pub(crate) fn shard_ranges(n: usize, workers: usize) -> Vec<Range<usize>> {
    let workers = workers.max(1);
    let (per, extra) = (n / workers, n % workers);
    let mut start = 0;
    (0..workers)
        .map(|i| {
            let len = per + usize::from(i < extra);
            let range = start..start + len;
            start += len;
            range
        })
        .collect()
}

/// The images `range` of `batch` as a shard on `device`.
pub fn shard_of<B: FineFaceAutodiffBackend>(
    batch: &ImageBatch,
    range: Range<usize>,
    device: &B::Device,
) -> Shard<B> {
    let plane = 3 * batch.size * batch.size;
    let n = range.len();
    let images = batch.images[range.start * plane..range.end * plane].to_vec();
    let targets: Vec<i64> = batch.targets[range].iter().map(|&t| t as i64).collect();
    Shard {
        images: Tensor::<B::InnerBackend, 4>::from_data(
            TensorData::new(images, [n, 3, batch.size, batch.size]),
            device,
        ),
        targets: Tensor::<B, 1, Int>::from_data(TensorData::new(targets, [n]), device),
        device: device.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::shard_ranges;

    #[test]
    fn shards_cover_the_batch_and_differ_by_at_most_one_image() {
        assert_eq!(shard_ranges(9, 4), [0..3, 3..5, 5..7, 7..9]);
        assert_eq!(shard_ranges(8, 2), [0..4, 4..8]);
        assert_eq!(shard_ranges(5, 1), vec![0..5]);
    }
}
