//! MPI for the life of a process started by `mpirun` or `srun` (the `mpi` feature).

use std::time::Duration;

use mpi::Threading;
use mpi::environment::Universe;
use mpi::topology::Communicator;

use super::nodes::NodeSettings;
use crate::error::{Result, TrainError};

/// MPI, initialised for as long as the value lives (rsmpi's `Universe`: `MPI_Finalize` when
/// it drops; `MPI_Abort` when it drops in a panic). A program makes one at its start when
/// [`Launch::from_env`](crate::Launch) says a launcher started it, hands
/// [`nodes`](Self::nodes) to [`RunOptions::nodes`](crate::RunOptions::nodes), and, when the
/// run fails, [`abort`](Self::abort)s instead of dropping it: the other nodes may wait in an
/// exchange that this one will never join, and `MPI_Finalize` would wait for them.
///
/// MPI is initialised on the thread that makes this value, and the node link calls it from
/// the thread that trains (another, with its own stack): MPI is initialised for calls from
/// any thread, one at a time (`MPI_THREAD_SERIALIZED`).
pub struct Mpi {
    universe: Universe,
}

impl std::fmt::Debug for Mpi {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let world = self.universe.world();
        f.debug_struct("Mpi")
            .field("rank", &world.rank())
            .field("size", &world.size())
            .finish()
    }
}

impl Mpi {
    /// Initialises MPI (`MPI_Init_thread`, serialized).
    ///
    /// # Errors
    /// [`TrainError::Nodes`] when MPI is already initialised in this process, or cannot
    /// serve calls from a thread other than the main one.
    pub fn init() -> Result<Self> {
        let (universe, threading) = mpi::initialize_with_threading(Threading::Serialized)
            .ok_or_else(|| {
                TrainError::Nodes("MPI is already initialised in this process".to_owned())
            })?;
        if matches!(threading, Threading::Single | Threading::Funneled) {
            return Err(TrainError::Nodes(format!(
                "this MPI offers {threading:?} threading; training calls MPI from its own \
                 thread and needs Serialized (Open MPI and MPICH builds offer it)"
            )));
        }
        Ok(Self { universe })
    }

    /// This process as a node of a run over several machines, waiting at most `timeout`
    /// for the others at each exchange; `None` when MPI started it alone.
    pub fn nodes(&self, timeout: Duration) -> Option<NodeSettings> {
        let world = self.universe.world();
        let (rank, size) = (world.rank() as u32, world.size() as u32);
        (size > 1).then(|| NodeSettings::new(size, rank, timeout))
    }

    /// This process's rank (0 for a process started alone).
    pub fn rank(&self) -> u32 {
        self.universe.world().rank() as u32
    }

    /// Stops every process of the run (`MPI_Abort` on the world) with exit code `code`:
    /// after an error, where the others may wait for this one.
    pub fn abort(&self, code: i32) -> ! {
        self.universe.world().abort(code)
    }
}

impl Drop for Mpi {
    /// Unwinding from a panic, stops every process (`MPI_Abort`, exit code 101 as a panic's)
    /// instead of finalising: the others may wait in an exchange this process will never
    /// join, and `MPI_Finalize` would wait for them.
    fn drop(&mut self) {
        if std::thread::panicking() {
            self.abort(101);
        }
    }
}
