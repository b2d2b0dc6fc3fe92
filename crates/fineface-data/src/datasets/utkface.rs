//! UTKFace (Zhang et al., 2017): one folder of `[age]_[gender]_[race]_[datetime].jpg.chip.jpg`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::layout;
use crate::error::{DataError, Result};
use crate::sample::{FaceSample, Skipped};
use crate::split::{SplitConfig, assemble};

/// Race codes 0..4, as the dataset page names them.
pub const RACES: [&str; 5] = ["White", "Black", "Asian", "Indian", "Others"];
/// Gender codes 0 and 1.
pub const GENDERS: [&str; 2] = ["Male", "Female"];
const HINT: &str = "UTKFace is published at https://susanqq.github.io/UTKFace/: unpack \
                    \"Aligned&Cropped Faces\" and point at the UTKFace folder";

/// UTKFace at `root` (the `UTKFace` folder itself or its parent). There is no official
/// split: train, val and test are carved, seeded and stratified by target x group.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UtkFace {
    /// The folder of images (or the folder holding `UTKFace/`).
    pub root: PathBuf,
    /// `gender` (default) or `race`.
    #[serde(default = "default_target")]
    pub target: String,
}

fn default_target() -> String {
    "gender".to_owned()
}

/// Labels parsed from a UTKFace file name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UtkLabels {
    /// Age in years.
    pub age: u32,
    /// `Male` or `Female`.
    pub gender: &'static str,
    /// One of [`RACES`].
    pub race: &'static str,
}

/// The oldest age UTKFace labels (its ages run from 0 to 116).
pub const MAX_AGE: u32 = 116;

/// Parses `[age]_[gender]_[race]_[yyyymmddHHMMSSmmm].jpg[.chip.jpg]` (the extensions in any
/// case), or says what is wrong: macOS's `._` metadata files, ages above [`MAX_AGE`].
pub fn parse_name(name: &str) -> std::result::Result<UtkLabels, String> {
    if name.starts_with("._") {
        return Err("a macOS metadata file (`._` prefix), not an image".to_owned());
    }
    let lower = name.to_ascii_lowercase();
    let stem_len = [".jpg.chip.jpg", ".jpg"]
        .iter()
        .find(|suffix| lower.ends_with(*suffix))
        .map(|suffix| name.len() - suffix.len())
        .ok_or("not a .jpg or .jpg.chip.jpg name")?;
    let stem = &name[..stem_len];
    let fields: Vec<&str> = stem.split('_').collect();
    let [age, gender, race, stamp] = fields[..] else {
        return Err(format!(
            "expected 4 `_`-separated fields, found {}",
            fields.len()
        ));
    };
    let age: u32 = age
        .parse()
        .map_err(|_| format!("age `{age}` is not a number"))?;
    if age > MAX_AGE {
        return Err(format!("age `{age}` is above UTKFace's {MAX_AGE}"));
    }
    let gender = match gender {
        "0" => GENDERS[0],
        "1" => GENDERS[1],
        other => return Err(format!("gender `{other}` is not 0 or 1")),
    };
    let race = race
        .parse::<usize>()
        .ok()
        .and_then(|r| RACES.get(r).copied())
        .ok_or_else(|| format!("race `{race}` is not 0..4"))?;
    if stamp.len() != 17 || !stamp.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!("timestamp `{stamp}` is not 17 digits"));
    }
    Ok(UtkLabels { age, gender, race })
}

impl UtkFace {
    /// Default settings for `root`.
    pub fn new(root: PathBuf) -> Self {
        Self {
            root,
            target: default_target(),
        }
    }

    /// Lists the folder, parses every name, skips (and lists) malformed ones.
    pub fn load(&self, config: &SplitConfig) -> Result<crate::FaceDataset> {
        if !["gender", "race"].contains(&self.target.as_str()) {
            return Err(DataError::Config(format!(
                "utkface: unknown target `{}` (gender or race)",
                self.target
            )));
        }
        let (folder, folders) = self.image_folders()?;
        let (samples, skipped) = self.read_names(&folder, &folders)?;
        if !skipped.is_empty() {
            tracing::warn!(
                n = skipped.len(),
                "utkface: skipped files with malformed names"
            );
        }
        Ok(assemble(
            "utkface",
            &self.root,
            &self.target,
            vec!["race".into(), "gender".into()],
            BTreeMap::from([(crate::Split::Train, samples)]),
            skipped,
            config,
        ))
    }

