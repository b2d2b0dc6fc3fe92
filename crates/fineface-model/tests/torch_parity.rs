//! Our ResNet and expert head against PyTorch/torchvision (`tools/torch_goldens.py`).

#![allow(clippy::unwrap_used)] // Test helpers panic on broken fixtures by design.

mod common;

use burn::backend::{Autodiff, Flex};
use burn::module::Module;
use burn::tensor::Tensor;
use fineface_model::{
    Backbone, Baseline, BaselineConfig, Expert, ExpertConfig, ImageNetBackbone, ResNet,
    ResNetConfig, attention_map, load_torchvision_weights,
};
use rstest::rstest;

type B = Flex;

/// A torchvision classifier (backbone + fc) loaded from a golden state dict.
fn torchvision_classifier(config: ResNetConfig, weights: &str) -> Baseline<B, ResNet<B>> {
    let device = Default::default();
    let backbone = config.init::<B>(&device);
    let mut model = BaselineConfig::new(10).init(backbone, &device);
    let report = model.load_torchvision(&common::golden(weights)).unwrap();
    assert!(
        report
            .ignored
            .iter()
            .all(|k| k.ends_with("num_batches_tracked")),
        "{report:?}"
    );
    model
}

#[rstest]
#[case::resnet18_safetensors(ResNetConfig::resnet18().with_width(8), "resnet18_w8.safetensors", "resnet18_w8_io.safetensors")]
#[case::resnet18_pth(ResNetConfig::resnet18().with_width(8), "resnet18_w8.pth", "resnet18_w8_io.safetensors")]
#[case::resnet50_safetensors(ResNetConfig::resnet50().with_width(4), "resnet50_w4.safetensors", "resnet50_w4_io.safetensors")]
fn resnet_matches_torchvision_in_eval_mode(
    #[case] config: ResNetConfig,
    #[case] weights: &str,
    #[case] io: &str,
) {
    let device = Default::default();
    let model = torchvision_classifier(config, weights);
    let io = common::read_tensors(io);
    let input: Tensor<B, 4> = common::tensor(&io, "input", &device);
    let stages = model.backbone.forward_stages(input.clone());
    for (name, actual) in [
        ("layer2", stages.layer2),
        ("layer3", stages.layer3),
        ("layer4", stages.layer4),
    ] {
        common::assert_close(name, actual, common::tensor(&io, name, &device), 1e-4);
    }
    common::assert_close(
        "logits",
        model.forward(input),
        common::tensor(&io, "logits", &device),
        1e-4,
    );
}

/// State dicts saved after `model.half()`, `.bfloat16()` or `.double()`, as `.pth` and as
/// safetensors, load into the f32 model: its logits are PyTorch's for the fp32 model running
/// the rounded weights (1e-4), and the fp32 model's within the source dtype's rounding
/// (`tolerance`, relative to the largest logit: 8 units of roundoff, 2^-11 for f16 and 2^-8
/// for bf16; measured 1.0e-3 and 6.5e-3).
#[rstest]
#[case::f16_pth("resnet18_w4_f16.pth", "logits_f16", 4e-3)]
#[case::f16_safetensors("resnet18_w4_f16.safetensors", "logits_f16", 4e-3)]
#[case::bf16_pth("resnet18_w4_bf16.pth", "logits_bf16", 3.2e-2)]
#[case::bf16_safetensors("resnet18_w4_bf16.safetensors", "logits_bf16", 3.2e-2)]
#[case::f64_pth("resnet18_w4_f64.pth", "logits_f64", 1e-6)]
#[case::f64_safetensors("resnet18_w4_f64.safetensors", "logits_f64", 1e-6)]
fn half_bfloat16_and_double_weights_load_as_the_models_f32(
    #[case] weights: &str,
    #[case] rounded: &str,
    #[case] tolerance: f32,
) {
    let device = Default::default();
    let model = torchvision_classifier(ResNetConfig::resnet18().with_width(4), weights);
    let io = common::read_tensors("resnet18_w4_precision_io.safetensors");
    let input: Tensor<B, 4> = common::tensor(&io, "input", &device);
    let logits = model.forward(input);
    assert_eq!(logits.dtype(), burn::tensor::DType::F32);
    common::assert_close(
        rounded,
        logits.clone(),
        common::tensor(&io, rounded, &device),
        1e-4,
    );
    let fp32: Tensor<B, 2> = common::tensor(&io, "logits_f32", &device);
    let relative = common::max_abs_diff(logits, fp32.clone()) / common::max_abs(fp32);
    assert!(
        relative <= tolerance,
        "{weights}: max |diff| to the fp32 model is {relative:e} of the largest logit"
    );
}

