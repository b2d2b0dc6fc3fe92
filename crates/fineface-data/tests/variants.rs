//! Every label-file reader against the variants the real world writes of one valid file
//! (issue 27): the same value, or the refusal named in `tests/support/variants.rs`.

#![allow(clippy::unwrap_used)] // Test helpers panic on broken fixtures by design.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use fineface_data::formats::{celeba, fairface, lfwa};
use fineface_data::{DataError, Manifest, Split, SplitConfig};

#[path = "../../../tests/support/variants.rs"]
mod variants;

use variants::{Expect, Variant, assert_all_handled, check_all, csv_variants, text_variants};

/// Reads `bytes` written as `name` in a fresh folder with `read`.
fn reading<T>(
    name: &'static str,
    read: impl Fn(&Path) -> Result<T, DataError>,
) -> impl FnMut(&[u8]) -> Result<T, DataError> {
    move |bytes| {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(name);
        std::fs::write(&path, bytes).unwrap();
        read(&path)
    }
}

/// `variants` with `name`'s expectation replaced.
fn expecting(mut variants: Vec<Variant>, name: &str, expect: Expect) -> Vec<Variant> {
    let v = variants.iter_mut().find(|v| v.name == name).unwrap();
    v.expect = expect;
    variants
}

const FAIRFACE: &str = "file,age,gender,race,service_test\n\
                        train/1.jpg,3-9,Male,East Asian,True\n\
                        train/café.jpg,20-29,Female,Latino_Hispanic,False\n";

#[test]
fn fairface_label_csvs_in_every_variant() {
    let mut read = reading("fairface_label_train.csv", fairface::read_labels);
    let expected = read(FAIRFACE.as_bytes()).unwrap();
    assert_eq!(expected.len(), 2);
    assert_all_handled(
        "fairface",
        check_all(&csv_variants(FAIRFACE, "race"), &expected, read),
    );
}

#[test]
fn fairface_values_in_any_case_and_spacing_read_as_fairface_spells_them() {
    let mut read = reading("fairface_label_train.csv", fairface::read_labels);
    let expected = read(FAIRFACE.as_bytes()).unwrap();
    let shouted = FAIRFACE
        .replace("Male,East Asian", "MALE,east_asian")
        .replace("Female,Latino_Hispanic", "female,Latino Hispanic");
    assert_eq!(read(shouted.as_bytes()).unwrap(), expected);
    let numeric = FAIRFACE.replace("Male,East Asian", "Male,0");
    let e = read(numeric.as_bytes()).unwrap_err().to_string();
    assert!(
        e.contains(":2: unknown race `0` (FairFace's are White, Black")
            && e.contains("HuggingFaceM4/FairFace: gender 0 = Male, race 0 = East Asian")
            && e.contains("nateraw/fairface: gender 0 = Female, race 0 = Black"),
        "{e}"
    );
    // A name with an invisible character says which.
    let e = read(
        FAIRFACE
            .replace("Male,East Asian", "Male,East\u{200B} Asian")
            .as_bytes(),
    )
    .unwrap_err()
    .to_string();
    assert!(
        e.contains("invisible character U+200B (zero-width space)"),
        "{e}"
    );
    let e = read(FAIRFACE.replacen("race", "race\u{2060}", 1).as_bytes())
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("missing column `race`") && e.contains("U+2060"),
        "{e}"
    );
    // A word that is no FairFace value gets no word about numbers.
    let e = read(
        FAIRFACE
            .replace("Male,East Asian", "Male,Martian")
            .as_bytes(),
    )
    .unwrap_err()
    .to_string();
    assert!(!e.contains("numbers"), "{e}");
}

const CELEBA_ATTR: &str = "2\n5_o_Clock_Shadow Male Smiling\n\
                           000001.jpg -1  1  1\n000002.jpg  1 -1 -1\n";
const CELEBA_PARTITION: &str = "000001.jpg 0\n000002.jpg 2\n";

#[test]
fn celeba_text_files_in_every_variant() {
    let mut read = reading("list_attr_celeba.txt", celeba::read_attributes);
    let expected = read(CELEBA_ATTR.as_bytes()).unwrap();
    assert_eq!(expected.rows.len(), 2);
    assert_all_handled(
        "list_attr_celeba.txt",
        check_all(&text_variants(CELEBA_ATTR), &expected, read),
    );
    let mut read = reading("list_eval_partition.txt", celeba::read_partition);
    let expected = read(CELEBA_PARTITION.as_bytes()).unwrap();
    assert_eq!(expected["000002.jpg"], Split::Test);
    assert_all_handled(
        "list_eval_partition.txt",
        check_all(&text_variants(CELEBA_PARTITION), &expected, read),
    );
}

