//! A wgpu device for the kernels: adapter choice, buffers, dispatch timing and read-backs.
//!
//! Everything is `async` and never blocks on the GPU in the browser: there, completion arrives as a
//! callback from the page's event loop. Natively the same futures are driven by polling the device
//! (with a timeout, so a hung or lost device is reported rather than waited on forever).

use std::sync::{Arc, Mutex};

use futures_channel::oneshot;
use wgpu::util::DeviceExt;

use super::kernels::Kernel;
use super::report::{AdapterSummary, LimitsSummary, Timing};
use super::HardwareError;

/// How long a native wait for the GPU may take before it is reported as hung.
#[cfg(not(target_arch = "wasm32"))]
const NATIVE_WAIT: std::time::Duration = std::time::Duration::from_secs(300);

/// Where a device-loss callback delivers its news to the one pending wait.
type Waiter = Arc<Mutex<Option<oneshot::Sender<Result<(), String>>>>>;

/// An open device with what the lab needs to know about it.
pub struct Gpu {
    device: wgpu::Device,
    queue: wgpu::Queue,
    pub summary: AdapterSummary,
    /// Why the device was lost, once it is (reported by every later wait).
    lost: Arc<Mutex<Option<String>>>,
    /// The waiter a device loss must wake (so a lost device never leaves a future pending).
    waiter: Waiter,
    /// The first error wgpu reported outside an error scope.
    uncaptured: Arc<Mutex<Option<String>>>,
}

/// Ranks adapters for a benchmark: real GPUs first, CPU emulations last.
#[cfg(not(target_arch = "wasm32"))]
fn rank(info: &wgpu::AdapterInfo) -> u8 {
    match info.device_type {
        wgpu::DeviceType::DiscreteGpu => 0,
        wgpu::DeviceType::IntegratedGpu => 1,
        wgpu::DeviceType::VirtualGpu => 2,
        wgpu::DeviceType::Other => 3,
        wgpu::DeviceType::Cpu => 4,
    }
}

/// Picks an adapter: natively the best real GPU (or the one whose name contains `wanted`); in the
/// browser the one WebGPU offers.
async fn choose_adapter(wanted: Option<&str>) -> Result<(wgpu::Instance, wgpu::Adapter), HardwareError> {
    #[cfg(not(target_arch = "wasm32"))]
    {
        let instance = wgpu::Instance::new(wgpu::InstanceDescriptor::new_without_display_handle_from_env());
        let mut adapters = instance.enumerate_adapters(wgpu::Backends::all()).await;
        let names: Vec<String> =
            adapters.iter().map(|a| a.get_info()).map(|i| format!("{} ({:?})", i.name, i.backend)).collect();
        if let Some(wanted) = wanted {
            let w = wanted.to_ascii_lowercase();
            adapters.retain(|a| a.get_info().name.to_ascii_lowercase().contains(&w));
            if adapters.is_empty() {
                return Err(HardwareError::NoAdapter(format!(
                    "no adapter's name contains {wanted:?}; this machine has: {}",
                    if names.is_empty() { "none".to_string() } else { names.join(", ") }
                )));
            }
        }
        // Among equals, Vulkan/Metal/DX12 before GL.
        adapters.sort_by_key(|a| {
            let info = a.get_info();
            (rank(&info), info.backend == wgpu::Backend::Gl)
        });
        let adapter = adapters.into_iter().next().ok_or_else(|| {
            HardwareError::NoAdapter(
                "wgpu found no Vulkan, Metal or DX12 adapter. Install a GPU driver, or on Linux without a GPU \
                 Mesa's lavapipe (apt-get install mesa-vulkan-drivers libvulkan1)"
                    .into(),
            )
        })?;
        Ok((instance, adapter))
    }
    #[cfg(target_arch = "wasm32")]
    {
        let _ = wanted;
        let mut desc = wgpu::InstanceDescriptor::new_without_display_handle();
        desc.backends = wgpu::Backends::BROWSER_WEBGPU;
        let instance = wgpu::Instance::new(desc);
        let options = wgpu::RequestAdapterOptions {
            power_preference: wgpu::PowerPreference::HighPerformance,
            force_fallback_adapter: false,
            compatible_surface: None,
        };
        let adapter = instance.request_adapter(&options).await.map_err(|e| {
            HardwareError::NoAdapter(format!(
                "the browser has WebGPU but offered no adapter ({e}): the GPU may be blocklisted or disabled. \
                 In Chrome see chrome://gpu; on Linux start it with --enable-unsafe-webgpu (and \
                 --enable-features=Vulkan)"
            ))
        })?;
        Ok((instance, adapter))
    }
}

