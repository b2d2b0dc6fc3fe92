//! `cargo xtask bench <case>`: our code beside the Python reference, same machine, same run.
//!
//! Each case runs ours and the reference alternately (after one warm-up each), reports the
//! median and min-max wall time and the peak resident memory of each process, and the ratio
//! reference time / our time (above 1 means we are faster).

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use anyhow::{Context, bail};
use clap::{Args, Subcommand};
use rand::{Rng, SeedableRng};
use serde::Serialize;

/// Benchmarks against the Python reference tools.
#[derive(Debug, Args)]
pub struct BenchArgs {
    #[command(subcommand)]
    case: BenchCase,
    /// Timed repetitions of each side (after one warm-up).
    #[arg(long, default_value_t = 5, global = true)]
    repeat: usize,
    /// The Python interpreter with the reference packages installed.
    #[arg(long, default_value = "python3", global = true)]
    python: String,
    /// Also write the results as JSON here.
    #[arg(long, global = true)]
    json: Option<PathBuf>,
}

#[derive(Debug, Subcommand)]
enum BenchCase {
    /// Decode + training transform at 448 px with 2 workers, beside torchvision's pipeline
    /// (PIL + transforms + DataLoader) on the same UTKFace images.
    Data {
        /// The UTKFace folder.
        #[arg(long, default_value = "../shared/data/utkface")]
        root: PathBuf,
        /// Images per round.
        #[arg(long, default_value_t = 512)]
        images: usize,
        /// Decoding workers on each side.
        #[arg(long, default_value_t = 2)]
        workers: usize,
    },
    /// ResNet forward, forward+backward and one BatchNorm layer on Flex, beside PyTorch CPU.
    Resnet {
        /// torchvision architecture.
        #[arg(long, default_value = "resnet50")]
        arch: String,
        /// Images per batch.
        #[arg(long, default_value_t = 8)]
        batch: usize,
        /// Square image size in pixels.
        #[arg(long, default_value_t = 224)]
        size: usize,
        /// Timed iterations per process (after one warm-up iteration).
        #[arg(long, default_value_t = 3)]
        iters: usize,
    },
    /// One full FineFACE training iteration (five steps, crops, optimiser), ours beside the
    /// PyTorch reference (`tools/reference/fineface_torch.py`): the headline.
    Iteration(ModelBench),
    /// One baseline training iteration.
    Baseline(ModelBench),
    /// Backbone forward, evaluation mode.
    Forward(ModelBench),
    /// Backbone forward + backward, training mode.
    Backward(ModelBench),
    /// FineFACE inference: forward, combined crop, forward, 8 logits.
    Eval(ModelBench),
    /// The four attention crops of a batch.
    Crops(ModelBench),
    /// Every case above, the matmul rate and the FLOP count of an iteration.
    All(ModelBench),
    /// `cargo xtask fairness` against fairlearn's MetricFrame on one predictions file.
    Fairness {
        /// Rows of the generated predictions file.
        #[arg(long, default_value_t = 1_000_000)]
        rows: usize,
    },
}

/// The model and batch of the FineFACE cases.
#[derive(Debug, Clone, Args)]
pub struct ModelBench {
    /// Backbone architecture.
    #[arg(long, default_value = "resnet50")]
    backbone: String,
    /// Base width of the backbone (64 = torchvision's).
    #[arg(long, default_value_t = 64)]
    width: usize,
    /// Feature width of each expert head (1024 in the paper).
    #[arg(long, default_value_t = 1024)]
    head_width: usize,
    /// Square image size in pixels.
    #[arg(long, default_value_t = 224)]
    image_size: usize,
    /// Images per batch.
    #[arg(long, default_value_t = 8)]
    batch: usize,
    /// Timed iterations per process (after one warm-up iteration).
    #[arg(long, default_value_t = 2)]
    iters: usize,
    /// `cpu` or `cuda:N` (builds ours with the `cuda` feature; PyTorch on the same GPU).
    #[arg(long, default_value = "cpu")]
    device: String,
    /// Our lean iteration (the reference always runs the exact one).
    #[arg(long)]
    lean: bool,
    /// The reference's crops: its per-sample loop (`loop`, as the authors' code) or one
    /// batched grid_sample (`batched`).
    #[arg(long, default_value = "loop")]
    crops: String,
}

