//! `bench detect`: `fineface-detect`'s MTCNN beside facenet-pytorch's on the same photos.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::Context;

use super::BenchArgs;
use super::result::CaseResult;
use super::rounds::{Timing, alternate};
use crate::cargo::{Target, build_release, workspace_root};

impl BenchArgs {
    pub(super) fn detect(
        &self,
        photos: &Path,
        weights: &Path,
        rounds: usize,
    ) -> anyhow::Result<CaseResult> {
        let photos = photo_files(photos)?;
        let ours_exe = build_release("fineface-detect", Target::Example("bench_detect"), &[])?;
        let mut ours = Command::new(&ours_exe);
        ours.arg("--weights")
            .arg(weights)
            .args(["--rounds", &rounds.to_string()])
            .args(&photos);
        let mut reference = Command::new(&self.python);
        reference
            .arg(workspace_root().join("tools/reference/bench_mtcnn_torch.py"))
            .args(["--rounds", &rounds.to_string()])
            .args(&photos);
        let rounds = alternate(
            "detect",
            self.repeat,
            Timing::Printed,
            &mut ours,
            &mut reference,
        )?;
        let faces = |stdout: &str| -> Option<u64> {
            serde_json::from_str::<serde_json::Value>(stdout.trim()).ok()?["faces"].as_u64()
        };
        CaseResult::summarise(
            "detect_round".to_owned(),
            &rounds,
            format!(
                "MTCNN over {} photos per round (every face, facenet-pytorch's defaults), Flex \
                 on the CPU beside facenet-pytorch 2.6.0 on torch CPU; faces found: reference {}",
                photos.len(),
                faces(&rounds.reference_stdout).map_or("?".to_owned(), |n| n.to_string()),
            ),
        )
    }
}

/// The `.jpg`/`.jpeg`/`.png` files of a folder, sorted, or the one file given.
fn photo_files(path: &Path) -> anyhow::Result<Vec<PathBuf>> {
    if path.is_file() {
        return Ok(vec![path.to_owned()]);
    }
    let mut photos: Vec<PathBuf> = std::fs::read_dir(path)
        .with_context(|| format!("cannot read the photo folder {}", path.display()))?
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|p| {
            p.is_file()
                && p.extension().and_then(|e| e.to_str()).is_some_and(|e| {
                    matches!(e.to_ascii_lowercase().as_str(), "jpg" | "jpeg" | "png")
                })
        })
        .collect();
    photos.sort();
    anyhow::ensure!(
        !photos.is_empty(),
        "no .jpg, .jpeg or .png photo in {}",
        path.display()
    );
    Ok(photos)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn photos_are_the_images_of_the_folder_in_order() {
        let dir = tempfile::tempdir().unwrap();
        for name in ["b.JPG", "a.png", "c.jpeg", "notes.txt", "d.jpg.bak"] {
            std::fs::write(dir.path().join(name), b"").unwrap();
        }
        std::fs::create_dir(dir.path().join("sub.jpg")).unwrap();
        let names: Vec<String> = photo_files(dir.path())
            .unwrap()
            .iter()
            .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
            .collect();
        assert_eq!(names, ["a.png", "b.JPG", "c.jpeg"]);
        let one = dir.path().join("a.png");
        assert_eq!(photo_files(&one).unwrap(), vec![one]);
    }

    #[test]
    fn a_folder_without_photos_is_refused_by_name() {
        let dir = tempfile::tempdir().unwrap();
        let error = photo_files(dir.path()).unwrap_err().to_string();
        assert!(error.contains("no .jpg, .jpeg or .png photo"), "{error}");
        let missing = dir.path().join("absent");
        assert!(
            photo_files(&missing)
                .unwrap_err()
                .to_string()
                .contains("absent")
        );
    }
}
