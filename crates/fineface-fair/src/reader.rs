//! Reading a predictions CSV into a [`PredictionTable`].

use std::io::Read;
use std::path::Path;

use crate::error::{FairError, Result};
use crate::table::PredictionTable;

/// Where the sensitive features of a predictions file are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SensitiveColumns {
    /// One column per feature, named after the feature (`race`, `gender`).
    Columns(Vec<String>),
    /// One column whose values join the features with `|` (`Black|Female`).
    Compound {
        /// The column's name (`group` by default).
        column: String,
        /// Names of the parts, in order. When empty, a single part is named after the
        /// column and several parts `<column>_1`, `<column>_2`, ... from the first row.
        feature_names: Vec<String>,
    },
}

/// The columns to read from a predictions file. Any other column is ignored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CsvSpec {
    /// Column of the true labels.
    pub y_true: String,
    /// Column of the predicted labels.
    pub y_pred: String,
    /// Column(s) of the sensitive features.
    pub sensitive: SensitiveColumns,
    /// Drop the rows whose sensitive value is missing (empty, or a spelling of
    /// [`MISSING_SPELLINGS`]) instead of failing on the first; the table counts them
    /// ([`PredictionTable::dropped_missing`]) and the report says how many.
    pub drop_missing: bool,
}

/// How tools write a missing value as text ([`fineface_text::MISSING_SPELLINGS`]: pandas'
/// `na_values`, R's `NA`, Excel's `#N/A`, `NaT`, `?`, ...), compared without case. In a
/// sensitive column such a value is no group: reading fails on it, or drops its row with
/// [`CsvSpec::drop_missing`].
pub use fineface_text::MISSING_SPELLINGS;

/// Whether a sensitive value is missing: empty or one of [`MISSING_SPELLINGS`].
pub fn is_missing(value: &str) -> bool {
    fineface_text::is_missing(value)
}

impl Default for CsvSpec {
    /// `y_true`, `y_pred` and a compound `group` column.
    fn default() -> Self {
        Self {
            y_true: "y_true".to_owned(),
            y_pred: "y_pred".to_owned(),
            sensitive: SensitiveColumns::Compound {
                column: "group".to_owned(),
                feature_names: Vec::new(),
            },
            drop_missing: false,
        }
    }
}

impl CsvSpec {
    fn required_columns(&self) -> Vec<&str> {
        let mut columns = vec![self.y_true.as_str(), self.y_pred.as_str()];
        match &self.sensitive {
            SensitiveColumns::Columns(names) => columns.extend(names.iter().map(String::as_str)),
            SensitiveColumns::Compound { column, .. } => columns.push(column),
        }
        columns
    }
}

/// Reads the predictions file at `path`.
///
/// Values are trimmed. Errors name the file, line and column: unreadable file, empty file,
/// missing or repeated columns, ragged rows, empty values, a missing sensitive value
/// (`nan`, `NA`, ...: [`is_missing`]) unless [`CsvSpec::drop_missing`], compound groups with
/// the wrong number of parts, and a file without data rows.
pub fn read_predictions_csv(path: impl AsRef<Path>, spec: &CsvSpec) -> Result<PredictionTable> {
    let path = path.as_ref();
    let file = std::fs::File::open(path).map_err(|source| FairError::Io {
        path: path.to_owned(),
        source,
    })?;
    let table = read_predictions(std::io::BufReader::with_capacity(1 << 20, file), path, spec)?;
    tracing::debug!(path = %path.display(), rows = table.len(), "read predictions");
    Ok(table)
}

