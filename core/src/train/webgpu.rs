//! burn's wgpu backend on the browser's WebGPU (feature `webgpu`, wasm only): the device the Train
//! page's worker trains on, opened by the lab itself so that a missing adapter is an error that
//! says what to do, not a panic inside burn.

use burn::backend::wgpu::{init_device, RuntimeOptions, WgpuDevice, WgpuSetup};

use super::protocol::Adapter;
use crate::hardware::gpu::open_adapter;

/// The reason wgpu gave when the device was lost (read by the worker's panic hook).
pub static LOST: std::sync::Mutex<Option<String>> = std::sync::Mutex::new(None);

/// Opens WebGPU's adapter with its full limits and every feature it offers (as burn would), and
/// hands the device to burn. Call once per page: burn keeps one client per device.
pub async fn open() -> Result<(WgpuDevice, Adapter), String> {
    let has_gpu = js_sys::Reflect::get(&js_sys::global(), &"navigator".into())
        .and_then(|n| js_sys::Reflect::has(&n, &"gpu".into()))
        .unwrap_or(false);
    if !has_gpu {
        return Err("this browser has no WebGPU (navigator.gpu is missing): use Chrome or Edge 113+, Firefox 141+ \
                    or Safari 26+ over https or localhost; in Chromium on Linux start it with --enable-unsafe-webgpu"
            .into());
    }
    let (instance, adapter, summary) = open_adapter(None).await.map_err(|e| e.to_string())?;
    let limits = adapter.limits();
    let desc = wgpu::DeviceDescriptor {
        label: Some("lmlab training"),
        required_features: adapter.features().difference(wgpu::Features::MAPPABLE_PRIMARY_BUFFERS),
        required_limits: limits.clone(),
        experimental_features: wgpu::ExperimentalFeatures::disabled(),
        memory_hints: wgpu::MemoryHints::MemoryUsage,
        trace: wgpu::Trace::Off,
    };
    let (device, queue) =
        adapter.request_device(&desc).await.map_err(|e| format!("{} refused to open a device: {e}", summary.name))?;
    device.set_device_lost_callback(|reason, message| {
        if let Ok(mut l) = LOST.lock() {
            *l = Some(format!("{reason:?}: {message}"));
        }
    });
    let info = Adapter {
        name: summary.name.clone(),
        emulated: summary.software,
        max_storage_buffer_binding_size: limits.max_storage_buffer_binding_size,
        max_buffer_size: limits.max_buffer_size,
    };
    let setup = WgpuSetup { instance, adapter, device, queue, backend: wgpu::Backend::BrowserWebGpu };
    Ok((init_device(setup, RuntimeOptions::default()), info))
}
