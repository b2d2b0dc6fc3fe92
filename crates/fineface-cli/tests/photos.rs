//! The raw-photo commands through the `fineface` binary, on the real photos and faces of
//! `../shared` and on photos made from them: `predict --detect` (every face found, aligned
//! and classified; `faces.csv`; annotated pictures), `align` (a dataset of photos into chips,
//! resumable and deterministic) and `eval --detect` (the same predictions as `align` then
//! `eval`), and every difficult kind of photo: EXIF orientations 1-8, grayscale 8 and 16
//! bit, 16-bit RGB, RGBA, CMYK, 8000 x 6000 px, 30 x 30 and 1 x 1 px, 40 faces, none,
//! truncated, empty and not an image.

#![allow(clippy::unwrap_used)] // Tests panic on failure by design.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Output;

use burn::backend::Flex;
use fineface_data::formats::utkface::parse_name;
use fineface_train::photos::{Classifier, FaceFinder, FaceSettings};
use fineface_train::{Method, RunFolder};
use image::{DynamicImage, Rgb, RgbImage};

#[path = "../../fineface-train/tests/common/mod.rs"]
mod common;

use common::{assert_documented, files_under};

const SHARED: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared");

fn shared(path: &str) -> PathBuf {
    let path = Path::new(SHARED).join(path);
    assert!(
        path.exists(),
        "{} is missing: these tests read the project's ../shared folder",
        path.display()
    );
    path
}

fn mtcnn() -> PathBuf {
    shared("weights/mtcnn")
}

/// A tiny FineFACE run on SynthFace (classes `no` and `yes`, images resized to 34 px), trained
/// once for every test of this file.
fn run() -> &'static Path {
    common::trained_once(Method::FineFace)
}

/// `fineface <args>`, its output; panics with both streams if it fails and `ok` is set.
fn fineface(args: &[&str], ok: bool) -> Output {
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_fineface"))
        .args(args)
        .output()
        .unwrap();
    assert_eq!(
        output.status.success(),
        ok,
        "fineface {args:?}:\n{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    output
}

fn text(path: &Path) -> &str {
    path.to_str().unwrap()
}

/// `faces.csv`'s rows as column -> value maps.
fn faces_csv(path: &Path) -> Vec<HashMap<String, String>> {
    let mut reader = csv::Reader::from_path(path).unwrap();
    let header: Vec<String> = reader
        .headers()
        .unwrap()
        .iter()
        .map(str::to_owned)
        .collect();
    let classes = ["no".to_owned(), "yes".to_owned()];
    assert_eq!(header, fineface_train::photos::faces_csv_header(&classes));
    assert_eq!(header[header.len() - 3..], ["p_no", "p_yes", "note"]);
    reader
        .records()
        .map(|r| {
            header
                .iter()
                .cloned()
                .zip(r.unwrap().iter().map(str::to_owned))
                .collect()
        })
        .collect()
}

fn rows_of<'a>(
    rows: &'a [HashMap<String, String>],
    photo: &Path,
) -> Vec<&'a HashMap<String, String>> {
    rows.iter().filter(|r| r["image"] == text(photo)).collect()
}

fn number(row: &HashMap<String, String>, column: &str) -> f32 {
    row[column].parse().unwrap()
}

/// Intersection over union of two rows' boxes.
fn iou(a: &HashMap<String, String>, b: &HashMap<String, String>) -> f32 {
    let edges = |r| ["x1", "y1", "x2", "y2"].map(|c| number(r, c));
    let ([ax1, ay1, ax2, ay2], [bx1, by1, bx2, by2]) = (edges(a), edges(b));
    let inter = (ax2.min(bx2) - ax1.max(bx1)).max(0.0) * (ay2.min(by2) - ay1.max(by1)).max(0.0);
    inter / ((ax2 - ax1) * (ay2 - ay1) + (bx2 - bx1) * (by2 - by1) - inter)
}

/// The first `n` UTKFace faces (200 x 200 aligned crops) with their gender as `F` or `M`.
fn utk_faces(n: usize) -> Vec<(RgbImage, &'static str)> {
    let dir = shared("data/utkface/UTKFace");
    let mut names: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    names
        .iter()
        .filter_map(|name| {
            let labels = parse_name(name).ok()?;
            let image = fineface_data::open_image(&dir.join(name)).ok()?.into_rgb8();
            Some((image, if labels.gender == "Female" { "F" } else { "M" }))
        })
        .take(n)
        .collect()
}

/// `face` pasted at (`x`, `y`) on a grey `width x height` canvas.
fn on_canvas(faces: &[(&RgbImage, u32, u32)], width: u32, height: u32) -> RgbImage {
    let mut canvas = RgbImage::from_pixel(width, height, Rgb([118, 120, 124]));
    for (face, x, y) in faces {
        image::imageops::overlay(&mut canvas, *face, i64::from(*x), i64::from(*y));
    }
    canvas
}

fn portrait() -> RgbImage {
    fineface_data::open_image(&shared("data/photos/Tom_Cruise_avp_2014_4.jpg"))
        .unwrap()
        .into_rgb8()
}