/// An attribute table by image and name, whatever the column order.
fn by_name(table: celeba::AttributeTable) -> BTreeMap<String, BTreeMap<String, bool>> {
    let names = table.names;
    table
        .rows
        .into_iter()
        .map(|(image, values)| (image, names.iter().cloned().zip(values).collect()))
        .collect()
}

#[test]
fn celeba_kaggle_csvs_in_every_variant() {
    let attr = "image_id,5_o_Clock_Shadow,Male,Smiling\n\
                000001.jpg,-1,1,1\n000002.jpg,1,-1,-1\n";
    let mut read = reading("list_attr_celeba.csv", |p: &Path| {
        celeba::read_attributes_csv(p).map(by_name)
    });
    let expected = read(attr.as_bytes()).unwrap();
    assert_eq!(expected.len(), 2);
    // Every column but the image's is an attribute: a column of notes is not 1 or -1.
    let variants = expecting(
        csv_variants(attr, "image_id"),
        "an extra column",
        Expect::Refused(vec!["`checked by hand` is not 1 or -1"]),
    );
    assert_all_handled(
        "list_attr_celeba.csv",
        check_all(&variants, &expected, &mut read),
    );
    // TFDS and pandas write the attributes as booleans, other mirrors as 0 and 1.
    for (minus, plus) in [("False", "True"), ("0", "1"), ("false", "TRUE")] {
        let written = attr.replace("-1", minus).replace(",1", &format!(",{plus}"));
        assert_eq!(
            read(written.as_bytes()).unwrap(),
            expected,
            "{minus}/{plus}"
        );
    }

    let partition = "image_id,partition\n000001.jpg,0\n000002.jpg,2\n";
    let mut read = reading("list_eval_partition.csv", celeba::read_partition_csv);
    let expected = read(partition.as_bytes()).unwrap();
    assert_all_handled(
        "list_eval_partition.csv",
        check_all(&csv_variants(partition, "partition"), &expected, read),
    );
}

const LFWA: &str = "# created 2009\n#\tperson\timagenum\tMale\tAsian\tWhite\tBlack\tIndian\n\
                    Aaron Eckhart\t1\t1.56\t-1.8\t1.7\t-2.0\t-0.5\n\
                    Zhu Rongji\t1\t-1.2\t2.4\t-0.3\t-1.9\t-1.0\n";

#[test]
fn lfwa_attributes_in_every_variant() {
    let mut read = reading("lfw_attributes.txt", lfwa::read_attributes);
    let expected = read(LFWA.as_bytes()).unwrap();
    assert_eq!(
        (expected[1].gender.as_str(), expected[1].race.as_str()),
        ("Female", "Asian")
    );
    assert_all_handled(
        "lfw_attributes.txt",
        check_all(&text_variants(LFWA), &expected, read),
    );
}

/// What a loaded manifest holds: each split's samples, and what was skipped and why.
type Loaded = (
    Vec<(Split, String, String, Vec<String>)>,
    Vec<(String, String)>,
);

fn loaded(root: &Path) -> Result<Loaded, DataError> {
    let dataset = Manifest::new(root.to_owned()).load(&SplitConfig::default())?;
    let samples = Split::ALL
        .iter()
        .flat_map(|&s| dataset.split(s).iter().map(move |x| (s, x)))
        .map(|(s, x)| (s, x.file.clone(), x.target.clone(), x.sensitive.clone()))
        .collect();
    // The reason names the row's line, which a preamble or blank lines move.
    let without_line = |reason: &str| match (reason.find(" (line "), reason.find(") ")) {
        (Some(at), Some(end)) if at < end => format!("{}{}", &reason[..at], &reason[end + 1..]),
        _ => reason.to_owned(),
    };
    let skipped = dataset
        .skipped
        .iter()
        .map(|s| (s.file.clone(), without_line(&s.reason)))
        .collect();
    Ok((samples, skipped))
}

fn manifest_root() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("images")).unwrap();
    for name in ["a", "b", "c", "d"] {
        image::RgbImage::new(4, 4)
            .save(dir.path().join(format!("images/{name}.png")))
            .unwrap();
    }
    dir
}