/// Reads predictions from any reader; `path` is only used in error messages. The input is
/// read whole and decoded once (UTF-8 with or without a byte-order mark, UTF-16 with one,
/// any line ending; Latin-1 refused with its line), its delimiter (comma, semicolon or tab)
/// read off the header line and a `#` comment preamble skipped.
pub fn read_predictions<R: Read>(
    reader: R,
    path: &Path,
    spec: &CsvSpec,
) -> Result<PredictionTable> {
    let text =
        fineface_text::decode(read_bytes(reader, path)?).map_err(|e| FairError::NotText {
            path: path.to_owned(),
            line: e.line,
            cause: e.cause,
        })?;
    let layout = fineface_text::CsvLayout::of(text);
    let mut rows = Rows::open(&layout, path, spec)?;
    let mut first = FirstLines::default();
    let mut dropped = 0_u64;
    let table = match &spec.sensitive {
        SensitiveColumns::Columns(names) => {
            rows.read_columns(names, spec.drop_missing, &mut first, &mut dropped)?
        }
        SensitiveColumns::Compound {
            column,
            feature_names,
        } => rows.read_compound(
            column,
            feature_names,
            spec.drop_missing,
            &mut first,
            &mut dropped,
        )?,
    };
    if dropped > 0 {
        tracing::warn!(
            path = %path.display(),
            rows = dropped,
            "dropped rows with a missing sensitive value"
        );
    }
    match table {
        Some(mut t) if !t.is_empty() => {
            t.check_labels().map_err(|e| first.locate(e, path))?;
            t.set_dropped_missing(dropped);
            Ok(t)
        }
        _ => Err(FairError::NoRows {
            source_name: path.display().to_string(),
        }),
    }
}

/// The data rows of a predictions CSV after its checked header: each row's line, and its
/// true and predicted labels.
struct Rows<'a> {
    csv: csv::Reader<&'a [u8]>,
    lines: &'a fineface_text::LineStarts,
    path: &'a Path,
    header: Vec<String>,
    header_line: u64,
    y_true: usize,
    y_pred: usize,
    record: csv::StringRecord,
}

/// A csv error at its line of the file.
fn csv_error(e: csv::Error, path: &Path, lines: &fineface_text::LineStarts) -> FairError {
    match e.kind() {
        csv::ErrorKind::Io(_) => FairError::Io {
            path: path.to_owned(),
            source: std::io::Error::other(e.to_string()),
        },
        _ => FairError::Csv {
            path: path.to_owned(),
            line: e.position().map_or(0, |p| lines.line_at(p.byte())),
            message: e.to_string(),
        },
    }
}

/// One data row's line and labels.
struct Row<'r> {
    line: u64,
    truth: &'r str,
    pred: &'r str,
}

impl<'a> Rows<'a> {
    /// Reads and checks the header of `layout`'s text: not empty, not commented out (numpy's
    /// `savetxt`), no column twice, the label columns present.
    fn open(layout: &'a fineface_text::CsvLayout, path: &'a Path, spec: &CsvSpec) -> Result<Self> {
        let mut csv = csv::ReaderBuilder::new()
            .flexible(true)
            .trim(csv::Trim::All)
            .delimiter(layout.delimiter)
            .from_reader(layout.text.as_bytes());
        let header = csv
            .headers()
            .map_err(|e| csv_error(e, path, &layout.lines))?
            .iter()
            .map(str::to_owned)
            .collect();
        let mut rows = Self {
            csv,
            lines: &layout.lines,
            path,
            header,
            header_line: layout.header_line,
            y_true: 0,
            y_pred: 0,
            record: csv::StringRecord::new(),
        };
        rows.check_header(layout, spec)?;
        rows.y_true = rows.index_of(&spec.y_true)?;
        rows.y_pred = rows.index_of(&spec.y_pred)?;
        Ok(rows)
    }

    fn check_header(&self, layout: &fineface_text::CsvLayout, spec: &CsvSpec) -> Result<()> {
        let (header, path) = (&self.header, self.path);
        if header.is_empty() || header.iter().all(String::is_empty) {
            return Err(FairError::EmptyFile {
                path: path.to_owned(),
                expected: spec.required_columns().join(","),
            });
        }
        // numpy's `savetxt` comments the header out: the first row was read as the header.
        let commented_out = layout.commented.as_ref().filter(|c| {
            c.names(&spec.y_true, layout.delimiter)
                && !header.iter().any(|h| h.eq_ignore_ascii_case(&spec.y_true))
        });
        if let Some(comment) = commented_out {
            return Err(FairError::CommentedHeader {
                path: path.to_owned(),
                line: comment.line,
                explanation: comment.explain(self.header_line),
            });
        }
        for (i, name) in header.iter().enumerate() {
            if !name.is_empty() && header[..i].contains(name) {
                return Err(FairError::DuplicateColumn {
                    path: path.to_owned(),
                    line: self.header_line,
                    column: name.clone(),
                });
            }
        }
        Ok(())
    }

