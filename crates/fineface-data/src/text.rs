//! Label files as text, decoded once at the edge whatever wrote them: UTF-8 with or without
//! a byte-order mark, UTF-16 with one (Excel's "Unicode text"), any line ending (LF, CRLF, a
//! lone CR), and CSVs delimited by commas, semicolons (Excel in many European locales) or
//! tabs. A file in another encoding is refused with its line, never read as mojibake.

use std::path::Path;

use encoding_rs::{Encoding, WINDOWS_1252};

use crate::error::{DataError, Result};

/// The text of the file at `path`, as UTF-8 with `\n` line endings.
///
/// # Errors
/// [`DataError::Io`] when the file cannot be read; [`DataError::NotText`] when it is not
/// UTF-8 (nor UTF-16 with a byte-order mark), naming the line and the first bad byte.
pub(crate) fn read_text(path: &Path) -> Result<String> {
    let bytes = std::fs::read(path).map_err(|e| DataError::io(path, e))?;
    decode(&bytes, path)
}

/// `bytes` as UTF-8 text with `\n` line endings; `path` names the file in errors.
pub(crate) fn decode(bytes: &[u8], path: &Path) -> Result<String> {
    if bytes.starts_with(&[0xFF, 0xFE, 0, 0]) || bytes.starts_with(&[0, 0, 0xFE, 0xFF]) {
        return Err(DataError::NotText {
            path: path.to_owned(),
            line: 1,
            cause: "UTF-32 text, which is not read; save it as UTF-8".to_owned(),
        });
    }
    let text = match Encoding::for_bom(bytes) {
        Some((encoding, bom)) if encoding == encoding_rs::UTF_8 => {
            let rest = &bytes[bom..];
            std::str::from_utf8(rest)
                .map_err(|e| not_utf8(rest, e.valid_up_to(), path))?
                .to_owned()
        }
        Some((encoding, bom)) => encoding
            .decode_without_bom_handling_and_without_replacement(&bytes[bom..])
            .ok_or_else(|| DataError::NotText {
                path: path.to_owned(),
                line: 1,
                cause: format!(
                    "the file starts with a {} byte-order mark but is not valid {} text",
                    encoding.name(),
                    encoding.name()
                ),
            })?
            .into_owned(),
        None => match std::str::from_utf8(bytes) {
            Ok(text) => text.to_owned(),
            Err(e) => return Err(not_utf8(bytes, e.valid_up_to(), path)),
        },
    };
    // Valid UTF-8 can hold zero bytes, but no text file does: UTF-16 without a mark does.
    if let Some(at) = text.bytes().position(|b| b == 0) {
        return Err(not_utf8(text.as_bytes(), at, path));
    }
    Ok(normalise_line_endings(text))
}

/// The error for bytes that are not UTF-8 from `at` on, with what the line would read as in
/// the encoding that most often made it.
fn not_utf8(bytes: &[u8], at: usize, path: &Path) -> DataError {
    let line = line_of(&bytes[..at]);
    let byte = bytes[at];
    let cause = if bytes.contains(&0) {
        "not text: it holds zero bytes (UTF-16 without a byte-order mark, or a binary file); \
         save it as UTF-8"
            .to_owned()
    } else {
        let start = bytes[..at]
            .iter()
            .rposition(|&b| b == b'\n' || b == b'\r')
            .map_or(0, |i| i + 1);
        let end = bytes[at..]
            .iter()
            .position(|&b| b == b'\n' || b == b'\r')
            .map_or(bytes.len(), |i| at + i);
        let (as_latin1, _, _) = WINDOWS_1252.decode(&bytes[start..end]);
        format!(
            "not UTF-8 (byte 0x{byte:02X}); in Latin-1 or Windows-1252, as older Excel and \
             Windows tools write, the line reads `{}`; save the file as UTF-8 \
             (Excel: \"CSV UTF-8\"; pandas: to_csv(..., encoding=\"utf-8\"))",
            shorten(as_latin1.trim())
        )
    };
    DataError::NotText {
        path: path.to_owned(),
        line,
        cause,
    }
}

