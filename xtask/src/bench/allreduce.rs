//! `bench allreduce`: a bucket of gradients summed over 2 and 3 nodes on localhost, through
//! the link training uses between nodes (MPI, `fineface_train::NodeLink`) beside MPI's own
//! `MPI_Allreduce`, each under `mpirun`.

use std::process::Command;

use super::BenchArgs;
use super::result::CaseResult;
use super::rounds::{Timing, alternate};
use crate::cargo::{Target, build_release_with};

impl BenchArgs {
    /// One case per node count and bucket size: ours beside `MPI_Allreduce`.
    pub(super) fn allreduce(
        &self,
        values: usize,
        nodes: &[usize],
        iters: usize,
    ) -> anyhow::Result<Vec<CaseResult>> {
        let exe = build_release_with(
            "fineface-train",
            Target::Example("bench_allreduce"),
            &["mpi"],
        )?;
        let mut cases = Vec::new();
        for &n in nodes {
            // Throughput on the gradient bucket; latency on one value.
            for (size, label) in [(values, "bucket"), (1, "one_value")] {
                let side = |link: &str| {
                    let mut command = Command::new("mpirun");
                    command
                        // As the tests run it: unbound, over loopback.
                        .args([
                            "--oversubscribe",
                            "--bind-to",
                            "none",
                            "-np",
                            &n.to_string(),
                        ])
                        .arg(&exe)
                        .args(["--link", link, "--values", &size.to_string()])
                        .args(["--iters", &iters.to_string()])
                        .env("OMPI_ALLOW_RUN_AS_ROOT", "1")
                        .env("OMPI_ALLOW_RUN_AS_ROOT_CONFIRM", "1")
                        .env("OMPI_MCA_btl_tcp_if_include", "lo")
                        .env("OMPI_MCA_oob_tcp_if_include", "lo");
                    command
                };
                let (mut ours, mut theirs) = (side("ours"), side("mpi-allreduce"));
                let name = format!("allreduce_{label}_{n}_nodes");
                let rounds =
                    alternate(&name, self.repeat, Timing::Printed, &mut ours, &mut theirs)?;
                let mut case = CaseResult::summarise(name, &rounds, String::new())?;
                case.notes = format!(
                    "{size} f32 ({:.1} MB) summed over {n} processes on localhost under mpirun \
                     (Open MPI, shared memory); ours = fineface_train::NodeLink (batch check + \
                     rank-order sum); reference = MPI_Allreduce (sum); {:.2} GB/s ours, {:.2} \
                     GB/s reference (bucket bytes / median time); median latency {:.1} us \
                     ours, {:.1} us reference",
                    size as f64 * 4e-6,
                    size as f64 * 4e-9 / case.ours_s,
                    size as f64 * 4e-9 / case.reference_s,
                    case.ours_s * 1e6,
                    case.reference_s * 1e6,
                );
                cases.push(case);
            }
        }
        Ok(cases)
    }
}
