//! The photo commands: `predict` (chips, or raw photos with `--detect`), `align`, and the
//! face-finding settings `eval --detect` shares with them.

use std::path::PathBuf;

use anyhow::Context;
use clap::Args;
use fineface_detect::{AlignConfig, MtcnnConfig, MtcnnWeights};
use fineface_model::{FineFaceAutodiffBackend, FineFaceBackend};
use fineface_train::photos::{
    Classifier, FaceFinder, FaceSettings, KeepFace, PhotoReport, align_dataset, collect_photos,
    predict_photos,
};
use fineface_train::{BackendTask, RunFolder, on_devices, parse_devices};

/// How faces are found in raw photos and cut into chips. Each is optional so that one given
/// where no photo is detected (`predict` or `eval` without `--detect`) is refused, not
/// ignored ([`FaceArgs::given`]).
#[derive(Args, Debug, Clone)]
pub struct FaceArgs {
    /// Folder of MTCNN's weights: facenet-pytorch 2.6.0's `pnet.pt`, `rnet.pt`, `onet.pt`
    /// (`pip download --no-deps facenet-pytorch==2.6.0`, in the wheel's
    /// `facenet_pytorch/data/`) [default: ../shared/weights/mtcnn].
    #[arg(long)]
    pub mtcnn: Option<PathBuf>,
    /// Room around the face in a chip, a fraction of the face's width on each side
    /// (FairFace's 0.25; 0 to 4) [default: 0.25].
    #[arg(long, allow_negative_numbers = true)]
    pub padding: Option<f64>,
    /// The smallest face searched for, in pixels (at least 12) [default: 20].
    #[arg(long, allow_negative_numbers = true)]
    pub min_face_size: Option<f64>,
    /// Which face stands for a photo with several (`align`, `eval --detect`) [default:
    /// largest].
    #[arg(long, value_enum)]
    pub keep: Option<KeepArg>,
}

/// `--keep`: the command line's spelling of [`KeepFace`] (the library stays free of clap).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum KeepArg {
    /// The face with the largest box (a portrait's subject is usually the nearest face).
    Largest,
    /// The face MTCNN is surest of.
    MostProbable,
}

impl From<KeepArg> for KeepFace {
    fn from(keep: KeepArg) -> Self {
        match keep {
            KeepArg::Largest => Self::Largest,
            KeepArg::MostProbable => Self::MostProbable,
        }
    }
}

impl FaceArgs {
    /// The settings, chips of `size` px.
    pub fn settings(&self, size: usize) -> FaceSettings {
        let mtcnn = self
            .mtcnn
            .clone()
            .unwrap_or_else(|| PathBuf::from("../shared/weights/mtcnn"));
        FaceSettings {
            weights: MtcnnWeights::in_dir(&mtcnn),
            detector: MtcnnConfig::new().with_min_face_size(self.min_face_size.unwrap_or(20.0)),
            align: AlignConfig::new()
                .with_size(size)
                .with_padding(self.padding.unwrap_or(0.25)),
            keep: self.keep(),
        }
    }

    /// The face kept of a photo with several.
    pub fn keep(&self) -> KeepFace {
        self.keep.map_or(KeepFace::Largest, KeepFace::from)
    }

    /// The flags given on the command line (`--padding`, ...).
    pub fn given(&self) -> Vec<&'static str> {
        [
            self.mtcnn.is_some().then_some("--mtcnn"),
            self.padding.is_some().then_some("--padding"),
            self.min_face_size.is_some().then_some("--min-face-size"),
            self.keep.is_some().then_some("--keep"),
        ]
        .into_iter()
        .flatten()
        .collect()
    }

    /// Refuses face flags where no face is detected: they would change nothing.
    ///
    /// # Errors
    /// The flags given, named.
    pub fn only_with_detect(&self, detect: bool) -> anyhow::Result<()> {
        let given = self.given();
        let verb = if given.len() == 1 { "applies" } else { "apply" };
        anyhow::ensure!(
            detect || given.is_empty(),
            "{} only {verb} with --detect (the images are taken as aligned chips without it)",
            given.join(", ")
        );
        Ok(())
    }
}

