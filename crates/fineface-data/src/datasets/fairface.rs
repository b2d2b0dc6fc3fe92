//! FairFace (Kärkkäinen & Joo, 2021): `fairface_label_{train,val}.csv` plus `train/` and `val/`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::{DataError, Result};
use crate::locate::{Found, Locator, Place};
use crate::sample::{FaceSample, Skipped, Split};
use crate::split::{SplitConfig, assemble};
use crate::text;

/// The seven race labels, as FairFace writes them.
pub const RACES: [&str; 7] = [
    "White",
    "Black",
    "East Asian",
    "Southeast Asian",
    "Indian",
    "Middle Eastern",
    "Latino_Hispanic",
];
/// The nine age bins.
pub const AGES: [&str; 9] = [
    "0-2",
    "3-9",
    "10-19",
    "20-29",
    "30-39",
    "40-49",
    "50-59",
    "60-69",
    "more than 70",
];
const HINT: &str = "FairFace is published at https://github.com/joojs/fairface: unpack the \
                    label CSVs and the image archive (either padding) into one folder";

/// FairFace at `root`: `fairface_label_train.csv`, `fairface_label_val.csv`, and the images
/// they list (`train/1.jpg`, `val/1.jpg`, ...). The official val split is the test split;
/// validation is carved from train.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FairFace {
    /// The folder holding the CSVs and image folders.
    pub root: PathBuf,
    /// `gender` (default), `race` or `age`.
    #[serde(default = "default_target")]
    pub target: String,
}

fn default_target() -> String {
    "gender".to_owned()
}

/// One parsed label row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FairFaceRow {
    /// Image path relative to the root.
    pub file: String,
    /// Age bin, normalised.
    pub age: String,
    /// `Male` or `Female`.
    pub gender: String,
    /// One of [`RACES`].
    pub race: String,
    /// The `service_test` flag (FairFace's balanced subset used in the authors' service
    /// test); `None` where the column is absent or its value is no boolean spelling
    /// ([`SERVICE_TEST_SPELLINGS`]). Nothing here depends on it.
    pub service_test: Option<bool>,
}

/// The spellings of `service_test` read as booleans, compared without case: FairFace's own
/// `True`/`False` and what re-exports write (`1`/`0`, `yes`/`no`, `t`/`f`, `y`/`n`).
pub const SERVICE_TEST_SPELLINGS: [&str; 10] =
    ["true", "false", "1", "0", "yes", "no", "t", "f", "y", "n"];

fn parse_flag(value: &str) -> Option<bool> {
    let position = SERVICE_TEST_SPELLINGS
        .iter()
        .position(|s| value.eq_ignore_ascii_case(s))?;
    Some(position % 2 == 0)
}

impl FairFace {
    /// Default settings for `root`.
    pub fn new(root: PathBuf) -> Self {
        Self {
            root,
            target: default_target(),
        }
    }

    /// Loads both CSVs and checks every listed image exists.
    pub fn load(&self, config: &SplitConfig) -> Result<crate::FaceDataset> {
        if !["gender", "race", "age"].contains(&self.target.as_str()) {
            return Err(DataError::Config(format!(
                "fairface: unknown target `{}` (gender, race or age)",
                self.target
            )));
        }
        let files = [
            (Split::Train, "fairface_label_train.csv"),
            (Split::Test, "fairface_label_val.csv"),
        ]
        .map(|(split, name)| (split, name, self.root.join(name)));
        let mut labels = Vec::new();
        for (split, csv_name, csv_path) in &files {
            if !csv_path.exists() {
                return Err(DataError::MissingFile {
                    dataset: "fairface",
                    expected: "the label CSV (file,age,gender,race,service_test)",
                    path: csv_path.clone(),
                    hint: HINT,
                });
            }
            labels.push((*split, *csv_name, csv_path, read_labels(csv_path)?));
        }
        let probe = crate::locate::probe_names(labels[0].3.iter().map(|r| r.file.as_str()));
        let images = self.image_root(&probe)?;
        let mut official = BTreeMap::new();
        let mut skipped = Vec::new();
        let mut locator = Locator::new(&images);
        // Across both CSVs: an image in train and in val would leak between the splits.
        let mut found = Found::new("fairface");
        for (split, csv_name, csv_path, rows) in labels {
            let mut samples = Vec::new();
            for row in rows {
                let image = match locator.locate(&row.file) {
                    Ok(image) => image,
                    Err(why) => {
                        skipped.push(Skipped {
                            lost: why.lost(),
                            split: Some(split),
                            reason: why.reason(csv_name),
                            file: row.file,
                        });
                        continue;
                    }
                };
                found.note(&image, &row.file, Place::new(csv_name, csv_path, None))?;
                samples.push(self.sample(image.path, row));
            }
            official.insert(split, samples);
        }
        let found = official
            .values()
            .flatten()
            .map(|s: &FaceSample| s.file.as_str());
        super::layout::Listing {
            dataset: "fairface",
            listed_in: "fairface_label_train.csv and fairface_label_val.csv",
            folder: &images,
            hint: HINT,
        }
        .refuse_lost(found, &skipped)?;
        Ok(assemble(
            "fairface",
            &self.root,
            &self.target,
            vec!["race".into(), "gender".into()],
            official,
            skipped,
            config,
        ))
    }

