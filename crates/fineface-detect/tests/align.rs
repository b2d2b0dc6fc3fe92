//! The alignment geometry on synthetic landmarks: the fitted similarity is the one that made
//! them, and a face rotated, scaled and moved in the image comes back upright in its chip
//! (every chip pixel samples the image where the inverse transform says, rows level).

#![allow(clippy::unwrap_used)] // Tests panic on failure by design.

use burn::backend::Flex;
use burn::tensor::{Tensor, TensorData};
use fineface_detect::{AlignConfig, Landmarks, Point, Similarity, TEMPLATE};

type B = Flex;

/// Rotation by `degrees`, scale and translation.
fn similarity(degrees: f64, scale: f64, tx: f64, ty: f64) -> Similarity {
    let angle = degrees.to_radians();
    Similarity {
        a: scale * angle.cos(),
        b: scale * angle.sin(),
        tx,
        ty,
    }
}

fn landmarks(points: [[f64; 2]; 5]) -> Landmarks {
    Landmarks::from_points(points.map(|[x, y]| Point {
        x: x as f32,
        y: y as f32,
    }))
}

#[test]
fn the_fit_recovers_the_similarity_that_made_the_points() {
    let config = AlignConfig::new();
    for (degrees, scale, tx, ty) in [
        (0.0, 1.0, 0.0, 0.0),
        (30.0, 1.7, 40.0, -12.0),
        (-75.0, 0.4, 3.5, 300.0),
    ] {
        let truth = similarity(degrees, scale, tx, ty);
        let fitted = Similarity::fit(
            &config.chip_points(),
            &config.chip_points().map(|p| truth.apply(p)),
        );
        for (ours, theirs) in [
            (fitted.a, truth.a),
            (fitted.b, truth.b),
            (fitted.tx, truth.tx),
            (fitted.ty, truth.ty),
        ] {
            assert!((ours - theirs).abs() < 1e-9, "{fitted:?} against {truth:?}");
        }
    }
}

#[test]
fn the_template_sits_in_the_chip_as_dlib_places_it() {
    // Padding 0: the unit square is the chip; eyes level, mouth below the nose below the eyes.
    let points = AlignConfig::new()
        .with_size(100)
        .with_padding(0.0)
        .chip_points();
    for (p, t) in points.iter().zip(TEMPLATE) {
        assert!((p[0] - 100.0 * t[0]).abs() < 1e-9 && (p[1] - 100.0 * t[1]).abs() < 1e-9);
    }
    assert!((points[0][1] - points[1][1]).abs() < 1e-12, "eyes level");
    assert!(points[0][1] < points[2][1] && points[2][1] < points[3][1]);
    // Padding 0.25 shrinks the template by 1.5 about the chip's centre.
    let padded = AlignConfig::new()
        .with_size(100)
        .with_padding(0.25)
        .chip_points();
    for (p, q) in padded.iter().zip(points) {
        assert!((p[0] - (50.0 + (q[0] - 50.0) / 1.5)).abs() < 1e-9);
    }
}

