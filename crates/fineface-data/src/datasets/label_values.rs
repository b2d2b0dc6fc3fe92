//! Label and group values as tables write them: the cells that are no label (empty, a
//! missing-value spelling, a score) and one label written two ways, each refused with its
//! line.

use std::collections::HashMap;

use std::path::Path;
use unicode_normalization::UnicodeNormalization;

use crate::error::{DataError, Result};

/// A label as one spelling per value: a whole number written as a float or with leading
/// zeros (`1.0`, `01`, as pandas writes an int column holding a missing value) becomes
/// `1`, so that `1` and `1.0` are one class; anything else is its composed Unicode form
/// (NFC), so that an accent typed decomposed (macOS) is one class with it composed.
pub(crate) fn canonical(value: &str) -> String {
    match fineface_text::whole_number(value) {
        Some(v) => v.to_string(),
        // Accents composed (NFC): `Café` typed on macOS (decomposed) is `Café`.
        None => value.nfc().collect(),
    }
}

/// One file however its path is spelled: `./a.jpg`, `a//b.jpg`, `a/./b.jpg`, `a\b.jpg`,
/// `c/../a/b.jpg` are all `a.jpg` or `a/b.jpg`, and a name in Unicode's decomposed form (NFD, as macOS writes
/// names) is the same name composed (NFC).
pub(crate) fn path_key(file: &str) -> String {
    let normal: String = file.replace('\\', "/").nfc().collect();
    let mut parts: Vec<&str> = Vec::new();
    for part in normal.split('/') {
        match part {
            "" | "." => {}
            // `a/../b` is `b`; a `..` above the first folder stays, to name no file.
            ".." if parts.last().is_some_and(|p| *p != "..") => {
                parts.pop();
            }
            _ => parts.push(part),
        }
    }
    parts.join("/")
}

/// The first line of each file a label file lists, to refuse a second listing: a repeated
/// row would count one image twice, and two rows with different labels leave its label
/// unknown.
#[derive(Default)]
pub(crate) struct Listed {
    first_line: HashMap<String, u64>,
}

impl Listed {
    /// Notes `file` on `line`.
    ///
    /// # Errors
    /// When `file` was listed before, naming both lines.
    pub(crate) fn check(&mut self, file: &str, line: u64, path: &Path) -> Result<()> {
        self.check_as(path_key(file), file, line, path)
    }

    /// Notes the file `key` names ([`path_key`] of a path below the root), written `file`,
    /// on `line`.
    ///
    /// # Errors
    /// When `key` was listed before, naming both lines and `file` as written.
    pub(crate) fn check_as(
        &mut self,
        key: String,
        file: &str,
        line: u64,
        path: &Path,
    ) -> Result<()> {
        match self.first_line.get(&key) {
            Some(first) => Err(DataError::parse(
                path,
                line,
                format!(
                    "`{file}` is listed again (first on line {first}); list each image once \
                     (two files concatenated?)"
                ),
            )),
            None => {
                self.first_line.insert(key, line);
                Ok(())
            }
        }
    }
}

/// A label or group value: not empty, not a missing value, a score, a spreadsheet error or
/// a value with an invisible character ([`fineface_text::not_a_label`]).
///
/// # Errors
/// [`DataError::Parse`] naming the column, the value and what to do.
pub(crate) fn check_label(value: &str, column: &str, line: u64, path: &Path) -> Result<()> {
    let problem = match fineface_text::not_a_label(value) {
        None => return Ok(()),
        Some(fineface_text::NotALabel::Empty) => {
            format!("column `{column}` is empty; fill it in or drop the row")
        }
        Some(why) => format!("column `{column}` holds `{value}`, {}", why.explain(value)),
    };
    Err(DataError::parse(path, line, problem))
}

/// A group value: a label ([`check_label`]) without `|`, which joins the parts of a compound
/// group in every report (`A|B` beside `C` would read as `A` beside `B|C`).
///
/// # Errors
/// [`DataError::Parse`] naming the column and the value.
pub(crate) fn check_group(value: &str, column: &str, line: u64, path: &Path) -> Result<()> {
    check_label(value, column, line, path)?;
    if value.contains('|') {
        return Err(DataError::parse(
            path,
            line,
            format!(
                "column `{column}` holds `{value}`: `|` joins the parts of a group \
                 (race|gender) in every report, so a group value cannot hold it; write it \
                 otherwise"
            ),
        ));
    }
    Ok(())
}

/// The first spelling of each value per column, to refuse one label written two ways
/// (`Male` and `male`, `East Asian` and `East_Asian`), which would make two classes.
/// Numbers are their own spelling (`-1` and `1` are two labels).
#[derive(Default)]
pub(crate) struct Spellings {
    seen: HashMap<(String, String), (String, u64)>,
}

impl Spellings {
    /// Notes `value` of `column` on `line`.
    ///
    /// # Errors
    /// When the column held the same value spelled otherwise, naming both and both lines.
    pub(crate) fn check(
        &mut self,
        column: &str,
        value: &str,
        line: u64,
        path: &Path,
    ) -> Result<()> {
        let Some(key) = fineface_text::spelling_key(value) else {
            return Ok(()); // a number is its own spelling: `-1` and `1` are two labels
        };
        let (first, first_line) = self
            .seen
            .entry((column.to_owned(), key))
            .or_insert_with(|| (value.to_owned(), line));
        // One text in two Unicode forms is one value ([`canonical`]).
        if first.nfc().eq(value.nfc()) {
            return Ok(());
        }
        Err(DataError::parse(
            path,
            line,
            format!(
                "column `{column}` holds `{value}` here and `{first}` on line {first_line}{}: one \
                 label in two spellings would be two classes; write it one way",
                fineface_text::unseen_difference(value, first)
            ),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_and_roman_numerals_are_distinct_labels_and_scores_are_no_labels() {
        let path = Path::new("m.csv");
        let mut spellings = Spellings::default();
        for (i, value) in ["1", "-1", "I-II", "III", "East Asian"].iter().enumerate() {
            spellings.check("c", value, i as u64 + 2, path).unwrap();
        }
        assert!(spellings.check("c", "east_asian", 9, path).is_err());
        for value in ["#N/A", "0.73", "73%", "?", "#VALUE!", "Bl\u{200B}ack", ""] {
            assert!(check_label(value, "c", 2, path).is_err(), "{value:?}");
        }
        let e = check_label("NaT", "race", 7, path).unwrap_err().to_string();
        assert!(
            e.starts_with("m.csv:7: column `race` holds `NaT`, which pandas"),
            "{e}"
        );
        assert_eq!(
            [
                "1.0", "01", "-0.0", "-1", "1e0", "2.5", "Male", "1,0", "1,000.5"
            ]
            .map(canonical),
            ["1", "1", "0", "-1", "1", "2.5", "Male", "1", "1,000.5"]
        );
        let mut listed = Listed::default();
        listed.check("a.jpg", 2, path).unwrap();
        let e = listed.check("a.jpg", 5, path).unwrap_err().to_string();
        assert!(
            e.starts_with("m.csv:5: `a.jpg` is listed again (first on line 2)"),
            "{e}"
        );
    }
}
