//! Each optimisation step of a FineFACE iteration changes exactly the parameters its loss
//! reaches, at its group's learning rate; parameters without a gradient stay bit-identical.

#![allow(clippy::unwrap_used)] // Tests panic on failure by design.

use burn::module::{AutodiffModule, Module, ModuleVisitor, Param};
use burn::tensor::{Distribution, Int, Tensor, TensorData};
use fineface_model::AttentionCropConfig;
use fineface_model::{Cpu, CpuAutodiff, FineFaceConfig, ResNetConfig};
use fineface_train::LocalReducer;
use fineface_train::{
    FineFaceResNet, FineFaceStep, GroupedSgd, IterationContext, Shard, StepResult, TrainSettings,
    TrainStep, fineface_step,
};
use rstest::rstest;

type A = CpuAutodiff;

fn tiny_model() -> FineFaceResNet<A> {
    let device = Default::default();
    let backbone = ResNetConfig::resnet18().with_width(4).init::<A>(&device);
    let model = FineFaceConfig::new(2)
        .with_head_width(8)
        .init(backbone, &device);
    // Draw the lazily initialised weights once, so that clones share them.
    fineface_train::initialise_parameters(&model);
    model
}

fn shard() -> Shard<A> {
    let device = Default::default();
    Shard {
        images: Tensor::random([6, 3, 64, 64], Distribution::Normal(0.0, 1.0), &device),
        targets: Tensor::<A, 1, Int>::from_data(
            TensorData::new(vec![0i64, 1, 1, 0, 1, 0], [6]),
            &device,
        ),
        device,
    }
}

/// Values of every trainable parameter of a module (running statistics excluded).
fn values<M: Module<A>>(module: &M) -> Vec<Vec<f32>> {
    struct Values(Vec<Vec<f32>>);
    impl ModuleVisitor<A> for Values {
        fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<A, D>>) {
            let tensor = param.val();
            if tensor.is_require_grad() {
                self.0.push(tensor.into_data().to_vec::<f32>().unwrap());
            }
        }
    }
    let mut v = Values(Vec::new());
    module.visit(&mut v);
    v.0
}

/// How many of a module's parameter tensors differ between two models.
fn changed(before: &[Vec<f32>], after: &[Vec<f32>]) -> usize {
    assert_eq!(before.len(), after.len());
    before.iter().zip(after).filter(|(a, b)| a != b).count()
}

/// The parts of the model, by name.
fn parts(model: &FineFaceResNet<A>) -> Vec<(&'static str, Vec<Vec<f32>>)> {
    let b = &model.backbone;
    let stem = [values(&b.conv1), values(&b.bn1)].concat();
    vec![
        ("stem", stem),
        ("layer1", values(&b.layer1)),
        ("layer2", values(&b.layer2)),
        ("layer3", values(&b.layer3)),
        ("layer4", values(&b.layer4)),
        ("expert1.conv_block", values(&model.expert1.conv_block)),
        ("expert1.classifier", values(&model.expert1.classifier)),
        ("expert2.conv_block", values(&model.expert2.conv_block)),
        ("expert2.classifier", values(&model.expert2.classifier)),
        ("expert3.conv_block", values(&model.expert3.conv_block)),
        ("expert3.classifier", values(&model.expert3.classifier)),
        ("concat", values(&model.concat)),
    ]
}

const CONTEXT: IterationContext = IterationContext {
    epoch: 0,
    batch: 0,
    seed: 0,
    lean: false,
};

