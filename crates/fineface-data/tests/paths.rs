//! Listed paths in every spelling the real world writes them, through every loader that
//! reads a list (`docs/inputs.md`, "Paths"): a name in Unicode's other form (macOS writes
//! names decomposed), in another letter case (lists made on Windows or macOS), absolute
//! into the root, through `..`, with spaces, links in and out, a folder, a broken link, two
//! names on disk that fit one listed name, and a path out of the dataset. And the dataset
//! folder itself given as a file, or in another letter case.

#![allow(clippy::unwrap_used)] // Tests panic on failure by design.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use fineface_data::{
    CelebA, DataError, DatasetConfig, FaceDataset, FairFace, ImageFolder, Lfwa, Manifest,
    RootProblem, Split, SplitConfig, error_chain,
};

/// A fresh folder for one test.
fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("fineface-paths-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Whether the disk under `dir` tells names apart that differ in letter case or Unicode
/// form (Linux's file systems do; macOS's and Windows' match such names as one), which the
/// tests that put `dup.jpg` beside `DUP.jpg` need: elsewhere they are skipped, saying so.
fn disk_tells_spellings_apart(dir: &Path) -> bool {
    std::fs::write(dir.join("probe-a"), b"").unwrap();
    std::fs::write(dir.join("probe-e\u{301}"), b"").unwrap();
    let apart = !dir.join("PROBE-A").exists() && !dir.join("probe-\u{e9}").exists();
    for name in ["probe-a", "probe-e\u{301}"] {
        std::fs::remove_file(dir.join(name)).unwrap();
    }
    if !apart {
        #[allow(clippy::print_stderr)] // A skipped test says so, for --nocapture.
        {
            eprintln!("skipped: this disk matches names in any letter case or Unicode form");
        }
    }
    apart
}

/// A real 12x10 JPEG.
fn jpeg(path: &Path) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    image::RgbImage::from_fn(12, 10, |x, y| image::Rgb([x as u8 * 20, y as u8 * 20, 128]))
        .save_with_format(path, image::ImageFormat::Jpeg)
        .unwrap();
}

/// What became of each listed path: the file read, or the reason it was left out.
fn outcome(dataset: &FaceDataset) -> BTreeMap<String, Result<PathBuf, String>> {
    let read = Split::ALL
        .iter()
        .flat_map(|s| dataset.split(*s))
        .map(|s| (s.file.clone(), Ok(s.path.clone())));
    let skipped = dataset
        .skipped
        .iter()
        .map(|s| (s.file.clone(), Err(s.reason.clone())));
    read.chain(skipped).collect()
}

/// The images of `root/train/` under the names a disk may hold, the listed spelling of each,
/// and what reading it must give (`Ok(disk name)` or a reason's words).
struct Spellings {
    listed: Vec<(String, Result<&'static str, &'static str>)>,
}

/// Writes the disk side under `images` (the folder a dataset's paths are relative to) and
/// returns the list's side, `prefix` before each name (`train/` for FairFace).
#[cfg(unix)]
fn spellings(images: &Path, outside: &Path, prefix: &str) -> Spellings {
    let folder = images.join(prefix);
    // Decomposed, as macOS writes names: `e` + U+0301.
    jpeg(&folder.join("Me\u{301}decin Ba.jpg"));
    jpeg(&folder.join("upper.jpg"));
    jpeg(&folder.join("plain.jpg"));
    jpeg(&folder.join("dup.jpg"));
    jpeg(&folder.join("DUP.jpg"));
    std::fs::create_dir_all(folder.join("folder.jpg")).unwrap();
    std::os::unix::fs::symlink(outside.join("gone.jpg"), folder.join("broken.jpg")).unwrap();
    jpeg(&outside.join("disk2/real.jpg"));
    std::os::unix::fs::symlink(outside.join("disk2/real.jpg"), folder.join("linked.jpg")).unwrap();
    jpeg(&outside.join("outside.jpg"));
    let absolute = folder.join("plain.jpg").to_str().unwrap().to_owned();
    let out = outside.join("outside.jpg").to_str().unwrap().to_owned();
    let p = |name: &str| format!("{prefix}{name}");
    Spellings {
        listed: vec![
            // Composed (NFC), as Linux and Windows tools write it.
            (p("M\u{e9}decin Ba.jpg"), Ok("Me\u{301}decin Ba.jpg")),
            (p("UPPER.JPG"), Ok("upper.jpg")),
            (absolute, Ok("plain.jpg")),
            (p("sub/../linked.jpg"), Ok("linked.jpg")),
            (
                p("Dup.jpg"),
                Err("names that differ from it only in letter case"),
            ),
            (p("folder.jpg"), Err("a folder, not an image")),
            (p("broken.jpg"), Err("gone.jpg`, which is absent")),
            (out, Err("leaves the dataset folder")),
            (p("none.jpg"), Err("but absent")),
        ],
    }
}

/// Each listed path read as the disk's file, or left out with the expected reason.
fn assert_outcomes(dataset: &FaceDataset, images: &Path, prefix: &str, spellings: &Spellings) {
    let got = outcome(dataset);
    for (listed, expected) in &spellings.listed {
        let result = got
            .get(listed)
            .unwrap_or_else(|| panic!("{listed}: neither read nor skipped: {got:?}"));
        match (expected, result) {
            (Ok(disk), Ok(path)) => {
                assert_eq!(path, &images.join(prefix).join(disk), "{listed}")
            }
            (Err(words), Err(reason)) => assert!(reason.contains(words), "{listed}: {reason}"),
            _ => panic!("{listed}: expected {expected:?}, got {result:?}"),
        }
    }
}

/// FairFace at `root` whose train CSV lists `listed` (genders alternating), its val CSV one
/// image written under `images`, loaded.
fn fairface(root: &Path, images: &Path, listed: &[&str]) -> fineface_data::Result<FaceDataset> {
    let mut csv = String::from("file,age,gender,race,service_test\n");
    for (i, file) in listed.iter().enumerate() {
        let gender = ["Male", "Female"][i % 2];
        csv.push_str(&format!("\"{file}\",20-29,{gender},White,False\n"));
    }
    std::fs::write(root.join("fairface_label_train.csv"), csv).unwrap();
    jpeg(&images.join("val/1.jpg"));
    std::fs::write(
        root.join("fairface_label_val.csv"),
        "file,age,gender,race,service_test\nval/1.jpg,20-29,Male,White,False\n",
    )
    .unwrap();
    FairFace::new(root.to_owned()).load(&SplitConfig::default())
}

