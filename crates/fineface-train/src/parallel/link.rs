//! The link between the nodes of a run over several machines: MPI (the `mpi` feature).
//!
//! Each exchange is two parts. First the nodes check that they agree on what they are
//! about to sum (`check.rs`: the settings when they connect, the batch and the bucket's
//! length at every step), point to point, with a deadline: a node that does not come
//! within [`NodeSettings::timeout`] is named in the error, and one at another batch or with
//! other settings too. Then the bucket is summed in rank order, the same on every node and
//! from run to run whatever MPI's own all-reduce would choose: a reduce-scatter (every
//! node sums its slice of the bucket over the nodes, node 0's values first) and an
//! all-gather of the slices, two MPI collectives moving `2 (N - 1) / N` of the bucket per
//! node, as a ring all-reduce does.
//!
//! On a backend with a device-side collective (NCCL on CUDA:
//! [`FineFaceBackend::device_collective`]) the sum itself runs on the devices instead, once
//! every node's check has come: node 0 makes the group's id and sends it over MPI when the
//! nodes connect, and each sum is NCCL's all-reduce of the bucket where it lies, without a
//! copy through host memory. Where a node cannot load the library, every node sums through
//! host memory, and says so.

use burn::tensor::{Tensor, TensorData};
use fineface_model::FineFaceBackend;

#[cfg(feature = "mpi")]
pub use with_mpi::NodeLink;
#[cfg(not(feature = "mpi"))]
pub(crate) use without_mpi::NodeLink;

use crate::error::{Result, TrainError};

/// A sum between nodes, as a node's first worker makes it: its node's `bucket` and the
/// other nodes', the total to all.
pub(crate) trait NodeExchange {
    /// Sums `bucket` over the nodes; `tag` is `[epoch, batch, images]` of the batch summed.
    ///
    /// # Shapes
    /// - `bucket`: `[n]`, the same `n` on every node
    /// - output: `[n]`
    fn all_reduce_sum_tensor<B: FineFaceBackend>(
        &mut self,
        bucket: Tensor<B, 1>,
        tag: [u64; 3],
    ) -> Result<Tensor<B, 1>>;
}

impl NodeExchange for NodeLink {
    fn all_reduce_sum_tensor<B: FineFaceBackend>(
        &mut self,
        bucket: Tensor<B, 1>,
        tag: [u64; 3],
    ) -> Result<Tensor<B, 1>> {
        if self.on_device() {
            return self.all_reduce_sum_on_device(bucket, tag);
        }
        let device = bucket.device();
        let n = bucket.dims()[0];
        let values = bucket
            .into_data()
            .convert::<f32>()
            .into_vec::<f32>()
            .map_err(|e| TrainError::Nodes(format!("cannot read the gradients: {e:?}")))?;
        let total = self.all_reduce_sum(values, tag)?;
        Ok(Tensor::from_data(TensorData::new(total, [n]), &device))
    }
}

/// The link of a worker that is not its node's first: none (it never exchanges between
/// nodes; its node's first worker does). Unlike [`NodeLink`], it can move to the worker's
/// thread.
#[derive(Debug)]
pub(crate) enum NoLink {}

impl NodeExchange for NoLink {
    fn all_reduce_sum_tensor<B: FineFaceBackend>(
        &mut self,
        _: Tensor<B, 1>,
        _: [u64; 3],
    ) -> Result<Tensor<B, 1>> {
        match *self {}
    }
}

#[cfg(not(feature = "mpi"))]
mod without_mpi {
    use burn::tensor::Tensor;
    use fineface_model::FineFaceBackend;

    use super::super::nodes::NodeSettings;
    use crate::error::{Result, TrainError};

    /// Without the `mpi` feature there is no link: [`NodeLink::connect`] says how to build
    /// one.
    #[derive(Debug)]
    pub(crate) enum NodeLink {}

    impl NodeLink {
        pub(crate) fn connect_on<B: FineFaceBackend>(
            _: &NodeSettings,
            _: usize,
            _: u64,
            _: &B::Device,
        ) -> Result<Self> {
            Err(TrainError::Nodes(
                "this build has no MPI: build with the `mpi` feature (`cargo build --release \
                 -p fineface-cli --features mpi`, Open MPI or MPICH installed) to train over \
                 several machines"
                    .to_owned(),
            ))
        }