    fn index_of(&self, column: &str) -> Result<usize> {
        column_index(&self.header, column, self.path, self.header_line)
    }

    /// Reads the next data row into `record` and checks it (not a repeated header, as many
    /// fields as the header); its line, or `None` at the end.
    fn advance(&mut self) -> Result<Option<u64>> {
        let more = self.csv.read_record(&mut self.record);
        if !more.map_err(|e| csv_error(e, self.path, self.lines))? {
            return Ok(None);
        }
        let line = self
            .record
            .position()
            .map_or(0, |p| self.lines.line_at(p.byte()));
        refuse_repeated_header(&self.record, &self.header, line, self.path)?;
        check_row(&self.record, self.header.len(), line, self.path)?;
        Ok(Some(line))
    }

    /// The row's true and predicted labels, present and labels.
    fn labels(&self, line: u64) -> Result<Row<'_>> {
        let (record, header, path) = (&self.record, &self.header, self.path);
        let field = |i: usize| non_empty(record, i, header, line, path);
        let truth = label(field(self.y_true)?, &header[self.y_true], line, path)?;
        let pred = label(field(self.y_pred)?, &header[self.y_pred], line, path)?;
        Ok(Row { line, truth, pred })
    }

    /// Every row, the sensitive features in one column each (`names`).
    fn read_columns(
        &mut self,
        names: &[String],
        drop_missing: bool,
        first: &mut FirstLines,
        dropped: &mut u64,
    ) -> Result<Option<PredictionTable>> {
        let columns: Vec<usize> = names
            .iter()
            .map(|n| self.index_of(n))
            .collect::<Result<_>>()?;
        let mut table = PredictionTable::new(names.iter().cloned())?;
        while let Some(line) = self.advance()? {
            let Row { line, truth, pred } = self.labels(line)?;
            let (record, header, path) = (&self.record, &self.header, self.path);
            let missing = columns
                .iter()
                .find(|&&c| record.get(c).is_some_and(is_missing));
            if let Some(&c) = missing {
                if drop_missing {
                    *dropped += 1;
                    continue;
                }
                if record.get(c).is_some_and(|v| !v.is_empty()) {
                    return Err(missing_error(record, c, header, line, path));
                }
            }
            let field = |i: usize| non_empty(record, i, header, line, path);
            let values: Vec<&str> = columns.iter().map(|&c| field(c)).collect::<Result<_>>()?;
            for (&c, value) in columns.iter().zip(&values) {
                group_value(value, &header[c], line, path)?;
            }
            first.note([truth, pred].iter().chain(&values), line);
            table.push(truth, pred, &values)?;
        }
        Ok(Some(table))
    }

    /// Every row, the sensitive features joined with `|` in one `column`.
    fn read_compound(
        &mut self,
        column: &str,
        feature_names: &[String],
        drop_missing: bool,
        first: &mut FirstLines,
        dropped: &mut u64,
    ) -> Result<Option<PredictionTable>> {
        let group = self.index_of(column)?;
        let mut table: Option<PredictionTable> = None;
        while let Some(line) = self.advance()? {
            let Row { line, truth, pred } = self.labels(line)?;
            let (record, header, path) = (&self.record, &self.header, self.path);
            let raw = record.get(group).unwrap_or_default();
            if raw
                .split(crate::table::GROUP_SEPARATOR)
                .any(|part| is_missing(part.trim()))
            {
                if drop_missing {
                    *dropped += 1;
                    continue;
                }
                if !raw.is_empty() {
                    return Err(missing_error(record, group, header, line, path));
                }
            }
            let value = non_empty(record, group, header, line, path)?;
            let parts: Vec<&str> = value
                .split(crate::table::GROUP_SEPARATOR)
                .map(str::trim)
                .collect();
            for part in &parts {
                group_value(part, column, line, path)?;
            }
            first.note([truth, pred].iter().chain(&parts), line);
            let t = match &mut table {
                Some(t) => t,
                None => table.insert(PredictionTable::new(compound_feature_names(
                    column,
                    feature_names,
                    value,
                ))?),
            };
            t.push_compound(truth, pred, value)
                .map_err(|found| FairError::GroupArity {
                    path: path.to_owned(),
                    line,
                    column: column.to_owned(),
                    value: value.to_owned(),
                    expected: t.feature_names().len(),
                    found,
                    features: t.feature_names().join(","),
                })?;
        }
        Ok(table)
    }
}