/// The f16 state dict as training scripts wrap it (tools/torch_goldens.py `wrapped`): the
/// model's tensors are found under their key prefix, the optimizer state beside them left
/// alone, and the logits are those of the plain f16 file.
#[rstest]
#[case::checkpoint_dict("wrapped/state_dict.pth")]
#[case::torchvision_references("wrapped/model_best.pth.tar")]
#[case::lightning("wrapped/lightning.ckpt")]
#[case::data_parallel_inside("wrapped/data_parallel.pth.tar")]
#[case::backbone_prefix("wrapped/backbone_prefix.safetensors")]
fn checkpoints_wrapping_a_state_dict_load_it(#[case] weights: &str) {
    let device = Default::default();
    let model = torchvision_classifier(ResNetConfig::resnet18().with_width(4), weights);
    let io = common::read_tensors("resnet18_w4_precision_io.safetensors");
    let input: Tensor<B, 4> = common::tensor(&io, "input", &device);
    common::assert_close(
        weights,
        model.forward(input),
        common::tensor(&io, "logits_f16", &device),
        1e-4,
    );
    // The backbone alone takes the same file, its classifier ignored.
    let mut backbone = ResNetConfig::resnet18().with_width(4).init::<B>(&device);
    fineface_model::ImageNetBackbone::load_torchvision(&mut backbone, &common::golden(weights))
        .unwrap();
}

/// Files that are no single state dict are refused with what they are and what to do.
#[rstest]
#[case::ema_copy(
    "wrapped/with_ema.pth",
    "hold the model twice, under `state_dict.` and `state_dict_ema.`; save the copy you \
     want as a plain state dict, e.g. for the first: \
     `torch.save(torch.load(f)[\"state_dict\"], \"weights.pth\")`"
)]
#[case::whole_module(
    "wrapped/whole_module.pth",
    "a whole pickled model (torch.save(model))"
)]
#[case::torchscript("wrapped/torchscript.pt", "a TorchScript archive (torch.jit.save)")]
fn files_that_are_no_single_state_dict_say_what_they_are(
    #[case] weights: &str,
    #[case] says: &str,
) {
    let device = Default::default();
    let mut model = BaselineConfig::new(10).init(
        ResNetConfig::resnet18().with_width(4).init::<B>(&device),
        &device,
    );
    let error = model
        .load_torchvision(&common::golden(weights))
        .unwrap_err()
        .to_string();
    assert!(error.contains(says), "{error}");
    assert!(error.contains(weights), "names the file: {error}");
}

/// The expert head of the goldens: 12 input channels, 16 features (conv-block middle and
/// classifier hidden width 8), 3 classes.
fn golden_expert<Bk: burn::tensor::backend::Backend>(device: &Bk::Device) -> Expert<Bk> {
    let mut expert = ExpertConfig::new(12, 3)
        .with_features(16)
        .init::<Bk>(device);
    load_torchvision_weights(
        &mut expert,
        &common::golden("expert_head.safetensors"),
        &[],
        &[r"num_batches_tracked$"],
    )
    .unwrap();
    expert
}