#[test]
fn a_rotated_scaled_face_comes_back_upright() {
    let config = AlignConfig::new().with_size(64);
    // The face in the image: the chip turned by 35 degrees, scaled by 2.2, moved.
    let truth = similarity(35.0, 2.2, 150.0, 20.0);
    let (width, height) = (320, 260);
    // Channel 0 holds each image pixel's chip x, channel 1 its chip y (both linear in the
    // image, which bilinear sampling reproduces exactly), channel 2 a constant.
    let inverse = |x: f64, y: f64| {
        let (dx, dy) = (x - truth.tx, y - truth.ty);
        let s2 = truth.a * truth.a + truth.b * truth.b;
        [
            (truth.a * dx + truth.b * dy) / s2,
            (-truth.b * dx + truth.a * dy) / s2,
        ]
    };
    let mut values = vec![0.0f32; 3 * width * height];
    for y in 0..height {
        for x in 0..width {
            let [u, v] = inverse(x as f64, y as f64);
            values[y * width + x] = u as f32;
            values[width * height + y * width + x] = v as f32;
            values[2 * width * height + y * width + x] = 100.0;
        }
    }
    let image = Tensor::<B, 4>::from_data(
        TensorData::new(values, [1, 3, height, width]),
        &Default::default(),
    );
    let face = landmarks(config.chip_points().map(|p| truth.apply(p)));
    let chip = config.chips(image, &[face, face]).unwrap();
    assert_eq!(chip.dims(), [2, 3, 64, 64]);
    let chip: Vec<f32> = chip.into_data().to_vec().unwrap();
    let plane = 64 * 64;
    for y in 0..64 {
        for x in 0..64 {
            let (u, v) = (chip[y * 64 + x], chip[plane + y * 64 + x]);
            assert!(
                (u - x as f32).abs() < 1e-3 && (v - y as f32).abs() < 1e-3,
                "chip pixel ({x}, {y}) sampled ({u}, {v})"
            );
            assert!(
                (chip[2 * plane + y * 64 + x] - 100.0).abs() < 1e-3,
                "a chip pixel outside the image"
            );
        }
    }
    // The second face's chip is the first's.
    assert_eq!(chip[..3 * plane], chip[3 * plane..]);
}

/// On real faces: every chip of a photo holds its face's eyes within 5 % of the chip's side
/// of the template's (the fit is least squares over five points, so not exactly), and the
/// chips are images, not padding.
#[test]
fn real_faces_land_on_the_template() {
    let shared = concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared");
    let weights =
        fineface_detect::MtcnnWeights::in_dir(&std::path::Path::new(shared).join("weights/mtcnn"));
    let detector = fineface_detect::MtcnnConfig::new()
        .init::<B>(&weights, &Default::default())
        .unwrap();
    let photo = fineface_data::open_image(
        &std::path::Path::new(shared).join("data/photos/2008_001322.jpg"),
    )
    .unwrap()
    .to_rgb8();
    let faces = detector.detect(&photo);
    assert_eq!(faces.len(), 3);
    let config = AlignConfig::new();
    let template = config.chip_points();
    for face in &faces {
        let t = config.transform(&face.landmarks);
        let s2 = t.a * t.a + t.b * t.b;
        for (k, point) in face.landmarks.points().iter().take(2).enumerate() {
            let (dx, dy) = (f64::from(point.x) - t.tx, f64::from(point.y) - t.ty);
            let chip = [(t.a * dx + t.b * dy) / s2, (-t.b * dx + t.a * dy) / s2];
            let off = (chip[0] - template[k][0]).hypot(chip[1] - template[k][1]);
            assert!(
                off < 0.05 * config.size as f64,
                "eye {k} {off} px from the template"
            );
        }
    }
    let (w, h) = photo.dimensions();
    let pixels: Vec<f32> = photo.as_raw().iter().map(|&v| f32::from(v)).collect();
    let image = Tensor::<B, 3>::from_data(
        TensorData::new(pixels, [h as usize, w as usize, 3]),
        &Default::default(),
    )
    .permute([2, 0, 1])
    .unsqueeze::<4>();
    let landmarks: Vec<Landmarks> = faces.iter().map(|f| f.landmarks).collect();
    let chips = config.chips(image, &landmarks).unwrap();
    assert_eq!(chips.dims(), [3, 3, 224, 224]);
    let mean = chips.mean().into_scalar();
    assert!(mean > 30.0 && mean < 220.0, "chip mean {mean}");
}

