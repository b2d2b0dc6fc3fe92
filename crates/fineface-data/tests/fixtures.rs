//! Every loader on generated fixtures in its native format, malformed cases included.

#![allow(clippy::unwrap_used)] // Tests panic on failure by design.

use std::path::{Path, PathBuf};

use fineface_data::{
    CelebA, DataCheck, DataError, DatasetConfig, FairFace, ImageFolder, Lfwa, Manifest, Split,
    SplitConfig, UtkFace,
};

/// A fresh folder for one test.
fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("fineface-data-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// A real 12x10 JPEG.
fn jpeg(path: &Path) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    let img =
        image::RgbImage::from_fn(12, 10, |x, y| image::Rgb([x as u8 * 20, y as u8 * 20, 128]));
    img.save(path).unwrap();
}

/// A JPEG cut after its first 40 bytes.
fn truncated_jpeg(path: &Path) {
    jpeg(path);
    let bytes = std::fs::read(path).unwrap();
    std::fs::write(path, &bytes[..40]).unwrap();
}

fn every_sample(d: &fineface_data::FaceDataset) -> Vec<&fineface_data::FaceSample> {
    Split::ALL.iter().flat_map(|s| d.split(*s)).collect()
}

#[test]
fn fairface_reads_excel_damage_and_rejects_escapes() {
    let root = scratch("fairface");
    std::fs::write(
        root.join("fairface_label_train.csv"),
        "file,age,gender,race,service_test\n\
         train/1.jpg,9-Mar,Male,East Asian,TRUE\n\
         train/2.jpg,19-Oct,Female,Black,FALSE\n\
         train/3.jpg,20-29,Female,Indian,True\n\
         ../../etc/passwd,20-29,Male,White,False\n\
         train/4.jpg,30-39,Male,White,False\n",
    )
    .unwrap();
    std::fs::write(
        root.join("fairface_label_val.csv"),
        "file,age,gender,race,service_test\nval/1.jpg,more than 70,Male,Latino_Hispanic,False\n",
    )
    .unwrap();
    for f in ["train/1.jpg", "train/2.jpg", "train/3.jpg", "val/1.jpg"] {
        jpeg(&root.join(f));
    }
    let dataset = FairFace::new(root.clone())
        .load(&SplitConfig::default())
        .unwrap();
    assert_eq!(dataset.split(Split::Test).len(), 1);
    assert_eq!(every_sample(&dataset).len(), 4);
    let reasons: Vec<(&str, &str)> = dataset
        .skipped
        .iter()
        .map(|s| (s.file.as_str(), s.reason.as_str()))
        .collect();
    assert_eq!(
        reasons,
        vec![
            (
                "../../etc/passwd",
                "path in fairface_label_train.csv leaves the dataset folder"
            ),
            (
                "train/4.jpg",
                "listed in fairface_label_train.csv but absent"
            ),
        ]
    );
    let rows =
        fineface_data::formats::fairface::read_labels(&root.join("fairface_label_train.csv"))
            .unwrap();
    assert_eq!(
        (rows[0].age.as_str(), rows[0].service_test),
        ("3-9", Some(true))
    );
    assert_eq!(rows[1].age, "10-19");
    let groups: Vec<String> = every_sample(&dataset).iter().map(|s| s.group()).collect();
    assert!(groups.contains(&"East Asian|Male".to_owned()));

    std::fs::write(
        root.join("fairface_label_val.csv"),
        "file,age,gender,race,service_test\nval/1.jpg,70+,Male,White,False\n",
    )
    .unwrap();
    let error = FairFace::new(root.clone())
        .load(&SplitConfig::default())
        .unwrap_err();
    assert!(
        error.to_string().starts_with(&format!(
            "{}:2: unknown age bin `70+` (FairFace's are 0-2, 3-9,",
            root.join("fairface_label_val.csv").display()
        )),
        "{error}"
    );
    std::fs::remove_file(root.join("fairface_label_val.csv")).unwrap();
    let error = FairFace::new(root.clone())
        .load(&SplitConfig::default())
        .unwrap_err();
    assert!(matches!(error, DataError::MissingFile { .. }));
    assert!(
        error
            .to_string()
            .contains("https://github.com/joojs/fairface"),
        "{error}"
    );
    std::fs::remove_dir_all(&root).unwrap();
}

