//! One node's side of `cargo xtask bench allreduce`: sums a bucket of `--values` floats over
//! the nodes `mpirun` started, `--iters` times after one warm-up, and node 0 prints
//! `{"times_s": [...]}` (each sum's wall time, checks included).
//!
//! ```sh
//! cargo build --release -p fineface-train --features mpi --example bench_allreduce
//! mpirun -np 2 target/release/examples/bench_allreduce --link ours --values 25557032
//! ```
//! Links:
//! - `ours`: [`NodeLink::all_reduce_sum`], what training sums through between nodes (the
//!   batch check, then the rank-order sum);
//! - `mpi-allreduce`: MPI's own `MPI_Allreduce` (sum) on the same bucket, the reference.
//!
//! (The TCP hub through node 0 that MPI replaced was measured beside them before it was
//! deleted: `docs/performance.md#between-machines`.)

#![allow(clippy::print_stdout)] // The JSON result is this program's output.

use std::time::Instant;

use clap::{Parser, ValueEnum};
use fineface_train::{Mpi, NodeLink};
use mpi::collective::{CommunicatorCollectives, SystemOperation};
use mpi::topology::SimpleCommunicator;

#[derive(Debug, Clone, Copy, ValueEnum)]
enum Link {
    Ours,
    MpiAllreduce,
}

#[derive(Parser)]
struct Args {
    #[arg(long, value_enum)]
    link: Link,
    /// Floats in the bucket (a ResNet-50's parameters: 25,557,032).
    #[arg(long, default_value_t = 25_557_032)]
    values: usize,
    /// Timed sums (after one warm-up sum).
    #[arg(long, default_value_t = 5)]
    iters: usize,
}

/// One sum of a bucket: the bucket, the sum's index.
type SumFn = dyn FnMut(Vec<f32>, u64) -> anyhow::Result<Vec<f32>>;

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let mpi = Mpi::init()?;
    let nodes = mpi
        .nodes(std::time::Duration::from_secs(120))
        .ok_or_else(|| anyhow::anyhow!("start it under mpirun with 2 or more processes"))?;
    let bucket: Vec<f32> = (0..args.values)
        .map(|i| (i % 1000) as f32 * 1e-3 + nodes.rank() as f32)
        .collect();
    let mut sum: Box<SumFn> = match args.link {
        Link::Ours => {
            let mut link = NodeLink::connect(&nodes, 1, 0)?;
            Box::new(move |values, i| Ok(link.all_reduce_sum(values, [0, i, 8])?))
        }
        Link::MpiAllreduce => {
            let world = SimpleCommunicator::world();
            // The total's buffer is made (and touched) once, outside the timed sums.
            let mut total = vec![1f32; args.values];
            Box::new(move |values: Vec<f32>, _| {
                world.all_reduce_into(&values[..], &mut total[..], SystemOperation::sum());
                Ok(values)
            })
        }
    };
    let mut times = Vec::with_capacity(args.iters);
    for i in 0..=args.iters {
        let values = bucket.clone();
        let start = Instant::now();
        let total = sum(values, i as u64)?;
        let seconds = start.elapsed().as_secs_f64();
        anyhow::ensure!(total.len() == bucket.len(), "the total lost values");
        if i > 0 {
            times.push(seconds);
        }
    }
    if nodes.is_first() {
        println!("{}", serde_json::json!({ "times_s": times }));
    }
    Ok(())
}
