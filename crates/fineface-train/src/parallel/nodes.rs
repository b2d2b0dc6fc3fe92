//! A run over several machines: which node this is and where node 0 listens.

use std::sync::Mutex;

use burn_collective::{AllReduceStrategy, CollectiveConfig, PeerId};

use crate::error::{Result, TrainError};

/// One node of a data-parallel run over several machines (`--nodes N --node-rank R
/// --hub HOST:PORT`).
///
/// Every node runs the same experiment with the same number of devices; the global batch
/// is cut into `nodes x devices` shards, and node `R` trains shards `R * devices ..
/// (R + 1) * devices`. Node 0 is the hub the others connect to; it validates, checkpoints and writes the run folder,
/// the other nodes train and wait.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeSettings {
    /// Number of nodes (machines), at least 2.
    pub nodes: u32,
    /// This node's rank, `0..nodes`.
    pub rank: u32,
    /// `HOST:PORT` of node 0 as the other nodes reach it; node 0 listens there.
    pub hub: String,
}

impl NodeSettings {
    /// Checks the rank and the hub's address.
    ///
    /// # Errors
    /// [`TrainError::Nodes`] naming the value that is wrong.
    pub fn validate(&self) -> Result<()> {
        if self.nodes < 2 {
            return Err(TrainError::Nodes(format!(
                "--nodes {} (a run over several machines has at least 2; leave --nodes out on \
                 one machine)",
                self.nodes
            )));
        }
        if self.rank >= self.nodes {
            return Err(TrainError::Nodes(format!(
                "--node-rank {} is not below --nodes {}",
                self.rank, self.nodes
            )));
        }
        self.hub_port().map(|_| ())
    }

    /// The port node 0 listens on.
    ///
    /// # Errors
    /// [`TrainError::Nodes`] for an address without a port.
    pub fn hub_port(&self) -> Result<u16> {
        self.hub
            .rsplit_once(':')
            .and_then(|(host, port)| (!host.is_empty()).then_some(port))
            .and_then(|port| port.parse::<u16>().ok())
            .ok_or_else(|| TrainError::Nodes(format!("--hub `{}` is not HOST:PORT", self.hub)))
    }

    /// Whether this node validates, checkpoints and writes the run folder.
    pub fn is_first(&self) -> bool {
        self.rank == 0
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
            node: nodes.map_or(0, |n| n.rank),
            nodes: nodes.map_or(1, |n| n.nodes),
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

    fn node(rank: u32) -> NodeSettings {
        NodeSettings {
            nodes: 2,
            rank,
            hub: "10.0.0.1:3000".to_owned(),
        }
    }

    #[test]
    fn peers_are_numbered_node_by_node() {
        let peers = Peers::new(2, Some(&node(1)));
        assert_eq!(peers.total(), 4);
        assert_eq!((peers.rank(0), peers.rank(1)), (2, 3));
        assert_eq!(Peers::new(3, None).rank(2), 2);
    }

    #[test]
    fn node_settings_are_checked_with_the_flag_named() {
        assert!(node(1).validate().is_ok());
        assert_eq!(node(1).hub_port().unwrap(), 3000);
        let message = |n: NodeSettings| n.validate().unwrap_err().to_string();
        assert!(
            message(node(2)).contains("--node-rank 2"),
            "{}",
            message(node(2))
        );
        for hub in ["10.0.0.1", ":3000", "10.0.0.1:port", "10.0.0.1:70000"] {
            let bad = NodeSettings {
                hub: hub.to_owned(),
                ..node(0)
            };
            assert!(message(bad).contains(&format!("--hub `{hub}`")), "{hub}");
        }
        let one = NodeSettings {
            nodes: 1,
            ..node(0)
        };
        assert!(message(one).contains("at least 2"));
    }
}