/// One benchmark result, in the layout shared by every bench case.
#[derive(Debug, Serialize)]
struct CaseResult {
    name: String,
    ours_s: f64,
    reference_s: f64,
    ratio: f64,
    ours_min_max_s: [f64; 2],
    reference_min_max_s: [f64; 2],
    ours_peak_mb: f64,
    reference_peak_mb: f64,
    notes: String,
}

#[derive(Debug, Serialize)]
struct BenchReport {
    machine: String,
    commit: String,
    cases: Vec<CaseResult>,
}

impl BenchArgs {
    pub fn run(self) -> anyhow::Result<()> {
        let cases = match &self.case {
            BenchCase::Fairness { rows } => vec![self.fairness(*rows)?],
            BenchCase::Data {
                root,
                images,
                workers,
            } => vec![self.data(root, *images, *workers)?],
            BenchCase::Resnet {
                arch,
                batch,
                size,
                iters,
            } => self.resnet(arch, *batch, *size, *iters)?,
            BenchCase::Iteration(m) => vec![self.fineface_case(m, "iteration")?],
            BenchCase::Baseline(m) => vec![self.fineface_case(m, "baseline")?],
            BenchCase::Forward(m) => vec![self.fineface_case(m, "forward")?],
            BenchCase::Backward(m) => vec![self.fineface_case(m, "backward")?],
            BenchCase::Eval(m) => vec![self.fineface_case(m, "eval")?],
            BenchCase::Crops(m) => vec![self.fineface_case(m, "crops")?],
            BenchCase::All(m) => {
                let mut cases = Vec::new();
                for case in [
                    "iteration",
                    "baseline",
                    "forward",
                    "backward",
                    "eval",
                    "crops",
                ] {
                    cases.push(self.fineface_case(m, case)?);
                }
                let matmul = ModelBench {
                    image_size: 2048,
                    ..m.clone()
                };
                cases.push(self.fineface_case(&matmul, "matmul")?);
                if m.device == "cpu" {
                    let utkface = workspace_root().join("../shared/data/utkface");
                    if utkface.is_dir() {
                        cases.push(self.data(&utkface, 512, 2)?);
                    }
                }
                cases
            }
        };
        let report = BenchReport {
            machine: machine(),
            commit: commit(),
            cases,
        };
        let mut out = std::io::stdout().lock();
        writeln!(
            out,
            "machine: {}\ncommit: {}",
            report.machine, report.commit
        )?;
        writeln!(
            out,
            "| case | ours (median s) | reference (median s) | ratio ref/ours | ours peak MB | reference peak MB |"
        )?;
        writeln!(out, "|---|---:|---:|---:|---:|---:|")?;
        for c in &report.cases {
            writeln!(
                out,
                "| {} | {:.3} ({:.3}-{:.3}) | {:.3} ({:.3}-{:.3}) | {:.2} | {:.1} | {:.1} |",
                c.name,
                c.ours_s,
                c.ours_min_max_s[0],
                c.ours_min_max_s[1],
                c.reference_s,
                c.reference_min_max_s[0],
                c.reference_min_max_s[1],
                c.ratio,
                c.ours_peak_mb,
                c.reference_peak_mb
            )?;
        }
        writeln!(out)?;
        for c in &report.cases {
            writeln!(out, "- {}: {}", c.name, c.notes)?;
        }
        if let Some(path) = &self.json {
            std::fs::write(path, serde_json::to_string_pretty(&report)? + "\n")
                .with_context(|| format!("writing {}", path.display()))?;
        }
        Ok(())
    }