        pub(crate) fn all_reduce_sum(&mut self, _: Vec<f32>, _: [u64; 3]) -> Result<Vec<f32>> {
            match *self {}
        }

        pub(crate) fn on_device(&self) -> bool {
            match *self {}
        }

        pub(crate) fn all_reduce_sum_on_device<B: FineFaceBackend>(
            &mut self,
            _: Tensor<B, 1>,
            _: [u64; 3],
        ) -> Result<Tensor<B, 1>> {
            match *self {}
        }
    }
}

#[cfg(feature = "mpi")]
mod with_mpi {
    use std::time::{Duration, Instant};

    use mpi::datatype::{Partition, PartitionMut};
    use mpi::request::{LocalScope, Request, scope};
    use mpi::topology::{Communicator, SimpleCommunicator};
    use mpi::traits::*;

    use burn::tensor::{DType, Tensor, TensorPrimitive};
    use fineface_model::{
        CollectiveVersion, DeviceCollective, FineFaceBackend, NodeGroup, NodeGroupError,
        NodeGroupId,
    };

    use super::super::check::Check;
    use super::super::nodes::NodeSettings;
    use crate::error::{Result, TrainError};

    /// The tag of the start's check, on `MPI_COMM_WORLD` (before the link's own
    /// communicator exists, which every node must come to make).
    const HELLO_TAG: i32 = 6;

    /// The tag of the sums' checks, on the link's communicator (the sums themselves are
    /// collectives, which tags do not touch).
    const CHECK_TAG: i32 = 7;

    /// The exit code of a node that stops the run because a sum stalled (`MPI_Abort`).
    const STALLED: i32 = 3;

    /// A node's link to the other nodes of a run over several machines: its own MPI
    /// communicator (a duplicate of `MPI_COMM_WORLD`, so no other MPI traffic of the
    /// process mixes with the run's). [`DataParallel`](crate::DataParallel) gives one to the
    /// first worker of each node; a [`GradientReducer`](crate::GradientReducer) of your own
    /// can sum through one too. After an error it refuses every further sum: the nodes no
    /// longer agree on where they are.
    pub struct NodeLink {
        comm: SimpleCommunicator,
        node: Node,
        /// Why the link stopped, after an error.
        broken: Option<String>,
        /// Every node's values of this node's slice of the bucket, kept from sum to sum
        /// (a ResNet-50's slice is 100 MB over the nodes: made and faulted in once).
        gathered: Vec<f32>,
        /// The device-side group the sums run on (NCCL), where every node has one.
        group: Option<NodeGroup>,
    }

    /// This node among the others: its rank, their number, how long it waits for them.
    #[derive(Debug, Clone, Copy)]
    struct Node {
        rank: usize,
        nodes: usize,
        timeout: Duration,
    }

