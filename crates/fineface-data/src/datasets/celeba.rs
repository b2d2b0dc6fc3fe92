//! CelebA (Liu et al., 2015): `img_align_celeba/`, `list_attr_celeba.txt`,
//! `list_eval_partition.txt`.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::layout;
use crate::error::{DataError, Result};
use crate::locate::{FileId, Found, Locator, Place};
use crate::sample::{FaceSample, Lost, Skipped, Split};
use crate::split::{SplitConfig, assemble};
use crate::text;

const HINT: &str = "CelebA is published at https://mmlab.ie.cuhk.edu.hk/projects/CelebA.html: \
                    unpack img_align_celeba.zip and the Anno/ and Eval/ text files into one folder";

/// CelebA at `root`. Any of the 40 attributes can be the target and any set of them the
/// sensitive attributes; `Male` reads as `Male`/`Female`, another attribute `A` as
/// `A`/`Not_A`. Splits follow `list_eval_partition.txt` (0 train, 1 val, 2 test); a split it
/// does not provide is carved. Images may have any resolution. The official archive's
/// `Img/`, `Anno/` and `Eval/` folders and Kaggle's layout (images in
/// `img_align_celeba/img_align_celeba/`, annotations as `.csv`) load too.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CelebA {
    /// The folder holding `img_align_celeba/` and the annotation files.
    pub root: PathBuf,
    /// The target attribute (default `Male`).
    #[serde(default = "default_target")]
    pub target: String,
    /// The sensitive attributes (default `["Male"]`).
    #[serde(default = "default_sensitive")]
    pub sensitive: Vec<String>,
}

fn default_target() -> String {
    "Male".to_owned()
}

fn default_sensitive() -> Vec<String> {
    vec!["Male".to_owned()]
}

/// CelebA's 40 attributes, spelled as the official `list_attr_celeba.txt` spells them.
/// A file that spells one in another case (an upper-cased header) reads as this spelling.
pub const ATTRIBUTES: [&str; 40] = [
    "5_o_Clock_Shadow",
    "Arched_Eyebrows",
    "Attractive",
    "Bags_Under_Eyes",
    "Bald",
    "Bangs",
    "Big_Lips",
    "Big_Nose",
    "Black_Hair",
    "Blond_Hair",
    "Blurry",
    "Brown_Hair",
    "Bushy_Eyebrows",
    "Chubby",
    "Double_Chin",
    "Eyeglasses",
    "Goatee",
    "Gray_Hair",
    "Heavy_Makeup",
    "High_Cheekbones",
    "Male",
    "Mouth_Slightly_Open",
    "Mustache",
    "Narrow_Eyes",
    "No_Beard",
    "Oval_Face",
    "Pale_Skin",
    "Pointy_Nose",
    "Receding_Hairline",
    "Rosy_Cheeks",
    "Sideburns",
    "Smiling",
    "Straight_Hair",
    "Wavy_Hair",
    "Wearing_Earrings",
    "Wearing_Hat",
    "Wearing_Lipstick",
    "Wearing_Necklace",
    "Wearing_Necktie",
    "Young",
];

/// `name` as CelebA spells it, when it is one of [`ATTRIBUTES`] in another letter case.
fn official_name(name: &str) -> String {
    ATTRIBUTES
        .iter()
        .find(|a| a.eq_ignore_ascii_case(name))
        .map_or_else(|| name.to_owned(), |a| (*a).to_owned())
}

/// The label of attribute `name` at value `positive`.
pub fn attribute_label(name: &str, positive: bool) -> String {
    match (name, positive) {
        ("Male", true) => "Male".to_owned(),
        ("Male", false) => "Female".to_owned(),
        (_, true) => name.to_owned(),
        (_, false) => format!("Not_{name}"),
    }
}

/// The parsed attribute table: names and, per image, one +1/-1 value per name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttributeTable {
    /// The 40 attribute names, in file order.
    pub names: Vec<String>,
    /// `(image, values)` in file order; `true` for +1.
    pub rows: Vec<(String, Vec<bool>)>,
}

