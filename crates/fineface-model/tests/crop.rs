//! Batched attention crops against a per-sample implementation of FINEFACE.md's definition.

#![allow(clippy::unwrap_used)] // Tests panic on failure by design.

use burn::backend::Flex;
use burn::tensor::{Tensor, TensorData};
use fineface_model::{AttentionCrop, AttentionCropConfig};
use rstest::rstest;

type B = Flex;

/// A small deterministic generator (tests need values, not a particular RNG crate).
struct Lcg(u64);

impl Lcg {
    fn next(&mut self) -> f32 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        ((self.0 >> 33) as f32) / (1u64 << 31) as f32
    }
    fn fill(&mut self, n: usize) -> Vec<f32> {
        (0..n).map(|_| self.next() * 2.0 - 1.0).collect()
    }
}

/// Bilinear resize with aligned corners of one `[h, w]` plane to `[oh, ow]`.
fn resize(plane: &[f32], h: usize, w: usize, oh: usize, ow: usize) -> Vec<f32> {
    let mut out = vec![0.0; oh * ow];
    let scale = |o: usize, n: usize| {
        if o > 1 {
            (n - 1) as f64 / (o - 1) as f64
        } else {
            0.0
        }
    };
    let (sy, sx) = (scale(oh, h), scale(ow, w));
    for i in 0..oh {
        for j in 0..ow {
            let (y, x) = (i as f64 * sy, j as f64 * sx);
            let (y0, x0) = (y.floor() as usize, x.floor() as usize);
            let (y1, x1) = ((y0 + 1).min(h - 1), (x0 + 1).min(w - 1));
            let (fy, fx) = (y - y0 as f64, x - x0 as f64);
            let p = |r: usize, c: usize| plane[r * w + c] as f64;
            out[i * ow + j] = ((1.0 - fy) * ((1.0 - fx) * p(y0, x0) + fx * p(y0, x1))
                + fy * ((1.0 - fx) * p(y1, x0) + fx * p(y1, x1)))
                as f32;
        }
    }
    out
}

fn normalise(plane: &[f32]) -> Vec<f32> {
    let min = plane.iter().copied().fold(f32::INFINITY, f32::min) as f64;
    let max = plane.iter().copied().fold(f32::NEG_INFINITY, f32::max) as f64;
    plane
        .iter()
        .map(|&a| ((a as f64 - min) / (max - min + 1e-6)) as f32)
        .collect()
}

/// FINEFACE.md steps 3-5 on one normalised map: `[top, bottom, left, right]`.
fn reference_box(norm: &[f32], h: usize, w: usize, threshold: f32, padding: f64) -> [i64; 4] {
    let marked: Vec<(usize, usize)> = (0..h * w)
        .filter(|&k| norm[k] >= threshold)
        .map(|k| (k / w, k % w))
        .collect();
    let (r0, r1, c0, c1) = if marked.is_empty() {
        (0, h - 1, 0, w - 1) // a constant map keeps the whole image
    } else {
        (
            marked.iter().map(|m| m.0).min().unwrap(),
            marked.iter().map(|m| m.0).max().unwrap(),
            marked.iter().map(|m| m.1).min().unwrap(),
            marked.iter().map(|m| m.1).max().unwrap(),
        )
    };
    let widen = |a: usize, b: usize, n: usize| {
        let start = ((a as f64 - padding * n as f64).trunc() as i64).max(0);
        let end = ((b as f64 + padding * n as f64).trunc() as i64).min(n as i64);
        // At least one pixel (only reachable with zero padding).
        let end = end.max(start + 1).min(n as i64);
        (start.min(end - 1), end)
    };
    let (top, bottom) = widen(r0, r1, h);
    let (left, right) = widen(c0, c1, w);
    [top, bottom, left, right]
}

/// Step 6: crop and resize back, per channel.
fn reference_crop(image: &[f32], c: usize, h: usize, w: usize, b: [i64; 4]) -> Vec<f32> {
    let [top, bottom, left, right] = b.map(|v| v as usize);
    let (ch, cw) = (bottom - top, right - left);
    (0..c)
        .flat_map(|k| {
            let plane: Vec<f32> = (top..bottom)
                .flat_map(|r| (left..right).map(move |col| (r, col)))
                .map(|(r, col)| image[(k * h + r) * w + col])
                .collect();
            resize(&plane, ch, cw, h, w)
        })
        .collect()
}

