//! Starting MPI tests under Open MPI's `mpirun` on localhost (fineface-train's `mpi` test
//! and, through `#[path]`, fineface-cli's `nodes` test).

use std::io::Read;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

/// `mpirun` starting `processes` copies of `program ARGS` on this machine, more than its
/// cores if need be (`--oversubscribe`), as root too (what `--allow-run-as-root` allows,
/// through the environment, which other users' runs ignore), in a process group of its own
/// ([`finish_within`] kills the whole group). Panics with how to install Open MPI when
/// `mpirun` is missing.
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
        .env("OMPI_MCA_oob_tcp_if_include", "lo")
        .process_group(0);
    command
}

/// Waits for `child` (an [`mpirun`] with its output piped), reading its output as it comes
/// and killing its process group (`mpirun` and every node) after `limit`; its status and
/// output, and whether it ran out of time.
pub fn finish_within(mut child: Child, limit: Duration) -> (Output, bool) {
    fn drain(pipe: Option<impl Read + Send + 'static>) -> std::thread::JoinHandle<Vec<u8>> {
        std::thread::spawn(move || {
            let mut bytes = Vec::new();
            if let Some(mut pipe) = pipe {
                let _ = pipe.read_to_end(&mut bytes);
            }
            bytes
        })
    }
    let (stdout, stderr) = (drain(child.stdout.take()), drain(child.stderr.take()));
    let started = Instant::now();
    let mut late = false;
    while child.try_wait().expect("mpirun's status").is_none() {
        if started.elapsed() > limit {
            let group = format!("-{}", child.id());
            let _ = Command::new("kill").args(["-KILL", "--", &group]).status();
            late = true;
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let status = child.wait().expect("mpirun's status");
    let output = Output {
        status,
        stdout: stdout.join().unwrap_or_default(),
        stderr: stderr.join().unwrap_or_default(),
    };
    (output, late)
}