    fn fairness(&self, rows: usize) -> anyhow::Result<CaseResult> {
        let root = workspace_root();
        let data = root
            .join("target/bench")
            .join(format!("predictions_{rows}.csv"));
        if !data.exists() {
            write_synthetic_predictions(&data, rows)?;
        }
        let script = root.join("tools/bench_fairlearn.py");
        let exe = std::env::current_exe().context("locating the xtask binary")?;
        let out = std::env::temp_dir().join("fineface-bench-report.json");
        let ours = {
            let mut cmd = Command::new(&exe);
            cmd.arg("fairness")
                .arg(&data)
                .args(["--sensitive", "race,gender", "--pos-label", "Male", "--out"])
                .arg(&out)
                .env("RUST_LOG", "warn");
            cmd
        };
        let reference = {
            let mut cmd = Command::new(&self.python);
            cmd.arg(&script)
                .arg(&data)
                .args(["--sensitive", "race,gender", "--pos-label", "Male"]);
            cmd
        };
        let (ours_runs, reference_runs) = alternate(ours, reference, self.repeat)?;
        let phases = reference_runs
            .last()
            .map(|r| r.stdout.trim().to_owned())
            .unwrap_or_default();
        Ok(summarise(
            format!("fairness_{}k_rows", rows / 1000),
            &ours_runs,
            &reference_runs,
            format!(
                "ours: `cargo xtask fairness` (CSV parse + full report: intersectional, per feature, per class).\n\
                 reference: fairlearn MetricFrame via tools/bench_fairlearn.py (process wall time, imports included); \
                 its own phase times of the last run: {phases}"
            ),
        ))
    }
}

impl BenchArgs {
    /// A FineFACE case: `repeat` rounds, one process per side per round, alternating; each
    /// process times `iters` iterations after a warm-up. The iteration case also counts its
    /// floating-point work (PyTorch's flop counter on the reference) and measures the
    /// machine's matmul rate, to report achieved FLOP/s against it.
    fn fineface_case(&self, m: &ModelBench, case: &str) -> anyhow::Result<CaseResult> {
        let cuda = m.device.starts_with("cuda");
        let ours_exe = build_example_with("fineface-train", "bench_fineface", cuda)?;
        let script = workspace_root().join("tools/reference/bench_fineface_torch.py");
        let common = |cmd: &mut Command| {
            cmd.args(["--case", case, "--backbone", &m.backbone])
                .args(["--width", &m.width.to_string()])
                .args(["--head-width", &m.head_width.to_string()])
                .args(["--image-size", &m.image_size.to_string()])
                .args(["--batch", &m.batch.to_string()])
                .args(["--iters", &m.iters.to_string()])
                .args(["--device", &m.device]);
            if m.lean {
                cmd.arg("--lean");
            }
        };
        let (mut ours_runs, mut reference_runs) = (Vec::new(), Vec::new());
        for round in 0..self.repeat.max(1) {
            let mut ours = Command::new(&ours_exe);
            common(&mut ours);
            let mut reference = Command::new(&self.python);
            reference.arg(&script).args(["--crops", &m.crops]);
            common(&mut reference);
            let (a, b) = (measure(&mut ours)?, measure(&mut reference)?);
            tracing::info!(
                "{case} round {round}: ours {}, reference {}",
                a.stdout.trim(),
                b.stdout.trim()
            );
            ours_runs.extend(iteration_runs(&a)?);
            reference_runs.extend(iteration_runs(&b)?);
        }
        let shape = format!(
            "{} (width {}, heads {}), batch {}, {} px, {}",
            m.backbone, m.width, m.head_width, m.batch, m.image_size, m.device
        );
        let name = match case {
            "iteration" if m.lean => "iteration_lean".to_owned(),
            "iteration" => "iteration".to_owned(),
            "baseline" => "baseline_iteration".to_owned(),
            "forward" => "backbone_forward".to_owned(),
            "backward" => "backbone_forward_backward".to_owned(),
            "eval" => "eval_8_logit".to_owned(),
            "crops" => "attention_crops".to_owned(),
            "matmul" => format!("matmul_{}", m.image_size),
            other => other.to_owned(),
        };
        let mut result = summarise(name, &ours_runs, &reference_runs, shape);
        match case {
            "iteration" => {
                let mut count = Command::new(&self.python);
                count.arg(&script).args(["--crops", &m.crops, "--flops"]);
                common(&mut count);
                let out = measure(&mut count)?;
                let json: serde_json::Value = serde_json::from_str(out.stdout.trim())
                    .with_context(|| format!("flop count output: {}", out.stdout))?;
                let flops = json["flops"].as_f64().unwrap_or(0.0);
                result.notes = format!(
                    "{}; {:.1} GFLOP per iteration (torch.utils.flop_counter on the reference: \
                     convolutions and matmuls, forward and backward of the five steps): \
                     ours {:.1} GFLOP/s, reference {:.1} GFLOP/s{}",
                    result.notes,
                    flops / 1e9,
                    flops / 1e9 / result.ours_s,
                    flops / 1e9 / result.reference_s,
                    if m.lean {
                        "; ours lean (fewer FLOPs than counted)"
                    } else {
                        ""
                    }
                );
            }
            "eval" => {
                result.notes = format!(
                    "{}; ours {:.1} img/s, reference {:.1} img/s (reference crops: {})",
                    result.notes,
                    m.batch as f64 / result.ours_s,
                    m.batch as f64 / result.reference_s,
                    m.crops
                );
            }
            "crops" => {
                result.notes = format!("{}; reference crops: {}", result.notes, m.crops);
            }
            "matmul" => {
                let flops = 2.0 * (m.image_size as f64).powi(3);
                result.notes = format!(
                    "float32 [{n}, {n}] @ [{n}, {n}]: ours {:.1} GFLOP/s, reference {:.1} GFLOP/s (the machine's matmul rate)",
                    flops / 1e9 / result.ours_s,
                    flops / 1e9 / result.reference_s,
                    n = m.image_size
                );
            }
            _ => {}
        }
        Ok(result)
    }

