//! The device probe of `fineface devices --probe DEVICE`: a small convolution, its gradients
//! and a matrix product run on the device and on Flex, compared. It proves that a device's
//! driver, its kernel compiler (NVRTC for CUDA, the shader compiler for wgpu) and Burn's
//! runtime work together before an hour-long run is started on it. It also says what a run
//! over several machines would sum between nodes through on the device, and where that is
//! the device itself (NCCL on CUDA) sums a bucket over a group of one node there.

use std::time::{Duration, Instant};

use burn::tensor::backend::AutodiffBackend;
use burn::tensor::module::conv2d;
use burn::tensor::ops::ConvOptions;
use burn::tensor::{Tensor, TensorData, TensorPrimitive};
use fineface_model::{DeviceSpec, FineFaceAutodiffBackend, FineFaceBackend, NodeGroupId};
use serde::Serialize;

use crate::devices::{BackendTask, on_devices, parse_devices};
use crate::error::{Result, TrainError};

/// What [`probe_device`] measured.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DeviceProbe {
    /// The device probed (`cuda:0`, `wgpu`, ...).
    pub device: String,
    /// Wall time of the first run, seconds: on a GPU backend mostly compiling the kernels.
    pub first_seconds: f64,
    /// Wall time of the second run, kernels compiled, seconds.
    pub seconds: f64,
    /// The largest difference to Flex over the convolution's output, both its gradients,
    /// the matrix product and the one-node sum, each relative to that output's largest
    /// magnitude on Flex.
    pub max_relative_error: f64,
    /// What a run over several machines sums between nodes through on this device: `host
    /// memory (MPI)`, with the reason where the backend has a device-side collective that
    /// cannot be used, or the library (`NCCL 2.21.5 on the device`), whose sum over a group
    /// of one node was then compared too.
    pub between_nodes: String,
}

/// Above this relative error the device computes something else than Flex: float32 kernels
/// that sum in another order differ by about 1e-6.
pub const PROBE_TOLERANCE: f64 = 1e-4;

/// Runs the probe on `device` and on Flex and compares them.
///
/// # Errors
/// [`TrainError::Model`] for an unknown or unusable device (no driver, absent adapter);
/// [`TrainError::Unsupported`] for a backend this build lacks;
/// [`TrainError::ProbeMismatch`] when the device's results differ from Flex's by more than
/// [`PROBE_TOLERANCE`].
pub fn probe_device(device: DeviceSpec) -> Result<DeviceProbe> {
    let devices = parse_devices(&[device.to_string()])?;
    let mut reference = probe_outputs::<fineface_model::CpuAutodiff>(&Default::default());
    reference.push(one_node_sum::<fineface_model::Cpu>(&Default::default()).1);
    let (first_seconds, seconds, between_nodes, outputs) = on_devices(&devices, Probe)?;
    let max_relative_error = reference
        .iter()
        .zip(&outputs)
        .map(|(want, got)| relative_error(want, got))
        .fold(0.0, f64::max);
    let probe = DeviceProbe {
        device: device.to_string(),
        first_seconds,
        seconds,
        max_relative_error,
        between_nodes,
    };
    if max_relative_error > PROBE_TOLERANCE || max_relative_error.is_nan() {
        return Err(TrainError::ProbeMismatch {
            device: device.to_string(),
            error: max_relative_error,
            tolerance: PROBE_TOLERANCE,
        });
    }
    Ok(probe)
}

/// The probe on the backend [`on_devices`] picks: two runs, timed, and the one-node sum.
struct Probe;

impl BackendTask for Probe {
    type Output = (f64, f64, String, Vec<Vec<f32>>);

    fn run<B: FineFaceAutodiffBackend>(self, devices: Vec<B::Device>) -> Result<Self::Output> {
        let device = devices
            .first()
            .ok_or_else(|| TrainError::Unsupported("the probe needs one device".to_owned()))?;
        let started = Instant::now();
        probe_outputs::<B>(device);
        let first_seconds = started.elapsed().as_secs_f64();
        let started = Instant::now();
        let mut outputs = probe_outputs::<B>(device);
        let seconds = started.elapsed().as_secs_f64();
        let (between_nodes, summed) = one_node_sum::<B::InnerBackend>(device);
        outputs.push(summed);
        Ok((first_seconds, seconds, between_nodes, outputs))
    }
}

