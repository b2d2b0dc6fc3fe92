//! Bytes to text, once, at the edge: UTF-8 with or without a byte-order mark, UTF-16 with
//! one (Excel's "Unicode text"), any line ending. Another encoding is refused with its line,
//! never read as mojibake.

use encoding_rs::{Encoding, WINDOWS_1252};

/// Bytes that are not text this crate reads.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: {cause}")]
pub struct NotText {
    /// The 1-based line of the first bad byte (LF, CRLF and a lone CR each end a line).
    pub line: u64,
    /// What the bytes are and what to do, in lowercase words.
    pub cause: String,
}

/// `bytes` as UTF-8 text with `\n` line endings (CRLF and a lone CR become LF, so line
/// numbers stay).
///
/// # Errors
/// [`NotText`] for UTF-32, bytes that are not UTF-8 (with what the line would read as in
/// Latin-1, the encoding that most often made them), zero bytes (UTF-16 without a
/// byte-order mark, or a binary file), and a byte-order mark the rest does not match.
pub fn decode(bytes: Vec<u8>) -> Result<String, NotText> {
    if bytes.starts_with(&[0xFF, 0xFE, 0, 0]) || bytes.starts_with(&[0, 0, 0xFE, 0xFF]) {
        return Err(NotText {
            line: 1,
            cause: "UTF-32 text, which is not read; save it as UTF-8".to_owned(),
        });
    }
    let text = match Encoding::for_bom(&bytes) {
        Some((encoding, bom)) if encoding == encoding_rs::UTF_8 => {
            let rest = &bytes[bom..];
            std::str::from_utf8(rest)
                .map_err(|e| not_utf8(rest, e.valid_up_to()))?
                .to_owned()
        }
        Some((encoding, bom)) => encoding
            .decode_without_bom_handling_and_without_replacement(&bytes[bom..])
            .ok_or_else(|| NotText {
                line: 1,
                cause: format!(
                    "the file starts with a {0} byte-order mark but is not valid {0} text",
                    encoding.name()
                ),
            })?
            .into_owned(),
        None => String::from_utf8(bytes)
            .map_err(|e| not_utf8(e.as_bytes(), e.utf8_error().valid_up_to()))?,
    };
    // Valid UTF-8 can hold zero bytes, but no text file does: UTF-16 without a mark does.
    if let Some(at) = text.bytes().position(|b| b == 0) {
        return Err(not_utf8(text.as_bytes(), at));
    }
    Ok(if text.contains('\r') {
        text.replace("\r\n", "\n").replace('\r', "\n")
    } else {
        text
    })
}

/// The error for bytes that are not UTF-8 from `at` on, with what the line would read as in
/// the encoding that most often made it.
fn not_utf8(bytes: &[u8], at: usize) -> NotText {
    let line = line_of(&bytes[..at]);
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
            "not UTF-8 (byte 0x{:02X}); in Latin-1 or Windows-1252, as older Excel and Windows \
             tools write, the line reads `{}`; save the file as UTF-8 (Excel: \"CSV UTF-8\"; \
             pandas: to_csv(..., encoding=\"utf-8\"))",
            bytes[at],
            shorten(as_latin1.trim())
        )
    };
    NotText { line, cause }
}

/// The 1-based line that follows `before`: LF, CRLF and a lone CR each end a line.
pub fn line_of(before: &[u8]) -> u64 {
    let breaks = before
        .iter()
        .enumerate()
        .filter(|&(i, &b)| b == b'\n' || (b == b'\r' && before.get(i + 1) != Some(&b'\n')))
        .count();
    breaks as u64 + 1
}

/// Where each line of a decoded text starts, to say which line a CSV record is on: the csv
/// crate counts no blank line among the rows, and a record's position is where reading it
/// began, before the blank lines it skipped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LineStarts {
    starts: Vec<u64>,
    /// Whether each line is empty.
    empty: Vec<bool>,
}

impl LineStarts {
    /// The line starts of `text` ([`decode`]d: `\n` ends every line).
    pub fn of(text: &str) -> Self {
        let mut starts = vec![0];
        let mut empty = Vec::new();
        for line in text.split_inclusive('\n') {
            empty.push(line == "\n");
            starts.push(starts[starts.len() - 1] + line.len() as u64);
        }
        Self { starts, empty }
    }

    /// The 1-based line of the record whose reading began at byte `byte`: the first line
    /// from there that is not empty.
    pub fn line_at(&self, byte: u64) -> u64 {
        let mut line = self.starts.partition_point(|&start| start <= byte);
        while self.empty.get(line - 1).copied().unwrap_or(false) {
            line += 1;
        }
        line as u64
    }
}

/// `text` cut to its first 80 characters (`...` marks a cut), for a message: a header line
/// may be a whole file without line breaks.
pub fn shorten(text: &str) -> String {
    const MAX: usize = 80;
    match text.char_indices().nth(MAX) {
        Some((end, _)) => format!("{}...", &text[..end]),
        None => text.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
            assert_eq!(decode(bytes).unwrap(), plain);
        }
    }

    #[test]
    fn latin1_is_refused_with_its_line_and_what_it_would_read() {
        let e = decode(b"file,race\nx.jpg,White\nM\xE9decin.jpg,Black\n".to_vec()).unwrap_err();
        assert_eq!(e.line, 3);
        assert!(e.cause.starts_with("not UTF-8 (byte 0xE9)"), "{e}");
        assert!(e.cause.contains("`Médecin.jpg,Black`"), "{e}");
        let e = decode(b"\xFF\xFE\0\0a\0\0\0".to_vec()).unwrap_err();
        assert!(e.cause.contains("UTF-32"), "{e}");
        let e = decode(b"a\0,\0b\0".to_vec()).unwrap_err();
        assert!(e.cause.contains("zero bytes"), "{e}");
        // Lines end with a lone CR too; a BOM does not hide the bad line.
        let e = decode(b"\xEF\xBB\xBFa\rb\r\xE9\r".to_vec()).unwrap_err();
        assert_eq!(e.line, 3, "{e}");
        let e = decode(b"\xFF\xFEa".to_vec()).unwrap_err();
        assert!(e.cause.contains("UTF-16LE byte-order mark"), "{e}");
    }

    #[test]
    fn long_lines_are_cut_for_messages() {
        assert_eq!(shorten("abc"), "abc");
        let long = "é".repeat(100);
        assert_eq!(shorten(&long), format!("{}...", "é".repeat(80)));
    }
}
