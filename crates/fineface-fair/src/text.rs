//! A predictions file as text, decoded once at the edge whatever wrote it: UTF-8 with or
//! without a byte-order mark, UTF-16 with one (Excel's "Unicode text"), any line ending.
//! Another encoding is refused with its line, never read as mojibake. (fineface-data decodes
//! label files the same way; this crate stays free of its dependencies.)

use std::path::Path;

use encoding_rs::{Encoding, WINDOWS_1252};

use crate::error::{FairError, Result};

/// `bytes` as UTF-8 text with `\n` line endings; `path` names the file in errors.
pub(crate) fn decode(bytes: Vec<u8>, path: &Path) -> Result<String> {
    if bytes.starts_with(&[0xFF, 0xFE, 0, 0]) || bytes.starts_with(&[0, 0, 0xFE, 0xFF]) {
        return Err(FairError::NotText {
            path: path.to_owned(),
            line: 1,
            cause: "UTF-32 text, which is not read; save it as UTF-8".to_owned(),
        });
    }
    let text = match Encoding::for_bom(&bytes) {
        Some((encoding, bom)) if encoding == encoding_rs::UTF_8 => {
            std::str::from_utf8(&bytes[bom..])
                .map_err(|e| not_utf8(&bytes[bom..], e.valid_up_to(), path))?
                .to_owned()
        }
        Some((encoding, bom)) => encoding
            .decode_without_bom_handling_and_without_replacement(&bytes[bom..])
            .ok_or_else(|| FairError::NotText {
                path: path.to_owned(),
                line: 1,
                cause: format!(
                    "the file starts with a {0} byte-order mark but is not valid {0} text",
                    encoding.name()
                ),
            })?
            .into_owned(),
        None => String::from_utf8(bytes)
            .map_err(|e| not_utf8(e.as_bytes(), e.utf8_error().valid_up_to(), path))?,
    };
    if let Some(at) = text.bytes().position(|b| b == 0) {
        return Err(not_utf8(text.as_bytes(), at, path));
    }
    // CRLF and a lone CR (classic Mac OS, some Excel exports) become LF; lines stay.
    Ok(if text.contains('\r') {
        text.replace("\r\n", "\n").replace('\r', "\n")
    } else {
        text
    })
}

/// The error for bytes that are not UTF-8 text from `at` on, with what the line would read
/// as in the encoding that most often made it.
fn not_utf8(bytes: &[u8], at: usize, path: &Path) -> FairError {
    let before = &bytes[..at];
    let breaks = before
        .iter()
        .enumerate()
        .filter(|&(i, &b)| b == b'\n' || (b == b'\r' && before.get(i + 1) != Some(&b'\n')))
        .count();
    let line = breaks as u64 + 1;
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
        let shown: String = as_latin1.trim().chars().take(80).collect();
        format!(
            "not UTF-8 (byte 0x{:02X}); in Latin-1 or Windows-1252, as older Excel and Windows \
             tools write, the line reads `{shown}`; save the file as UTF-8 (Excel: \"CSV \
             UTF-8\"; pandas: to_csv(..., encoding=\"utf-8\"))",
            bytes[at]
        )
    };
    FairError::NotText {
        path: path.to_owned(),
        line,
        cause,
    }
}

/// The delimiter of a CSV: the one Excel's `sep=` line declares; else a comma, unless the header line has none and has semicolons
/// (Excel where the comma is the decimal mark) or tabs (`.tsv`, Excel's "Unicode text").
pub(crate) fn delimiter(text: &str) -> u8 {
    let header = text
        .lines()
        .find(|l| !l.trim().is_empty() && !l.starts_with('#'))
        .unwrap_or_default();
    if let Some(&[d]) = excel_separator(header).map(str::as_bytes) {
        return d;
    }
    [b',', b';', b'\t']
        .into_iter()
        .find(|&d| header.as_bytes().contains(&d))
        .unwrap_or(b',')
}

/// The delimiter Excel declares on a first line `sep=;` (Excel writes and reads it; a
/// spreadsheet may quote the line).
fn excel_separator(line: &str) -> Option<&str> {
    line.trim_end_matches(['\r', '\n'])
        .trim_matches('"')
        .strip_prefix("sep=")
        .filter(|d| d.len() == 1)
}

/// `text` with the comment lines before its header (`# exported by ...`) blanked, so that
/// line numbers stay; a `#` line among the rows is a row, never silently dropped.
pub(crate) fn blank_preamble(text: String) -> String {
    if !text.starts_with(['#', '\n', ' ', '\t', 's', '"']) {
        return text;
    }
    let mut out = String::with_capacity(text.len());
    let mut in_preamble = true;
    for (i, line) in text.split_inclusive('\n').enumerate() {
        let declaration = i == 0 && excel_separator(line).is_some();
        in_preamble &= declaration || line.trim().is_empty() || line.starts_with('#');
        if in_preamble {
            out.push_str(&line[line.trim_end_matches(['\r', '\n']).len()..]);
        } else {
            out.push_str(line);
        }
    }
    out
}
