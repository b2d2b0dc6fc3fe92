//! A run over several machines: which node this is, how many there are, and whether an
//! MPI launcher (`mpirun`, Slurm's `srun`) started this process.

use std::sync::Mutex;
use std::time::Duration;

use burn_collective::{AllReduceStrategy, CollectiveConfig, PeerId};

/// One node of a data-parallel run over several machines, as MPI numbers them: rank `R` of
/// `N` processes started by `mpirun -np N` or `srun` (one process a machine).
///
/// Every node runs the same experiment with the same number of devices; the global batch
/// is cut into `nodes x devices` shards, and node `R` trains shards `R * devices ..
/// (R + 1) * devices`. Node 0 validates, checkpoints and writes the run folder; the other
/// nodes train and wait. Made by [`Mpi::nodes`](crate::Mpi::nodes) (the `mpi` feature).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeSettings {
    nodes: u32,
    rank: u32,
    timeout: Duration,
}

impl NodeSettings {
    /// Node `rank` of `nodes` (at least 2), waiting at most `timeout` for the others.
    #[cfg_attr(not(feature = "mpi"), allow(dead_code))]
    pub(crate) fn new(nodes: u32, rank: u32, timeout: Duration) -> Self {
        Self {
            nodes,
            rank,
            timeout,
        }
    }

    /// Number of nodes (MPI's world size), at least 2.
    pub fn nodes(&self) -> u32 {
        self.nodes
    }

    /// This node's rank, `0..nodes`.
    pub fn rank(&self) -> u32 {
        self.rank
    }

    /// How long a node waits for the others at an exchange before it stops with an error
    /// naming the nodes that did not come (a node stopped, stalled or cut off). Node 0
    /// validates and checkpoints between epochs while the others wait: longer than that.
    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    /// Whether this node validates, checkpoints and writes the run folder.
    pub fn is_first(&self) -> bool {
        self.rank == 0
    }
}

/// An MPI launcher's say that it started this process as one of several, read from the
/// environment it sets (before MPI is initialised, and in builds without MPI, which must
/// not run as many copies of one single-machine run).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Launch {
    /// The launcher's variable that says so (`OMPI_COMM_WORLD_SIZE`, `PMI_SIZE`,
    /// `SLURM_NTASKS`).
    pub variable: &'static str,
    /// The number of processes it started.
    pub processes: u32,
}

impl Launch {
    /// The variables launchers set to the number of processes started: Open MPI's
    /// `mpirun`, MPICH's and Intel MPI's `mpiexec` (and Slurm's PMI), Slurm's `srun`.
    const VARIABLES: [&'static str; 3] = ["OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "SLURM_NTASKS"];

    /// The launch of this process when a launcher started more than one (`None` for a
    /// process started alone, or as the only one).
    pub fn from_env() -> Option<Self> {
        Self::from_vars(|name| std::env::var(name).ok())
    }

    fn from_vars(var: impl Fn(&str) -> Option<String>) -> Option<Self> {
        Self::VARIABLES.into_iter().find_map(|variable| {
            let processes = var(variable)?.trim().parse::<u32>().ok()?;
            // `SLURM_NTASKS` is also set in a batch job's own shell: only `srun` sets
            // `SLURM_STEP_ID` beside it.
            let stepped = variable != "SLURM_NTASKS" || var("SLURM_STEP_ID").is_some();
            (processes > 1 && stepped).then_some(Self {
                variable,
                processes,
            })
        })
    }
}

/// burn-collective keeps one session per backend in the process (its state, not ours):
/// data-parallel runs in one process take turns. Everything of a run's own (the node link,
/// the reducers, the failures) is a value of the run.
pub(crate) static COLLECTIVE: Mutex<()> = Mutex::new(());

/// A worker's place among all workers: its burn-collective id (its global rank) and, over
/// several nodes, the id of its node's first worker, which exchanges the node's sums with
/// the other nodes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Peer {
    /// burn-collective's id of this worker (unique over all nodes).
    pub id: PeerId,
    /// Over several nodes, the id of this node's first worker; `None` on one machine.
    pub node_leader: Option<PeerId>,
}

/// The peers of a run: how many workers in all and which of them live on this node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Peers {
    /// Workers on this node (its devices).
    pub local: usize,
    /// This node's rank (0 on one machine).
    pub node: u32,
    /// Nodes in the run (1 on one machine).
    pub nodes: u32,
}

impl Peers {
    /// The workers of a run on `local` devices, on one machine or as one node of several.
    pub fn new(local: usize, nodes: Option<&NodeSettings>) -> Self {
        Self {
            local,
            node: nodes.map_or(0, NodeSettings::rank),
            nodes: nodes.map_or(1, NodeSettings::nodes),
        }
    }

    /// Workers over all nodes: the number of shards a batch is cut into.
    pub fn total(&self) -> usize {
        self.local * self.nodes as usize
    }

    /// Global rank of this node's `i`-th worker; also the index of its shard.
    pub fn rank(&self, i: usize) -> usize {
        self.node as usize * self.local + i
    }

    /// This node's `i`-th worker: its burn-collective id (unique over all nodes) and, over
    /// several nodes, its node's first worker.
    pub(crate) fn peer(&self, i: usize) -> Peer {
        Peer {
            id: PeerId::from(self.rank(i)),
            node_leader: (self.nodes > 1).then(|| PeerId::from(self.rank(0))),
        }
    }
}

/// burn-collective's configuration of this node's workers: `local` devices and a tree
/// all-reduce between them.
pub(crate) fn collective_config(local: usize) -> CollectiveConfig {
    CollectiveConfig::default()
        .with_num_devices(local)
        .with_local_all_reduce_strategy(AllReduceStrategy::Tree(2))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn peers_are_numbered_node_by_node() {
        let node = NodeSettings::new(2, 1, Duration::from_secs(1));
        let peers = Peers::new(2, Some(&node));
        assert_eq!(peers.total(), 4);
        assert_eq!((peers.rank(0), peers.rank(1)), (2, 3));
        assert_eq!(Peers::new(3, None).rank(2), 2);
    }

    #[test]
    fn launchers_are_recognised_by_the_variables_they_set() {
        let launch = |vars: &[(&str, &str)]| {
            let vars: Vec<(String, String)> = vars
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect();
            Launch::from_vars(|name| vars.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone()))
        };
        let of = |variable, processes| {
            Some(Launch {
                variable,
                processes,
            })
        };
        assert_eq!(
            launch(&[("OMPI_COMM_WORLD_SIZE", "3")]),
            of("OMPI_COMM_WORLD_SIZE", 3)
        );
        assert_eq!(launch(&[("PMI_SIZE", "2")]), of("PMI_SIZE", 2));
        assert_eq!(
            launch(&[("SLURM_NTASKS", "2"), ("SLURM_STEP_ID", "0")]),
            of("SLURM_NTASKS", 2)
        );
        // A batch job's shell (no step), one process, or nothing a launcher set: alone.
        assert_eq!(launch(&[("SLURM_NTASKS", "2")]), None);
        assert_eq!(launch(&[("OMPI_COMM_WORLD_SIZE", "1")]), None);
        assert_eq!(launch(&[("OMPI_COMM_WORLD_SIZE", "two")]), None);
        assert_eq!(launch(&[]), None);
    }
}