/// Parses `list_attr_celeba.txt`: a count line (which some mirrors drop), the names line,
/// then `image v1 ... v40` with values `1`/`-1` (any line ending). An image listed twice is
/// an error naming both lines.
pub fn read_attributes(path: &Path) -> Result<AttributeTable> {
    let text = text::read_text(path)?;
    let mut lines = text.lines().enumerate().map(|(i, l)| (i as u64 + 1, l));
    let first = lines
        .next()
        .ok_or_else(|| DataError::parse(path, 1, "empty file: expected the image count"))?;
    let count: Option<usize> = first.1.trim().parse().ok();
    let names_line = match count {
        Some(_) => lines.next(),
        // No count line: the names come first, as some mirrors write the file.
        None if first
            .1
            .split_whitespace()
            .any(|n| n.eq_ignore_ascii_case("Male")) =>
        {
            Some(first)
        }
        None => {
            return Err(DataError::parse(
                path,
                1,
                "expected the image count, or the attribute names (5_o_Clock_Shadow ... Young)",
            ));
        }
    };
    let names: Vec<String> = names_line
        .ok_or_else(|| DataError::parse(path, 2, "expected the attribute names"))?
        .1
        .split_whitespace()
        .map(official_name)
        .collect();
    let mut rows = Vec::with_capacity(count.unwrap_or(0));
    let mut listed = super::label_values::Listed::default();
    let mut falsy = FalseSpelling::default();
    for (line, text) in lines {
        let mut fields = text.split_whitespace();
        let Some(image) = fields.next() else {
            continue;
        };
        // The first word settles it for a data line (an image name, no attribute name).
        let repeats_names = names.first().is_some_and(|n| image.eq_ignore_ascii_case(n))
            && text
                .split_whitespace()
                .map(official_name)
                .eq(names.iter().cloned());
        if repeats_names {
            return Err(DataError::parse(
                path,
                line,
                "this line repeats the attribute names (two files concatenated?); remove it",
            ));
        }
        let values = attribute_values(path, line, fields, names.len(), &mut falsy)?;
        listed.check(image, line, path)?;
        rows.push((image.to_owned(), values));
    }
    if count.is_some_and(|c| c != rows.len()) {
        tracing::warn!(path = %path.display(), count, rows = rows.len(), "attribute count line disagrees with the rows");
    }
    Ok(AttributeTable { names, rows })
}

/// Parses Kaggle's `list_attr_celeba.csv`: a header `image_id,<40 names>` (the image column
/// may also be `image`, `filename` or `file`, anywhere), then one row per image with values
/// `1`/`-1`. Unnamed columns (pandas' index, R's row names) are not attributes.
pub fn read_attributes_csv(path: &Path) -> Result<AttributeTable> {
    let text = text::read_csv(path)?;
    let (header, mut reader) = text.header(path)?;
    let image_col = image_column(&header, path)?;
    let attributes: Vec<usize> = (0..header.names().len())
        .filter(|&i| i != image_col && !header.names()[i].is_empty())
        .collect();
    let names = attributes
        .iter()
        .map(|&i| official_name(&header.names()[i]))
        .collect();
    let mut rows = Vec::new();
    let mut listed = super::label_values::Listed::default();
    let mut falsy = FalseSpelling::default();
    for record in reader.records() {
        let record = record.map_err(|e| text.error(path, &e))?;
        let line = text.line(&record);
        let image = record.get(image_col).unwrap_or_default().to_owned();
        let fields = attributes
            .iter()
            .map(|&i| record.get(i).unwrap_or_default());
        let values = attribute_values(path, line, fields, attributes.len(), &mut falsy)?;
        listed.check(&image, line, path)?;
        rows.push((image, values));
    }
    Ok(AttributeTable { names, rows })
}

/// The image column of a CelebA CSV: Kaggle's `image_id`, or another mirror's name for it.
fn image_column(header: &text::Header, path: &Path) -> Result<usize> {
    for name in ["image_id", "image", "filename", "file"] {
        if let Some(i) = header.find(name, path)? {
            return Ok(i);
        }
    }
    Err(DataError::parse(
        path,
        1,
        format!(
            "missing column `image_id` (nor `image`, `filename`, `file`; header: {})",
            header.names().join(",")
        ),
    ))
}

