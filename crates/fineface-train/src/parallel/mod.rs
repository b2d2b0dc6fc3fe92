//! Data parallelism: one worker per device running at once, gradients summed by
//! burn-collective's all-reduce ([`CollectiveReducer`](sync::CollectiveReducer), the
//! [`GradientReducer`](crate::GradientReducer) each worker's steps are given), and runs that
//! span several machines (node 0 as the hub of the exchange between nodes).

mod hub;
mod nodes;
mod sync;
mod workers;

pub use nodes::NodeSettings;
pub use workers::{DataParallel, shard_of};
