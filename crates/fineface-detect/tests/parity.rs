//! Our MTCNN against facenet-pytorch 2.6.0's (goldens from `tools/mtcnn_goldens.py`, read
//! with the real weights and photos from `../shared`):
//!
//! - each network on seeded random inputs: every output within 1e-4 of the largest value;
//! - the whole cascade on the five raw photos of `../shared/data/photos` and on four scenes
//!   composed from UTKFace faces (sizes from 40 to 400 px, quarter turns, a crowd of twelve,
//!   a background with no face): the same number of faces, each box and landmark within
//!   1 px of facenet-pytorch's, probabilities within 1e-4;
//! - against the boxes drawn by hand in `training.xml`: at least facenet-pytorch's 17 of 18
//!   faces, and no detection away from a drawn face.

#![allow(clippy::unwrap_used)] // Tests panic on failure by design.
#![allow(clippy::print_stderr)] // The measured differences, for `--nocapture`.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use burn::backend::Flex;
use burn::tensor::{Tensor, TensorData};
use fineface_detect::{BoundingBox, DetectError, Face, Mtcnn, MtcnnConfig, MtcnnWeights};
use image::RgbImage;
use serde_json::Value;

type B = Flex;

const SHARED: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared");
const DATA: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data");

fn shared(path: &str) -> PathBuf {
    let path = Path::new(SHARED).join(path);
    assert!(
        path.exists(),
        "{} is missing: these tests read the project's ../shared folder",
        path.display()
    );
    path
}

fn detector() -> Mtcnn<B> {
    let weights = MtcnnWeights::in_dir(&shared("weights/mtcnn"));
    MtcnnConfig::new()
        .init(&weights, &Default::default())
        .unwrap()
}

/// Every tensor of a goldens file, as shape and values.
fn read_tensors(name: &str) -> HashMap<String, (Vec<usize>, Vec<f32>)> {
    let bytes = std::fs::read(Path::new(DATA).join(name)).unwrap();
    let tensors = safetensors::SafeTensors::deserialize(&bytes).unwrap();
    tensors
        .tensors()
        .into_iter()
        .map(|(name, view)| {
            let values = view
                .data()
                .chunks_exact(4)
                .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
                .collect();
            (name, (view.shape().to_vec(), values))
        })
        .collect()
}

fn golden<const D: usize>(
    tensors: &HashMap<String, (Vec<usize>, Vec<f32>)>,
    name: &str,
) -> Tensor<B, D> {
    let (shape, values) = &tensors[name];
    Tensor::from_data(
        TensorData::new(values.clone(), shape.clone()),
        &Default::default(),
    )
}

fn assert_close<const D: usize>(name: &str, ours: Tensor<B, D>, theirs: Tensor<B, D>) {
    assert_eq!(ours.dims(), theirs.dims(), "{name}: shape");
    let scale = theirs.clone().abs().max().into_scalar().max(1e-6);
    let diff = (ours - theirs).abs().max().into_scalar();
    eprintln!("{name}: {diff} (largest value {scale})");
    assert!(
        diff <= 1e-4 * scale,
        "{name}: differs by {diff} (largest value {scale})"
    );
}

#[test]
fn each_network_matches_facenet_pytorch() {
    let nets = read_tensors("mtcnn_nets.safetensors");
    let mtcnn = detector();
    let (pnet, rnet, onet) = mtcnn.networks();
    let p = pnet.forward(golden(&nets, "pnet_input"));
    assert_close("pnet regression", p.regression, golden(&nets, "pnet_reg"));
    assert_close(
        "pnet probability",
        p.probability,
        golden(&nets, "pnet_prob"),
    );
    let r = rnet.forward(golden(&nets, "rnet_input"));
    assert_close("rnet regression", r.regression, golden(&nets, "rnet_reg"));
    assert_close(
        "rnet probability",
        r.probability,
        golden(&nets, "rnet_prob"),
    );
    let o = onet.forward(golden(&nets, "onet_input"));
    assert_close("onet regression", o.regression, golden(&nets, "onet_reg"));
    assert_close(
        "onet landmarks",
        o.landmarks,
        golden(&nets, "onet_landmarks"),
    );
    assert_close(
        "onet probability",
        o.probability,
        golden(&nets, "onet_prob"),
    );
}

/// The pixels our data pipeline decodes (EXIF orientation applied, 8-bit RGB).
fn decode(path: &Path) -> RgbImage {
    fineface_data::open_image(path).unwrap().to_rgb8()
}

/// The background of `tools/mtcnn_goldens.py`'s scenes.
fn background(width: u32, height: u32) -> RgbImage {
    RgbImage::from_fn(width, height, |x, y| {
        image::Rgb([
            (96 + (7 * x + 3 * y) % 64) as u8,
            (80 + (5 * x + 11 * y) % 97) as u8,
            (90 + (x ^ y) % 61) as u8,
        ])
    })
}

