//! What a study trains: the methods, the seeds, the cross-dataset evaluations, and where
//! each run lives.

use std::path::{Path, PathBuf};
use std::str::FromStr;

use fineface_data::DatasetConfig;
use serde::{Deserialize, Serialize};

use crate::config::{ExperimentConfig, Overrides};
use crate::error::{Result, TrainError};
use crate::trainer::next_free_dir;

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
        let valid_name = !name.is_empty()
            && name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
        if !valid_name {
            return Err(format!(
                "`{text}`: the name `{name}` must be letters, digits, `-` or `_`; {format}"
            ));
        }
        if root.is_empty() {
            return Err(format!("`{text}`: no path; {format}"));
        }
        let data = DatasetConfig::with_root(kind, PathBuf::from(root)).ok_or_else(|| {
            format!(
                "`{text}`: unknown dataset kind `{kind}` (fairface, utkface, celeba, lfwa, \
                 manifest, imagefolder, synthface)"
            )
        })?;
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

/// The arguments a study was started with (`plan.json`), so that `--resume` continues it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StudyRecord {
    /// The experiment.
    pub experiment: String,
    /// The seeds.
    pub seeds: Vec<u64>,
    /// The methods and the config file each trains.
    pub methods: Vec<(String, PathBuf)>,
    /// `NAME=DATASET:PATH` of each cross-dataset evaluation.
    pub evals: Vec<String>,
    /// Epochs override.
    pub epochs: Option<usize>,
    /// Dataset root override.
    pub data: Option<PathBuf>,
    /// Devices override.
    pub devices: Option<Vec<String>>,
}

impl StudyRecord {
    /// `plan.json` in the study folder.
    pub const FILE_NAME: &'static str = "plan.json";

    /// Reads the configs and builds the plan into `out`.
    ///
    /// # Errors
    /// A config that cannot be read or is invalid, a malformed evaluation, an empty or
    /// repeated seed or method list.
    pub fn plan(&self, out: &Path) -> Result<StudyPlan> {
        let overrides = Overrides {
            data: self.data.clone(),
            epochs: self.epochs,
            devices: self.devices.clone(),
            ..Overrides::default()
        };
        let methods = self
            .methods
            .iter()
            .map(|(name, path)| {
                let mut config = ExperimentConfig::from_file(path)?;
                config.apply(&overrides);
                config.validate().map_err(|message| TrainError::Config {
                    path: path.clone(),
                    message,
                })?;
                Ok(StudyMethod {
                    name: name.clone(),
                    config,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        let evals = self
            .evals
            .iter()
            .map(|text| text.parse::<CrossEval>().map_err(invalid))
            .collect::<Result<Vec<_>>>()?;
        let plan = StudyPlan {
            experiment: self.experiment.clone(),
            seeds: self.seeds.clone(),
            methods,
            evals,
            out: out.to_owned(),
        };
        plan.validate()?;
        Ok(plan)
    }
}

fn invalid(message: String) -> TrainError {
    TrainError::InvalidStudy(message)
}

impl StudyPlan {
    /// Checks that there is a seed and a method, and that no seed, method or evaluation
    /// name repeats.
    ///
    /// # Errors
    /// [`TrainError::InvalidStudy`] saying which.
    pub fn validate(&self) -> Result<()> {
        if self.seeds.is_empty() {
            return Err(invalid("a study needs at least one seed".to_owned()));
        }
        if self.methods.is_empty() {
            return Err(invalid("a study needs at least one method".to_owned()));
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

    /// `<out>/<method>-seed-<seed>`.
    pub fn run_dir(&self, method: &str, seed: u64) -> PathBuf {
        self.out.join(format!("{method}-seed-{seed}"))
    }

    /// `<run>/eval-<name>`.
    pub fn eval_dir(&self, run_dir: &Path, name: &str) -> PathBuf {
        run_dir.join(format!("eval-{name}"))
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
        assert_eq!(eval.data.kind(), "celeba");
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
