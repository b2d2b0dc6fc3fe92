//! Data-parallel runs over several nodes: `fineface train` under `mpirun -np 2` and `-np 3`
//! on localhost (the `mpi` feature) trains what one process with as many workers trains,
//! and a node killed or stalled stops every node, named, within a bounded time.

#![cfg(feature = "mpi")]
#![allow(clippy::unwrap_used)] // Tests panic on failure by design.

#[path = "../../fineface-train/tests/common/mod.rs"]
mod common;
#[path = "../../fineface-train/tests/mpirun/mod.rs"]
mod mpirun;

use std::path::Path;
use std::process::{Child, Output, Stdio};
use std::time::{Duration, Instant};

use burn::module::AutodiffModule;
use fineface_model::{Cpu, CpuAutodiff};
use fineface_train::{ExperimentConfig, Method, RunOptions, load_weights};

/// `mpirun -np NODES fineface ARGS` in `dir`, every node's output piped.
fn fineface_on_nodes(nodes: usize, args: &[&str], dir: &Path) -> Child {
    mpirun::mpirun(nodes, Path::new(env!("CARGO_BIN_EXE_fineface")), args)
        .current_dir(dir)
        // Marks this run's processes, to find a node's among the machine's.
        .env("FINEFACE_TEST_RUN", dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

fn text(output: &Output) -> String {
    format!(
        "{}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

/// The tiny experiment of `workers` Flex workers a process, written to `dir/tiny.toml`.
fn tiny_experiment(dir: &Path, workers: usize, images: usize, epochs: usize) -> ExperimentConfig {
    let mut config = common::tiny_config(&dir.join("synthface"), Method::FineFace);
    if let fineface_data::DatasetConfig::SynthFace(synth) = &mut config.data {
        synth.images = images;
    }
    config.train.epochs = epochs;
    config.train.devices = vec!["cpu".to_owned(); workers];
    std::fs::write(dir.join("tiny.toml"), config.to_toml().unwrap()).unwrap();
    config
}

#[test]
fn two_nodes_train_as_one_process_with_two_workers() {
    // One worker a node: the sums are the same two numbers, in the same order. Measured:
    // bit-identical over two epochs.
    nodes_train_as_one_process(2, 1, Reference::Exact);
}

#[test]
fn three_nodes_train_as_one_process_with_three_workers_and_the_same_twice() {
    // burn-collective's tree sums three peers of one process in an order of its own (a
    // hash map's), which the nodes' rank order need not match: one iteration, as with four
    // workers below. The nodes' run itself is the same to the bit when run again.
    let (dir, run) = nodes_train_as_one_process(3, 1, Reference::OneIteration);
    let again = run_on_nodes(dir.path(), 3, "again");
    compare_runs(&run, &again, 0.0, 1);
}

#[test]
fn two_nodes_of_two_workers_train_as_one_process_with_four() {
    // Within a node burn-collective sums two workers and then broadcasts the nodes' total
    // to the second. The reference is not exact: burn-collective's tree orders four peers of
    // one device by a hash map, so one process of four sums in an order that changes from
    // run to run, and BatchNorm over 2 images a worker amplifies the rounding (three runs of
    // the one-process reference differed from each other by up to 2.5e-4 of the largest
    // weight after one iteration). So: one iteration, weights and losses within 1e-3.
    nodes_train_as_one_process(2, 2, Reference::OneIteration);
}

/// How closely the nodes must train as one process.
#[derive(Clone, Copy)]
enum Reference {
    /// Two epochs; weights and losses within 1e-5.
    Exact,
    /// One iteration (20 images, 12 to train, one batch, one epoch); weights and losses
    /// within 1e-3 (the one-process reference's own sums change order from run to run).
    OneIteration,
}

/// `nodes` `fineface` processes of `workers` Flex workers each under `mpirun`, against one
/// process of `nodes * workers` workers: the selected weights (every float) and the losses
/// within the reference's tolerance (of the largest weight; relative), and node 0's run
/// folder. Returns the temporary folder and the nodes' run.
fn nodes_train_as_one_process(
    nodes: usize,
    workers: usize,
    reference: Reference,
) -> (tempfile::TempDir, std::path::PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let (images, epochs, tolerance) = match reference {
        Reference::Exact => (96, 2, 1e-5),
        Reference::OneIteration => (20, 1, 1e-3),
    };
    let mut config = tiny_experiment(dir.path(), workers, images, epochs);
    if nodes == 3 {
        // 3 images a worker: with 8, the third worker's 2 images put BatchNorm where each
        // normalised value is +-1 by the sign of a difference that rounding flips, and two
        // runs of the one-process reference differed by a third of the largest weight
        // after one iteration (measured).
        config.train.batch_size = 9;
        std::fs::write(dir.path().join("tiny.toml"), config.to_toml().unwrap()).unwrap();
    }

    // One process (this also writes the SynthFace images every node reads).
    config.train.devices = vec!["cpu".to_owned(); nodes * workers];
    let one = dir.path().join("one-process");
    let summary = fineface_train::train::<CpuAutodiff>(
        &config,
        &vec![Default::default(); nodes * workers],
        &RunOptions {
            progress: false,
            ..RunOptions::new(&one)
        },
    )
    .unwrap();
    assert!(summary.test.is_some());

    let run = run_on_nodes(dir.path(), nodes, "nodes");
    compare_runs(&one, &run, tolerance, config.train.epochs);
    (dir, run)
}

/// `dir/tiny.toml` trained by `nodes` processes under `mpirun` into `dir/out`, the run
/// folder shared as on a shared file system: node 0 writes the run, the others their logs.
fn run_on_nodes(dir: &Path, nodes: usize, out: &str) -> std::path::PathBuf {
    let child = fineface_on_nodes(nodes, &["train", "tiny.toml", "--quiet", "--out", out], dir);
    let (output, late) = mpirun::finish_within(child, Duration::from_secs(300));
    assert!(
        output.status.success() && !late,
        "late: {late}\n{}",
        text(&output)
    );
    let run = dir.join(out);
    assert!(run.join("test").join("summary.json").is_file());
    for rank in 1..nodes {
        assert!(run.join(format!("train-node{rank}.log")).is_file());
    }
    let node_out = text(&output);
    assert!(
        node_out.contains("trained all") && node_out.contains("node 0 evaluates the test split"),
        "{node_out}"
    );
    run
}

/// The selected weights of `a` and `b` within `tolerance` of the largest, and their losses
/// within `tolerance` (relative) over `epochs` epochs; 0: the same to the bit.
fn compare_runs(a: &Path, b: &Path, tolerance: f32, epochs: usize) {
    let device = Default::default();
    let load = |run: &Path| {
        let inner = common::tiny_fineface::<CpuAutodiff>(&device).valid();
        // Every float: weights and BatchNorm running statistics (the first worker's in both).
        common::floats::<Cpu, _>(
            &load_weights(inner, &run.join("best.mpk"), &device).unwrap(),
            false,
        )
    };
    let (wa, wb) = (load(a), load(b));
    assert_eq!(wa.len(), wb.len());
    assert!(wa.len() > 100, "{} tensors compared", wa.len());
    let mut largest = 0.0f32;
    let mut difference = 0.0f32;
    for (x, y) in wa.iter().zip(&wb) {
        for (x, y) in x.iter().zip(y) {
            largest = largest.max(x.abs());
            difference = difference.max((x - y).abs());
        }
    }
    assert!(largest > 0.0, "the weights compared are all zero");
    assert!(
        difference <= tolerance * largest,
        "the nodes differ from one process by {difference} (largest weight {largest});\n{}:\n{}\n{}:\n{}",
        a.display(),
        std::fs::read_to_string(a.join("metrics.csv")).unwrap_or_default(),
        b.display(),
        std::fs::read_to_string(b.join("metrics.csv")).unwrap_or_default()
    );
    let (la, lb) = (losses(a), losses(b));
    assert_eq!((la.len(), lb.len()), (epochs, epochs));
    for (x, y) in la.iter().flatten().zip(lb.iter().flatten()) {
        assert!(
            (x - y).abs() <= f64::from(tolerance) * x.abs(),
            "losses {x} vs {y}"
        );
    }
}

/// Every loss column of every epoch of a run's `metrics.csv`.
fn losses(run: &Path) -> Vec<Vec<f64>> {
    let text = std::fs::read_to_string(run.join("metrics.csv")).unwrap();
    let mut rows = csv::Reader::from_reader(text.as_bytes());
    let headers = rows.headers().unwrap().clone();
    let columns: Vec<usize> = headers
        .iter()
        .enumerate()
        .filter(|(_, h)| h.starts_with("loss"))
        .map(|(i, _)| i)
        .collect();
    assert!(!columns.is_empty(), "no loss columns in {headers:?}");
    rows.records()
        .map(|r| {
            let r = r.unwrap();
            columns
                .iter()
                .map(|&i| r[i].parse::<f64>().unwrap())
                .collect()
        })
        .collect()
}

/// The process id of node `rank` of the run marked `marker`, once it is training (its log
/// says the workers started), waiting at most `limit`.
fn training_node(run: &Path, marker: &Path, rank: u32, limit: Duration) -> u32 {
    let log = run.join(match rank {
        0 => "train.log".to_owned(),
        r => format!("train-node{r}.log"),
    });
    let started = Instant::now();
    loop {
        let training = std::fs::read_to_string(&log)
            .is_ok_and(|t| t.contains("data-parallel workers started"));
        if training && let Some(pid) = node_pid(marker, rank) {
            return pid;
        }
        assert!(
            started.elapsed() < limit,
            "node {rank} did not start training within {limit:?}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// The process whose environment holds `FINEFACE_TEST_RUN=marker` and rank `rank`.
fn node_pid(marker: &Path, rank: u32) -> Option<u32> {
    let run = format!("FINEFACE_TEST_RUN={}", marker.display());
    let node = format!("OMPI_COMM_WORLD_RANK={rank}");
    std::fs::read_dir("/proc")
        .ok()?
        .filter_map(Result::ok)
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .find(|pid| {
            let Ok(environ) = std::fs::read(format!("/proc/{pid}/environ")) else {
                return false;
            };
            let vars: Vec<&[u8]> = environ.split(|&b| b == 0).collect();
            vars.contains(&run.as_bytes()) && vars.contains(&node.as_bytes())
        })
}

/// Sends `signal` (`KILL`, `STOP`) to `pid`.
fn signal(pid: u32, signal: &str) {
    let status = std::process::Command::new("kill")
        .args([&format!("-{signal}"), &pid.to_string()])
        .status()
        .unwrap();
    assert!(status.success(), "kill -{signal} {pid}");
}

/// Three nodes training a long run: the child, the run folder.
fn long_run_on_three_nodes(dir: &Path, timeout: &str) -> Child {
    tiny_experiment(dir, 1, 96, 200);
    // The SynthFace images, written once before the nodes read them.
    let config = ExperimentConfig::from_file(&dir.join("tiny.toml")).unwrap();
    config.data.load(&config.split).unwrap();
    fineface_on_nodes(
        3,
        &[
            "train",
            "tiny.toml",
            "--quiet",
            "--out",
            "run",
            "--node-timeout",
            timeout,
        ],
        dir,
    )
}

#[test]
fn a_killed_node_stops_every_node_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let child = long_run_on_three_nodes(dir.path(), "600");
    let pid = training_node(
        &dir.path().join("run"),
        dir.path(),
        1,
        Duration::from_secs(120),
    );
    signal(pid, "KILL");
    let killed = Instant::now();
    let (output, late) = mpirun::finish_within(child, Duration::from_secs(60));
    let out = text(&output);
    assert!(!late && !output.status.success(), "late: {late}\n{out}");
    assert!(
        out.contains("rank 1"),
        "the rank killed is not named:\n{out}"
    );
    assert!(
        killed.elapsed() < Duration::from_secs(30),
        "stopped {:?} after the kill",
        killed.elapsed()
    );
}

#[test]
fn a_stalled_node_is_named_by_the_others_within_the_timeout() {
    let dir = tempfile::tempdir().unwrap();
    let child = long_run_on_three_nodes(dir.path(), "5");
    let pid = training_node(
        &dir.path().join("run"),
        dir.path(),
        2,
        Duration::from_secs(120),
    );
    // Stopped, not dead: its connections stay open and MPI would wait for ever.
    signal(pid, "STOP");
    let stalled = Instant::now();
    let (output, late) = mpirun::finish_within(child, Duration::from_secs(90));
    let out = text(&output);
    assert!(!late && !output.status.success(), "late: {late}\n{out}");
    // Stopped between two sums (nearly always: a tiny step's sum takes microseconds), the
    // others name it when they do not meet it at the next; stopped in the middle of a sum,
    // the others abort the run after the timeout, saying which sum stalled.
    assert!(
        out.contains("error: node 0: over several nodes: node 2 did not reach epoch ")
            || out.contains("error: node 1: over several nodes: node 2 did not reach epoch ")
            || out.contains("did not complete within 5 s after every node agreed on it"),
        "the stalled node is not named:\n{out}"
    );
    assert!(
        stalled.elapsed() < Duration::from_secs(60),
        "stopped {:?} after the stall",
        stalled.elapsed()
    );
}

#[test]
fn nodes_without_a_run_folder_named_are_refused_before_they_train() {
    // Each node would pick the next free folder of `runs/` for itself.
    let dir = tempfile::tempdir().unwrap();
    tiny_experiment(dir.path(), 1, 20, 1);
    let child = fineface_on_nodes(2, &["train", "tiny.toml", "--quiet"], dir.path());
    let (output, late) = mpirun::finish_within(child, Duration::from_secs(120));
    let out = text(&output);
    assert!(!late && !output.status.success(), "late: {late}\n{out}");
    assert!(
        out.contains("over several nodes, name the run folder with --out"),
        "{out}"
    );
    assert!(!dir.path().join("runs").exists(), "{out}");
}

#[test]
fn nodes_that_disagree_stop_naming_each_other_and_the_run_resumes() {
    // Node 1 trains with another seed than node 0 (its own copy of the experiment, edited):
    // every node stops at the start, each saying which node it is and which differs; the
    // folder keeps every node's log, and `--resume` on every node trains node 0's settings.
    let dir = tempfile::tempdir().unwrap();
    let config = tiny_experiment(dir.path(), 1, 20, 1);
    config.data.load(&config.split).unwrap();
    let mut other = config.clone();
    other.train.seed += 1;
    std::fs::write(dir.path().join("other.toml"), other.to_toml().unwrap()).unwrap();
    // `mpirun` runs the same command on every node: each picks its file by its rank.
    let script = "exec \"$0\" train \"$([ \"$OMPI_COMM_WORLD_RANK\" = 1 ] && echo other.toml || echo tiny.toml)\" --quiet --out run";
    let child = mpirun::mpirun(
        2,
        Path::new("sh"),
        &["-c", script, env!("CARGO_BIN_EXE_fineface")],
    )
    .current_dir(dir.path())
    .stdout(Stdio::piped())
    .stderr(Stdio::piped())
    .spawn()
    .unwrap();
    let (output, late) = mpirun::finish_within(child, Duration::from_secs(120));
    let out = text(&output);
    assert!(!late && !output.status.success(), "late: {late}\n{out}");
    assert!(
        out.contains("error: node 0: over several nodes: node 1 trains other settings than node 0")
            || out.contains(
                "error: node 1: over several nodes: node 0 trains other settings than node 1"
            ),
        "{out}"
    );
    let run = dir.path().join("run");
    assert!(
        run.join("train.log").is_file() && run.join("train-node1.log").is_file(),
        "{out}"
    );
    let child = fineface_on_nodes(2, &["train", "--resume", "run", "--quiet"], dir.path());
    let (output, late) = mpirun::finish_within(child, Duration::from_secs(300));
    assert!(
        output.status.success() && !late,
        "late: {late}\n{}",
        text(&output)
    );
    assert!(run.join("test/summary.json").is_file());
}