/// The browser's own description of its adapter (`GPUAdapterInfo`): vendor, architecture, device,
/// and whether it is a fallback (software) adapter. wgpu passes on only `description`, which
/// browsers usually leave empty.
#[cfg(target_arch = "wasm32")]
async fn browser_adapter_info() -> Option<(String, bool)> {
    use js_sys::Reflect;
    let get = |o: &wasm_bindgen_futures::wasm_bindgen::JsValue, k: &str| Reflect::get(o, &k.into()).ok();
    let global = js_sys::global();
    let navigator = get(&global, "navigator")?;
    let gpu = get(&navigator, "gpu").filter(|g| !g.is_undefined())?;
    let request: js_sys::Function = get(&gpu, "requestAdapter")?.into();
    let promise: js_sys::Promise = request.call0(&gpu).ok()?.into();
    let adapter = wasm_bindgen_futures::JsFuture::from(promise).await.ok().filter(|a| !a.is_null())?;
    let info = get(&adapter, "info")?;
    let text = |k: &str| get(&info, k).and_then(|v| v.as_string()).unwrap_or_default();
    let parts: Vec<String> =
        ["vendor", "architecture", "device", "description"].iter().map(|k| text(k)).filter(|s| !s.is_empty()).collect();
    let fallback = get(&info, "isFallbackAdapter").and_then(|v| v.as_bool()).unwrap_or(false)
        || get(&adapter, "isFallbackAdapter").and_then(|v| v.as_bool()).unwrap_or(false);
    Some((parts.join(" "), fallback))
}

fn summarize(adapter: &wgpu::Adapter) -> AdapterSummary {
    let info = adapter.get_info();
    let limits = adapter.limits();
    let features = adapter.features();
    let name_lower = info.name.to_ascii_lowercase();
    AdapterSummary {
        name: if info.name.is_empty() { "(unnamed adapter)".into() } else { info.name.clone() },
        backend: format!("{:?}", info.backend),
        device_type: format!("{:?}", info.device_type),
        driver: [info.driver.as_str(), info.driver_info.as_str()]
            .iter()
            .filter(|s| !s.is_empty())
            .cloned()
            .collect::<Vec<_>>()
            .join(" "),
        software: info.device_type == wgpu::DeviceType::Cpu
            || ["llvmpipe", "lavapipe", "swiftshader", "softpipe", "warp"].iter().any(|s| name_lower.contains(s)),
        shader_f16: features.contains(wgpu::Features::SHADER_F16),
        timestamps: features.contains(wgpu::Features::TIMESTAMP_QUERY),
        limits: LimitsSummary {
            max_buffer_size: limits.max_buffer_size,
            max_storage_buffer_binding_size: limits.max_storage_buffer_binding_size,
            max_compute_workgroups_per_dimension: limits.max_compute_workgroups_per_dimension,
            max_compute_invocations_per_workgroup: limits.max_compute_invocations_per_workgroup,
            max_compute_workgroup_storage_size: limits.max_compute_workgroup_storage_size,
        },
    }
}

/// A compiled kernel.
pub struct Pipeline {
    pub kernel: Kernel,
    pipeline: wgpu::ComputePipeline,
}

/// A kernel with its buffers bound, ready to dispatch.
pub struct Bound {
    bind_group: wgpu::BindGroup,
    workgroups: (u32, u32, u32),
}