/// A scene of `tools/mtcnn_goldens.py` from its recipe: each face subsampled by `step`,
/// enlarged `repeat` times, turned `turns` quarter turns counter-clockwise (`np.rot90`) and
/// pasted at (`left`, `top`), cut at the border.
fn compose(recipe: &Value) -> RgbImage {
    let int = |v: &Value, key: &str| v[key].as_u64().unwrap() as u32;
    let faces: Vec<RgbImage> = recipe["faces"]
        .as_array()
        .unwrap()
        .iter()
        .map(|name| decode(&shared("data/utkface/UTKFace").join(name.as_str().unwrap())))
        .collect();
    let mut scene = background(int(recipe, "width"), int(recipe, "height"));
    for p in recipe["placements"].as_array().unwrap() {
        let face = &faces[int(p, "face") as usize];
        let (step, repeat) = (int(p, "step"), int(p, "repeat"));
        let side = face.width().div_ceil(step) * repeat; // UTKFace faces are square
        let mut piece = RgbImage::from_fn(side, side, |x, y| {
            *face.get_pixel(x / repeat * step, y / repeat * step)
        });
        for _ in 0..int(p, "turns") {
            piece = image::imageops::rotate270(&piece); // np.rot90: counter-clockwise
        }
        let (left, top) = (int(p, "left"), int(p, "top"));
        for (x, y, pixel) in piece.enumerate_pixels() {
            if left + x < scene.width() && top + y < scene.height() {
                scene.put_pixel(left + x, top + y, *pixel);
            }
        }
    }
    scene
}

fn image_of(entry: &Value) -> RgbImage {
    match entry.get("photo") {
        Some(photo) => decode(&shared("data/photos").join(photo.as_str().unwrap())),
        None => compose(&entry["scene"]),
    }
}

fn floats(v: &Value) -> Vec<f32> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_f64().unwrap() as f32)
        .collect()
}

/// The largest difference between a golden face and ours, in pixels, over the box corners
/// and the landmarks.
fn pixel_distance(golden: &Value, face: &Face) -> f32 {
    let b = floats(&golden["box"]);
    let ours = [face.bbox.x1, face.bbox.y1, face.bbox.x2, face.bbox.y2];
    let boxes = b.iter().zip(ours).map(|(g, o)| (g - o).abs());
    let points = golden["landmarks"]
        .as_array()
        .unwrap()
        .iter()
        .zip(face.landmarks.points())
        .flat_map(|(g, p)| {
            let g = floats(g);
            [(g[0] - p.x).abs(), (g[1] - p.y).abs()]
        });
    boxes.chain(points).fold(0.0, f32::max)
}

#[test]
fn the_cascade_finds_what_facenet_pytorch_finds() {
    let goldens: Value = serde_json::from_str(
        &std::fs::read_to_string(Path::new(DATA).join("mtcnn_detections.json")).unwrap(),
    )
    .unwrap();
    let mtcnn = detector();
    let (mut worst_pixels, mut worst_probability) = (0.0f32, 0.0f32);
    for entry in goldens["images"].as_array().unwrap() {
        let name = entry["name"].as_str().unwrap();
        let faces = mtcnn.detect(&image_of(entry));
        let expected = entry["faces"].as_array().unwrap();
        assert_eq!(faces.len(), expected.len(), "{name}: faces found");
        for (i, golden) in expected.iter().enumerate() {
            let (nearest, distance) = faces
                .iter()
                .map(|f| (f, pixel_distance(golden, f)))
                .min_by(|a, b| a.1.total_cmp(&b.1))
                .unwrap();
            assert!(
                distance <= 1.0,
                "{name}: face {i} {:?} is {distance} px from ours",
                golden["box"]
            );
            let p = golden["probability"].as_f64().unwrap() as f32;
            worst_pixels = worst_pixels.max(distance);
            worst_probability = worst_probability.max((nearest.probability - p).abs());
            assert!(
                (nearest.probability - p).abs() <= 1e-4,
                "{name}: face {i}: probability {} against {p}",
                nearest.probability
            );
        }
    }
    eprintln!("largest differences: {worst_pixels} px, probability {worst_probability}");
}

/// `(file, boxes)` of dlib's imglab XML: `<image file='...'>` then one `<box top left width
/// height/>` per face.
fn hand_drawn_boxes(xml: &str) -> Vec<(String, Vec<BoundingBox>)> {
    let image = regex::Regex::new(r"<image file='([^']+)'").unwrap();
    let attribute = |tag: &str, key: &str| -> f32 {
        let pattern = regex::Regex::new(&format!(r"\b{key}='(-?\d+)'")).unwrap();
        pattern.captures(tag).unwrap()[1].parse().unwrap()
    };
    let mut found: Vec<(String, Vec<BoundingBox>)> = Vec::new();
    for line in xml.lines() {
        if let Some(c) = image.captures(line) {
            found.push((c[1].to_owned(), Vec::new()));
        } else if line.trim_start().starts_with("<box ") {
            let (left, top) = (attribute(line, "left"), attribute(line, "top"));
            let (width, height) = (attribute(line, "width"), attribute(line, "height"));
            found.last_mut().unwrap().1.push(BoundingBox {
                x1: left,
                y1: top,
                x2: left + width,
                y2: top + height,
            });
        }
    }
    found
}

