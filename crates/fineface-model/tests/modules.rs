//! Module behaviour against straightforward definitions and against Burn's own layers.

#![allow(clippy::unwrap_used)] // Tests panic on failure by design.

mod common;

use burn::backend::{Autodiff, Flex};
use burn::module::{AutodiffModule, Param};
use burn::nn::BatchNormConfig as BurnBatchNormConfig;
use burn::tensor::activation::relu;
use burn::tensor::{Distribution, Tensor};
use fineface_model::{
    BatchNormConfig, ClassifierConfig, FineFaceConfig, ResNetConfig, attention_map, load_model,
    save_model,
};
use rstest::rstest;

type B = Flex;
type A = Autodiff<Flex>;

fn to_vec<const D: usize>(t: Tensor<B, D>) -> Vec<f32> {
    t.into_data().to_vec::<f32>().unwrap()
}

/// FINEFACE.md's attention map for one sample, in plain loops over PyTorch-oriented weights.
fn attention_by_definition(
    fmap: &[f32],
    dims: [usize; 4],
    logits: &[f32],
    n_classes: usize,
    w_a: &[f32], // PyTorch [hidden, features]
    w_b: &[f32], // PyTorch [n_classes, hidden]
    hidden: usize,
) -> Vec<f32> {
    let [b, f, h, w] = dims;
    let mut out = vec![0.0f32; b * h * w];
    for i in 0..b {
        let row = &logits[i * n_classes..(i + 1) * n_classes];
        let c = (0..n_classes)
            .max_by(|&x, &y| row[x].total_cmp(&row[y]).then(y.cmp(&x)))
            .unwrap();
        for u in 0..h {
            for v in 0..w {
                let mut a = 0.0f64;
                for j in 0..hidden {
                    let mut inner = 0.0f64;
                    for m in 0..f {
                        inner += w_a[j * f + m] as f64 * fmap[((i * f + m) * h + u) * w + v] as f64;
                    }
                    a += w_b[c * hidden + j] as f64 * inner;
                }
                out[(i * h + u) * w + v] = a as f32;
            }
        }
    }
    out
}

#[rstest]
#[case::two_classes(2, 3, 8, 5, 4, 7)]
#[case::five_classes(5, 4, 16, 6, 3, 3)]
#[case::single_pixel(3, 2, 4, 2, 1, 1)]
fn attention_map_equals_the_per_sample_definition(
    #[case] n_classes: usize,
    #[case] batch: usize,
    #[case] features: usize,
    #[case] hidden: usize,
    #[case] h: usize,
    #[case] w: usize,
) {
    let device = Default::default();
    let classifier = ClassifierConfig::new(features, hidden, n_classes).init::<B>(&device);
    let fmap = Tensor::<B, 4>::random(
        [batch, features, h, w],
        Distribution::Normal(0.0, 1.0),
        &device,
    );
    let logits =
        Tensor::<B, 2>::random([batch, n_classes], Distribution::Normal(0.0, 1.0), &device);
    let actual = to_vec(attention_map(fmap.clone(), logits.clone(), &classifier));
    // Burn stores Linear weights [d_in, d_out]: transpose to PyTorch's [d_out, d_in].
    let w_a = to_vec(classifier.fc1.weight.val().transpose());
    let w_b = to_vec(classifier.fc2.weight.val().transpose());
    let expected = attention_by_definition(
        &to_vec(fmap),
        [batch, features, h, w],
        &to_vec(logits),
        n_classes,
        &w_a,
        &w_b,
        hidden,
    );
    assert_eq!(actual.len(), expected.len());
    for (a, e) in actual.iter().zip(&expected) {
        assert!((a - e).abs() <= 1e-4 * e.abs().max(1.0), "{a} vs {e}");
    }
}