const MANIFEST: &str = "path,gender,race,split\n\
                        images/a.png,Male,White,train\nimages/b.png,Female,Black,train\n\
                        images/c.png,Male,Black,test\nimages/d.png,Female,White,val\n\
                        images/gone.png,Female,White,train\n";

#[test]
fn manifests_in_every_variant() {
    let root = manifest_root();
    let path: PathBuf = root.path().join("manifest.csv");
    let mut read = |bytes: &[u8]| {
        std::fs::write(&path, bytes).unwrap();
        loaded(root.path())
    };
    let expected = read(MANIFEST.as_bytes()).unwrap();
    assert_eq!((expected.0.len(), expected.1.len()), (4, 1));
    assert_all_handled(
        "manifest.csv",
        check_all(&csv_variants(MANIFEST, "path"), &expected, &mut read),
    );
    // Numbers are labels of their own: CelebA's -1 and 1 are two classes, not two spellings.
    let signed = MANIFEST
        .replace(",Male,", ",1,")
        .replace(",Female,", ",-1,");
    let (samples, _) = read(signed.as_bytes()).unwrap();
    assert!(samples.iter().any(|s| s.2 == "-1") && samples.iter().any(|s| s.2 == "1"));
    // Splits as other tools spell them.
    let spelled = MANIFEST
        .replace(",train\n", ",Training\n")
        .replace(",val\n", ",validation\n")
        .replace(",test\n", ",TEST\n");
    assert_eq!(read(spelled.as_bytes()).unwrap(), expected);
}

#[test]
fn manifest_values_that_are_no_label_are_refused_with_their_line() {
    let root = manifest_root();
    let cases = [
        (
            "images/b.png,Female,Black",
            "images/b.png,female,Black",
            ":5: column `gender` holds `Female` here and `female` on line 3",
        ),
        (
            "images/b.png,Female,Black",
            "images/b.png,Female,nan",
            ":3: column `race` holds `nan`, which pandas, R and spreadsheets write for a \
             missing value",
        ),
        (
            "images/b.png,Female,Black",
            "images/b.png,Female,NaT",
            ":3: column `race` holds `NaT`, which pandas, R and spreadsheets write",
        ),
        (
            "images/b.png,Female,Black",
            "images/b.png,Female,?",
            ":3: column `race` holds `?`, which pandas, R and spreadsheets write",
        ),
        (
            "images/b.png,Female,Black",
            "images/b.png,Female,Black|White",
            ":3: column `race` holds `Black|White`: `|` joins the parts of a group",
        ),
        (
            "images/b.png,Female,Black",
            "images/b.png,73%,Black",
            ":3: column `gender` holds `73%`, a score",
        ),
        (
            "images/b.png,Female,Black",
            "images/b.png,Female,#VALUE!",
            ":3: column `race` holds `#VALUE!`, an Excel error value",
        ),
        (
            "images/b.png,Female,Black",
            "images/b.png,Female,Bl\u{200B}ack",
            ":3: column `race` holds `Bl\u{200B}ack`, an invisible character U+200B \
             (zero-width space)",
        ),
        (
            "images/b.png,Female,Black",
            "images/b.png,0.73,Black",
            ":3: column `gender` holds `0.73`, a score",
        ),
        (
            "images/b.png,Female,Black",
            "images/b.png,Female,",
            ":3: column `race` is empty",
        ),
        (
            ",train\n",
            ",holdout\n",
            ":2: split `holdout` is not train, val or test",
        ),
    ];
    for (from, to, message) in cases {
        std::fs::write(
            root.path().join("manifest.csv"),
            MANIFEST.replacen(from, to, 1),
        )
        .unwrap();
        let e = loaded(root.path()).unwrap_err().to_string();
        assert!(e.contains(message), "{to}: {e}");
    }
}

/// A manifest whose paths are all a folder off: refused, saying where the first image is
/// and what to change, instead of an empty dataset.
#[test]
fn manifest_paths_a_folder_off_say_where_the_images_are() {
    let root = manifest_root();
    for (from, to, message) in [
        (
            "images/",
            "",
            "`a.png` is at `images/a.png`: the paths lack the leading `images/`; add it",
        ),
        (
            "images/",
            "data/images/",
            "`data/images/a.png` is at `images/a.png`: the paths carry a leading `data/`",
        ),
        (
            "images/",
            "nowhere/",
            "(5 listed, the first `nowhere/a.png`) in",
        ),
    ] {
        std::fs::write(root.path().join("manifest.csv"), MANIFEST.replace(from, to)).unwrap();
        let e = loaded(root.path()).unwrap_err().to_string();
        assert!(
            e.starts_with("manifest: no image listed in manifest.csv") && e.contains(message),
            "{to}: {e}"
        );
    }
}

