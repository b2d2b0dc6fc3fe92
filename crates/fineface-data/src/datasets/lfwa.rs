//! LFWA+: LFW images (`<Name>/<Name>_NNNN.jpg`) with the Columbia attribute table
//! `lfw_attributes.txt` (Kumar et al., 2009).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::{DataError, Result};
use crate::locate::{Found, Locator, Place};
use crate::sample::{FaceSample, Skipped};
use crate::split::{SplitConfig, assemble};

/// The race columns of the table, in tie-breaking order.
pub const RACE_COLUMNS: [&str; 4] = ["Asian", "White", "Black", "Indian"];
const HINT: &str = "LFW images are published at https://vis-www.cs.umass.edu/lfw/ and \
                    lfw_attributes.txt at https://www.cs.columbia.edu/CAVE/databases/pubfig/download/; \
                    put lfw_attributes.txt and the lfw/ image folder in one folder, or describe \
                    another LFWA+ variant with a manifest CSV";

/// LFWA+ at `root`: `root/lfw_attributes.txt` and the images under `root/lfw/` (or directly
/// under `root`). Gender is the sign of the `Male` score; race is the highest of
/// Asian/White/Black/Indian when it is positive, else `Undefined`. Splits are carved.
///
/// `lfw_attributes.txt`: lines starting with `#` are comments; the one that names the
/// columns reads `#\tperson\timagenum\tMale\tAsian\t...`; each data line is tab-separated
/// `person` (`Aaron Eckhart`), `imagenum` (`1`) and 73 real-valued scores. Image
/// `Aaron Eckhart`, 1 is `lfw/Aaron_Eckhart/Aaron_Eckhart_0001.jpg`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Lfwa {
    /// The folder holding `lfw_attributes.txt`.
    pub root: PathBuf,
    /// `gender` (default) or `race`.
    #[serde(default = "default_target")]
    pub target: String,
}

fn default_target() -> String {
    "gender".to_owned()
}

/// One row of the attribute table with the labels derived from it.
#[derive(Debug, Clone, PartialEq)]
pub struct LfwRow {
    /// `Aaron Eckhart`.
    pub person: String,
    /// 1-based image number.
    pub imagenum: u32,
    /// `Male` or `Female`.
    pub gender: String,
    /// `Asian`, `White`, `Black`, `Indian` or `Undefined`.
    pub race: String,
}

impl LfwRow {
    /// The image's path relative to the image folder.
    pub fn relative_path(&self) -> String {
        let name = self.person.replace(' ', "_");
        format!("{name}/{name}_{:04}.jpg", self.imagenum)
    }
}

/// Parses `lfw_attributes.txt`.
pub fn read_attributes(path: &Path) -> Result<Vec<LfwRow>> {
    let text = crate::text::read_text(path)?;
    let mut columns: Option<Vec<String>> = None;
    let mut rows = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let line_no = i as u64 + 1;
        let line = line.trim_end();
        if let Some(comment) = line.strip_prefix('#') {
            let fields: Vec<String> = comment
                .split('\t')
                .map(|f| f.trim().to_owned())
                .filter(|f| !f.is_empty())
                .collect();
            if fields.first().is_some_and(|f| f == "person") {
                columns = Some(fields);
            }
            continue;
        }
        if line.trim().is_empty() {
            continue;
        }
        let columns = columns.as_ref().ok_or_else(|| {
            DataError::parse(
                path,
                line_no,
                "data before the `#\\tperson\\timagenum\\t...` header line",
            )
        })?;
        let fields: Vec<&str> = line.split('\t').collect();
        if fields.len() != columns.len() {
            return Err(DataError::parse(
                path,
                line_no,
                format!("{} fields for {} columns", fields.len(), columns.len()),
            ));
        }
        let score = |name: &str| -> Result<f64> {
            let i = columns.iter().position(|c| c == name).ok_or_else(|| {
                DataError::parse(path, line_no, format!("no `{name}` column in the header"))
            })?;
            fields[i].trim().parse().map_err(|_| {
                DataError::parse(
                    path,
                    line_no,
                    format!("`{name}` score `{}` is not a number", fields[i]),
                )
            })
        };
        let imagenum: u32 = fields[1].trim().parse().map_err(|_| {
            DataError::parse(
                path,
                line_no,
                format!("imagenum `{}` is not a number", fields[1]),
            )
        })?;
        let gender = if score("Male")? > 0.0 {
            "Male"
        } else {
            "Female"
        };
        let mut race = ("Undefined", 0.0f64);
        for column in RACE_COLUMNS {
            let s = score(column)?;
            if s > race.1 {
                race = (column, s);
            }
        }
        rows.push(LfwRow {
            person: fields[0].trim().to_owned(),
            imagenum,
            gender: gender.to_owned(),
            race: race.0.to_owned(),
        });
    }
    Ok(rows)
}

