//! `cargo xtask bench <case>`: our code beside the Python reference, same machine, same run.
//!
//! Each case runs ours and the reference alternately ([`rounds::alternate`]), reports the
//! median and min-max wall time and the peak resident memory of each process, and the ratio
//! reference time / our time (above 1 means we are faster). One file per case.

mod allreduce;
mod data;
mod detect;
mod fairness;
mod fineface;
mod process;
mod resnet;
mod result;
mod rounds;

use std::path::PathBuf;

use clap::{Args, Subcommand};

use fineface::{ModelBench, ModelCase};

/// Benchmarks against the Python reference tools.
#[derive(Debug, Args)]
pub struct BenchArgs {
    #[command(subcommand)]
    case: BenchCase,
    /// Timed repetitions of each side (at least 1).
    #[arg(long, default_value_t = 5, global = true,
          value_parser = clap::value_parser!(u64).range(1..))]
    repeat: u64,
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
    /// MTCNN face detection (`fineface-detect`) beside facenet-pytorch's on the same photos.
    Detect {
        /// A folder of photos (`.jpg`, `.jpeg`, `.png`), or one photo.
        #[arg(long, default_value = "../shared/data/photos")]
        photos: PathBuf,
        /// The folder with facenet-pytorch's `pnet.pt`, `rnet.pt` and `onet.pt`.
        #[arg(long, default_value = "../shared/weights/mtcnn")]
        weights: PathBuf,
        /// Timed rounds over all photos per process (after one warm-up round).
        #[arg(long, default_value_t = 3)]
        rounds: usize,
    },
    /// A gradient bucket summed between nodes under `mpirun` on localhost: the MPI link
    /// training uses beside MPI's own all-reduce. Needs Open MPI (`mpirun`, `mpicc`) and
    /// libclang.
    Allreduce {
        /// Floats in the bucket (a ResNet-50's parameters).
        #[arg(long, default_value_t = 25_557_032)]
        values: usize,
        /// Node counts (processes), each a case.
        #[arg(long, value_delimiter = ',', default_value = "2,3")]
        nodes: Vec<usize>,
        /// Timed sums per process (after one warm-up sum).
        #[arg(long, default_value_t = 5)]
        iters: usize,
    },
    /// `cargo xtask fairness` against fairlearn's MetricFrame on one predictions file.
    Fairness {
        /// Rows of the generated predictions file.
        #[arg(long, default_value_t = 1_000_000)]
        rows: usize,
    },
}

impl BenchArgs {
    /// Runs the case, prints its table and notes, and writes the JSON when asked.
    pub fn run(self) -> anyhow::Result<()> {
        let cases = match &self.case {
            BenchCase::Fairness { rows } => vec![self.fairness(*rows)?],
            BenchCase::Allreduce {
                values,
                nodes,
                iters,
            } => self.allreduce(*values, nodes, *iters)?,
            BenchCase::Detect {
                photos,
                weights,
                rounds,
            } => vec![self.detect(photos, weights, *rounds)?],
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
            BenchCase::Iteration(m) => vec![self.fineface_case(m, ModelCase::Iteration)?],
            BenchCase::Baseline(m) => vec![self.fineface_case(m, ModelCase::Baseline)?],
            BenchCase::Forward(m) => vec![self.fineface_case(m, ModelCase::Forward)?],
            BenchCase::Backward(m) => vec![self.fineface_case(m, ModelCase::Backward)?],
            BenchCase::Eval(m) => vec![self.fineface_case(m, ModelCase::Eval)?],
            BenchCase::Crops(m) => vec![self.fineface_case(m, ModelCase::Crops)?],
            BenchCase::All(m) => self.all(m)?,
        };
        result::BenchReport::new(cases).write(self.json.as_deref())
    }
}
