//! Which wgpu adapters this machine has, asked of wgpu directly: Burn's wgpu runtime panics
//! in its device thread when the adapter a [`WgpuDevice`] names is absent, so callers check
//! first (`fineface_model::DeviceSpec::check` does) and name the adapters they found.
//!
//! Adapters are listed on the graphics API Burn's `Wgpu` backend runs on
//! ([`AutoGraphicsApi`]: Vulkan on Linux and Windows, Metal on macOS), in wgpu's order, which
//! is the order `wgpu:N` counts in. Each is mapped to the [`WgpuDevice`] that selects it in
//! CubeCL (`DiscreteGpu(k)` is the k-th discrete GPU, and so on), so `wgpu:N` reaches the
//! N-th adapter whatever its kind. Where no GPU is present, Mesa's software Vulkan driver
//! (Debian's `mesa-vulkan-drivers`) shows up as a `Cpu` adapter named `llvmpipe`.

use burn::backend::wgpu::WgpuDevice;
use burn::backend::wgpu::graphics::{AutoGraphicsApi, GraphicsApi};

/// One wgpu adapter: a GPU, or a software rasteriser such as Mesa's llvmpipe.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WgpuAdapter {
    /// Position in wgpu's list: the `N` of `wgpu:N`.
    pub index: usize,
    /// The adapter's name (e.g. `NVIDIA H200`, `llvmpipe (LLVM 15.0.6, 256 bits)`).
    pub name: String,
    /// Its kind as wgpu reports it (`DiscreteGpu`, `IntegratedGpu`, `VirtualGpu`, `Cpu`,
    /// `Other`).
    pub kind: String,
    /// The driver and its version, where the graphics API reports them.
    pub driver: String,
    /// The Burn device that selects this adapter; `None` for kind `Other`, which CubeCL
    /// cannot select by index.
    pub device: Option<WgpuDevice>,
}

/// Why a wgpu adapter cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WgpuUnavailable {
    /// The graphics API found no adapter at all.
    #[error(
        "no {api} adapter found; install a GPU driver with {api} support, or on Linux without a \
         GPU Mesa's software driver (Debian: `apt-get install mesa-vulkan-drivers libvulkan1`)"
    )]
    NoAdapter {
        /// The graphics API asked (`Vulkan`, `Metal`, ...).
        api: String,
    },
    /// The index is not below the number of adapters.
    #[error("only {count} {api} adapter(s) present: {names}")]
    Absent {
        /// The graphics API asked.
        api: String,
        /// Adapters present.
        count: usize,
        /// Their indices and names, comma-separated.
        names: String,
    },
    /// Adapters of kind `Other` have no CubeCL device of their own.
    #[error("adapter {index} ({name}) is of a kind Burn cannot select")]
    Unselectable {
        /// The adapter's index.
        index: usize,
        /// The adapter's name.
        name: String,
    },
}

/// The graphics API Burn's `Wgpu` backend runs on here, by name.
fn api() -> String {
    format!("{:?}", AutoGraphicsApi::backend())
}

/// Lists the adapters of the graphics API Burn's `Wgpu` backend uses, in wgpu's order. Never
/// panics: a machine without a driver gives an empty list.
pub fn adapters() -> Vec<WgpuAdapter> {
    let backend = AutoGraphicsApi::backend();
    let instance = wgpu::Instance::new(wgpu::InstanceDescriptor {
        backends: backend.into(),
        ..wgpu::InstanceDescriptor::new_without_display_handle()
    });
    let found = futures_lite::future::block_on(instance.enumerate_adapters(backend.into()));
    // The k-th adapter of each kind is the k-th CubeCL device of that kind.
    let mut of_kind = [0usize; 3];
    found
        .into_iter()
        .enumerate()
        .map(|(index, adapter)| {
            let info = adapter.get_info();
            let mut next = |slot: usize| {
                let k = of_kind[slot];
                of_kind[slot] += 1;
                k
            };
            let device = match info.device_type {
                wgpu::DeviceType::DiscreteGpu => Some(WgpuDevice::DiscreteGpu(next(0))),
                wgpu::DeviceType::IntegratedGpu => Some(WgpuDevice::IntegratedGpu(next(1))),
                wgpu::DeviceType::VirtualGpu => Some(WgpuDevice::VirtualGpu(next(2))),
                wgpu::DeviceType::Cpu => Some(WgpuDevice::Cpu),
                wgpu::DeviceType::Other => None,
            };
            WgpuAdapter {
                index,
                kind: format!("{:?}", info.device_type),
                driver: format!("{} {}", info.driver, info.driver_info)
                    .trim()
                    .to_owned(),
                name: info.name,
                device,
            }
        })
        .collect()
}

/// The Burn device for `wgpu` (`index` = `None`: Burn's default adapter, the most powerful
/// one) or `wgpu:N` (the N-th of [`adapters`]), after checking that it exists.
///
/// # Errors
/// [`WgpuUnavailable::NoAdapter`] where the machine has none; [`WgpuUnavailable::Absent`]
/// for an index past the last, naming those present.
pub fn device(index: Option<usize>) -> Result<WgpuDevice, WgpuUnavailable> {
    let adapters = adapters();
    if adapters.is_empty() {
        return Err(WgpuUnavailable::NoAdapter { api: api() });
    }
    let Some(index) = index else {
        return Ok(WgpuDevice::DefaultDevice);
    };
    match adapters.get(index) {
        Some(WgpuAdapter {
            device: Some(device),
            ..
        }) => Ok(device.clone()),
        Some(adapter) => Err(WgpuUnavailable::Unselectable {
            index,
            name: adapter.name.clone(),
        }),
        None => Err(WgpuUnavailable::Absent {
            api: api(),
            count: adapters.len(),
            names: adapters
                .iter()
                .map(|a| format!("{}: {}", a.index, a.name))
                .collect::<Vec<_>>()
                .join(", "),
        }),
    }
}