#[test]
fn utkface_skips_malformed_non_utf8_and_reports_bad_jpegs() {
    let root = scratch("utkface");
    let folder = root.join("UTKFace");
    let good = [
        "25_0_2_20170116174525125.jpg.chip.jpg",
        "30_1_0_20170116174525126.jpg.chip.jpg",
        "40_1_1_20170116174525127.jpg",
        "8_0_3_20170116174525128.jpg.chip.jpg",
    ];
    for name in good {
        jpeg(&folder.join(name));
    }
    let malformed = [
        "39_1_20170116174525125.jpg.chip.jpg",
        "24_0_1_20170116220224657 .jpg.chip.jpg",
        "55_0_0_20170116232725357jpg.chip.jpg",
        "14_0_0_2017011022340900.jpg.chip.jpg",
        "28_1_2_201701161846515488.jpg.chip.jpg",
    ];
    for name in malformed {
        jpeg(&folder.join(name));
    }
    // A zero-byte and a truncated JPEG with well-formed names: usable by name, unreadable.
    std::fs::write(folder.join("50_0_4_20170116174525129.jpg.chip.jpg"), b"").unwrap();
    truncated_jpeg(&folder.join("51_1_4_20170116174525130.jpg.chip.jpg"));
    #[cfg(unix)]
    {
        use std::os::unix::ffi::OsStrExt;
        let name = std::ffi::OsStr::from_bytes(b"26_0_0_2017011617452512\xff.jpg");
        std::fs::write(folder.join(name), b"x").unwrap();
    }
    let dataset = UtkFace::new(root.clone())
        .load(&SplitConfig::default())
        .unwrap();
    assert_eq!(every_sample(&dataset).len(), 6);
    let malformed_skips = dataset
        .skipped
        .iter()
        .filter(|s| s.reason.starts_with("malformed UTKFace name"))
        .count();
    assert_eq!(malformed_skips, malformed.len());
    #[cfg(unix)]
    assert!(
        dataset
            .skipped
            .iter()
            .any(|s| s.reason == "file name is not valid UTF-8")
    );

    let check = DataCheck::new(&dataset, true);
    assert_eq!(
        check.n_usable(),
        4,
        "zero-byte and truncated headers are unreadable"
    );
    let unreadable: Vec<&str> = check
        .skipped
        .iter()
        .filter(|s| s.reason.starts_with("unreadable image"))
        .map(|s| s.file.as_str())
        .collect();
    assert_eq!(
        unreadable,
        vec![
            "50_0_4_20170116174525129.jpg.chip.jpg",
            "51_1_4_20170116174525130.jpg.chip.jpg"
        ]
    );
    assert_eq!(
        check.image_sizes,
        std::collections::BTreeMap::from([("12x10".to_owned(), 4)])
    );
    let json = serde_json::to_value(&check).unwrap();
    for key in ["dataset", "root", "splits", "skipped", "n_skipped"] {
        assert!(json.get(key).is_some(), "{key}");
    }
    assert!(json["splits"]["train"]["groups"].is_object());
    std::fs::remove_dir_all(&root).unwrap();
}

#[test]
fn celeba_reads_crlf_and_lf_and_any_attribute() {
    for (name, eol) in [("crlf", "\r\n"), ("lf", "\n")] {
        let root = scratch(&format!("celeba-{name}"));
        let names = "5_o_Clock_Shadow Male Smiling Young ";
        let rows = [
            ("000001.jpg", "-1  1  1  1", "0"),
            ("000002.jpg", "-1 -1  1 -1", "0"),
            ("000003.jpg", " 1  1 -1  1", "1"),
            ("000004.jpg", "-1 -1 -1  1", "2"),
            ("000005.jpg", "-1 -1 -1  1", "2"),
        ];
        let mut attr = format!("{}{eol}{names}{eol}", rows.len());
        let mut part = String::new();
        for (image, values, split) in rows {
            attr.push_str(&format!("{image} {values}{eol}"));
            part.push_str(&format!("{image} {split}{eol}"));
            if image != "000005.jpg" {
                jpeg(&root.join("img_align_celeba").join(image));
            }
        }
        std::fs::write(root.join("list_attr_celeba.txt"), attr).unwrap();
        std::fs::write(root.join("list_eval_partition.txt"), part).unwrap();
        let celeba = CelebA {
            root: root.clone(),
            target: "Smiling".into(),
            sensitive: vec!["Male".into(), "Young".into()],
        };
        let dataset = celeba.load(&SplitConfig::default()).unwrap();
        assert_eq!(dataset.split(Split::Val).len(), 1, "{name}");
        assert_eq!(dataset.split(Split::Test).len(), 1);
        let first = &dataset.split(Split::Train)[0];
        assert_eq!(
            (first.target.as_str(), first.group()),
            ("Smiling", "Male|Young".to_owned())
        );
        assert_eq!(dataset.classes, vec!["Not_Smiling", "Smiling"]);
        assert_eq!(
            dataset.skipped[0].reason,
            "listed in list_attr_celeba.txt but absent"
        );
        let error = CelebA {
            target: "Eyeglasses".into(),
            ..celeba
        }
        .load(&SplitConfig::default())
        .unwrap_err();
        assert!(
            error
                .to_string()
                .contains("no attribute `Eyeglasses` (available: 5_o_Clock_Shadow, Male"),
            "{error}"
        );
        std::fs::remove_dir_all(&root).unwrap();
    }
}

