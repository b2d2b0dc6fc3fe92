//! Any dataset described by a CSV: `path,<target>,<sensitive columns...>[,split]`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::label_values;
use crate::error::{DataError, Result};
use crate::locate::{Found, Locator, Place};
use crate::sample::{FaceSample, Skipped, Split};
use crate::split::{SplitConfig, assemble};
use crate::text;

/// A CSV of image paths (relative to `root`) with a target column and sensitive columns,
/// named in the config. An optional `split` column (`train`/`val`/`test`) gives official
/// splits; missing ones are carved. This is how to bring a dataset we do not know, or an
/// LFWA+ variant without `lfw_attributes.txt`. Paths separate folders with `/` or `\` on
/// every OS (a manifest written on Windows reads anywhere); absolute paths inside `root` read,
/// and names in another Unicode form or letter case than the disk's (`docs/inputs.md`); paths
/// elsewhere, drive letters and paths that climb out of `root` are skipped with the reason.
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
        if !csv_path.is_file() {
            return Err(DataError::MissingFile {
                dataset: "manifest",
                expected: "a CSV with a path column, the target column and the sensitive columns",
                path: csv_path,
                hint: "write one row per image: path,<target>,<sensitive...>[,split]",
            });
        }
        let text = text::read_csv(&csv_path)?;
        let (header, mut reader) = text.header(&csv_path)?;
        let columns = self.columns(&header, &csv_path)?;
        let split_col = header.find("split", &csv_path)?;
        let mut spellings = label_values::Spellings::default();
        let mut listed = label_values::Listed::default();
        let mut locator = Locator::new(&self.root);
        let shown = csv_path.display().to_string();
        let mut found = Found::new("manifest");
        let (mut official, mut skipped): (BTreeMap<Split, Vec<FaceSample>>, Vec<Skipped>) =
            Default::default();
        for record in reader.records() {
            let record = record.map_err(|e| text.error(&csv_path, &e))?;
            let line = text.line(&record);
            header.refuse_repeat(&record, line, &csv_path)?;
            let field = |i: usize| record.get(i).unwrap_or("");
            let relative = field(columns.path);
            listed.check(&relative.replace('\\', "/"), line, &csv_path)?;
            columns.check_labels(&record, &header, &mut spellings, (&csv_path, line))?;
            let split = row_split(split_col.map(field), &csv_path, line)?;
            let image = match locator.locate(relative) {
                Ok(image) => image,
                Err(why) => {
                    skipped.push(Skipped {
                        lost: why.lost(),
                        split: split_col.map(|_| split),
                        file: relative.to_owned(),
                        reason: why.reason(&format!("the manifest (line {line})")),
                    });
                    continue;
                }
            };
            found.note(&image, relative, Place::new(&shown, &csv_path, Some(line)))?;
            let path = image.path;
            official.entry(split).or_default().push(FaceSample {
                path,
                file: relative.to_owned(),
                target: label_values::canonical(field(columns.target)),
                sensitive: columns
                    .sensitive
                    .iter()
                    .map(|&c| label_values::canonical(field(c)))
                    .collect(),
            });
        }
        let found = official.values().flatten().map(|s| s.file.as_str());
        let listed_in = csv_path.strip_prefix(&self.root).unwrap_or(&csv_path);
        super::layout::Listing {
            dataset: "manifest",
            listed_in: &listed_in.display().to_string(),
            folder: &self.root,
            hint: "a manifest's paths are relative to the dataset root",
        }
        .refuse_lost(found, &skipped)?;
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

    /// The columns of the image paths, the target and the sensitive features, each required.
    fn columns(&self, header: &text::Header, csv_path: &Path) -> Result<Columns> {
        let path_col = header
            .require(&self.path_column, csv_path)
            .map_err(|e| match e {
                // The column of image paths under another name (`file`, `image`).
                DataError::Parse {
                    path,
                    line,
                    message,
                } if message.starts_with("missing column") => DataError::Parse {
                    path,
                    line,
                    message: format!(
                        "{message}; name the column of image paths with path_column = \"...\" \
                         in the config's [data] (or data check's --path-column)"
                    ),
                },
                other => other,
            })?;
        let target_col = header.require(&self.target, csv_path)?;
        let sensitive_cols: Vec<usize> = self
            .sensitive
            .iter()
            .map(|s| header.require(s, csv_path))
            .collect::<Result<_>>()?;
        Ok(Columns {
            path: path_col,
            target: target_col,
            sensitive: sensitive_cols,
        })
    }
}

/// The manifest's columns: image paths, target, sensitive features.
struct Columns {
    path: usize,
    target: usize,
    sensitive: Vec<usize>,
}

impl Columns {
    /// A row's target and sensitive values: labels (not scores, not missing), each value
    /// spelled one way in the whole file.
    fn check_labels(
        &self,
        record: &csv::StringRecord,
        header: &text::Header,
        spellings: &mut label_values::Spellings,
        (csv_path, line): (&Path, u64),
    ) -> Result<()> {
        let field = |i: usize| record.get(i).unwrap_or("");
        for &c in std::iter::once(&self.target).chain(&self.sensitive) {
            let column = &header.names()[c];
            if c == self.target {
                label_values::check_label(field(c), column, line, csv_path)?;
            } else {
                label_values::check_group(field(c), column, line, csv_path)?;
            }
            spellings.check(column, field(c), line, csv_path)?;
        }
        Ok(())
    }
}

/// A row's split: train without a split column; otherwise its cell, read in any of the
/// spellings exports use. An empty cell is no split (pandas writes a missing one so):
/// refused, never taken as train.
fn row_split(cell: Option<&str>, csv_path: &Path, line: u64) -> Result<Split> {
    match cell {
        None => Ok(Split::Train),
        Some(value) => Split::parse(value).ok_or_else(|| {
            DataError::parse(
                csv_path,
                line,
                format!(
                    "split `{value}` is not train, val or test (also read: training, valid, \
                     validation, dev, testing, in any case)"
                ),
            )
        }),
    }
}