#[test]
fn expert_head_matches_pytorch_in_eval_mode() {
    let device = Default::default();
    let expert = golden_expert::<B>(&device);
    let io = common::read_tensors("expert_head_io.safetensors");
    let out = expert.forward(common::tensor(&io, "input", &device));
    common::assert_close(
        "feature_map",
        out.feature_map.clone(),
        common::tensor(&io, "feature_map", &device),
        1e-4,
    );
    common::assert_close(
        "pooled",
        out.pooled,
        common::tensor(&io, "pooled", &device),
        1e-4,
    );
    common::assert_close(
        "logits",
        out.logits.clone(),
        common::tensor(&io, "logits", &device),
        1e-4,
    );
    let attention = attention_map(out.feature_map, out.logits, &expert.classifier);
    common::assert_close(
        "attention",
        attention,
        common::tensor(&io, "attention", &device),
        1e-4,
    );
}

#[test]
fn expert_head_matches_pytorch_in_train_mode_with_running_statistics() {
    type A = Autodiff<Flex>;
    let device = Default::default();
    let expert = golden_expert::<A>(&device);
    let io = common::read_tensors("expert_head_io.safetensors");
    let out = expert.forward(common::tensor(&io, "input", &device));
    common::assert_close(
        "train_feature_map",
        out.feature_map,
        common::tensor(&io, "train_feature_map", &device),
        1e-4,
    );
    common::assert_close(
        "train_logits",
        out.logits,
        common::tensor(&io, "train_logits", &device),
        1e-4,
    );
    let bns = [
        ("conv_block.bn1", &expert.conv_block.bn1),
        ("conv_block.bn2", &expert.conv_block.bn2),
        ("classifier.bn_in", &expert.classifier.bn_in),
        ("classifier.bn_hidden", &expert.classifier.bn_hidden),
    ];
    for (name, bn) in bns {
        common::assert_close(
            &format!("{name}.running_mean"),
            bn.running_mean.value_sync(),
            common::tensor(&io, &format!("after_train.{name}.running_mean"), &device),
            1e-5,
        );
        common::assert_close(
            &format!("{name}.running_var"),
            bn.running_var.value_sync(),
            common::tensor(&io, &format!("after_train.{name}.running_var"), &device),
            1e-5,
        );
    }
}

