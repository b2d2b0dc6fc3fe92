//! Our FineFACE against the PyTorch reference (`tools/reference/fineface_torch.py`) on the
//! same weights (written by our safetensors export) and the same batch: eval-mode logits,
//! feature maps, attention maps, crops and boxes, the 8-logit prediction, and one whole
//! training iteration (every parameter and running statistic after the five steps).
//! Goldens: `tools/reference/parity_goldens.py`.

#![allow(clippy::unwrap_used)] // Tests panic on failure by design.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use burn::module::AutodiffModule;
use burn::tensor::{Int, Tensor, TensorData};
use fineface_model::{AttentionCrop, AttentionCropConfig, Predict};
use fineface_model::{
    Cpu, CpuAutodiff, FineFaceConfig, ResNetConfig, export_torchvision_safetensors,
    load_torchvision_weights,
};
use fineface_train::LocalReducer;
use fineface_train::{
    FineFaceResNet, FineFaceStep, GroupedSgd, IterationContext, Shard, StepResult, TrainSettings,
    fineface_crops, fineface_step,
};
use safetensors::SafeTensors;

fn data() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/reference")
}

/// Every golden tensor as f32 values with its shape.
fn goldens(path: &Path) -> HashMap<String, (Vec<usize>, Vec<f32>)> {
    let bytes = std::fs::read(path).unwrap();
    let file = SafeTensors::deserialize(&bytes).unwrap();
    file.tensors()
        .into_iter()
        .map(|(name, view)| {
            let values: Vec<f32> = match view.dtype() {
                safetensors::Dtype::F32 => view
                    .data()
                    .chunks_exact(4)
                    .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
                    .collect(),
                safetensors::Dtype::F64 => view
                    .data()
                    .chunks_exact(8)
                    .map(|b| f64::from_le_bytes(b.try_into().unwrap()) as f32)
                    .collect(),
                safetensors::Dtype::I64 => view
                    .data()
                    .chunks_exact(8)
                    .map(|b| i64::from_le_bytes(b.try_into().unwrap()) as f32)
                    .collect(),
                other => panic!("{name}: dtype {other:?}"),
            };
            (name, (view.shape().to_vec(), values))
        })
        .collect()
}

fn model<B: fineface_model::FineFaceBackend>() -> FineFaceResNet<B> {
    let device = Default::default();
    let backbone = ResNetConfig::resnet18().with_width(4).init::<B>(&device);
    let mut model = FineFaceConfig::new(2)
        .with_head_width(8)
        .init(backbone, &device);
    load_torchvision_weights(&mut model, &data().join("model.safetensors"), &[], &[]).unwrap();
    model
}

/// Max |a - b| / (max |b| + 1e-6).
fn assert_close<const D: usize, B: burn::tensor::backend::Backend>(
    name: &str,
    ours: Tensor<B, D>,
    golden: &(Vec<usize>, Vec<f32>),
    tolerance: f32,
) {
    assert_eq!(ours.dims().to_vec(), golden.0, "{name}: shape");
    let ours = ours.into_data().to_vec::<f32>().unwrap();
    let scale = golden.1.iter().fold(0.0f32, |m, v| m.max(v.abs())) + 1e-6;
    let diff = ours
        .iter()
        .zip(&golden.1)
        .fold(0.0f32, |m, (a, b)| m.max((a - b).abs()));
    assert!(
        diff / scale <= tolerance,
        "{name}: max |diff| {diff} (relative {}) over {tolerance}",
        diff / scale
    );
}

fn input<B: burn::tensor::backend::Backend>(
    g: &HashMap<String, (Vec<usize>, Vec<f32>)>,
) -> (Tensor<B, 4>, Tensor<B, 1, Int>) {
    let device = Default::default();
    let (shape, values) = &g["input"];
    let x = Tensor::from_data(TensorData::new(values.clone(), shape.clone()), &device);
    let targets: Vec<i64> = g["targets"].1.iter().map(|&t| t as i64).collect();
    let n = targets.len();
    (x, Tensor::from_data(TensorData::new(targets, [n]), &device))
}

fn crop() -> AttentionCrop {
    AttentionCropConfig::new().init()
}

