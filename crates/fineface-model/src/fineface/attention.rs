//! The attention map of an expert: its class activation map, linearised.

use burn::tensor::Tensor;
use burn::tensor::backend::Backend;

use super::classifier::Classifier;

/// The attention map of each sample under its own predicted class, in one batched matmul.
///
/// With `c_i = argmax(logits_i)`, `W_a` the classifier's first Linear and `W_b` its last
/// (PyTorch orientation), `A_i(u, v) = sum_j W_b[c_i, j] sum_m W_a[j, m] F[i, m, u, v]`:
/// every pixel's feature vector projected on the direction `W_a^T W_b[c_i]`. BatchNorm,
/// biases and ELU are ignored, as in the reference. Nothing here is differentiated: inputs
/// and weights are detached.
///
/// # Shapes
/// - `feature_map`: `[batch, features, h, w]`
/// - `logits`: `[batch, n_classes]`
/// - output: `[batch, h, w]`
pub fn attention_map<B: Backend>(
    feature_map: Tensor<B, 4>,
    logits: Tensor<B, 2>,
    classifier: &Classifier<B>,
) -> Tensor<B, 3> {
    let [b, features, h, w] = feature_map.dims();
    let predicted = logits.detach().argmax(1).reshape([b]); // [b]
    // Burn Linear weights are [d_in, d_out]: fc2 is W_b^T [hidden, n], fc1 is W_a^T [features, hidden].
    let w_b_rows = classifier
        .fc2
        .weight
        .val()
        .detach()
        .transpose()
        .select(0, predicted); // [b, hidden] = W_b[c_i]
    let direction = w_b_rows.matmul(classifier.fc1.weight.val().detach().transpose()); // [b, features]
    let pixels = feature_map.detach().reshape([b, features, h * w]); // [b, features, h*w]
    direction
        .unsqueeze_dim::<3>(1) // [b, 1, features]
        .matmul(pixels) // [b, 1, h*w]
        .reshape([b, h, w])
}