/// One image's attribute values (`1` or `-1`), exactly `n_names` of them.
/// How a file writes "no": `-1` (the official files) or `0` (some exports). A file that
/// writes both has no one meaning for `0` (absent? unknown?), so it is refused.
#[derive(Default)]
struct FalseSpelling {
    /// The first line with `-1`.
    minus_one: Option<u64>,
    /// The first line with `0`.
    zero: Option<u64>,
}

impl FalseSpelling {
    fn note(&mut self, value: &str, path: &Path, line: u64) -> Result<()> {
        let slot = if value.starts_with('-') {
            &mut self.minus_one
        } else {
            &mut self.zero
        };
        slot.get_or_insert(line);
        match (self.minus_one, self.zero) {
            (Some(minus), Some(zero)) => Err(DataError::parse(
                path,
                line,
                format!(
                    "the file writes \"no\" as -1 (first on line {minus}) and as 0 (first on line \
                     {zero}): one spelling per file, or 0 may mean something else (unknown?)"
                ),
            )),
            _ => Ok(()),
        }
    }
}

fn attribute_values<'a>(
    path: &Path,
    line: u64,
    fields: impl Iterator<Item = &'a str>,
    n_names: usize,
    falsy: &mut FalseSpelling,
) -> Result<Vec<bool>> {
    let values = fields
        .map(|v| match v {
            "1" | "1.0" => Ok(true),
            "-1" | "0" | "-1.0" | "0.0" => falsy.note(v, path, line).map(|()| false),
            other if other.eq_ignore_ascii_case("true") => Ok(true),
            other if other.eq_ignore_ascii_case("false") => Ok(false),
            other => Err(DataError::parse(
                path,
                line,
                format!(
                    "value `{other}` is not 1 or -1 (the official files), 1 or 0, or \
                     True or False (pandas and TFDS exports)"
                ),
            )),
        })
        .collect::<Result<Vec<bool>>>()?;
    if values.len() != n_names {
        return Err(DataError::parse(
            path,
            line,
            format!("{} values for {n_names} attributes", values.len()),
        ));
    }
    Ok(values)
}

/// Parses Kaggle's `list_eval_partition.csv` (`image_id,partition`, then `image,0|1|2`).
pub fn read_partition_csv(path: &Path) -> Result<HashMap<String, Split>> {
    let text = text::read_csv(path)?;
    let (header, mut reader) = text.header(path)?;
    let (image_col, code_col) = (
        image_column(&header, path)?,
        header.require("partition", path)?,
    );
    let mut out = HashMap::new();
    let mut listed = super::label_values::Listed::default();
    for record in reader.records() {
        let record = record.map_err(|e| text.error(path, &e))?;
        let line = text.line(&record);
        let (Some(image), Some(code)) = (record.get(image_col), record.get(code_col)) else {
            return Err(DataError::parse(path, line, "expected `image_id,0|1|2`"));
        };
        listed.check(image, line, path)?;
        out.insert(image.to_owned(), partition_split(path, line, code)?);
    }
    Ok(out)
}

fn partition_split(path: &Path, line: u64, code: &str) -> Result<Split> {
    match code {
        "0" => Ok(Split::Train),
        "1" => Ok(Split::Val),
        "2" => Ok(Split::Test),
        other => Err(DataError::parse(
            path,
            line,
            format!("partition `{other}` is not 0, 1 or 2"),
        )),
    }
}

fn is_csv(path: &Path) -> bool {
    path.extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("csv"))
}

/// The partition keyed by the image each name finds (however it is spelled), refusing one
/// image named twice in two spellings (`000001.jpg` and `000001.JPG`), which could give
/// it two splits.
fn by_image(
    names: &HashMap<String, Split>,
    file: &Path,
    locator: &mut Locator,
) -> Result<HashMap<FileId, Split>> {
    let shown = file
        .file_name()
        .map_or_else(String::new, |n| n.to_string_lossy().into_owned());
    let mut names: Vec<(&String, &Split)> = names.iter().collect();
    names.sort();
    let mut found = Found::new("celeba");
    let mut splits = HashMap::new();
    for (name, split) in names {
        if let Ok(image) = locator.locate(name) {
            found.note(&image, name, Place::new(&shown, file, None))?;
            if let Some(id) = image.id {
                splits.insert(id, *split);
            }
        }
    }
    Ok(splits)
}

