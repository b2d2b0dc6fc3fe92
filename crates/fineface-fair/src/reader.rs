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
    let fineface_text::CsvLayout {
        text,
        delimiter,
        header_line,
        commented,
        lines,
    } = fineface_text::CsvLayout::of(text);
    let line_of =
        |position: Option<&csv::Position>| position.map_or(0, |p| lines.line_at(p.byte()));
    let mut csv = csv::ReaderBuilder::new()
        .flexible(true)
        .trim(csv::Trim::All)
        .delimiter(delimiter)
        .from_reader(text.as_bytes());
    let csv_error = |e: csv::Error| match e.kind() {
        csv::ErrorKind::Io(_) => FairError::Io {
            path: path.to_owned(),
            source: std::io::Error::other(e.to_string()),
        },
        _ => FairError::Csv {
            path: path.to_owned(),
            line: line_of(e.position()),
            message: e.to_string(),
        },
    };
    let header: Vec<String> = csv
        .headers()
        .map_err(csv_error)?
        .iter()
        .map(str::to_owned)
        .collect();
    let required = spec.required_columns();
    if header.is_empty() || header.iter().all(String::is_empty) {
        return Err(FairError::EmptyFile {
            path: path.to_owned(),
            expected: required.join(","),
        });
    }
    // numpy's `savetxt` comments the header out: the first row was read as the header.
    let commented_out = commented.filter(|c| {
        c.names(&spec.y_true, delimiter)
            && !header.iter().any(|h| h.eq_ignore_ascii_case(&spec.y_true))
    });
    if let Some(comment) = commented_out {
        return Err(FairError::CommentedHeader {
            path: path.to_owned(),
            line: comment.line,
            explanation: comment.explain(header_line),
        });
    }
    for (i, name) in header.iter().enumerate() {
        if !name.is_empty() && header[..i].contains(name) {
            return Err(FairError::DuplicateColumn {
                path: path.to_owned(),
                line: header_line,
                column: name.clone(),
            });
        }
    }
    let index_of = |column: &str| column_index(&header, column, path, header_line);
    let y_true = index_of(&spec.y_true)?;
    let y_pred = index_of(&spec.y_pred)?;

    let mut record = csv::StringRecord::new();
    let mut first = FirstLines::default();
    let mut table: Option<PredictionTable> = None;
    let mut dropped = 0_u64;
    match &spec.sensitive {
        SensitiveColumns::Columns(names) => {
            let columns: Vec<usize> = names.iter().map(|n| index_of(n)).collect::<Result<_>>()?;
            let mut t = PredictionTable::new(names.iter().cloned())?;
            while csv.read_record(&mut record).map_err(csv_error)? {
                let line = line_of(record.position());
                refuse_repeated_header(&record, &header, line, path)?;
                check_row(&record, header.len(), line, path)?;
                let field = |i: usize| non_empty(&record, i, &header, line, path);
                let truth = label(field(y_true)?, &header[y_true], line, path)?;
                let pred = label(field(y_pred)?, &header[y_pred], line, path)?;
                let missing = columns
                    .iter()
                    .find(|&&c| record.get(c).is_some_and(is_missing));
                if let Some(&c) = missing {
                    if spec.drop_missing {
                        dropped += 1;
                        continue;
                    }
                    if record.get(c).is_some_and(|v| !v.is_empty()) {
                        return Err(missing_error(&record, c, &header, line, path));
                    }
                }
                let values: Vec<&str> = columns.iter().map(|&c| field(c)).collect::<Result<_>>()?;
                for (&c, value) in columns.iter().zip(&values) {
                    group_value(value, &header[c], line, path)?;
                }
                first.note([truth, pred].iter().chain(&values), line);
                t.push(truth, pred, &values)?;
            }
            table = Some(t);
        }
        SensitiveColumns::Compound {
            column,
            feature_names,
        } => {
            let group = index_of(column)?;
            while csv.read_record(&mut record).map_err(csv_error)? {
                let line = line_of(record.position());
                refuse_repeated_header(&record, &header, line, path)?;
                check_row(&record, header.len(), line, path)?;
                let field = |i: usize| non_empty(&record, i, &header, line, path);
                let truth = label(field(y_true)?, &header[y_true], line, path)?;
                let pred = label(field(y_pred)?, &header[y_pred], line, path)?;
                let raw = record.get(group).unwrap_or_default();
                if raw
                    .split(crate::table::GROUP_SEPARATOR)
                    .any(|part| is_missing(part.trim()))
                {
                    if spec.drop_missing {
                        dropped += 1;
                        continue;
                    }
                    if !raw.is_empty() {
                        return Err(missing_error(&record, group, &header, line, path));
                    }
                }
                let value = field(group)?;
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
                        column: column.clone(),
                        value: value.to_owned(),
                        expected: t.feature_names().len(),
                        found,
                        features: t.feature_names().join(","),
                    })?;
            }
        }
    }
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