/// The adapter the lab would use (see [`Gpu::open`]) with its summary, for code that opens its own
/// device on it (the Train page's worker hands it to burn). In the browser the name comes from
/// `GPUAdapterInfo` and SwiftShader or a fallback adapter is marked as software.
pub async fn open_adapter(
    wanted: Option<&str>,
) -> Result<(wgpu::Instance, wgpu::Adapter, AdapterSummary), HardwareError> {
    let (instance, adapter) = choose_adapter(wanted).await?;
    #[allow(unused_mut)]
    let mut summary = summarize(&adapter);
    #[cfg(target_arch = "wasm32")]
    if let Some((name, fallback)) = browser_adapter_info().await {
        if !name.is_empty() && summary.name == "(unnamed adapter)" {
            summary.name = name;
        }
        let lower = summary.name.to_ascii_lowercase();
        summary.software |= fallback || lower.contains("swiftshader");
        if summary.software {
            summary.device_type = "Cpu".into();
        }
    }
    Ok((instance, adapter, summary))
}

impl Gpu {
    /// Opens the adapter's device with its full limits and the optional features the lab uses
    /// (timestamp queries, `shader-f16`) where it has them.
    pub async fn open(wanted: Option<&str>) -> Result<Gpu, HardwareError> {
        let (_instance, adapter, summary) = open_adapter(wanted).await?;
        let wanted_features = wgpu::Features::TIMESTAMP_QUERY | wgpu::Features::SHADER_F16;
        let desc = wgpu::DeviceDescriptor {
            label: Some("lmlab hardware lab"),
            required_features: adapter.features() & wanted_features,
            required_limits: adapter.limits(),
            experimental_features: wgpu::ExperimentalFeatures::disabled(),
            memory_hints: wgpu::MemoryHints::Performance,
            trace: wgpu::Trace::Off,
        };
        let (device, queue) = adapter
            .request_device(&desc)
            .await
            .map_err(|e| HardwareError::Device(format!("{} refused to open a device: {e}", summary.name)))?;
        let lost = Arc::new(Mutex::new(None));
        let waiter: Waiter = Arc::new(Mutex::new(None));
        {
            let (lost, waiter) = (Arc::clone(&lost), Arc::clone(&waiter));
            device.set_device_lost_callback(move |reason, message| {
                let why = format!("{reason:?}: {message}");
                *lost.lock().unwrap() = Some(why.clone());
                if let Some(tx) = waiter.lock().unwrap().take() {
                    let _ = tx.send(Err(why));
                }
            });
        }
        let uncaptured = Arc::new(Mutex::new(None));
        {
            let uncaptured = Arc::clone(&uncaptured);
            device.on_uncaptured_error(Arc::new(move |e: wgpu::Error| {
                let mut slot = uncaptured.lock().unwrap();
                if slot.is_none() {
                    *slot = Some(e.to_string());
                }
            }));
        }
        Ok(Gpu { device, queue, summary, lost, waiter, uncaptured })
    }

    /// How this device times kernels.
    pub fn timing(&self) -> Timing {
        if self.summary.timestamps {
            Timing::GpuTimestamps
        } else {
            Timing::WallClock
        }
    }

    fn check_alive(&self) -> Result<(), HardwareError> {
        // Natively wgpu reports a loss (e.g. a destroyed device) from its maintenance pass, and
        // calls on a lost device panic inside wgpu: poll once so the callback has run.
        #[cfg(not(target_arch = "wasm32"))]
        let _ = self.device.poll(wgpu::PollType::Poll);
        if let Some(why) = self.lost.lock().unwrap().clone() {
            return Err(HardwareError::DeviceLost(why));
        }
        if let Some(e) = self.uncaptured.lock().unwrap().take() {
            return Err(HardwareError::Device(e));
        }
        Ok(())
    }

    /// Destroys the device, as a driver reset or a closed tab would: every later call reports
    /// [`HardwareError::DeviceLost`] instead of waiting (used by the tests of that path).
    pub fn destroy(&self) {
        self.device.destroy();
    }

    /// Compiles a kernel; a WGSL or pipeline error becomes an error naming the file.
    pub async fn pipeline(&self, kernel: Kernel) -> Result<Pipeline, HardwareError> {
        self.check_alive()?;
        let scope = self.device.push_error_scope(wgpu::ErrorFilter::Validation);
        let module = self.device.create_shader_module(wgpu::ShaderModuleDescriptor {
            label: Some(kernel.file()),
            source: wgpu::ShaderSource::Wgsl(kernel.source().into()),
        });
        let pipeline = self.device.create_compute_pipeline(&wgpu::ComputePipelineDescriptor {
            label: Some(kernel.file()),
            layout: None,
            module: &module,
            entry_point: Some("main"),
            compilation_options: Default::default(),
            cache: None,
        });
        if let Some(e) = scope.pop().await {
            return Err(HardwareError::Device(format!("shaders/{} did not compile: {e}", kernel.file())));
        }
        Ok(Pipeline { kernel, pipeline })
    }