/// `gender|race` of each row of `root/lfw_attributes.txt`.
fn lfwa_labels(root: &Path) -> Vec<String> {
    fineface_data::formats::lfwa::read_attributes(&root.join("lfw_attributes.txt"))
        .unwrap()
        .into_iter()
        .map(|r| format!("{}|{}", r.gender, r.race))
        .collect()
}

#[test]
fn lfwa_derives_gender_and_race_from_the_scores() {
    let root = scratch("lfwa");
    let header = "#\tperson\timagenum\tMale\tAsian\tWhite\tBlack\tBaby\tIndian";
    let table = format!(
        "# created 2009\n{header}\n\
         Aaron Eckhart\t1\t1.56\t-1.8\t1.7\t-2.0\t-1\t-0.5\n\
         Aaron Eckhart\t2\t0.8\t-1.2\t-0.1\t-0.4\t-1\t-0.3\n\
         Zhu Rongji\t1\t1.2\t2.4\t-0.3\t-1.9\t-1\t0.2\n\
         Serena Williams\t3\t-2.1\t-1.0\t-0.4\t1.9\t-1\t-0.2\n\
         Missing Person\t1\t-1.0\t0.1\t0.0\t0.0\t-1\t0.0\n"
    );
    std::fs::write(root.join("lfw_attributes.txt"), table).unwrap();
    for f in [
        "Aaron_Eckhart/Aaron_Eckhart_0001.jpg",
        "Aaron_Eckhart/Aaron_Eckhart_0002.jpg",
        "Zhu_Rongji/Zhu_Rongji_0001.jpg",
        "Serena_Williams/Serena_Williams_0003.jpg",
    ] {
        jpeg(&root.join("lfw").join(f));
    }
    assert_eq!(
        lfwa_labels(&root),
        [
            "Male|White",
            "Male|Undefined",
            "Male|Asian",
            "Female|Black",
            "Female|Asian"
        ]
    );
    let dataset = Lfwa::new(root.clone())
        .load(&SplitConfig::default())
        .unwrap();
    assert_eq!(every_sample(&dataset).len(), 4);
    assert_eq!(
        dataset.skipped[0].file,
        "Missing_Person/Missing_Person_0001.jpg"
    );
    std::fs::remove_file(root.join("lfw_attributes.txt")).unwrap();
    let error = Lfwa::new(root.clone())
        .load(&SplitConfig::default())
        .unwrap_err();
    assert!(error.to_string().contains("lfw_attributes.txt"), "{error}");
    std::fs::remove_dir_all(&root).unwrap();
}

#[test]
fn manifest_rejects_path_traversal_and_honours_its_split_column() {
    let root = scratch("manifest");
    for f in ["img/a.jpg", "img/b.jpg", "img/c.jpg"] {
        jpeg(&root.join(f));
    }
    jpeg(&root.parent().unwrap().join("outside.jpg"));
    std::fs::write(
        root.join("manifest.csv"),
        "path,smile,skin,split\nimg/a.jpg,yes,dark,train\nimg/b.jpg,no,light,val\nimg/c.jpg,no,dark,test\n../outside.jpg,yes,light,train\n",
    )
    .unwrap();
    let manifest = Manifest {
        target: "smile".into(),
        sensitive: vec!["skin".into()],
        ..Manifest::new(root.clone())
    };
    let dataset = manifest.load(&SplitConfig::default()).unwrap();
    assert_eq!(Split::ALL.map(|s| dataset.split(s).len()), [1, 1, 1]);
    assert_eq!(dataset.skipped[0].file, "../outside.jpg");
    assert_eq!(
        dataset.skipped[0].reason,
        "path in the manifest (line 5) leaves the dataset folder"
    );
    let error = Manifest {
        target: "age".into(),
        ..manifest
    }
    .load(&SplitConfig::default())
    .unwrap_err();
    assert!(
        error
            .to_string()
            .ends_with(":1: missing column `age` (header: path,smile,skin,split)"),
        "{error}"
    );
    std::fs::remove_dir_all(&root).unwrap();
}

