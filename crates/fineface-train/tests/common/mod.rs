//! What the whole-run tests share (fineface-train's, and fineface-cli's through `#[path]`).

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use burn::module::{Module, ModuleVisitor, Param};
use burn::tensor::{Tensor, backend::Backend};
use fineface_data::{DatasetConfig, SplitConfig, SynthFace, TransformConfig};
use fineface_model::{
    BackboneArch, CpuAutodiff, FineFaceAutodiffBackend, FineFaceConfig, ResNetConfig,
};
use fineface_train::{
    BackboneChoice, CropSettings, ExperimentConfig, Method, ModelSettings, RunOptions,
    TrainSettings, train,
};

/// A tiny SynthFace run: 96 images of 32 px, a ResNet-18 of width 4 with heads 8 wide,
/// 3 epochs of batch 8.
pub fn tiny_config(data: &Path, method: Method) -> ExperimentConfig {
    ExperimentConfig {
        name: "tiny".to_owned(),
        method,
        data: DatasetConfig::SynthFace(SynthFace {
            root: data.to_owned(),
            images: 96,
            size: 32,
            seed: 3,
        }),
        split: SplitConfig::default(),
        model: ModelSettings {
            backbone: BackboneChoice::Torchvision(BackboneArch::ResNet18),
            width: 4,
            head_width: 8,
            ..ModelSettings::default()
        },
        train: TrainSettings {
            epochs: 3,
            batch_size: 8,
            lr_new: 0.01,
            lr_backbone: 0.01,
            workers: 2,
            crop_grid_images: 2,
            ..TrainSettings::default()
        },
        transform: TransformConfig {
            resize: 34,
            crop: 32,
            pad: 1,
            mean: Some([0.5; 3]),
            std: Some([0.5; 3]),
            ..TransformConfig::default()
        },
        crop: CropSettings::default(),
    }
}

/// A tiny run of `method` (SynthFace: classes `no` and `yes`, groups of tone and face shape): one epoch of [`tiny_config`]
/// with one crop grid pictured, trained once per test binary and shared by its tests.
#[allow(dead_code)] // Not every test binary trains one.
pub fn trained_once(method: Method) -> &'static Path {
    static FINEFACE: OnceLock<(tempfile::TempDir, PathBuf)> = OnceLock::new();
    static BASELINE: OnceLock<(tempfile::TempDir, PathBuf)> = OnceLock::new();
    let once = match method {
        Method::FineFace => &FINEFACE,
        Method::Baseline => &BASELINE,
    };
    &once
        .get_or_init(|| {
            let dir = tempfile::tempdir().unwrap();
            let mut config = tiny_config(&dir.path().join("synthface"), method);
            config.train.epochs = 1;
            config.train.crop_grid_images = 1;
            let run = dir.path().join("run");
            let options = RunOptions {
                progress: false,
                ..RunOptions::new(run.clone())
            };
            train::<CpuAutodiff>(&config, &[Default::default()], &options).unwrap();
            (dir, run)
        })
        .1
}

/// The `## Files` section of fineface-train's README: what every written file holds (this
/// module serves fineface-cli's tests too, hence the path through `..`).
fn files_section() -> String {
    let readme = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../fineface-train/README.md"
    ))
    .expect("fineface-train's README");
    let start = readme
        .find("\n## Files\n")
        .expect("the README has a ## Files section");
    let rest = &readme[start + 1..];
    let end = rest[3..].find("\n## ").map_or(rest.len(), |i| i + 3);
    rest[..end].to_owned()
}

/// A folder's name as the README writes it: `epoch-007` is `epoch-NNN`, `eval-utkface-all`
/// is `eval-<dataset>-<split>`.
fn generic_folder(name: &str) -> String {
    if name.starts_with("epoch-") && name[6..].chars().all(|c| c.is_ascii_digit()) {
        "epoch-NNN".to_owned()
    } else if name.starts_with("eval-") {
        "eval-<dataset>-<split>".to_owned()
    } else {
        name.to_owned()
    }
}

/// The text under `heading` up to the next heading.
fn heading_section<'a>(doc: &'a str, heading: &str) -> Option<&'a str> {
    let start = doc.find(&format!("\n{heading}\n"))? + heading.len() + 2;
    let rest = &doc[start..];
    Some(&rest[..rest.find("\n#").unwrap_or(rest.len())])
}

/// The top-level keys of a JSON file the section does not name in backticks: the run's
/// own files (`fairness.json` is fineface-fair's, with its own table; `checksums.json`
/// is keyed by file name).
fn undocumented_keys(doc: &str, path: &Path, name: &str) -> Vec<String> {
    if name == "fairness.json" || name == "checksums.json" {
        return Vec::new();
    }
    let text = std::fs::read_to_string(path).unwrap();
    let value: serde_json::Value = serde_json::from_str(&text).unwrap();
    let Some(object) = value.as_object() else {
        return Vec::new();
    };
    object
        .keys()
        .filter(|key| !doc.contains(&format!("`{key}`")))
        .map(|key| format!("key {key} of {}", path.display()))
        .collect()
}