/// The whole of `reader`.
fn read_bytes<R: Read>(mut reader: R, path: &Path) -> Result<Vec<u8>> {
    let mut bytes = Vec::new();
    reader
        .read_to_end(&mut bytes)
        .map_err(|source| FairError::Io {
            path: path.to_owned(),
            source,
        })?;
    Ok(bytes)
}

/// Refuses a row that repeats the header (two CSVs concatenated).
fn refuse_repeated_header(
    record: &csv::StringRecord,
    header: &[String],
    line: u64,
    path: &Path,
) -> Result<()> {
    let repeats = record.len() == header.len()
        && record
            .iter()
            .zip(header)
            .all(|(v, h)| v.eq_ignore_ascii_case(h));
    if repeats {
        return Err(FairError::RepeatedHeader {
            path: path.to_owned(),
            line,
        });
    }
    Ok(())
}

/// The first line of each distinct label and group value, to say where the values a
/// whole-table error names occur.
#[derive(Default)]
struct FirstLines {
    by_value: std::collections::HashMap<String, u64>,
}

impl FirstLines {
    fn note<'v>(&mut self, values: impl Iterator<Item = &'v &'v str>, line: u64) {
        for value in values {
            if !self.by_value.contains_key(*value) {
                self.by_value.insert((*value).to_owned(), line);
            }
        }
    }

    /// `error` in the file, with the first line of each value it names.
    fn locate(&self, error: FairError, path: &Path) -> FairError {
        let (a, b) = match &error {
            FairError::MixedLabels { numeric, text } => (numeric, text),
            FairError::CaseVariants { first, second, .. } => (first, second),
            _ => return error,
        };
        let line = |v: &String| self.by_value.get(v).map_or(0, |l| *l);
        FairError::InFile {
            path: path.to_owned(),
            lines: format!("`{a}` first on line {}, `{b}` on line {}", line(a), line(b)),
            source: Box::new(error),
        }
    }
}

/// The column called `column`, in any letter case (`Y_TRUE`, `Race`); two columns that
/// are `column` in different cases are a question for the user.
fn column_index(header: &[String], column: &str, path: &Path, line: u64) -> Result<usize> {
    let matches: Vec<usize> = (0..header.len())
        .filter(|&i| header[i].eq_ignore_ascii_case(column))
        .collect();
    match matches[..] {
        [i] => Ok(i),
        [] => Err(FairError::MissingColumn {
            path: path.to_owned(),
            line,
            column: column.to_owned(),
            available: match header
                .iter()
                .find_map(|n| fineface_text::invisible_in(n).map(|c| (n, c)))
            {
                // A name that looks right but holds an invisible character says so.
                Some((name, c)) => format!(
                    "{}; column `{name}` holds an invisible character U+{:04X}: delete it",
                    shown(header),
                    u32::from(c)
                ),
                None => shown(header),
            },
        }),
        _ => Err(FairError::AmbiguousColumn {
            path: path.to_owned(),
            line,
            column: column.to_owned(),
            candidates: matches
                .iter()
                .map(|&i| format!("`{}`", header[i]))
                .collect::<Vec<_>>()
                .join(" and "),
        }),
    }
}

/// A header for a message: the first columns, each cut short (a header line may be a whole
/// file without line breaks).
fn shown(header: &[String]) -> String {
    let cut = |n: &String| match n.char_indices().nth(80) {
        Some((end, _)) => format!("{}...", &n[..end]),
        None => n.clone(),
    };
    let mut names: Vec<String> = header.iter().take(12).map(cut).collect();
    if header.len() > 12 {
        names.push(format!("... {} more", header.len() - 12));
    }
    names.join(",")
}

