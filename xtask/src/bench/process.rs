//! One measured child process: its wall time, its peak resident memory and what it printed.
//!
//! The peak memory is read without `unsafe` code: while the child runs, its `VmHWM` (the
//! kernel's high-water mark of its resident set) and that of each of its descendants are read
//! from `/proc` every [`POLL`]; the peak is the largest, as `wait4`'s `ru_maxrss` reports it.
//! On systems without `/proc` the peak is 0.

use std::io::Read;
use std::path::Path;
use std::process::{Command, ExitStatus, Stdio};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};

/// How often the child's memory is read.
const POLL: Duration = Duration::from_millis(20);

/// A finished child process.
#[derive(Debug)]
pub(super) struct Process {
    /// Wall time from start to exit.
    pub(super) seconds: f64,
    /// Peak resident memory of the process and its descendants, MiB.
    pub(super) peak_mb: f64,
    /// Its standard output.
    pub(super) stdout: String,
}

/// Runs `cmd` to completion (its stderr passes through), timing it and reading its peak
/// resident memory; a non-zero exit is an error.
pub(super) fn measure(cmd: &mut Command) -> anyhow::Result<Process> {
    let start = Instant::now();
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .with_context(|| format!("starting {cmd:?}"))?;
    let pid = child.id();
    let mut stdout = child.stdout.take().context("child stdout")?;
    let reader = std::thread::spawn(move || {
        let mut text = String::new();
        let _ = stdout.read_to_string(&mut text);
        text
    });
    // The exit is waited for on its own thread, so that the wall time is exact while this
    // one samples the memory.
    let (sender, receiver) = mpsc::channel::<(std::io::Result<ExitStatus>, Instant)>();
    let waiter = std::thread::spawn(move || {
        let status = child.wait();
        let _ = sender.send((status, Instant::now()));
    });
    let mut peak_kb = 0;
    let (status, end) = loop {
        peak_kb = peak_kb.max(tree_peak_kb(Path::new("/proc"), pid));
        match receiver.recv_timeout(POLL) {
            Ok(done) => break done,
            Err(RecvTimeoutError::Timeout) => {}
            Err(RecvTimeoutError::Disconnected) => bail!("lost the wait on {cmd:?}"),
        }
    };
    let _ = waiter.join();
    let status = status.with_context(|| format!("waiting for {cmd:?}"))?;
    let stdout = reader.join().unwrap_or_default();
    if !status.success() {
        bail!("{cmd:?} exited with {status}");
    }
    Ok(Process {
        seconds: end.duration_since(start).as_secs_f64(),
        peak_mb: peak_kb as f64 / 1024.0,
        stdout,
    })
}

/// The largest `VmHWM` (KiB) of process `pid` and its live descendants under `proc`; 0 for
/// what cannot be read (a process that has exited, no `/proc`).
fn tree_peak_kb(proc: &Path, pid: u32) -> u64 {
    let mut peak = 0;
    let mut pending = vec![pid];
    // A process appears once in the tree; the cap guards against a cycle read mid-change.
    let mut visited = 0;
    while let Some(pid) = pending.pop() {
        visited += 1;
        if visited > 4096 {
            break;
        }
        let dir = proc.join(pid.to_string());
        if let Ok(status) = std::fs::read_to_string(dir.join("status")) {
            peak = peak.max(high_water_mark_kb(&status).unwrap_or(0));
        }
        // Each thread lists the children it started.
        let Ok(tasks) = std::fs::read_dir(dir.join("task")) else {
            continue;
        };
        for task in tasks.flatten() {
            if let Ok(children) = std::fs::read_to_string(task.path().join("children")) {
                pending.extend(
                    children
                        .split_whitespace()
                        .filter_map(|c| c.parse::<u32>().ok()),
                );
            }
        }
    }
    peak
}

/// The `VmHWM:` line of a `/proc/<pid>/status` file, in KiB.
fn high_water_mark_kb(status: &str) -> Option<u64> {
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmHWM:"))
        .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn high_water_mark_is_read_from_the_status_file() {
        let status =
            "Name:\tpython3\nVmPeak:\t  912340 kB\nVmHWM:\t  204812 kB\nVmRSS:\t  1024 kB\n";
        assert_eq!(high_water_mark_kb(status), Some(204_812));
        assert_eq!(
            high_water_mark_kb("Name:\tzombie\nState:\tZ (zombie)\n"),
            None
        );
    }

    #[test]
    fn tree_peak_takes_the_largest_descendant() {
        // A fake /proc: 10 -> (thread 10) 11, (thread 12) 13; 11 -> 14.
        let proc = tempfile::tempdir().unwrap();
        for (pid, hwm, tasks) in [
            (10, 1000, vec![(10, "11"), (12, "13")]),
            (11, 500, vec![(11, "14")]),
            (13, 3000, vec![(13, "")]),
            (14, 7000, vec![(14, "")]),
        ] {
            let dir = proc.path().join(pid.to_string());
            for (tid, children) in tasks {
                let task = dir.join("task").join(tid.to_string());
                std::fs::create_dir_all(&task).unwrap();
                std::fs::write(task.join("children"), children).unwrap();
            }
            std::fs::write(dir.join("status"), format!("VmHWM:\t{hwm} kB\n")).unwrap();
        }
        assert_eq!(tree_peak_kb(proc.path(), 10), 7000);
        assert_eq!(tree_peak_kb(proc.path(), 11), 7000);
        assert_eq!(tree_peak_kb(proc.path(), 13), 3000);
        assert_eq!(tree_peak_kb(proc.path(), 99), 0);
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn measure_sees_a_grandchild_holding_memory() {
        // The shell's child holds ~64 MiB in a variable for a while; its parent stays small.
        let mut cmd = Command::new("sh");
        cmd.args([
            "-c",
            "sh -c 'x=$(head -c 67108864 /dev/zero | tr \"\\0\" a); sleep 0.3; echo ${#x}'",
        ]);
        let process = measure(&mut cmd).unwrap();
        assert_eq!(process.stdout.trim(), "67108864");
        assert!(process.peak_mb >= 64.0, "peak {} MiB", process.peak_mb);
        assert!(process.seconds >= 0.3, "{} s", process.seconds);
        let error = measure(&mut Command::new("false")).unwrap_err();
        assert!(error.to_string().contains("exited with"), "{error}");
    }
}
