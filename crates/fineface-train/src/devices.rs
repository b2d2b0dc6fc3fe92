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

/// The devices of a run: one backend, at least one device, parsed once from their names
/// (`cpu`, `cuda`, `cuda:N`, `wgpu`, `wgpu:N`) by [`parse_devices`]. Nothing else makes one,
/// so [`on_devices`] never meets an empty list or a name of another backend.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Devices(OneBackend);

#[derive(Debug, Clone, PartialEq, Eq)]
enum OneBackend {
    /// Workers on Flex's one CPU device (at least one).
    Cpu(usize),
    /// CUDA devices by index.
    Cuda(Vec<usize>),
    /// wgpu adapters by index (`None`: the default one).
    Wgpu(Vec<Option<usize>>),
}

impl Devices {
    /// How many devices (workers on this machine).
    pub fn len(&self) -> usize {
        match &self.0 {
            OneBackend::Cpu(n) => *n,
            OneBackend::Cuda(ids) => ids.len(),
            OneBackend::Wgpu(ids) => ids.len(),
        }
    }

    /// Always `false`: a [`Devices`] holds at least one device.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Parses device names (`cpu`, `cuda`, `cuda:N`, `wgpu`, `wgpu:N`) and checks each can run.
///
/// # Errors
/// [`TrainError::Model`] for an unknown name or an unusable device;
/// [`TrainError::Unsupported`] for an empty list or a mix of backends (`cpu` with `cuda:0`,
/// say): one run trains on one backend.
pub fn parse_devices(names: &[String]) -> Result<Devices> {
    let specs: Vec<DeviceSpec> = names
        .iter()
        .map(|n| n.parse::<DeviceSpec>())
        .collect::<std::result::Result<_, _>>()?;
    let mixed = || {
        TrainError::Unsupported(format!(
            "devices {names:?} mix backends (cpu, cuda, wgpu); use one kind"
        ))
    };
    let backend = match specs.first() {
        None => return Err(TrainError::Unsupported("no device given".to_owned())),
        Some(DeviceSpec::Cpu) if specs.iter().all(|d| *d == DeviceSpec::Cpu) => {
            OneBackend::Cpu(specs.len())
        }
        Some(DeviceSpec::Cuda(_)) => OneBackend::Cuda(
            specs
                .iter()
                .map(|d| match d {
                    DeviceSpec::Cuda(i) => Ok(*i),
                    _ => Err(mixed()),
                })
                .collect::<Result<_>>()?,
        ),
        Some(DeviceSpec::Wgpu(_)) => OneBackend::Wgpu(
            specs
                .iter()
                .map(|d| match d {
                    DeviceSpec::Wgpu(i) => Ok(*i),
                    _ => Err(mixed()),
                })
                .collect::<Result<_>>()?,
        ),
        Some(DeviceSpec::Cpu) => return Err(mixed()),
    };
    for device in &specs {
        device.check()?;
    }
    Ok(Devices(backend))
}

/// Runs `task` on the backend of `devices`: Flex for `cpu` (every `cpu` is the same Flex
/// device), Burn's CUDA backend for `cuda:N` (with the `cuda` feature), Burn's wgpu backend
/// for `wgpu` / `wgpu:N` (with the `wgpu` feature).
///
/// # Errors
/// The task's errors; [`TrainError::Unsupported`] for a backend this build lacks;
/// [`TrainError::Model`] for an absent wgpu adapter.
pub fn on_devices<T: BackendTask>(devices: &Devices, task: T) -> Result<T::Output> {
    match &devices.0 {
        OneBackend::Cpu(n) => task.run::<fineface_model::CpuAutodiff>(vec![Default::default(); *n]),
        OneBackend::Cuda(ids) => on_cuda(ids, task),
        OneBackend::Wgpu(ids) => on_wgpu(ids, task),
    }
}

#[cfg(feature = "cuda")]
fn on_cuda<T: BackendTask>(ids: &[usize], task: T) -> Result<T::Output> {
    let cuda = ids
        .iter()
        .map(|&i| burn::backend::cuda::CudaDevice::new(i))
        .collect();
    task.run::<fineface_model::CudaAutodiff>(cuda)
}

#[cfg(not(feature = "cuda"))]
fn on_cuda<T: BackendTask>(_ids: &[usize], _task: T) -> Result<T::Output> {
    Err(TrainError::Unsupported(
        "this build has no CUDA support: `cargo xtask train ... --device cuda:0` builds it \
         with `--features cuda`"
            .to_owned(),
    ))
}

#[cfg(feature = "wgpu")]
fn on_wgpu<T: BackendTask>(ids: &[Option<usize>], task: T) -> Result<T::Output> {
    if ids.len() > 1 {
        return Err(TrainError::Unsupported(format!(
            "{} wgpu devices: data parallelism on wgpu does not work with Burn 0.21: it cannot \
             move tensors between two wgpu devices (cubecl-wgpu has no device-to-device \
             transfer), and two workers sharing one wgpu device sometimes sum stale gradients \
             (tests/data_parallel.rs measured updates 57-63 % off in 5 of 13 runs); train on one \
             wgpu device, on several CUDA devices, or on `cpu`",
            ids.len()
        )));
    }
    let wgpu = ids
        .iter()
        .map(|&index| fineface_model::wgpu_device(index))
        .collect::<std::result::Result<_, _>>()?;
    task.run::<fineface_model::WgpuAutodiff>(wgpu)
}

#[cfg(not(feature = "wgpu"))]
fn on_wgpu<T: BackendTask>(_ids: &[Option<usize>], _task: T) -> Result<T::Output> {
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
        for ids in [vec![None, Some(0)], vec![None; 2]] {
            let devices = Devices(OneBackend::Wgpu(ids));
            let message = on_devices(&devices, Count).unwrap_err().to_string();
            assert!(message.contains("data parallelism on wgpu"), "{message}");
        }
    }

    #[test]
    fn empty_and_mixed_device_lists_are_errors() {
        assert!(parse_devices(&[]).is_err());
        // Every order, so that no name of another backend is taken as the first one's
        // device (a stray `cpu` among CUDA devices was run as `cuda:0`).
        for names in [
            ["cpu", "cuda:0"],
            ["cuda:0", "cpu"],
            ["wgpu", "cpu"],
            ["cpu", "wgpu"],
        ] {
            let names: Vec<String> = names.iter().map(|n| (*n).to_owned()).collect();
            let message = parse_devices(&names).unwrap_err().to_string();
            assert!(message.contains("mix backends"), "{names:?}: {message}");
        }
    }
}
