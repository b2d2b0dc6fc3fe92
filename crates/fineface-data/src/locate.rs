//! Finding the files a label file lists, however the list spells their paths.
//!
//! A label file is written on one machine and read on another: its paths may be absolute
//! (a manifest made with `glob`), go through `./` or `a/../b`, separate folders with `\`,
//! or spell a name in another Unicode form or letter case than the disk (macOS writes
//! names decomposed, NFD; Windows and macOS match names in any case, so a list made there
//! works there whatever its case). [`Locator::find`] reads each of these as the one file it
//! means, and says why when it cannot: the path leaves the dataset, the file is absent, a
//! folder, a broken link, or two names on disk fit it (refused with both, never guessed).

use std::collections::HashMap;
use std::ffi::OsString;
use std::path::{Component, Path, PathBuf};

use unicode_normalization::UnicodeNormalization;

use crate::error::{DataError, TwoListings};

/// Why a listed path names no image.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum NotFound {
    /// The path climbs out of the dataset folder (`../x.jpg`), or is absolute and elsewhere.
    LeavesTheFolder,
    /// Nothing on disk has that name, in any spelling.
    Absent,
    /// The path names a folder.
    Folder,
    /// The path is a symbolic link to a file that is absent.
    BrokenLink(PathBuf),
    /// The path is a symbolic link that leads back to itself (through the link named).
    LinkLoop(PathBuf),
    /// The file, or a folder on its way, may not be read by this user.
    NoPermission,
    /// A URL (`https://...`), not a path: the images are not downloaded.
    Url(String),
    /// A row commented out with `#` (`#imgs/a.jpg`), which a CSV reader reads as a row.
    CommentedOut,
    /// Written with `\`, which names two files on a Unix disk: one whose name holds a `\`,
    /// and one in a folder (`\` as Windows' separator). Both paths, `/`-separated.
    TwoReadings {
        /// The file whose name holds the `\`.
        literal: String,
        /// The file with `\` read as a separator.
        separated: String,
    },
    /// Absent as spelled, and more than one name on disk differs from it only in letter
    /// case or Unicode form.
    Ambiguous {
        /// The folder holding them.
        folder: PathBuf,
        /// Their names, sorted.
        names: Vec<String>,
    },
}

impl NotFound {
    /// How the file was lost, where the layout checks need it.
    pub(crate) fn lost(&self) -> Option<crate::sample::Lost> {
        match self {
            Self::Absent => Some(crate::sample::Lost::Absent),
            Self::LeavesTheFolder => Some(crate::sample::Lost::OutsideRoot),
            _ => None,
        }
    }

