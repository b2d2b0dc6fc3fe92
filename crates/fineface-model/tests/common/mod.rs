//! Helpers shared by the integration tests.
#![allow(dead_code)] // Each test binary uses a subset of the helpers.
#![allow(clippy::print_stderr)] // Measured differences are reported with --nocapture.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use burn::tensor::backend::Backend;
use burn::tensor::{Tensor, TensorData};

/// Folder of the PyTorch goldens written by `tools/torch_goldens.py`.
pub const TORCH_DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/torch");

/// Path of a golden file.
pub fn golden(name: &str) -> PathBuf {
    Path::new(TORCH_DIR).join(name)
}

/// Every f32 tensor of a safetensors file, with its shape.
pub fn read_tensors(name: &str) -> HashMap<String, (Vec<usize>, Vec<f32>)> {
    let bytes = std::fs::read(golden(name)).unwrap();
    let file = safetensors::SafeTensors::deserialize(&bytes).unwrap();
    file.tensors()
        .into_iter()
        .filter(|(_, view)| view.dtype() == safetensors::Dtype::F32)
        .map(|(key, view)| {
            let values = view
                .data()
                .chunks_exact(4)
                .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
                .collect();
            (key, (view.shape().to_vec(), values))
        })
        .collect()
}

/// One tensor of a golden file as a Burn tensor.
pub fn tensor<B: Backend, const D: usize>(
    tensors: &HashMap<String, (Vec<usize>, Vec<f32>)>,
    key: &str,
    device: &B::Device,
) -> Tensor<B, D> {
    let (shape, values) = tensors
        .get(key)
        .unwrap_or_else(|| panic!("golden tensor `{key}` missing"));
    Tensor::from_data(TensorData::new(values.clone(), shape.clone()), device)
}

/// Largest absolute value.
pub fn max_abs<B: Backend, const D: usize>(t: Tensor<B, D>) -> f32 {
    t.abs().max().into_scalar().to_string().parse().unwrap()
}

/// Largest absolute difference; panics on a shape mismatch.
pub fn max_abs_diff<B: Backend, const D: usize>(a: Tensor<B, D>, b: Tensor<B, D>) -> f32 {
    assert_eq!(a.dims(), b.dims(), "shapes differ");
    max_abs(a - b)
}

/// Asserts `actual` is within `tolerance` of `expected` everywhere, naming the tensor.
pub fn assert_close<B: Backend, const D: usize>(
    name: &str,
    actual: Tensor<B, D>,
    expected: Tensor<B, D>,
    tolerance: f32,
) {
    let scale = max_abs(expected.clone());
    let diff = max_abs_diff(actual, expected);
    assert!(
        diff <= tolerance,
        "{name}: max |diff| {diff:e} > {tolerance:e} (max |expected| {scale})"
    );
    eprintln!("{name}: max |diff| {diff:e} (max |expected| {scale:.3})");
}

/// Max |a - b| relative to max |b|.
pub fn relative_diff<B: Backend, const D: usize>(a: Tensor<B, D>, b: Tensor<B, D>) -> f32 {
    let scale = max_abs(b.clone());
    max_abs_diff(a, b) / (scale + 1e-6)
}
