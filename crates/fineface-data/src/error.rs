//! The crate's error type.

use std::path::PathBuf;

/// What makes a dataset unusable. Problems with single images are not errors: those images
/// are skipped and listed with their reason (see [`Skipped`](crate::Skipped)).
#[derive(Debug, thiserror::Error)]
pub enum DataError {
    /// A file or folder the layout requires is absent.
    #[error("{dataset}: expected {expected} at {path} ({hint})")]
    MissingFile {
        /// Dataset name.
        dataset: &'static str,
        /// What was expected there.
        expected: &'static str,
        /// Where it was looked for.
        path: PathBuf,
        /// Where the dataset is published or how the layout looks.
        hint: &'static str,
    },
    /// The layout's folder exists, but no image is where the layout puts them nor in the
    /// usual variants of it.
    #[error("{dataset}: no {expected} in {looked_in}; {found} ({hint})")]
    ImagesNotFound {
        /// Dataset name.
        dataset: &'static str,
        /// The images looked for.
        expected: String,
        /// The folders looked in.
        looked_in: String,
        /// What is there instead.
        found: String,
        /// Where the dataset is published or how the layout looks.
        hint: &'static str,
    },
    /// Listed paths absent as written whose images are a folder or two off: the label file
    /// writes its paths relative to two folders (some relative to the dataset root, some to
    /// its own folder), and those images would be left out.
    #[error(
        "{dataset}: {absent} path(s) listed in {listed_in} are absent as written, and some name \
         an image elsewhere in {folder}: {hint}; write every path relative to {folder} (or \
         delete the rows of images not meant)"
    )]
    ImagesOff {
        /// Dataset name.
        dataset: &'static str,
        /// The label file.
        listed_in: String,
        /// How many listed paths are absent as written.
        absent: usize,
        /// The folder the paths are relative to.
        folder: String,
        /// The first such path, where its image is, and what differs.
        hint: String,
    },
    /// Listed paths that name images outside the dataset folder (absolute elsewhere, or
    /// climbing out with `../`), which are never read: a dataset's images lie below its root.
    #[error(
        "{dataset}: {count} path(s) listed in {listed_in} name images outside the dataset \
         folder {folder} (the first `{first}`), which are not read: give a root that holds \
         them all (data.root, --data), or copy them into it"
    )]
    ImagesOutside {
        /// Dataset name.
        dataset: &'static str,
        /// The label file.
        listed_in: String,
        /// How many listed paths leave the folder.
        count: usize,
        /// The first that names an image.
        first: String,
        /// The dataset folder.
        folder: String,
    },
    /// The dataset folder the config or `--data` names is no folder: a file (the label CSV
    /// given for its folder), or absent while a folder differing in letter case is there.
    #[error("{dataset}: {problem}")]
    Root {
        /// Dataset name.
        dataset: &'static str,
        /// What is wrong with the folder, and what to give instead.
        problem: RootProblem,
    },
    /// One image listed twice under two spellings (`a.jpg` and `A.JPG` on a disk that
    /// has one of them, its absolute path, `x/../a.jpg`), in one label file or two: counted
    /// twice, with labels that may differ, or in two splits at once.
    #[error(
        "{dataset}: `{}` ({}) and `{}` ({}) are one image, `{}`: list it once",
        listings.first, listings.first_in, listings.second, listings.second_in,
        image.display()
    )]
    ListedTwice {
        /// Dataset name.
        dataset: &'static str,
        /// The two listings.
        listings: Box<TwoListings>,
        /// The image on disk.
        image: PathBuf,
    },
    /// A file could not be read.
    #[error("cannot read {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// A label file that is not text in an encoding we read (UTF-8, or UTF-16 with a
    /// byte-order mark): Latin-1 from older Excel, UTF-16 without a mark, a binary file.
    #[error("{path}:{line}: {cause}")]
    NotText {
        /// The file.
        path: PathBuf,
        /// 1-based line of the first byte that is not text.
        line: u64,
        /// What the bytes are, and what to do.
        cause: String,
    },
    /// A label file line that cannot be understood.
    #[error("{path}:{line}: {message}")]
    Parse {
        /// The file.
        path: PathBuf,
        /// 1-based line.
        line: u64,
        /// What is wrong, with the offending value.
        message: String,
    },
    /// A sample's target label is not one of the classes it should index into.
    #[error("{file}: unknown target label {value:?} (known classes: {})", classes.join(", "))]
    UnknownTarget {
        /// The sample's file, as the dataset lists it.
        file: String,
        /// Its label.
        value: String,
        /// The labels known.
        classes: Vec<String>,
    },
    /// A configuration value that does not fit the dataset.
    #[error("{0}")]
    Config(String),
}

/// Two listings of one image ([`DataError::ListedTwice`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TwoListings {
    /// The first listing, as written.
    pub first: String,
    /// Where: the label file and, where known, its line.
    pub first_in: String,
    /// The second listing, as written.
    pub second: String,
    /// Where.
    pub second_in: String,
}