/// FairFace re-exports write `service_test` as `0`/`1` (or worse); the column is unused, so
/// no spelling of it can make the dataset unusable (issue 17, item 11).
#[test]
fn fairface_service_test_in_any_spelling_never_fails_the_dataset() {
    let root = scratch("fairface-service-test");
    let csv = root.join("fairface_label_train.csv");
    std::fs::write(
        &csv,
        "file,age,gender,race,service_test\n\
         train/1.jpg,20-29,Male,White,1\n\
         train/2.jpg,20-29,Female,Black,0\n\
         train/3.jpg,30-39,Female,Indian,yes\n\
         train/4.jpg,30-39,Male,White,N\n\
         train/5.jpg,30-39,Male,White,maybe\n\
         train/6.jpg,30-39,Male,White,\n",
    )
    .unwrap();
    let rows = fineface_data::formats::fairface::read_labels(&csv).unwrap();
    let flags: Vec<Option<bool>> = rows.iter().map(|r| r.service_test).collect();
    assert_eq!(
        flags,
        [Some(true), Some(false), Some(true), Some(false), None, None]
    );
    std::fs::remove_dir_all(&root).unwrap();
}

/// A manifest written on Windows (`images\\face_0.jpg`) reads on every OS (issue 17, item 10).
#[test]
fn manifest_paths_with_windows_separators_are_found() {
    let root = scratch("manifest-windows");
    for f in [
        "images/face_0.jpg",
        "images/face_1.jpg",
        "images/sub/face_2.jpg",
    ] {
        jpeg(&root.join(f));
    }
    std::fs::write(
        root.join("manifest.csv"),
        "path,smile,skin,split\r\nimages\\face_0.jpg,yes,dark,train\r\n\
         images\\face_1.jpg,no,light,val\r\nimages\\sub\\face_2.jpg,no,dark,test\r\n\
         C:\\faces\\face_3.jpg,no,dark,train\r\n",
    )
    .unwrap();
    let manifest = Manifest {
        target: "smile".into(),
        sensitive: vec!["skin".into()],
        ..Manifest::new(root.clone())
    };
    let dataset = manifest.load(&SplitConfig::default()).unwrap();
    assert_eq!(Split::ALL.map(|s| dataset.split(s).len()), [1, 1, 1]);
    assert_eq!(
        dataset.split(Split::Test)[0].path,
        root.join("images/sub/face_2.jpg")
    );
    // A drive letter is outside the dataset folder on every OS.
    assert_eq!(dataset.skipped.len(), 1);
    assert_eq!(
        dataset.skipped[0].reason,
        "path in the manifest (line 5) leaves the dataset folder"
    );
    std::fs::remove_dir_all(&root).unwrap();
}

#[test]
fn image_folder_with_and_without_groups() {
    let root = scratch("imagefolder");
    for f in [
        "train/Male/1.jpg",
        "train/Male/2.jpg",
        "train/Female/3.jpg",
        "test/Male/4.jpg",
        "test/Female/5.jpg",
    ] {
        jpeg(&root.join(f));
    }
    std::fs::write(root.join("train/Male/notes.txt"), "not an image").unwrap();
    let plain = ImageFolder::new(root.clone())
        .load(&SplitConfig::default())
        .unwrap();
    assert_eq!(every_sample(&plain).len(), 5);
    assert_eq!(plain.classes, vec!["Female", "Male"]);
    assert!(every_sample(&plain).iter().all(|s| s.group() == "all"));
    std::fs::write(
        root.join("groups.csv"),
        "path,race\ntrain/Male/1.jpg,Black\ntrain/Male/2.jpg,White\ntrain/Female/3.jpg,Black\ntest/Male/4.jpg,White\n",
    )
    .unwrap();
    let grouped = ImageFolder {
        groups_csv: Some("groups.csv".into()),
        ..ImageFolder::new(root.clone())
    }
    .load(&SplitConfig::default())
    .unwrap();
    assert_eq!(every_sample(&grouped).len(), 4);
    assert_eq!(grouped.skipped[0].reason, "no row in the groups CSV");
    assert_eq!(grouped.sensitive, vec!["race"]);
    std::fs::remove_dir_all(&root).unwrap();
}

#[test]
fn configs_are_plain_toml_with_unknown_keys_rejected() {
    let config: DatasetConfig =
        toml::from_str("kind = \"celeba\"\nroot = \"/d\"\ntarget = \"Smiling\"\n").unwrap();
    assert_eq!(
        config,
        DatasetConfig::CelebA(CelebA {
            root: "/d".into(),
            target: "Smiling".into(),
            sensitive: vec!["Male".into()]
        })
    );
    let error =
        toml::from_str::<DatasetConfig>("kind = \"utkface\"\nroot = \"/d\"\ntargt = \"race\"\n")
            .unwrap_err();
    assert!(
        error.to_string().contains("unknown field `targt`"),
        "{error}"
    );
}