    /// The reason a skipped file is listed with; `listed_in` names the label file.
    pub(crate) fn reason(&self, listed_in: &str) -> String {
        match self {
            Self::LeavesTheFolder => format!("path in {listed_in} leaves the dataset folder"),
            Self::Absent => format!("listed in {listed_in} but absent"),
            Self::Folder => format!("listed in {listed_in} but a folder, not an image"),
            Self::BrokenLink(target) => format!(
                "listed in {listed_in}: a link to `{}`, which is absent",
                target.display()
            ),
            Self::Url(scheme) => format!(
                "listed in {listed_in} as a URL (`{scheme}://`): download the images and list \
                 their paths"
            ),
            Self::NoPermission => {
                format!("listed in {listed_in} but not readable (permission denied)")
            }
            Self::LinkLoop(target) => format!(
                "listed in {listed_in}: a link that loops back to itself (through `{}`)",
                target.display()
            ),
            Self::CommentedOut => {
                format!("listed in {listed_in} as a row commented out with `#`: left out")
            }
            Self::TwoReadings { literal, separated } => format!(
                "listed in {listed_in} with `\\`, which names two files here: `{literal}` (a \
                 `\\` in its name) and `{separated}` (`\\` as a folder separator); rename one"
            ),
            Self::Ambiguous { names, .. } => format!(
                "listed in {listed_in} but absent as spelled; the disk holds {} names that \
                 differ from it only in letter case or Unicode form: {} (rename one, or list the one meant)",
                names.len(),
                names
                    .iter()
                    .map(|n| format!("`{n}`"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        }
    }
}

/// The local path a `file:` URI names (`file:///data/a%20b.jpg` is `/data/a b.jpg`);
/// `None` for anything else, or a URI of another machine.
pub(crate) fn file_uri_path(listed: &str) -> Option<String> {
    let scheme = listed.get(..5)?;
    if !scheme.eq_ignore_ascii_case("file:") {
        return None;
    }
    let path = url::Url::parse(listed).ok()?.to_file_path().ok()?;
    path.to_str().map(str::to_owned)
}

/// Whether a listed path is absolute on any OS: `/x`, `C:\x`, `C:x`, `\\server\share`.
pub(crate) fn is_absolute(listed: &str) -> bool {
    let bytes = listed.as_bytes();
    let drive = bytes.get(1) == Some(&b':') && bytes[0].is_ascii_alphabetic();
    drive || listed.starts_with(['/', '\\'])
}

/// Why `path`, which `std::fs::metadata` cannot follow, names nothing: a link on the way
/// (the file itself, or a folder above it) that loops or points at something absent, named
/// by the end of its chain (`x.jpg -> mid.jpg -> /gone/end.jpg` is broken at `/gone/end.jpg`).
pub(crate) fn unresolved(path: &Path) -> NotFound {
    unresolved_within(path, 8)
}

/// [`unresolved`], following links through at most `depth` folder links that are broken
/// themselves (`x.jpg -> gone/x.jpg` with `gone -> /mnt/usb`).
fn unresolved_within(path: &Path, depth: usize) -> NotFound {
    for link in path.ancestors() {
        let Ok(target) = std::fs::read_link(link) else {
            continue;
        };
        if link.canonicalize().is_ok() {
            continue; // a link that resolves: the trouble is further down
        }
        return match follow(link, depth) {
            Chain::Loops => NotFound::LinkLoop(target),
            Chain::EndsAt(end) => NotFound::BrokenLink(end),
        };
    }
    NotFound::Absent
}

/// Where a chain of links leads.
enum Chain {
    /// Back to a link already passed, or on past the 40 hops the kernel follows.
    Loops,
    /// To nothing: the last link's target, as that link writes it.
    EndsAt(PathBuf),
}

/// Follows `link` from link to link; a target under a broken folder link is followed on,
/// `depth` times at most.
fn follow(link: &Path, depth: usize) -> Chain {
    let mut passed = std::collections::HashSet::new();
    let mut at = link.to_owned();
    let mut last_target = PathBuf::new();
    for _ in 0..40 {
        if !passed.insert(at.clone()) {
            return Chain::Loops;
        }
        let Ok(target) = std::fs::read_link(&at) else {
            // Not a link: the chain ends on something, and a folder above is the trouble.
            return Chain::EndsAt(last_target);
        };
        at = at.with_file_name(&target);
        if std::fs::symlink_metadata(&at).is_err() {
            // Absent itself, or under a folder link that is broken in turn.
            return match depth.checked_sub(1).map(|d| unresolved_within(&at, d)) {
                Some(NotFound::BrokenLink(end)) => Chain::EndsAt(end),
                Some(NotFound::LinkLoop(_)) => Chain::Loops,
                _ => Chain::EndsAt(target),
            };
        }
        last_target = target;
    }
    Chain::Loops
}

/// The listed names to tell which folder holds a dataset's images: the first few relative
/// ones, since an absolute path is found wherever its folder is looked for.
pub(crate) fn probe_names<'a>(listed: impl Iterator<Item = &'a str>) -> Vec<&'a str> {
    listed.filter(|l| !is_absolute(l)).take(5).collect()
}

/// One file on disk however it is reached: through a link, by a name in another letter case
/// or Unicode form on a disk that matches names so (macOS, Windows). Its device and inode on
/// Unix; its resolved path elsewhere.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) enum FileId {
    /// Device and inode.
    #[cfg(unix)]
    Inode(u64, u64),
    /// The path with links resolved.
    #[cfg(not(unix))]
    Resolved(PathBuf),
}