/// FairFace's label CSVs at the root and the images where the official archives unpack
/// them: beside the CSVs, or one folder down (`fairface-img-margin025-trainval/train/`);
/// paths written with Windows separators; both margins unpacked side by side refused.
#[test]
fn fairface_images_are_found_where_the_archives_put_them() {
    let labels = "file,age,gender,race,service_test\n\
                  train/1.png,3-9,Male,White,True\ntrain/2.png,20-29,Female,Black,False\n\
                  train/3.png,20-29,Male,Black,False\ntrain/4.png,3-9,Female,White,True\n";
    let test = "file,age,gender,race\nval/1.png,3-9,Male,White\nval/2.png,3-9,Female,Black\n";
    let load = |root: &Path| {
        fineface_data::FairFace::new(root.to_owned())
            .load(&SplitConfig::default())
            .map(|d| {
                (
                    Split::ALL.iter().map(|&s| d.split(s).len()).sum::<usize>(),
                    d.skipped.len(),
                )
            })
    };
    for (images_under, csv) in [
        ("", labels.to_owned()),
        ("fairface-img-margin025-trainval", labels.to_owned()),
        ("", labels.replace("train/", "train\\")),
        ("", labels.replace("train/", "./train/")),
    ] {
        let dir = tempfile::tempdir().unwrap();
        let images = dir.path().join(images_under);
        for name in ["train/1", "train/2", "train/3", "train/4", "val/1", "val/2"] {
            let file = images.join(format!("{name}.png"));
            std::fs::create_dir_all(file.parent().unwrap()).unwrap();
            image::RgbImage::new(4, 4).save(file).unwrap();
        }
        std::fs::write(dir.path().join("fairface_label_train.csv"), &csv).unwrap();
        std::fs::write(dir.path().join("fairface_label_val.csv"), test).unwrap();
        assert_eq!(
            load(dir.path()).unwrap(),
            (6, 0),
            "images under `{images_under}`"
        );
        // Paths a folder off: every image absent is an error saying where they are.
        for (prefixed, says) in [
            (
                csv.replace("train/", "fairface/train/")
                    .replace("train\\", "fairface/train/"),
                "fairface/train/1.png` is at `",
            ),
            (
                csv.replace("train/", "/home/ana/fairface/train/")
                    .replace("train\\", "/home/ana/fairface/train/"),
                "fairface/train/1.png` is at `",
            ),
            (
                csv.replace("train/", "").replace("train\\", ""),
                "the paths lack the leading `",
            ),
            (
                csv.replace("train/", "elsewhere/")
                    .replace("train\\", "elsewhere/"),
                "no image listed in fairface_label_train.csv and fairface_label_val.csv (6 \
                 listed, the first `",
            ),
        ] {
            std::fs::write(dir.path().join("fairface_label_train.csv"), &prefixed).unwrap();
            std::fs::write(
                dir.path().join("fairface_label_val.csv"),
                test.replace("val/", "fairface/val/"),
            )
            .unwrap();
            let e = load(dir.path()).unwrap_err().to_string();
            assert!(e.contains(says) && e.contains("holds the folders"), "{e}");
            if says.contains("is at") && !prefixed.contains("/home/") {
                assert!(
                    e.contains(&format!("is at `{images_under}"))
                        && (e.contains("the paths carry a leading `fairface/`")
                            || e.contains("the paths start with `fairface/` where the folder has")),
                    "{e}"
                );
            }
            std::fs::write(dir.path().join("fairface_label_train.csv"), &csv).unwrap();
            std::fs::write(dir.path().join("fairface_label_val.csv"), test).unwrap();
        }
        if !images_under.is_empty() {
            let other = dir.path().join("fairface-img-margin125-trainval");
            std::fs::create_dir_all(other.join("train")).unwrap();
            std::fs::copy(images.join("train/1.png"), other.join("train/1.png")).unwrap();
            let e = load(dir.path()).unwrap_err().to_string();
            assert!(
                e.contains("fairface-img-margin025-trainval, fairface-img-margin125-trainval"),
                "{e}"
            );
        }
    }
}