#[derive(Args)]
pub struct PredictArgs {
    /// The run folder.
    #[arg(long)]
    run: PathBuf,
    /// Images (JPEG, PNG, WebP, BMP, GIF, TIFF), or folders of them, searched recursively.
    #[arg(required = true)]
    images: Vec<PathBuf>,
    /// The images are raw photos: find every face, align it and classify it; write
    /// `faces.csv` and an annotated picture per photo in `--out`.
    #[arg(long)]
    detect: bool,
    /// Output folder of `--detect` (default `<run>/photos`).
    #[arg(long, requires = "detect")]
    out: Option<PathBuf>,
    #[command(flatten)]
    faces: FaceArgs,
    /// Device.
    #[arg(long, default_value = "cpu", value_parser = crate::flags::device)]
    device: String,
    /// No progress bar.
    #[arg(long)]
    quiet: bool,
}

#[derive(Args)]
pub struct AlignArgs {
    /// The dataset of raw photos (any layout: ImageFolder, a manifest, FairFace's).
    #[arg(long)]
    root: PathBuf,
    /// Where the chips go, in the same layout; other files (labels, manifests) are copied.
    #[arg(long)]
    out: PathBuf,
    /// Chip side in pixels (1 to 4096).
    #[arg(long, default_value_t = 224)]
    size: usize,
    #[command(flatten)]
    faces: FaceArgs,
    /// Photos decoded, detected and written at once (1 or more).
    #[arg(long, default_value_t = default_workers(), value_parser = crate::flags::at_least_one)]
    workers: usize,
    /// Device.
    #[arg(long, default_value = "cpu", value_parser = crate::flags::device)]
    device: String,
    /// No progress bar.
    #[arg(long)]
    quiet: bool,
}

fn default_workers() -> usize {
    std::thread::available_parallelism().map_or(2, |n| n.get().min(8))
}

pub fn predict(args: PredictArgs) -> anyhow::Result<()> {
    let devices = parse_devices(std::slice::from_ref(&args.device))?;
    on_devices(&devices, PredictImages(&args))?
}

/// Prediction on the chosen backend (its inner, non-autodiff one).
struct PredictImages<'a>(&'a PredictArgs);

impl BackendTask for PredictImages<'_> {
    type Output = anyhow::Result<()>;

    fn run<B: FineFaceAutodiffBackend>(
        self,
        devices: Vec<B::Device>,
    ) -> fineface_train::Result<Self::Output> {
        Ok(predict_on::<B::InnerBackend>(self.0, &devices[0]))
    }
}

fn predict_on<B: FineFaceBackend>(args: &PredictArgs, device: &B::Device) -> anyhow::Result<()> {
    args.faces.only_with_detect(args.detect)?;
    let images = collect_photos(&args.images)?;
    let run = RunFolder::open(&args.run)
        .with_context(|| format!("{} is not a run folder", args.run.display()))?;
    let finder = if args.detect {
        let size = run.config.transform.resize as usize;
        Some(FaceFinder::<B>::new(args.faces.settings(size), device)?)
    } else {
        None
    };
    let model = run.load_model::<B>(device)?;
    let crop = run.crop();
    let classifier = Classifier {
        model: &*model,
        transform: &run.config.transform,
        crop: &crop,
        classes: &run.info.classes,
        device,
    };
    match finder {
        Some(finder) => {
            let out = args
                .out
                .clone()
                .unwrap_or_else(|| run.files.dir().join("photos"));
            let report = predict_photos(&classifier, &finder, &images, &out, !args.quiet)?;
            print_photo_report(&report);
            anyhow::ensure!(
                report.unreadable.len() < report.photos,
                "none of the {} photos could be read",
                report.photos
            );
            Ok(())
        }
        None => predict_chips(&classifier, &images),
    }
}