/// Why a dataset's root is no folder to read it from.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RootProblem {
    /// The root is a file: the folder holding it is meant.
    #[error(
        "`{}` is a file, not the dataset's folder: give the folder that holds the dataset (`{}`?)",
        root.display(),
        parent.display()
    )]
    IsAFile {
        /// The root as given.
        root: PathBuf,
        /// The folder holding it.
        parent: PathBuf,
    },
    /// The root is absent, and folders whose names differ from it only in letter case or
    /// Unicode form are there (a path typed on macOS or Windows, whose disks match names in
    /// any case and form).
    #[error(
        "the dataset folder `{}` does not exist, but {} (names that differ in letter case or in how accents are encoded are different folders on this system)",
        root.display(),
        candidates_text(root, candidates)
    )]
    DiffersInCase {
        /// The root as given.
        root: PathBuf,
        /// The folders on disk it may mean.
        candidates: Vec<PathBuf>,
    },
    /// The root does not exist (and no folder differs from it only in case).
    #[error("the dataset folder `{}` does not exist ({hint})", root.display())]
    Absent {
        /// The root as given.
        root: PathBuf,
        /// Where the dataset is published or how its layout looks.
        hint: &'static str,
    },
    /// The root exists but is neither a folder nor a file: a device (`/dev/null`), a pipe.
    #[error(
        "`{}` is not a folder (a device or other special file): give the folder the dataset was unpacked to",
        root.display()
    )]
    NotAFolder {
        /// The root as given.
        root: PathBuf,
    },
    /// The root is a symbolic link that leads back to itself.
    #[error(
        "the dataset folder `{}` is a link that loops back to itself (through `{}`)",
        root.display(),
        target.display()
    )]
    LinkLoop {
        /// The root as given.
        root: PathBuf,
        /// Where it points.
        target: PathBuf,
    },
    /// The root is a symbolic link to something absent.
    #[error(
        "the dataset folder `{}` is a link to `{}`, which is absent (a disk not mounted?)",
        root.display(),
        target.display()
    )]
    BrokenLink {
        /// The root as given.
        root: PathBuf,
        /// Where it points.
        target: PathBuf,
    },
    /// The root holds a dataset library's export (Hugging Face's Parquet or Arrow files,
    /// TensorFlow Datasets' TFRecords) instead of the images and label files the loader
    /// reads.
    #[error(
        "`{}` holds {format} (`{}`), not the dataset's images and label files: write the images \
         out with a CSV of their labels and read that as a manifest (kind = \"manifest\"; see \
         docs/inputs.md, \"Exports\"), or unpack the dataset's official archive there ({cause})",
        root.display(),
        example.display()
    )]
    Export {
        /// The root as given.
        root: PathBuf,
        /// What the files are, in words.
        format: &'static str,
        /// One of them.
        example: PathBuf,
        /// What the loader lacked, as it said it.
        cause: String,
    },
}

/// `` `a` does`` or `` `a` and `b` do``; a name that prints as the root's does (the same
/// letters, its accents encoded apart) says so.
fn candidates_text(root: &std::path::Path, candidates: &[PathBuf]) -> String {
    use unicode_normalization::UnicodeNormalization;
    let nfc = |p: &std::path::Path| p.to_string_lossy().nfc().collect::<String>();
    let names: Vec<String> = candidates
        .iter()
        .map(|c| {
            let same_letters = nfc(c) == nfc(root) && c != root;
            let form = if c.to_string_lossy().nfc().eq(c.to_string_lossy().chars()) {
                "composed (NFC)"
            } else {
                "decomposed (NFD, as macOS writes names)"
            };
            if same_letters {
                format!("`{}` (the same letters, its accents {form})", c.display())
            } else {
                format!("`{}`", c.display())
            }
        })
        .collect();
    match &names[..] {
        [one] => format!("{one} does"),
        many => format!("{} do: give the one meant", many.join(" and ")),
    }
}

/// Short for `Result<T, DataError>`.
pub type Result<T, E = DataError> = std::result::Result<T, E>;

impl DataError {
    pub(crate) fn io(path: &std::path::Path, source: std::io::Error) -> Self {
        Self::Io {
            path: path.to_owned(),
            source,
        }
    }

    pub(crate) fn parse(path: &std::path::Path, line: u64, message: impl Into<String>) -> Self {
        Self::Parse {
            path: path.to_owned(),
            line,
            message: message.into(),
        }
    }
}

/// An error and its sources on one line, each said once: many messages already hold their
/// source's (`cannot access x.csv: No such file or directory`), and repeating it would read
/// as two failures. What the command-line tools print for an error, without a backtrace.
pub fn error_chain(error: &(dyn std::error::Error + 'static)) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.contains(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::error_chain;

    #[derive(Debug, thiserror::Error)]
    #[error("cannot read x.csv: {0}")]
    struct Read(#[source] std::io::Error);

    #[derive(Debug, thiserror::Error)]
    #[error("the run folder")]
    struct Outer(#[source] Read);

    #[test]
    fn each_cause_is_said_once() {
        let io = || std::io::Error::new(std::io::ErrorKind::NotFound, "no such file");
        assert_eq!(error_chain(&Read(io())), "cannot read x.csv: no such file");
        assert_eq!(
            error_chain(&Outer(Read(io()))),
            "the run folder: cannot read x.csv: no such file"
        );
    }
}