    impl std::fmt::Debug for NodeLink {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.debug_struct("NodeLink")
                .field("node", &self.node)
                .field("broken", &self.broken)
                .field("group", &self.group)
                .finish_non_exhaustive()
        }
    }

    impl NodeLink {
        /// Joins the other nodes (MPI must be initialised: [`Mpi::init`](crate::Mpi::init)):
        /// checks, with the timeout, that every node comes and that they agree on `workers`
        /// and `fingerprint` (of the training settings), then makes the link's communicator.
        /// Its sums go through host memory ([`NodeLink::all_reduce_sum`]);
        /// [`NodeLink::connect_on`] sums on the devices where it can.
        ///
        /// # Errors
        /// [`TrainError::Nodes`] when MPI's world is not the one `settings` describe, a node
        /// does not come within the timeout (naming it), or the nodes disagree.
        pub fn connect(settings: &NodeSettings, workers: usize, fingerprint: u64) -> Result<Self> {
            Self::join(settings, workers, fingerprint, None).map(|(link, _)| link)
        }

        /// [`NodeLink::connect`], then, where backend `B` has a device-side collective
        /// ([`FineFaceBackend::device_collective`]: NCCL on CUDA) and every node loads the
        /// same version of it, joins its group on `device`: node 0 makes the group's id and
        /// sends it over MPI. Where a node cannot load it or loads another version, node 0
        /// cannot make an id, or a node cannot join (NCCL refuses two nodes on one GPU),
        /// every node sums through host memory, and the logs say which node and why. A
        /// set-up that does not end within the timeout (a node stopped in it) stops every
        /// node (`MPI_Abort`).
        ///
        /// # Errors
        /// [`NodeLink::connect`]'s.
        pub fn connect_on<B: FineFaceBackend>(
            settings: &NodeSettings,
            workers: usize,
            fingerprint: u64,
            device: &B::Device,
        ) -> Result<Self> {
            let rank = settings.rank() as usize;
            let offered = B::device_collective().and_then(|collective| match collective.load() {
                Ok(version) => {
                    tracing::info!(
                        rank,
                        "{version} loaded: it sums between nodes if every node has it"
                    );
                    Some(version)
                }
                Err(why) => {
                    tracing::warn!("node {rank}: {why}: the nodes sum through host memory (MPI)");
                    None
                }
            });
            let (mut link, collective) = Self::join(settings, workers, fingerprint, offered)?;
            if let Some(collective) = collective {
                link.group = link.join_group::<B>(collective, device);
            }
            Ok(link)
        }

        /// Whether the sums run on the devices ([`NodeLink::all_reduce_sum_on_device`]).
        pub fn on_device(&self) -> bool {
            self.group.is_some()
        }

        /// The start's check and the link's communicator; the collective every node offered,
        /// if any.
        fn join(
            settings: &NodeSettings,
            workers: usize,
            fingerprint: u64,
            offered: Option<CollectiveVersion>,
        ) -> Result<(Self, Option<DeviceCollective>)> {
            let world = SimpleCommunicator::world();
            let (rank, nodes) = (world.rank() as usize, world.size() as usize);
            if (rank, nodes) != (settings.rank() as usize, settings.nodes() as usize) {
                return Err(TrainError::Nodes(format!(
                    "MPI numbers this process {rank} of {nodes}, the settings {} of {}",
                    settings.rank(),
                    settings.nodes()
                )));
            }
            let node = Node {
                rank,
                nodes,
                timeout: settings.timeout(),
            };
            let hello = Check::Hello {
                workers: workers as u64,
                fingerprint,
                collective: collective_code(offered),
            };
            let theirs = agree(&world, node, hello, HELLO_TAG)?;
            let lacking: Vec<usize> = (0..nodes)
                .filter(|&r| r != rank && theirs[r] != hello)
                .collect();
            if offered.is_some() && !lacking.is_empty() {
                tracing::warn!(
                    "node{} {} cannot sum on the devices or loaded another version of the \
                     library (their logs say which): every node sums through host memory (MPI)",
                    if lacking.len() > 1 { "s" } else { "" },
                    join(&lacking)
                );
            }
            // Every node has come: making the communicator cannot wait for one that has not.
            let comm = world.duplicate();
            tracing::info!(rank, nodes, "joined the other nodes over MPI");
            let link = Self {
                comm,
                node,
                broken: None,
                gathered: Vec::new(),
                group: None,
            };
            let common = offered.filter(|_| lacking.is_empty());
            Ok((link, common.map(|version| version.collective)))
        }

        /// This node's member of a `collective` group on `device`, from node 0's id; `None`
        /// (every node then sums through host memory) where node 0 cannot make an id or a
        /// node cannot join.
        fn join_group<B: FineFaceBackend>(
            &self,
            collective: DeviceCollective,
            device: &B::Device,
        ) -> Option<NodeGroup> {
            let node = self.node;
            let name = collective.name();
            let Some(id) = self.shared_id(collective) else {
                tracing::warn!(
                    "node 0 could not make the {name} group's id: every node sums through host \
                     memory (MPI)"
                );
                return None;
            };
            let watchdog = Watchdog::start(node, format!("joining the {name} group"));
            let joined = B::node_group(device, &id, node.nodes, node.rank);
            watchdog.stop();
            if let Err(why) = &joined {
                tracing::warn!(
                    "node {}: joining the {name} group between nodes: {why}",
                    node.rank
                );
            }
            let failed = self.not_ok(joined.is_ok());
            match joined {
                Ok(group) if failed.is_empty() => {
                    tracing::info!(rank = node.rank, "the nodes sum on the devices ({name})");
                    Some(group)
                }
                joined => {
                    if let Ok(mut group) = joined {
                        group.abort();
                    }
                    tracing::warn!(
                        "node{} {} could not join the {name} group (their logs say why): every \
                         node sums through host memory (MPI)",
                        if failed.len() > 1 { "s" } else { "" },
                        join(&failed)
                    );
                    None
                }
            }
        }

        /// Node 0's id of a new `collective` group, sent to every node over MPI; `None` on
        /// every node where node 0 cannot make one.
        fn shared_id(&self, collective: DeviceCollective) -> Option<NodeGroupId> {
            let (comm, node) = (&self.comm, self.node);
            // [made, id...]: node 0 says whether it made the id, then the id.
            let mut message = [0u8; 1 + NodeGroupId::LEN];
            if node.rank == 0 {
                match NodeGroupId::new(collective) {
                    Ok(id) => {
                        message[0] = 1;
                        message[1..].copy_from_slice(id.bytes());
                    }
                    Err(why) => tracing::warn!("node 0: {why}"),
                }
            }
            let what = format!("the broadcast of node 0's {} group id", collective.name());
            scope(|scope| {
                let request = comm
                    .process_at_rank(0)
                    .immediate_broadcast_into(scope, &mut message[..]);
                complete(comm, node, request, &what);
            });
            let [made, id @ ..] = message;
            (made == 1).then(|| NodeGroupId::from_bytes(collective, id))
        }

        /// The nodes whose `ok` is false, every node's gathered over MPI.
        fn not_ok(&self, ok: bool) -> Vec<usize> {
            let (comm, node) = (&self.comm, self.node);
            let (mine, mut every) = (u8::from(ok), vec![0u8; node.nodes]);
            scope(|scope| {
                let request = comm.immediate_all_gather_into(scope, &mine, &mut every[..]);
                complete(comm, node, request, "the nodes' word on the group");
            });
            (0..node.nodes).filter(|&r| every[r] == 0).collect()
        }

        /// Sums `bucket` over the nodes on the devices, through the group
        /// [`NodeLink::connect_on`] joined, after the same check as
        /// [`NodeLink::all_reduce_sum`]'s; every node gets the total.
        ///
        /// # Shapes
        /// - `bucket`: `[n]`, f32, the same `n` on every node
        /// - output: `[n]`
        ///
        /// # Errors
        /// [`NodeLink::all_reduce_sum`]'s, and [`TrainError::Nodes`] where the link has no
        /// group or the library fails (another node gone). A sum that does not complete
        /// within the timeout stops the run (`MPI_Abort`).
        pub fn all_reduce_sum_on_device<B: FineFaceBackend>(
            &mut self,
            bucket: Tensor<B, 1>,
            tag: [u64; 3],
        ) -> Result<Tensor<B, 1>> {
            self.refuse_if_broken()?;
            let Self {
                comm,
                node,
                broken,
                group,
                ..
            } = self;
            let Some(group) = group.as_mut() else {
                return Err(TrainError::Nodes(
                    "this link sums through host memory (NodeLink::all_reduce_sum)".to_owned(),
                ));
            };
            // Refused before the check: past it, the other nodes would wait in the sum.
            if bucket.dtype() != DType::F32 {
                return Err(TrainError::Nodes(format!(
                    "the nodes sum f32 buckets on the devices, not {:?}",
                    bucket.dtype()
                )));
            }
            let check = Check::Sum {
                tag,
                len: bucket.dims()[0] as u64,
            };
            let summed = agree(comm, *node, check, CHECK_TAG).and_then(|_| {
                let total =
                    B::node_all_reduce_sum(bucket.into_primitive().tensor(), group, node.timeout);
                if let Err(NodeGroupError::Stalled { .. }) = &total {
                    tracing::error!(
                        "node {}: the device sum of {} did not complete within {} s after \
                         every node agreed on it (a node stopped or was cut off in the middle): \
                         stopping every node (MPI_Abort)",
                        node.rank,
                        check.name(),
                        node.timeout.as_secs()
                    );
                    comm.abort(STALLED);
                }
                from_device(total, node.rank, &check.name())
            });
            if let Err(e) = &summed {
                *broken = Some(e.to_string());
                // The other nodes may be gone: leave the group without waiting for them.
                group.abort();
            }
            summed
        }

        /// The link's refusal after an error.
        fn refuse_if_broken(&self) -> Result<()> {
            match &self.broken {
                Some(why) => Err(TrainError::Nodes(format!(
                    "the link stopped earlier: {why}"
                ))),
                None => Ok(()),
            }
        }

        /// Sums `values` over the nodes, in rank order; every node gets the total. `tag`
        /// says what is summed (`[epoch, batch, images]`); every node must send the same,
        /// and as many values.
        ///
        /// # Errors
        /// [`TrainError::Nodes`] when a node does not come within the timeout (naming it),
        /// sums something else, or the link stopped at an earlier error. A node that stops
        /// in the middle of the sum itself stops the run: MPI's launcher ends every process,
        /// or this node aborts them after the timeout (`MPI_Abort`).
        pub fn all_reduce_sum(&mut self, mut values: Vec<f32>, tag: [u64; 3]) -> Result<Vec<f32>> {
            self.refuse_if_broken()?;
            let check = Check::Sum {
                tag,
                len: values.len() as u64,
            };
            let summed = agree(&self.comm, self.node, check, CHECK_TAG)
                .and_then(|_| self.ordered_sum(&mut values, check));
            if let Err(e) = &summed {
                self.broken = Some(e.to_string());
            }
            summed.map(|()| values)
        }

        /// Sums `values` over the nodes in rank order: each node sums its slice of every
        /// node's bucket (reduce-scatter through `MPI_Ialltoallv`), then every node gathers
        /// the summed slices (`MPI_Iallgatherv`). A node that stops in the middle stops the
        /// run: after the timeout this node calls `MPI_Abort`.
        ///
        /// # Errors
        /// [`TrainError::Nodes`] for a bucket of more than `i32::MAX` values (MPI's counts).
        fn ordered_sum(&mut self, values: &mut [f32], check: Check) -> Result<()> {
            let Self {
                comm,
                node,
                gathered,
                ..
            } = self;
            let n = i32::try_from(values.len()).map_err(|_| {
                TrainError::Nodes(format!(
                    "a bucket of {} values is more than MPI's counts hold",
                    values.len()
                ))
            })?;
            let (counts, displs) = slices(n, node.nodes);
            let own = counts[node.rank];
            // [nodes, own]: every node's values of this node's slice, node 0's first.
            if gathered.len() != own as usize * node.nodes {
                *gathered = vec![0f32; own as usize * node.nodes];
            }
            let (own_counts, own_displs): (Vec<i32>, Vec<i32>) =
                (0..node.nodes as i32).map(|r| (own, r * own)).unzip();
            {
                let sent = Partition::new(&*values, &counts[..], &displs[..]);
                let mut received =
                    PartitionMut::new(&mut gathered[..], &own_counts[..], &own_displs[..]);
                scope(|scope| {
                    let request =
                        comm.immediate_all_to_all_varcount_into(scope, &sent, &mut received);
                    complete(
                        comm,
                        *node,
                        request,
                        &format!("the sum of {}", check.name()),
                    );
                });
            }
            // Node 0's values first, then each other node's added in rank order.
            let (slice, others) = gathered.split_at_mut(own as usize);
            for theirs in others.chunks_exact(own.max(1) as usize) {
                slice.iter_mut().zip(theirs).for_each(|(s, t)| *s += t);
            }
            let mut total = PartitionMut::new(values, &counts[..], &displs[..]);
            scope(|scope| {
                let request = comm.immediate_all_gather_varcount_into(scope, &*slice, &mut total);
                complete(
                    comm,
                    *node,
                    request,
                    &format!("the sum of {}", check.name()),
                );
            });
            Ok(())
        }
    }

    /// Waits for a collective `request` on `comm`, driving MPI's progress; past the timeout
    /// the run is stopped (`MPI_Abort` ends every node's process), since a collective
    /// cannot be cancelled.
    fn complete<'a, D: ?Sized>(
        comm: &SimpleCommunicator,
        node: Node,
        mut request: Request<'a, D, &LocalScope<'a>>,
        what: &str,
    ) {
        let start = Instant::now();
        loop {
            match request.test() {
                Ok(_) => return,
                Err(pending) => request = pending,
            }
            if start.elapsed() > node.timeout {
                tracing::error!(
                    "node {}: {what} did not complete within {} s after every node agreed on \
                     it (a node stopped or was cut off in the middle): stopping every node \
                     (MPI_Abort)",
                    node.rank,
                    node.timeout.as_secs()
                );
                comm.abort(STALLED);
            }
            std::thread::yield_now();
        }
    }

    /// Stops the run (`MPI_Abort`) from a thread of its own when what it watches, a call
    /// that waits for every node without a deadline of its own (NCCL's set-up of a group),
    /// has not ended within the timeout.
    struct Watchdog {
        done: std::sync::mpsc::Sender<()>,
        thread: std::thread::JoinHandle<()>,
    }

    impl Watchdog {
        fn start(node: Node, what: String) -> Self {
            let (done, ended) = std::sync::mpsc::channel();
            let thread = std::thread::spawn(move || {
                if let Err(std::sync::mpsc::RecvTimeoutError::Timeout) =
                    ended.recv_timeout(node.timeout)
                {
                    tracing::error!(
                        "node {}: {what} did not end within {} s (a node stopped, or cannot \
                         reach node 0): stopping every node (MPI_Abort)",
                        node.rank,
                        node.timeout.as_secs()
                    );
                    // The training thread waits in the library, not in MPI: under
                    // MPI_THREAD_SERIALIZED this thread may call MPI.
                    SimpleCommunicator::world().abort(STALLED);
                }
            });
            Self { done, thread }
        }

        fn stop(self) {
            let _ = self.done.send(());
            let _ = self.thread.join();
        }
    }

    /// Sends `check` to every other node over `comm` and takes theirs (messages tagged
    /// `tag`), waiting at most the timeout; names the nodes that did not come or that
    /// disagree. Returns every node's check, by rank.
    fn agree(comm: &SimpleCommunicator, node: Node, check: Check, tag: i32) -> Result<Vec<Check>> {
        let mine = check.words();
        // Untouched where a receive is cancelled before its check came.
        let mut theirs = vec![[u64::MAX; 5]; node.nodes];
        let cancelled =
            scope(|scope| exchange_checks(comm, node, scope, (check, &mine), &mut theirs, tag));
        // A check that came as its receive was cancelled counts as come.
        let missing: Vec<usize> = cancelled
            .into_iter()
            .filter(|&r| theirs[r][0] == u64::MAX)
            .collect();
        if !missing.is_empty() {
            return Err(TrainError::Nodes(format!(
                "node{} {} did not reach {} within {} s (stopped, stalled or cut off; their \
                 logs say why): node {} stops",
                if missing.len() > 1 { "s" } else { "" },
                join(&missing),
                check.name(),
                node.timeout.as_secs(),
                node.rank
            )));
        }
        let disagreements: Vec<String> = (0..node.nodes)
            .filter(|&r| r != node.rank)
            .filter_map(|r| check.disagreement(node.rank, Check::from_words(theirs[r]), r))
            .collect();
        if disagreements.is_empty() {
            Ok(theirs
                .iter()
                .enumerate()
                .map(|(r, &words)| {
                    if r == node.rank {
                        check
                    } else {
                        Check::from_words(words)
                    }
                })
                .collect())
        } else {
            Err(TrainError::Nodes(disagreements.join("; ")))
        }
    }

    /// One node's side of `check`: receives from every other node posted first, then its
    /// own words `mine` sent to each, all polled until the timeout (saying every 10 s whom it
    /// waits for). Returns the nodes whose check had not come by then; their receives are
    /// cancelled. A send still pending then (a few bytes, which MPI sends eagerly: never
    /// seen) stops the run (`MPI_Abort`).
    fn exchange_checks<'a>(
        comm: &SimpleCommunicator,
        node: Node,
        scope: &LocalScope<'a>,
        (check, mine): (Check, &'a [u64; 5]),
        theirs: &'a mut [[u64; 5]],
        tag: i32,
    ) -> Vec<usize> {
        let others = || (0..node.nodes).filter(move |&r| r != node.rank);
        let mut receives: Vec<_> = theirs
            .iter_mut()
            .enumerate()
            .filter(|&(r, _)| r != node.rank)
            .map(|(r, words)| {
                let process = comm.process_at_rank(r as i32);
                (
                    r,
                    process.immediate_receive_into_with_tag(scope, &mut words[..], tag),
                )
            })
            .collect();
        let mut sends: Vec<_> = others()
            .map(|r| {
                let process = comm.process_at_rank(r as i32);
                process.immediate_send_with_tag(scope, &mine[..], tag)
            })
            .collect();
        let mut waiting = Waiting::new(node.timeout);
        let done = |receives: &[_], sends: &[_]| receives.is_empty() && sends.is_empty();
        while !done(&receives, &sends) && !waiting.over() {
            receives = receives
                .into_iter()
                .filter_map(|(r, request)| request.test().err().map(|request| (r, request)))
                .collect();
            sends = sends.into_iter().filter_map(|s| s.test().err()).collect();
            if !receives.is_empty() {
                let ranks: Vec<usize> = receives.iter().map(|(r, _)| *r).collect();
                waiting.log(|waited, left| {
                    tracing::info!(
                        "node {} waiting for node(s) {} at {} ({waited} s so far, {left} s \
                         left; node 0 validates and checkpoints between epochs)",
                        node.rank,
                        join(&ranks),
                        check.name()
                    );
                });
            }
            waiting.pause();
        }
        if !sends.is_empty() {
            tracing::error!(
                "node {}: its check could not be sent within {} s: stopping every node \
                 (MPI_Abort)",
                node.rank,
                node.timeout.as_secs()
            );
            comm.abort(STALLED);
        }
        receives
            .into_iter()
            .map(|(r, request)| {
                request.cancel();
                request.wait();
                r
            })
            .collect()
    }

    /// A device-side sum's result as a tensor, or its error as the link's.
    fn from_device<B: FineFaceBackend>(
        total: std::result::Result<
            burn::tensor::ops::FloatTensor<B>,
            fineface_model::NodeGroupError,
        >,
        rank: usize,
        what: &str,
    ) -> Result<Tensor<B, 1>> {
        total
            .map(|t| Tensor::from_primitive(TensorPrimitive::Float(t)))
            .map_err(|e| TrainError::Nodes(format!("node {rank}: the device sum of {what}: {e}")))
    }

    /// `Check::Hello::collective` of a node that offers `version`: the library in the
    /// high half, its version code in the low one.
    fn collective_code(version: Option<CollectiveVersion>) -> u64 {
        match version {
            None => Check::NO_COLLECTIVE,
            Some(CollectiveVersion {
                collective: DeviceCollective::Nccl,
                code,
            }) => (1 << 32) | u64::from(code),
        }
    }

    /// Each node's slice of a bucket of `n` values: counts and offsets, sizes differing by
    /// at most one.
    fn slices(n: i32, nodes: usize) -> (Vec<i32>, Vec<i32>) {
        let nodes_i = nodes as i32;
        let (per, extra) = (n / nodes_i, n % nodes_i);
        let counts: Vec<i32> = (0..nodes_i).map(|r| per + i32::from(r < extra)).collect();
        let displs = counts
            .iter()
            .scan(0, |start, &count| {
                let at = *start;
                *start += count;
                Some(at)
            })
            .collect();
        (counts, displs)
    }

    /// `1, 2` for messages.
    fn join(ranks: &[usize]) -> String {
        ranks
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// A wait with a deadline that says, at its start and every 10 s, what it waits for.
    struct Waiting {
        start: Instant,
        timeout: Duration,
        next_log: Duration,
    }

    impl Waiting {
        const EVERY: Duration = Duration::from_secs(10);

        fn new(timeout: Duration) -> Self {
            Self {
                start: Instant::now(),
                timeout,
                next_log: Self::EVERY,
            }
        }

        fn over(&self) -> bool {
            self.start.elapsed() > self.timeout
        }

        /// Calls `line(seconds waited, seconds left)` every [`Self::EVERY`].
        fn log(&mut self, line: impl FnOnce(u64, u64)) {
            let waited = self.start.elapsed();
            if waited >= self.next_log {
                self.next_log = waited + Self::EVERY;
                line(
                    waited.as_secs(),
                    self.timeout.saturating_sub(waited).as_secs(),
                );
            }
        }

        /// Yields the core at first (a step's exchange is usually microseconds away), then
        /// sleeps a millisecond at a time (a node waiting through another's validation).
        fn pause(&self) {
            if self.start.elapsed() < Duration::from_millis(20) {
                std::thread::yield_now();
            } else {
                std::thread::sleep(Duration::from_millis(1));
            }
        }
    }

    #[cfg(test)]
    mod tests {
        use super::slices;

        #[test]
        fn slices_cover_the_bucket_and_differ_by_at_most_one() {
            assert_eq!(slices(10, 3), (vec![4, 3, 3], vec![0, 4, 7]));
            assert_eq!(slices(2, 3), (vec![1, 1, 0], vec![0, 1, 2]));
        }
    }
}
