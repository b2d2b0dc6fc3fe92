//! The link between the nodes of a run over several machines, over MPI on localhost.
//!
//! `cargo test --features mpi --test mpi` starts this program under `mpirun
//! --oversubscribe -np 2` and `-np 3` and passes when both runs pass; under `mpirun` each
//! process is one node and runs every case, in the same order as the others (no test
//! harness: MPI is initialised once per process and every node must call the same
//! exchanges).

#![allow(clippy::unwrap_used)] // Tests panic on failure by design.
#![allow(clippy::print_stdout)] // Without a harness, this program reports its cases itself.

mod mpirun;

use std::panic::AssertUnwindSafe;
use std::process::{ExitCode, Stdio};
use std::time::{Duration, Instant};

use burn::tensor::Tensor;
use fineface_train::{Launch, Mpi, NodeLink, NodeSettings};

/// How long a node waits for the others in the cases where all of them come.
const TIMEOUT: Duration = Duration::from_secs(60);

/// One case: run on every node with this node's settings.
type Case = fn(&Mpi) -> Result<(), String>;

const CASES: [(&str, Case); 8] = [
    (
        "sums_in_rank_order_and_every_node_gets_the_same_total",
        sums_in_rank_order_and_every_node_gets_the_same_total,
    ),
    (
        "nodes_that_disagree_on_their_workers_are_refused",
        nodes_that_disagree_on_their_workers_are_refused,
    ),
    (
        "nodes_with_other_settings_are_refused",
        nodes_with_other_settings_are_refused,
    ),
    (
        "lengths_that_differ_are_refused",
        lengths_that_differ_are_refused,
    ),
    (
        "nodes_at_other_batches_are_refused",
        nodes_at_other_batches_are_refused,
    ),
    (
        "a_backend_without_a_device_collective_sums_through_host_memory",
        a_backend_without_a_device_collective_sums_through_host_memory,
    ),
    // Last: the node that stays away leaves the others' messages unread (on the link's
    // communicator, then on the world's).
    (
        "a_node_that_does_not_come_to_a_sum_is_named_within_the_timeout",
        a_node_that_does_not_come_to_a_sum_is_named_within_the_timeout,
    ),
    (
        "a_node_that_does_not_come_to_the_start_is_named_within_the_timeout",
        a_node_that_does_not_come_to_the_start_is_named_within_the_timeout,
    ),
];

fn main() -> ExitCode {
    if Launch::from_env().is_none() {
        return launch_under_mpirun();
    }
    let mpi = Mpi::init().unwrap();
    let rank = mpi.rank();
    let mut failed = 0;
    for (name, case) in CASES {
        let outcome = std::panic::catch_unwind(AssertUnwindSafe(|| case(&mpi)))
            .unwrap_or_else(|_| Err("panicked".to_owned()));
        match outcome {
            Ok(()) => println!("node {rank}: {name} ... ok"),
            Err(why) => {
                failed += 1;
                println!("node {rank}: {name} ... FAILED: {why}");
            }
        }
    }
    if failed > 0 {
        mpi.abort(1);
    }
    ExitCode::SUCCESS
}