/// Parses `list_eval_partition.txt` (`image 0|1|2`).
pub fn read_partition(path: &Path) -> Result<HashMap<String, Split>> {
    let text = text::read_text(path)?;
    let mut out = HashMap::new();
    let mut listed = super::label_values::Listed::default();
    for (i, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        let mut fields = line.split_whitespace();
        let (Some(image), Some(code)) = (fields.next(), fields.next()) else {
            return Err(DataError::parse(
                path,
                i as u64 + 1,
                format!("expected `image 0|1|2`, found `{line}`"),
            ));
        };
        listed.check(image, i as u64 + 1, path)?;
        out.insert(image.to_owned(), partition_split(path, i as u64 + 1, code)?);
    }
    Ok(out)
}

impl CelebA {
    /// Default settings for `root`.
    pub fn new(root: PathBuf) -> Self {
        Self {
            root,
            target: default_target(),
            sensitive: default_sensitive(),
        }
    }

    /// Reads the annotation files and finds the images.
    pub fn load(&self, config: &SplitConfig) -> Result<crate::FaceDataset> {
        let image_folders = self.image_folders();
        if !image_folders.iter().any(|f| f.is_dir()) {
            return Err(self.missing(
                "the image folder img_align_celeba/",
                image_folders[0].clone(),
            ));
        }
        let (attr_path, table) = self.attribute_table()?;
        let listed_in = attr_path
            .file_name()
            .map_or_else(String::new, |n| n.to_string_lossy().into_owned());
        let probe = crate::locate::probe_names(table.rows.iter().map(|(n, _)| n.as_str()));
        let images = layout::folder_holding(&image_folders, &probe)
            .unwrap_or_else(|| image_folders[0].clone());
        if images != image_folders[0] {
            tracing::info!(folder = %images.display(), "celeba: images found one level down");
        }
        let columns = Columns::of(&table, &self.target, &self.sensitive)?;
        let partition = self.partition()?;
        let n_listed = table.rows.len();
        let first_listed = table
            .rows
            .first()
            .map(|(n, _)| n.clone())
            .unwrap_or_default();
        let listing = Listing {
            file: &listed_in,
            path: &attr_path,
        };
        let Placed { official, skipped } =
            place_images(table, &columns, &images, partition.as_ref(), listing)?;
        if official.is_empty()
            && n_listed > 0
            && skipped.iter().all(|s| s.lost == Some(Lost::Absent))
        {
            return Err(DataError::ImagesNotFound {
                dataset: "celeba",
                expected: format!(
                    "image listed in {listed_in} ({n_listed} listed, the first `{first_listed}`)"
                ),
                looked_in: image_folders
                    .iter()
                    .map(|f| f.display().to_string())
                    .collect::<Vec<_>>()
                    .join(" nor in "),
                found: layout::describe(&images),
                hint: HINT,
            });
        }
        Ok(assemble(
            "celeba",
            &self.root,
            &self.target,
            self.sensitive.clone(),
            official,
            skipped,
            config,
        ))
    }

    fn missing(&self, expected: &'static str, path: PathBuf) -> DataError {
        DataError::MissingFile {
            dataset: "celeba",
            expected,
            path,
            hint: HINT,
        }
    }

    /// Where the images may be: the official layout, the official archive's `Img/` folder,
    /// and Kaggle's (one level down).
    fn image_folders(&self) -> [PathBuf; 3] {
        [
            self.root.join("img_align_celeba"),
            self.root.join("img_align_celeba").join("img_align_celeba"),
            self.root.join("Img").join("img_align_celeba"),
        ]
    }

    /// The attribute table and its path: the official text file (at the root or in
    /// `Anno/`) or Kaggle's CSV.
    fn attribute_table(&self) -> Result<(PathBuf, AttributeTable)> {
        let attr_path = layout::first_file(&[
            self.root.join("list_attr_celeba.txt"),
            self.root.join("Anno").join("list_attr_celeba.txt"),
            self.root.join("list_attr_celeba.csv"),
        ])
        .cloned()
        .ok_or_else(|| {
            self.missing(
                "the attribute table list_attr_celeba.txt (or Anno/list_attr_celeba.txt, or \
                 Kaggle's list_attr_celeba.csv)",
                self.root.join("list_attr_celeba.txt"),
            )
        })?;
        let table = if is_csv(&attr_path) {
            read_attributes_csv(&attr_path)?
        } else {
            read_attributes(&attr_path)?
        };
        Ok((attr_path, table))
    }