/// LFW's images where each archive and mirror unpacks them; none, or two alignments side by
/// side, refused with what was found.
#[test]
fn lfwa_images_are_found_where_the_archives_put_them() {
    let load = |root: &Path| {
        fineface_data::Lfwa::new(root.to_owned())
            .load(&SplitConfig::default())
            .map(|d| Split::ALL.iter().map(|&s| d.split(s).len()).sum::<usize>())
    };
    let people = [
        ("Aaron_Eckhart", "1.56\t-1.8\t1.7\t-2.0\t-0.5"),
        ("Zhu_Rongji", "-1.2\t2.4\t-0.3\t-1.9\t-1.0"),
        ("Ann_Veneman", "-1.0\t-2.0\t1.5\t-1.0\t-1.0"),
        ("Bill_Gates", "1.1\t-2.0\t1.2\t-1.0\t-1.5"),
    ];
    let table: String =
        std::iter::once("#\tperson\timagenum\tMale\tAsian\tWhite\tBlack\tIndian\n".to_owned())
            .chain(
                people
                    .iter()
                    .map(|(name, scores)| format!("{}\t1\t{scores}\n", name.replace('_', " "))),
            )
            .collect();
    let unpack = |root: &Path, folder: &str| {
        for (name, _) in people {
            let file = root.join(folder).join(format!("{name}/{name}_0001.jpg"));
            std::fs::create_dir_all(file.parent().unwrap()).unwrap();
            image::RgbImage::new(4, 4).save(file).unwrap();
        }
    };
    for folder in [
        "",
        "lfw",
        "lfw-deepfunneled",
        "lfw-deepfunneled/lfw-deepfunneled",
        "lfw_home/lfw_funneled",
    ] {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("lfw_attributes.txt"), &table).unwrap();
        unpack(dir.path(), folder);
        assert_eq!(load(dir.path()).unwrap(), 4, "images under `{folder}`");
    }
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("lfw_attributes.txt"), &table).unwrap();
    std::fs::create_dir(dir.path().join("lfw-a")).unwrap();
    let e = load(dir.path()).unwrap_err().to_string();
    assert!(
        e.contains("Aaron_Eckhart/Aaron_Eckhart_0001.jpg") && e.contains("lfw-a/"),
        "{e}"
    );
    unpack(dir.path(), "lfw");
    unpack(dir.path(), "lfw-deepfunneled");
    let e = load(dir.path()).unwrap_err().to_string();
    assert!(e.contains("are in 2 folders"), "{e}");
}

#[test]
fn image_folder_groups_from_pandas_skip_the_index_and_refuse_two_spellings() {
    let dir = tempfile::tempdir().unwrap();
    for name in [
        "train/Male/1",
        "train/Female/2",
        "test/Male/3",
        "test/Female/4",
    ] {
        let file = dir.path().join(format!("{name}.png"));
        std::fs::create_dir_all(file.parent().unwrap()).unwrap();
        image::RgbImage::new(4, 4).save(file).unwrap();
    }
    let groups = ",path,race\n0,train/Male/1.png,White\n1,train/Female/2.png,Black\n\
                  2,test/Male/3.png,Black\n3,test/Female/4.png,White\n";
    let folder = fineface_data::ImageFolder {
        groups_csv: Some("groups.csv".into()),
        ..fineface_data::ImageFolder::new(dir.path().to_owned())
    };
    std::fs::write(dir.path().join("groups.csv"), groups).unwrap();
    let dataset = folder.load(&SplitConfig::default()).unwrap();
    assert_eq!(dataset.sensitive, ["race"]);
    std::fs::write(
        dir.path().join("groups.csv"),
        groups
            .replacen(",Black\n", ",black\n", 1)
            .replacen(",Black\n", ",BLACK\n", 1),
    )
    .unwrap();
    let e = folder
        .load(&SplitConfig::default())
        .unwrap_err()
        .to_string();
    assert!(
        e.contains(":4: column `race` holds `BLACK` here and `black` on line 3"),
        "{e}"
    );
    // Paths as other tools spell them read; twice, a repeated header and paths that match
    // no image are refused, saying why.
    let as_windows = groups.replace("train/Male/", ".\\train\\Male\\");
    std::fs::write(dir.path().join("groups.csv"), as_windows).unwrap();
    assert_eq!(
        folder.load(&SplitConfig::default()).unwrap().skipped.len(),
        0
    );
    for (bad, says) in [
        (
            groups.replace("1,train/Female/2.png", "1,./train/Male/1.png"),
            ":3: `./train/Male/1.png` is listed again (first on line 2)",
        ),
        (
            format!("{groups},path,race\n"),
            ":6: this row repeats the header",
        ),
        (
            groups.replace("train/", "").replace("test/", ""),
            "none of the 4 images has a row in groups.csv: its paths read like `Female/2.png`, \
             the images are `",
        ),
    ] {
        std::fs::write(dir.path().join("groups.csv"), bad).unwrap();
        let e = folder
            .load(&SplitConfig::default())
            .unwrap_err()
            .to_string();
        assert!(e.contains(says), "{e}");
    }
}