    /// Each case runs `repeat` rounds, one process per side per round, alternating; each
    /// process times `iters` iterations after a warm-up. Medians are over all iterations.
    fn resnet(
        &self,
        arch: &str,
        batch: usize,
        size: usize,
        iters: usize,
    ) -> anyhow::Result<Vec<CaseResult>> {
        let ours_exe = build_example("fineface-model", "bench_resnet")?;
        let script = workspace_root().join("tools/bench_torch.py");
        let common = |cmd: &mut Command, case: &str| {
            cmd.args(["--case", case, "--arch", arch])
                .args(["--batch", &batch.to_string(), "--size", &size.to_string()])
                .args(["--iters", &iters.to_string()]);
        };
        let mut results = Vec::new();
        for (case, reference_case) in [
            ("forward", "forward"),
            ("forward-backward", "forward-backward"),
            ("batchnorm", "batchnorm"),
            ("batchnorm-burn", "batchnorm"),
        ] {
            let (mut ours_runs, mut reference_runs) = (Vec::new(), Vec::new());
            for round in 0..self.repeat.max(1) {
                let mut ours = Command::new(&ours_exe);
                common(&mut ours, case);
                let mut reference = Command::new(&self.python);
                reference.arg(&script);
                common(&mut reference, reference_case);
                let (a, b) = (measure(&mut ours)?, measure(&mut reference)?);
                tracing::info!(
                    "{case} round {round}: ours {}, reference {}",
                    a.stdout.trim(),
                    b.stdout.trim()
                );
                ours_runs.extend(iteration_runs(&a)?);
                reference_runs.extend(iteration_runs(&b)?);
            }
            let notes = match case {
                "batchnorm-burn" => {
                    "Burn's stock burn::nn::BatchNorm, same shape, beside PyTorch's".to_owned()
                }
                "batchnorm" => format!(
                    "one BatchNorm2d forward+backward, training mode, [{batch}, 256, {s}, {s}]",
                    s = size / 4
                ),
                _ => format!("{arch}, batch {batch}, {size} px, Flex vs PyTorch CPU (all cores)"),
            };
            results.push(summarise(
                format!("{arch}_{case}"),
                &ours_runs,
                &reference_runs,
                notes,
            ));
        }
        Ok(results)
    }
}

