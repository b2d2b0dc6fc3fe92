//! Label files as text, decoded once at the edge whatever wrote them: UTF-8 with or without
//! a byte-order mark, UTF-16 with one (Excel's "Unicode text"), any line ending (LF, CRLF, a
//! lone CR), and CSVs delimited by commas, semicolons (Excel in many European locales) or
//! tabs. A file in another encoding is refused with its line, never read as mojibake.

use std::path::Path;

use crate::error::{DataError, Result};

/// The text of the file at `path`, as UTF-8 with `\n` line endings ([`fineface_text::decode`]).
///
/// # Errors
/// [`DataError::Io`] when the file cannot be read; [`DataError::NotText`] when it is not
/// UTF-8 (nor UTF-16 with a byte-order mark), naming the line and the first bad byte.
pub(crate) fn read_text(path: &Path) -> Result<String> {
    let bytes = std::fs::read(path).map_err(|e| DataError::io(path, e))?;
    fineface_text::decode(bytes).map_err(|e| DataError::NotText {
        path: path.to_owned(),
        line: e.line,
        cause: e.cause,
    })
}

/// A CSV decoded and ready to read ([`fineface_text::CsvLayout`]): its text, with the
/// comment lines before its header (`# exported by ...`) and Excel's `sep=;` line blanked so
/// that line numbers stay, and its delimiter. A `#` line among the rows is a row, never
/// silently dropped.
pub(crate) struct CsvText(fineface_text::CsvLayout);

/// The CSV at `path` ([`read_text`], then [`CsvText`]).
pub(crate) fn read_csv(path: &Path) -> Result<CsvText> {
    Ok(CsvText(fineface_text::CsvLayout::of(read_text(path)?)))
}

impl CsvText {
    /// The 1-based line of `record`, as an editor numbers it (blank lines counted).
    pub(crate) fn line(&self, record: &csv::StringRecord) -> u64 {
        record
            .position()
            .map_or(0, |p| self.0.lines.line_at(p.byte()))
    }

    /// A CSV error of this file as a [`DataError::Parse`] with its line; a row of another
    /// length than the header's said so (a `#` line among the rows as what it is).
    pub(crate) fn error(&self, path: &Path, e: &csv::Error) -> DataError {
        let byte = e.position().map_or(0, csv::Position::byte);
        let line = self.0.lines.line_at(byte);
        let message = match e.kind() {
            csv::ErrorKind::UnequalLengths {
                expected_len, len, ..
            } => {
                let row = self.0.text.get(byte as usize..).unwrap_or_default();
                let row = row.trim_start_matches('\n');
                let comment = if row.starts_with('#') {
                    "; a `#` line among the rows is no comment here: delete it"
                } else {
                    ""
                };
                format!("this row has {len} field(s) where the header has {expected_len}{comment}")
            }
            _ => e.to_string(),
        };
        DataError::parse(path, line, message)
    }

    /// The header and a reader of the rows after it: the CSV's own delimiter, values
    /// trimmed.
    ///
    /// # Errors
    /// [`DataError::Parse`] for a file without a header line.
    pub(crate) fn header(&self, path: &Path) -> Result<(Header, csv::Reader<&[u8]>)> {
        let mut reader = csv_reader(self);
        let names: Vec<String> = reader
            .headers()
            .map_err(|e| self.error(path, &e))?
            .iter()
            .map(str::to_owned)
            .collect();
        if names.iter().all(String::is_empty) {
            return Err(DataError::parse(path, 1, "empty file: no header line"));
        }
        let header = Header {
            names,
            line: self.0.header_line,
            commented: self.0.commented.clone(),
            delimiter: self.0.delimiter,
        };
        Ok((header, reader))
    }
}

/// A CSV reader over `csv`: its own delimiter, values trimmed.
fn csv_reader(csv: &CsvText) -> csv::Reader<&[u8]> {
    csv::ReaderBuilder::new()
        .delimiter(csv.0.delimiter)
        .trim(csv::Trim::All)
        .from_reader(csv.0.text.as_bytes())
}

/// A CSV's column names, looked up as written or in another letter case.
#[derive(Debug, Clone)]
pub(crate) struct Header {
    names: Vec<String>,
    /// Its 1-based line.
    line: u64,
    /// The preamble's last `#` line.
    commented: Option<fineface_text::PreambleComment>,
    delimiter: u8,
}