/// Our BatchNorm beside Burn's with the same parameters and statistics: outputs and running
/// statistics in both modes, and in training (where ours is one op with a closed-form
/// backward, Burn's a graph of element-wise ops) the input, gamma and beta gradients under
/// the loss `sum(y * r)`. With `relu_after`, our fused `forward_relu` against Burn's layer
/// followed by Burn's `relu` (about half the outputs are clipped).
#[rstest]
#[case::bn2d(vec![4, 6, 5, 3])]
#[case::bn1d(vec![8, 6])]
fn batch_norm_matches_burns_in_both_modes(
    #[case] shape: Vec<usize>,
    #[values(false, true)] relu_after: bool,
) {
    let device = Default::default();
    let gamma = Tensor::<A, 1>::random([6], Distribution::Uniform(0.5, 1.5), &device);
    let beta = Tensor::<A, 1>::random([6], Distribution::Normal(0.0, 0.1), &device);
    let mut ours = BatchNormConfig::new(6).init::<A>(&device);
    let mut burns = BurnBatchNormConfig::new(6).init::<A>(&device);
    ours.gamma = Param::from_tensor(gamma.clone());
    ours.beta = Param::from_tensor(beta.clone());
    burns.gamma = Param::from_tensor(gamma);
    burns.beta = Param::from_tensor(beta);
    let total: usize = shape.iter().product();
    let data = Tensor::<B, 1>::random([total], Distribution::Normal(1.0, 2.0), &device).into_data();
    let r = Tensor::<A, 1>::random([total], Distribution::Normal(0.0, 1.0), &device);
    let n: usize = shape.iter().product::<usize>() / 6;

    macro_rules! check {
        ($D:literal) => {{
            let dims: [usize; $D] = shape.clone().try_into().unwrap();
            let x = Tensor::<A, 1>::from_data(data.clone(), &device)
                .reshape(dims)
                .require_grad();
            // Training mode (autodiff backend): batch statistics.
            let (y_ours, y_burn) = if relu_after {
                (ours.forward_relu(x.clone()), relu(burns.forward(x.clone())))
            } else {
                (ours.forward(x.clone()), burns.forward(x.clone()))
            };
            let diff = common::max_abs_diff(y_ours.clone().inner(), y_burn.clone().inner());
            assert!(diff < 1e-5, "train output differs by {diff}");
            let r = r.clone().reshape(dims);
            let grads_ours = (y_ours * r.clone()).sum().backward();
            let grads_burn = (y_burn * r).sum().backward();
            let input =
                common::relative_diff(x.grad(&grads_ours).unwrap(), x.grad(&grads_burn).unwrap());
            assert!(input < 1e-4, "input gradient differs by {input}");
            let gamma = common::relative_diff(
                ours.gamma.grad(&grads_ours).unwrap(),
                burns.gamma.grad(&grads_burn).unwrap(),
            );
            assert!(gamma < 1e-5, "gamma gradient differs by {gamma}");
            let beta = common::relative_diff(
                ours.beta.grad(&grads_ours).unwrap(),
                burns.beta.grad(&grads_burn).unwrap(),
            );
            assert!(beta < 1e-5, "beta gradient differs by {beta}");
            let mean_diff = common::max_abs_diff(
                ours.running_mean.value_sync().inner(),
                burns.running_mean.value_sync().inner(),
            );
            assert!(mean_diff < 1e-6, "running mean differs by {mean_diff}");
            // Burn stores the biased variance, PyTorch (and we) the unbiased one:
            // ours - 0.9 = (burn's - 0.9) * n / (n - 1).
            let ours_var = ours.running_var.value_sync().inner().sub_scalar(0.9);
            let burns_var = burns.running_var.value_sync().inner().sub_scalar(0.9);
            let diff =
                common::max_abs_diff(ours_var, burns_var.mul_scalar(n as f64 / (n as f64 - 1.0)));
            assert!(diff < 1e-5, "running var differs by {diff}");
            // Eval mode with the same statistics.
            burns.running_var = ours.running_var.clone();
            let (ours_eval, burns_eval) = (ours.valid(), burns.valid());
            let xe = x.inner();
            let (e_ours, e_burn) = if relu_after {
                (
                    ours_eval.forward_relu(xe.clone()),
                    relu(burns_eval.forward(xe)),
                )
            } else {
                (ours_eval.forward(xe.clone()), burns_eval.forward(xe))
            };
            let diff = common::max_abs_diff(e_ours, e_burn);
            assert!(diff < 1e-5, "eval output differs by {diff}");
        }};
    }
    match shape.len() {
        4 => check!(4),
        _ => check!(2),
    }
}

#[test]
fn fineface_round_trips_through_burnpack() {
    let device = Default::default();
    let backbone = ResNetConfig::resnet18().with_width(4).init::<B>(&device);
    let model = FineFaceConfig::new(3)
        .with_head_width(8)
        .init(backbone, &device);
    let dir = std::env::temp_dir().join(format!("fineface-bpk-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("model.bpk");
    save_model(&model, &path).unwrap();

    let other = ResNetConfig::resnet18().with_width(4).init::<B>(&device);
    let mut loaded = FineFaceConfig::new(3)
        .with_head_width(8)
        .init(other, &device);
    load_model(&mut loaded, &path).unwrap();
    let images = Tensor::<B, 4>::random([2, 3, 64, 64], Distribution::Normal(0.0, 1.0), &device);
    let (a, b) = (model.forward(images.clone()), loaded.forward(images));
    assert_eq!(common::max_abs_diff(a.concat, b.concat), 0.0);
    assert_eq!(common::max_abs_diff(a.map1, b.map1), 0.0);

    // A model of another shape does not load silently.
    let wrong = ResNetConfig::resnet18().with_width(8).init::<B>(&device);
    let mut wrong = FineFaceConfig::new(3)
        .with_head_width(8)
        .init(wrong, &device);
    assert!(load_model(&mut wrong, &path).is_err());
    std::fs::remove_dir_all(&dir).unwrap();
}