#[test]
fn resnet50_has_torchvision_parameter_names_and_shapes() {
    let manifest: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(common::golden("resnet50_manifest.json")).unwrap(),
    )
    .unwrap();
    let expected: std::collections::BTreeMap<String, Vec<usize>> = manifest["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            let shape = e["shape"].as_array().unwrap();
            let shape = shape.iter().map(|d| d.as_u64().unwrap() as usize).collect();
            (e["name"].as_str().unwrap().to_owned(), shape)
        })
        // Our BatchNorm has no step counter (fixed momentum, as PyTorch with momentum set).
        .filter(|(name, _)| !name.ends_with("num_batches_tracked"))
        .collect();
    assert_eq!(expected.len(), 267);

    let device = Default::default();
    let model =
        BaselineConfig::new(1000).init(ResNetConfig::resnet50().init::<B>(&device), &device);
    let dir = std::env::temp_dir().join(format!("fineface-manifest-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("resnet50.safetensors");
    fineface_model::export_torchvision_safetensors(&model, &path).unwrap();
    let bytes = std::fs::read(&path).unwrap();
    let file = safetensors::SafeTensors::deserialize(&bytes).unwrap();
    let actual: std::collections::BTreeMap<String, Vec<usize>> = file
        .tensors()
        .into_iter()
        .map(|(name, view)| {
            // The baseline keeps the ResNet under `backbone.`; torchvision has it at the root.
            let name = name.strip_prefix("backbone.").unwrap_or(&name).to_owned();
            (name, view.shape().to_vec())
        })
        .collect();
    std::fs::remove_dir_all(&dir).unwrap();
    let missing: Vec<_> = expected
        .keys()
        .filter(|k| !actual.contains_key(*k))
        .collect();
    let extra: Vec<_> = actual
        .keys()
        .filter(|k| !expected.contains_key(*k))
        .collect();
    assert!(
        missing.is_empty() && extra.is_empty(),
        "missing {missing:?}, extra {extra:?}"
    );
    for (name, shape) in &expected {
        assert_eq!(&actual[name], shape, "{name}");
    }
}

#[test]
fn exported_weights_load_back_to_the_same_outputs() {
    let device = Default::default();
    let model = torchvision_classifier(ResNetConfig::resnet18().with_width(8), "resnet18_w8.pth");
    let dir = std::env::temp_dir().join(format!("fineface-export-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("resnet18.safetensors");
    fineface_model::export_torchvision_safetensors(&model, &path).unwrap();
    let mut fresh = BaselineConfig::new(10).init(
        ResNetConfig::resnet18().with_width(8).init::<B>(&device),
        &device,
    );
    // The export names the backbone `backbone.*`; load it as a whole model.
    fineface_model::load_torchvision_weights(&mut fresh, &path, &[], &[]).unwrap();
    std::fs::remove_dir_all(&dir).unwrap();
    let io = common::read_tensors("resnet18_w8_io.safetensors");
    let input: Tensor<B, 4> = common::tensor(&io, "input", &device);
    let diff = common::max_abs_diff(model.forward(input.clone()), fresh.forward(input));
    assert_eq!(diff, 0.0);
}

#[test]
fn weight_errors_name_the_file_and_the_keys() {
    let device = Default::default();
    let missing = std::path::Path::new("/nonexistent/resnet50-0676ba61.pth");
    let mut backbone = ResNetConfig::resnet18().with_width(8).init::<B>(&device);
    let error = backbone.load_torchvision(missing).unwrap_err().to_string();
    assert!(
        error.contains("/nonexistent/resnet50-0676ba61.pth not found"),
        "{error}"
    );
    assert!(
        error.contains("https://download.pytorch.org/models/"),
        "{error}"
    );

    // Wrong width: every conv is mis-shaped.
    let mut wide = ResNetConfig::resnet18().with_width(16).init::<B>(&device);
    let error = wide
        .load_torchvision(&common::golden("resnet18_w8.safetensors"))
        .unwrap_err();
    let text = error.to_string();
    assert!(
        text.contains("mis-shaped") && text.contains("conv1.weight"),
        "{text}"
    );

    // Wrong architecture: ResNet-50 tensors have no place in a ResNet-18.
    let mut r18 = ResNetConfig::resnet18().with_width(4).init::<B>(&device);
    let error = r18
        .load_torchvision(&common::golden("resnet50_w4.safetensors"))
        .unwrap_err();
    let text = error.to_string();
    assert!(
        text.contains("unexpected") && text.contains("layer1.0.conv3.weight"),
        "{text}"
    );

    let error = r18
        .load_torchvision(std::path::Path::new("Cargo.toml"))
        .unwrap_err();
    assert!(error.to_string().contains("unknown format"), "{error}");
}

#[test]
fn backbone_taps_have_the_documented_strides() {
    let device = Default::default();
    let backbone = ResNetConfig::resnet50().with_width(4).init::<B>(&device);
    assert_eq!(backbone.tap_channels(), [32, 64, 128]);
    let images = Tensor::<B, 4>::zeros([1, 3, 96, 64], &device);
    let taps = backbone.forward_features(images);
    assert_eq!(taps.stride8.dims(), [1, 32, 12, 8]);
    assert_eq!(taps.stride16.dims(), [1, 64, 6, 4]);
    assert_eq!(taps.stride32.dims(), [1, 128, 3, 2]);
    let _ = backbone.num_params();
}

/// Sizes of torchvision's classifiers (`tools/torch_goldens.py` environment, torchvision
/// 0.29): trainable parameters, and tensors in the state dict without `num_batches_tracked`.
#[rstest]
#[case::resnet18(ResNetConfig::resnet18(), 11_689_512, 102)]
#[case::resnet34(ResNetConfig::resnet34(), 21_797_672, 182)]
#[case::resnet50(ResNetConfig::resnet50(), 25_557_032, 267)]
#[case::resnet101(ResNetConfig::resnet101(), 44_549_160, 522)]
#[case::resnet152(ResNetConfig::resnet152(), 60_192_808, 777)]
fn every_depth_has_torchvisions_size(
    #[case] config: ResNetConfig,
    #[case] parameters: usize,
    #[case] tensors: usize,
) {
    struct Count {
        trainable: usize,
        tensors: usize,
    }
    type A = Autodiff<Flex>;
    impl burn::module::ModuleVisitor<A> for Count {
        fn visit_float<const D: usize>(&mut self, param: &burn::module::Param<Tensor<A, D>>) {
            self.tensors += 1;
            // Running statistics are visited too, without a gradient (PyTorch's buffers).
            if param.val().is_require_grad() {
                self.trainable += param.val().shape().num_elements();
            }
        }
    }
    let device = Default::default();
    let model = BaselineConfig::new(1000).init(config.init::<A>(&device), &device);
    let mut count = Count {
        trainable: 0,
        tensors: 0,
    };
    model.visit(&mut count);
    assert_eq!(count.tensors, tensors);
    assert_eq!(count.trainable, parameters);
}

/// A copy of the safetensors file at `from` with every key renamed by `rename`.
fn renamed_copy(from: &std::path::Path, to: &std::path::Path, rename: impl Fn(&str) -> String) {
    let bytes = std::fs::read(from).unwrap();
    let file = safetensors::SafeTensors::deserialize(&bytes).unwrap();
    let tensors: Vec<(String, safetensors::tensor::TensorView<'_>)> = file
        .tensors()
        .into_iter()
        .map(|(name, view)| (rename(&name), view))
        .collect();
    safetensors::serialize_to_file(tensors, None, to).unwrap();
}

/// A state dict saved from `nn.DataParallel` has `module.` on every key (issue 17, item 8);
/// keys of another naming altogether are an error showing both namings.
#[test]
fn data_parallel_prefixes_load_and_unrelated_keys_are_shown() {
    let device = Default::default();
    let model = torchvision_classifier(ResNetConfig::resnet18().with_width(8), "resnet18_w8.pth");
    let dir = std::env::temp_dir().join(format!("fineface-prefix-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let exported = dir.join("resnet18.safetensors");
    fineface_model::export_torchvision_safetensors(&model, &exported).unwrap();
    let fresh = || {
        BaselineConfig::new(10).init(
            ResNetConfig::resnet18().with_width(8).init::<B>(&device),
            &device,
        )
    };
    let wrapped = dir.join("data_parallel.safetensors");
    renamed_copy(&exported, &wrapped, |k| format!("module.{k}"));
    let mut loaded = fresh();
    fineface_model::load_torchvision_weights(&mut loaded, &wrapped, &[], &[]).unwrap();
    let io = common::read_tensors("resnet18_w8_io.safetensors");
    let input: Tensor<B, 4> = common::tensor(&io, "input", &device);
    assert_eq!(
        common::max_abs_diff(model.forward(input.clone()), loaded.forward(input)),
        0.0
    );

    let other = dir.join("encoder.safetensors");
    renamed_copy(&exported, &other, |k| k.replace("backbone.", "encoder."));
    let error = fineface_model::load_torchvision_weights(&mut fresh(), &other, &[], &[])
        .unwrap_err()
        .to_string();
    assert!(
        error.contains("tensors in") && error.contains("fit nowhere in the model"),
        "{error}"
    );
    assert!(
        error.contains("the file has keys like `encoder.bn1.beta`")
            || error.contains("the file has keys like `encoder.bn1.bias`"),
        "{error}"
    );
    assert!(
        error.contains("the model expects keys like `backbone."),
        "{error}"
    );
    assert!(
        error.contains("nearest to `encoder.bn1.") && error.contains("is `backbone.bn1."),
        "{error}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

/// A state dict missing a tensor (a hand-edited or partly saved file) is refused, listing
/// the model's parameter it lacks and the file's tensor that fits nowhere.
#[test]
fn a_missing_tensor_is_named() {
    let device = Default::default();
    let dir = tempfile::tempdir().unwrap();
    let edited = dir.path().join("edited.safetensors");
    renamed_copy(&common::golden("resnet18_w8.safetensors"), &edited, |k| {
        if k == "layer4.1.conv2.weight" {
            "notes.layer4_conv2".to_owned()
        } else {
            k.to_owned()
        }
    });
    let mut backbone = ResNetConfig::resnet18().with_width(8).init::<B>(&device);
    let error = backbone.load_torchvision(&edited).unwrap_err().to_string();
    assert!(
        error.contains("1 missing [layer4.1.conv2.weight]")
            && error.contains("1 unexpected [notes.layer4_conv2]")
            && error.contains("edited.safetensors"),
        "{error}"
    );
}

/// A PyTorch pickle is read under the names training scripts and hubs give it, in any case
/// (`pytorch_model.BIN`, `.PTH`).
#[test]
fn pickles_under_other_extensions_load() {
    let dir = tempfile::tempdir().unwrap();
    for name in ["pytorch_model.BIN", "weights.PTH", "last.ckpt"] {
        let copy = dir.path().join(name);
        std::fs::copy(common::golden("wrapped/state_dict.pth"), &copy).unwrap();
        let device = Default::default();
        let mut backbone = ResNetConfig::resnet18().with_width(4).init::<B>(&device);
        fineface_model::ImageNetBackbone::load_torchvision(&mut backbone, &copy).unwrap();
    }
}

/// A weight file that is empty, an image, a cut download or text says so.
#[test]
fn damaged_weight_files_say_what_they_are() {
    let dir = tempfile::tempdir().unwrap();
    let whole = std::fs::read(common::golden("wrapped/state_dict.pth")).unwrap();
    let jpeg = [0xFF, 0xD8, 0xFF, 0xE0, 0, 16, b'J', b'F', b'I', b'F'];
    for (bytes, says) in [
        (&b""[..], "the file is empty (0 bytes)"),
        (&jpeg[..], "the file is an image, not weights"),
        (&whole[..whole.len() / 2], "the archive ends early"),
        (
            &b"version https://git-lfs.github.com/spec/v1\n"[..],
            "a Git LFS pointer",
        ),
        (&b"<!DOCTYPE html><html>sign in</html>"[..], "an HTML page"),
        (
            &b"just some text"[..],
            "not a PyTorch file: it starts with bytes 6a 75 73",
        ),
    ] {
        let path = dir.path().join("weights.pth");
        std::fs::write(&path, bytes).unwrap();
        let device = Default::default();
        let mut backbone = ResNetConfig::resnet18().with_width(4).init::<B>(&device);
        let e = fineface_model::ImageNetBackbone::load_torchvision(&mut backbone, &path)
            .unwrap_err()
            .to_string();
        assert!(e.contains(says) && e.contains("weights.pth"), "{e}");
    }
    let whole = std::fs::read(common::golden("wrapped/backbone_prefix.safetensors")).unwrap();
    let path = dir.path().join("weights.safetensors");
    std::fs::write(&path, &whole[..whole.len() / 2]).unwrap();
    let device = Default::default();
    let mut backbone = ResNetConfig::resnet18().with_width(4).init::<B>(&device);
    let e = fineface_model::ImageNetBackbone::load_torchvision(&mut backbone, &path)
        .unwrap_err()
        .to_string();
    assert!(e.contains("the file ends early"), "{e}");
}
