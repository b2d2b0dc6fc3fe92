//! Data parallelism: one worker per device running at once, gradients summed by
//! burn-collective's all-reduce ([`CollectiveReducer`](sync::CollectiveReducer), the
//! [`GradientReducer`](crate::GradientReducer) each worker's steps are given), and runs that
//! span several machines (MPI between the nodes, the `mpi` feature).

// The checks travel over MPI only; the tests read them without it too.
#[cfg(any(feature = "mpi", test))]
mod check;
mod link;
#[cfg(feature = "mpi")]
mod mpi;
mod nodes;
mod sync;
mod workers;

#[cfg(feature = "mpi")]
pub use link::NodeLink;
#[cfg(feature = "mpi")]
pub use mpi::Mpi;
pub use nodes::{Launch, NodeSettings};
pub use workers::{DataParallel, shard_of};
