//! Device dispatch, written once: command-line device names to a Burn backend and its
//! devices, for training, evaluation and prediction alike.

use fineface_model::{DeviceSpec, FineFaceAutodiffBackend};

use crate::error::{Result, TrainError};

/// Work generic over the backend, run by [`on_devices`] on the backend the device names
/// choose (Rust closures cannot be generic, so the work is a trait).
pub trait BackendTask {
    /// What the work returns.
    type Output;

    /// Runs on autodiff backend `B` (inference uses `B::InnerBackend`) and `devices` (at
    /// least one).
    ///
    /// # Errors
    /// The work's own.
    fn run<B: FineFaceAutodiffBackend>(self, devices: Vec<B::Device>) -> Result<Self::Output>;
}

/// Parses device names (`cpu`, `cuda`, `cuda:N`, `wgpu`, `wgpu:N`) and checks each can run.
///
/// # Errors
/// [`TrainError::Model`] for an unknown name or an unusable device;
/// [`TrainError::Unsupported`] for an empty list or a mix of backends (`cpu` with `cuda:0`,
/// say): one run trains on one backend.
pub fn parse_devices(names: &[String]) -> Result<Vec<DeviceSpec>> {
    if names.is_empty() {
        return Err(TrainError::Unsupported("no device given".to_owned()));
    }
    let devices: Vec<DeviceSpec> = names
        .iter()
        .map(|n| n.parse::<DeviceSpec>())
        .collect::<std::result::Result<_, _>>()?;
    let backend = |d: &DeviceSpec| std::mem::discriminant(d);
    if devices.iter().any(|d| backend(d) != backend(&devices[0])) {
        return Err(TrainError::Unsupported(format!(
            "devices {names:?} mix backends (cpu, cuda, wgpu); use one kind"
        )));
    }
    for device in &devices {
        device.check()?;
    }
    Ok(devices)
}

/// Runs `task` on the backend of `devices`: Flex for `cpu` (every `cpu` is the same Flex
/// device), Burn's CUDA backend for `cuda:N` (with the `cuda` feature), Burn's wgpu backend
/// for `wgpu` / `wgpu:N` (with the `wgpu` feature).
///
/// # Errors
/// The task's errors; [`TrainError::Unsupported`] for an empty list or a backend this build
/// lacks; [`TrainError::Model`] for an absent wgpu adapter.
pub fn on_devices<T: BackendTask>(devices: &[DeviceSpec], task: T) -> Result<T::Output> {
    match devices.first() {
        None => Err(TrainError::Unsupported("no device given".to_owned())),
        Some(DeviceSpec::Cpu) => {
            task.run::<fineface_model::CpuAutodiff>(vec![Default::default(); devices.len()])
        }
        Some(DeviceSpec::Cuda(_)) => on_cuda(devices, task),
        Some(DeviceSpec::Wgpu(_)) => on_wgpu(devices, task),
    }
}

#[cfg(feature = "cuda")]
fn on_cuda<T: BackendTask>(devices: &[DeviceSpec], task: T) -> Result<T::Output> {
    let cuda = devices
        .iter()
        .map(|spec| match spec {
            DeviceSpec::Cuda(i) => burn::backend::cuda::CudaDevice::new(*i),
            DeviceSpec::Cpu | DeviceSpec::Wgpu(_) => burn::backend::cuda::CudaDevice::new(0),
        })
        .collect();
    task.run::<fineface_model::CudaAutodiff>(cuda)
}

#[cfg(not(feature = "cuda"))]
fn on_cuda<T: BackendTask>(_devices: &[DeviceSpec], _task: T) -> Result<T::Output> {
    Err(TrainError::Unsupported(
        "this build has no CUDA support: `cargo xtask train ... --device cuda:0` builds it \
         with `--features cuda`"
            .to_owned(),
    ))
}

#[cfg(feature = "wgpu")]
fn on_wgpu<T: BackendTask>(devices: &[DeviceSpec], task: T) -> Result<T::Output> {
    if devices.len() > 1 {
        return Err(TrainError::Unsupported(format!(
            "{devices:?}: data parallelism on wgpu does not work with Burn 0.21: it cannot \
             move tensors between two wgpu devices (cubecl-wgpu has no device-to-device \
             transfer), and two workers sharing one wgpu device sometimes sum stale gradients \
             (tests/data_parallel.rs measured updates 57-63 % off in 5 of 13 runs); train on one \
             wgpu device, on several CUDA devices, or on `cpu`"
        )));
    }
    let wgpu = devices
        .iter()
        .map(|spec| match spec {
            DeviceSpec::Wgpu(index) => fineface_model::wgpu_device(*index),
            DeviceSpec::Cpu | DeviceSpec::Cuda(_) => fineface_model::wgpu_device(None),
        })
        .collect::<std::result::Result<_, _>>()?;
    task.run::<fineface_model::WgpuAutodiff>(wgpu)
}

#[cfg(not(feature = "wgpu"))]
fn on_wgpu<T: BackendTask>(_devices: &[DeviceSpec], _task: T) -> Result<T::Output> {
    Err(TrainError::Unsupported(
        "this build has no wgpu support: `cargo xtask train ... --device wgpu` builds it \
         with `--features wgpu`"
            .to_owned(),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Count;

    impl BackendTask for Count {
        type Output = usize;

        fn run<B: FineFaceAutodiffBackend>(self, devices: Vec<B::Device>) -> Result<usize> {
            Ok(devices.len())
        }
    }

    #[test]
    fn cpu_names_run_on_as_many_flex_devices() {
        let devices = parse_devices(&["cpu".to_owned(), "cpu".to_owned()]).unwrap();
        assert_eq!(on_devices(&devices, Count).unwrap(), 2);
    }

    #[cfg(feature = "wgpu")]
    #[test]
    fn several_wgpu_devices_are_refused_before_anything_runs() {
        for devices in [
            [DeviceSpec::Wgpu(None), DeviceSpec::Wgpu(Some(0))],
            [DeviceSpec::Wgpu(None); 2],
        ] {
            let message = on_devices(&devices, Count).unwrap_err().to_string();
            assert!(message.contains("data parallelism on wgpu"), "{message}");
        }
    }

    #[test]
    fn empty_and_mixed_device_lists_are_errors() {
        assert!(parse_devices(&[]).is_err());
        assert!(on_devices(&[], Count).is_err());
        let mixed = parse_devices(&["cpu".to_owned(), "cuda:0".to_owned()]);
        let message = mixed.unwrap_err().to_string();
        assert!(
            message.contains("mix backends") || message.contains("cuda:0"),
            "{message}"
        );
    }
}