impl FileId {
    /// The file at `path`, whose `metadata` (links followed) is `meta`; `None` when it
    /// cannot be resolved.
    fn of(path: &Path, meta: &std::fs::Metadata) -> Option<Self> {
        #[cfg(unix)]
        {
            use std::os::unix::fs::MetadataExt;
            let _ = path;
            Some(Self::Inode(meta.dev(), meta.ino()))
        }
        #[cfg(not(unix))]
        {
            let _ = meta;
            path.canonicalize().ok().map(Self::Resolved)
        }
    }
}

/// A listed file found on disk: its path as the disk spells it, and which file it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Located {
    /// The path, below the root, as the disk spells it.
    pub path: PathBuf,
    /// The file however reached (`None` where it cannot be resolved: the decoder names it).
    pub id: Option<FileId>,
}

impl Located {
    /// `path`, whose `metadata` is `meta`, as a found image: a folder is none.
    fn file(path: PathBuf, meta: &std::fs::Metadata) -> Result<Self, NotFound> {
        if !meta.is_file() {
            return Err(NotFound::Folder);
        }
        let id = FileId::of(&path, meta);
        Ok(Self { path, id })
    }
}

/// Where an image was listed: the label file, as a message names it, and the line where
/// the reader knows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Place<'a> {
    /// The label file, as a message names it (`fairface_label_train.csv`).
    pub shown: &'a str,
    /// The file on disk, to look the line up in when refusing.
    pub file: &'a Path,
    /// The 1-based line, where the reader knows it.
    pub line: Option<u64>,
}

impl<'a> Place<'a> {
    /// `file`, named `shown`, at `line`.
    pub(crate) fn new(shown: &'a str, file: &'a Path, line: Option<u64>) -> Self {
        Self { shown, file, line }
    }

    /// `file:line`, the line looked up where the reader did not keep it (the row types of
    /// FairFace and CelebA carry none): the first line with a field that is `listed`.
    fn describe(&self, listed: &str) -> String {
        let line = self.line.or_else(|| {
            let text = crate::text::read_text(self.file).ok()?;
            // A CSV's fields (names with spaces, quoted) or a text table's words.
            let fields = |l: &str| -> bool {
                l.split([',', ';', '\t'])
                    .any(|f| f.trim().trim_matches('"') == listed)
                    || l.split_whitespace().any(|w| w == listed)
            };
            text.lines().position(fields).map(|i| i as u64 + 1)
        });
        match line {
            Some(line) => format!("{}:{line}", self.shown),
            None => self.shown.to_owned(),
        }
    }
}

/// The images found so far and where each was listed, to refuse one image listed twice
/// under two spellings, which text comparison cannot see.
pub(crate) struct Found<'a> {
    dataset: &'static str,
    first: HashMap<FileId, (String, Place<'a>)>,
}

impl<'a> Found<'a> {
    /// No image found yet, of `dataset`.
    pub(crate) fn new(dataset: &'static str) -> Self {
        Self {
            dataset,
            first: HashMap::new(),
        }
    }

    /// Notes that `listed`, at `place`, is `image`.
    ///
    /// # Errors
    /// [`DataError::ListedTwice`] when `image` was listed before, naming both listings and
    /// their lines.
    pub(crate) fn note(
        &mut self,
        image: &Located,
        listed: &str,
        place: Place<'a>,
    ) -> Result<(), DataError> {
        // Through links too: `alias/a.jpg` with `alias -> img` is `img/a.jpg`.
        let Some(id) = &image.id else {
            return Ok(()); // unreadable: the decoder names it
        };
        match self.first.get(id) {
            Some((first, first_in)) => Err(DataError::ListedTwice {
                dataset: self.dataset,
                listings: Box::new(TwoListings {
                    first: first.clone(),
                    first_in: first_in.describe(first),
                    second: listed.to_owned(),
                    second_in: place.describe(listed),
                }),
                image: image.path.clone(),
            }),
            None => {
                self.first.insert(id.clone(), (listed.to_owned(), place));
                Ok(())
            }
        }
    }
}

