//! The authors' layout: `train/<class>/*.jpg`, `test/<class>/*.jpg` (optional `val/`).

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::{DataError, Result};
use crate::sample::{FaceSample, Skipped, Split};
use crate::split::{SplitConfig, assemble};

/// Class folders per split. Sensitive attributes come from an optional side CSV
/// (`path,<attr>...`, paths relative to `root` such as `train/Male/1.jpg`); without one every
/// image is in the group `all`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ImageFolder {
    /// The folder holding `train/` and `test/`.
    pub root: PathBuf,
    /// Side CSV with the sensitive attributes (relative to `root` unless absolute).
    #[serde(default)]
    pub groups_csv: Option<PathBuf>,
    /// Its attribute columns (default: every column but `path`).
    #[serde(default)]
    pub sensitive: Vec<String>,
}

/// The sensitive attributes of the side CSV: their names and, per image path, the values.
struct SideGroups {
    names: Vec<String>,
    by_path: HashMap<String, Vec<String>>,
}

impl ImageFolder {
    /// Default settings for `root`.
    pub fn new(root: PathBuf) -> Self {
        Self {
            root,
            groups_csv: None,
            sensitive: Vec::new(),
        }
    }

    fn read_groups(&self) -> Result<SideGroups> {
        let Some(csv) = &self.groups_csv else {
            return Ok(SideGroups {
                names: vec!["group".to_owned()],
                by_path: HashMap::new(),
            });
        };
        let path = self.root.join(csv);
        let text = crate::text::read_csv(&path)?;
        let mut reader = crate::text::csv_reader(&text);
        let header = crate::text::Header::read(&mut reader, &path)?;
        let path_col = header.require("path", &path)?;
        let names: Vec<String> = if self.sensitive.is_empty() {
            // Every named column but the path's: pandas' index and R's row names are unnamed.
            let others = (0..header.names().len())
                .filter(|&i| i != path_col && !header.names()[i].is_empty());
            others.map(|i| header.names()[i].clone()).collect()
        } else {
            self.sensitive.clone()
        };
        let cols: Vec<usize> = names
            .iter()
            .map(|n| header.require(n, &path))
            .collect::<Result<_>>()?;
        let mut groups = HashMap::new();
        let mut spellings = super::label_values::Spellings::default();
        let mut listed = super::label_values::Listed::default();
        for record in reader.records() {
            let record = record.map_err(|e| crate::text::csv_error(&path, &e))?;
            header.refuse_repeat(&record, &path)?;
            let line = record.position().map_or(0, |p| p.line());
            listed.check(record.get(path_col).unwrap_or(""), line, &path)?;
            for (&c, name) in cols.iter().zip(&names) {
                let value = record.get(c).unwrap_or("");
                super::label_values::check_group(value, name, line, &path)?;
                spellings.check(name, value, line, &path)?;
            }
            let key = super::label_values::path_key(record.get(path_col).unwrap_or(""));
            groups.insert(
                key,
                cols.iter()
                    .map(|&c| super::label_values::canonical(record.get(c).unwrap_or("")))
                    .collect(),
            );
        }
        Ok(SideGroups {
            names,
            by_path: groups,
        })
    }

    /// Lists the class folders.
    pub fn load(&self, config: &SplitConfig) -> Result<crate::FaceDataset> {
        let train = self.root.join("train");
        if !train.is_dir() {
            return Err(DataError::MissingFile {
                dataset: "imagefolder",
                expected: "train/<class>/*.jpg (and test/<class>/*.jpg)",
                path: train,
                hint: "arrange images as <root>/{train,val,test}/<class>/<image>",
            });
        }
        let SideGroups {
            names: sensitive,
            by_path: groups,
        } = self.read_groups()?;
        let mut official: BTreeMap<Split, Vec<FaceSample>> = BTreeMap::new();
        let mut skipped = Vec::new();
        for split in Split::ALL {
            let dir = self.root.join(split.name());
            let Ok(classes) = std::fs::read_dir(&dir) else {
                continue;
            };
            let mut classes: Vec<_> = classes
                .filter_map(|e| e.ok())
                .filter(|e| e.path().is_dir())
                .collect();
            classes.sort_by_key(|e| e.file_name());
            for class in classes {
                let class_name = class.file_name().to_string_lossy().into_owned();
                let mut files: Vec<_> = std::fs::read_dir(class.path())
                    .map_err(|e| DataError::io(&class.path(), e))?
                    .filter_map(|e| e.ok())
                    .collect();
                files.sort_by_key(|e| e.file_name());
                for file in files {
                    let os_name = file.file_name();
                    let Some(name) = os_name.to_str() else {
                        skipped.push(Skipped {
                            file: format!(
                                "{}/{class_name}/{}",
                                split.name(),
                                os_name.to_string_lossy()
                            ),
                            reason: "file name is not valid UTF-8".to_owned(),
                        });
                        continue;
                    };
                    if !super::is_image(name) {
                        continue;
                    }
                    let relative = format!("{}/{class_name}/{name}", split.name());
                    let attributes = if self.groups_csv.is_none() {
                        vec!["all".to_owned()]
                    } else if let Some(values) = groups.get(&relative) {
                        values.clone()
                    } else {
                        skipped.push(Skipped {
                            file: relative,
                            reason: "no row in the groups CSV".to_owned(),
                        });
                        continue;
                    };
                    official.entry(split).or_default().push(FaceSample {
                        path: file.path(),
                        file: relative,
                        target: class_name.clone(),
                        sensitive: attributes,
                    });
                }
            }
        }
        let unmatched = skipped
            .iter()
            .filter(|s| s.reason == "no row in the groups CSV")
            .count();
        if official.is_empty() && unmatched > 0 && !groups.is_empty() {
            let mut rows: Vec<&String> = groups.keys().collect();
            rows.sort();
            return Err(DataError::Config(format!(
                "imagefolder: none of the {unmatched} images has a row in {}: its paths read \
                 like `{}`, the images are `{}`; write each path relative to {} \
                 (split/class/file)",
                self.groups_csv
                    .as_deref()
                    .unwrap_or(Path::new(""))
                    .display(),
                rows[0],
                skipped
                    .iter()
                    .find(|s| s.reason == "no row in the groups CSV")
                    .map_or("", |s| s.file.as_str()),
                self.root.display()
            )));
        }
        Ok(assemble(
            "imagefolder",
            &self.root,
            "class",
            sensitive,
            official,
            skipped,
            config,
        ))
    }
}