struct Case {
    images: Vec<f32>,
    maps: Vec<f32>,
    dims: [usize; 4],
    map_hw: [usize; 2],
}

fn check(case: &Case, padding: f64) {
    let [b, c, h, w] = case.dims;
    let [mh, mw] = case.map_hw;
    let device = Default::default();
    let images =
        Tensor::<B, 4>::from_data(TensorData::new(case.images.clone(), case.dims), &device);
    let maps = Tensor::<B, 3>::from_data(TensorData::new(case.maps.clone(), [b, mh, mw]), &device);
    let cropper = AttentionCropConfig::new().with_padding(padding).init();
    let norm = AttentionCrop::normalised(maps, [h, w]);
    let boxes = cropper.boxes(norm.clone());
    let crops: Vec<f32> = cropper.crop(images, &boxes).into_data().to_vec().unwrap();
    let norm: Vec<f32> = norm.into_data().to_vec().unwrap();
    for i in 0..b {
        let up = resize(&case.maps[i * mh * mw..(i + 1) * mh * mw], mh, mw, h, w);
        let expected_norm = normalise(&up);
        for (a, e) in norm[i * h * w..(i + 1) * h * w].iter().zip(&expected_norm) {
            assert!((a - e).abs() < 1e-5, "normalised map {a} vs {e}");
        }
        let expected_box = reference_box(&expected_norm, h, w, 0.5, padding);
        assert_eq!(boxes.to_vec()[i], expected_box, "sample {i}");
        let image = &case.images[i * c * h * w..(i + 1) * c * h * w];
        let expected = reference_crop(image, c, h, w, expected_box);
        let actual = &crops[i * c * h * w..(i + 1) * c * h * w];
        let diff = actual
            .iter()
            .zip(&expected)
            .map(|(a, e)| (a - e).abs())
            .fold(0.0, f32::max);
        assert!(
            diff < 1e-4,
            "sample {i}: crop differs by {diff} (box {expected_box:?})"
        );
    }
}

#[rstest]
#[case::square(3, 32, 32, 5, 5, 1)]
#[case::landscape(2, 24, 40, 3, 6, 2)]
#[case::fineface_448_like(2, 56, 56, 7, 7, 3)]
#[case::odd(4, 17, 23, 4, 5, 4)]
fn random_maps_match_the_definition(
    #[case] b: usize,
    #[case] h: usize,
    #[case] w: usize,
    #[case] mh: usize,
    #[case] mw: usize,
    #[case] seed: u64,
) {
    let mut rng = Lcg(seed);
    let case = Case {
        images: rng.fill(b * 3 * h * w),
        maps: rng.fill(b * mh * mw),
        dims: [b, 3, h, w],
        map_hw: [mh, mw],
    };
    check(&case, 0.1);
    check(&case, 0.0);
}

#[test]
fn constant_map_keeps_the_whole_image() {
    let mut rng = Lcg(9);
    let case = Case {
        images: rng.fill(2 * 3 * 16 * 16),
        maps: vec![0.7; 2 * 4 * 4],
        dims: [2, 3, 16, 16],
        map_hw: [4, 4],
    };
    // Interpolating a constant map leaves float noise (~1e-8) that the 1e-6 in the
    // normalisation keeps far below the threshold: no pixel is marked.
    let device = Default::default();
    let maps = Tensor::<B, 3>::from_data(TensorData::new(case.maps.clone(), [2, 4, 4]), &device);
    let norm = AttentionCrop::normalised(maps, [16, 16]);
    let max: f32 = norm.clone().max().into_scalar();
    assert!(max < 0.5, "{max}");
    let boxes = AttentionCropConfig::new().init().boxes(norm).to_vec();
    assert_eq!(boxes, vec![[0, 16, 0, 16]; 2]);
    // The crop of the whole image is the image itself.
    let images =
        Tensor::<B, 4>::from_data(TensorData::new(case.images.clone(), case.dims), &device);
    let maps = Tensor::<B, 3>::from_data(TensorData::new(case.maps.clone(), [2, 4, 4]), &device);
    let crops = AttentionCropConfig::new()
        .init()
        .crop_from_map(images.clone(), maps);
    let diff: f32 = (crops - images).abs().max().into_scalar();
    assert!(diff < 1e-5);
}

