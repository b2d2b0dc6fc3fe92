//! Choosing where to run: CPU (`Flex`) always, CUDA with the `cuda` feature, any GPU through
//! wgpu (Vulkan, Metal, DirectX 12) with the `wgpu` feature.

use std::fmt;
use std::str::FromStr;

use crate::error::{ModelError, Result};

/// The CPU backend.
pub type Cpu = burn::backend::Flex;
/// The CPU backend with autodiff, for training.
pub type CpuAutodiff = burn::backend::Autodiff<Cpu>;
/// The CUDA backend.
#[cfg(feature = "cuda")]
pub type Cuda = burn::backend::Cuda;
/// The CUDA backend with autodiff, for training.
#[cfg(feature = "cuda")]
pub type CudaAutodiff = burn::backend::Autodiff<Cuda>;
/// Burn's wgpu backend (Vulkan, Metal, DirectX 12; Mesa's llvmpipe without a GPU).
#[cfg(feature = "wgpu")]
pub type Wgpu = burn::backend::Wgpu;
/// The wgpu backend with autodiff, for training.
#[cfg(feature = "wgpu")]
pub type WgpuAutodiff = burn::backend::Autodiff<Wgpu>;

/// A device named on the command line: `cpu`, `cuda` (= `cuda:0`), `cuda:N`, `wgpu` (wgpu's
/// default adapter, the most powerful) or `wgpu:N` (the N-th adapter wgpu lists).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeviceSpec {
    /// The Flex CPU backend.
    Cpu,
    /// CUDA device N.
    Cuda(usize),
    /// A wgpu adapter: `None` for the default one, `Some(n)` for the n-th.
    Wgpu(Option<usize>),
}

impl FromStr for DeviceSpec {
    type Err = ModelError;

    fn from_str(s: &str) -> Result<Self> {
        match s {
            "cpu" => Ok(Self::Cpu),
            "cuda" | "gpu" => Ok(Self::Cuda(0)),
            "wgpu" => Ok(Self::Wgpu(None)),
            _ => {
                let index = |prefix: &str| s.strip_prefix(prefix).and_then(|i| i.parse().ok());
                index("cuda:")
                    .map(Self::Cuda)
                    .or_else(|| index("wgpu:").map(|i| Self::Wgpu(Some(i))))
                    .ok_or_else(|| ModelError::UnknownDevice(s.to_owned()))
            }
        }
    }
}

impl fmt::Display for DeviceSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Cpu => write!(f, "cpu"),
            Self::Cuda(i) => write!(f, "cuda:{i}"),
            Self::Wgpu(None) => write!(f, "wgpu"),
            Self::Wgpu(Some(i)) => write!(f, "wgpu:{i}"),
        }
    }
}

impl DeviceSpec {
    /// Checks that the device can run, without touching Burn's runtime: asking Burn for a
    /// CUDA device on a machine without a driver, or for an absent wgpu adapter, panics in a
    /// device thread, so the driver, its initialisation and the device count (CUDA) or the
    /// adapter list (wgpu) are probed first.
    ///
    /// # Errors
    /// [`ModelError::DeviceUnavailable`] naming the device and the reason (no driver, too
    /// few devices, the adapters found, or a build without the backend's feature).
    pub fn check(self) -> Result<()> {
        match self {
            Self::Cpu => Ok(()),
            Self::Cuda(index) => check_cuda(index),
            Self::Wgpu(index) => wgpu_device(index).map(drop),
        }
    }
}

#[cfg(not(feature = "cuda"))]
fn check_cuda(index: usize) -> Result<()> {
    Err(ModelError::DeviceUnavailable {
        device: format!("cuda:{index}"),
        reason: "this build has no CUDA support; rebuild with `--features cuda`".to_owned(),
    })
}

/// The driver probe (`unsafe`: it loads the driver library) lives in the kernels crate.
#[cfg(feature = "cuda")]
fn check_cuda(index: usize) -> Result<()> {
    fineface_kernels::cuda::check_device(index).map_err(|reason| ModelError::DeviceUnavailable {
        device: format!("cuda:{index}"),
        reason: reason.to_string(),
    })
}