impl BenchArgs {
    fn data(&self, root: &Path, images: usize, workers: usize) -> anyhow::Result<CaseResult> {
        let repo = workspace_root();
        let ours_exe = build_example("fineface-data", "bench_pipeline")?;
        let args = |cmd: &mut Command| {
            cmd.arg("--root")
                .arg(root)
                .args([
                    "--images",
                    &images.to_string(),
                    "--workers",
                    &workers.to_string(),
                ])
                .args(["--rounds", "2"]);
        };
        let (mut ours_runs, mut reference_runs) = (Vec::new(), Vec::new());
        for round in 0..self.repeat.max(1) {
            let mut ours = Command::new(&ours_exe);
            args(&mut ours);
            let mut reference = Command::new(&self.python);
            reference.arg(repo.join("tools/bench_torchvision_pipeline.py"));
            args(&mut reference);
            let (a, b) = (measure(&mut ours)?, measure(&mut reference)?);
            tracing::info!(
                "round {round}: ours {}, reference {}",
                a.stdout.trim(),
                b.stdout.trim()
            );
            ours_runs.extend(iteration_runs(&a)?);
            reference_runs.extend(iteration_runs(&b)?);
        }
        let mut result = summarise(
            format!("data_pipeline_{images}_images"),
            &ours_runs,
            &reference_runs,
            String::new(),
        );
        result.notes = format!(
            "UTKFace 200 px JPEGs -> resize 460 -> random crop 448 (pad 8) -> flip -> normalise, \
             batches of 16, {workers} workers; ours {:.0} img/s, torchvision {:.0} img/s",
            images as f64 / result.ours_s,
            images as f64 / result.reference_s
        );
        Ok(result)
    }
}

/// Builds one of the library crates' bench examples in release mode; returns its path.
fn build_example(package: &str, example: &str) -> anyhow::Result<PathBuf> {
    build_example_with(package, example, false)
}

/// Builds an example in release mode, with the `cuda` feature when asked.
fn build_example_with(package: &str, example: &str, cuda: bool) -> anyhow::Result<PathBuf> {
    let root = workspace_root();
    let mut build = Command::new(env!("CARGO"));
    build.args([
        "build",
        "--release",
        "--quiet",
        "-p",
        package,
        "--example",
        example,
    ]);
    if cuda {
        build.args(["--features", "cuda"]);
    }
    let status = build
        .current_dir(&root)
        .status()
        .with_context(|| format!("building the {example} example"))?;
    if !status.success() {
        bail!("building the {example} example of {package} failed");
    }
    Ok(root.join("target/release/examples").join(example))
}

/// Per-iteration timings printed by a bench program as `{"times_s": [...]}`, each paired
/// with the process's peak memory.
fn iteration_runs(run: &Run) -> anyhow::Result<Vec<Run>> {
    let json: serde_json::Value = serde_json::from_str(run.stdout.trim())
        .with_context(|| format!("bench output is not JSON: {}", run.stdout))?;
    let times = json["times_s"]
        .as_array()
        .context("bench output lacks times_s")?;
    Ok(times
        .iter()
        .filter_map(serde_json::Value::as_f64)
        .map(|seconds| Run {
            seconds,
            peak_mb: run.peak_mb,
            stdout: String::new(),
        })
        .collect())
}

/// A finished child process: wall time, peak RSS and what it printed.
struct Run {
    seconds: f64,
    peak_mb: f64,
    stdout: String,
}

/// Runs `ours` and `reference` alternately: one warm-up each, then `repeat` timed pairs.
fn alternate(
    mut ours: Command,
    mut reference: Command,
    repeat: usize,
) -> anyhow::Result<(Vec<Run>, Vec<Run>)> {
    let (mut a, mut b) = (Vec::new(), Vec::new());
    for i in 0..=repeat {
        let (x, y) = (measure(&mut ours)?, measure(&mut reference)?);
        tracing::info!(
            "run {i}{}: ours {:.3} s, reference {:.3} s",
            if i == 0 { " (warm-up)" } else { "" },
            x.seconds,
            y.seconds
        );
        if i > 0 {
            a.push(x);
            b.push(y);
        }
    }
    Ok((a, b))
}