#[rstest]
#[case::expert3(FineFaceStep::Expert3, &["stem", "layer1", "layer2", "layer3", "layer4", "expert3.conv_block", "expert3.classifier"])]
#[case::expert2(FineFaceStep::Expert2, &["stem", "layer1", "layer2", "layer3", "expert2.conv_block", "expert2.classifier"])]
#[case::expert1(FineFaceStep::Expert1, &["stem", "layer1", "layer2", "expert1.conv_block", "expert1.classifier"])]
#[case::crop_all(FineFaceStep::CropAll, &["stem", "layer1", "layer2", "layer3", "layer4", "expert1.conv_block", "expert1.classifier", "expert2.conv_block", "expert2.classifier", "expert3.conv_block", "expert3.classifier", "concat"])]
#[case::concat(FineFaceStep::Concat, &["stem", "layer1", "layer2", "layer3", "layer4", "expert1.conv_block", "expert2.conv_block", "expert3.conv_block", "concat"])]
fn a_step_changes_exactly_what_its_loss_reaches(
    #[case] step: FineFaceStep,
    #[case] reached: &[&str],
) {
    let model = tiny_model();
    let shard = shard();
    let mut optimizer = GroupedSgd::<A, _>::new(&TrainSettings::default());
    let before = parts(&model);
    let StepResult {
        model: updated,
        loss,
        ..
    } = fineface_step(
        model,
        &mut optimizer,
        std::slice::from_ref(&shard),
        std::slice::from_ref(&shard.images),
        step,
        CONTEXT,
        &mut LocalReducer,
    )
    .unwrap();
    assert!(loss.is_finite() && loss > 0.0, "{loss}");
    for ((name, b), (_, a)) in before.iter().zip(parts(&updated)) {
        let n = changed(b, &a);
        if reached.contains(name) {
            // With weight decay, a reached parameter moves unless its gradient and value
            // are both zero (a zero-initialised bias behind a ReLU that is off for the whole
            // batch), so most, not all, of a reached part's tensors change.
            assert!(
                n * 2 >= b.len(),
                "{step:?}: only {n} of {} tensors of {name} changed",
                b.len()
            );
        } else {
            assert_eq!(
                n, 0,
                "{step:?}: {name} has no gradient in this step but changed"
            );
        }
    }
}

#[test]
fn the_backbone_group_steps_at_its_own_rate() {
    let model = tiny_model();
    let shard = shard();
    // A zero backbone rate freezes the backbone while the heads move: the groups are split.
    let settings = TrainSettings {
        lr_backbone: 0.0,
        weight_decay: 0.0,
        ..TrainSettings::default()
    };
    let mut optimizer = GroupedSgd::<A, _>::new(&settings);
    let before = parts(&model);
    let StepResult { model: updated, .. } = fineface_step(
        model,
        &mut optimizer,
        std::slice::from_ref(&shard),
        std::slice::from_ref(&shard.images),
        FineFaceStep::CropAll,
        CONTEXT,
        &mut LocalReducer,
    )
    .unwrap();
    for ((name, b), (_, a)) in before.iter().zip(parts(&updated)) {
        let n = changed(b, &a);
        if name.starts_with("stem") || name.starts_with("layer") {
            assert_eq!(n, 0, "{name} moved with a zero backbone rate");
        } else {
            assert!(n > 0, "{name} did not move");
        }
    }
}

#[test]
fn a_whole_iteration_reports_five_finite_losses_and_leaves_no_graph() {
    let model = tiny_model();
    let shard = shard();
    let crop = AttentionCropConfig::new().init();
    let mut optimizer = GroupedSgd::<A, _>::new(&TrainSettings::default());
    let before = parts(&model);
    let (updated, losses) = model
        .iteration(
            &mut optimizer,
            std::slice::from_ref(&shard),
            &crop,
            CONTEXT,
            &mut LocalReducer,
        )
        .unwrap();
    let names: Vec<&str> = losses.losses.iter().map(|(n, _)| n.name()).collect();
    assert_eq!(
        names,
        ["expert3", "expert2", "expert1", "crop_all", "concat"]
    );
    assert!(losses.losses.iter().all(|(_, v)| v.is_finite() && *v > 0.0));
    assert_eq!(losses.seen, 6);
    assert!(losses.correct <= 6);
    // Step 5 reaches every part.
    for ((name, b), (_, a)) in before.iter().zip(parts(&updated)) {
        assert!(
            changed(b, &a) > 0,
            "{name} unchanged after a whole iteration"
        );
    }
    // The same context draws the same crop sources.
    let again = tiny_model()
        .iteration(
            &mut GroupedSgd::<A, _>::new(&TrainSettings::default()),
            &[shard],
            &crop,
            CONTEXT,
            &mut LocalReducer,
        )
        .unwrap()
        .1;
    assert_eq!(again.sources, losses.sources);
    // No graph survives the iteration: every parameter of the updated model is a leaf of
    // the autodiff graph (no parent node), so nothing from the five steps is kept alive.
    assert_eq!(graph_parents(&updated), 0, "parameters still hold a graph");
    // The updated model evaluates without autodiff.
    let _ = updated.valid();
}

