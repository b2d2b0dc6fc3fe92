//! The machines of a run: this process alone, or one node of several that `mpirun` or
//! `srun` started (MPI between them, the `mpi` feature).

use std::time::Duration;

use fineface_train::{Launch, NodeSettings};

/// This process's place in a run, and MPI for as long as it trains when a launcher started
/// it.
pub(crate) struct Cluster {
    nodes: Option<NodeSettings>,
    #[cfg(feature = "mpi")]
    mpi: Option<fineface_train::Mpi>,
}

impl Cluster {
    /// This process alone, or, when a launcher started several, one node of them, each
    /// waiting at most `timeout` for the others at an exchange.
    ///
    /// # Errors
    /// When a launcher started several processes of a build without MPI (each would train
    /// the whole run alone, into the same folder), or one whose MPI does not see them.
    pub(crate) fn join(timeout: Duration) -> anyhow::Result<Self> {
        match Launch::from_env() {
            None => Ok(Self::alone()),
            Some(launch) => Self::launched(&launch, timeout),
        }
    }

    fn alone() -> Self {
        Self {
            nodes: None,
            #[cfg(feature = "mpi")]
            mpi: None,
        }
    }

    #[cfg(not(feature = "mpi"))]
    fn launched(launch: &Launch, _: Duration) -> anyhow::Result<Self> {
        anyhow::bail!(
            "{}={}: a launcher (mpirun, srun) started {} copies of this `fineface`, which was \
             built without MPI, so each would train the whole run alone: build it with \
             `cargo build --release -p fineface-cli --features mpi` (Open MPI or MPICH \
             installed), or start it without the launcher",
            launch.variable,
            launch.processes,
            launch.processes
        )
    }

    #[cfg(feature = "mpi")]
    fn launched(launch: &Launch, timeout: Duration) -> anyhow::Result<Self> {
        let mpi = fineface_train::Mpi::init()?;
        let Some(nodes) = mpi.nodes(timeout) else {
            anyhow::bail!(
                "{}={}: the launcher started {} processes, but MPI sees this one alone: this \
                 `fineface` was linked against another MPI than the launcher's (with Slurm, \
                 try `srun --mpi=pmix` or `--mpi=pmi2`)",
                launch.variable,
                launch.processes,
                launch.processes
            );
        };
        Ok(Self {
            nodes: Some(nodes),
            mpi: Some(mpi),
        })
    }

    /// This node, or `None` for a process alone.
    pub(crate) fn nodes(&self) -> Option<&NodeSettings> {
        self.nodes.as_ref()
    }

    /// The end of the run on this node: MPI finalised after a success; after a failure
    /// over several nodes, the error reported and every node stopped (`MPI_Abort`), since
    /// the others may wait in an exchange this node will never join.
    pub(crate) fn finish(self, trained: anyhow::Result<()>) -> anyhow::Result<()> {
        #[cfg(feature = "mpi")]
        if let (Err(error), Some(mpi), Some(nodes)) = (trained.as_ref(), &self.mpi, &self.nodes) {
            // Every node's last word reaches the launcher's output: each says whose it is.
            crate::report_error(&anyhow::anyhow!("node {}: {error:#}", nodes.rank()));
            mpi.abort(1);
        }
        trained
    }
}