/// A UTKFace folder with `per_stratum` images of each race (0-3) x gender.
fn utkface_strata(name: &str, per_stratum: usize) -> PathBuf {
    let root = scratch(name);
    for race in 0..4 {
        for gender in 0..2 {
            for i in 0..per_stratum {
                let file = format!(
                    "{}_{gender}_{race}_20170116174525{i}{race}{gender}.jpg.chip.jpg",
                    20 + i
                );
                jpeg(&root.join("UTKFace").join(file));
            }
        }
    }
    root
}

#[test]
fn carved_splits_that_end_up_empty_are_warned_about_with_the_reason() {
    // 2 images per target x group stratum: 20 % and 10 % of 2 round to 0.
    let root = utkface_strata("empty-splits", 2);
    let dataset = UtkFace::new(root.clone())
        .load(&SplitConfig::default())
        .unwrap();
    assert_eq!(dataset.split(Split::Train).len(), 16);
    assert!(dataset.split(Split::Test).is_empty() && dataset.split(Split::Val).is_empty());
    let check = DataCheck::new(&dataset, false);
    assert_eq!(check.unusable_reason(), None, "usable for evaluation");
    assert_eq!(
        check.warnings,
        [
            "the val split is empty, so training refuses this dataset: there is no official \
             val split, and 10% of each target x group stratum rounds to 0 images: the largest \
             of the 8 strata among the 16 images it is carved from has 2, and 10% of a stratum \
             is an image from 5 on; raise split.val_fraction in the experiment's config or add \
             images",
            "the test split is empty, so training refuses this dataset: there is no official \
             test split, and 20% of each target x group stratum rounds to 0 images: the largest \
             of the 8 strata among the 16 images it is carved from has 2, and 20% of a stratum \
             is an image from 3 on; raise split.test_fraction in the experiment's config or add \
             images",
        ]
    );
    std::fs::remove_dir_all(&root).unwrap();

    // 3 per stratum: 20 % of 3 rounds to 1, as the message says; 10 % of the 2 left is 0.
    let root = utkface_strata("empty-val", 3);
    let dataset = UtkFace::new(root.clone())
        .load(&SplitConfig::default())
        .unwrap();
    assert_eq!(dataset.split(Split::Test).len(), 8);
    let check = DataCheck::new(&dataset, false);
    assert_eq!(check.warnings.len(), 1);
    assert!(check.warnings[0].starts_with("the val split is empty"));
    assert!(check.warnings[0].contains("the largest of the 8 strata among the 16 images"));
    std::fs::remove_dir_all(&root).unwrap();

    // 1 per stratum and half held out for testing: the carve takes every training image.
    let root = utkface_strata("empty-train", 1);
    let split = SplitConfig {
        test_fraction: 0.5,
        ..SplitConfig::default()
    };
    let dataset = UtkFace::new(root.clone()).load(&split).unwrap();
    assert_eq!(
        dataset.empty_splits[&Split::Train],
        "carving split.test_fraction (0.5) and split.val_fraction (0.1) of each target x group \
         stratum took all 8 training images: every stratum is too small to leave one"
    );
    std::fs::remove_dir_all(&root).unwrap();
}

/// Four CelebA images with Male/Smiling attributes and partitions 0, 0, 1, 2.
const CELEBA_ROWS: [(&str, &str, &str); 4] = [
    ("000001.jpg", "1,1", "0"),
    ("000002.jpg", "-1,1", "0"),
    ("000003.jpg", "1,-1", "1"),
    ("000004.jpg", "-1,-1", "2"),
];

#[test]
fn celeba_from_kaggle_and_from_the_official_archive_folders_loads() {
    // Kaggle: img_align_celeba/img_align_celeba/*.jpg and the annotations as CSV.
    let root = scratch("celeba-kaggle");
    let mut attr = "image_id,Male,Smiling\n".to_owned();
    let mut part = "image_id,partition\n".to_owned();
    for (image, values, split) in CELEBA_ROWS {
        attr.push_str(&format!("{image},{values}\n"));
        part.push_str(&format!("{image},{split}\n"));
        jpeg(&root.join("img_align_celeba/img_align_celeba").join(image));
    }
    std::fs::write(root.join("list_attr_celeba.csv"), attr).unwrap();
    std::fs::write(root.join("list_eval_partition.csv"), part).unwrap();
    let dataset = celeba_with_official_splits(&root);
    assert!(dataset.skipped.is_empty(), "{:?}", dataset.skipped);
    assert_eq!(
        dataset.split(Split::Val)[0].path,
        root.join("img_align_celeba/img_align_celeba/000003.jpg")
    );
    assert_eq!(dataset.split(Split::Test)[0].target, "Female");
    std::fs::remove_dir_all(&root).unwrap();

    // The official archive: Img/img_align_celeba/, Anno/list_attr_celeba.txt,
    // Eval/list_eval_partition.txt.
    let root = scratch("celeba-anno-eval");
    let mut attr = format!("{}\nMale Smiling\n", CELEBA_ROWS.len());
    let mut part = String::new();
    for (image, values, split) in CELEBA_ROWS {
        attr.push_str(&format!("{image} {}\n", values.replace(',', " ")));
        part.push_str(&format!("{image} {split}\n"));
        jpeg(&root.join("Img/img_align_celeba").join(image));
    }
    std::fs::create_dir_all(root.join("Anno")).unwrap();
    std::fs::create_dir_all(root.join("Eval")).unwrap();
    std::fs::write(root.join("Anno/list_attr_celeba.txt"), attr).unwrap();
    std::fs::write(root.join("Eval/list_eval_partition.txt"), part).unwrap();
    celeba_with_official_splits(&root);
    std::fs::remove_dir_all(&root).unwrap();
}