#[test]
fn bad_settings_and_images_are_refused_or_give_empty_chips() {
    let device = Default::default();
    let image = Tensor::<B, 4>::ones([1, 3, 20, 30], &device);
    let face = landmarks(AlignConfig::new().with_size(20).chip_points());
    for (config, what) in [
        (AlignConfig::new().with_size(0), "size"),
        (AlignConfig::new().with_padding(-0.6), "padding"),
        (AlignConfig::new().with_padding(f64::NAN), "padding"),
        (AlignConfig::new().with_padding(1e16), "padding"),
        (AlignConfig::new().with_padding(f64::INFINITY), "padding"),
        (AlignConfig::new().with_size(20_000), "size"),
    ] {
        let error = config
            .chips(image.clone(), &[face])
            .unwrap_err()
            .to_string();
        assert!(error.contains(what), "{error}");
    }
    // The edges of the ranges are fine.
    for config in [
        AlignConfig::new().with_size(1),
        AlignConfig::new().with_padding(0.0),
        AlignConfig::new().with_padding(fineface_detect::MAX_PADDING),
    ] {
        assert!(config.chips(image.clone(), &[face]).is_ok());
    }
    let batch = Tensor::<B, 4>::ones([2, 3, 20, 30], &device);
    assert!(AlignConfig::new().chips(batch, &[face]).is_err());
    // No face, or an image without pixels: zero chips of the right shape, no panic.
    let config = AlignConfig::new().with_size(16);
    assert_eq!(config.chips(image, &[]).unwrap().dims(), [0, 3, 16, 16]);
    let empty = Tensor::<B, 4>::zeros([1, 3, 0, 0], &device);
    assert_eq!(config.chips(empty, &[face]).unwrap().dims(), [1, 3, 16, 16]);
    // A one-pixel image: inside it the chip reads the pixel, outside zero.
    let dot = Tensor::<B, 4>::ones([1, 3, 1, 1], &device);
    let chip = config.chips(dot, &[face]).unwrap();
    assert!(chip.clone().max().into_scalar() <= 1.0 && chip.min().into_scalar() >= 0.0);
}

#[test]
fn chips_cut_from_each_faces_part_equal_chips_sampled_from_the_whole_photo() {
    let (width, height) = (211u32, 157u32);
    let photo = image::RgbImage::from_fn(width, height, |x, y| {
        image::Rgb([
            (x * 7 + y * 3) as u8,
            (x * y % 251) as u8,
            (255 - (x + 2 * y) % 256) as u8,
        ])
    });
    let config = AlignConfig::new().with_size(40);
    let truth = |degrees, scale, tx, ty| {
        let t = similarity(degrees, scale, tx, ty);
        landmarks(config.chip_points().map(|p| t.apply(p)))
    };
    let faces = [
        truth(0.0, 1.0, 60.0, 40.0),
        truth(35.0, 2.2, 120.0, 10.0),
        truth(-20.0, 0.7, -10.0, 130.0), // partly outside
        truth(10.0, 1.5, 190.0, 140.0),  // partly outside
        truth(0.0, 1.0, 900.0, 900.0),   // wholly outside: all zero
    ];
    let device = Default::default();
    let cut = config.cut::<B>(&photo, &faces, &device).unwrap();
    let planes: Vec<f32> = (0..3)
        .flat_map(|c| photo.pixels().map(move |p| f32::from(p[c])))
        .collect();
    let whole = Tensor::<B, 4>::from_data(
        TensorData::new(planes, [1, 3, height as usize, width as usize]),
        &device,
    );
    let sampled: Vec<f32> = config
        .chips(whole, &faces)
        .unwrap()
        .into_data()
        .to_vec()
        .unwrap();
    assert_eq!(cut.len(), faces.len());
    let plane = 40 * 40;
    for (k, chip) in cut.iter().enumerate() {
        assert_eq!(chip.dimensions(), (40, 40));
        for (i, pixel) in chip.pixels().enumerate() {
            for c in 0..3 {
                let expected = sampled[(k * 3 + c) * plane + i];
                let got = f32::from(pixel[c]);
                assert!(
                    (got - expected).abs() <= 0.5 + 1e-3,
                    "face {k} pixel {i} channel {c}: {got} against {expected}"
                );
            }
        }
    }
    assert!(cut[4].pixels().all(|p| p.0 == [0, 0, 0]));
    assert!(cut[0].pixels().any(|p| p.0 != [0, 0, 0]));
}