/// Boxes of the three maps and of their combination against the reference's.
fn check_boxes(
    cropper: &AttentionCrop,
    maps: &[Tensor<Cpu, 3>; 3],
    g: &HashMap<String, (Vec<usize>, Vec<f32>)>,
    prefix: &str,
) {
    let size = [64, 64];
    let normalised: Vec<_> = maps
        .iter()
        .map(|a| AttentionCrop::normalised(a.clone(), size))
        .collect();
    let combined = AttentionCrop::combined(maps.clone(), size);
    for (i, n) in normalised.into_iter().chain([combined]).enumerate() {
        let ours: Vec<[i64; 4]> = cropper.boxes(n).to_vec();
        // Reference order per sample: h0, h1, w0, w1 (= top, bottom, left, right).
        let golden: Vec<[i64; 4]> = g[&format!("{prefix}.boxes{}", i + 1)]
            .1
            .chunks(4)
            .map(|c| [c[0] as i64, c[1] as i64, c[2] as i64, c[3] as i64])
            .collect();
        assert_eq!(ours, golden, "{prefix}: boxes of map {}", i + 1);
    }
}

#[test]
fn crops_of_peaked_maps_match_the_reference_per_sample_loop() {
    let g = goldens(&data().join("io.safetensors"));
    let (x, _) = input::<Cpu>(&g);
    let device = Default::default();
    let map = |k: usize| -> Tensor<Cpu, 3> {
        let (shape, values) = &g[&format!("blob.map{k}")];
        Tensor::from_data(TensorData::new(values.clone(), shape.clone()), &device)
    };
    let maps = [map(1), map(2), map(3)];
    let cropper = crop();
    check_boxes(&cropper, &maps, &g, "blob");
    // The boxes are not trivial: each sample's region is its own part of the image.
    assert_ne!(g["blob.boxes1"].1[..4], g["blob.boxes1"].1[4..8]);
    let [m1, m2, m3] = maps;
    for (k, c) in [
        (1, cropper.crop_from_map(x.clone(), m1.clone())),
        (2, cropper.crop_from_map(x.clone(), m2.clone())),
        (3, cropper.crop_from_map(x.clone(), m3.clone())),
        (4, cropper.crop_from_maps(x, [m1, m2, m3])),
    ] {
        assert_close(
            &format!("blob crop {k}"),
            c,
            &g[&format!("blob.crop{k}")],
            1e-4,
        );
    }
}

#[test]
fn eval_logits_maps_attention_crops_and_prediction_match_the_reference() {
    let g = goldens(&data().join("io.safetensors"));
    let model = model::<Cpu>();
    let (x, _) = input::<Cpu>(&g);
    let out = model.forward(x.clone());
    for (name, t) in [
        ("expert1", out.expert1.clone()),
        ("expert2", out.expert2.clone()),
        ("expert3", out.expert3.clone()),
        ("concat", out.concat.clone()),
    ] {
        assert_close(
            &format!("eval.{name}"),
            t,
            &g[&format!("eval.{name}")],
            1e-4,
        );
    }
    for (i, m) in [&out.map1, &out.map2, &out.map3].into_iter().enumerate() {
        assert_close(
            &format!("map{}", i + 1),
            m.clone(),
            &g[&format!("eval.map{}", i + 1)],
            1e-4,
        );
    }
    let maps = model.attention_maps(&out);
    let attention = [maps.expert1, maps.expert2, maps.expert3];
    for (i, a) in attention.iter().enumerate() {
        assert_close(
            &format!("attention{}", i + 1),
            a.clone(),
            &g[&format!("eval.attention{}", i + 1)],
            1e-4,
        );
    }
    let cropper = crop();
    check_boxes(&cropper, &attention, &g, "eval");
    let [a1, a2, a3] = attention;
    for (name, c) in [
        ("crop1", cropper.crop_from_map(x.clone(), a1.clone())),
        ("crop2", cropper.crop_from_map(x.clone(), a2.clone())),
        ("crop3", cropper.crop_from_map(x.clone(), a3.clone())),
        ("crop_all", cropper.crop_from_maps(x.clone(), [a1, a2, a3])),
    ] {
        assert_close(name, c, &g[&format!("eval.{name}")], 1e-4);
    }
    let predicted = model.predict(x.clone(), &cropper);
    assert_close(
        "predict.combined",
        predicted.combined,
        &g["predict.combined"],
        1e-4,
    );
    assert_close(
        "predict.concat",
        predicted.concat,
        &g["predict.concat"],
        1e-4,
    );
    assert_close(
        "predict.heads",
        predicted.heads_on_image,
        &g["predict.heads"],
        1e-4,
    );
}

