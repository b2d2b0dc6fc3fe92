//! Whether a CUDA device can run, asked of the driver directly: Burn's CUDA runtime panics in
//! a device thread on the first tensor op where no driver is present, so callers check first
//! (`fineface_model::DeviceSpec::check` does).

use cudarc::driver::{result, sys};

/// Why a CUDA device cannot run.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CudaUnavailable {
    /// The driver library cannot be loaded.
    #[error("no CUDA driver library (libcuda.so) found; install the NVIDIA driver")]
    NoDriver,
    /// The driver loaded but did not initialise.
    #[error("the CUDA driver failed to start: {0}")]
    DriverFailed(String),
    /// The driver could not count its devices.
    #[error("cannot count CUDA devices: {0}")]
    CannotCount(String),
    /// The device index is not below the device count.
    #[error("only {count} CUDA device(s) present")]
    Absent {
        /// Devices present.
        count: usize,
    },
}

/// One CUDA device as the driver reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CudaDevice {
    /// The driver's ordinal: the `N` of `cuda:N`.
    pub index: usize,
    /// The device's name (e.g. `NVIDIA H200`).
    pub name: String,
    /// Total device memory, bytes.
    pub memory_bytes: usize,
}

/// Whether the CUDA driver library loads (one `unsafe` block, allowed here alone).
#[allow(unsafe_code)]
fn driver_present() -> bool {
    // SAFETY: only tries to dlopen the driver library by its well-known names.
    unsafe { sys::is_culib_present() }
}

/// The CUDA devices the driver sees, in its order, without touching Burn's runtime.
///
/// # Errors
/// [`CudaUnavailable::NoDriver`] where no driver library loads, or the driver's own error
/// when it does not start or cannot describe a device.
pub fn devices() -> Result<Vec<CudaDevice>, CudaUnavailable> {
    if !driver_present() {
        return Err(CudaUnavailable::NoDriver);
    }
    result::init().map_err(|e| CudaUnavailable::DriverFailed(format!("{e:?}")))?;
    let count =
        result::device::get_count().map_err(|e| CudaUnavailable::CannotCount(format!("{e:?}")))?;
    (0..count)
        .map(|ordinal| {
            let describe = |e: result::DriverError| {
                CudaUnavailable::DriverFailed(format!("describing device {ordinal}: {e:?}"))
            };
            let device = result::device::get(ordinal).map_err(describe)?;
            let name = result::device::get_name(device).map_err(describe)?;
            // SAFETY: `device` is a handle the initialised driver just returned.
            #[allow(unsafe_code)]
            let memory_bytes = unsafe { result::device::total_mem(device) }.map_err(describe)?;
            Ok(CudaDevice {
                index: usize::try_from(ordinal).unwrap_or(0),
                name,
                memory_bytes,
            })
        })
        .collect()
}

/// Checks that CUDA device `index` exists and its driver starts, without touching Burn's
/// runtime (so it never panics): the driver library, its initialisation and the device count
/// are probed in turn.
///
/// # Errors
/// The first probe that fails, as a [`CudaUnavailable`].
pub fn check_device(index: usize) -> Result<(), CudaUnavailable> {
    if !driver_present() {
        return Err(CudaUnavailable::NoDriver);
    }
    result::init().map_err(|e| CudaUnavailable::DriverFailed(format!("{e:?}")))?;
    let count =
        result::device::get_count().map_err(|e| CudaUnavailable::CannotCount(format!("{e:?}")))?;
    let count = usize::try_from(count).unwrap_or(0);
    if index >= count {
        return Err(CudaUnavailable::Absent { count });
    }
    Ok(())
}