/// Every file under `dir`, relative to it.
#[allow(dead_code)] // Used by the test crates that check what they write.
pub fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    let mut folders = vec![dir.to_owned()];
    while let Some(folder) = folders.pop() {
        for entry in std::fs::read_dir(&folder).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                folders.push(path);
            } else {
                files.push(path.strip_prefix(dir).unwrap().to_owned());
            }
        }
    }
    files.sort();
    files
}

/// Panics naming each of `files` (relative to `dir`), each folder on their way and each
/// column of a CSV among them that the README's `## Files` does not name in backticks.
/// A class's probability column is `p_<class>`, a sensitive feature's `<sensitive...>`;
/// a file in `annotated/` is `<photo>.svg`.
#[allow(dead_code)] // Used by the test crates that check what they write.
pub fn assert_documented(dir: &Path, files: &[PathBuf], classes: &[String], sensitive: &[String]) {
    let doc = files_section();
    let named = |name: &str| {
        doc.contains(&format!("`{name}`"))
            || doc.contains(&format!("/{name}`"))
            || doc.contains(&format!("`{name}/"))
            || doc.contains(&format!("/{name}/"))
    };
    let mut missing = Vec::new();
    for file in files {
        let parts: Vec<String> = file
            .iter()
            .map(|p| p.to_string_lossy().into_owned())
            .collect();
        let (name, folders) = parts.split_last().unwrap();
        for folder in folders {
            let folder = generic_folder(folder);
            if !named(&folder) {
                missing.push(format!("folder {folder}/ (of {})", file.display()));
            }
        }
        let name = if folders.last().is_some_and(|f| f == "annotated") {
            "<photo>.svg".to_owned()
        } else {
            name.clone()
        };
        if !named(&name) {
            missing.push(format!("file {}", file.display()));
        }
        if name.ends_with(".json") {
            missing.extend(undocumented_keys(&doc, &dir.join(file), &name));
        }
        if name.ends_with(".csv") {
            // Each CSV's columns in its own table, under `#### `name``.
            let Some(table) = heading_section(&doc, &format!("#### `{name}`")) else {
                missing.push(format!("a #### `{name}` table"));
                continue;
            };
            let mut reader = csv::Reader::from_path(dir.join(file)).unwrap();
            for column in reader.headers().unwrap() {
                let generic = if classes.iter().any(|c| column == format!("p_{c}")) {
                    "p_<class>"
                } else if sensitive.iter().any(|s| s == column) {
                    "<sensitive...>"
                } else {
                    column
                };
                if !table.contains(&format!("`{generic}`")) {
                    missing.push(format!("column {generic} of {}", file.display()));
                }
            }
        }
    }
    assert!(
        missing.is_empty(),
        "not documented in the README's ## Files: {missing:#?}"
    );
}

/// Values of every float of a module; with `trainable`, only those that require a gradient
/// (on an autodiff backend: the parameters, not the running statistics).
#[allow(dead_code)] // Used by the test crates that compare weights.
pub fn floats<B: Backend, M: Module<B>>(module: &M, trainable: bool) -> Vec<Vec<f32>> {
    struct Values(Vec<Vec<f32>>, bool);
    impl<B: Backend> ModuleVisitor<B> for Values {
        fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<B, D>>) {
            let tensor = param.val();
            if !self.1 || tensor.is_require_grad() {
                self.0.push(tensor.into_data().to_vec::<f32>().unwrap());
            }
        }
    }
    let mut v = Values(Vec::new(), trainable);
    module.visit(&mut v);
    v.0
}

/// FineFACE over a ResNet-18 of width 4, heads of 8, two classes.
#[allow(dead_code)] // Used by the test crates that compare weights.
pub fn tiny_fineface<B: FineFaceAutodiffBackend>(
    device: &B::Device,
) -> fineface_train::FineFaceResNet<B> {
    let backbone = ResNetConfig::resnet18().with_width(4).init::<B>(device);
    FineFaceConfig::new(2)
        .with_head_width(8)
        .init(backbone, device)
}

/// The run's history (`metrics.csv` and `val_groups.csv`, read as `fineface-run` reads
/// them) without the numbers that measure the machine (times, throughput, memory).
#[allow(dead_code)] // Used by the test crates that resume runs.
pub fn metrics_without_timing(run: &Path) -> Vec<fineface_run::EpochMetrics> {
    let files = fineface_run::RunFiles::new(run);
    let history = fineface_run::read_history(&files.metrics(), &files.val_groups()).unwrap();
    history
        .epochs
        .into_iter()
        .map(|m| fineface_run::EpochMetrics {
            seconds: 0.0,
            train_seconds: 0.0,
            train_images_per_second: 0.0,
            rss_mb: 0.0,
            peak_rss_mb: 0.0,
            ..m
        })
        .collect()
}