#[test]
fn every_file_and_column_of_a_fineface_run_is_documented() {
    // Other tests write eval-* and photos/ into the shared run meanwhile: the files of
    // training alone.
    let files: Vec<PathBuf> = files_under(run())
        .into_iter()
        .filter(|f| {
            let first = f.iter().next().unwrap().to_string_lossy();
            f.iter().count() == 1 || first == "checkpoints" || first == "test"
        })
        .collect();
    assert!(files.iter().any(|f| f.ends_with("crops.png")), "{files:?}");
    let info = RunFolder::open(run()).unwrap().info;
    assert_documented(run(), &files, &info.classes, &info.sensitive);
}

#[test]
fn predict_detect_finds_aligns_classifies_and_draws_every_face_of_the_shared_photos() {
    let out = tempfile::tempdir().unwrap();
    let photos = shared("data/photos");
    let output = fineface(
        &[
            "predict",
            "--run",
            text(run()),
            "--detect",
            text(&photos),
            "--out",
            text(out.path()),
            "--mtcnn",
            text(&mtcnn()),
            "--quiet",
        ],
        true,
    );
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(stdout.starts_with("5 photos: "), "{stdout}");
    let rows = faces_csv(&out.path().join("faces.csv"));
    let classes = ["no".to_owned(), "yes".to_owned()];
    assert_documented(out.path(), &files_under(out.path()), &classes, &[]);

    // The same faces and classes as the library's finder and classifier give.
    let device = Default::default();
    let folder = RunFolder::open(run()).unwrap();
    let finder = FaceFinder::<Flex>::new(FaceSettings::new(mtcnn(), 34), &device).unwrap();
    let model = folder.load_model::<Flex>(&device).unwrap();
    let crop = folder.crop();
    let classifier = Classifier {
        model: &*model,
        transform: &folder.config.transform,
        crop: &crop,
        classes: &folder.info.classes,
        device: &device,
    };
    let mut total = 0;
    let mut paths: Vec<_> = std::fs::read_dir(&photos)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "jpg"))
        .collect();
    paths.sort();
    assert_eq!(paths.len(), 5);
    for path in &paths {
        let photo = fineface_data::open_image(path).unwrap().into_rgb8();
        let found = finder.faces(&photo).unwrap();
        let chips: Vec<_> = found
            .iter()
            .map(|f| DynamicImage::ImageRgb8(f.chip.clone()))
            .collect();
        let predictions = classifier.classify(&chips).unwrap();
        let written = rows_of(&rows, path);
        assert_eq!(written.len(), found.len().max(1), "{}", path.display());
        for (k, (f, p)) in found.iter().zip(&predictions).enumerate() {
            let row = written[k];
            assert_eq!(row["face"], k.to_string());
            let b = f.face.bbox;
            for (column, value) in [("x1", b.x1), ("y1", b.y1), ("x2", b.x2), ("y2", b.y2)] {
                assert!(
                    (number(row, column) - value).abs() <= 0.005,
                    "{column} of {row:?}"
                );
            }
            let eye = f.face.landmarks.left_eye;
            assert!((number(row, "left_eye_x") - eye.x).abs() <= 0.005);
            assert!((number(row, "score") - f.face.probability).abs() <= 1e-6);
            assert_eq!(row["prediction"], p.label);
            // Every class's probability; P(yes) is scikit-learn's predict_proba[:, 1].
            assert!((number(row, "p_no") - p.probabilities[0]).abs() <= 1e-6);
            assert!((number(row, "p_yes") - p.probabilities[1]).abs() <= 1e-6);
            assert!((number(row, "p_no") + number(row, "p_yes") - 1.0).abs() <= 2e-6);
            let larger = if p.probabilities[1] > p.probabilities[0] {
                "yes"
            } else {
                "no"
            };
            assert_eq!(p.label, larger);
            assert!(row["note"].is_empty());
        }
        total += found.len();
        let stem = path.file_stem().unwrap().to_str().unwrap();
        let svg =
            std::fs::read_to_string(out.path().join(format!("annotated/{stem}.svg"))).unwrap();
        assert!(svg.contains("data:image/jpeg;base64,"));
        assert_eq!(svg.matches("<rect").count(), found.len(), "{stem}");
        assert_eq!(svg.matches("<circle").count(), 5 * found.len(), "{stem}");
        assert_eq!(svg.matches("<text").count(), found.len(), "{stem}");
    }
    // facenet-pytorch finds 17 of the 18 hand-drawn faces (and a few more people).
    assert!(total >= 17, "{total} faces");
}

/// A JPEG with an EXIF APP1 segment holding only the orientation tag, as a phone writes it.
fn exif_jpeg(image: &RgbImage, orientation: u16) -> Vec<u8> {
    let mut jpeg = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut jpeg, 95)
        .encode_image(image)
        .unwrap();
    let mut tiff = b"MM\x00\x2a\x00\x00\x00\x08\x00\x01\x01\x12\x00\x03\x00\x00\x00\x01".to_vec();
    tiff.extend_from_slice(&orientation.to_be_bytes());
    tiff.extend_from_slice(&[0, 0, 0, 0, 0, 0]); // value padding, no next IFD
    let mut app1 = b"Exif\x00\x00".to_vec();
    app1.extend(tiff);
    let mut out = jpeg[..2].to_vec();
    out.extend_from_slice(&[0xFF, 0xE1]);
    out.extend_from_slice(&((app1.len() + 2) as u16).to_be_bytes());
    out.extend(app1);
    out.extend_from_slice(&jpeg[2..]);
    out
}