impl Header {
    /// The header for a message: the first columns, each cut short (a header line may be a
    /// whole file without line breaks).
    fn shown(&self) -> String {
        let mut names: Vec<String> = self
            .names
            .iter()
            .take(12)
            .map(|n| fineface_text::shorten(n))
            .collect();
        if self.names.len() > 12 {
            names.push(format!("... {} more", self.names.len() - 12));
        }
        names.join(",")
    }

    /// The column names, as written.
    pub(crate) fn names(&self) -> &[String] {
        &self.names
    }

    /// The column called `name`, in any letter case (`File` for `file`).
    ///
    /// # Errors
    /// When two columns are `name` in different cases (`gender` and `Gender`): which one is
    /// meant is the user's to say, naming both.
    pub(crate) fn find(&self, name: &str, path: &Path) -> Result<Option<usize>> {
        let matches: Vec<usize> = (0..self.names.len())
            .filter(|&i| self.names[i].eq_ignore_ascii_case(name))
            .collect();
        match matches[..] {
            [] => Ok(None),
            [i] => Ok(Some(i)),
            // The same name twice (two tables pasted side by side, a column copied).
            [i, j, ..] if self.names[i] == self.names[j] => Err(DataError::parse(
                path,
                self.line,
                format!(
                    "the column `{}` appears {} times; which one is meant? rename or remove the others",
                    self.names[i],
                    matches.len()
                ),
            )),
            _ => Err(DataError::parse(
                path,
                self.line,
                format!(
                    "columns {} differ only in letter case; which one is `{name}`? rename the others",
                    matches
                        .iter()
                        .map(|&i| format!("`{}`", self.names[i]))
                        .collect::<Vec<_>>()
                        .join(" and ")
                ),
            )),
        }
    }

    /// Refuses a row that repeats the header (two CSVs concatenated).
    ///
    /// # Errors
    /// [`DataError::Parse`] naming the row's line.
    pub(crate) fn refuse_repeat(
        &self,
        record: &csv::StringRecord,
        line: u64,
        path: &Path,
    ) -> Result<()> {
        let repeats = record.len() == self.names.len()
            && record
                .iter()
                .zip(&self.names)
                .all(|(v, h)| v.eq_ignore_ascii_case(h));
        if !repeats {
            return Ok(());
        }
        Err(DataError::parse(
            path,
            line,
            "this row repeats the header (two files concatenated?); remove it",
        ))
    }

    /// The column called `name` ([`Header::find`]).
    ///
    /// # Errors
    /// When there is none, listing the header.
    pub(crate) fn require(&self, name: &str, path: &Path) -> Result<usize> {
        self.find(name, path)?.ok_or_else(|| {
            if let Some(error) = self.commented_out(name, path) {
                return error;
            }
            // A name that looks right but holds an invisible character says so.
            let hidden = self
                .names
                .iter()
                .filter_map(|n| fineface_text::invisible_in(n).map(|c| (n, c)))
                .map(|(n, c)| {
                    format!(
                        "; column `{n}` holds an invisible character U+{:04X}: delete it",
                        u32::from(c)
                    )
                })
                .next()
                .unwrap_or_default();
            DataError::parse(
                path,
                self.line,
                format!("missing column `{name}` (header: {}){hidden}", self.shown()),
            )
        })
    }

    /// The error for a header written as a `#` comment, as numpy's `savetxt` writes it
    /// (`# path,gender`): `name` is in it, and the first row was taken for the header.
    fn commented_out(&self, name: &str, path: &Path) -> Option<DataError> {
        let comment = self.commented.as_ref()?;
        comment
            .names(name, self.delimiter)
            .then(|| DataError::parse(path, comment.line, comment.explain(self.line)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_are_found_in_any_case_unless_two_match() {
        let path = Path::new("x.csv");
        let csv = |text: &str| CsvText(fineface_text::CsvLayout::of(text.to_owned()));
        let file_race = csv("File,RACE,race2\n");
        let (header, _) = file_race.header(path).unwrap();
        assert_eq!(header.require("file", path).unwrap(), 0);
        assert_eq!(header.require("race", path).unwrap(), 1);
        assert!(header.find("gender", path).unwrap().is_none());
        let race_race = csv("race,Race\n");
        let (header, _) = race_race.header(path).unwrap();
        for asked in ["RACE", "race"] {
            let e = header.find(asked, path).unwrap_err().to_string();
            assert!(e.contains("`race` and `Race`"), "{e}");
        }
    }
}