/// CelebA at `root`, asserting the splits of `CELEBA_ROWS`' partition column.
fn celeba_with_official_splits(root: &Path) -> fineface_data::FaceDataset {
    let dataset = CelebA::new(root.to_owned())
        .load(&SplitConfig::default())
        .unwrap();
    assert_eq!(
        [Split::Train, Split::Val, Split::Test].map(|s| dataset.split(s).len()),
        [2, 1, 1]
    );
    dataset
}

#[test]
fn celeba_images_elsewhere_are_an_error_saying_where_we_looked_and_what_is_there() {
    let root = scratch("celeba-elsewhere");
    let mut attr = "image_id,Male,Smiling\n".to_owned();
    for (image, values, _) in CELEBA_ROWS {
        attr.push_str(&format!("{image},{values}\n"));
        jpeg(&root.join("img_align_celeba/images").join(image));
    }
    std::fs::write(root.join("list_attr_celeba.csv"), attr).unwrap();
    let error = CelebA::new(root.clone())
        .load(&SplitConfig::default())
        .unwrap_err()
        .to_string();
    let images = root.join("img_align_celeba");
    assert!(
        error.starts_with(&format!(
            "celeba: no image listed in list_attr_celeba.csv (4 listed, the first `000001.jpg`) \
             in {} nor in {} nor in {}; {} holds only folders: images/ (",
            images.display(),
            images.join("img_align_celeba").display(),
            root.join("Img/img_align_celeba").display(),
            images.display()
        )),
        "{error}"
    );
    std::fs::remove_dir_all(&root).unwrap();
}

#[test]
fn utkface_in_the_wild_parts_and_a_doubled_folder_are_found() {
    // "In-the-wild" faces: part1/ part2/ part3/ under the folder pointed at.
    let root = scratch("utkface-parts");
    for (part, name) in [
        ("part1", "25_0_2_20170116174525125.jpg"),
        ("part1", "30_1_0_20170116174525126.jpg"),
        ("part2", "40_1_1_20170116174525127.jpg"),
        ("part3", "8_0_3_20170116174525128.jpg"),
    ] {
        jpeg(&root.join(part).join(name));
    }
    // What unpacking leaves beside the parts does not hide them.
    std::fs::write(root.join(".DS_Store"), b"\0\0\0\x01Bud1").unwrap();
    std::fs::write(root.join("landmark_list_part1.txt"), b"").unwrap();
    let dataset = UtkFace::new(root.clone())
        .load(&SplitConfig::default())
        .unwrap();
    let mut files: Vec<&str> = every_sample(&dataset)
        .iter()
        .map(|s| s.file.as_str())
        .collect();
    files.sort();
    assert_eq!(
        files,
        [
            "part1/25_0_2_20170116174525125.jpg",
            "part1/30_1_0_20170116174525126.jpg",
            "part2/40_1_1_20170116174525127.jpg",
            "part3/8_0_3_20170116174525128.jpg",
        ]
    );
    // A part copied into another: the image once, the copy skipped naming the first.
    std::fs::copy(
        root.join("part1/30_1_0_20170116174525126.jpg"),
        root.join("part2/30_1_0_20170116174525126.jpg"),
    )
    .unwrap();
    let dataset = UtkFace::new(root.clone())
        .load(&SplitConfig::default())
        .unwrap();
    assert_eq!(dataset.len(), 4);
    assert_eq!(
        dataset.skipped[0].reason,
        "the same image name as `part1/30_1_0_20170116174525126.jpg`: one image in two folders"
    );
    std::fs::remove_dir_all(&root).unwrap();

    // An archive unpacked into a folder of its own name: UTKFace/UTKFace/*.jpg.
    let root = scratch("utkface-doubled");
    jpeg(&root.join("UTKFace/UTKFace/25_0_2_20170116174525125.jpg.chip.jpg"));
    let dataset = UtkFace::new(root.clone())
        .load(&SplitConfig::default())
        .unwrap();
    assert_eq!(dataset.len(), 1);
    assert_eq!(
        every_sample(&dataset)[0].file,
        "UTKFace/25_0_2_20170116174525125.jpg.chip.jpg"
    );
    std::fs::remove_dir_all(&root).unwrap();

    // Nothing UTKFace-named anywhere: where we looked and what is there.
    let root = scratch("utkface-none");
    jpeg(&root.join("photos/holiday.jpg"));
    let error = UtkFace::new(root.clone())
        .load(&SplitConfig::default())
        .unwrap_err()
        .to_string();
    assert!(
        error.starts_with(&format!(
            "utkface: no image named [age]_[gender]_[race]_[datetime].jpg in {} nor in the \
             folders two levels below it; {} holds only folders: photos/ (",
            root.display(),
            root.display()
        )),
        "{error}"
    );
    std::fs::remove_dir_all(&root).unwrap();
}