    /// The dataset's folder (`UTKFace/` under the root, or the root) and the folders of
    /// images in it (itself, or parts one or two levels down).
    fn image_folders(&self) -> Result<(PathBuf, Vec<PathBuf>)> {
        let folder = if self.root.join("UTKFace").is_dir() {
            self.root.join("UTKFace")
        } else {
            self.root.clone()
        };
        if !folder.is_dir() {
            return Err(DataError::MissingFile {
                dataset: "utkface",
                expected: "a folder of [age]_[gender]_[race]_[datetime].jpg.chip.jpg images",
                path: folder,
                hint: HINT,
            });
        }
        let folders = layout::image_folders(&folder, |name| parse_name(name).is_ok());
        if folders.is_empty() {
            return Err(DataError::ImagesNotFound {
                dataset: "utkface",
                expected: "image named [age]_[gender]_[race]_[datetime].jpg".to_owned(),
                looked_in: format!(
                    "{} nor in the folders two levels below it",
                    folder.display()
                ),
                found: layout::describe(&folder),
                hint: HINT,
            });
        }
        if folders != [folder.clone()] {
            let names: Vec<String> = folders
                .iter()
                .map(|f| f.strip_prefix(&folder).unwrap_or(f).display().to_string())
                .collect();
            tracing::info!(
                root = %folder.display(),
                folders = %names.join(", "),
                "utkface: images found in subfolders"
            );
        }
        Ok((folder, folders))
    }

    /// Every file of `folders`, sorted: a sample per well-formed name, the others skipped
    /// with the reason (not UTF-8, malformed, the same name in two folders).
    fn read_names(
        &self,
        folder: &Path,
        folders: &[PathBuf],
    ) -> Result<(Vec<FaceSample>, Vec<Skipped>)> {
        let mut entries = Vec::new();
        for sub in folders {
            entries.extend(
                std::fs::read_dir(sub)
                    .map_err(|e| DataError::io(sub, e))?
                    .filter_map(|e| e.ok())
                    .filter(|e| e.path().is_file()),
            );
        }
        entries.sort_by_key(|e| e.path());
        let (mut samples, mut skipped) = (Vec::new(), Vec::new());
        // A name holds the labels and the capture time: two folders holding one name hold
        // one image twice (a part copied into another), which the splits would spread.
        let mut first_of: std::collections::HashMap<std::ffi::OsString, String> =
            std::collections::HashMap::new();
        for entry in entries {
            let os_name = entry.file_name();
            let Some(name) = os_name.to_str() else {
                skipped.push(Skipped {
                    lost: None,
                    split: None,
                    file: os_name.to_string_lossy().into_owned(),
                    reason: "file name is not valid UTF-8".to_owned(),
                });
                continue;
            };
            // `part1/<name>` for images in a subfolder, the bare name otherwise.
            let path = entry.path();
            let shown = path
                .strip_prefix(folder)
                .ok()
                .and_then(|p| p.to_str())
                .unwrap_or(name)
                .replace('\\', "/");
            if let Some(first) = first_of.get(&os_name) {
                skipped.push(Skipped {
                    lost: None,
                    split: None,
                    file: shown,
                    reason: format!("the same image name as `{first}`: one image in two folders"),
                });
                continue;
            }
            first_of.insert(os_name.clone(), shown.clone());
            match parse_name(name) {
                Ok(labels) => samples.push(FaceSample {
                    path,
                    file: shown,
                    target: if self.target == "race" {
                        labels.race
                    } else {
                        labels.gender
                    }
                    .to_owned(),
                    sensitive: vec![labels.race.to_owned(), labels.gender.to_owned()],
                }),
                Err(reason) => skipped.push(Skipped {
                    lost: None,
                    split: None,
                    file: shown,
                    reason: format!("malformed UTKFace name: {reason}"),
                }),
            }
        }
        Ok((samples, skipped))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_eight_malformed_names_of_the_real_dataset_are_rejected() {
        for name in [
            "39_1_20170116174525125.jpg.chip.jpg",
            "61_1_20170109142408075.jpg.chip.jpg",
            "61_1_20170109150557335.jpg.chip.jpg",
            "24_0_1_20170116220224657 .jpg.chip.jpg",
            "55_0_0_20170116232725357jpg.chip.jpg",
            "14_0_0_2017011022340900.jpg.chip.jpg",
            "28_1_2_201701161846515488.jpg.chip.jpg",
            "38_0_1_201701162330572788.jpg.chip.jpg",
        ] {
            assert!(parse_name(name).is_err(), "{name} accepted");
        }
        let ok = parse_name("25_0_2_20170116174525125.jpg.chip.jpg").unwrap();
        assert_eq!((ok.age, ok.gender, ok.race), (25, "Male", "Asian"));
        assert_eq!(
            parse_name("1_1_4_20161221193646476.jpg").unwrap().race,
            "Others"
        );
        assert!(parse_name("25_2_0_20170116174525125.jpg").is_err());
        assert!(parse_name("25_0_5_20170116174525125.jpg").is_err());
    }

    #[test]
    fn names_as_copies_and_cameras_write_them() {
        let upper = parse_name("25_0_2_20170116174525125.JPG.CHIP.JPG").unwrap();
        assert_eq!(upper.age, 25);
        assert_eq!(parse_name("25_0_2_20170116174525125.Jpg").unwrap().age, 25);
        let e = parse_name("._25_0_2_20170116174525125.jpg.chip.jpg").unwrap_err();
        assert!(e.contains("macOS metadata"), "{e}");
        let e = parse_name("200_0_2_20170116174525125.jpg.chip.jpg").unwrap_err();
        assert_eq!(e, "age `200` is above UTKFace's 116");
        assert_eq!(
            parse_name("116_1_0_20170116174525125.jpg").unwrap().age,
            116
        );
    }
}