/// The Burn device of `wgpu` / `wgpu:N`, after checking that the adapter exists.
///
/// # Errors
/// [`ModelError::DeviceUnavailable`] naming the adapters found.
#[cfg(feature = "wgpu")]
pub fn wgpu_device(index: Option<usize>) -> Result<burn::backend::wgpu::WgpuDevice> {
    fineface_kernels::wgpu::device(index).map_err(|reason| ModelError::DeviceUnavailable {
        device: DeviceSpec::Wgpu(index).to_string(),
        reason: reason.to_string(),
    })
}

/// Without the `wgpu` feature, an error that says how to build it.
#[cfg(not(feature = "wgpu"))]
fn wgpu_device(index: Option<usize>) -> Result<()> {
    Err(ModelError::DeviceUnavailable {
        device: DeviceSpec::Wgpu(index).to_string(),
        reason: "this build has no wgpu support; rebuild with `--features wgpu`".to_owned(),
    })
}

/// One device a backend of this build found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FoundDevice {
    /// The name that selects it (`cpu`, `cuda:0`, `wgpu:1`).
    pub spec: DeviceSpec,
    /// What it is (`NVIDIA H200`, `llvmpipe (LLVM 15.0.6, 256 bits)`, the CPU backend).
    pub name: String,
    /// More about it: memory (CUDA), kind and driver (wgpu), threads (CPU).
    pub detail: String,
}

/// What one backend of this build, or one it lacks, found on this machine.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BackendDevices {
    /// `cpu`, `cuda` or `wgpu`.
    pub backend: &'static str,
    /// Its devices (empty where it has none or is not built).
    pub devices: Vec<FoundDevice>,
    /// Why it has no device: a build without its feature, no driver, no adapter.
    pub unavailable: Option<String>,
}

/// The devices each backend finds, asked of the driver (CUDA) and of wgpu directly, so
/// nothing here panics where a driver is missing: `fineface devices` prints this.
pub fn found_devices() -> Vec<BackendDevices> {
    let threads = std::thread::available_parallelism().map_or(1, usize::from);
    vec![
        BackendDevices {
            backend: "cpu",
            devices: vec![FoundDevice {
                spec: DeviceSpec::Cpu,
                name: "Flex (Burn's CPU backend, with FineFACE's kernels)".to_owned(),
                detail: format!("{threads} thread(s)"),
            }],
            unavailable: None,
        },
        cuda_devices(),
        wgpu_devices(),
    ]
}

#[cfg(feature = "cuda")]
fn cuda_devices() -> BackendDevices {
    match fineface_kernels::cuda::devices() {
        Ok(devices) => BackendDevices {
            backend: "cuda",
            unavailable: devices
                .is_empty()
                .then(|| "the CUDA driver reports no device".to_owned()),
            devices: devices
                .into_iter()
                .map(|d| FoundDevice {
                    spec: DeviceSpec::Cuda(d.index),
                    name: d.name,
                    detail: format!("{:.1} GiB", d.memory_bytes as f64 / (1u64 << 30) as f64),
                })
                .collect(),
        },
        Err(reason) => BackendDevices {
            backend: "cuda",
            devices: Vec::new(),
            unavailable: Some(reason.to_string()),
        },
    }
}

#[cfg(not(feature = "cuda"))]
fn cuda_devices() -> BackendDevices {
    BackendDevices {
        backend: "cuda",
        devices: Vec::new(),
        unavailable: Some("this build has no CUDA support; rebuild with `--features cuda`".into()),
    }
}

#[cfg(feature = "wgpu")]
fn wgpu_devices() -> BackendDevices {
    // Adapters Burn cannot select (kind `Other`) are left out: no name reaches them.
    let devices: Vec<FoundDevice> = fineface_kernels::wgpu::adapters()
        .into_iter()
        .filter(|a| a.device.is_some())
        .map(|a| FoundDevice {
            spec: DeviceSpec::Wgpu(Some(a.index)),
            name: a.name,
            detail: format!("{}, {}", a.kind, a.driver),
        })
        .collect();
    let unavailable = devices
        .is_empty()
        .then(|| match fineface_kernels::wgpu::device(None) {
            Err(reason) => reason.to_string(),
            Ok(_) => "no adapter Burn can select".to_owned(),
        });
    BackendDevices {
        backend: "wgpu",
        devices,
        unavailable,
    }
}