#[test]
fn one_training_iteration_leaves_every_parameter_as_the_reference_does() {
    let g = goldens(&data().join("io.safetensors"));
    let model = model::<CpuAutodiff>();
    let device = Default::default();
    let (x, y) = input::<CpuAutodiff>(&g);
    let shards = [Shard {
        images: x.inner(),
        targets: y,
        device,
    }];
    let originals = [shards[0].images.clone()];
    let mut optimizer = GroupedSgd::<CpuAutodiff, _>::new(&TrainSettings::default());
    let context = IterationContext {
        epoch: 0,
        batch: 0,
        seed: 0,
        lean: false,
    };
    let mut losses = Vec::new();
    let mut step = |model, inputs: &[Tensor<Cpu, 4>], which| {
        let result: StepResult<CpuAutodiff, _> = fineface_step(
            model,
            &mut optimizer,
            &shards,
            inputs,
            which,
            context,
            &mut LocalReducer,
        )
        .unwrap();
        losses.push((which.loss_name().name(), result.loss));
        result
    };
    // The reference's sources for this golden: crop 1 for expert 2, crop 3 for expert 1.
    let first = step(model, &originals, FineFaceStep::Expert3);
    let forward = first.forwards.into_iter().next().unwrap();
    let crops = fineface_crops(&first.model, originals[0].clone(), forward, &crop());
    let model = step(
        first.model,
        std::slice::from_ref(&crops.expert1),
        FineFaceStep::Expert2,
    )
    .model;
    let model = step(
        model,
        std::slice::from_ref(&crops.expert3),
        FineFaceStep::Expert1,
    )
    .model;
    let model = step(
        model,
        std::slice::from_ref(&crops.combined),
        FineFaceStep::CropAll,
    )
    .model;
    let model = step(model, &originals, FineFaceStep::Concat).model;
    for (name, value) in losses {
        let golden = g[&format!("loss.{name}")].1[0];
        assert!(
            ((value as f32) - golden).abs() <= 1e-4 * golden.abs().max(1.0),
            "loss {name}: ours {value}, reference {golden}"
        );
    }
    // Every parameter and running statistic after the iteration, by PyTorch name, compared
    // as the change the iteration made (a value's own magnitude would hide the update).
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("after.safetensors");
    // `valid()` folds the last pending BatchNorm running-statistics update in (Burn applies
    // it lazily; a visitor would read the value before it).
    export_torchvision_safetensors(&model.valid(), &path).unwrap();
    let ours = goldens(&path);
    let before = goldens(&data().join("model.safetensors"));
    let mut compared = 0;
    let mut worst = (0.0f32, String::new());
    for (name, golden) in g
        .iter()
        .filter_map(|(k, v)| k.strip_prefix("after.").map(|n| (n, v)))
    {
        let (shape, values) = ours
            .get(name)
            .unwrap_or_else(|| panic!("{name} not exported"));
        assert_eq!(shape, &golden.0, "{name}: shape");
        let start = &before[name].1;
        let reference: Vec<f32> = golden.1.iter().zip(start).map(|(a, b)| a - b).collect();
        let change: Vec<f32> = values.iter().zip(start).map(|(a, b)| a - b).collect();
        let scale = reference.iter().fold(0.0f32, |m, v| m.max(v.abs()));
        let diff = change
            .iter()
            .zip(&reference)
            .fold(0.0f32, |m, (a, b)| m.max((a - b).abs()));
        // A change is known to the float resolution of the values it was added to; five
        // steps of f32 gradients through batch-of-4 BatchNorms differ by up to ~1e-3.
        let resolution =
            16.0 * f32::EPSILON * golden.1.iter().fold(0.0f32, |m, v| m.max(v.abs())) + 1e-8;
        let relative = (diff - resolution).max(0.0) / (scale + 1e-7);
        assert!(
            relative <= 5e-3,
            "{name}: update differs by {diff} (relative {relative}, update scale {scale})"
        );
        if relative > worst.0 {
            worst = (relative, name.to_owned());
        }
        compared += 1;
    }
    eprintln!(
        "largest relative update difference: {} in {}",
        worst.0, worst.1
    );
    // 62 ResNet-18 parameters and BN statistics + 3 x 16 expert + 6 concat tensors.
    assert!(compared > 150, "only {compared} tensors compared");
}
