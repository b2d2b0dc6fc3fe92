//! What a study trains: the methods, the seeds, the cross-dataset evaluations, and where
//! each run lives.

use std::path::{Path, PathBuf};
use std::str::FromStr;

use fineface_data::DatasetConfig;
use serde::{Deserialize, Serialize};

use crate::error::{Result, StudyError};
use fineface_train::check_imagenet_weights;
use fineface_train::next_free_dir;
use fineface_train::{ExperimentConfig, Method, Overrides};

/// The next free `<root>/<experiment>/study-NNN` folder.
pub fn next_study_dir(root: &Path, experiment: &str) -> PathBuf {
    next_free_dir(&root.join(experiment), "study")
}

/// One method of a study: a name (`fineface`, `baseline`) and the experiment it trains.
#[derive(Debug, Clone)]
pub struct StudyMethod {
    /// The name in `study.json` and in the run folders' names.
    pub name: String,
    /// The experiment, before the seed is applied.
    pub config: ExperimentConfig,
}

/// A cross-dataset audit: every run is also evaluated on all the images of this dataset,
/// `--eval NAME=DATASET:PATH` on the command line (`--eval celeba=celeba:data/celeba`).
#[derive(Debug, Clone, PartialEq)]
pub struct CrossEval {
    /// The name of the evaluation (folders `eval-<name>`, keys of `study.json`).
    pub name: String,
    /// The dataset.
    pub data: DatasetConfig,
    /// Its root.
    pub root: PathBuf,
}

impl FromStr for CrossEval {
    type Err = String;

    /// Parses `NAME=DATASET:PATH`.
    fn from_str(text: &str) -> std::result::Result<Self, String> {
        let format = "expected NAME=DATASET:PATH, e.g. utkface=utkface:data/UTKFace";
        let (name, rest) = text
            .split_once('=')
            .ok_or_else(|| format!("`{text}`: no `=`; {format}"))?;
        let (kind, root) = rest
            .split_once(':')
            .ok_or_else(|| format!("`{text}`: no `:` after the dataset kind; {format}"))?;
        if !valid_name(name) {
            return Err(format!(
                "`{text}`: the name `{name}` must be letters, digits, `-` or `_`; {format}"
            ));
        }
        if root.is_empty() {
            return Err(format!("`{text}`: no path; {format}"));
        }
        let kind = kind
            .parse::<fineface_data::DatasetKind>()
            .map_err(|e| format!("`{text}`: {e}"))?;
        let data = DatasetConfig::with_root(kind, PathBuf::from(root));
        Ok(Self {
            name: name.to_owned(),
            data,
            root: PathBuf::from(root),
        })
    }
}

/// A seed study: every method trained once per seed, paired (same seed, so the same
/// splits and the same data order), each evaluated on its test split and on every
/// cross-dataset evaluation. Run folders are `<out>/<method>-seed-<seed>`.
#[derive(Debug, Clone)]
pub struct StudyPlan {
    /// The experiment studied (the first method's config name).
    pub experiment: String,
    /// The seeds, in order.
    pub seeds: Vec<u64>,
    /// The methods, in the order compared.
    pub methods: Vec<StudyMethod>,
    /// Cross-dataset evaluations.
    pub evals: Vec<CrossEval>,
    /// The study folder.
    pub out: PathBuf,
}

/// One method as `plan.json` records it: its name and its resolved experiment.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RecordedMethod {
    /// The method's name.
    pub name: String,
    /// The experiment as resolved when the study started (overrides applied, dataset roots
    /// absolute), so that a resumed study trains what it started with even if the file
    /// changed since.
    pub config: ExperimentConfig,
}

/// What a study was started with (`plan.json` in the study folder), so that `--resume`
/// continues exactly that study.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StudyRecord {
    /// The experiment.
    pub experiment: String,
    /// The seeds.
    pub seeds: Vec<u64>,
    /// The methods, in the order compared.
    pub methods: Vec<RecordedMethod>,
    /// `NAME=DATASET:PATH` of each cross-dataset evaluation (paths absolute).
    pub evals: Vec<String>,
}