/// Number of autodiff parent nodes held by a module's parameters: 0 when every parameter
/// is a leaf.
fn graph_parents<M: Module<A>>(module: &M) -> usize {
    struct Parents(usize);
    impl ModuleVisitor<A> for Parents {
        fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<A, D>>) {
            self.0 += param.val().into_primitive().tensor().node.parents.len();
        }
    }
    let mut parents = Parents(0);
    module.visit(&mut parents);
    parents.0
}

#[test]
fn graph_parents_sees_a_parameter_computed_from_another() {
    // The check above must be able to fail: a parameter that is the result of an op on a
    // tracked tensor has a parent.
    let device = Default::default();
    let leaf = Tensor::<A, 1>::ones([3], &device).require_grad();
    // (`Param::from_tensor` refuses a non-leaf; `initialized` takes it as it is.)
    let derived = Param::initialized(burn::module::ParamId::new(), leaf.mul_scalar(2.0));
    let mut model = burn::nn::LinearConfig::new(3, 1).init::<A>(&device);
    assert_eq!(graph_parents(&model), 0);
    model.bias = Some(derived);
    assert!(graph_parents(&model) > 0);
}

/// Largest difference between two models' updates from `start`, relative to the largest
/// update.
fn update_difference(
    start: &[(&str, Vec<Vec<f32>>)],
    a: &[(&str, Vec<Vec<f32>>)],
    b: &[(&str, Vec<Vec<f32>>)],
) -> f32 {
    let (mut largest, mut difference) = (0.0f32, 0.0f32);
    for (((_, s), (_, a)), (_, b)) in start.iter().zip(a).zip(b) {
        for ((s, a), b) in s.iter().zip(a).zip(b) {
            for ((s, a), b) in s.iter().zip(a).zip(b) {
                largest = largest.max((a - s).abs()).max((b - s).abs());
                difference = difference.max(((a - s) - (b - s)).abs());
            }
        }
    }
    assert!(largest > 0.0, "nothing was updated");
    difference / largest
}

/// One shard holding `half`'s images and targets twice.
fn twice(half: &Shard<A>) -> Shard<A> {
    Shard {
        images: Tensor::cat(vec![half.images.clone(), half.images.clone()], 0),
        targets: Tensor::cat(vec![half.targets.clone(), half.targets.clone()], 0),
        device: half.device,
    }
}

#[test]
fn two_shards_update_a_fineface_model_as_one_device_does_the_whole_batch() {
    // The batch is the six images twice: each shard's BatchNorm statistics then equal the
    // whole batch's, so the data-parallel update (each shard's mean loss weighted by its
    // share, gradients summed, one step) must equal the single-device one. A dropped shard
    // halves the update and an unweighted sum doubles it.
    let half = shard();
    let whole = twice(&half);
    let crop = AttentionCropConfig::new().init();
    let model = tiny_model();
    let copy = || {
        let device = Default::default();
        let backbone = ResNetConfig::resnet18().with_width(4).init::<A>(&device);
        FineFaceConfig::new(2)
            .with_head_width(8)
            .init(backbone, &device)
            .load_record(model.clone().into_record())
    };
    let run = |shards: &[Shard<A>]| {
        copy()
            .iteration(
                &mut GroupedSgd::<A, _>::new(&TrainSettings::default()),
                shards,
                &crop,
                CONTEXT,
                &mut LocalReducer,
            )
            .unwrap()
    };
    let (one, one_losses) = run(std::slice::from_ref(&whole));
    let (two, two_losses) = run(&[half.clone(), half]);
    for ((name, a), (_, b)) in one_losses.losses.iter().zip(&two_losses.losses) {
        assert!((a - b).abs() <= 1e-5 * a.abs(), "{name}: {a} vs {b}");
    }
    assert_eq!(one_losses.seen, two_losses.seen);
    let relative = update_difference(&parts(&copy()), &parts(&one), &parts(&two));
    assert!(
        relative < 1e-4,
        "updates differ by {relative} of the largest update"
    );
}