/// Finds listed files under one dataset folder. Folders are listed only when a path is not
/// found as spelled, once each, so a dataset whose list matches its disk costs one `stat`
/// per file.
pub(crate) struct Locator {
    root: PathBuf,
    /// `root` with links resolved, to recognise absolute paths into it written through them.
    canonical_root: Option<PathBuf>,
    /// Each folder's entries, keyed by their NFC form, then by their lower-case NFC form.
    listings: HashMap<PathBuf, Option<Listing>>,
    /// The folders of absolute listed paths, links resolved.
    resolved_folders: std::cell::RefCell<HashMap<PathBuf, Option<PathBuf>>>,
}

/// One folder's names, as found on disk, by the spellings that may stand for them.
struct Listing {
    by_form: HashMap<String, Vec<OsString>>,
    by_case: HashMap<String, Vec<OsString>>,
}

impl Locator {
    /// A locator of files under `root`.
    pub(crate) fn new(root: &Path) -> Self {
        Self {
            root: root.to_owned(),
            canonical_root: root.canonicalize().ok(),
            listings: HashMap::new(),
            resolved_folders: Default::default(),
        }
    }

    /// The image `listed` names, as the disk spells it.
    pub(crate) fn find(&mut self, listed: &str) -> Result<PathBuf, NotFound> {
        self.locate(listed).map(|found| found.path)
    }

    /// The image `listed` names and which file it is: one `stat` where the list spells
    /// the path as the disk does.
    pub(crate) fn locate(&mut self, listed: &str) -> Result<Located, NotFound> {
        self.locate_as_written(listed).map_err(|why| match why {
            NotFound::Absent if listed.starts_with('#') => NotFound::CommentedOut,
            other => other,
        })
    }

    /// [`Self::locate`], a `#` row taken as a path.
    fn locate_as_written(&mut self, listed: &str) -> Result<Located, NotFound> {
        let parts = self.disk_parts(listed)?;
        let spelled = self.below(&parts);
        let path = match std::fs::metadata(&spelled) {
            Ok(meta) => return Located::file(spelled, &meta),
            Err(e) if e.kind() == std::io::ErrorKind::PermissionDenied => {
                return Err(NotFound::NoPermission);
            }
            // A link that resolves to nothing: said below.
            Err(_) if std::fs::symlink_metadata(&spelled).is_ok() => spelled,
            Err(_) => self.respelled(&parts)?,
        };
        match std::fs::metadata(&path) {
            Ok(meta) => Located::file(path, &meta),
            Err(e) if e.kind() == std::io::ErrorKind::PermissionDenied => {
                Err(NotFound::NoPermission)
            }
            Err(_) => Err(unresolved(&path)),
        }
    }

    /// `parts` joined under the root.
    fn below(&self, parts: &[String]) -> PathBuf {
        parts.iter().fold(self.root.clone(), |p, c| p.join(c))
    }

    /// `listed` as a path below the root, `/`-separated, as it is written (no disk
    /// lookup): `./a\\b.jpg`, `x/../a/b.jpg` and an absolute path into the root are all
    /// `a/b.jpg`; `None` when it leaves the root.
    pub(crate) fn relative(&self, listed: &str) -> Option<String> {
        self.relative_parts(listed)
            .ok()
            .map(|parts| parts.join("/"))
    }

    /// The file or folder `listed` names, as the disk spells it.
    pub(crate) fn on_disk(&mut self, listed: &str) -> Result<PathBuf, NotFound> {
        let parts = self.disk_parts(listed)?;
        let spelled = self.below(&parts);
        match std::fs::symlink_metadata(&spelled) {
            Ok(_) => Ok(spelled),
            Err(_) => self.respelled(&parts),
        }
    }