/// Beside the variants: Excel's `sep=` line, an image listed twice, a repeated header, age
/// bins in any case, CelebA's file without its count line (as some mirrors write it), and
/// pandas' `1.0` for `1` in a manifest (one class).
#[test]
fn listings_as_users_tables_hold_them() {
    let mut read = reading("fairface_label_train.csv", fairface::read_labels);
    let expected = read(FAIRFACE.as_bytes()).unwrap();
    let declared = format!("sep=;\n{}", FAIRFACE.replace(',', ";"));
    assert_eq!(read(declared.as_bytes()).unwrap(), expected);
    let shouted = FAIRFACE.replace("train/1.jpg,3-9", "train/1.jpg,MORE THAN 70");
    assert_eq!(read(shouted.as_bytes()).unwrap()[0].age, "more than 70");
    let twice = format!("{FAIRFACE}train/1.jpg,3-9,Male,White,True\n");
    let e = read(twice.as_bytes()).unwrap_err().to_string();
    assert!(
        e.contains(":4: `train/1.jpg` is listed again (first on line 2)"),
        "{e}"
    );
    let concatenated = format!("{FAIRFACE}{FAIRFACE}");
    let e = read(concatenated.as_bytes()).unwrap_err().to_string();
    assert!(e.contains(":4: this row repeats the header"), "{e}");

    let mut read = reading("list_attr_celeba.txt", celeba::read_attributes);
    let expected = read(CELEBA_ATTR.as_bytes()).unwrap();
    let uncounted = CELEBA_ATTR.split_once('\n').unwrap().1;
    assert_eq!(read(uncounted.as_bytes()).unwrap(), expected);
    let twice = format!("{CELEBA_ATTR}000001.jpg  1 -1 -1\n");
    let e = read(twice.as_bytes()).unwrap_err().to_string();
    assert!(
        e.contains(":5: `000001.jpg` is listed again (first on line 3)"),
        "{e}"
    );

    let names = CELEBA_ATTR.lines().nth(1).unwrap();
    let repeated = format!("{CELEBA_ATTR}{names}\n");
    let e = read(repeated.as_bytes()).unwrap_err().to_string();
    assert!(
        e.contains(":5: this line repeats the attribute names"),
        "{e}"
    );
    let mut read = reading("list_eval_partition.txt", celeba::read_partition);
    let twice = format!("{CELEBA_PARTITION}000001.jpg 2\n");
    let e = read(twice.as_bytes()).unwrap_err().to_string();
    assert!(
        e.contains(":3: `000001.jpg` is listed again (first on line 1)"),
        "{e}"
    );

    let root = manifest_root();
    let pandas = MANIFEST.replace(",Male,", ",1,").replace(",Female,", ",0,");
    let pandas = pandas
        .replacen(",1,", ",1.0,", 1)
        .replacen(",0,", ",0.0,", 1);
    std::fs::write(root.path().join("manifest.csv"), &pandas).unwrap();
    let (samples, _) = loaded(root.path()).unwrap();
    let mut classes: Vec<&str> = samples.iter().map(|s| s.2.as_str()).collect();
    classes.sort_unstable();
    classes.dedup();
    assert_eq!(classes, ["0", "1"]);
    let twice = MANIFEST.replace("images/b.png", "./images//a.png");
    std::fs::write(root.path().join("manifest.csv"), twice).unwrap();
    let e = loaded(root.path()).unwrap_err().to_string();
    assert!(
        e.contains(":3: `./images//a.png` is listed again (first on line 2)"),
        "{e}"
    );
}