/// ImageFolder layouts as exports and copies leave them: split folders named as Roboflow
/// (`valid/`), Kaggle (`Train/`, `testing/`) name them; Jupyter's `.ipynb_checkpoints` and
/// macOS's `__MACOSX` inside; `._` copies and images beside the class folders. Each is read
/// or skipped with its reason, never taken as a class; two folders of one split and a root
/// one level off are refused, saying what to do.
#[test]
fn image_folder_split_folders_as_exports_name_them() {
    let root = scratch("imagefolder-exports");
    for f in [
        "Train/Male/1.jpg",
        "Train/Female/2.jpg",
        "valid/Male/3.jpg",
        "valid/Female/4.jpg",
        "testing/Male/5.jpg",
        "testing/Female/6.jpg",
        "Train/.ipynb_checkpoints/7.jpg",
        "Train/__MACOSX/Male/8.jpg",
        "Train/Male/._1.jpg",
        "Train/stray.jpg",
    ] {
        jpeg(&root.join(f));
    }
    let dataset = ImageFolder::new(root.clone())
        .load(&SplitConfig::default())
        .unwrap();
    assert_eq!(dataset.classes, vec!["Female", "Male"]);
    assert_eq!(Split::ALL.map(|s| dataset.split(s).len()), [2, 2, 2]);
    let skipped: Vec<(&str, &str)> = dataset
        .skipped
        .iter()
        .map(|s| (s.file.as_str(), s.reason.as_str()))
        .collect();
    assert_eq!(
        skipped,
        [
            (
                "Train/Male/._1.jpg",
                "a macOS metadata file (`._` copy), not an image"
            ),
            (
                "Train/stray.jpg",
                "an image beside the class folders: in no class"
            ),
        ]
    );

    // `val/` beside `valid/`: the exact name is the split (as before aliases were read),
    // the other left out with a warning.
    jpeg(&root.join("val/Male/9.jpg"));
    let dataset = ImageFolder::new(root.clone())
        .load(&SplitConfig::default())
        .unwrap();
    assert_eq!(dataset.split(Split::Val).len(), 1);
    assert_eq!(dataset.split(Split::Val)[0].file, "val/Male/9.jpg");
    // Two spellings and neither the exact one: which is validation is the user's choice.
    std::fs::rename(root.join("val"), root.join("validation")).unwrap();
    let error = ImageFolder::new(root.clone())
        .load(&SplitConfig::default())
        .unwrap_err()
        .to_string();
    assert_eq!(
        error,
        format!(
            "imagefolder: 2 folders hold the val split: `{}`, `{}`; keep one (or merge them)",
            root.join("valid").display(),
            root.join("validation").display()
        )
    );
    std::fs::remove_dir_all(root.join("validation")).unwrap();

    // The archive's own top folder around everything: the error names it.
    let outer = scratch("imagefolder-outer");
    std::fs::rename(&root, outer.join("faces")).unwrap();
    let error = ImageFolder::new(outer.clone())
        .load(&SplitConfig::default())
        .unwrap_err()
        .to_string();
    assert!(
        error.contains(&format!(
            "(`{}` holds one: give that folder)",
            outer.join("faces").display()
        )),
        "{error}"
    );
    std::fs::remove_dir_all(&outer).unwrap();

    // Split folders without one image in a class folder: refused, not an empty dataset.
    let empty = scratch("imagefolder-empty");
    std::fs::create_dir_all(empty.join("train/Male")).unwrap();
    std::fs::write(empty.join("train/notes.txt"), "images to come").unwrap();
    let error = ImageFolder::new(empty.clone())
        .load(&SplitConfig::default())
        .unwrap_err()
        .to_string();
    assert!(
        error.starts_with("imagefolder: no image in a class folder (train/<class>/<image>) in "),
        "{error}"
    );
    std::fs::remove_dir_all(&empty).unwrap();
}