    /// [`Self::relative_parts`], except that on Unix, where a file name may hold a `\`
    /// (written so by a Linux tool), a `\` that is part of a name on disk stays in it; the
    /// path naming both that file and another with `\` read as a separator is refused.
    fn disk_parts(&self, listed: &str) -> Result<Vec<String>, NotFound> {
        let separated = self.relative_parts(listed)?;
        if !cfg!(unix) || !listed.contains('\\') || is_absolute(listed) {
            return Ok(separated);
        }
        let Ok(literal) = self.parts_split_on(listed, &['/']) else {
            return Ok(separated);
        };
        if std::fs::symlink_metadata(self.below(&literal)).is_err() {
            return Ok(separated);
        }
        if std::fs::symlink_metadata(self.below(&separated)).is_ok() {
            return Err(NotFound::TwoReadings {
                literal: literal.join("/"),
                separated: separated.join("/"),
            });
        }
        Ok(literal)
    }

    /// `listed`'s folders and name below the root: separators of any OS, `.` and `..`
    /// resolved by their text, an absolute path into the root made relative.
    fn relative_parts(&self, listed: &str) -> Result<Vec<String>, NotFound> {
        self.parts_split_on(listed, &['/', '\\'])
    }

    /// [`Self::relative_parts`] with the folder separators `separators`.
    fn parts_split_on(&self, listed: &str, separators: &[char]) -> Result<Vec<String>, NotFound> {
        // `file:///data/a%20b.jpg`, as a notebook's `Path.as_uri()` writes it: the local path.
        if let Some(path) = file_uri_path(listed) {
            return self.parts_split_on(&path, separators);
        }
        if let Some((scheme, _)) = listed.split_once("://")
            && !scheme.is_empty()
            && scheme
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "+.-".contains(c))
        {
            return Err(NotFound::Url(scheme.to_ascii_lowercase()));
        }
        let relative = if is_absolute(listed) {
            let listed = listed.replace('\\', "/");
            let path = Path::new(&listed);
            self.below_root(path).ok_or(NotFound::LeavesTheFolder)?
        } else if separators.contains(&'\\') {
            PathBuf::from(listed.replace('\\', "/"))
        } else {
            PathBuf::from(listed)
        };
        let mut parts: Vec<String> = Vec::new();
        for component in relative.components() {
            match component {
                Component::Normal(name) => parts.push(name.to_string_lossy().into_owned()),
                Component::CurDir => {}
                Component::ParentDir => {
                    parts.pop().ok_or(NotFound::LeavesTheFolder)?;
                }
                Component::RootDir | Component::Prefix(_) => {
                    return Err(NotFound::LeavesTheFolder);
                }
            }
        }
        if parts.is_empty() {
            // An empty cell names nothing; `.` or `/` the folder itself.
            return Err(if listed.trim().is_empty() {
                NotFound::Absent
            } else {
                NotFound::Folder
            });
        }
        Ok(parts)
    }

    /// An absolute `path` as relative to the root, when it lies inside it: as written, or
    /// with links resolved on both sides (a path written through another link to the root).
    fn below_root(&self, path: &Path) -> Option<PathBuf> {
        let roots = [Some(self.root.as_path()), self.canonical_root.as_deref()];
        let as_written = roots
            .into_iter()
            .flatten()
            .find_map(|root| path.strip_prefix(root).ok())
            .map(Path::to_owned);
        as_written.or_else(|| {
            // The folder resolved (once per folder), not the file: a file that is itself a
            // link out of the root (a DVC or git-annex cache) stays listed where it is.
            let parent = path.parent()?;
            let resolved = self
                .resolved_folders
                .borrow_mut()
                .entry(parent.to_owned())
                .or_insert_with(|| parent.canonicalize().ok())
                .clone()?;
            resolved
                .join(path.file_name()?)
                .strip_prefix(self.canonical_root.as_ref()?)
                .ok()
                .map(Path::to_owned)
        })
    }

    /// `parts` under the root, each name taken as the disk spells it where the list spells
    /// it in another Unicode form or letter case.
    fn respelled(&mut self, parts: &[String]) -> Result<PathBuf, NotFound> {
        let mut path = self.root.clone();
        for part in parts {
            let exact = path.join(part);
            if std::fs::symlink_metadata(&exact).is_ok() {
                path = exact;
                continue;
            }
            let listing = self
                .listings
                .entry(path.clone())
                .or_insert_with(|| Listing::of(&path));
            // A folder that cannot be listed: absent, or a link on the way that loops.
            let listing = listing.as_ref().ok_or_else(|| unresolved(&path))?;
            let name = listing.spelling_of(part).map_err(|why| match why {
                NotFound::Ambiguous { names, .. } => NotFound::Ambiguous {
                    folder: path.clone(),
                    names,
                },
                other => other,
            })?;
            path = path.join(name);
        }
        Ok(path)
    }
}

