//! Our side of `cargo xtask bench detect`: MTCNN on each photo, timed, after one warm-up
//! pass over all of them; prints `{"case": "detect", "times_s": [...], "faces": N}` with one
//! time per round (every photo once).
//!
//! ```sh
//! cargo run --release -p fineface-detect --example bench_detect -- \
//!     --weights ../shared/weights/mtcnn --rounds 3 ../shared/data/photos/*.jpg
//! ```

#![allow(clippy::print_stdout)] // The JSON result is this program's output.

use std::path::PathBuf;
use std::time::Instant;

use anyhow::Context;
use clap::Parser;
use fineface_detect::{MtcnnConfig, MtcnnWeights};

#[derive(Parser)]
struct Args {
    /// Folder with `pnet.pt`, `rnet.pt` and `onet.pt`.
    #[arg(long)]
    weights: PathBuf,
    /// Timed rounds over all photos.
    #[arg(long, default_value_t = 3)]
    rounds: usize,
    /// The photos.
    #[arg(required = true)]
    photos: Vec<PathBuf>,
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let device = Default::default();
    let weights = MtcnnWeights::in_dir(&args.weights);
    let detector = MtcnnConfig::new().init::<burn::backend::Flex>(&weights, &device)?;
    let photos = args
        .photos
        .iter()
        .map(|p| {
            fineface_data::open_image(p)
                .map(|i| i.to_rgb8())
                .with_context(|| format!("cannot read {}", p.display()))
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    let faces: usize = photos.iter().map(|p| detector.detect(p).len()).sum();
    let times: Vec<f64> = (0..args.rounds)
        .map(|_| {
            let start = Instant::now();
            for photo in &photos {
                std::hint::black_box(detector.detect(photo));
            }
            start.elapsed().as_secs_f64()
        })
        .collect();
    println!("{{\"case\": \"detect\", \"times_s\": {times:?}, \"faces\": {faces}}}");
    Ok(())
}