/// The 73 attribute names of Columbia's `lfw_attributes.txt`, in the published order
/// (Kumar et al., 2009): `Indian` is the 58th, far from the other races.
const LFW_ATTRIBUTES: [&str; 73] = [
    "Male",
    "Asian",
    "White",
    "Black",
    "Baby",
    "Child",
    "Youth",
    "Middle Aged",
    "Senior",
    "Black Hair",
    "Blond Hair",
    "Brown Hair",
    "Bald",
    "No Eyewear",
    "Eyeglasses",
    "Sunglasses",
    "Mustache",
    "Smiling",
    "Frowning",
    "Chubby",
    "Blurry",
    "Harsh Lighting",
    "Flash",
    "Soft Lighting",
    "Outdoor",
    "Curly Hair",
    "Wavy Hair",
    "Straight Hair",
    "Receding Hairline",
    "Bangs",
    "Sideburns",
    "Fully Visible Forehead",
    "Partially Visible Forehead",
    "Obstructed Forehead",
    "Bushy Eyebrows",
    "Arched Eyebrows",
    "Narrow Eyes",
    "Eyes Open",
    "Big Nose",
    "Pointy Nose",
    "Big Lips",
    "Mouth Closed",
    "Mouth Slightly Open",
    "Mouth Wide Open",
    "Teeth Not Visible",
    "No Beard",
    "Goatee",
    "Round Jaw",
    "Double Chin",
    "Wearing Hat",
    "Oval Face",
    "Square Face",
    "Round Face",
    "Color Photo",
    "Posed Photo",
    "Attractive Man",
    "Attractive Woman",
    "Indian",
    "Gray Hair",
    "Bags Under Eyes",
    "Heavy Makeup",
    "Rosy Cheeks",
    "Shiny Skin",
    "Pale Skin",
    "5 o' Clock Shadow",
    "Strong Nose-Mouth Lines",
    "Wearing Lipstick",
    "Flushed Face",
    "High Cheekbones",
    "Brown Eyes",
    "Wearing Earrings",
    "Wearing Necktie",
    "Wearing Necklace",
];

/// The published layout of `lfw_attributes.txt` (`../shared` does not hold the file): a
/// comment line, the `#\tperson\timagenum\t...` header of 73 attributes whose names hold
/// spaces and punctuation, and rows of 73 scores; the races read from their columns
/// wherever they are, `Indian` 54 columns after `Black`.
#[test]
fn lfwa_reads_the_published_layout_of_73_attributes() {
    let root = scratch("lfwa-published");
    let mut table = format!(
        "# created on 2009, Columbia University\n#\tperson\timagenum\t{}\n",
        LFW_ATTRIBUTES.join("\t")
    );
    // (person, imagenum, scores by attribute name; every other score -0.5)
    type Scores = &'static [(&'static str, f64)];
    let people: [(&str, u32, Scores); 4] = [
        ("Aaron Eckhart", 1, &[("Male", 1.6), ("White", 1.7)]),
        ("Zhu Rongji", 1, &[("Male", 1.2), ("Asian", 2.4)]),
        ("Serena Williams", 3, &[("Male", -2.1), ("Black", 1.9)]),
        (
            "Sachin Tendulkar",
            2,
            &[("Male", 0.9), ("Indian", 1.1), ("White", 0.3)],
        ),
    ];
    for (person, number, scores) in people {
        let values: Vec<String> = LFW_ATTRIBUTES
            .iter()
            .map(|name| {
                let score = scores.iter().find(|(n, _)| n == name).map_or(-0.5, |s| s.1);
                format!("{score:.6}")
            })
            .collect();
        table.push_str(&format!("{person}\t{number}\t{}\n", values.join("\t")));
        let name = person.replace(' ', "_");
        jpeg(&root.join(format!("lfw/{name}/{name}_{number:04}.jpg")));
    }
    std::fs::write(root.join("lfw_attributes.txt"), table).unwrap();
    assert_eq!(
        lfwa_labels(&root),
        ["Male|White", "Male|Asian", "Female|Black", "Male|Indian"]
    );
    let dataset = Lfwa::new(root.clone())
        .load(&SplitConfig::default())
        .unwrap();
    assert_eq!(dataset.len(), 4, "{:?}", dataset.skipped);
    std::fs::remove_dir_all(&root).unwrap();
}
