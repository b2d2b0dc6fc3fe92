//! Starting MPI tests under Open MPI's `mpirun` on localhost (fineface-train's `mpi` test
//! and, through `#[path]`, fineface-cli's `nodes` test).

use std::path::Path;
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::time::{Duration, Instant};

/// `mpirun` starting `processes` copies of `program ARGS` on this machine, more than its
/// cores if need be (`--oversubscribe`), as root too (what `--allow-run-as-root` allows,
/// through the environment, which other users' runs ignore). Panics with how to install
/// Open MPI when `mpirun` is missing.
pub fn mpirun(processes: usize, program: &Path, args: &[&str]) -> Command {
    let found = Command::new("mpirun")
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    assert!(
        found,
        "`mpirun` not found: the MPI tests run under Open MPI's launcher (Debian: apt install \
         openmpi-bin libopenmpi-dev)"
    );
    let mut command = Command::new("mpirun");
    command
        // Unbound: bound to one core each, Flex would run on fewer threads than the
        // one-process reference, and its sums would round otherwise.
        .args([
            "--oversubscribe",
            "--bind-to",
            "none",
            "-np",
            &processes.to_string(),
        ])
        .arg(program)
        .args(args)
        .env("OMPI_ALLOW_RUN_AS_ROOT", "1")
        .env("OMPI_ALLOW_RUN_AS_ROOT_CONFIRM", "1")
        // Loopback alone: no other interface is needed, and some hang Open MPI's TCP setup.
        .env("OMPI_MCA_btl_tcp_if_include", "lo")
        .env("OMPI_MCA_oob_tcp_if_include", "lo");
    command
}

/// Waits for `child`, killing it after `limit`; its status and output, and whether it ran
/// out of time.
pub fn finish_within(mut child: Child, limit: Duration) -> (Output, bool) {
    let started = Instant::now();
    let mut late = false;
    while child.try_wait().ok().flatten().is_none() {
        if started.elapsed() > limit {
            let _ = child.kill();
            late = true;
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let output = child.wait_with_output().unwrap_or_else(|e| Output {
        status: ExitStatus::default(),
        stdout: Vec::new(),
        stderr: e.to_string().into_bytes(),
    });
    (output, late)
}
