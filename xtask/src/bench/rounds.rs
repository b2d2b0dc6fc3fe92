//! The timing rounds every case runs: ours and the reference alternately, one process per
//! side per round, so that both see the same machine state.

use std::process::Command;

use anyhow::Context;

use super::process::{Process, measure};

/// How one process's time is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Timing {
    /// The process's wall time (start-up and imports included), after one untimed warm-up
    /// round of both sides.
    Wall,
    /// The per-iteration times the process prints as `{"times_s": [...]}` (it warms itself
    /// up); every iteration is a sample.
    Printed,
}

/// One timing: seconds, with the peak memory of the process it came from.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) struct Sample {
    pub(super) seconds: f64,
    pub(super) peak_mb: f64,
}

/// Both sides' samples over all rounds.
#[derive(Debug, Default)]
pub(super) struct Rounds {
    pub(super) ours: Vec<Sample>,
    pub(super) reference: Vec<Sample>,
    /// What the reference printed in the last round.
    pub(super) reference_stdout: String,
}

/// Runs `repeat` rounds of `ours` then `reference` (plus a warm-up round first with
/// [`Timing::Wall`]) and collects their samples; `label` names the rounds in the log.
pub(super) fn alternate(
    label: &str,
    repeat: u64,
    timing: Timing,
    ours: &mut Command,
    reference: &mut Command,
) -> anyhow::Result<Rounds> {
    let first = match timing {
        Timing::Wall => 0,
        Timing::Printed => 1,
    };
    let mut rounds = Rounds::default();
    for round in first..=repeat {
        let (a, b) = (measure(ours)?, measure(reference)?);
        tracing::info!(
            "{label} round {round}{}: ours {:.3} s {}, reference {:.3} s {}",
            if round == 0 { " (warm-up)" } else { "" },
            a.seconds,
            a.stdout.trim(),
            b.seconds,
            b.stdout.trim()
        );
        if round == 0 {
            continue;
        }
        rounds.ours.extend(samples(&a, timing)?);
        rounds.reference.extend(samples(&b, timing)?);
        rounds.reference_stdout = b.stdout;
    }
    Ok(rounds)
}

/// The samples of one process.
fn samples(process: &Process, timing: Timing) -> anyhow::Result<Vec<Sample>> {
    let sample = |seconds| Sample {
        seconds,
        peak_mb: process.peak_mb,
    };
    match timing {
        Timing::Wall => Ok(vec![sample(process.seconds)]),
        Timing::Printed => Ok(printed_times(&process.stdout)?
            .into_iter()
            .map(sample)
            .collect()),
    }
}

/// The `times_s` of a bench program's JSON output.
fn printed_times(stdout: &str) -> anyhow::Result<Vec<f64>> {
    let json: serde_json::Value = serde_json::from_str(stdout.trim())
        .with_context(|| format!("bench output is not JSON: {stdout}"))?;
    let times = json["times_s"]
        .as_array()
        .context("bench output lacks times_s")?;
    Ok(times.iter().filter_map(serde_json::Value::as_f64).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn printed_times_are_read_from_the_json_line() {
        assert_eq!(
            printed_times("{\"case\": \"forward\", \"times_s\": [0.5, 0.25]}\n").unwrap(),
            [0.5, 0.25]
        );
        assert!(printed_times("{\"case\": \"forward\"}").is_err());
        assert!(printed_times("Traceback ...").is_err());
    }

    #[cfg(unix)]
    #[test]
    fn rounds_alternate_with_a_warm_up_for_wall_times() {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("log");
        let side = |name: &str, printed: &str| {
            let mut cmd = Command::new("sh");
            cmd.args(["-c", &format!("echo {name} >> \"$0\"; echo '{printed}'")])
                .arg(&log);
            cmd
        };
        let times = r#"{"times_s": [0.5, 0.25]}"#;
        let (mut ours, mut reference) = (side("ours", times), side("reference", "phases"));
        let rounds = alternate("test", 2, Timing::Wall, &mut ours, &mut reference).unwrap();
        // A warm-up round, then two timed rounds, always ours first.
        let order = std::fs::read_to_string(&log).unwrap();
        assert_eq!(
            order.lines().collect::<Vec<_>>(),
            ["ours", "reference"].repeat(3)
        );
        assert_eq!((rounds.ours.len(), rounds.reference.len()), (2, 2));
        assert_eq!(rounds.reference_stdout.trim(), "phases");

        std::fs::remove_file(&log).unwrap();
        let (mut ours, mut reference) = (side("ours", times), side("reference", times));
        let rounds = alternate("test", 2, Timing::Printed, &mut ours, &mut reference).unwrap();
        // No warm-up round: each process times iterations after its own warm-up.
        let order = std::fs::read_to_string(&log).unwrap();
        assert_eq!(order.lines().count(), 4);
        let seconds: Vec<f64> = rounds.ours.iter().map(|s| s.seconds).collect();
        assert_eq!(seconds, [0.5, 0.25, 0.5, 0.25]);
    }
}