impl Listing {
    /// The entries of `folder`, or `None` when it cannot be listed (absent, a file).
    fn of(folder: &Path) -> Option<Self> {
        let mut listing = Self {
            by_form: HashMap::new(),
            by_case: HashMap::new(),
        };
        for entry in std::fs::read_dir(folder).ok()?.flatten() {
            let name = entry.file_name();
            let text = name.to_string_lossy();
            let form: String = text.nfc().collect();
            listing
                .by_case
                .entry(form.to_lowercase())
                .or_default()
                .push(name.clone());
            listing.by_form.entry(form).or_default().push(name);
        }
        Some(listing)
    }

    /// The one name on disk that `part` stands for: the same in NFC, else the same in any
    /// letter case; two or more candidates are refused with their names.
    fn spelling_of(&self, part: &str) -> Result<OsString, NotFound> {
        let form: String = part.nfc().collect();
        let candidates = self
            .by_form
            .get(&form)
            .or_else(|| self.by_case.get(&form.to_lowercase()))
            .ok_or(NotFound::Absent)?;
        match candidates.as_slice() {
            [one] => Ok(one.clone()),
            many => {
                let mut names: Vec<String> = many
                    .iter()
                    .map(|n| n.to_string_lossy().into_owned())
                    .collect();
                names.sort();
                Err(NotFound::Ambiguous {
                    folder: PathBuf::new(),
                    names,
                })
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn touch(path: &Path) {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, b"x").unwrap();
    }

    #[test]
    fn listed_paths_are_found_however_they_are_spelled() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        touch(&root.join("train/Ab.jpg"));
        // Decomposed (NFD), as macOS writes names: `e` + U+0301.
        touch(&root.join("train/Me\u{301}decin.jpg"));
        let mut locator = Locator::new(root);
        let found = |l: &mut Locator, listed: &str| l.find(listed).map(|p| p.to_owned());
        let ab = root.join("train/Ab.jpg");
        for listed in [
            "train/Ab.jpg",
            "./train/Ab.jpg",
            "train/./Ab.jpg",
            "val/../train/Ab.jpg",
            "train\\Ab.jpg",
            ".\\train\\Ab.jpg",
            "train//Ab.jpg",
            "TRAIN/ab.JPG",
        ] {
            assert_eq!(found(&mut locator, listed), Ok(ab.clone()), "{listed}");
        }
        let absolute = root.join("train/Ab.jpg");
        assert_eq!(
            found(&mut locator, absolute.to_str().unwrap()),
            Ok(ab.clone())
        );
        let decomposed = root.join("train/Me\u{301}decin.jpg");
        // Composed (NFC), as Linux and Windows tools write it.
        assert_eq!(
            found(&mut locator, "train/M\u{e9}decin.jpg"),
            Ok(decomposed.clone())
        );
        assert_eq!(
            found(&mut locator, "train/M\u{c9}DECIN.jpg"),
            Ok(decomposed)
        );
    }

    #[test]
    fn each_path_that_names_no_image_says_why() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("data");
        touch(&root.join("train/a.jpg"));
        touch(&root.join("train/b.jpg"));
        touch(&root.join("train/B.jpg"));
        touch(&dir.path().join("outside.jpg"));
        let mut locator = Locator::new(&root);
        let outside = dir.path().join("outside.jpg");
        for (listed, why) in [
            ("../outside.jpg", NotFound::LeavesTheFolder),
            ("train/../../outside.jpg", NotFound::LeavesTheFolder),
            (outside.to_str().unwrap(), NotFound::LeavesTheFolder),
            ("C:\\Users\\me\\a.jpg", NotFound::LeavesTheFolder),
            ("\\\\server\\share\\a.jpg", NotFound::LeavesTheFolder),
            ("/etc/passwd", NotFound::LeavesTheFolder),
            ("..\\..\\etc\\passwd", NotFound::LeavesTheFolder),
            ("", NotFound::Absent),
            ("train/c.jpg", NotFound::Absent),
            ("test/a.jpg", NotFound::Absent),
            ("train/a.jpg/x.jpg", NotFound::Absent),
            ("train", NotFound::Folder),
            ("train/", NotFound::Folder),
            (".", NotFound::Folder),
            (
                "train/b.JPG",
                NotFound::Ambiguous {
                    folder: root.join("train"),
                    names: vec!["B.jpg".into(), "b.jpg".into()],
                },
            ),
        ] {
            assert_eq!(locator.find(listed), Err(why), "{listed}");
        }
        // The exact spelling wins over a case-insensitive match.
        assert_eq!(locator.find("train/b.jpg"), Ok(root.join("train/b.jpg")));
    }