/// Each image classified as it is (an aligned chip), as a tab-separated table on stdout:
/// `image<TAB>prediction<TAB>p_<class>...` (every class's probability, as `predictions.csv`).
fn predict_chips<B: FineFaceBackend>(
    classifier: &Classifier<'_, B>,
    images: &[PathBuf],
) -> anyhow::Result<()> {
    let mut header = vec!["image".to_owned(), "prediction".to_owned()];
    header.extend(
        classifier
            .classes
            .iter()
            .map(|c| fineface_train::probability_column(c)),
    );
    #[allow(clippy::print_stdout)] // The predictions are this command's output.
    {
        println!("{}", header.join("\t"));
    }
    let mut unreadable = 0;
    for path in images {
        let image = match fineface_data::open_image(path) {
            Ok(image) => image,
            Err(error) => {
                unreadable += 1;
                tracing::error!("{}: {error}", path.display());
                continue;
            }
        };
        let trained = classifier.transform.crop;
        if image.width().min(image.height()) < trained / 4 {
            tracing::warn!(
                "{}: {} x {} px, far below the {trained} px the run was trained at: the \
                 prediction says little (a raw photo? use --detect)",
                path.display(),
                image.width(),
                image.height()
            );
        }
        let prediction = classifier.classify(std::slice::from_ref(&image))?;
        #[allow(clippy::print_stdout)] // The predictions are this command's output.
        for p in prediction {
            let probabilities: Vec<String> =
                p.probabilities.iter().map(|v| format!("{v:.4}")).collect();
            println!(
                "{}\t{}\t{}",
                tsv_field(&path.display().to_string()),
                tsv_field(&p.label),
                probabilities.join("\t")
            );
        }
    }
    anyhow::ensure!(
        unreadable == 0,
        "{unreadable} of {} images could not be read (named above)",
        images.len()
    );
    Ok(())
}

/// A field of the tab-separated predictions: a tab or line break in a file name written
/// `\t`, `\n`, `\r` (and a backslash `\\`), so that each image stays one line of the same
/// columns.
fn tsv_field(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\t' => out.push_str("\\t"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            _ => out.push(c),
        }
    }
    out
}

#[allow(clippy::print_stdout)] // The summary is this command's output.
fn print_photo_report(report: &PhotoReport) {
    println!(
        "{} photos: {} faces classified, {} without a face, {} unreadable",
        report.photos,
        report.faces,
        report.without_face.len(),
        report.unreadable.len()
    );
    for note in report.without_face.iter().chain(&report.unreadable) {
        println!("  {}: {}", note.image, note.reason);
    }
    println!(
        "wrote {} and {}",
        report.csv.display(),
        report.annotated.display()
    );
}

pub fn align(args: AlignArgs) -> anyhow::Result<()> {
    let devices = parse_devices(std::slice::from_ref(&args.device))?;
    on_devices(&devices, AlignPhotos(&args))?
}

/// Alignment on the chosen backend (its inner, non-autodiff one).
struct AlignPhotos<'a>(&'a AlignArgs);

impl BackendTask for AlignPhotos<'_> {
    type Output = anyhow::Result<()>;

    fn run<B: FineFaceAutodiffBackend>(
        self,
        devices: Vec<B::Device>,
    ) -> fineface_train::Result<Self::Output> {
        Ok(align_on::<B::InnerBackend>(self.0, &devices[0]))
    }
}

fn align_on<B: FineFaceBackend>(args: &AlignArgs, device: &B::Device) -> anyhow::Result<()> {
    let finder = FaceFinder::<B>::new(args.faces.settings(args.size), device)?;
    let report = align_dataset(&finder, &args.root, &args.out, args.workers, !args.quiet)?;
    #[allow(clippy::print_stdout)] // The summary is this command's output.
    {
        println!(
            "{} photos: {} chips written, {} kept from before, {} with several faces (the {} kept), {} without a face, {} unreadable; {} other files copied",
            report.photos,
            report.aligned,
            report.resumed,
            report.several.len(),
            match args.faces.keep() {
                KeepFace::Largest => "largest",
                KeepFace::MostProbable => "most probable",
            },
            report.without_face.len(),
            report.unreadable.len(),
            report.copied
        );
        if report.removed > 0 {
            println!(
                "  {} chip{} of a photo no longer there removed",
                report.removed,
                if report.removed == 1 { "" } else { "s" }
            );
        }
        for row in &report.failed {
            println!("  {}: {}", row.image, row.outcome);
        }
        for row in report
            .without_face
            .iter()
            .chain(&report.unreadable)
            .take(10)
        {
            println!("  {}: {}", row.image, row.outcome);
        }
        println!(
            "wrote {} (every photo's outcome in {})",
            args.out.display(),
            args.out
                .join(fineface_train::photos::ALIGN_REPORT_CSV)
                .display()
        );
    }
    anyhow::ensure!(
        report.failed.is_empty(),
        "{} chips could not be written (named above)",
        report.failed.len()
    );
    Ok(())
}