/// The 1-based line that follows `before`: LF, CRLF and a lone CR each end a line.
fn line_of(before: &[u8]) -> u64 {
    let breaks = before
        .iter()
        .enumerate()
        .filter(|&(i, &b)| b == b'\n' || (b == b'\r' && before.get(i + 1) != Some(&b'\n')))
        .count();
    breaks as u64 + 1
}

fn shorten(line: &str) -> String {
    const MAX: usize = 80;
    match line.char_indices().nth(MAX) {
        Some((end, _)) => format!("{}...", &line[..end]),
        None => line.to_owned(),
    }
}

/// CRLF and lone CR (classic Mac OS, some Excel exports) become LF; line numbers stay.
fn normalise_line_endings(text: String) -> String {
    if !text.contains('\r') {
        return text;
    }
    text.replace("\r\n", "\n").replace('\r', "\n")
}

/// The delimiter of a CSV: a comma, unless the header line has none and has semicolons
/// (Excel where the comma is the decimal mark) or tabs (`.tsv`, spreadsheets' "text").
/// Our column names hold none of the three, so the header decides without ambiguity.
pub(crate) fn delimiter(text: &str) -> u8 {
    let header = text
        .lines()
        .find(|l| !l.trim().is_empty() && !l.starts_with('#'))
        .unwrap_or_default();
    if let Some(&[d]) = excel_separator(header).as_ref().map(|d| d.as_bytes()) {
        return d;
    }
    if header.contains(',') {
        b','
    } else if header.contains(';') {
        b';'
    } else if header.contains('\t') {
        b'\t'
    } else {
        b','
    }
}

/// A CSV decoded and ready to read: its text, with the comment lines before its header
/// (`# exported by ...`) and Excel's `sep=;` line blanked so that line numbers stay, and its
/// delimiter. A `#` line among the rows is a row, never silently dropped.
pub(crate) struct CsvText {
    text: String,
    delimiter: u8,
}

/// The CSV at `path` ([`read_text`], then [`CsvText`]).
pub(crate) fn read_csv(path: &Path) -> Result<CsvText> {
    let text = read_text(path)?;
    let delimiter = delimiter(&text);
    let mut out = String::with_capacity(text.len());
    let mut in_preamble = true;
    for (i, line) in text.split_inclusive('\n').enumerate() {
        let declaration = i == 0 && excel_separator(line).is_some();
        in_preamble &= declaration || line.trim().is_empty() || line.starts_with('#');
        out.push_str(if in_preamble { "\n" } else { line });
    }
    Ok(CsvText {
        text: out,
        delimiter,
    })
}

/// The delimiter Excel declares on a first line `sep=;` (Excel writes and reads it; a
/// spreadsheet may quote the line).
fn excel_separator(line: &str) -> Option<&str> {
    line.trim_end_matches(['\r', '\n'])
        .trim_matches('"')
        .strip_prefix("sep=")
        .filter(|d| d.len() == 1)
}

/// A CSV reader over `csv`: its own delimiter, values trimmed.
pub(crate) fn csv_reader(csv: &CsvText) -> csv::Reader<&[u8]> {
    csv::ReaderBuilder::new()
        .delimiter(csv.delimiter)
        .trim(csv::Trim::All)
        .from_reader(csv.text.as_bytes())
}

/// A CSV error as a [`DataError::Parse`] with its line.
pub(crate) fn csv_error(path: &Path, e: &csv::Error) -> DataError {
    let line = e.position().map_or(1, |p| p.line());
    DataError::parse(path, line, e.to_string())
}

/// A CSV's column names, looked up as written or in another letter case.
#[derive(Debug, Clone)]
pub(crate) struct Header {
    names: Vec<String>,
}

impl Header {
    /// The header of `reader`'s CSV.
    pub(crate) fn read(reader: &mut csv::Reader<&[u8]>, path: &Path) -> Result<Self> {
        let names: Vec<String> = reader
            .headers()
            .map_err(|e| csv_error(path, &e))?
            .iter()
            .map(str::to_owned)
            .collect();
        if names.iter().all(String::is_empty) {
            return Err(DataError::parse(path, 1, "empty file: no header line"));
        }
        Ok(Self { names })
    }