    /// A storage buffer holding `bytes` (plus read-back as a copy source).
    pub async fn storage(&self, label: &str, bytes: &[u8]) -> Result<wgpu::Buffer, HardwareError> {
        self.check_alive()?;
        let scope = self.device.push_error_scope(wgpu::ErrorFilter::OutOfMemory);
        let buffer = self.device.create_buffer_init(&wgpu::util::BufferInitDescriptor {
            label: Some(label),
            contents: bytes,
            usage: wgpu::BufferUsages::STORAGE | wgpu::BufferUsages::COPY_SRC | wgpu::BufferUsages::COPY_DST,
        });
        if let Some(e) = scope.pop().await {
            return Err(HardwareError::OutOfMemory(format!("{label}: {} bytes ({e})", bytes.len())));
        }
        Ok(buffer)
    }

    /// Binds `buffers` (in binding order) and a uniform of `params` to a kernel.
    pub fn bind(
        &self,
        pipeline: &Pipeline,
        buffers: &[&wgpu::Buffer],
        params: &[u32; 8],
        workgroups: (u32, u32, u32),
    ) -> Bound {
        let uniform = self.device.create_buffer_init(&wgpu::util::BufferInitDescriptor {
            label: Some("params"),
            contents: bytemuck::cast_slice(params),
            usage: wgpu::BufferUsages::UNIFORM,
        });
        let mut entries: Vec<wgpu::BindGroupEntry> = buffers
            .iter()
            .enumerate()
            .map(|(i, b)| wgpu::BindGroupEntry { binding: i as u32, resource: b.as_entire_binding() })
            .collect();
        entries.push(wgpu::BindGroupEntry { binding: buffers.len() as u32, resource: uniform.as_entire_binding() });
        let bind_group = self.device.create_bind_group(&wgpu::BindGroupDescriptor {
            label: Some(pipeline.kernel.key()),
            layout: &pipeline.pipeline.get_bind_group_layout(0),
            entries: &entries,
        });
        Bound { bind_group, workgroups }
    }

    /// Runs a bound kernel `repetitions` times in one submission and returns seconds per dispatch:
    /// the median of GPU timestamps where the adapter has them, else wall clock over the batch.
    pub async fn time(&self, pipeline: &Pipeline, bound: &Bound, repetitions: u32) -> Result<f64, HardwareError> {
        self.check_alive()?;
        let reps = repetitions.max(1);
        let queries = self.summary.timestamps.then(|| {
            let set = self.device.create_query_set(&wgpu::QuerySetDescriptor {
                label: Some("kernel timestamps"),
                ty: wgpu::QueryType::Timestamp,
                count: 2 * reps,
            });
            let size = 2 * reps as u64 * wgpu::QUERY_SIZE as u64;
            let resolve = self.device.create_buffer(&wgpu::BufferDescriptor {
                label: Some("timestamps"),
                size,
                usage: wgpu::BufferUsages::QUERY_RESOLVE | wgpu::BufferUsages::COPY_SRC,
                mapped_at_creation: false,
            });
            (set, resolve, size)
        });
        let mut encoder = self.device.create_command_encoder(&Default::default());
        for r in 0..reps {
            let timestamp_writes = queries.as_ref().map(|(set, _, _)| wgpu::ComputePassTimestampWrites {
                query_set: set,
                beginning_of_pass_write_index: Some(2 * r),
                end_of_pass_write_index: Some(2 * r + 1),
            });
            let mut pass = encoder.begin_compute_pass(&wgpu::ComputePassDescriptor {
                label: Some(pipeline.kernel.key()),
                timestamp_writes,
            });
            pass.set_pipeline(&pipeline.pipeline);
            pass.set_bind_group(0, &bound.bind_group, &[]);
            let (x, y, z) = bound.workgroups;
            pass.dispatch_workgroups(x, y, z);
        }
        if let Some((set, resolve, _)) = &queries {
            encoder.resolve_query_set(set, 0..2 * reps, resolve, 0);
        }
        let start = web_time::Instant::now();
        self.queue.submit([encoder.finish()]);
        self.finish().await?;
        let wall = start.elapsed().as_secs_f64() / reps as f64;
        let Some((_, resolve, size)) = queries else { return Ok(wall) };
        let bytes = self.read(&resolve, size).await?;
        let ticks: Vec<u64> =
            bytes.chunks_exact(8).map(|c| u64::from_le_bytes(c.try_into().expect("8 bytes"))).collect();
        let period_ns = self.queue.get_timestamp_period() as f64;
        let mut times: Vec<f64> =
            ticks.chunks(2).map(|p| p[1].saturating_sub(p[0]) as f64 * period_ns * 1e-9).collect();
        times.sort_by(f64::total_cmp);
        let median = times[times.len() / 2];
        // Some drivers report zeros or garbage for timestamps: trust them only when plausible.
        if median > 0.0 && median <= wall * 1.5 {
            Ok(median)
        } else {
            Ok(wall)
        }
    }