/// What a camera stores so that a viewer applying `orientation` shows `upright`.
fn stored_for(upright: &RgbImage, orientation: u16) -> RgbImage {
    use image::imageops::{flip_horizontal, flip_vertical, rotate90, rotate180, rotate270};
    match orientation {
        2 => flip_horizontal(upright),
        3 => rotate180(upright),
        4 => flip_vertical(upright),
        5 => flip_horizontal(&rotate90(upright)),
        6 => rotate270(upright),
        7 => flip_horizontal(&rotate270(upright)),
        8 => rotate90(upright),
        _ => upright.clone(),
    }
}

#[test]
fn difficult_photos_get_an_answer_never_a_panic() {
    let dir = tempfile::tempdir().unwrap();
    let photos = dir.path().join("photos");
    std::fs::create_dir(&photos).unwrap();
    let path = |name: &str| photos.join(name);
    let small =
        image::imageops::resize(&portrait(), 250, 250, image::imageops::FilterType::Triangle);
    // Every EXIF orientation of the same portrait.
    for orientation in 1..=8 {
        std::fs::write(
            path(&format!("exif{orientation}.jpg")),
            exif_jpeg(&stored_for(&small, orientation), orientation),
        )
        .unwrap();
    }
    // Other pixel formats of the same portrait.
    small.save(path("rgb8.png")).unwrap();
    DynamicImage::ImageRgb8(small.clone())
        .into_luma8()
        .save(path("gray8.png"))
        .unwrap();
    DynamicImage::ImageRgb8(small.clone())
        .into_luma16()
        .save(path("gray16.png"))
        .unwrap();
    DynamicImage::ImageRgb8(small.clone())
        .into_rgb16()
        .save(path("rgb16.png"))
        .unwrap();
    DynamicImage::ImageRgb8(small.clone())
        .into_rgba8()
        .save(path("rgba.png"))
        .unwrap();
    std::fs::copy(
        concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/cmyk.jpg"),
        path("cmyk.jpg"),
    )
    .unwrap();
    // Sizes: tiny, one pixel, 8000 x 6000 (the portrait scaled up into it).
    RgbImage::from_pixel(30, 30, Rgb([200, 150, 120]))
        .save(path("tiny.png"))
        .unwrap();
    RgbImage::from_pixel(1, 1, Rgb([200, 150, 120]))
        .save(path("one_px.png"))
        .unwrap();
    let big = image::imageops::resize(&small, 6000, 6000, image::imageops::FilterType::Triangle);
    on_canvas(&[(&big, 1000, 0)], 8000, 6000)
        .save(path("huge.jpg"))
        .unwrap();
    // Forty faces, and none.
    let faces = utk_faces(40);
    let placed: Vec<_> = faces
        .iter()
        .enumerate()
        .map(|(i, (f, _))| (f, (i as u32 % 8) * 220 + 10, (i as u32 / 8) * 220 + 10))
        .collect();
    on_canvas(&placed, 8 * 220, 5 * 220)
        .save(path("forty.png"))
        .unwrap();
    RgbImage::from_pixel(640, 480, Rgb([90, 90, 90]))
        .save(path("blank.jpg"))
        .unwrap();
    // Files that are not whole images.
    let bytes = std::fs::read(path("exif1.jpg")).unwrap();
    std::fs::write(path("truncated.jpg"), &bytes[..bytes.len() / 2]).unwrap();
    std::fs::write(path("empty.jpg"), b"").unwrap();
    std::fs::write(path("text.png"), b"not an image at all").unwrap();
    // A link to nothing, a link loop, and a few hundred bytes claiming 65000 x 65000 px.
    std::os::unix::fs::symlink(path("gone.jpg"), path("ghost.jpg")).unwrap();
    std::os::unix::fs::symlink(&photos, path("loop")).unwrap();
    let mut bomb = std::fs::read(path("exif1.jpg")).unwrap();
    let sof = bomb.windows(2).position(|w| w == [0xFF, 0xC0]).unwrap();
    bomb[sof + 5..sof + 9].copy_from_slice(&[0xFD, 0xE8, 0xFD, 0xE8]);
    std::fs::write(path("bomb.jpg"), bomb).unwrap();
    // A format this build does not decode, in a folder: listed, not passed over.
    std::fs::write(path("phone.HEIC"), b"\0\0\0\x18ftypheic\0\0\0\0mif1heic").unwrap();

    let out = dir.path().join("out");
    let output = fineface(
        &[
            "predict",
            "--run",
            text(run()),
            "--detect",
            text(&photos),
            "--out",
            text(&out),
            "--mtcnn",
            text(&mtcnn()),
            "--quiet",
        ],
        true,
    );
    let stdout = String::from_utf8_lossy(&output.stdout);
    let rows = faces_csv(&out.join("faces.csv"));
    let one = |name: &str| {
        let found = rows_of(&rows, &path(name));
        assert_eq!(found.len(), 1, "{name}: {found:?}\n{stdout}");
        found[0].clone()
    };
    // Every orientation shows the same upright face where orientation 1 has it.
    let upright = one("exif1.jpg");
    assert!(upright["note"].is_empty(), "{upright:?}");
    for orientation in 2..=8 {
        let row = one(&format!("exif{orientation}.jpg"));
        for column in ["x1", "y1", "x2", "y2", "left_eye_x", "left_eye_y", "nose_y"] {
            let (a, b) = (number(&row, column), number(&upright, column));
            assert!(
                (a - b).abs() <= 3.0,
                "orientation {orientation}: {column} {a} against {b}"
            );
        }
    }
    // The 16-bit PNG holds the 8-bit values exactly: the same face to the bit.
    let (rgb8, rgb16) = (one("rgb8.png"), one("rgb16.png"));
    for column in [
        "x1",
        "y1",
        "x2",
        "y2",
        "score",
        "prediction",
        "p_no",
        "p_yes",
    ] {
        assert_eq!(rgb8[column], rgb16[column], "{column}");
    }
    assert_eq!(one("rgba.png")["x1"], rgb8["x1"]);
    for name in ["gray8.png", "gray16.png"] {
        let row = one(name);
        assert!(row["note"].is_empty(), "{name}: {row:?}");
        // Gray is another picture to the network: the same face, boxed a few pixels apart.
        assert!(iou(&row, &rgb8) >= 0.85, "{name}: {row:?} against {rgb8:?}");
    }
    assert_eq!(one("gray8.png")["x1"], one("gray16.png")["x1"]);
    // The big photo: the face found at its place in the photo's own pixels (24 times the
    // small portrait's, moved 1000 px right).
    let huge = one("huge.jpg");
    assert!(huge["note"].is_empty(), "{huge:?}");
    for (column, shift) in [("x1", 1000.0), ("y1", 0.0), ("x2", 1000.0), ("y2", 0.0)] {
        let expected = number(&rgb8, column) * 24.0 + shift;
        let got = number(&huge, column);
        assert!(
            (got - expected).abs() <= 0.05 * 24.0 * 100.0,
            "{column}: {got} against {expected}"
        );
    }
    // Forty faces: each found, boxed and classified.
    let forty = rows_of(&rows, &path("forty.png"));
    assert_eq!(forty.len(), 40, "{stdout}");
    assert!(
        forty
            .iter()
            .all(|r| r["note"].is_empty() && !r["prediction"].is_empty())
    );
    let svg = std::fs::read_to_string(out.join("annotated/forty.svg")).unwrap();
    assert_eq!(svg.matches("<rect").count(), 40);
    // No face: listed with the reason.
    for name in ["blank.jpg", "tiny.png", "one_px.png", "cmyk.jpg"] {
        let row = one(name);
        assert!(row["note"].starts_with("no face found"), "{name}: {row:?}");
        assert!(row["face"].is_empty() && row["prediction"].is_empty());
    }
    // Not whole images: listed as unreadable with the cause.
    for (name, cause) in [
        ("truncated.jpg", "truncated"),
        ("empty.jpg", "empty"),
        ("text.png", "not an image in a format this build reads"),
        ("phone.HEIC", "HEIC and AVIF need converting"),
        ("ghost.jpg", "a link to `"),
        ("bomb.jpg", "above the 179-megapixel limit"),
    ] {
        let row = one(name);
        assert!(
            row["note"].starts_with("unreadable: ") && row["note"].contains(cause),
            "{name}: {row:?}"
        );
        assert!(
            stdout.contains(&format!("{}: unreadable", path(name).display())),
            "{stdout}"
        );
    }
    assert!(
        stdout.starts_with("25 photos: 54 faces classified, 4 without a face, 6 unreadable"),
        "{stdout}"
    );
    // The broken link names where it points, and the log says it once (as unreadable, not
    // first as a folder-walk error).
    assert!(one("ghost.jpg")["note"].contains("gone.jpg`, which is absent"));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(stderr.matches("ghost.jpg").count(), 1, "{stderr}");
    // The link loop is not followed, and said, naming the link and where it points.
    assert!(
        stderr.contains(&format!(
            "{}: File system loop found: {} points to an ancestor {}",
            path("loop").display(),
            path("loop").display(),
            photos.display()
        )),
        "{stderr}"
    );
}