    /// The header for a message: the first columns, each cut short (a header line may be a
    /// whole file without line breaks).
    fn shown(&self) -> String {
        let mut names: Vec<String> = self.names.iter().take(12).map(|n| shorten(n)).collect();
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
            _ => Err(DataError::parse(
                path,
                1,
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
    pub(crate) fn refuse_repeat(&self, record: &csv::StringRecord, path: &Path) -> Result<()> {
        let repeats = record.len() == self.names.len()
            && record
                .iter()
                .zip(&self.names)
                .all(|(v, h)| v.eq_ignore_ascii_case(h));
        if !repeats {
            return Ok(());
        }
        let line = record.position().map_or(0, |p| p.line());
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
            DataError::parse(
                path,
                1,
                format!("missing column `{name}` (header: {})", self.shown()),
            )
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decoded(bytes: &[u8]) -> Result<String> {
        decode(bytes, Path::new("x.csv"))
    }

    #[test]
    fn every_unicode_form_and_line_ending_reads_the_same() {
        let plain = "a,b\né,2\n";
        let mut utf16le = vec![0xFF, 0xFE];
        utf16le.extend(plain.encode_utf16().flat_map(u16::to_le_bytes));
        let mut utf16be = vec![0xFE, 0xFF];
        utf16be.extend(plain.encode_utf16().flat_map(u16::to_be_bytes));
        let with_bom = [&[0xEF, 0xBB, 0xBF][..], plain.as_bytes()].concat();
        for bytes in [
            plain.as_bytes().to_vec(),
            with_bom,
            utf16le,
            utf16be,
            b"a,b\r\n\xC3\xA9,2\r\n".to_vec(),
            b"a,b\r\xC3\xA9,2\r".to_vec(),
        ] {
            assert_eq!(decoded(&bytes).unwrap(), plain);
        }
    }

    #[test]
    fn latin1_is_refused_with_its_line_and_what_it_would_read() {
        let e = decoded(b"file,race\nx.jpg,White\nM\xE9decin.jpg,Black\n").unwrap_err();
        let message = e.to_string();
        assert!(
            message.starts_with("x.csv:3: not UTF-8 (byte 0xE9)"),
            "{message}"
        );
        assert!(message.contains("`Médecin.jpg,Black`"), "{message}");
        let e = decoded(b"\xFF\xFE\0\0a\0\0\0").unwrap_err().to_string();
        assert!(e.contains("UTF-32"), "{e}");
        let e = decoded(b"a\0,\0b\0").unwrap_err().to_string();
        assert!(e.contains("zero bytes"), "{e}");
        // Lines end with a lone CR too; a BOM does not hide the bad line.
        let e = decoded(b"\xEF\xBB\xBFa\rb\r\xE9\r")
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("x.csv:3: not UTF-8 (byte 0xE9)"), "{e}");
    }

    #[test]
    fn the_header_line_decides_the_delimiter() {
        assert_eq!(delimiter("file;race\nx;y,z\n"), b';');
        assert_eq!(delimiter("# note, with a comma\nfile\trace\n"), b'\t');
        assert_eq!(delimiter("file,race\nx;y\n"), b',');
        assert_eq!(delimiter("file\n"), b',');
        assert_eq!(delimiter("sep=;\nfile;race\n"), b';');
        assert_eq!(delimiter("sep=,\nfile;race\n"), b',');
        assert_eq!(delimiter("sep=\t\r\nfile;race\n"), b'\t');
        assert_eq!(delimiter("\"sep=|\"\nfile;race\n"), b'|');
    }

    #[test]
    fn columns_are_found_in_any_case_unless_two_match() {
        let path = Path::new("x.csv");
        let csv = |text: &str| CsvText {
            text: text.to_owned(),
            delimiter: delimiter(text),
        };
        let file_race = csv("File,RACE,race2\n");
        let mut reader = csv_reader(&file_race);
        let header = Header::read(&mut reader, path).unwrap();
        assert_eq!(header.require("file", path).unwrap(), 0);
        assert_eq!(header.require("race", path).unwrap(), 1);
        assert!(header.find("gender", path).unwrap().is_none());
        let race_race = csv("race,Race\n");
        let mut reader = csv_reader(&race_race);
        let header = Header::read(&mut reader, path).unwrap();
        for asked in ["RACE", "race"] {
            let e = header.find(asked, path).unwrap_err().to_string();
            assert!(e.contains("`race` and `Race`"), "{e}");
        }
    }
}