impl Lfwa {
    /// Default settings for `root`.
    pub fn new(root: PathBuf) -> Self {
        Self {
            root,
            target: default_target(),
        }
    }

    /// Reads the table and finds the images.
    pub fn load(&self, config: &SplitConfig) -> Result<crate::FaceDataset> {
        let table = self.root.join("lfw_attributes.txt");
        if !table.is_file() {
            return Err(DataError::MissingFile {
                dataset: "lfwa",
                expected: "the attribute table lfw_attributes.txt",
                path: table,
                hint: HINT,
            });
        }
        let rows = read_attributes(&table)?;
        let images = self.image_folder(&rows)?;
        let (mut samples, mut skipped) = (Vec::new(), Vec::new());
        let mut locator = Locator::new(&images);
        let mut found = Found::new("lfwa");
        for row in rows {
            let relative = row.relative_path();
            let image = match locator.locate(&relative) {
                Ok(image) => image,
                Err(why) => {
                    skipped.push(Skipped {
                        lost: why.lost(),
                        split: None,
                        file: relative,
                        reason: why.reason("lfw_attributes.txt"),
                    });
                    continue;
                }
            };
            found.note(
                &image,
                &relative,
                Place::new("lfw_attributes.txt", &table, None),
            )?;
            let path = image.path;
            samples.push(FaceSample {
                path,
                file: relative,
                target: if self.target == "race" {
                    row.race.clone()
                } else {
                    row.gender.clone()
                },
                sensitive: vec![row.race, row.gender],
            });
        }
        super::layout::Listing {
            dataset: "lfwa",
            listed_in: "lfw_attributes.txt",
            folder: &images,
            hint: HINT,
        }
        .refuse_lost(samples.iter().map(|s| s.file.as_str()), &skipped)?;
        Ok(assemble(
            "lfwa",
            &self.root,
            &self.target,
            vec!["race".into(), "gender".into()],
            BTreeMap::from([(crate::Split::Train, samples)]),
            skipped,
            config,
        ))
    }

    /// The folder of `<Name>/<Name>_NNNN.jpg`: the official archives' `lfw/`,
    /// `lfw-deepfunneled/` or `lfw_funneled/`, Kaggle's doubled `lfw-deepfunneled/
    /// lfw-deepfunneled/`, scikit-learn's `lfw_home/lfw_funneled/`, or the root itself;
    /// the one holding the first listed images.
    ///
    /// # Errors
    /// [`DataError::ImagesNotFound`] when none holds them, saying what the root holds;
    /// [`DataError::Config`] when several do (two alignments unpacked side by side: which
    /// one to use is the user's choice).
    fn image_folder(&self, rows: &[LfwRow]) -> Result<PathBuf> {
        let mut candidates = vec![self.root.clone()];
        for name in ["lfw", "lfw-deepfunneled", "lfw_funneled", "lfw-funneled"] {
            candidates.push(self.root.join(name));
            candidates.push(self.root.join(name).join(name));
        }
        candidates.push(self.root.join("lfw_home").join("lfw_funneled"));
        let probe: Vec<String> = rows.iter().take(200).map(LfwRow::relative_path).collect();
        let holding: Vec<PathBuf> = candidates
            .into_iter()
            .filter(|folder| {
                let mut locator = Locator::new(folder);
                probe.iter().any(|p| locator.find(p).is_ok())
            })
            .collect();
        match &holding[..] {
            [one] => Ok(one.clone()),
            [] => Err(DataError::ImagesNotFound {
                dataset: "lfwa",
                expected: format!(
                    "image listed in lfw_attributes.txt (the first `{}`)",
                    probe.first().map_or("", String::as_str)
                ),
                looked_in: format!(
                    "{} and its lfw/, lfw-deepfunneled/, lfw_funneled/ folders",
                    self.root.display()
                ),
                found: super::layout::describe(&self.root),
                hint: HINT,
            }),
            several => Err(DataError::Config(format!(
                "lfwa: the listed images are in {} folders ({}): two alignments unpacked side \
                 by side? keep the one to use below {} and move the others away",
                several.len(),
                several
                    .iter()
                    .map(|f| f.display().to_string())
                    .collect::<Vec<_>>()
                    .join(", "),
                self.root.display()
            ))),
        }
    }
}