#[test]
fn two_shards_update_the_baseline_as_one_device_does_the_whole_batch() {
    let half = shard();
    let whole = twice(&half);
    let crop = AttentionCropConfig::new().init();
    let fresh = || {
        let device = Default::default();
        let backbone = ResNetConfig::resnet18().with_width(4).init::<A>(&device);
        fineface_model::BaselineConfig::new(2).init(backbone, &device)
    };
    let model = fresh();
    fineface_train::initialise_parameters(&model);
    let copy = || fresh().load_record(model.clone().into_record());
    let run = |shards: &[Shard<A>]| {
        copy()
            .iteration(
                &mut GroupedSgd::<A, _>::new(&TrainSettings::default()),
                shards,
                &crop,
                CONTEXT,
                &mut LocalReducer,
            )
            .unwrap()
            .0
    };
    let baseline_parts = |m: &fineface_train::BaselineResNet<A>| {
        vec![("backbone", values(&m.backbone)), ("all", values(m))]
    };
    let (one, two) = (
        run(std::slice::from_ref(&whole)),
        run(&[half.clone(), half]),
    );
    let relative = update_difference(
        &baseline_parts(&copy()),
        &baseline_parts(&one),
        &baseline_parts(&two),
    );
    assert!(
        relative < 1e-4,
        "updates differ by {relative} of the largest update"
    );
}

/// Running statistics of every BatchNorm of a module (after `valid()` folded the pending
/// updates in).
fn running<M: Module<Cpu>>(module: &M) -> Vec<Vec<f32>> {
    struct Stats(Vec<Vec<f32>>);
    impl ModuleVisitor<Cpu> for Stats {
        fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<Cpu, D>>) {
            self.0
                .push(param.val().into_data().to_vec::<f32>().unwrap());
        }
    }
    let mut v = Stats(Vec::new());
    module.visit(&mut v);
    v.0
}

#[rstest]
#[case::expert2(FineFaceStep::Expert2, &["stem", "layer1", "layer2", "layer3", "expert2"])]
#[case::expert1(FineFaceStep::Expert1, &["stem", "layer1", "layer2", "expert1"])]
fn the_lean_step_differs_from_the_exact_one_only_in_skipped_running_statistics(
    #[case] step: FineFaceStep,
    #[case] on_path: &[&str],
) {
    let model = tiny_model();
    let shard = shard();
    // Clones of a Burn module share their BatchNorm running statistics (one Arc); each run
    // gets its own copy through a record.
    let copy = || {
        let device = Default::default();
        let backbone = ResNetConfig::resnet18().with_width(4).init::<A>(&device);
        FineFaceConfig::new(2)
            .with_head_width(8)
            .init(backbone, &device)
            .load_record(model.clone().into_record())
    };
    let run = |lean: bool| {
        let mut optimizer = GroupedSgd::<A, _>::new(&TrainSettings::default());
        fineface_step(
            copy(),
            &mut optimizer,
            std::slice::from_ref(&shard),
            std::slice::from_ref(&shard.images),
            step,
            IterationContext { lean, ..CONTEXT },
            &mut LocalReducer,
        )
        .unwrap()
    };
    let (exact, lean) = (run(false), run(true));
    assert_eq!(exact.loss, lean.loss, "same loss");
    // Same gradients, same update: every trainable parameter bit-identical.
    for ((name, e), (_, l)) in parts(&exact.model).iter().zip(parts(&lean.model)) {
        assert_eq!(changed(e, &l), 0, "{name} differs between lean and exact");
    }
    // Running statistics: identical on the step's path; elsewhere the exact step updated
    // them (its forward ran there) and the lean one left them as they were.
    let (before, e, l) = (copy().valid(), exact.model.valid(), lean.model.valid());
    let stats = |m: &FineFaceResNet<Cpu>| -> Vec<(&'static str, Vec<Vec<f32>>)> {
        let b = &m.backbone;
        vec![
            ("stem", running(&b.bn1)),
            ("layer1", running(&b.layer1)),
            ("layer2", running(&b.layer2)),
            ("layer3", running(&b.layer3)),
            ("layer4", running(&b.layer4)),
            ("expert1", running(&m.expert1)),
            ("expert2", running(&m.expert2)),
            ("expert3", running(&m.expert3)),
            ("concat", running(&m.concat)),
        ]
    };
    for (((name, b), (_, e)), (_, l)) in stats(&before).into_iter().zip(stats(&e)).zip(stats(&l)) {
        if on_path.contains(&name) {
            assert_eq!(e, l, "{name}: running statistics on the path differ");
        } else {
            assert_eq!(l, b, "{name}: the lean step touched statistics it skips");
            assert_ne!(e, b, "{name}: the exact step should have updated them");
        }
    }
}
