//! One side of `cargo xtask bench data`: decode + training transform throughput.
//!
//! ```sh
//! cargo run --release -p fineface-data --example bench_pipeline -- --root ../shared/data/utkface
//! ```
//! Prints `{"images": N, "times_s": [seconds per round]}`.

#![allow(clippy::print_stdout)] // The JSON result is this program's output.

use std::path::PathBuf;
use std::time::Instant;

use clap::Parser;
use fineface_data::{
    BatchLoader, DatasetConfig, LoaderConfig, Split, SplitConfig, TransformConfig,
};

#[derive(Parser)]
struct Args {
    /// UTKFace folder.
    #[arg(long)]
    root: PathBuf,
    /// Images per round.
    #[arg(long, default_value_t = 512)]
    images: usize,
    /// Decoding threads.
    #[arg(long, default_value_t = 2)]
    workers: usize,
    /// Timed rounds (after one warm-up round).
    #[arg(long, default_value_t = 2)]
    rounds: usize,
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args = Args::parse();
    let dataset = DatasetConfig::with_root(fineface_data::DatasetKind::UtkFace, args.root)
        .load(&SplitConfig::default())?;
    let train = dataset.split(Split::Train);
    let samples = &train[..args.images.min(train.len())];
    let config = LoaderConfig {
        batch_size: 16,
        workers: args.workers,
        ..LoaderConfig::default()
    };
    let loader = BatchLoader::new(
        samples,
        &dataset.classes,
        TransformConfig::default(),
        config,
        true,
        0,
    );
    let mut times = Vec::new();
    for round in 0..=args.rounds {
        let start = Instant::now();
        let mut n = 0;
        for k in 0..loader.n_batches() {
            let (batch, _) = loader.batch(round as u64, k).map_err(|e| e.message)?;
            n += std::hint::black_box(batch).len();
        }
        if round > 0 {
            times.push(start.elapsed().as_secs_f64());
        }
        let _ = n;
    }
    println!(
        "{{\"images\": {}, \"times_s\": {:?}}}",
        loader.n_batches() * 16,
        times
    );
    Ok(())
}