/// A detection matches a drawn box when their IoU reaches 0.3 or one's centre lies in the
/// other (dlib's boxes are tighter squares than MTCNN's).
fn matches(drawn: &BoundingBox, detected: &BoundingBox) -> bool {
    let inside = |b: &BoundingBox, a: &BoundingBox| {
        let (cx, cy) = ((a.x1 + a.x2) / 2.0, (a.y1 + a.y2) / 2.0);
        (b.x1..=b.x2).contains(&cx) && (b.y1..=b.y2).contains(&cy)
    };
    drawn.iou(detected) >= 0.3 || inside(drawn, detected) || inside(detected, drawn)
}

#[test]
fn at_least_seventeen_of_the_eighteen_hand_drawn_faces_and_nothing_else() {
    let xml = std::fs::read_to_string(shared("data/photos/training.xml")).unwrap();
    let mtcnn = detector();
    let (mut drawn_total, mut found_total) = (0, 0);
    for (file, drawn) in hand_drawn_boxes(&xml) {
        let faces = mtcnn.detect(&decode(&shared("data/photos").join(&file)));
        let found = drawn
            .iter()
            .filter(|d| faces.iter().any(|f| matches(d, &f.bbox)))
            .count();
        for face in &faces {
            assert!(
                drawn.iter().any(|d| matches(d, &face.bbox)),
                "{file}: a detection at {:?} where no face was drawn",
                face.bbox
            );
        }
        drawn_total += drawn.len();
        found_total += found;
    }
    assert_eq!(drawn_total, 18);
    assert!(found_total >= 17, "found {found_total} of 18 drawn faces");
}

#[test]
fn missing_weights_name_the_file_and_where_to_get_it() {
    let dir = tempfile::tempdir().unwrap();
    let weights = MtcnnWeights::in_dir(dir.path());
    let error = MtcnnConfig::new()
        .init::<B>(&weights, &Default::default())
        .unwrap_err();
    assert!(matches!(error, DetectError::WeightsNotFound { .. }));
    let message = error.to_string();
    assert!(message.contains("pnet.pt"), "{message}");
    assert!(message.contains("pip download"), "{message}");
}

#[test]
fn settings_out_of_range_are_refused() {
    let weights = MtcnnWeights::in_dir(&shared("weights/mtcnn"));
    let device = Default::default();
    for (config, what) in [
        (MtcnnConfig::new().with_min_face_size(5.0), "min_face_size"),
        (MtcnnConfig::new().with_factor(1.0), "factor"),
        (MtcnnConfig::new().with_factor(f64::NAN), "factor"),
        (
            MtcnnConfig::new().with_thresholds([0.6, 1.5, 0.7]),
            "threshold",
        ),
    ] {
        let error = config.init::<B>(&weights, &device).unwrap_err();
        assert!(error.to_string().contains(what), "{error}");
    }
}

/// A photo larger than `max_side` is detected shrunk and its faces come back in its own
/// pixels: the 2008_001322 photo enlarged 6 times by repeating pixels (3000 x 2250) gives the
/// faces of the original, six times larger (within 6 px: one pixel of the original).
#[test]
fn a_photo_over_max_side_is_detected_shrunk_in_its_own_pixels() {
    let photo = decode(&shared("data/photos/2008_001322.jpg"));
    let k = 6;
    let big = RgbImage::from_fn(photo.width() * k, photo.height() * k, |x, y| {
        *photo.get_pixel(x / k, y / k)
    });
    let weights = MtcnnWeights::in_dir(&shared("weights/mtcnn"));
    let device = Default::default();
    let small_faces = detector().detect(&photo);
    let mtcnn = MtcnnConfig::new()
        .with_max_side(500)
        .init::<B>(&weights, &device)
        .unwrap();
    let faces = mtcnn.detect(&big);
    assert_eq!(faces.len(), small_faces.len());
    for small in &small_faces {
        let expected =
            [small.bbox.x1, small.bbox.y1, small.bbox.x2, small.bbox.y2].map(|v| v * k as f32);
        let closest = faces
            .iter()
            .map(|f| {
                [f.bbox.x1, f.bbox.y1, f.bbox.x2, f.bbox.y2]
                    .iter()
                    .zip(expected)
                    .map(|(a, b)| (a - b).abs())
                    .fold(0.0, f32::max)
            })
            .fold(f32::INFINITY, f32::min);
        assert!(
            closest <= k as f32,
            "a face {closest} px from the enlarged original's"
        );
    }
}

/// Photos too small for P-Net's window, and one of a single colour, have no face (and do not
/// panic).
#[test]
fn tiny_and_blank_photos_have_no_face() {
    let mtcnn = detector();
    for (w, h) in [(0, 0), (1, 1), (11, 30), (30, 30), (5, 400)] {
        assert!(mtcnn.detect(&RgbImage::new(w, h)).is_empty(), "{w} x {h}");
    }
    let grey = RgbImage::from_pixel(640, 480, image::Rgb([128, 128, 128]));
    assert!(mtcnn.detect(&grey).is_empty());
}
