//! Repository-wide rules, checked as ordinary tests.

#![allow(clippy::unwrap_used)] // Test helpers panic on broken fixtures by design.

use std::path::{Path, PathBuf};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

fn crates() -> Vec<PathBuf> {
    let mut crates: Vec<PathBuf> = std::fs::read_dir(repo().join("crates"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.join("Cargo.toml").exists())
        .collect();
    crates.sort();
    crates
}

#[test]
fn every_crate_has_a_readme() {
    for krate in crates() {
        assert!(
            krate.join("README.md").exists(),
            "{} has no README.md",
            krate.display()
        );
    }
}

#[test]
fn libraries_log_with_tracing_not_print() {
    for krate in crates() {
        let mut files = Vec::new();
        rust_files(&krate.join("src"), &mut files);
        // Binaries (`src/bin/`) print their results; the libraries log.
        for file in files
            .into_iter()
            .filter(|f| !f.components().any(|c| c.as_os_str() == "bin"))
        {
            let text = std::fs::read_to_string(&file).unwrap();
            for (i, line) in text.lines().enumerate() {
                let code = line.trim_start();
                if code.starts_with("//") {
                    continue;
                }
                for banned in ["println!", "eprintln!", "dbg!("] {
                    assert!(
                        !code.contains(banned),
                        "{}:{}: `{banned}` in a library; use tracing",
                        file.display(),
                        i + 1
                    );
                }
            }
        }
    }
}

#[test]
fn burn_is_pinned_exactly() {
    let manifest = std::fs::read_to_string(repo().join("Cargo.toml")).unwrap();
    for krate in ["burn", "burn-dataset", "burn-store"] {
        let line = manifest
            .lines()
            .find(|l| l.starts_with(&format!("{krate} = ")))
            .unwrap_or_else(|| panic!("{krate} missing from [workspace.dependencies]"));
        assert!(
            line.contains("\"=0.21.0\""),
            "{krate} is not pinned to =0.21.0: {line}"
        );
    }
}

#[test]
fn no_dataset_files_are_committed() {
    // Research-only licences: face data is read from ../shared/data at run time.
    let output = std::process::Command::new("git")
        .args(["ls-files"])
        .current_dir(repo())
        .output();
    let Ok(output) = output else { return };
    let files = String::from_utf8_lossy(&output.stdout);
    for file in files.lines() {
        let lower = file.to_lowercase();
        assert!(
            !(lower.ends_with(".chip.jpg")
                || lower.contains("img_align_celeba/")
                || lower.ends_with("fairface_label_train.csv")
                || lower.ends_with("fairface_label_val.csv")),
            "{file} looks like a copy of a research-only dataset"
        );
    }
}

#[test]
fn ci_runs_the_readme_test_command() {
    let readme = std::fs::read_to_string(repo().join("README.md")).unwrap();
    let ci = std::fs::read_to_string(repo().join(".ci/run")).unwrap();
    let test_line = readme
        .lines()
        .take(6)
        .find(|l| l.ends_with("# tests"))
        .expect("the README's first lines give the test command, marked `# tests`");
    let command = test_line.trim_end_matches("# tests").trim();
    assert!(
        ci.lines().any(|l| l.trim() == command),
        ".ci/run does not run the README's test command `{command}`"
    );
}