/// A label, which a missing value (`nan`, `NA`: [`is_missing`]), a score (`0.73`, `73%`),
/// an Excel error value and a value with an invisible character are not.
fn label<'v>(value: &'v str, column: &str, line: u64, path: &Path) -> Result<&'v str> {
    use fineface_text::NotALabel;
    let (path, column, value) = (path.to_owned(), column.to_owned(), value);
    match fineface_text::not_a_label(value) {
        None | Some(NotALabel::Empty) => Ok(value),
        Some(NotALabel::Missing) => Err(FairError::MissingLabel {
            path,
            line,
            column,
            value: value.to_owned(),
        }),
        Some(NotALabel::Score) => Err(FairError::ScoreNotLabel {
            path,
            line,
            column,
            value: value.to_owned(),
        }),
        Some(why) => Err(FairError::NotALabel {
            path,
            line,
            column,
            value: value.to_owned(),
            why,
        }),
    }
}

/// A group value, which a score, a spreadsheet error or a value with an invisible character
/// is not (missing values are [`CsvSpec::drop_missing`]'s), nor one holding `|`, which
/// joins the parts of a compound group (`A|B` beside `C` would be the group `A|B|C`).
fn group_value(value: &str, column: &str, line: u64, path: &Path) -> Result<()> {
    use fineface_text::NotALabel;
    if value.contains(crate::table::GROUP_SEPARATOR) {
        return Err(FairError::SeparatorInGroup {
            path: path.to_owned(),
            line,
            column: column.to_owned(),
            value: value.to_owned(),
        });
    }
    match fineface_text::not_a_label(value) {
        Some(
            why @ (NotALabel::Score
            | NotALabel::SpreadsheetError
            | NotALabel::Invisible(_)
            | NotALabel::MixedScript(_)),
        ) => Err(FairError::NotALabel {
            path: path.to_owned(),
            line,
            column: column.to_owned(),
            value: value.to_owned(),
            why,
        }),
        _ => Ok(()),
    }
}

fn missing_error(
    record: &csv::StringRecord,
    index: usize,
    header: &[String],
    line: u64,
    path: &Path,
) -> FairError {
    FairError::MissingSensitiveValue {
        path: path.to_owned(),
        line,
        column: header[index].clone(),
        value: record.get(index).unwrap_or_default().to_owned(),
    }
}

fn compound_feature_names(column: &str, given: &[String], first_value: &str) -> Vec<String> {
    if !given.is_empty() {
        return given.to_vec();
    }
    let parts = first_value.split(crate::table::GROUP_SEPARATOR).count();
    if parts == 1 {
        vec![column.to_owned()]
    } else {
        (1..=parts).map(|i| format!("{column}_{i}")).collect()
    }
}

/// The record's line, after checking it has as many fields as the header.
fn check_row(record: &csv::StringRecord, expected: usize, line: u64, path: &Path) -> Result<()> {
    // `#1,0,c` or `# a note`: a `#` line among the rows is a row to the reader (Excel's
    // `#N/A` and `#VALUE!` are cells, said as such where they stand).
    let commented = record.get(0).is_some_and(|first| {
        use fineface_text::NotALabel::{Missing, SpreadsheetError};
        first.starts_with('#')
            && !matches!(
                fineface_text::not_a_label(first),
                Some(Missing | SpreadsheetError)
            )
    });
    if commented {
        return Err(FairError::CommentedRow {
            path: path.to_owned(),
            line,
        });
    }
    if record.len() != expected {
        return Err(FairError::RaggedRow {
            path: path.to_owned(),
            line,
            expected,
            found: record.len(),
        });
    }
    Ok(())
}

fn non_empty<'r>(
    record: &'r csv::StringRecord,
    index: usize,
    header: &[String],
    line: u64,
    path: &Path,
) -> Result<&'r str> {
    match record.get(index) {
        Some(value) if !value.is_empty() => Ok(value),
        _ => Err(FairError::EmptyValue {
            path: path.to_owned(),
            line,
            column: header[index].clone(),
        }),
    }
}