    /// The sample of a label row whose image is at `path`.
    fn sample(&self, path: PathBuf, row: FairFaceRow) -> FaceSample {
        let target = match self.target.as_str() {
            "race" => row.race.clone(),
            "age" => row.age.clone(),
            _ => row.gender.clone(),
        };
        FaceSample {
            path,
            file: row.file,
            target,
            sensitive: vec![row.race, row.gender],
        }
    }

    /// Where the images the CSVs list as `train/1.jpg` are: the root, or the one folder
    /// below it that the official archives unpack to (`fairface-img-margin025-trainval/`,
    /// `fairface-img-margin125-trainval/`) holding them.
    ///
    /// # Errors
    /// When several folders below the root hold them (both margins unpacked): which one to
    /// train on is the user's choice.
    fn image_root(&self, probe: &[&str]) -> Result<PathBuf> {
        let holds = |folder: &Path| {
            let mut locator = Locator::new(folder);
            probe.iter().any(|f| locator.find(f).is_ok())
        };
        // The archives' CSVs list `train/1.jpg`: bare names (`1.jpg`) are no archive layout
        // to look for one level down (they lack `train/`, which the error then says).
        let bare = probe.iter().all(|f| {
            let f = f.trim_start_matches(['.', '/', '\\']);
            !f.contains(['/', '\\'])
        });
        if probe.is_empty() || bare || holds(&self.root) {
            return Ok(self.root.clone());
        }
        let mut below: Vec<PathBuf> = std::fs::read_dir(&self.root)
            .map(|entries| entries.flatten().map(|e| e.path()).collect())
            .unwrap_or_default();
        below.retain(|f| f.is_dir() && holds(f));
        below.sort();
        match below.len() {
            0 => Ok(self.root.clone()),
            1 => {
                tracing::info!(folder = %below[0].display(), "fairface: images found one level down");
                Ok(below.remove(0))
            }
            _ => Err(DataError::Config(format!(
                "fairface: the images the label CSVs list are in {} folders below {} ({}): \
                 FairFace's two margins unpacked side by side? keep the one to train on there \
                 and move the others away",
                below.len(),
                self.root.display(),
                below
                    .iter()
                    .filter_map(|f| f.file_name())
                    .map(|n| n.to_string_lossy().into_owned())
                    .collect::<Vec<_>>()
                    .join(", ")
            ))),
        }
    }
}