#[cfg(not(feature = "wgpu"))]
fn wgpu_devices() -> BackendDevices {
    BackendDevices {
        backend: "wgpu",
        devices: Vec::new(),
        unavailable: Some("this build has no wgpu support; rebuild with `--features wgpu`".into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_device_names() {
        assert_eq!("cpu".parse::<DeviceSpec>().unwrap(), DeviceSpec::Cpu);
        assert_eq!("cuda".parse::<DeviceSpec>().unwrap(), DeviceSpec::Cuda(0));
        assert_eq!("cuda:3".parse::<DeviceSpec>().unwrap(), DeviceSpec::Cuda(3));
        assert!("tpu".parse::<DeviceSpec>().is_err());
        assert!("cuda:x".parse::<DeviceSpec>().is_err());
        assert_eq!(DeviceSpec::Cuda(1).to_string(), "cuda:1");
        assert_eq!(
            "wgpu".parse::<DeviceSpec>().unwrap(),
            DeviceSpec::Wgpu(None)
        );
        assert_eq!(
            "wgpu:2".parse::<DeviceSpec>().unwrap(),
            DeviceSpec::Wgpu(Some(2))
        );
        assert!("wgpu:".parse::<DeviceSpec>().is_err());
        assert!("wgpu:-1".parse::<DeviceSpec>().is_err());
        for name in ["cpu", "cuda:1", "wgpu", "wgpu:3"] {
            assert_eq!(name.parse::<DeviceSpec>().unwrap().to_string(), name);
        }
    }

    #[cfg(feature = "wgpu")]
    #[test]
    fn an_absent_wgpu_adapter_is_an_error_naming_those_present() {
        let error = DeviceSpec::Wgpu(Some(99)).check().unwrap_err().to_string();
        assert!(
            error.starts_with("device `wgpu:99` is not usable"),
            "{error}"
        );
        // With adapters present (llvmpipe in CI) it names them; without any, says what to
        // install.
        let adapters = fineface_kernels::wgpu::adapters();
        match adapters.first() {
            Some(first) => assert!(error.contains(&first.name), "{error}"),
            None => assert!(error.contains("mesa-vulkan-drivers"), "{error}"),
        }
    }

    #[cfg(not(feature = "wgpu"))]
    #[test]
    fn wgpu_without_the_feature_is_an_error_not_a_panic() {
        let error = DeviceSpec::Wgpu(None).check().unwrap_err();
        assert!(error.to_string().contains("--features wgpu"), "{error}");
    }

    #[cfg(feature = "cuda")]
    #[test]
    fn probing_cuda_never_panics() {
        // On a machine without a driver this is an error; with one, device 99 is absent.
        let error = DeviceSpec::Cuda(99).check().unwrap_err();
        assert!(
            error
                .to_string()
                .starts_with("device `cuda:99` is not usable"),
            "{error}"
        );
        let _ = DeviceSpec::Cuda(0).check();
    }

    #[test]
    fn the_device_list_agrees_with_the_checks() {
        let found = found_devices();
        let backends: Vec<&str> = found.iter().map(|b| b.backend).collect();
        assert_eq!(backends, ["cpu", "cuda", "wgpu"]);
        for backend in &found {
            // A backend lists devices or says why it has none, never both or neither.
            assert_eq!(
                backend.devices.is_empty(),
                backend.unavailable.is_some(),
                "{backend:?}"
            );
            for device in &backend.devices {
                assert!(
                    device.spec.check().is_ok(),
                    "{device:?} listed but unusable"
                );
                assert_eq!(
                    device.spec.to_string().split(':').next(),
                    Some(backend.backend)
                );
            }
        }
        if found[1].devices.is_empty() {
            assert!(DeviceSpec::Cuda(0).check().is_err());
        }
    }

    #[cfg(not(feature = "cuda"))]
    #[test]
    fn cuda_without_the_feature_is_an_error_not_a_panic() {
        let error = DeviceSpec::Cuda(0).check().unwrap_err();
        assert!(error.to_string().contains("--features cuda"), "{error}");
    }
}
