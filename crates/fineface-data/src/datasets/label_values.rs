//! Label and group values as tables write them: the cells that are no label (empty, a
//! missing-value spelling, a score) and one label written two ways, each refused with its
//! line.

use std::collections::HashMap;
use std::path::Path;

use crate::error::{DataError, Result};

/// How tools write a missing value as text (pandas: `nan`; R: `NA`), compared without case.
/// Excel's `#N/A` too.
pub(crate) const MISSING_SPELLINGS: [&str; 7] =
    ["nan", "na", "n/a", "none", "null", "<na>", "#n/a"];

/// `value` as a number: with a decimal point, or, as Excel writes it where the comma is
/// the decimal mark, a decimal comma (`0,73`).
fn number(value: &str) -> Option<f64> {
    value.parse::<f64>().ok().or_else(|| {
        let decimal_comma = !value.contains('.') && value.matches(',').count() == 1;
        decimal_comma
            .then(|| value.replacen(',', ".", 1).parse::<f64>().ok())
            .flatten()
    })
}

/// A score or probability: a number that is not whole (`0.73`, `0,73`), or an infinite one.
pub(crate) fn is_score(value: &str) -> bool {
    number(value).is_some_and(|v| v.is_infinite() || (v.is_finite() && v.fract() != 0.0))
}

/// A label as one spelling per value: a whole number written as a float or with leading
/// zeros (`1.0`, `01`, as pandas writes an int column holding a missing value) becomes
/// `1`, so that `1` and `1.0` are one class; anything else stays as written.
pub(crate) fn canonical(value: &str) -> String {
    match number(value) {
        Some(v) if v.is_finite() && v.fract() == 0.0 && v.abs() < 1e15 => format!("{}", v as i64),
        _ => value.to_owned(),
    }
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
        // One file however its path is spelled: `./a.jpg`, `a//b.jpg`, `a/./b.jpg`, `a\b.jpg`.
        let normal = file.replace('\\', "/");
        let key: Vec<&str> = normal
            .split('/')
            .filter(|c| !c.is_empty() && *c != ".")
            .collect();
        let key = key.join("/");
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

/// A label or group value: not empty, not a missing value, not a score.
///
/// # Errors
/// [`DataError::Parse`] naming the column, the value and what to do.
pub(crate) fn check_label(value: &str, column: &str, line: u64, path: &Path) -> Result<()> {
    let problem = if value.is_empty() {
        format!("column `{column}` is empty")
    } else if MISSING_SPELLINGS
        .iter()
        .any(|m| value.eq_ignore_ascii_case(m))
    {
        format!(
            "column `{column}` holds `{value}`, which pandas and R write for a missing value; \
             fill it in or drop the row (if it is a real label, spell it otherwise)"
        )
    } else if is_score(value) {
        format!(
            "column `{column}` holds `{value}`, a score, where a label is expected; write the \
             class (threshold the score) instead"
        )
    } else {
        return Ok(());
    };
    Err(DataError::parse(path, line, problem))
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
        if value.parse::<f64>().is_ok() {
            return Ok(());
        }
        let key = value
            .to_lowercase()
            .replace(['_', '-'], " ")
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ");
        let (first, first_line) = self
            .seen
            .entry((column.to_owned(), key))
            .or_insert_with(|| (value.to_owned(), line));
        if first == value {
            return Ok(());
        }
        Err(DataError::parse(
            path,
            line,
            format!(
                "column `{column}` holds `{value}` here and `{first}` on line {first_line}: one \
                 label in two spellings would be two classes; write it one way"
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
        assert!(is_score("0.73") && is_score("0,73") && is_score("-1.5"));
        assert!(!is_score("1") && !is_score("1.0") && !is_score("1,0") && !is_score("NaN"));
        assert!(is_score("inf") && is_score("-Infinity"));
        assert!(check_label("#N/A", "c", 2, path).is_err());
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
