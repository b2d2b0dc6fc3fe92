//! Any dataset described by a CSV: `path,<target>,<sensitive columns...>[,split]`.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::error::{DataError, Result};
use crate::sample::{FaceSample, Skipped, Split, inside};
use crate::split::{SplitConfig, assemble};

/// A CSV of image paths (relative to `root`) with a target column and sensitive columns,
/// named in the config. An optional `split` column (`train`/`val`/`test`) gives official
/// splits; missing ones are carved. This is how to bring a dataset we do not know, or an
/// LFWA+ variant without `lfw_attributes.txt`. Paths separate folders with `/` or `\` on
/// every OS (a manifest written on Windows reads anywhere); absolute paths, drive letters and
/// paths that climb out of `root` are skipped with the reason.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    /// The folder image paths are relative to.
    pub root: PathBuf,
    /// The CSV (relative to `root` unless absolute), default `manifest.csv`.
    #[serde(default = "default_csv")]
    pub csv: PathBuf,
    /// Column of image paths.
    #[serde(default = "default_path_column")]
    pub path_column: String,
    /// Column of the target label.
    #[serde(default = "default_target")]
    pub target: String,
    /// Sensitive attribute columns.
    #[serde(default = "default_sensitive")]
    pub sensitive: Vec<String>,
}

fn default_csv() -> PathBuf {
    "manifest.csv".into()
}
fn default_path_column() -> String {
    "path".to_owned()
}
fn default_target() -> String {
    "gender".to_owned()
}
fn default_sensitive() -> Vec<String> {
    vec!["race".to_owned(), "gender".to_owned()]
}

impl Manifest {
    /// Default settings for `root`.
    pub fn new(root: PathBuf) -> Self {
        Self {
            root,
            csv: default_csv(),
            path_column: default_path_column(),
            target: default_target(),
            sensitive: default_sensitive(),
        }
    }

    /// Reads the CSV and finds the images.
    pub fn load(&self, config: &SplitConfig) -> Result<crate::FaceDataset> {
        let csv_path = self.root.join(&self.csv);
        let file = std::fs::File::open(&csv_path).map_err(|_| DataError::MissingFile {
            dataset: "manifest",
            expected: "a CSV with a path column, the target column and the sensitive columns",
            path: csv_path.clone(),
            hint: "write one row per image: path,<target>,<sensitive...>[,split]",
        })?;
        let mut reader = csv::ReaderBuilder::new()
            .trim(csv::Trim::All)
            .from_reader(std::io::BufReader::new(file));
        let header: Vec<String> = reader
            .headers()
            .map_err(|e| DataError::parse(&csv_path, 1, e.to_string()))?
            .iter()
            .map(|h| h.trim_start_matches('\u{feff}').to_owned())
            .collect();
        let column = |name: &str| {
            header.iter().position(|h| h == name).ok_or_else(|| {
                DataError::parse(
                    &csv_path,
                    1,
                    format!("missing column `{name}` (header: {})", header.join(",")),
                )
            })
        };
        let path_col = column(&self.path_column)?;
        let target_col = column(&self.target)?;
        let sensitive_cols: Vec<usize> = self
            .sensitive
            .iter()
            .map(|s| column(s))
            .collect::<Result<_>>()?;
        let split_col = header.iter().position(|h| h == "split");
        let (mut official, mut skipped): (BTreeMap<Split, Vec<FaceSample>>, Vec<Skipped>) =
            Default::default();
        for record in reader.records() {
            let record = record.map_err(|e| {
                DataError::parse(
                    &csv_path,
                    e.position().map_or(0, |p| p.line()),
                    e.to_string(),
                )
            })?;
            let line = record.position().map_or(0, |p| p.line());
            let field = |i: usize| record.get(i).unwrap_or("");
            let relative = field(path_col);
            for &c in std::iter::once(&target_col).chain(&sensitive_cols) {
                if field(c).is_empty() {
                    return Err(DataError::parse(
                        &csv_path,
                        line,
                        format!("column `{}` is empty", header[c]),
                    ));
                }
            }
            let split = match split_col.map(field) {
                None | Some("train") => Split::Train,
                Some("val") => Split::Val,
                Some("test") => Split::Test,
                Some(other) => {
                    return Err(DataError::parse(
                        &csv_path,
                        line,
                        format!("split `{other}` is not train, val or test"),
                    ));
                }
            };
            let Some(path) = inside(&self.root, relative) else {
                skipped.push(Skipped {
                    file: relative.to_owned(),
                    reason: "path leaves the dataset folder".to_owned(),
                });
                continue;
            };
            if !path.is_file() {
                skipped.push(Skipped {
                    file: relative.to_owned(),
                    reason: "listed in the manifest but absent".to_owned(),
                });
                continue;
            }
            official.entry(split).or_default().push(FaceSample {
                path,
                file: relative.to_owned(),
                target: field(target_col).to_owned(),
                sensitive: sensitive_cols
                    .iter()
                    .map(|&c| field(c).to_owned())
                    .collect(),
            });
        }
        Ok(assemble(
            "manifest",
            &self.root,
            &self.target,
            self.sensitive.clone(),
            official,
            skipped,
            config,
        ))
    }
}