#[test]
fn box_touching_the_border_is_clamped() {
    let mut rng = Lcg(5);
    let mut maps = vec![0.0; 6 * 6];
    maps[0] = 1.0; // top-left corner hot
    maps[35 - 6 + 5] = 0.0;
    let case = Case {
        images: rng.fill(3 * 30 * 30),
        maps,
        dims: [1, 3, 30, 30],
        map_hw: [6, 6],
    };
    check(&case, 0.1);
    let norm = AttentionCrop::normalised(
        Tensor::<B, 3>::from_data(
            TensorData::new(case.maps.clone(), [1, 6, 6]),
            &Default::default(),
        ),
        [30, 30],
    );
    let boxes = AttentionCropConfig::new().init().boxes(norm).to_vec();
    assert_eq!(boxes[0][0], 0);
    assert_eq!(boxes[0][2], 0);
}

#[test]
fn one_pixel_box() {
    let mut rng = Lcg(11);
    let mut maps = vec![0.0; 12 * 12];
    maps[5 * 12 + 7] = 1.0; // one hot pixel at full resolution
    let case = Case {
        images: rng.fill(3 * 12 * 12),
        maps,
        dims: [1, 3, 12, 12],
        map_hw: [12, 12],
    };
    check(&case, 0.0); // exactly one pixel: the crop is that pixel everywhere
    check(&case, 0.1); // widened by trunc(1.2) = 1 on each side
    let norm = AttentionCrop::normalised(
        Tensor::<B, 3>::from_data(
            TensorData::new(case.maps.clone(), [1, 12, 12]),
            &Default::default(),
        ),
        [12, 12],
    );
    let boxes = AttentionCropConfig::new()
        .with_padding(0.0)
        .init()
        .boxes(norm)
        .to_vec();
    assert_eq!(boxes[0], [5, 6, 7, 8]);
}

#[test]
fn combined_map_is_the_renormalised_sum() {
    let mut rng = Lcg(21);
    let (b, h, w) = (2, 20, 20);
    let sizes = [[5, 5], [3, 3], [2, 2]];
    let planes: Vec<Vec<f32>> = sizes.iter().map(|[mh, mw]| rng.fill(b * mh * mw)).collect();
    let device = Default::default();
    let maps: [Tensor<B, 3>; 3] = std::array::from_fn(|k| {
        Tensor::from_data(
            TensorData::new(planes[k].clone(), [b, sizes[k][0], sizes[k][1]]),
            &device,
        )
    });
    let combined: Vec<f32> = AttentionCrop::combined(maps, [h, w])
        .into_data()
        .to_vec()
        .unwrap();
    for i in 0..b {
        let mut sum = vec![0.0f32; h * w];
        for (k, [mh, mw]) in sizes.iter().enumerate() {
            let up = resize(&planes[k][i * mh * mw..(i + 1) * mh * mw], *mh, *mw, h, w);
            for (s, v) in sum.iter_mut().zip(normalise(&up)) {
                *s += v;
            }
        }
        let expected = normalise(&sum);
        for (a, e) in combined[i * h * w..(i + 1) * h * w].iter().zip(&expected) {
            assert!((a - e).abs() < 1e-5);
        }
    }
}

#[test]
fn crops_all_equals_three_single_crops_and_the_combined_one() {
    let device = Default::default();
    let mut rng = Lcg(99);
    let images = Tensor::<B, 4>::from_data(
        TensorData::new(rng.fill(3 * 3 * 40 * 40), [3, 3, 40, 40]),
        &device,
    );
    let map = |rng: &mut Lcg, s: usize| {
        Tensor::<B, 3>::from_data(TensorData::new(rng.fill(3 * s * s), [3, s, s]), &device)
    };
    let maps = [map(&mut rng, 5), map(&mut rng, 3), map(&mut rng, 2)];
    let crop = AttentionCropConfig::new().init();
    let all = crop.crops_all(images.clone(), maps.clone());
    let [a, b, c] = maps.clone();
    let single = [
        crop.crop_from_map(images.clone(), a),
        crop.crop_from_map(images.clone(), b),
        crop.crop_from_map(images.clone(), c),
        crop.crop_from_maps(images, maps),
    ];
    for (k, (x, y)) in all.into_iter().zip(single).enumerate() {
        let (x, y) = (
            x.into_data().to_vec::<f32>().unwrap(),
            y.into_data().to_vec::<f32>().unwrap(),
        );
        assert_eq!(x, y, "crop {k}");
    }
}