#[test]
fn a_cmyk_jpeg_decodes_to_its_colours() {
    let image = fineface_data::open_image(Path::new(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/data/cmyk.jpg"
    )))
    .unwrap()
    .into_rgb8();
    assert_eq!(image.dimensions(), (64, 48));
    for ((x, y), expected) in [
        ((5, 5), [220, 30, 30]),
        ((60, 5), [30, 180, 40]),
        ((32, 24), [30, 40, 200]),
    ] {
        let got = image.get_pixel(x, y).0;
        for c in 0..3 {
            assert!(
                (i32::from(got[c]) - expected[c]).abs() <= 12,
                "({x}, {y}): {got:?} against {expected:?}"
            );
        }
    }
}

#[test]
fn paths_that_are_not_photos_are_errors_naming_them() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("no-such.jpg");
    let output = fineface(
        &[
            "predict",
            "--run",
            text(run()),
            "--detect",
            text(&missing),
            "--mtcnn",
            text(&mtcnn()),
        ],
        false,
    );
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains(&format!("{}: no such photo or folder", missing.display())),
        "{stderr}"
    );
    let empty = dir.path().join("empty");
    std::fs::create_dir(&empty).unwrap();
    std::fs::write(empty.join("notes.txt"), "x").unwrap();
    let output = fineface(
        &[
            "predict",
            "--run",
            text(run()),
            "--detect",
            text(&empty),
            "--mtcnn",
            text(&mtcnn()),
        ],
        false,
    );
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("no photo (.jpg, .jpeg, .png, ...) in this folder"),
        "{stderr}"
    );
    // Weights that are not there: named, with where to get them.
    let output = fineface(
        &[
            "predict",
            "--run",
            text(run()),
            "--detect",
            text(&shared("data/photos")),
            "--mtcnn",
            text(dir.path()),
        ],
        false,
    );
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("pnet.pt") && stderr.contains("pip download"),
        "{stderr}"
    );
    // Without --detect: each image answered or named, a tiny one with a warning.
    let tiny = dir.path().join("tiny.png");
    RgbImage::from_pixel(1, 1, Rgb([9, 9, 9]))
        .save(&tiny)
        .unwrap();
    std::fs::write(dir.path().join("broken.jpg"), b"\xff\xd8").unwrap();
    let output = fineface(
        &[
            "predict",
            "--run",
            text(run()),
            text(&tiny),
            text(&dir.path().join("broken.jpg")),
        ],
        false,
    );
    let (stdout, stderr) = (
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr),
    );
    // The table's header, then the readable image's row; the unreadable one is on stderr.
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 2, "{stdout}");
    assert!(
        lines[0] == "image\tprediction\tp_no\tp_yes"
            && lines[1].starts_with(&format!("{}\t", tiny.display())),
        "{stdout}"
    );
    assert!(stderr.contains("1 x 1 px, far below the 32 px"), "{stderr}");
    assert!(
        stderr.contains("broken.jpg: not an image in a format this build reads"),
        "{stderr}"
    );
    assert!(
        stderr.contains("1 of 2 images could not be read"),
        "{stderr}"
    );
    // Only unreadable photos: a failure, each named.
    std::fs::write(dir.path().join("bad.jpg"), b"").unwrap();
    let output = fineface(
        &[
            "predict",
            "--run",
            text(run()),
            "--detect",
            text(&dir.path().join("bad.jpg")),
            "--mtcnn",
            text(&mtcnn()),
            "--out",
            text(&dir.path().join("o")),
        ],
        false,
    );
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("none of the 1 photos could be read"),
        "{stderr}"
    );
}

