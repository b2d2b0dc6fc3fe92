//! `cargo xtask data check` on the real samples in ../shared/data.

#![allow(clippy::unwrap_used)] // Tests panic on failure by design.

use std::process::Command;

mod common;

use common::repo;

#[test]
fn shared_data_check_utkface_writes_the_documented_json() {
    let json = std::env::temp_dir().join(format!("fineface-check-{}.json", std::process::id()));
    let output = Command::new(env!("CARGO_BIN_EXE_xtask"))
        .args([
            "data",
            "check",
            "utkface",
            "--root",
            "../shared/data/utkface",
            "--json",
        ])
        .arg(&json)
        .current_dir(repo())
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    std::fs::remove_file(&json).unwrap();
    assert_eq!(report["dataset"], "utkface");
    assert_eq!(report["n_skipped"], 0);
    let total: u64 = ["train", "val", "test"]
        .iter()
        .map(|s| report["splits"][s]["n"].as_u64().unwrap())
        .sum();
    assert_eq!(total, 3000);
    assert_eq!(report["splits"]["train"]["groups"]["Black|Female"], 216);
    assert_eq!(report["splits"]["test"]["targets"]["Female"], 300);
    assert_eq!(report["image_sizes"]["200x200"], 3000);
    // The markdown table keeps each compound group in its cell.
    let stdout = String::from_utf8_lossy(&output.stdout);
    let table: Vec<&str> = stdout.lines().filter(|l| l.starts_with('|')).collect();
    assert!(table.len() >= 5, "{stdout}");
    for line in table {
        assert_eq!(line.replace("\\|", "").matches('|').count(), 5, "{line}");
    }
    assert!(stdout.contains("Black\\|Female 216"), "{stdout}");
}

#[test]
fn shared_data_check_fairface_without_images_fails_and_says_why() {
    let output = Command::new(env!("CARGO_BIN_EXE_xtask"))
        .args([
            "data",
            "check",
            "fairface",
            "--root",
            "../shared/data/fairface-labels-only",
        ])
        .current_dir(repo())
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains(
            "fairface: no image listed in fairface_label_train.csv and fairface_label_val.csv \
             (97698 listed, the first `train/1.jpg`) in"
        ) && stderr.contains("holds 2 files such as fairface_label_train.csv")
            && stderr.contains("FairFace is published at"),
        "{stderr}"
    );
}

#[test]
fn check_of_a_missing_dataset_names_the_expected_files() {
    let output = Command::new(env!("CARGO_BIN_EXE_xtask"))
        .args(["data", "check", "celeba", "--root", "/nonexistent/celeba"])
        .current_dir(repo())
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("celeba: the dataset folder `/nonexistent/celeba` does not exist ("),
        "{stderr}"
    );
    assert!(stderr.contains("mmlab.ie.cuhk.edu.hk"), "{stderr}");
}

#[test]
fn check_warns_when_a_carved_split_is_empty_and_says_why() {
    // 2 images per target x group stratum (headers are not read with --no-sizes): 20 % and
    // 10 % of 2 round to 0, so the carved test and val splits are empty.
    let dir = tempfile::tempdir().unwrap();
    let folder = dir.path().join("UTKFace");
    std::fs::create_dir_all(&folder).unwrap();
    for race in 0..4 {
        for gender in 0..2 {
            for i in 0..2 {
                let name =
                    format!("2{i}_{gender}_{race}_20170116174525{i}{race}{gender}.jpg.chip.jpg");
                std::fs::write(folder.join(name), b"").unwrap();
            }
        }
    }
    let output = Command::new(env!("CARGO_BIN_EXE_xtask"))
        .args(["data", "check", "utkface", "--no-sizes", "--root"])
        .arg(dir.path())
        .current_dir(repo())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "usable for evaluation: {stdout}");
    for split in ["val", "test"] {
        assert!(
            stdout.contains(&format!(
                "warning: the {split} split is empty, so training refuses this dataset: there is \
                 no official {split} split"
            )),
            "{stdout}"
        );
    }
    assert!(stdout.contains("raise split.test_fraction"), "{stdout}");
}

/// A manifest of the user's own columns is checked by naming them; a flag the kind has no
/// setting for is refused, saying why.
#[test]
fn check_of_a_manifest_takes_its_columns_from_the_flags() {
    let dir = tempfile::tempdir().unwrap();
    let mut csv = String::from("file,smile,skin,split\n");
    for i in 0..8 {
        std::fs::write(dir.path().join(format!("{i}.jpg")), b"").unwrap();
        let split = ["train", "train", "val", "test"][i % 4];
        csv.push_str(&format!(
            "{i}.jpg,{},{},{split}\n",
            i % 2,
            ["dark", "light"][i / 4]
        ));
    }
    std::fs::write(dir.path().join("faces.csv"), csv).unwrap();
    let check = |flags: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_xtask"))
            .args(["data", "check", "--no-sizes", "--root"])
            .arg(dir.path())
            .args(flags)
            .current_dir(repo())
            .output()
            .unwrap()
    };
    let columns = [
        "manifest",
        "--csv",
        "faces.csv",
        "--target",
        "smile",
        "--sensitive",
        "skin",
    ];
    let output = check(&columns);
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    // The path column is `file`, not the default `path`: named as missing.
    assert!(!output.status.success());
    assert!(
        stderr.contains("missing column `path`") && stderr.contains("--path-column"),
        "{stdout}{stderr}"
    );
    let named = check(&[&columns[..], &["--path-column", "file"]].concat());
    assert!(
        named.status.success(),
        "{}",
        String::from_utf8_lossy(&named.stderr)
    );
    let fixed = std::fs::read_to_string(dir.path().join("faces.csv"))
        .unwrap()
        .replacen("file,", "path,", 1);
    std::fs::write(dir.path().join("faces.csv"), fixed).unwrap();
    let output = check(&columns);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(stdout.contains("target `smile`, groups skin"), "{stdout}");
    let output = check(&[
        "manifest",
        "--csv",
        "faces.csv",
        "--target",
        "smile",
        "--sensitive",
        " skin ",
    ]);
    assert!(
        output.status.success(),
        "a name with spaces around it is the column"
    );
    let output = check(&["manifest", "--csv", "faces.csv", "--sensitive", ""]);
    assert!(
        String::from_utf8_lossy(&output.stderr).contains("names an empty column"),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let output = check(&["imagefolder", "--sensitive", "race"]);
    assert!(
        String::from_utf8_lossy(&output.stderr).contains("give it with --csv"),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let output = check(&["fairface", "--sensitive", "race"]);
    assert!(!output.status.success());
    assert!(
        String::from_utf8_lossy(&output.stderr).contains(
            "--sensitive does not apply to fairface: its groups are fixed (race x gender)"
        ),
    );
}