    #[cfg(unix)]
    #[test]
    fn links_are_followed_and_a_broken_one_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("data");
        let elsewhere = dir.path().join("disk2");
        touch(&elsewhere.join("a.jpg"));
        std::fs::create_dir_all(&root).unwrap();
        // The images on another disk, linked in: read.
        std::os::unix::fs::symlink(&elsewhere, root.join("train")).unwrap();
        std::os::unix::fs::symlink(elsewhere.join("gone.jpg"), root.join("b.jpg")).unwrap();
        let mut locator = Locator::new(&root);
        assert_eq!(locator.find("train/a.jpg"), Ok(root.join("train/a.jpg")));
        assert_eq!(
            locator.find("b.jpg"),
            Err(NotFound::BrokenLink(elsewhere.join("gone.jpg")))
        );
        // A loop of two links, and a link to itself: named as loops, not as absent.
        std::os::unix::fs::symlink("loop2.jpg", root.join("loop1.jpg")).unwrap();
        std::os::unix::fs::symlink("loop1.jpg", root.join("loop2.jpg")).unwrap();
        std::os::unix::fs::symlink("self.jpg", root.join("self.jpg")).unwrap();
        assert_eq!(
            locator.find("loop1.jpg"),
            Err(NotFound::LinkLoop("loop2.jpg".into()))
        );
        assert_eq!(
            locator.find("self.jpg"),
            Err(NotFound::LinkLoop("self.jpg".into()))
        );
        // A folder link that loops, on the way to the file.
        std::os::unix::fs::symlink("dirB", root.join("dirA")).unwrap();
        std::os::unix::fs::symlink("dirA", root.join("dirB")).unwrap();
        assert_eq!(
            locator.find("dirA/x.jpg"),
            Err(NotFound::LinkLoop("dirB".into()))
        );
        // A chain of two links ending on nothing is broken, not a loop, named by its end.
        std::os::unix::fs::symlink("hop2.jpg", root.join("hop1.jpg")).unwrap();
        std::os::unix::fs::symlink("nowhere.jpg", root.join("hop2.jpg")).unwrap();
        assert_eq!(
            locator.find("hop1.jpg"),
            Err(NotFound::BrokenLink("nowhere.jpg".into()))
        );
        assert!(
            NotFound::BrokenLink(elsewhere.join("gone.jpg"))
                .reason("labels.csv")
                .contains("gone.jpg`, which is absent")
        );
    }
}