/// A labelled dataset of raw photos under `root`: UTKFace faces pasted at their own sizes
/// and places on grey canvases (PNG, so that chips cut from them are lossless), in
/// `photos/<gender>/`, one photo with two faces (the second larger), one without a face, one
/// truncated; `manifest.csv` (`path,gender,race`, the manifest's default columns, with
/// labels in the tiny run's classes: the pipeline is under test, not the classifier).
/// Returns the photos' paths relative to
/// `root`: `(faces, two_faces, blank, truncated)`.
fn raw_dataset(root: &Path, n: usize) -> (Vec<String>, String, String, String) {
    let mut manifest = String::from("path,gender,race\n");
    let mut paths = Vec::new();
    let faces = utk_faces(n + 2);
    for (i, (face, gender)) in faces.iter().take(n).enumerate() {
        let side = 120 + (i as u32 * 37) % 90;
        let face = image::imageops::resize(face, side, side, image::imageops::FilterType::Triangle);
        let (x, y) = ((i as u32 * 53) % 110, (i as u32 * 31) % 70);
        // Lossless formats under their own extensions: the chips are compared to the bit.
        let extension = ["png", "bmp", "webp", "tiff", "PNG"][i % 5];
        let path = format!("photos/{gender}/p{i:02}.{extension}");
        std::fs::create_dir_all(root.join(format!("photos/{gender}"))).unwrap();
        on_canvas(&[(&face, x, y)], 340, 300)
            .save(root.join(&path))
            .unwrap();
        manifest.push_str(&format!("{path},{},{}\n", label(gender), i % 3));
        paths.push(path);
    }
    let (a, b) = (&faces[n].0, &faces[n + 1].0);
    let small = image::imageops::resize(a, 110, 110, image::imageops::FilterType::Triangle);
    let two = "photos/M/two.png".to_owned();
    std::fs::create_dir_all(root.join("photos/M")).unwrap();
    on_canvas(&[(&small, 10, 60), (b, 200, 20)], 420, 260)
        .save(root.join(&two))
        .unwrap();
    manifest.push_str(&format!("{two},{},0\n", label("M")));
    let blank = "photos/F/blank.png".to_owned();
    std::fs::create_dir_all(root.join("photos/F")).unwrap();
    RgbImage::from_pixel(300, 300, Rgb([118, 120, 124]))
        .save(root.join(&blank))
        .unwrap();
    manifest.push_str(&format!("{blank},{},1\n", label("F")));
    let truncated = "photos/F/truncated.png".to_owned();
    let bytes = std::fs::read(root.join(&paths[0])).unwrap();
    std::fs::write(root.join(&truncated), &bytes[..bytes.len() / 3]).unwrap();
    manifest.push_str(&format!("{truncated},{},2\n", label("F")));
    std::fs::write(root.join("manifest.csv"), manifest).unwrap();
    (paths, two, blank, truncated)
}

/// `align-report.csv` by image: `[bytes, modified, faces, kept, outcome]`.
fn align_report(chips: &Path) -> HashMap<String, Vec<String>> {
    let mut reader = csv::Reader::from_path(chips.join("align-report.csv")).unwrap();
    assert_eq!(
        reader.headers().unwrap().iter().collect::<Vec<_>>(),
        ["image", "bytes", "modified", "faces", "kept", "outcome"]
    );
    reader
        .records()
        .map(|r| {
            let r = r.unwrap();
            (
                r[0].to_owned(),
                r.iter().skip(1).map(str::to_owned).collect(),
            )
        })
        .collect()
}