    /// The official partition, each image's split as the file names it, and the file; `None`
    /// (with a warning) where there is none: every split is then carved.
    fn partition(&self) -> Result<Option<(HashMap<String, Split>, PathBuf)>> {
        Ok(
            match layout::first_file(&[
                self.root.join("list_eval_partition.txt"),
                self.root.join("Eval").join("list_eval_partition.txt"),
                self.root.join("list_eval_partition.csv"),
            ]) {
                Some(path) if is_csv(path) => Some((read_partition_csv(path)?, path.clone())),
                Some(path) => Some((read_partition(path)?, path.clone())),
                None => {
                    tracing::warn!(root = %self.root.display(), "no list_eval_partition file: carving all splits");
                    None
                }
            },
        )
    }
}

/// The attribute table's columns of the target and the sensitive features.
struct Columns {
    target: usize,
    sensitive: Vec<usize>,
}

impl Columns {
    /// Finds each attribute by name, exactly or in another letter case.
    fn of(table: &AttributeTable, target: &str, sensitive: &[String]) -> Result<Self> {
        let index = |name: &str| {
            let exact = table.names.iter().position(|n| n == name);
            exact
                .or_else(|| {
                    table
                        .names
                        .iter()
                        .position(|n| n.eq_ignore_ascii_case(name))
                })
                .ok_or_else(|| {
                    DataError::Config(format!(
                        "celeba: no attribute `{name}` (available: {})",
                        table.names.join(", ")
                    ))
                })
        };
        Ok(Self {
            target: index(target)?,
            sensitive: sensitive.iter().map(|s| index(s)).collect::<Result<_>>()?,
        })
    }
}

/// The attribute file, as messages name it.
#[derive(Clone, Copy)]
struct Listing<'a> {
    file: &'a str,
    path: &'a Path,
}

/// Each listed image found in `images` and put in its official split (the partition file's,
/// joined by the image, however each file spells it; all in train without one), or skipped
/// with the reason.
fn place_images(
    table: AttributeTable,
    columns: &Columns,
    images: &Path,
    partition: Option<&(HashMap<String, Split>, PathBuf)>,
    listing: Listing<'_>,
) -> Result<Placed> {
    let mut official: BTreeMap<Split, Vec<FaceSample>> = BTreeMap::new();
    let mut skipped = Vec::new();
    let mut locator = Locator::new(images);
    let mut found = Found::new("celeba");
    let names = partition.map(|(names, _)| names);
    let by_file = match partition {
        Some((names, file)) => Some(by_image(names, file, &mut locator)?),
        None => None,
    };
    for (image, values) in table.rows {
        let found_image = match locator.locate(&image) {
            Ok(found_image) => found_image,
            Err(why) => {
                skipped.push(Skipped {
                    lost: why.lost(),
                    // The partition file's split, where it names the image as written.
                    split: names.and_then(|n| n.get(&image)).copied(),
                    reason: why.reason(listing.file),
                    file: image,
                });
                continue;
            }
        };
        found.note(
            &found_image,
            &image,
            Place::new(listing.file, listing.path, None),
        )?;
        let split = match &by_file {
            Some(p) => match found_image.id.as_ref().and_then(|id| p.get(id)) {
                Some(split) => *split,
                None => {
                    skipped.push(Skipped {
                        lost: None,
                        split: None,
                        file: image,
                        reason: "not in the list_eval_partition file".to_owned(),
                    });
                    continue;
                }
            },
            None => Split::Train,
        };
        let label = |i: usize| attribute_label(&table.names[i], values[i]);
        official.entry(split).or_default().push(FaceSample {
            path: found_image.path,
            target: label(columns.target),
            sensitive: columns.sensitive.iter().map(|&i| label(i)).collect(),
            file: image,
        });
    }
    Ok(Placed { official, skipped })
}

/// The listed images in their official splits, and those skipped.
struct Placed {
    official: BTreeMap<Split, Vec<FaceSample>>,
    skipped: Vec<Skipped>,
}