/// Parses a FairFace label CSV, recognising the forms Excel leaves behind (`9-Mar` for
/// `3-9`, `19-Oct` for `10-19`, `TRUE`); anything else unknown is an error naming line and
/// value.
pub fn read_labels(path: &Path) -> Result<Vec<FairFaceRow>> {
    let text = text::read_csv(path)?;
    let (header, mut csv) = text.header(path)?;
    let (file_col, age_col, gender_col, race_col) = (
        header.require("file", path)?,
        header.require("age", path)?,
        header.require("gender", path)?,
        header.require("race", path)?,
    );
    let service_col = header.find("service_test", path)?;
    let mut rows = Vec::new();
    let (mut odd_service_test, mut odd_count) = (None::<(u64, String)>, 0_usize);
    let mut listed = super::label_values::Listed::default();
    for record in csv.records() {
        let record = record.map_err(|e| text.error(path, &e))?;
        let line = text.line(&record);
        header.refuse_repeat(&record, line, path)?;
        let field = |i: usize| record.get(i).unwrap_or("");
        let age = normalise_age(field(age_col))
            .ok_or_else(|| unknown_value(path, line, "age bin", field(age_col), &AGES))?;
        let gender = canonical(field(gender_col), &GENDERS)
            .ok_or_else(|| unknown_value(path, line, "gender", field(gender_col), &GENDERS))?;
        let race = canonical(field(race_col), &RACES)
            .ok_or_else(|| unknown_value(path, line, "race", field(race_col), &RACES))?;
        // Unused by training: an odd spelling is counted and reported, never fatal.
        let service_test = service_col.map(field).and_then(|v| {
            let flag = parse_flag(v);
            if flag.is_none() {
                odd_service_test.get_or_insert((line, v.to_owned()));
                odd_count += 1;
            }
            flag
        });
        let file = field(file_col);
        if file.is_empty() {
            return Err(DataError::parse(path, line, "empty `file`"));
        }
        listed.check(&file.replace('\\', "/"), line, path)?;
        rows.push(FairFaceRow {
            file: file.to_owned(),
            age: age.to_owned(),
            gender: gender.to_owned(),
            race: race.to_owned(),
            service_test,
        });
    }
    if let Some((line, value)) = odd_service_test {
        tracing::warn!(
            file = %path.display(),
            rows = odd_count,
            first_line = line,
            first_value = %value,
            accepted = SERVICE_TEST_SPELLINGS.join(", "),
            "service_test values that are no boolean are read as unknown (the column is not used)"
        );
    }
    Ok(rows)
}

/// FairFace's genders.
pub const GENDERS: [&str; 2] = ["Male", "Female"];

/// `value` as spelled in `known`, matched without letter case and with ` `, `_` and `-`
/// alike (`latino hispanic`, `EAST_ASIAN`).
fn canonical(value: &str, known: &[&'static str]) -> Option<&'static str> {
    let key = |s: &str| -> String {
        s.chars()
            .map(|c| match c {
                '_' | '-' => ' ',
                c => c.to_ascii_lowercase(),
            })
            .collect()
    };
    let wanted = key(value);
    known.iter().copied().find(|k| key(k) == wanted)
}

fn unknown_value(path: &Path, line: u64, column: &str, value: &str, known: &[&str]) -> DataError {
    // Mirrors number the classes in different orders: a number is refused with the choices,
    // never guessed.
    let numbers = if value.trim().parse::<u32>().is_ok() {
        "; labels written as numbers are ambiguous: Hugging Face's mirrors number FairFace's \
         classes in different orders (HuggingFaceM4/FairFace: gender 0 = Male, race 0 = East \
         Asian, in the CSVs' order; nateraw/fairface: gender 0 = Female, race 0 = Black, \
         alphabetical), so write the names (datasets: `ds.features[\"race\"].int2str(...)`)"
    } else {
        ""
    };
    let invisible = fineface_text::invisible_in(value).map_or(String::new(), |c| {
        format!(
            "; it holds {}",
            fineface_text::NotALabel::Invisible(c).explain(value)
        )
    });
    // `Mаle` with a Cyrillic `а`: looks like one of the known, is none.
    let invisible = match known
        .iter()
        .find_map(|k| fineface_text::look_alike(value, k).map(|how| (k, how)))
    {
        Some((k, how)) if invisible.is_empty() => {
            format!("; it looks like `{k}` but differs {how}")
        }
        _ => invisible,
    };
    DataError::parse(
        path,
        line,
        format!(
            "unknown {column} `{value}` (FairFace's are {}){numbers}{invisible}",
            known.join(", ")
        ),
    )
}

/// The age bin, from its own spelling or the date Excel made of it.
fn normalise_age(value: &str) -> Option<&'static str> {
    if let Some(bin) = canonical(value, &AGES) {
        return Some(bin);
    }
    // Excel reads "3-9" as 9 March ("9-Mar", "03-Sep" in other locales) and "10-19" as
    // 19 October ("19-Oct", "Oct-19").
    match value.to_ascii_lowercase().as_str() {
        "9-mar" | "mar-9" | "03-sep" | "3-sep" | "sep-03" => Some("3-9"),
        "19-oct" | "oct-19" | "10-19" => Some("10-19"),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn excel_dates_are_age_bins() {
        assert_eq!(normalise_age("9-Mar"), Some("3-9"));
        assert_eq!(normalise_age("03-Sep"), Some("3-9"));
        assert_eq!(normalise_age("19-Oct"), Some("10-19"));
        assert_eq!(normalise_age("more than 70"), Some("more than 70"));
        assert_eq!(normalise_age("70+"), None);
    }
}