#[cfg(unix)]
#[test]
fn fairface_reads_every_spelling_of_a_listed_path_or_says_why() {
    let dir = scratch("fairface");
    if !disk_tells_spellings_apart(&dir) {
        return;
    }
    let root = dir.join("fairface");
    let spellings = spellings(&root, &dir, "train/");
    let listed: Vec<&str> = spellings.listed.iter().map(|(l, _)| l.as_str()).collect();
    let dataset = fairface(&root, &root, &listed).unwrap();
    assert_outcomes(&dataset, &root, "train/", &spellings);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[cfg(unix)]
#[test]
fn a_manifest_reads_every_spelling_of_a_listed_path_or_says_why() {
    let dir = scratch("manifest");
    if !disk_tells_spellings_apart(&dir) {
        return;
    }
    let root = dir.join("faces");
    let spellings = spellings(&root, &dir, "img/");
    let mut csv = String::from("path,label,group\n");
    for (i, (listed, _)) in spellings.listed.iter().enumerate() {
        csv.push_str(&format!("\"{listed}\",{},g{}\n", i % 2, i % 3));
    }
    std::fs::write(root.join("manifest.csv"), csv).unwrap();
    let dataset = label_manifest(&root).load(&SplitConfig::default()).unwrap();
    assert_outcomes(&dataset, &root, "img/", &spellings);
    let reason = &outcome(&dataset)["img/Dup.jpg"];
    assert_eq!(
        reason.as_ref().unwrap_err(),
        "listed in the manifest (line 6) but absent as spelled; the disk holds 2 names that \
         differ from it only in letter case or Unicode form: `DUP.jpg`, `dup.jpg` (rename one, \
         or list the one meant)"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

/// ImageFolder lists the disk and finds each image's row in the groups CSV: rows in the
/// other Unicode form, another letter case, or absolute into the root all fit.
#[test]
fn image_folder_groups_rows_fit_their_images_however_the_paths_are_spelled() {
    let root = scratch("imagefolder");
    jpeg(&root.join("train/Male/Me\u{301}decin Ba.jpg"));
    jpeg(&root.join("train/Male/upper.jpg"));
    jpeg(&root.join("train/Female/plain.jpg"));
    jpeg(&root.join("test/Female/other.jpg"));
    let absolute = root.join("train/Female/plain.jpg");
    std::fs::write(
        root.join("groups.csv"),
        format!(
            "path,race\ntrain/Male/M\u{e9}decin Ba.jpg,Black\nTRAIN/male/UPPER.JPG,White\n\
             {},Black\ntest\\Female\\other.jpg,White\n",
            absolute.display()
        ),
    )
    .unwrap();
    let dataset = ImageFolder {
        groups_csv: Some("groups.csv".into()),
        ..ImageFolder::new(root.clone())
    }
    .load(&SplitConfig::default())
    .unwrap();
    assert!(dataset.skipped.is_empty(), "{:?}", dataset.skipped);
    let groups: BTreeMap<String, String> = Split::ALL
        .iter()
        .flat_map(|s| dataset.split(*s))
        .map(|s| (s.file.clone(), s.group()))
        .collect();
    assert_eq!(groups["train/Male/Me\u{301}decin Ba.jpg"], "Black");
    assert_eq!(groups["train/Male/upper.jpg"], "White");
    assert_eq!(groups["train/Female/plain.jpg"], "Black");
    assert_eq!(groups["test/Female/other.jpg"], "White");
    std::fs::remove_dir_all(&root).unwrap();
}

/// CelebA's names are tokens (no spaces, never absolute); what copies change is the case of
/// the extension (`.JPG` from a FAT card or a Windows tool).
#[test]
fn celeba_finds_images_whose_extension_a_copy_upper_cased() {
    let root = scratch("celeba");
    let mut attr = String::from("3\nMale Smiling\n");
    for (i, name) in ["000001.jpg", "000002.jpg", "000003.jpg"]
        .iter()
        .enumerate()
    {
        attr.push_str(&format!("{name} {} {}\n", [1, -1][i % 2], [-1, 1][i % 2]));
        jpeg(
            &root
                .join("img_align_celeba")
                .join(name.replace(".jpg", ".JPG")),
        );
    }
    std::fs::write(root.join("list_attr_celeba.txt"), attr).unwrap();
    let dataset = CelebA {
        root: root.clone(),
        target: "Smiling".into(),
        sensitive: vec!["Male".into()],
    }
    .load(&SplitConfig::default())
    .unwrap();
    assert!(dataset.skipped.is_empty(), "{:?}", dataset.skipped);
    assert_eq!(dataset.len(), 3);
    assert!(
        Split::ALL.iter().flat_map(|s| dataset.split(*s)).all(|s| s
            .path
            .to_str()
            .unwrap()
            .ends_with(".JPG"))
    );
    std::fs::remove_dir_all(&root).unwrap();
}

/// LFW's images kept on another disk and linked in: read through the link.
#[cfg(unix)]
#[test]
fn lfwa_reads_images_through_a_linked_folder() {
    let dir = scratch("lfwa");
    let root = dir.join("lfwa");
    std::fs::create_dir_all(&root).unwrap();
    let header = "#\tperson\timagenum\tMale\tAsian\tWhite\tBlack\tIndian";
    std::fs::write(
        root.join("lfw_attributes.txt"),
        format!(
            "# created 2009\n{header}\nAaron Eckhart\t1\t1.5\t-1.8\t1.7\t-2.0\t-0.5\n\
             Serena Williams\t3\t-2.1\t-1.0\t-0.4\t1.9\t-0.2\n"
        ),
    )
    .unwrap();
    jpeg(&dir.join("disk2/lfw/Aaron_Eckhart/Aaron_Eckhart_0001.jpg"));
    jpeg(&dir.join("disk2/lfw/Serena_Williams/Serena_Williams_0003.jpg"));
    std::os::unix::fs::symlink(dir.join("disk2/lfw"), root.join("lfw")).unwrap();
    let dataset = Lfwa::new(root).load(&SplitConfig::default()).unwrap();
    assert_eq!(dataset.len(), 2, "{:?}", dataset.skipped);
    std::fs::remove_dir_all(&dir).unwrap();
}

/// The dataset folder given as its label file (`--data fairface_label_train.csv`), or in
/// another letter case than the disk's: refused by every kind, saying what to give.
#[test]
fn a_dataset_root_that_is_a_file_or_differs_in_case_is_refused_by_every_kind() {
    let dir = scratch("roots");
    std::fs::create_dir_all(dir.join("faces")).unwrap();
    let file = dir.join("faces/labels.csv");
    std::fs::write(&file, "path,label\n").unwrap();
    for kind in fineface_data::DatasetKind::ALL {
        let config = DatasetConfig::with_root(kind, file.clone());
        let error = config.load(&SplitConfig::default()).unwrap_err();
        match &error {
            DataError::Root {
                problem: RootProblem::IsAFile { parent, .. },
                ..
            } => assert_eq!(parent, &dir.join("faces"), "{kind}"),
            other => panic!("{kind}: {other}"),
        }
        assert_eq!(
            error_chain(&error),
            format!(
                "{kind}: `{}` is a file, not the dataset's folder: give the folder that holds \
                 the dataset (`{}`?)",
                file.display(),
                dir.join("faces").display()
            )
        );
        let typed = dir.join("FACES");
        let config = DatasetConfig::with_root(kind, typed.clone());
        let error = config.load(&SplitConfig::default()).unwrap_err();
        assert_eq!(
            error.to_string(),
            format!(
                "{kind}: the dataset folder `{}` does not exist, but `{}` does (names that \
                 differ in letter case or in how accents are encoded are different folders on \
                 this system)",
                typed.display(),
                dir.join("faces").display()
            )
        );
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

/// A dataset library's export where the official archive is expected (Hugging Face's
/// Parquet under `data/`, an Arrow folder from `save_to_disk`, TensorFlow Datasets'
/// TFRecords under a version folder): every kind that reads files says what the folder
/// holds and how to read it, instead of naming the first file it lacks.
#[test]
fn a_dataset_librarys_export_is_named_by_every_kind() {
    let dir = scratch("exports");
    for (layout, format) in [
        ("data/train-00000-of-00002.parquet", "Parquet files"),
        ("train/data-00000-of-00001.arrow", "Arrow files"),
        (
            "2.1.0/celeb_a-train.tfrecord-00000-of-00016",
            "TFRecord files",
        ),
        // TensorFlow Datasets' data dir, two levels above the records.
        (
            "celeb_a/2.1.0/celeb_a-train.tfrecord-00000-of-00016",
            "TFRecord files",
        ),
    ] {
        let root = dir.join(layout.split('/').next().unwrap().replace('.', "_") + "-root");
        let file = root.join(layout);
        std::fs::create_dir_all(file.parent().unwrap()).unwrap();
        std::fs::write(&file, b"PAR1").unwrap();
        for kind in fineface_data::DatasetKind::ALL {
            if kind == fineface_data::DatasetKind::SynthFace {
                continue; // generated, never read from an archive
            }
            let config = DatasetConfig::with_root(kind, root.clone());
            let error = config.load(&SplitConfig::default()).unwrap_err();
            assert!(
                matches!(
                    &error,
                    DataError::Root {
                        problem: RootProblem::Export { .. },
                        ..
                    }
                ),
                "{kind} {layout}: {error}"
            );
            assert!(
                error.to_string().starts_with(&format!(
                    "{kind}: `{}` holds {format}{} (`{}`), not the dataset's images and label \
                     files: write the images out with a CSV of their labels and read that as a \
                     manifest (kind = \"manifest\"; see docs/inputs.md, \"Exports\"), or unpack \
                     the dataset's official archive there (",
                    root.display(),
                    match format {
                        "Parquet files" => " (a Hugging Face dataset)",
                        "Arrow files" => " (a Hugging Face dataset saved with save_to_disk)",
                        _ => " (a TensorFlow Datasets build)",
                    },
                    file.display()
                )),
                "{error}"
            );
        }
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

/// An absolute path among relative ones says nothing of where the images are: FairFace's
/// images one folder down (the official archive's `fairface-img-margin025-trainval/`) and
/// CelebA's doubled Kaggle folder are still found, and every row read.
#[test]
fn one_absolute_row_does_not_move_the_image_folder() {
    let dir = scratch("absolute-row");
    let root = dir.join("fairface");
    let images = root.join("fairface-img-margin025-trainval");
    let mut listed = Vec::new();
    for i in 0..6 {
        jpeg(&images.join(format!("train/{i}.jpg")));
        listed.push(if i == 0 {
            images.join("train/0.jpg").display().to_string()
        } else {
            format!("train/{i}.jpg")
        });
    }
    let listed: Vec<&str> = listed.iter().map(String::as_str).collect();
    let dataset = fairface(&root, &images, &listed).unwrap();
    assert!(dataset.skipped.is_empty(), "{:?}", dataset.skipped);
    assert_eq!(dataset.len(), 7);

    let root = dir.join("celeba");
    let images = root.join("img_align_celeba/img_align_celeba");
    let mut attr = String::from("4\nMale Smiling\n");
    for i in 1..=4 {
        let name = format!("00000{i}.jpg");
        jpeg(&images.join(&name));
        let listed = if i == 1 {
            images.join(&name).display().to_string()
        } else {
            name
        };
        attr.push_str(&format!("{listed} {} {}\n", [1, -1][i % 2], [-1, 1][i % 2]));
    }
    std::fs::write(root.join("list_attr_celeba.txt"), attr).unwrap();
    let dataset = CelebA {
        root,
        target: "Smiling".into(),
        sensitive: vec!["Male".into()],
    }
    .load(&SplitConfig::default())
    .unwrap();
    assert!(dataset.skipped.is_empty(), "{:?}", dataset.skipped);
    assert_eq!(dataset.len(), 4);
    std::fs::remove_dir_all(&dir).unwrap();
}

/// One image listed twice under two spellings, which text comparison cannot see (letter
/// case against the disk, its absolute path, `x/../`), in one label file or across
/// FairFace's two: refused, naming both listings and the image, never counted twice nor
/// put in two splits.
#[test]
fn one_image_under_two_spellings_is_refused_naming_both() {
    let dir = scratch("twice");
    let root = dir.join("faces");
    for name in ["a.jpg", "b.jpg", "c.jpg", "d.jpg"] {
        jpeg(&root.join("img").join(name));
    }
    let absolute = root.join("img/a.jpg").display().to_string();
    // `img/q/../a.jpg` is the same text once `..` is read: refused as listed again.
    for second in ["IMG/A.JPG", absolute.as_str()] {
        std::fs::write(
            root.join("manifest.csv"),
            format!(
                "path,label,group\nimg/a.jpg,0,x\nimg/b.jpg,1,y\n{second},1,y\nimg/c.jpg,0,x\n"
            ),
        )
        .unwrap();
        let error = label_manifest(&root)
            .load(&SplitConfig::default())
            .unwrap_err();
        assert_eq!(
            error.to_string(),
            format!(
                "manifest: `img/a.jpg` ({csv}:2) and `{second}` ({csv}:4) are one image, `{}`: \
                 list it once",
                root.join("img/a.jpg").display(),
                csv = root.join("manifest.csv").display()
            )
        );
    }

    std::fs::write(
        root.join("manifest.csv"),
        "path,label,group\nimg/a.jpg,0,x\nimg/b.jpg,1,y\nimg/q/../a.jpg,1,y\n",
    )
    .unwrap();
    let error = label_manifest(&root)
        .load(&SplitConfig::default())
        .unwrap_err();
    assert!(
        error
            .to_string()
            .ends_with(":4: `img/q/../a.jpg` is listed again (first on line 2); list each image once (two files concatenated?)"),
        "{error}"
    );

    // FairFace: an image of the train CSV listed again, spelled otherwise, in the val CSV.
    let ff = dir.join("fairface");
    for i in 0..4 {
        jpeg(&ff.join(format!("train/{i}.jpg")));
    }
    std::fs::write(
        ff.join("fairface_label_train.csv"),
        "file,age,gender,race,service_test\ntrain/0.jpg,20-29,Male,White,False\n\
         train/1.jpg,20-29,Female,White,False\ntrain/2.jpg,20-29,Male,White,False\n",
    )
    .unwrap();
    std::fs::write(
        ff.join("fairface_label_val.csv"),
        "file,age,gender,race,service_test\n./TRAIN/1.jpg,20-29,Male,White,False\n",
    )
    .unwrap();
    let error = FairFace::new(ff.clone())
        .load(&SplitConfig::default())
        .unwrap_err();
    assert_eq!(
        error.to_string(),
        format!(
            "fairface: `train/1.jpg` (fairface_label_train.csv:3) and `./TRAIN/1.jpg` \
             (fairface_label_val.csv:2) are one image, `{}`: list it once",
            ff.join("train/1.jpg").display()
        )
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

/// CelebA's attribute and partition files joined by the image each names, however each
/// spells it (`./`, `.JPG`, an absolute path), not by their text.
#[test]
fn celeba_joins_its_two_files_by_the_image_not_the_text() {
    let root = scratch("celeba-join");
    let images = root.join("img_align_celeba");
    let listed = [
        "./000001.jpg".to_owned(),
        "000002.JPG".to_owned(),
        images.join("000003.jpg").display().to_string(),
        "000004.jpg".to_owned(),
    ];
    let mut attr = String::from("4\nMale Smiling\n");
    let mut part = String::new();
    for (i, name) in listed.iter().enumerate() {
        jpeg(&images.join(format!("00000{}.jpg", i + 1)));
        attr.push_str(&format!("{name} {} {}\n", [1, -1][i % 2], [-1, 1][i % 2]));
        part.push_str(&format!("00000{}.jpg {}\n", i + 1, [0, 0, 1, 2][i]));
    }
    std::fs::write(root.join("list_attr_celeba.txt"), attr).unwrap();
    std::fs::write(root.join("list_eval_partition.txt"), &part).unwrap();
    let dataset = CelebA {
        root: root.clone(),
        target: "Smiling".into(),
        sensitive: vec!["Male".into()],
    }
    .load(&SplitConfig::default())
    .unwrap();
    assert!(dataset.skipped.is_empty(), "{:?}", dataset.skipped);
    assert_eq!(Split::ALL.map(|s| dataset.split(s).len()), [2, 1, 1]);
    // The partition naming one image twice, in two spellings with two splits: refused.
    part.push_str("000001.JPG 2\n");
    std::fs::write(root.join("list_eval_partition.txt"), part).unwrap();
    let error = CelebA {
        root: root.clone(),
        target: "Smiling".into(),
        sensitive: vec!["Male".into()],
    }
    .load(&SplitConfig::default())
    .unwrap_err()
    .to_string();
    assert!(
        error.starts_with(
            "celeba: `000001.JPG` (list_eval_partition.txt:5) and `000001.jpg` \
             (list_eval_partition.txt:1) are one image"
        ),
        "{error}"
    );
    std::fs::remove_dir_all(&root).unwrap();
}

/// An absolute path written through another link to the root than the one given.
#[cfg(unix)]
#[test]
fn an_absolute_path_through_another_link_to_the_root_is_read() {
    let dir = scratch("link-root");
    let root = dir.join("faces");
    jpeg(&root.join("x/a.jpg"));
    jpeg(&root.join("x/b.jpg"));
    std::os::unix::fs::symlink(&root, dir.join("faces-link")).unwrap();
    let through = dir.join("faces-link/x/b.jpg");
    std::fs::write(
        root.join("manifest.csv"),
        format!("path,label,group\nx/a.jpg,0,g\n{},1,g\n", through.display()),
    )
    .unwrap();
    let dataset = label_manifest(&root).load(&SplitConfig::default()).unwrap();
    assert!(dataset.skipped.is_empty(), "{:?}", dataset.skipped);
    assert_eq!(dataset.len(), 2);
    std::fs::remove_dir_all(&dir).unwrap();
}

/// Roots that are no folder, each named for what it is: a link to something absent, a
/// device, two folders that differ from it only in case, a name in the other Unicode form.
#[cfg(unix)]
#[test]
fn each_kind_of_root_that_is_no_folder_is_named() {
    let dir = scratch("odd-roots");
    std::os::unix::fs::symlink(dir.join("unmounted"), dir.join("linked")).unwrap();
    std::fs::create_dir_all(dir.join("Cx")).unwrap();
    std::fs::create_dir_all(dir.join("cx")).unwrap();
    std::fs::create_dir_all(dir.join("re\u{301}sume\u{301}")).unwrap();
    let load = |root: PathBuf| {
        DatasetConfig::with_root(fineface_data::DatasetKind::Manifest, root)
            .load(&SplitConfig::default())
            .unwrap_err()
            .to_string()
    };
    assert_eq!(
        load(dir.join("linked")),
        format!(
            "manifest: the dataset folder `{}` is a link to `{}`, which is absent (a disk not \
             mounted?)",
            dir.join("linked").display(),
            dir.join("unmounted").display()
        )
    );
    assert_eq!(
        load(PathBuf::from("/dev/null")),
        "manifest: `/dev/null` is not a folder (a device or other special file): give the \
         folder the dataset was unpacked to"
    );
    std::os::unix::fs::symlink("loop2", dir.join("loop1")).unwrap();
    std::os::unix::fs::symlink("loop1", dir.join("loop2")).unwrap();
    assert_eq!(
        load(dir.join("loop1")),
        format!(
            "manifest: the dataset folder `{}` is a link that loops back to itself (through \
             `loop2`)",
            dir.join("loop1").display()
        )
    );
    assert_eq!(
        load(dir.join("CX")),
        format!(
            "manifest: the dataset folder `{}` does not exist, but `{}` and `{}` do: give the \
             one meant (names that differ in letter case or in how accents are encoded are \
             different folders on this system)",
            dir.join("CX").display(),
            dir.join("Cx").display(),
            dir.join("cx").display()
        )
    );
    let nfc = load(dir.join("r\u{e9}sum\u{e9}"));
    assert!(
        nfc.contains(&format!(
            "but `{}` (the same letters, its accents decomposed (NFD, as macOS writes names)) \
             does",
            dir.join("re\u{301}sume\u{301}").display()
        )),
        "{nfc}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

/// ImageFolder as torchvision walks it (images in subfolders of a class are the class's),
/// with what it leaves said: HEIC skipped with the reason, `__pycache__` never a class,
/// groups rows through `..` matched, a row that fits two images differing only in case
/// taken by neither, rows that fit no image listed, one image's row twice refused.
#[test]
fn image_folder_walks_class_folders_and_says_what_it_leaves() {
    let root = scratch("imagefolder-walk");
    if !disk_tells_spellings_apart(&root) {
        return;
    }
    for f in [
        "train/cat/1.jpg",
        "train/cat/sub/2.jpg",
        "train/dog/3.jpg",
        "train/dog/dup.jpg",
        "train/dog/DUP.jpg",
        "train/__pycache__/4.jpg",
        "test/cat/5.jpg",
        "test/dog/6.jpg",
    ] {
        jpeg(&root.join(f));
    }
    std::fs::write(root.join("train/cat/7.heic"), b"ftypheic").unwrap();
    let groups = |rows: &str| {
        std::fs::write(root.join("groups.csv"), format!("path,tone\n{rows}")).unwrap();
        ImageFolder {
            groups_csv: Some("groups.csv".into()),
            ..ImageFolder::new(root.clone())
        }
        .load(&SplitConfig::default())
    };
    let dataset = groups(
        "train/cat/1.jpg,I\ntrain/cat/x/../sub/2.jpg,II\ntrain/dog/3.jpg,I\n\
         train/dog/Dup.jpg,II\ntest/cat/5.jpg,I\ntest/dog/6.jpg,II\ntrain/dog/gone.jpg,I\n",
    )
    .unwrap();
    assert_eq!(dataset.classes, ["cat", "dog"]);
    let files: Vec<&str> = Split::ALL
        .iter()
        .flat_map(|s| dataset.split(*s))
        .map(|s| s.file.as_str())
        .collect();
    assert!(files.contains(&"train/cat/sub/2.jpg"), "{files:?}");
    assert_eq!(files.len(), 5, "{files:?}");
    let skipped: BTreeMap<&str, &str> = dataset
        .skipped
        .iter()
        .map(|s| (s.file.as_str(), s.reason.as_str()))
        .collect();
    assert_eq!(
        skipped["train/cat/7.heic"],
        "HEIC and AVIF are not read: convert it to JPEG or PNG"
    );
    assert_eq!(skipped["train/dog/dup.jpg"], "no row in the groups CSV");
    assert_eq!(skipped["train/dog/DUP.jpg"], "no row in the groups CSV");
    assert_eq!(
        skipped["train/dog/Dup.jpg"],
        "a row of the groups CSV that fits 2 images differing only in letter case \
         (`train/dog/DUP.jpg`, `train/dog/dup.jpg`): write it as the disk spells the one meant"
    );
    assert_eq!(
        skipped["train/dog/gone.jpg"],
        "a row of the groups CSV that fits no image"
    );
    assert!(!files.iter().any(|f| f.contains("__pycache__")));

    // One image's row written twice, once in another letter case: refused naming both.
    let error = groups("train/cat/1.jpg,I\nTRAIN/CAT/1.JPG,II\n")
        .unwrap_err()
        .to_string();
    assert!(
        error.starts_with("imagefolder: `train/cat/1.jpg` (")
            && error.contains("and `TRAIN/CAT/1.JPG` ("),
        "{error}"
    );
    // One image's row written twice, once absolute: refused with both lines.
    let error = groups(&format!(
        "train/cat/1.jpg,I\n{},II\n",
        root.join("train/cat/1.jpg").display()
    ))
    .unwrap_err()
    .to_string();
    assert!(error.contains("listed again"), "{error}");

    // No dataset folder at all: said as the others say it.
    let error = ImageFolder::new(root.join("absent"))
        .load(&SplitConfig::default())
        .unwrap_err();
    assert!(matches!(error, DataError::MissingFile { .. }), "{error}");
    std::fs::remove_dir_all(&root).unwrap();
}

/// Links inside a dataset, as a new user's folders hold them: ImageFolder follows a class's
/// folder links once (a link back up, `up -> ..`, is named, not walked forever), names
/// broken and looping image links, and passes over a NAS's `@eaDir`; a manifest row reached
/// through a folder alias is the image it aliases (refused as listed twice).
#[cfg(unix)]
#[test]
fn links_inside_a_dataset_are_followed_once_and_named_when_broken() {
    let root = scratch("links-inside");
    for f in [
        "train/male/1.jpg",
        "train/male/2.jpg",
        "train/female/3.jpg",
        "train/@eaDir/4.jpg",
        "test/male/5.jpg",
        "test/female/6.jpg",
    ] {
        jpeg(&root.join(f));
    }
    std::os::unix::fs::symlink("..", root.join("train/male/up")).unwrap();
    std::os::unix::fs::symlink("../../train", root.join("train/female/tr")).unwrap();
    std::os::unix::fs::symlink("/nonexistent/a.jpg", root.join("train/male/broken.jpg")).unwrap();
    std::os::unix::fs::symlink("self.jpg", root.join("train/male/self.jpg")).unwrap();
    let dataset = ImageFolder::new(root.clone())
        .load(&SplitConfig::default())
        .unwrap();
    assert_eq!(dataset.classes, ["female", "male"]);
    assert_eq!(dataset.len(), 5, "{:?}", dataset.skipped);
    let skipped: BTreeMap<&str, &str> = dataset
        .skipped
        .iter()
        .map(|s| (s.file.as_str(), s.reason.as_str()))
        .collect();
    assert_eq!(
        skipped["train/male/broken.jpg"],
        "listed in the class folder: a link to `/nonexistent/a.jpg`, which is absent"
    );
    assert_eq!(
        skipped["train/male/self.jpg"],
        "listed in the class folder: a link that loops back to itself (through `self.jpg`)"
    );
    for link in ["train/male/up/", "train/female/tr/"] {
        assert!(
            skipped[link].starts_with("a link to a folder already read"),
            "{link}"
        );
    }

    let manifest_root = scratch("links-alias");
    jpeg(&manifest_root.join("imgs/a.jpg"));
    jpeg(&manifest_root.join("imgs/b.jpg"));
    std::os::unix::fs::symlink("imgs", manifest_root.join("alias")).unwrap();
    std::fs::write(
        manifest_root.join("manifest.csv"),
        "path,label,group\nimgs/a.jpg,0,g\nimgs/b.jpg,1,g\nalias/a.jpg,1,g\n",
    )
    .unwrap();
    let error = label_manifest(&manifest_root)
        .load(&SplitConfig::default())
        .unwrap_err()
        .to_string();
    assert!(
        error.starts_with("manifest: `imgs/a.jpg` (") && error.contains("and `alias/a.jpg` ("),
        "{error}"
    );
    std::fs::remove_dir_all(&root).unwrap();
    std::fs::remove_dir_all(&manifest_root).unwrap();
}

/// Paths a folder off, with a few rows written absolute (which are found): the rows that
/// are not found still get the hint of where the images are, instead of a dataset of the
/// few absolute rows and every other one skipped.
#[test]
fn a_folder_off_is_said_even_when_absolute_rows_are_found() {
    let root = scratch("off-with-absolute");
    let mut csv = String::from("path,label,group\n");
    for i in 0..12 {
        jpeg(&root.join(format!("imgs/img{i:02}.jpg")));
        let listed = if i < 3 {
            root.join(format!("imgs/img{i:02}.jpg"))
                .display()
                .to_string()
        } else {
            format!("img{i:02}.jpg")
        };
        csv.push_str(&format!("{listed},{},g\n", i % 2));
    }
    let error = manifest_error(&root, csv);
    assert!(
        error.contains("`img03.jpg` is at `imgs/img03.jpg`: the paths lack the leading `imgs/`"),
        "{error}"
    );
    std::fs::remove_dir_all(&root).unwrap();
}

/// CelebA's attribute file writing "no" as both -1 and 0 (an edit, or two exports joined):
/// refused with both lines, since 0 may then mean something else.
#[test]
fn celeba_refuses_a_file_that_writes_no_two_ways() {
    let root = scratch("celeba-no");
    let mut attr =
        String::from("3\nMale Smiling\n000001.jpg 1 -1\n000002.jpg -1 1\n000003.jpg 0 1\n");
    for i in 1..=3 {
        jpeg(&root.join(format!("img_align_celeba/00000{i}.jpg")));
    }
    std::fs::write(root.join("list_attr_celeba.txt"), &attr).unwrap();
    let load = || {
        CelebA {
            root: root.clone(),
            target: "Smiling".into(),
            sensitive: vec!["Male".into()],
        }
        .load(&SplitConfig::default())
    };
    let error = load().unwrap_err().to_string();
    assert!(
        error.ends_with(
            ":5: the file writes \"no\" as -1 (first on line 3) and as 0 (first on line 5): one \
             spelling per file, or 0 may mean something else (unknown?)"
        ),
        "{error}"
    );
    // One spelling throughout (1/0, as some exports write it) reads.
    attr = attr.replace("-1", "0");
    std::fs::write(root.join("list_attr_celeba.txt"), &attr).unwrap();
    assert_eq!(load().unwrap().len(), 3);
    std::fs::remove_dir_all(&root).unwrap();
}

/// A column named twice (a column copied, two tables pasted side by side) is said as such,
/// not as two names differing in case; a row of URLs is said to be URLs.
#[test]
fn a_column_named_twice_and_urls_for_paths_are_said_as_such() {
    let root = scratch("twice-column");
    jpeg(&root.join("img/a.jpg"));
    std::fs::write(
        root.join("manifest.csv"),
        "path,label,group,path\nimg/a.jpg,0,g,img/a.jpg\n",
    )
    .unwrap();
    let manifest = label_manifest(&root);
    let error = manifest
        .load(&SplitConfig::default())
        .unwrap_err()
        .to_string();
    assert!(
        error.ends_with(
            ":1: the column `path` appears 2 times; which one is meant? rename or remove the others"
        ),
        "{error}"
    );
    std::fs::write(
        root.join("manifest.csv"),
        "path,label,group\nimg/a.jpg,0,g\nhttps://example.com/img/b.jpg,1,g\n",
    )
    .unwrap();
    let dataset = manifest.load(&SplitConfig::default()).unwrap();
    assert_eq!(
        dataset.skipped[0].reason,
        "listed in the manifest (line 3) as a URL (`https://`): download the images and list \
         their paths"
    );
    std::fs::remove_dir_all(&root).unwrap();
}

/// Class folders spelled in two cases across splits (`train/male`, `test/Male`): two
/// classes to a classifier, said as a case difference, not as a class without images.
#[test]
fn classes_differing_only_in_case_across_splits_are_said_as_such() {
    let root = scratch("class-case");
    for f in [
        "train/male/1.jpg",
        "train/female/2.jpg",
        "test/Male/3.jpg",
        "test/female/4.jpg",
    ] {
        jpeg(&root.join(f));
    }
    let dataset = ImageFolder::new(root.clone())
        .load(&SplitConfig::default())
        .unwrap();
    let problems: Vec<String> = dataset
        .class_problems()
        .iter()
        .map(ToString::to_string)
        .collect();
    assert!(
        problems.iter().any(|p| p.starts_with("class `Male` has 1 image(s) in the test split but none in train, where `male` differs from it only in letter case")),
        "{problems:?}"
    );
    std::fs::remove_dir_all(&root).unwrap();
}

/// The manifest of `root/manifest.csv` with columns `path,label,group`.
fn label_manifest(root: &Path) -> Manifest {
    Manifest {
        target: "label".into(),
        sensitive: vec!["group".into()],
        ..Manifest::new(root.to_owned())
    }
}

/// The error of `root`'s manifest (columns `path,label,group`) written as `csv`.
fn manifest_error(root: &Path, csv: impl AsRef<[u8]>) -> String {
    std::fs::write(root.join("manifest.csv"), csv).unwrap();
    label_manifest(root)
        .load(&SplitConfig::default())
        .unwrap_err()
        .to_string()
}

/// Rows written relative to two folders (half to the dataset root, half to the label file's
/// own folder, or half without ImageFolder's `split/`) are refused naming where the other
/// half's images are: read as written they would be left out with no error.
#[test]
fn rows_relative_to_another_folder_are_refused_saying_where_they_are() {
    let root = scratch("half-off");
    let mut csv = String::from("path,label,group\n");
    for i in 0..8 {
        jpeg(&root.join(format!("imgs/{i}.jpg")));
        // Even rows relative to the root, odd ones to `imgs/` (where a list was made).
        let listed = if i % 2 == 0 {
            format!("imgs/{i}.jpg")
        } else {
            format!("{i}.jpg")
        };
        csv.push_str(&format!("{listed},{},g\n", i % 2));
    }
    let error = manifest_error(&root, csv);
    assert!(
        error.starts_with("manifest: 4 path(s) listed in manifest.csv are absent as written")
            && error.contains("`1.jpg` is at `imgs/1.jpg`: the paths lack the leading `imgs/`"),
        "{error}"
    );

    // Some rows written relative to the CSV's own folder (`lists/`), climbing out with `../`.
    std::fs::create_dir_all(root.join("lists")).unwrap();
    let mut csv = String::from("path,label,group\n");
    for i in 0..8 {
        let listed = if i % 2 == 0 {
            format!("imgs/{i}.jpg")
        } else {
            format!("../imgs/{i}.jpg")
        };
        csv.push_str(&format!("{listed},{},g\n", i % 2));
    }
    std::fs::write(root.join("lists/m.csv"), csv).unwrap();
    let error = Manifest {
        csv: "lists/m.csv".into(),
        ..label_manifest(&root)
    }
    .load(&SplitConfig::default())
    .unwrap_err()
    .to_string();
    assert!(
        error.contains(
            "`../imgs/1.jpg` is at `imgs/1.jpg`: the paths climb out with `../`, written relative \
             to another folder (the label file's own?)"
        ),
        "{error}"
    );

    // A leading folder the disk does not have, on some rows only (FairFace).
    let ff = root.join("fairface");
    for i in 0..4 {
        jpeg(&ff.join(format!("train/{i}.jpg")));
        jpeg(&ff.join(format!("val/{i}.jpg")));
    }
    let rows = |split: &str, prefix: &str| {
        let mut text = String::from("file,age,gender,race,service_test\n");
        for i in 0..4 {
            let p = if i == 3 { prefix } else { "" };
            text.push_str(&format!("{p}{split}/{i}.jpg,20-29,Male,White,False\n"));
        }
        text
    };
    std::fs::write(
        ff.join("fairface_label_train.csv"),
        rows("train", "fairface/"),
    )
    .unwrap();
    std::fs::write(ff.join("fairface_label_val.csv"), rows("val", "")).unwrap();
    let error = FairFace::new(ff.clone())
        .load(&SplitConfig::default())
        .unwrap_err()
        .to_string();
    assert!(
        error.contains(
            "`fairface/train/3.jpg` is at `train/3.jpg`: the paths carry a leading `fairface/`"
        ),
        "{error}"
    );

    // ImageFolder's groups CSV, some rows without `train/`.
    let folder = root.join("imagefolder");
    jpeg(&folder.join("train/Male/1.jpg"));
    jpeg(&folder.join("train/Female/2.jpg"));
    jpeg(&folder.join("test/Male/3.jpg"));
    std::fs::write(
        folder.join("groups.csv"),
        "path,race\ntrain/Male/1.jpg,Black\nFemale/2.jpg,White\ntest/Male/3.jpg,White\n",
    )
    .unwrap();
    let error = ImageFolder {
        groups_csv: Some("groups.csv".into()),
        ..ImageFolder::new(folder.clone())
    }
    .load(&SplitConfig::default())
    .unwrap_err()
    .to_string();
    assert!(
        error.contains(
            "`Female/2.jpg` is at `train/Female/2.jpg`: the paths lack the leading `train/`; add \
             it in the label file: the image has no row and the row fits no image"
        ),
        "{error}"
    );
    std::fs::remove_dir_all(&root).unwrap();
}

/// A listed image that is absent belongs to the report of the split it was listed in: a
/// test-split evaluation lists it, a train one does not; carved splits list it everywhere.
#[test]
fn a_skipped_file_keeps_the_split_it_was_listed_in() {
    let root = scratch("skipped-split");
    let mut csv = String::from("path,label,group,split\n");
    for i in 0..6 {
        jpeg(&root.join(format!("{i}.jpg")));
        let split = ["train", "val", "test"][i % 3];
        csv.push_str(&format!("{i}.jpg,{},g,{split}\n", i % 2));
    }
    csv.push_str("gone.jpg,1,g,test\n");
    std::fs::write(root.join("manifest.csv"), &csv).unwrap();
    let dataset = label_manifest(&root).load(&SplitConfig::default()).unwrap();
    assert_eq!(dataset.skipped[0].split, Some(Split::Test));
    let test = dataset.skipped_from(Split::Test);
    assert_eq!(test.len(), 1);
    assert_eq!(test[0].path, PathBuf::from("gone.jpg"));
    assert_eq!(
        test[0].message,
        "listed in the manifest (line 8) but absent"
    );
    assert!(dataset.skipped_from(Split::Train).is_empty());

    // Without a split column the splits are carved after reading: its split is unknown.
    let carved: String = csv
        .lines()
        .map(|l| l.rsplit_once(',').unwrap().0.to_owned() + "\n")
        .collect();
    std::fs::write(root.join("manifest.csv"), carved).unwrap();
    let dataset = label_manifest(&root).load(&SplitConfig::default()).unwrap();
    assert_eq!(dataset.skipped[0].split, None);
    for split in Split::ALL {
        assert_eq!(dataset.skipped_from(split).len(), 1, "{split:?}");
    }

    // CelebA: the partition file gives an absent image's split.
    let celeba = root.join("celeba");
    let mut attr = String::from("5\nMale Smiling\n");
    let mut part = String::new();
    for i in 1..=5 {
        if i < 5 {
            jpeg(&celeba.join(format!("img_align_celeba/00000{i}.jpg")));
        }
        attr.push_str(&format!(
            "00000{i}.jpg {} {}\n",
            [1, -1][i % 2],
            [-1, 1][i % 2]
        ));
        part.push_str(&format!("00000{i}.jpg {}\n", [0, 0, 1, 2, 2][i - 1]));
    }
    std::fs::write(celeba.join("list_attr_celeba.txt"), attr).unwrap();
    std::fs::write(celeba.join("list_eval_partition.txt"), part).unwrap();
    let dataset = CelebA {
        root: celeba,
        target: "Smiling".into(),
        sensitive: vec!["Male".into()],
    }
    .load(&SplitConfig::default())
    .unwrap();
    assert_eq!(dataset.skipped[0].file, "000005.jpg");
    assert_eq!(dataset.skipped[0].split, Some(Split::Test));
    std::fs::remove_dir_all(&root).unwrap();
}

/// On Linux a file name may hold a `\` (a tool wrote it so): such a name is read as the
/// file it names; a `\` that names both it and a file in a folder is refused with both.
#[cfg(unix)]
#[test]
fn a_backslash_in_a_linux_file_name_is_read_as_part_of_the_name() {
    let root = scratch("backslash");
    jpeg(&root.join("a\\b.jpg"));
    jpeg(&root.join("c/d.jpg"));
    jpeg(&root.join("two\\e.jpg"));
    jpeg(&root.join("two/e.jpg"));
    jpeg(&root.join("f.jpg"));
    std::fs::write(
        root.join("manifest.csv"),
        "path,label,group\na\\b.jpg,0,g\nc\\d.jpg,1,g\ntwo\\e.jpg,0,g\nf.jpg,1,g\n",
    )
    .unwrap();
    let dataset = label_manifest(&root).load(&SplitConfig::default()).unwrap();
    let found = outcome(&dataset);
    assert_eq!(found["a\\b.jpg"], Ok(root.join("a\\b.jpg")));
    assert_eq!(found["c\\d.jpg"], Ok(root.join("c/d.jpg")));
    assert_eq!(
        found["two\\e.jpg"],
        Err(
            "listed in the manifest (line 4) with `\\`, which names two files here: \
             `two\\e.jpg` (a `\\` in its name) and `two/e.jpg` (`\\` as a folder separator); \
             rename one"
                .to_owned()
        )
    );
    std::fs::remove_dir_all(&root).unwrap();
}

/// numpy's `savetxt` writes the header as a comment (`# path,label,group`): said as such,
/// on its line, rather than a missing column on the first row.
#[test]
fn a_header_written_as_a_comment_is_named() {
    let root = scratch("numpy-header");
    jpeg(&root.join("a.jpg"));
    let error = manifest_error(&root, "# path,label,group\na.jpg,0,g\n");
    assert!(
        error.ends_with(
            "manifest.csv:1: the header is written as a comment (`# path,label,group`, as \
             numpy's savetxt writes it unless given comments=''): delete its `#` (line 2 was \
             read as the header)"
        ),
        "{error}"
    );
    // A comment that is no header stays a comment; the missing column is on the header's line.
    // A `#` line among the rows, after blank lines: its own line, said as what it is.
    let error = manifest_error(&root, "path,label,group\na.jpg,0,g\n\n\n# the rest\n");
    assert!(
        error.ends_with(
            "manifest.csv:5: this row has 1 field(s) where the header has 3; a `#` line among \
             the rows is no comment here: delete it"
        ),
        "{error}"
    );
    let error = manifest_error(&root, "# exported by a tool\n\npath,label\na.jpg,0\n");
    assert!(
        error.ends_with("manifest.csv:3: missing column `group` (header: path,label)"),
        "{error}"
    );
    std::fs::remove_dir_all(&root).unwrap();
}

/// Labels that look alike but differ in their code points: a letter of another script
/// (a Cyrillic `а` in `male`) is refused on its line; full-width letters are another
/// spelling of the same label (refused with both lines); an accent composed or decomposed
/// is one label.
#[test]
fn labels_that_look_alike_are_one_label_or_refused() {
    let root = scratch("homoglyphs");
    for i in 0..4 {
        jpeg(&root.join(format!("{i}.jpg")));
    }
    let write = |labels: [&str; 4]| {
        let mut csv = String::from("path,label,group\n");
        for (i, label) in labels.iter().enumerate() {
            csv.push_str(&format!("{i}.jpg,{label},g\n"));
        }
        std::fs::write(root.join("manifest.csv"), csv).unwrap();
        label_manifest(&root).load(&SplitConfig::default())
    };
    let error = write(["male", "female", "m\u{430}le", "female"])
        .unwrap_err()
        .to_string();
    assert!(
        error.ends_with(
            "manifest.csv:4: column `label` holds `m\u{430}le`, a word of Latin letters with a \
             Cyrillic `\u{430}` (U+0430) in it, which looks like a Latin letter but makes \
             another value; retype it"
        ),
        "{error}"
    );
    let error = write(["Male", "Female", "\u{ff2d}ale", "Female"])
        .unwrap_err()
        .to_string();
    assert!(
        error.contains("holds `\u{ff2d}ale` here and `Male` on line 2"),
        "{error}"
    );
    let dataset = write(["Caf\u{e9}", "Bar", "Cafe\u{301}", "Bar"]).unwrap();
    assert_eq!(dataset.classes, ["Bar", "Caf\u{e9}"]);
    // Japanese mixes its scripts in one word; Russian is one script: both are labels.
    let dataset = write(["東京タワー", "мужчина", "東京タワー", "мужчина"]).unwrap();
    assert_eq!(dataset.classes.len(), 2);
    // The odd letter is the word's minority script's, wherever it stands.
    let error = write(["male", "female", "\u{43c}ale", "female"])
        .unwrap_err()
        .to_string();
    assert!(
        error.contains("a word of Latin letters with a Cyrillic `\u{43c}` (U+043C)"),
        "{error}"
    );
    // Dashes other than `-` and spaces other than ` `: another spelling, the characters
    // named since the two print alike.
    for (second, differ) in [
        ("East\u{2013}Asian", "U+2013 against U+0020"),
        ("East\u{a0}Asian", "U+00A0 against U+0020"),
    ] {
        let error = write(["East Asian", "White", second, "White"])
            .unwrap_err()
            .to_string();
        assert!(
            error.contains(&format!(
                "holds `{second}` here and `East Asian` on line 2, which differ in {differ}"
            )),
            "{error}"
        );
    }
    std::fs::remove_dir_all(&root).unwrap();
}

/// Class folders that look alike but differ in their code points (a Cyrillic letter, a
/// zero-width space, full-width letters) are said as such, as a letter-case difference is;
/// FairFace's fixed values name the one a value looks like.
#[test]
fn look_alike_classes_and_values_are_named() {
    let root = scratch("look-alike-classes");
    for (i, folder) in ["train/male", "train/female", "val/male", "val/female"]
        .iter()
        .enumerate()
    {
        jpeg(&root.join(format!("{folder}/{i}.jpg")));
    }
    for (odd, how) in [
        ("m\u{430}le", "in U+0430 against U+0061, which look alike"),
        (
            "male\u{200b}",
            "in U+200B against nothing, which look alike",
        ),
        ("\u{ff4d}ale", "in U+FF4D against U+006D, which look alike"),
    ] {
        let test = root.join("test");
        let _ = std::fs::remove_dir_all(&test);
        jpeg(&test.join(format!("{odd}/9.jpg")));
        jpeg(&test.join("female/8.jpg"));
        let dataset = ImageFolder::new(root.clone())
            .load(&SplitConfig::default())
            .unwrap();
        let problems: Vec<String> = dataset
            .class_problems()
            .iter()
            .map(ToString::to_string)
            .collect();
        assert!(
            problems.iter().any(|p| p.contains(&format!(
                "class `{odd}` has 1 image(s) in the test split but none in train, where `male` \
                 differs from it {how}"
            ))),
            "{problems:?}"
        );
    }
    // Both in train: two classes a classifier tells apart, said as such.
    jpeg(&root.join("train/m\u{430}le/5.jpg"));
    let dataset = ImageFolder::new(root.clone())
        .load(&SplitConfig::default())
        .unwrap();
    let problems: Vec<String> = dataset
        .class_problems()
        .iter()
        .map(ToString::to_string)
        .collect();
    assert!(
        problems.contains(
            &"classes `male` and `m\u{430}le` look the same but differ in U+0061 against \
              U+0430, which look alike: two classes to a classifier; spell them one way (the \
              folder or the label)"
                .to_owned()
        ),
        "{problems:?}"
    );
    let ff = root.join("fairface");
    jpeg(&ff.join("train/1.jpg"));
    std::fs::write(
        ff.join("fairface_label_val.csv"),
        "file,age,gender,race,service_test\n",
    )
    .unwrap();
    // A small letter of another script, and a capital (Cyrillic `М` for `M`).
    for (value, how) in [
        ("M\u{430}le", "U+0430 against U+0061"),
        ("\u{41c}ale", "U+041C against U+004D"),
    ] {
        std::fs::write(
            ff.join("fairface_label_train.csv"),
            format!("file,age,gender,race,service_test\ntrain/1.jpg,20-29,{value},White,False\n"),
        )
        .unwrap();
        let error = FairFace::new(ff.clone())
            .load(&SplitConfig::default())
            .unwrap_err()
            .to_string();
        assert!(
            error.contains(&format!(
                "unknown gender `{value}` (FairFace's are Male, Female); it looks like `Male` \
                 but differs in {how}"
            )),
            "{error}"
        );
    }
    std::fs::remove_dir_all(&root).unwrap();
}

/// What a row that names no image is, when it is no path a folder off: a row commented out
/// with `#` (skipped, said as such), or an image whose name another folder holds (a deleted
/// image, or a row in the wrong folder: skipped and warned of, never refused, since
/// FairFace's `train/5.jpg` and `val/5.jpg` are two images).
#[test]
fn a_row_commented_out_or_in_another_folder_is_skipped_saying_so() {
    let root = scratch("commented-row");
    let mut csv = String::from("path,label,group\n");
    for i in 0..4 {
        jpeg(&root.join(format!("imgs/{i}.jpg")));
        csv.push_str(&format!("imgs/{i}.jpg,{},g\n", i % 2));
    }
    jpeg(&root.join("other/9.jpg"));
    csv.push_str("#imgs/3.jpg,1,g\nimgs/9.jpg,1,g\n");
    std::fs::write(root.join("manifest.csv"), csv).unwrap();
    let dataset = label_manifest(&root).load(&SplitConfig::default()).unwrap();
    let skipped = outcome(&dataset);
    assert_eq!(
        skipped["#imgs/3.jpg"],
        Err("listed in the manifest (line 6) as a row commented out with `#`: left out".to_owned())
    );
    assert_eq!(
        skipped["imgs/9.jpg"],
        Err("listed in the manifest (line 7) but absent".to_owned())
    );
    // Two or more rows a folder off the same way are the file's way of writing paths.
    let mut csv = String::from("path,label,group\n");
    for i in 0..4 {
        jpeg(&root.join(format!("imgs/sub/{i}.jpg")));
        csv.push_str(&format!("sub/{i}.jpg,{},g\n", i % 2));
    }
    let error = manifest_error(&root, csv);
    assert!(
        error.contains("`sub/0.jpg` is at `imgs/sub/0.jpg`: the paths lack the leading `imgs/`"),
        "{error}"
    );
    std::fs::remove_dir_all(&root).unwrap();
}

/// A link in a class folder that points at nothing is said whatever its name (a folder of
/// images on a disk not mounted), never passed over in silence.
#[cfg(unix)]
#[test]
fn a_broken_link_in_a_class_folder_is_said_whatever_its_name() {
    let root = scratch("broken-folder-link");
    jpeg(&root.join("train/male/1.jpg"));
    jpeg(&root.join("train/female/2.jpg"));
    std::os::unix::fs::symlink(
        "/nonexistent-fineface-disk/faces",
        root.join("train/male/more"),
    )
    .unwrap();
    let dataset = ImageFolder::new(root.clone())
        .load(&SplitConfig::default())
        .unwrap();
    assert_eq!(
        outcome(&dataset)["train/male/more"],
        Err(
            "listed in the class folder: a link to `/nonexistent-fineface-disk/faces`, which \
             is absent"
                .to_owned()
        )
    );
    std::fs::remove_dir_all(&root).unwrap();
}

/// What must still load: a dataset with a few images deleted whose names another folder
/// holds (FairFace numbers `train/` and `val/` alike; class folders numbered alike), a lone
/// stale row of an ImageFolder's groups CSV, names that only ASCII confusables tell apart
/// (`Kim`, `Kirn`), and words mixing Latin with a script unlike it (`Tシャツ`).
#[test]
fn valid_datasets_with_a_few_files_gone_still_load() {
    let root = scratch("still-loads");
    let ff = root.join("fairface");
    for i in 0..6 {
        jpeg(&ff.join(format!("train/{i}.jpg")));
        jpeg(&ff.join(format!("val/{i}.jpg")));
    }
    let rows = |split: &str| {
        let mut text = String::from("file,age,gender,race,service_test\n");
        for i in 0..6 {
            let gender = ["Male", "Female"][i % 2];
            text.push_str(&format!("{split}/{i}.jpg,20-29,{gender},White,False\n"));
        }
        text
    };
    std::fs::write(ff.join("fairface_label_train.csv"), rows("train")).unwrap();
    std::fs::write(ff.join("fairface_label_val.csv"), rows("val")).unwrap();
    for gone in ["train/2.jpg", "train/3.jpg"] {
        std::fs::remove_file(ff.join(gone)).unwrap();
    }
    let dataset = FairFace::new(ff).load(&SplitConfig::default()).unwrap();
    assert_eq!(dataset.skipped.len(), 2, "{:?}", dataset.skipped);

    let folder = root.join("imagefolder");
    jpeg(&folder.join("train/Male/1.jpg"));
    jpeg(&folder.join("train/Female/2.jpg"));
    jpeg(&folder.join("test/Female/1.jpg"));
    std::fs::write(
        folder.join("groups.csv"),
        "path,race\ntrain/Male/1.jpg,Black\ntrain/Female/2.jpg,White\ntrain/Male/9.jpg,White\n",
    )
    .unwrap();
    // `train/Male/9.jpg` is stale and `test/Female/1.jpg` has no row: both skipped.
    let dataset = ImageFolder {
        groups_csv: Some("groups.csv".into()),
        ..ImageFolder::new(folder)
    }
    .load(&SplitConfig::default())
    .unwrap();
    assert_eq!(dataset.skipped.len(), 2, "{:?}", dataset.skipped);

    let names = root.join("names");
    let mut csv = String::from("path,label,group\n");
    let labels = [
        "Kim",
        "Kirn",
        "Tシャツ",
        "HIV-положительный",
        "Kim",
        "Kirn",
        "Tシャツ",
        "HIV-положительный",
    ];
    for (i, label) in labels.iter().enumerate() {
        jpeg(&names.join(format!("{i}.jpg")));
        csv.push_str(&format!("{i}.jpg,{label},g\n"));
    }
    std::fs::write(names.join("manifest.csv"), csv).unwrap();
    let dataset = label_manifest(&names)
        .load(&SplitConfig::default())
        .unwrap();
    assert!(
        dataset.class_problems().is_empty(),
        "{:?}",
        dataset.class_problems()
    );
    std::fs::remove_dir_all(&root).unwrap();
}

/// Rows naming images outside the dataset folder (absolute elsewhere, or `../`): a lone
/// one is skipped and listed; two or more are refused, since they would be lost. A
/// `file://` URI names the local file.
#[test]
fn images_outside_the_folder_are_refused_and_file_uris_read() {
    let dir = scratch("outside");
    let root = dir.join("faces");
    let mut csv = String::from("path,label,group\n");
    for i in 0..4 {
        jpeg(&root.join(format!("imgs/{i}.jpg")));
        jpeg(&dir.join(format!("copy/{i}.jpg")));
        let listed = if i < 2 {
            format!("imgs/{i}.jpg")
        } else {
            dir.join(format!("copy/{i}.jpg")).display().to_string()
        };
        csv.push_str(&format!("{listed},{},g\n", i % 2));
    }
    let error = manifest_error(&root, &csv);
    assert!(
        error.starts_with(
            "manifest: 2 path(s) listed in manifest.csv name images outside the dataset folder"
        ) && error.contains("which are not read: give a root that holds them all"),
        "{error}"
    );
    let uris: String = (0..4)
        .map(|i| {
            let path = root.join(format!("imgs/{i}.jpg")).display().to_string();
            format!("file://{},{},g\n", path.replace(' ', "%20"), i % 2)
        })
        .collect();
    std::fs::write(
        root.join("manifest.csv"),
        format!("path,label,group\n{uris}"),
    )
    .unwrap();
    let dataset = label_manifest(&root).load(&SplitConfig::default()).unwrap();
    assert!(dataset.skipped.is_empty(), "{:?}", dataset.skipped);
    assert_eq!(dataset.len(), 4);
    // `file://` URIs of images outside: refused as the plain paths are.
    let uris: String = (2..4)
        .map(|i| {
            format!(
                "file://{},1,g\n",
                dir.join(format!("copy/{i}.jpg")).display()
            )
        })
        .collect();
    let error = manifest_error(&root, format!("path,label,group\nimgs/0.jpg,0,g\n{uris}"));
    assert!(
        error.contains("name images outside the dataset folder"),
        "{error}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

/// A link whose target lies under a folder link that is broken in turn is named by the end
/// of the whole chain: the disk not mounted.
#[cfg(unix)]
#[test]
fn a_link_through_a_broken_folder_link_names_the_end() {
    let root = scratch("chain-through-folder");
    jpeg(&root.join("imgs/0.jpg"));
    jpeg(&root.join("imgs/1.jpg"));
    std::os::unix::fs::symlink("/nonexistent-fineface-usb/faces", root.join("gone_dir")).unwrap();
    std::os::unix::fs::symlink("../gone_dir/x8.jpg", root.join("imgs/x8.jpg")).unwrap();
    std::fs::write(
        root.join("manifest.csv"),
        "path,label,group\nimgs/0.jpg,0,g\nimgs/1.jpg,1,g\nimgs/x8.jpg,1,g\n",
    )
    .unwrap();
    let dataset = label_manifest(&root).load(&SplitConfig::default()).unwrap();
    assert_eq!(
        outcome(&dataset)["imgs/x8.jpg"],
        Err(
            "listed in the manifest (line 4): a link to `/nonexistent-fineface-usb/faces`, \
             which is absent"
                .to_owned()
        )
    );
    std::fs::remove_dir_all(&root).unwrap();
}

/// ImageFolder's class folders as disks write them: an accent composed on one split and
/// decomposed on another (a macOS copy) is one class; a class folder that is a broken link
/// is said; a file linked from another split is one image there twice, refused.
#[cfg(unix)]
#[test]
fn class_folders_in_either_unicode_form_broken_or_linked_are_handled() {
    let root = scratch("class-forms");
    jpeg(&root.join("train/Caf\u{e9}/1.jpg"));
    jpeg(&root.join("train/Bar/2.jpg"));
    jpeg(&root.join("test/Cafe\u{301}/3.jpg"));
    jpeg(&root.join("test/Bar/4.jpg"));
    std::os::unix::fs::symlink("/nonexistent-fineface-nas/faces", root.join("train/nasdir"))
        .unwrap();
    let dataset = ImageFolder::new(root.clone())
        .load(&SplitConfig::default())
        .unwrap();
    assert_eq!(dataset.classes, ["Bar", "Caf\u{e9}"]);
    assert!(
        dataset.class_problems().is_empty(),
        "{:?}",
        dataset.class_problems()
    );
    assert_eq!(
        outcome(&dataset)["train/nasdir"],
        Err(
            "listed in the split folder: a link to `/nonexistent-fineface-nas/faces`, which is \
             absent"
                .to_owned()
        )
    );
    std::os::unix::fs::symlink("../../train/Bar/2.jpg", root.join("test/Bar/leak.jpg")).unwrap();
    let error = ImageFolder::new(root.clone())
        .load(&SplitConfig::default())
        .unwrap_err()
        .to_string();
    assert!(
        error.starts_with(
            "imagefolder: `train/Bar/2.jpg` (an image) and `test/Bar/leak.jpg` (a link to it) \
             are one image"
        ),
        "{error}"
    );
    std::fs::remove_dir_all(&root).unwrap();
}