/// The command-line settings a new study is built from.
#[derive(Debug, Clone, Default)]
pub struct StudyRequest {
    /// The experiment's name.
    pub experiment: String,
    /// The seeds.
    pub seeds: Vec<u64>,
    /// Each method's name and the experiment file it trains.
    pub methods: Vec<(String, PathBuf)>,
    /// `NAME=DATASET:PATH` of each cross-dataset evaluation.
    pub evals: Vec<String>,
    /// Overrides of every method's experiment (`--epochs`, `--data`, `--weights`, devices).
    pub overrides: Overrides,
}

impl StudyRecord {
    /// `plan.json` in the study folder.
    pub const FILE_NAME: &'static str = "plan.json";

    /// Reads and resolves the experiment files of a new study: overrides applied, each
    /// config validated, the `fineface` and `baseline` methods checked to train what their
    /// names say, every dataset read under its path as given, then the roots made absolute.
    ///
    /// # Errors
    /// A config that cannot be read or is invalid (the flags blamed when they make it so),
    /// ImageNet weights it names that are absent ([`TrainError::MissingWeights`](fineface_train::TrainError::MissingWeights)), a dataset
    /// that cannot be read, a method that trains the other method, a malformed evaluation
    /// or method name.
    pub fn resolve(request: &StudyRequest) -> Result<Self> {
        let methods = request
            .methods
            .iter()
            .map(|(name, path)| {
                check_name("method", name)?;
                let mut config = ExperimentConfig::from_file_with(path, &request.overrides)?;
                let expected = match name.as_str() {
                    "fineface" => Some(Method::FineFace),
                    "baseline" => Some(Method::Baseline),
                    _ => None,
                };
                if let Some(expected) = expected
                    && config.method != expected
                {
                    return Err(invalid(format!(
                        "method `{name}` trains {}, whose method is {:?}",
                        path.display(),
                        config.method
                    )));
                }
                check_imagenet_weights(&config.model)?;
                // Read now, under the path as typed: a mistyped --data fails before anything
                // trains, and says what the user wrote, not its absolute form.
                config.data.load(&config.split)?;
                let root = fineface_train::absolute(config.data.root());
                *config.data.root_mut() = root;
                config.model.weights = config
                    .model
                    .weights
                    .as_deref()
                    .map(fineface_train::absolute);
                Ok(RecordedMethod {
                    name: name.clone(),
                    config,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        let evals = request
            .evals
            .iter()
            .map(|text| {
                let eval = text.parse::<CrossEval>().map_err(invalid)?;
                eval.data
                    .load(&fineface_data::SplitConfig::default())
                    .map_err(|e| invalid(format!("--eval {text}: {e}")))?;
                Ok(format!(
                    "{}={}:{}",
                    eval.name,
                    eval.data.kind(),
                    fineface_train::absolute(&eval.root).display()
                ))
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(Self {
            experiment: request.experiment.clone(),
            seeds: request.seeds.clone(),
            methods,
            evals,
        })
    }

    /// Every method's devices replaced (a resumed study moved to another GPU).
    pub fn set_devices(&mut self, devices: &[String]) {
        for method in &mut self.methods {
            method.config.train.devices = devices.to_vec();
        }
    }

    /// The plan of this study in the folder `out`.
    ///
    /// # Errors
    /// A malformed evaluation, an empty or repeated seed or method list.
    pub fn plan(&self, out: &Path) -> Result<StudyPlan> {
        let evals = self
            .evals
            .iter()
            .map(|text| text.parse::<CrossEval>().map_err(invalid))
            .collect::<Result<Vec<_>>>()?;
        let plan = StudyPlan {
            experiment: self.experiment.clone(),
            seeds: self.seeds.clone(),
            methods: self
                .methods
                .iter()
                .map(|m| StudyMethod {
                    name: m.name.clone(),
                    config: m.config.clone(),
                })
                .collect(),
            evals,
            out: out.to_owned(),
        };
        plan.validate()?;
        Ok(plan)
    }
}

/// Names become folder names: letters, digits, `-` and `_` only.
fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

fn check_name(what: &str, name: &str) -> Result<()> {
    if valid_name(name) {
        Ok(())
    } else {
        Err(invalid(format!(
            "the {what} name `{name}` must be letters, digits, `-` or `_` (it names folders)"
        )))
    }
}

fn invalid(message: String) -> StudyError {
    StudyError::Invalid(message)
}

impl StudyPlan {
    /// Checks that there is a seed and a method, and that no seed, method or evaluation
    /// name repeats.
    ///
    /// # Errors
    /// [`StudyError::Invalid`] saying which.
    pub fn validate(&self) -> Result<()> {
        if self.seeds.is_empty() {
            return Err(invalid("a study needs at least one seed".to_owned()));
        }
        if self.methods.is_empty() {
            return Err(invalid("a study needs at least one method".to_owned()));
        }
        for method in &self.methods {
            check_name("method", &method.name)?;
        }
        if let Some(seed) = first_repeat(self.seeds.iter()) {
            return Err(invalid(format!("seed {seed} is listed twice")));
        }
        if let Some(name) = first_repeat(self.methods.iter().map(|m| &m.name)) {
            return Err(invalid(format!("method `{name}` is listed twice")));
        }
        if let Some(name) = first_repeat(self.evals.iter().map(|e| &e.name)) {
            return Err(invalid(format!("evaluation `{name}` is listed twice")));
        }
        Ok(())
    }

    /// Reads every cross-dataset evaluation's dataset once, so that a mistyped path fails
    /// before anything trains.
    ///
    /// # Errors
    /// The first dataset that cannot be read.
    pub fn check_evals(&self) -> Result<()> {
        for eval in &self.evals {
            let dataset = eval.data.load(&fineface_data::SplitConfig::default())?;
            tracing::info!(eval = %eval.name, images = dataset.len(), "cross-dataset evaluation found");
        }
        Ok(())
    }

    /// `<out>/<method>-seed-<seed>`.
    pub fn run_dir(&self, method: &str, seed: u64) -> PathBuf {
        self.out.join(format!("{method}-seed-{seed}"))
    }

    /// `<run>/eval-<name>`.
    pub fn eval_dir(&self, run_dir: &Path, name: &str) -> PathBuf {
        fineface_run::RunFiles::new(run_dir)
            .evaluation(name)
            .dir()
            .to_owned()
    }

    /// The method's experiment with `seed` as its training and split seed.
    pub fn run_config(&self, method: &StudyMethod, seed: u64) -> ExperimentConfig {
        let mut config = method.config.clone();
        config.apply(&Overrides {
            seed: Some(seed),
            ..Overrides::default()
        });
        config
    }
}

fn first_repeat<T: PartialEq + std::fmt::Display>(
    items: impl Iterator<Item = T>,
) -> Option<String> {
    let mut seen = Vec::new();
    for item in items {
        if seen.contains(&item) {
            return Some(item.to_string());
        }
        seen.push(item);
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cross_evaluations_parse_and_bad_ones_say_why() {
        let eval: CrossEval = "celeba=celeba:../shared/data/celeba".parse().unwrap();
        assert_eq!(eval.name, "celeba");
        assert_eq!(eval.data.kind(), fineface_data::DatasetKind::CelebA);
        assert_eq!(eval.root, PathBuf::from("../shared/data/celeba"));
        // A Windows path keeps its drive colon: only the first `:` splits.
        let eval: CrossEval = "u=utkface:C:\\data\\UTKFace".parse().unwrap();
        assert_eq!(eval.root, PathBuf::from("C:\\data\\UTKFace"));
        for (text, expected) in [
            ("celeba", "no `=`"),
            ("celeba=/data", "no `:`"),
            ("=celeba:/data", "the name ``"),
            ("a b=celeba:/data", "the name `a b`"),
            ("x=imdb:/data", "unknown dataset kind `imdb`"),
            ("x=celeba:", "no path"),
        ] {
            let error = text.parse::<CrossEval>().unwrap_err();
            assert!(error.contains(expected), "{text}: {error}");
        }
    }
}