    /// Waits until all submitted work is done (or the device is lost, or natively a timeout).
    pub async fn finish(&self) -> Result<(), HardwareError> {
        self.check_alive()?;
        let (tx, rx) = oneshot::channel::<Result<(), String>>();
        *self.waiter.lock().unwrap() = Some(tx);
        let waiter = Arc::clone(&self.waiter);
        self.queue.on_submitted_work_done(move || {
            if let Some(tx) = waiter.lock().unwrap().take() {
                let _ = tx.send(Ok(()));
            }
        });
        self.poll()?;
        match rx.await {
            Ok(Ok(())) => self.check_alive(),
            Ok(Err(why)) => Err(HardwareError::DeviceLost(why)),
            Err(_) => Err(HardwareError::DeviceLost("the GPU dropped the completion callback".into())),
        }
    }

    /// Natively: blocks until the GPU is idle (bounded by [`NATIVE_WAIT`]). In the browser: nothing.
    fn poll(&self) -> Result<(), HardwareError> {
        #[cfg(not(target_arch = "wasm32"))]
        {
            let wait = wgpu::PollType::Wait { submission_index: None, timeout: Some(NATIVE_WAIT) };
            self.device.poll(wait).map_err(|e| match e {
                wgpu::PollError::Timeout => HardwareError::DeviceLost(format!(
                    "the GPU did not finish within {} s (hung or lost)",
                    NATIVE_WAIT.as_secs()
                )),
                other => HardwareError::DeviceLost(other.to_string()),
            })?;
        }
        Ok(())
    }

    /// Copies the first `size` bytes of `buffer` back to the host.
    pub async fn read(&self, buffer: &wgpu::Buffer, size: u64) -> Result<Vec<u8>, HardwareError> {
        self.check_alive()?;
        // On a lost device the copy and the mapping fail validation; the scope turns that into an
        // error here instead of a panic in get_mapped_range.
        let scope = self.device.push_error_scope(wgpu::ErrorFilter::Validation);
        let staging = self.device.create_buffer(&wgpu::BufferDescriptor {
            label: Some("read-back"),
            size,
            usage: wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::COPY_DST,
            mapped_at_creation: false,
        });
        let mut encoder = self.device.create_command_encoder(&Default::default());
        encoder.copy_buffer_to_buffer(buffer, 0, &staging, 0, size);
        self.queue.submit([encoder.finish()]);
        let (tx, rx) = oneshot::channel();
        staging.slice(..).map_async(wgpu::MapMode::Read, move |r| {
            let _ = tx.send(r);
        });
        self.poll()?;
        match rx.await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => return Err(HardwareError::DeviceLost(format!("reading results back failed: {e}"))),
            Err(_) => return Err(HardwareError::DeviceLost("the GPU dropped the read-back".into())),
        }
        if let Some(e) = scope.pop().await {
            self.check_alive()?;
            return Err(HardwareError::DeviceLost(format!("reading results back failed: {e}")));
        }
        self.check_alive()?;
        let bytes = staging.slice(..).get_mapped_range().to_vec();
        staging.unmap();
        self.check_alive()?;
        Ok(bytes)
    }
}