/// This program under `mpirun` with 2, then 3 processes.
fn launch_under_mpirun() -> ExitCode {
    let program = std::env::current_exe().unwrap();
    let mut passed = true;
    for processes in [2, 3] {
        let child = mpirun::mpirun(processes, &program, &[])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let (output, late) = mpirun::finish_within(child, Duration::from_secs(300));
        let ok = output.status.success() && !late;
        println!(
            "mpirun -np {processes}: {}\n{}{}",
            if ok { "ok" } else { "FAILED" },
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        passed &= ok;
    }
    if passed {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

fn nodes(mpi: &Mpi, timeout: Duration) -> NodeSettings {
    mpi.nodes(timeout).expect("started as several nodes")
}

/// What node `rank` sums: values whose float sum depends on the order (1e8 and 1 do not
/// add up the same both ways round).
fn contribution(rank: u32, n: usize) -> Vec<f32> {
    (0..n)
        .map(|i| match (i + rank as usize) % 3 {
            0 => 1.0e8,
            1 => 1.0 + i as f32 * 0.001,
            _ => -1.0e8 - rank as f32,
        })
        .collect()
}

fn sums_in_rank_order_and_every_node_gets_the_same_total(mpi: &Mpi) -> Result<(), String> {
    let nodes = nodes(mpi, TIMEOUT);
    let mut link = NodeLink::connect(&nodes, 1, 7).map_err(|e| e.to_string())?;
    // 1001 values: slices of unequal length; 1 value: fewer values than nodes.
    for (batch, n) in [(0, 1001), (1, 1001), (2, 1)] {
        let total = link
            .all_reduce_sum(contribution(nodes.rank(), n), [0, batch, 8])
            .map_err(|e| e.to_string())?;
        let mut expected = contribution(0, n);
        for rank in 1..nodes.nodes() {
            for (e, c) in expected.iter_mut().zip(contribution(rank, n)) {
                *e += c;
            }
        }
        let same = total.len() == n
            && total
                .iter()
                .zip(&expected)
                .all(|(a, b)| a.to_bits() == b.to_bits());
        if !same {
            return Err(format!(
                "batch {batch}: the total differs from the sum in rank order: {:?} vs {:?}",
                &total[..total.len().min(4)],
                &expected[..n.min(4)]
            ));
        }
    }
    Ok(())
}

fn a_backend_without_a_device_collective_sums_through_host_memory(mpi: &Mpi) -> Result<(), String> {
    let nodes = nodes(mpi, TIMEOUT);
    let mut link = NodeLink::connect_on::<fineface_model::Cpu>(&nodes, 1, 7, &Default::default())
        .map_err(|e| e.to_string())?;
    if link.on_device() {
        return Err("Flex's link sums on the device".to_owned());
    }
    let bucket = Tensor::<fineface_model::Cpu, 1>::from_floats([1.0, 2.0], &Default::default());
    let refused = link
        .all_reduce_sum_on_device(bucket, [0, 0, 8])
        .err()
        .ok_or("a device sum without a device group")?
        .to_string();
    if !refused.contains("sums through host memory") {
        return Err(format!("refused with {refused}"));
    }
    // The refusal came before any exchange: the link still sums, through host memory.
    let total = link
        .all_reduce_sum(vec![1.0, nodes.rank() as f32], [0, 0, 8])
        .map_err(|e| e.to_string())?;
    let n = nodes.nodes() as f32;
    if total != [n, n * (n - 1.0) / 2.0] {
        return Err(format!("summed {total:?}"));
    }
    Ok(())
}

/// Whether `error` is what this node must say: node 0 `expected` (with the last node's
/// rank), every node at least `why`.
fn says(error: &str, rank: u32, why: &str, expected: &str) -> Result<(), String> {
    let wanted = if rank == 0 { expected } else { why };
    if error.contains(wanted) {
        Ok(())
    } else {
        Err(format!(
            "node {rank}'s error does not say `{wanted}`: {error}"
        ))
    }
}

/// Every node's error when the nodes connect with `workers(rank)` workers and settings
/// `fingerprint(rank)`: node 0's contains `expected`, every node's `why`.
fn refused_at_connect(
    mpi: &Mpi,
    workers: impl Fn(u32) -> usize,
    fingerprint: impl Fn(u32) -> u64,
    (why, expected): (&str, impl Fn(u32) -> String),
) -> Result<(), String> {
    let nodes = nodes(mpi, TIMEOUT);
    let rank = nodes.rank();
    match NodeLink::connect(&nodes, workers(rank), fingerprint(rank)) {
        Ok(_) => Err("connected".to_owned()),
        Err(e) => says(&e.to_string(), rank, why, &expected(nodes.nodes() - 1)),
    }
}

fn nodes_that_disagree_on_their_workers_are_refused(mpi: &Mpi) -> Result<(), String> {
    let last = mpi.nodes(TIMEOUT).unwrap().nodes() - 1;
    refused_at_connect(
        mpi,
        |rank| 1 + usize::from(rank == last),
        |_| 7,
        ("workers, node", |last| {
            format!("node {last} runs 2 workers, node 0 1")
        }),
    )
}

fn nodes_with_other_settings_are_refused(mpi: &Mpi) -> Result<(), String> {
    refused_at_connect(
        mpi,
        |_| 1,
        u64::from,
        ("trains other settings than node", |_| {
            "node 1 trains other settings than node 0".to_owned()
        }),
    )
}

/// Every node's sum of `values(rank)` at `tag(rank)`: node 0's error contains `expected`
/// (with the last node's rank), every node's `why`; the link then refuses to sum again.
fn refused_sum(
    mpi: &Mpi,
    values: impl Fn(u32) -> usize,
    tag: impl Fn(u32) -> [u64; 3],
    (why, expected): (&str, impl Fn(u32) -> String),
) -> Result<(), String> {
    let nodes = nodes(mpi, TIMEOUT);
    let rank = nodes.rank();
    let mut link = NodeLink::connect(&nodes, 1, 7).map_err(|e| e.to_string())?;
    match link.all_reduce_sum(vec![0.0; values(rank)], tag(rank)) {
        Ok(_) => return Err("summed".to_owned()),
        Err(e) => says(&e.to_string(), rank, why, &expected(nodes.nodes() - 1))?,
    }
    match link.all_reduce_sum(vec![0.0; 2], [0, 1, 8]) {
        Err(e) if e.to_string().contains("the link stopped earlier: ") => Ok(()),
        other => Err(format!("the link summed on after its error: {other:?}")),
    }
}

fn lengths_that_differ_are_refused(mpi: &Mpi) -> Result<(), String> {
    let last = mpi.nodes(TIMEOUT).unwrap().nodes() - 1;
    refused_sum(
        mpi,
        |rank| 2 + usize::from(rank == last),
        |_| [0, 0, 8],
        ("values at epoch 1 batch 0 (8 images), node", |last| {
            format!("node {last} sums 3 values at epoch 1 batch 0 (8 images), node 0 2")
        }),
    )
}

fn nodes_at_other_batches_are_refused(mpi: &Mpi) -> Result<(), String> {
    // Node 0 resumed from a later checkpoint than the others.
    refused_sum(
        mpi,
        |_| 2,
        |rank| [5 * u64::from(rank == 0), 0, 8],
        ("resumed from another checkpoint", |_| {
            "node 1 is at epoch 1 batch 0 (8 images), node 0 at epoch 6 batch 0".to_owned()
        }),
    )
}

fn a_node_that_does_not_come_to_a_sum_is_named_within_the_timeout(mpi: &Mpi) -> Result<(), String> {
    let timeout = Duration::from_secs(2);
    let nodes = nodes(mpi, timeout);
    let (rank, last) = (nodes.rank(), nodes.nodes() - 1);
    let mut link = NodeLink::connect(&nodes, 1, 7).map_err(|e| e.to_string())?;
    if rank == last {
        // This node stalls: it never comes to the exchange.
        return Ok(());
    }
    let started = Instant::now();
    let error = link
        .all_reduce_sum(vec![1.0; 4], [2, 3, 8])
        .err()
        .ok_or("summed without the last node")?
        .to_string();
    let waited = started.elapsed();
    let expected = format!("node {last} did not reach epoch 3 batch 3 (8 images) within 2 s");
    if !error.contains(&expected) {
        return Err(format!("the error does not name node {last}: {error}"));
    }
    if waited > Duration::from_secs(10) {
        return Err(format!(
            "stopped after {waited:?}, not within the 2 s timeout"
        ));
    }
    Ok(())
}

fn a_node_that_does_not_come_to_the_start_is_named_within_the_timeout(
    mpi: &Mpi,
) -> Result<(), String> {
    // The last node stalls before it connects (a slow start, a hung device): the others
    // name it instead of waiting for ever to make the link's communicator with it.
    let timeout = Duration::from_secs(2);
    let nodes = nodes(mpi, timeout);
    let (rank, last) = (nodes.rank(), nodes.nodes() - 1);
    if rank == last {
        return Ok(());
    }
    let started = Instant::now();
    let error = NodeLink::connect(&nodes, 1, 7)
        .err()
        .ok_or("connected without the last node")?
        .to_string();
    let expected = format!("node {last} did not reach the start of the run within 2 s");
    if !error.contains(&expected) {
        return Err(format!("the error does not name node {last}: {error}"));
    }
    let waited = started.elapsed();
    if waited > Duration::from_secs(10) {
        return Err(format!(
            "stopped after {waited:?}, not within the 2 s timeout"
        ));
    }
    Ok(())
}
