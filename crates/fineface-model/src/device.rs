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

    #[cfg(not(feature = "cuda"))]
    #[test]
    fn cuda_without_the_feature_is_an_error_not_a_panic() {
        let error = DeviceSpec::Cuda(0).check().unwrap_err();
        assert!(error.to_string().contains("--features cuda"), "{error}");
    }
}