fn summarise(name: String, ours: &[Run], reference: &[Run], notes: String) -> CaseResult {
    let stats = |runs: &[Run]| {
        let mut t: Vec<f64> = runs.iter().map(|r| r.seconds).collect();
        t.sort_by(f64::total_cmp);
        let median = if t.len() % 2 == 1 {
            t[t.len() / 2]
        } else {
            (t[t.len() / 2 - 1] + t[t.len() / 2]) / 2.0
        };
        let peak = runs.iter().map(|r| r.peak_mb).fold(0.0, f64::max);
        (median, [t[0], t[t.len() - 1]], peak)
    };
    let (ours_s, ours_min_max_s, ours_peak_mb) = stats(ours);
    let (reference_s, reference_min_max_s, reference_peak_mb) = stats(reference);
    CaseResult {
        name,
        ours_s,
        reference_s,
        ratio: reference_s / ours_s,
        ours_min_max_s,
        reference_min_max_s,
        ours_peak_mb,
        reference_peak_mb,
        notes,
    }
}

/// Runs `cmd` to completion, timing it and reading its peak resident set size.
fn measure(cmd: &mut Command) -> anyhow::Result<Run> {
    let start = Instant::now();
    let child = cmd
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::inherit())
        .spawn()
        .with_context(|| format!("starting {cmd:?}"))?;
    let pid = child.id();
    let mut stdout = child.stdout.context("child stdout")?;
    let reader = std::thread::spawn(move || {
        let mut text = String::new();
        let _ = std::io::Read::read_to_string(&mut stdout, &mut text);
        text
    });
    let (status, peak_kb) = wait_with_rusage(pid)?;
    let seconds = start.elapsed().as_secs_f64();
    let stdout = reader.join().unwrap_or_default();
    if status != 0 {
        bail!("{cmd:?} exited with status {status}");
    }
    Ok(Run {
        seconds,
        peak_mb: peak_kb as f64 / 1024.0,
        stdout,
    })
}

/// `wait4` on one child: its exit status and its own peak RSS in KiB (`getrusage` on all
/// children would mix the two sides of a comparison).
#[allow(unsafe_code)]
fn wait_with_rusage(pid: u32) -> anyhow::Result<(i32, i64)> {
    let mut status: libc::c_int = 0;
    // SAFETY: `rusage` is plain old data that wait4 fills; `pid` is our own un-reaped child.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    let rc = unsafe { libc::wait4(pid as libc::pid_t, &mut status, 0, &mut usage) };
    if rc < 0 {
        return Err(std::io::Error::last_os_error()).context("wait4");
    }
    let code = if libc::WIFEXITED(status) {
        libc::WEXITSTATUS(status)
    } else {
        -1
    };
    Ok((code, usage.ru_maxrss))
}

/// A FairFace-shaped predictions file: gender predicted for 7 races x 2 genders, group sizes
/// and accuracies uneven, plus the path and score columns a training run writes.
fn write_synthetic_predictions(path: &Path, rows: usize) -> anyhow::Result<()> {
    use fineface_data::formats::fairface::RACES;
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    tracing::info!("writing {rows} synthetic predictions to {}", path.display());
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(20261128);
    let mut out = std::io::BufWriter::new(std::fs::File::create(path)?);
    writeln!(out, "path,y_true,y_pred,race,gender,score")?;
    for i in 0..rows {
        let race = RACES[(rng.random::<f64>().powi(2) * RACES.len() as f64) as usize];
        let female = rng.random_bool(0.45);
        let (truth, other) = if female {
            ("Female", "Male")
        } else {
            ("Male", "Female")
        };
        let accuracy = 0.96 - if female { 0.03 } else { 0.0 } - 0.01 * race.len() as f64 / 5.0;
        let pred = if rng.random_bool(accuracy) {
            truth
        } else {
            other
        };
        let score: f64 = rng.random();
        writeln!(
            out,
            "val/{i:07}.jpg,{truth},{pred},{race},{truth},{score:.4}"
        )?;
    }
    out.flush()?;
    Ok(())
}

pub(crate) fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_default()
}

fn machine() -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split(':').nth(1))
                .map(|m| m.trim().to_owned())
        })
        .unwrap_or_else(|| "unknown cpu".to_owned());
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    format!("{cpu}, {cores} cores")
}

/// The commit measured, `-dirty` when the tree had uncommitted changes.
fn commit() -> String {
    Command::new("git")
        .args(["describe", "--always", "--dirty"])
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        .unwrap_or_else(|| "unknown".to_owned())
}
