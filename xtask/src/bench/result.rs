//! The results of the bench cases: their statistics, the printed table and the JSON file.

use std::io::Write;
use std::path::Path;
use std::process::Command;

use anyhow::Context;
use serde::Serialize;

use super::rounds::{Rounds, Sample};

/// One benchmark result, in the layout shared by every bench case.
#[derive(Debug, Serialize)]
pub(super) struct CaseResult {
    pub(super) name: String,
    pub(super) ours_s: f64,
    pub(super) reference_s: f64,
    pub(super) ratio: f64,
    pub(super) ours_min_max_s: [f64; 2],
    pub(super) reference_min_max_s: [f64; 2],
    pub(super) ours_peak_mb: f64,
    pub(super) reference_peak_mb: f64,
    pub(super) notes: String,
}

impl CaseResult {
    /// Medians, ranges and peak memory of both sides' samples.
    pub(super) fn summarise(name: String, rounds: &Rounds, notes: String) -> anyhow::Result<Self> {
        let (ours_s, ours_min_max_s, ours_peak_mb) =
            stats(&rounds.ours).with_context(|| format!("{name}: our side produced no timings"))?;
        let (reference_s, reference_min_max_s, reference_peak_mb) = stats(&rounds.reference)
            .with_context(|| format!("{name}: the reference produced no timings"))?;
        Ok(Self {
            name,
            ours_s,
            reference_s,
            ratio: reference_s / ours_s,
            ours_min_max_s,
            reference_min_max_s,
            ours_peak_mb,
            reference_peak_mb,
            notes,
        })
    }
}

/// Median, `[min, max]` and the peak memory of `samples`; `None` when there are none.
fn stats(samples: &[Sample]) -> Option<(f64, [f64; 2], f64)> {
    let mut t: Vec<f64> = samples.iter().map(|s| s.seconds).collect();
    t.sort_by(f64::total_cmp);
    let (first, last) = (*t.first()?, *t.last()?);
    let mid = t.len() / 2;
    let median = if t.len() % 2 == 1 {
        t[mid]
    } else {
        (t[mid - 1] + t[mid]) / 2.0
    };
    let peak = samples.iter().map(|s| s.peak_mb).fold(0.0, f64::max);
    Some((median, [first, last], peak))
}

/// Every case of one `cargo xtask bench` invocation, with the machine and commit.
#[derive(Debug, Serialize)]
pub(super) struct BenchReport {
    machine: String,
    commit: String,
    cases: Vec<CaseResult>,
}

impl BenchReport {
    pub(super) fn new(cases: Vec<CaseResult>) -> Self {
        Self {
            machine: machine(),
            commit: commit(),
            cases,
        }
    }

    /// Prints the markdown table and the notes; writes the JSON to `json` when given.
    pub(super) fn write(&self, json: Option<&Path>) -> anyhow::Result<()> {
        let mut out = std::io::stdout().lock();
        writeln!(out, "machine: {}\ncommit: {}", self.machine, self.commit)?;
        writeln!(
            out,
            "| case | ours (median s) | reference (median s) | ratio ref/ours | ours peak MB | reference peak MB |"
        )?;
        writeln!(out, "|---|---:|---:|---:|---:|---:|")?;
        for c in &self.cases {
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
        for c in &self.cases {
            writeln!(out, "- {}: {}", c.name, c.notes)?;
        }
        if let Some(path) = json {
            std::fs::write(path, serde_json::to_string_pretty(self)? + "\n")
                .with_context(|| format!("writing {}", path.display()))?;
        }
        Ok(())
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    fn samples(seconds: &[f64]) -> Vec<Sample> {
        seconds
            .iter()
            .map(|&seconds| Sample {
                seconds,
                peak_mb: seconds * 10.0,
            })
            .collect()
    }

    #[test]
    fn stats_are_median_range_and_peak() {
        assert_eq!(
            stats(&samples(&[3.0, 1.0, 2.0])),
            Some((2.0, [1.0, 3.0], 30.0))
        );
        assert_eq!(
            stats(&samples(&[4.0, 1.0, 2.0, 3.0])),
            Some((2.5, [1.0, 4.0], 40.0))
        );
        assert_eq!(stats(&[]), None);
    }

    #[test]
    fn a_side_without_timings_is_an_error_not_a_panic() {
        let rounds = Rounds {
            ours: Vec::new(),
            reference: samples(&[1.0]),
            reference_stdout: String::new(),
        };
        let error = CaseResult::summarise("case".into(), &rounds, String::new()).unwrap_err();
        assert!(error.to_string().contains("no timings"), "{error}");
    }
}