/// What a run over several nodes sums through on `device`, and a bucket summed over a group
/// of one node there (the bucket itself) where that is the device; the bucket as it is
/// otherwise, so that it compares equal to Flex's.
fn one_node_sum<B: FineFaceBackend>(device: &B::Device) -> (String, Vec<f32>) {
    let values: Vec<f32> = (0..1000).map(|i| (i as f32 * 0.618_034).sin()).collect();
    let Some(collective) = B::device_collective() else {
        return ("host memory (MPI)".to_owned(), values);
    };
    let bucket = Tensor::<B, 1>::from_data(TensorData::new(values.clone(), [values.len()]), device);
    let summed = collective.load().and_then(|version| {
        let id = NodeGroupId::new(collective)?;
        let mut group = B::node_group(device, &id, 1, 0)?;
        let total = B::node_all_reduce_sum(
            bucket.into_primitive().tensor(),
            &mut group,
            Duration::from_secs(60),
        )?;
        let total = Tensor::<B, 1>::from_primitive(TensorPrimitive::Float(total)).into_data();
        Ok((
            version,
            total.convert::<f32>().to_vec::<f32>().unwrap_or_default(),
        ))
    });
    match summed {
        Ok((version, total)) => (format!("{version} on the device"), total),
        Err(why) => (format!("host memory (MPI): {why}"), values),
    }
}

/// A 3x3 stride-2 convolution of a `[2, 3, 17, 17]` batch into 8 channels, the gradients of
/// its ReLU'd mean with respect to input and weight, and a `[64, 48] @ [48, 32]` product, as
/// flat values read back to the host (which waits for the device).
fn probe_outputs<B: AutodiffBackend>(device: &B::Device) -> Vec<Vec<f32>> {
    // Deterministic values in [-1, 1]: the same tensors on every backend.
    let values = |n: usize, phase: f32| -> Vec<f32> {
        (0..n)
            .map(|i| ((i as f32) * 0.618_034 + phase).sin())
            .collect()
    };
    let tensor = |shape: [usize; 4], phase: f32| {
        let n = shape.iter().product();
        Tensor::<B, 4>::from_data(TensorData::new(values(n, phase), shape), device).require_grad()
    };
    let x = tensor([2, 3, 17, 17], 0.1);
    let weight = tensor([8, 3, 3, 3], 0.7);
    let out = conv2d(
        x.clone(),
        weight.clone(),
        None,
        ConvOptions::new([2, 2], [1, 1], [1, 1], 1),
    ); // [2, 8, 9, 9]
    let grads = burn::tensor::activation::relu(out.clone())
        .mean()
        .backward();
    let read = |data: TensorData| data.convert::<f32>().to_vec::<f32>().unwrap_or_default();
    let a = Tensor::<B, 2>::from_data(TensorData::new(values(64 * 48, 0.3), [64, 48]), device);
    let b = Tensor::<B, 2>::from_data(TensorData::new(values(48 * 32, 0.9), [48, 32]), device);
    vec![
        read(out.into_data()),
        x.grad(&grads)
            .map(|g| read(g.into_data()))
            .unwrap_or_default(),
        weight
            .grad(&grads)
            .map(|g| read(g.into_data()))
            .unwrap_or_default(),
        read(a.matmul(b).into_data()),
    ]
}

/// max |got - want| / max |want|; 1 when the lengths differ (a missing gradient).
fn relative_error(want: &[f32], got: &[f32]) -> f64 {
    if want.len() != got.len() || want.is_empty() {
        return 1.0;
    }
    let scale = want.iter().map(|v| f64::from(v.abs())).fold(0.0, f64::max);
    let diff = want
        .iter()
        .zip(got)
        .map(|(w, g)| f64::from((w - g).abs()))
        .fold(0.0, f64::max);
    diff / scale.max(f64::MIN_POSITIVE)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cpu_probe_matches_itself_and_computes_every_output() {
        let probe = probe_device(DeviceSpec::Cpu).unwrap();
        assert_eq!(probe.device, "cpu");
        assert_eq!(probe.max_relative_error, 0.0);
        let outputs = probe_outputs::<fineface_model::CpuAutodiff>(&Default::default());
        let lengths: Vec<usize> = outputs.iter().map(Vec::len).collect();
        assert_eq!(
            lengths,
            [2 * 8 * 9 * 9, 2 * 3 * 17 * 17, 8 * 3 * 3 * 3, 64 * 32]
        );
        // Flex has no device-side collective: the nodes sum through host memory.
        assert_eq!(probe.between_nodes, "host memory (MPI)");
        assert!(outputs.iter().all(|o| o.iter().any(|v| *v != 0.0)));
    }

    #[test]
    fn relative_errors_see_a_wrong_value_and_a_missing_gradient() {
        assert_eq!(relative_error(&[1.0, -2.0], &[1.0, -2.0]), 0.0);
        assert!((relative_error(&[1.0, -2.0], &[1.0, -1.0]) - 0.5).abs() < 1e-12);
        assert_eq!(relative_error(&[1.0, -2.0], &[]), 1.0);
    }

    #[test]
    fn an_unusable_device_is_an_error_naming_it() {
        let error = probe_device(DeviceSpec::Cuda(7)).unwrap_err().to_string();
        assert!(error.contains("cuda:7"), "{error}");
    }
}
