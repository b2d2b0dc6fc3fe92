//! Every experiment file the repository ships in `configs/` reads under today's schema
//! (`deny_unknown_fields`: a renamed key is an error here, not a surprise for a user).

use std::path::Path;

use fineface_train::ExperimentConfig;

#[test]
fn every_shipped_experiment_file_reads() {
    let configs = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../configs");
    let mut read = Vec::new();
    for entry in std::fs::read_dir(&configs).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "toml") {
            let config = ExperimentConfig::from_file(&path)
                .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            assert!(config.train.epochs >= 1, "{}", path.display());
            read.push(path.file_stem().unwrap().to_string_lossy().into_owned());
        }
    }
    read.sort();
    for expected in ["fairface", "gpu-resnet50", "synthface", "utkface-cpu"] {
        assert!(
            read.iter().any(|r| r == expected),
            "{expected} missing: {read:?}"
        );
    }
}

/// An experiment file as Windows editors save it: UTF-16 with a byte-order mark (PowerShell
/// 5's `>` and `Out-File`) and CRLF reads as the UTF-8 file does; Latin-1 is refused with
/// its line and what it would read as.
#[test]
fn experiment_files_in_utf16_read_and_latin1_is_named_with_its_line() {
    let shipped = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../configs/synthface.toml");
    let expected = ExperimentConfig::from_file(&shipped).unwrap();
    let text = std::fs::read_to_string(&shipped)
        .unwrap()
        .replace('\n', "\r\n");
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("synthface.toml");
    let mut utf16 = vec![0xFF, 0xFE];
    utf16.extend(text.encode_utf16().flat_map(u16::to_le_bytes));
    std::fs::write(&path, utf16).unwrap();
    assert_eq!(ExperimentConfig::from_file(&path).unwrap(), expected);
    let mut latin1 = b"# r\xE9glages\n".to_vec();
    latin1.extend(text.as_bytes());
    std::fs::write(&path, latin1).unwrap();
    let e = ExperimentConfig::from_file(&path).unwrap_err().to_string();
    assert!(
        e.contains("synthface.toml: line 1: not UTF-8 (byte 0xE9)") && e.contains("`# réglages`"),
        "{e}"
    );
}

/// A folder where an experiment file or a run folder's file is expected, and a file where a
/// run folder is: each named for what it is.
#[test]
fn a_folder_for_a_file_and_a_file_for_a_run_folder_are_named() {
    let dir = tempfile::tempdir().unwrap();
    let folder = dir.path().join("synthface.toml");
    std::fs::create_dir_all(&folder).unwrap();
    let error = fineface_train::ExperimentConfig::from_file(&folder)
        .unwrap_err()
        .to_string();
    assert_eq!(
        error,
        format!(
            "{}: a folder, not an experiment file (a .toml)",
            folder.display()
        )
    );
    let file = dir.path().join("run.txt");
    std::fs::write(&file, "not a run").unwrap();
    let error = fineface_train::RunFolder::open(&file)
        .unwrap_err()
        .to_string();
    assert_eq!(
        error,
        format!(
            "{}: a file, not a run folder (runs/<experiment>/run-NNN, holding config.toml and \
             run.json)",
            file.display()
        )
    );
}

/// Settings a new user writes that name nothing or no device could hold: each refused at
/// load, naming the key (sizes beyond these aborted the process at the first allocation).
#[test]
fn settings_that_name_nothing_or_fit_no_device_are_named() {
    let dir = tempfile::tempdir().unwrap();
    let base = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../configs/synthface.toml"),
    )
    .unwrap();
    let error = |edit: &dyn Fn(&str) -> String| {
        let path = dir.path().join("edited.toml");
        std::fs::write(&path, edit(&base)).unwrap();
        ExperimentConfig::from_file(&path).unwrap_err().to_string()
    };
    for (from, to, says) in [
        (
            "head_width = 128",
            "head_width = 100000000",
            "model.head_width = 100000000 is more than 16384",
        ),
        (
            "width = 16",
            "width = 100000000",
            "model.width = 100000000 is more than 1024",
        ),
        (
            "resize = 68",
            "resize = 100000000",
            "transform.resize = 100000000 is more than 4096",
        ),
        (
            "root = \"data/synthface\"",
            "root = \"~/faces\"",
            "data.root = ~/faces: `~` is not expanded in a config file",
        ),
        (
            "root = \"data/synthface\"",
            "root = \"\"",
            "data.root is empty",
        ),
    ] {
        let e = error(&|text: &str| text.replacen(from, to, 1));
        assert!(e.contains(says), "{to}: {e}");
    }
    let manifest = |target: &str, sensitive: &str| -> Box<dyn Fn(&str) -> String> {
        let data = format!(
            "kind = \"manifest\"\nroot = \"data\"\ntarget = \"{target}\"\nsensitive = {sensitive}"
        );
        Box::new(move |text: &str| {
            text.replacen("kind = \"synthface\"\nroot = \"data/synthface\"", &data, 1)
        })
    };
    assert!(error(&*manifest("smile", "[]")).contains("data.sensitive is empty"));
    assert!(error(&*manifest("", "[\"skin\"]")).contains("data.target is empty"));
    assert!(error(&*manifest("smile", "[\"\"]")).contains("holds an empty name"));
    // A value of the wrong type inside the tagged `[data]` table names its key.
    let e = error(&*manifest("smile", "\"race\""));
    assert!(
        e.contains("data.sensitive: invalid type: string \"race\", expected a sequence"),
        "{e}"
    );
    let e = error(&*manifest("smile", "[\"race\"]\nsplit_column = \"s\""));
    assert!(e.contains("[data]: unknown field `split_column`"), "{e}");
}