/// A gender as one of the tiny SynthFace run's classes.
fn label(gender: &str) -> &'static str {
    if gender == "F" { "yes" } else { "no" }
}

/// Every file under `root` but `align.json` (which counts what the last call did), by path.
fn read_tree(root: &Path) -> std::collections::BTreeMap<PathBuf, Vec<u8>> {
    walk(root)
        .into_iter()
        .map(|p| {
            (
                p.strip_prefix(root).unwrap().to_owned(),
                std::fs::read(&p).unwrap(),
            )
        })
        .filter(|(p, _)| p != Path::new("align.json"))
        .collect()
}

/// Panics naming the files that differ between two trees.
fn assert_same_tree(
    a: &std::collections::BTreeMap<PathBuf, Vec<u8>>,
    b: &std::collections::BTreeMap<PathBuf, Vec<u8>>,
) {
    let differ: Vec<_> = a
        .keys()
        .chain(b.keys())
        .filter(|k| a.get(*k) != b.get(*k))
        .collect();
    assert!(differ.is_empty(), "files differ: {differ:?}");
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            files.extend(walk(&path));
        } else {
            files.push(path);
        }
    }
    files
}

#[test]
fn align_cuts_one_chip_per_photo_resumably_and_eval_detect_scores_the_same_chips() {
    let dir = tempfile::tempdir().unwrap();
    let raw = dir.path().join("raw");
    let (faces, two, blank, truncated) = raw_dataset(&raw, 10);
    // A name that is not UTF-8 (Linux allows any bytes but `/`), outside the manifest: its
    // chip is written under the same bytes.
    let odd = {
        use std::os::unix::ffi::OsStrExt;
        raw.join("photos/M")
            .join(std::ffi::OsStr::from_bytes(b"caf\xe9 1.png"))
    };
    std::fs::copy(raw.join(&faces[0]), &odd).unwrap();
    let chips = dir.path().join("chips");
    let weights = mtcnn();
    let align = |out: &Path, workers: &str, extra: &[&str], ok: bool| {
        let mut args = vec![
            "align",
            "--root",
            text(&raw),
            "--out",
            text(out),
            "--size",
            "34",
            "--mtcnn",
            text(&weights),
            "--workers",
            workers,
            "--quiet",
        ];
        args.extend_from_slice(extra);
        fineface(&args, ok)
    };
    let output = align(&chips, "3", &[], true);
    let reports = ["align.json", "align-report.csv"].map(PathBuf::from);
    assert_documented(&chips, &reports, &[], &[]);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        stdout.starts_with("14 photos: 12 chips written, 0 kept from before, 1 with several faces (the largest kept), 1 without a face, 1 unreadable; 1 other files copied"),
        "{stdout}"
    );
    // One chip per photo with a face, at its path, at the run's size, in the format its
    // extension names; the manifest copied.
    for path in faces.iter().chain([&two]) {
        let chip = image::open(chips.join(path)).unwrap();
        assert_eq!((chip.width(), chip.height()), (34, 34), "{path}");
        let bytes = std::fs::read(chips.join(path)).unwrap();
        assert_eq!(
            image::guess_format(&bytes).unwrap(),
            image::ImageFormat::from_path(path).unwrap(),
            "{path}"
        );
    }
    let odd_chip = chips.join(odd.strip_prefix(&raw).unwrap());
    assert_eq!(image::open(&odd_chip).unwrap().width(), 34);
    assert!(!chips.join(&blank).exists() && !chips.join(&truncated).exists());
    assert_eq!(
        std::fs::read(raw.join("manifest.csv")).unwrap(),
        std::fs::read(chips.join("manifest.csv")).unwrap()
    );
    // The two-face photo's chip is its larger face's.
    let device = Default::default();
    let finder = FaceFinder::<Flex>::new(FaceSettings::new(mtcnn(), 34), &device).unwrap();
    let photo = fineface_data::open_image(&raw.join(&two))
        .unwrap()
        .into_rgb8();
    let (kept, n) = finder.main_face(&photo).unwrap().unwrap();
    assert_eq!(n, 2);
    assert!(kept.face.bbox.x1 > 150.0, "{:?}", kept.face.bbox);
    assert_eq!(
        image::open(chips.join(&two)).unwrap().into_rgb8(),
        kept.chip
    );
    // Every photo's outcome in the report, with the file's size.
    let report = align_report(&chips);
    assert_eq!(report.len(), 14, "{report:?}");
    let outcome = |image: &str| {
        let row = &report[image];
        (row[2].as_str(), row[3].as_str(), row[4].as_str())
    };
    assert_eq!(outcome("photos/M/caf\u{FFFD} 1.png"), ("1", "0", "aligned"));
    assert_eq!(outcome(&two), ("2", "1", "aligned"));
    assert_eq!(
        report[&two][0],
        std::fs::metadata(raw.join(&two)).unwrap().len().to_string()
    );
    let (faces_found, kept_index, reason) = outcome(&blank);
    assert!((faces_found, kept_index) == ("0", "") && reason.starts_with("no face found"));
    let (faces_found, _, reason) = outcome(&truncated);
    assert!(
        faces_found.is_empty() && reason.starts_with("unreadable: "),
        "{reason}"
    );

    // Resumable: nothing redone, nothing changed; a lost chip is cut again, alone.
    let before = read_tree(&chips);
    let stdout = String::from_utf8_lossy(&align(&chips, "2", &[], true).stdout).into_owned();
    assert!(
        stdout.contains(": 0 chips written, 12 kept from before"),
        "{stdout}"
    );
    assert_same_tree(&read_tree(&chips), &before);
    std::fs::remove_file(chips.join(&faces[3])).unwrap();
    let stdout = String::from_utf8_lossy(&align(&chips, "2", &[], true).stdout).into_owned();
    assert!(
        stdout.contains(": 1 chips written, 11 kept from before"),
        "{stdout}"
    );
    assert_same_tree(&read_tree(&chips), &before);
    // Deterministic whatever the number of threads.
    let one_thread = dir.path().join("chips-1");
    align(&one_thread, "1", &[], true);
    assert_same_tree(&read_tree(&one_thread), &before);
    // Other settings into the same folder, or the dataset as its own output: errors.
    let stderr = String::from_utf8_lossy(&align(&chips, "2", &["--padding", "0.3"], false).stderr)
        .into_owned();
    assert!(
        stderr.contains("align.json") && stderr.contains("were cut with"),
        "{stderr}"
    );
    assert!(stderr.contains("padding 0.25 (asked: 0.3)"), "{stderr}");
    // The dataset as its own output, an output inside it or around it, a folder of other
    // files: refused, and no photo touched.
    let photos_before = read_tree(&raw);
    for out in [
        raw.clone(),
        raw.join("photos"),
        raw.join("chips"),
        dir.path().to_owned(),
    ] {
        let stderr = String::from_utf8_lossy(&align(&out, "2", &[], false).stderr).into_owned();
        assert!(
            stderr.contains("inside it or around it"),
            "{}: {stderr}",
            out.display()
        );
    }
    let foreign = dir.path().join("foreign");
    std::fs::create_dir(&foreign).unwrap();
    std::fs::write(foreign.join("keep.txt"), "mine").unwrap();
    let stderr = String::from_utf8_lossy(&align(&foreign, "2", &[], false).stderr).into_owned();
    assert!(stderr.contains("holds files and no align.json"), "{stderr}");
    assert_same_tree(&read_tree(&raw), &photos_before);
    // Settings out of range: errors, not panics or 18 GB chips.
    for bad in [
        &["--padding", "1e16"][..],
        &["--padding", "-1"],
        &["--size", "20000"],
        &["--workers", "0"],
    ] {
        let output = match bad {
            ["--workers", n] => align(&dir.path().join("never"), n, &[], false),
            _ => align(&dir.path().join("never"), "2", bad, false),
        };
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(!stderr.contains("panicked"), "{bad:?}: {stderr}");
        assert!(
            stderr.contains(bad[0].trim_start_matches("--")),
            "{bad:?}: {stderr}"
        );
    }

    // eval --detect on the raw photos scores exactly what eval scores on the chips.
    let on_raw = dir.path().join("eval-raw");
    let on_chips = dir.path().join("eval-chips");
    let weights = mtcnn();
    let eval = |data: &Path, out: &Path, detect: bool| {
        let mut args = vec![
            "eval",
            "--run",
            text(run()),
            "--dataset",
            "manifest",
            "--data",
            text(data),
            "--out",
            text(out),
        ];
        if detect {
            args.extend(["--detect", "--mtcnn", text(&weights)]);
        }
        String::from_utf8_lossy(&fineface(&args, true).stdout).into_owned()
    };
    let stdout = eval(&raw, &on_raw, true);
    assert!(stdout.contains("(11 images scored, 2 skipped)"), "{stdout}");
    eval(&chips, &on_chips, false);
    // Face flags where no face is found change nothing: refused, named.
    let output = fineface(
        &[
            "eval",
            "--run",
            text(run()),
            "--dataset",
            "manifest",
            "--data",
            text(&chips),
            "--out",
            text(&dir.path().join("eval-flags")),
            "--padding",
            "0.1",
            "--keep",
            "most-probable",
        ],
        false,
    );
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("--padding, --keep only apply with --detect"),
        "{stderr}"
    );
    assert_eq!(
        std::fs::read_to_string(on_raw.join("predictions.csv")).unwrap(),
        std::fs::read_to_string(on_chips.join("predictions.csv")).unwrap()
    );
    let summary: fineface_train::SplitSummary =
        serde_json::from_str(&std::fs::read_to_string(on_raw.join("summary.json")).unwrap())
            .unwrap();
    let reason = |file: &str| {
        summary
            .skipped_images
            .iter()
            .find(|s| s.file == file)
            .map(|s| s.reason.clone())
    };
    assert!(
        reason(&blank).unwrap().starts_with("no face found"),
        "{summary:?}"
    );
    assert!(
        reason(&truncated).unwrap().contains("truncated"),
        "{summary:?}"
    );
    // The chips are what `predict` without `--detect` takes: a header, then one line per
    // image of the folder with every class's probability.
    let output = fineface(
        &["predict", "--run", text(run()), text(&chips.join("photos"))],
        true,
    );
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(stdout.lines().count(), 13, "{stdout}");
    assert_eq!(
        stdout.lines().next(),
        Some("image\tprediction\tp_no\tp_yes"),
        "{stdout}"
    );
    let predictions = std::fs::read_to_string(on_chips.join("predictions.csv")).unwrap();
    for line in predictions.lines().skip(1) {
        let fields: Vec<&str> = line.split(',').collect();
        let printed = format!("{}\t{}\t", text(&chips.join(fields[0])), fields[2]);
        assert!(stdout.contains(&printed), "{printed} in {stdout}");
    }
    let markdown = std::fs::read_to_string(on_raw.join("fairness.md")).unwrap();
    assert!(
        markdown.contains(&format!("`{blank}`: no face found")),
        "{markdown}"
    );

    // A photo replaced since is aligned again; a chip whose photo is gone is removed, so the
    // folder is what a fresh alignment would write.
    std::fs::copy(raw.join(&two), raw.join(&faces[1])).unwrap();
    std::fs::remove_file(raw.join(&faces[2])).unwrap();
    let stdout = String::from_utf8_lossy(&align(&chips, "2", &[], true).stdout).into_owned();
    assert!(
        stdout.starts_with("13 photos: 1 chips written, 10 kept from before, 2 with several faces"),
        "{stdout}"
    );
    assert!(
        stdout.contains("1 chip of a photo no longer there removed"),
        "{stdout}"
    );
    assert!(!chips.join(&faces[2]).exists());
    let fresh = dir.path().join("chips-fresh");
    align(&fresh, "2", &[], true);
    assert_same_tree(&read_tree(&chips), &read_tree(&fresh));

    // A photo replaced by one without a face loses its chip; a chip that cannot be written
    // is named and fails the command; another dataset into the same folder is refused.
    std::fs::copy(raw.join(&blank), raw.join(&faces[4])).unwrap();
    let blocked = chips.join(&faces[5]);
    std::fs::remove_file(&blocked).unwrap();
    std::fs::create_dir(&blocked).unwrap();
    std::fs::write(
        raw.join(&faces[5]),
        std::fs::read(raw.join(&faces[6])).unwrap(),
    )
    .unwrap();
    let output = align(&chips, "2", &[], false);
    let (stdout, stderr) = (
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr),
    );
    assert!(!chips.join(&faces[4]).exists(), "{stdout}");
    assert!(
        stdout.contains(&format!("{}: not written: ", faces[5])),
        "{stdout}"
    );
    assert!(stderr.contains("1 chips could not be written"), "{stderr}");
    std::fs::remove_dir(&blocked).unwrap();
    let other = dir.path().join("other-raw");
    std::fs::create_dir_all(other.join("photos")).unwrap();
    std::fs::copy(
        raw.join(&faces[0]),
        other.join(faces[0].replace("photos/M/", "photos/")),
    )
    .unwrap();
    let output = fineface(
        &[
            "align",
            "--root",
            text(&other),
            "--out",
            text(&chips),
            "--size",
            "34",
            "--mtcnn",
            text(&weights),
            "--quiet",
        ],
        false,
    );
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("these chips were cut with other settings: root"),
        "{stderr}"
    );
    // A `..` through a folder that does not exist leads into the dataset all the same.
    let sneaky = dir.path().join("nowhere/../raw/chips");
    let stderr = String::from_utf8_lossy(&align(&sneaky, "2", &[], false).stderr).into_owned();
    assert!(stderr.contains("inside it or around it"), "{stderr}");

    // Nothing to score: an error with the reasons, not an empty report.
    let empty = dir.path().join("nothing");
    std::fs::create_dir_all(empty.join("photos/F")).unwrap();
    for file in [&blank, &truncated] {
        std::fs::copy(raw.join(file), empty.join(file)).unwrap();
    }
    std::fs::write(
        empty.join("manifest.csv"),
        format!("path,gender,race\n{blank},yes,0\n{truncated},no,1\n"),
    )
    .unwrap();
    let output = fineface(
        &[
            "eval",
            "--run",
            text(run()),
            "--dataset",
            "manifest",
            "--data",
            text(&empty),
            "--out",
            text(&dir.path().join("eval-nothing")),
            "--mtcnn",
            text(&weights),
            "--detect",
        ],
        false,
    );
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("none of the 2 images of manifest could be scored (1 x no face found"),
        "{stderr}"
    );
}

/// `predict` on chips whose names hold a tab, a line break and a backslash: each image one
/// line of the header's columns, the name written escaped (`\t`, `\n`, `\\`).
#[test]
fn predictions_of_oddly_named_files_stay_one_line_each() {
    let dir = tempfile::tempdir().unwrap();
    for name in [
        "tab\tname.png",
        "new\nline.png",
        "back\\slash.png",
        "plain.png",
    ] {
        RgbImage::from_pixel(34, 34, Rgb([120, 90, 60]))
            .save_with_format(dir.path().join(name), image::ImageFormat::Png)
            .unwrap();
    }
    let output = fineface(&["predict", "--run", text(run()), text(dir.path())], true);
    let stdout = String::from_utf8_lossy(&output.stdout);
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 5, "{stdout}");
    let columns = lines[0].split('\t').count();
    assert!(
        lines.iter().all(|l| l.split('\t').count() == columns),
        "{stdout}"
    );
    assert!(stdout.contains("tab\\tname.png\t"), "{stdout}");
    assert!(stdout.contains("new\\nline.png\t"), "{stdout}");
    assert!(stdout.contains("back\\\\slash.png\t"), "{stdout}");
}
