//! Which burn backend runs a job: CUDA, wgpu (Vulkan / Metal / DX12) or the CPU, picked at run time.
//!
//! `auto` tries CUDA, then a wgpu adapter that is real hardware, then the CPU (burn's `flex`), and
//! says why it passed over each. A device is only used after a probe (a tiny computation) succeeds;
//! the GPU backends panic when no driver or adapter is there, and the probe turns that into a reason.
//! Software Vulkan (lavapipe / llvmpipe, SwiftShader) is taken only when asked for by name: it is
//! far slower than the CPU backend it emulates a GPU on.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::{Mutex, OnceLock};

use burn::backend::Autodiff;
use burn::tensor::backend::{AutodiffBackend, Backend};
use burn::tensor::Tensor;
use lmlab::accounting::{find_gpu, match_device_name, Gpu};
use lmlab::train::plan::{Backend as Kind, Precision};
use lmlab::train::prepare::DeviceLabel;
use lmlab::train::TrainError;
use lmlab::InputError;

use crate::cli::DeviceArg;
use crate::CliResult;

/// A job generic over the backend: the CLI's commands implement it once and run on any device.
pub trait Job {
    fn run<B: AutodiffBackend>(self, device: B::Device, picked: &Picked) -> CliResult;
}

/// The device `--device` (and `--gpu`, the catalog GPU whose peak MFU is measured against when
/// the device's own name is not recognized) asks for.
pub fn pick_device(arg: &DeviceArg) -> Result<Picked, Box<dyn std::error::Error>> {
    let mut picked = pick(&arg.device)?;
    if let Some(g) = &arg.gpu {
        picked.gpu = Some(find_gpu(g)?);
    }
    Ok(picked)
}

/// Runs `job` on the picked backend. Backends panic on out-of-memory and lost devices: those come
/// back as errors that say what to change, not as crashes.
pub fn run_job<J: Job>(picked: &Picked, job: J) -> CliResult {
    match catch_quietly(|| dispatch(picked, job)) {
        Ok(result) => result,
        Err(panic) => Err(explain_panic(&panic, picked).into()),
    }
}

/// Turns a backend panic into advice.
fn explain_panic(message: &str, picked: &Picked) -> TrainError {
    let lower = message.to_ascii_lowercase();
    let first = message.lines().next().unwrap_or("");
    if ["out of memory", "outofmemory", "out_of_memory", "allocat"].iter().any(|k| lower.contains(k)) {
        TrainError::Device(format!(
            "{} ran out of memory ({first}): lower --batch, --context or the preset",
            picked.kind.key()
        ))
    } else {
        TrainError::Device(format!("{} failed: {first}", picked.kind.key()))
    }
}

/// The backend a job runs on, and what the lab knows about it.
#[derive(Debug, Clone)]
pub struct Picked {
    /// Which burn backend (CUDA, wgpu or the CPU; never WebGPU, which is the browser's).
    pub kind: Kind,
    /// The device's name (GPU model, adapter, or "CPU").
    pub name: String,
    /// Why this one: what was tried before it and why it was passed over.
    pub reason: String,
    /// The catalog entry when the name is a known GPU (for MFU).
    pub gpu: Option<Gpu>,
    /// Which CUDA device (a data-parallel rank drives the GPU of its local rank); 0 otherwise.
    pub index: usize,
}

impl Picked {
    /// The peak FLOP/s MFU is measured against, when the GPU is a catalog one: its dense bf16
    /// tensor-core peak for a bf16 run, its tf32 peak for an fp32 one (burn runs f32 matmuls on
    /// tensor cores as tf32).
    pub fn peak_flops(&self, precision: Precision) -> Option<f64> {
        self.gpu.as_ref().map(|g| match precision {
            Precision::Fp32 => g.peak_tf32,
            Precision::Bf16 => g.peak_bf16,
        })
    }

    /// One line: `cuda (NVIDIA H100 80GB HBM3)` and the reason.
    pub fn describe(&self) -> String {
        let index = if self.index > 0 { format!(":{}", self.index) } else { String::new() };
        format!("{}{index} ({}) — {}", self.kind.key(), self.name, self.reason)
    }

    /// The same device kind, device `index` of it (a rank's own GPU). Only CUDA has an index here:
    /// wgpu's ranks share the adapter `auto` found and the CPU's share the cores.
    pub fn for_local_rank(mut self, local_rank: usize) -> Self {
        if self.kind == Kind::Cuda {
            let count = cuda_device_count().max(1);
            self.index = local_rank % count;
            if local_rank >= count {
                self.reason = format!("{}; {count} CUDA device(s) for local rank {local_rank}: shared", self.reason);
            }
        }
        self
    }

    /// The device as a run's header names it.
    pub fn label(&self) -> DeviceLabel {
        DeviceLabel { backend: self.kind, name: self.name.clone(), reason: self.reason.clone(), limits: None }
    }
}

/// Runs `job` on the backend `picked` chose.
fn dispatch<J: Job>(picked: &Picked, job: J) -> CliResult {
    match picked.kind {
        #[cfg(feature = "cuda")]
        Kind::Cuda => {
            job.run::<Autodiff<burn::backend::Cuda>>(burn::backend::cuda::CudaDevice { index: picked.index }, picked)
        }
        #[cfg(feature = "wgpu")]
        Kind::Wgpu => job.run::<Autodiff<burn::backend::Wgpu>>(Default::default(), picked),
        Kind::Cpu => job.run::<Autodiff<burn::backend::Flex>>(Default::default(), picked),
        #[allow(unreachable_patterns)]
        other => unreachable!("{other:?} is only picked when compiled in"),
    }
}

/// Picks the device for `requested` (`auto`, `cuda`, `wgpu`, `cpu`). An explicit device that does
/// not work is an error naming why; `auto` never fails (the CPU always works).
pub fn pick(requested: &str) -> Result<Picked, InputError> {
    let cpu = |reason: String| Picked { kind: Kind::Cpu, name: cpu_name(), reason, gpu: None, index: 0 };
    match requested.trim().to_ascii_lowercase().as_str() {
        "cpu" => Ok(cpu("asked for".into())),
        "cuda" => cuda().map_err(|why| InputError::new("--device", "cuda", format!("a working CUDA device ({why})"))),
        "wgpu" => {
            wgpu(true).map_err(|why| InputError::new("--device", "wgpu", format!("a working wgpu adapter ({why})")))
        }
        "auto" => {
            let cuda_why = match cuda() {
                Ok(p) => return Ok(p),
                Err(why) => why,
            };
            let wgpu_why = match wgpu(false) {
                Ok(mut p) => {
                    p.reason = format!("CUDA: {cuda_why}; {}", p.reason);
                    return Ok(p);
                }
                Err(why) => why,
            };
            Ok(cpu(format!("CUDA: {cuda_why}; wgpu: {wgpu_why}")))
        }
        other => Err(InputError::new("--device", other, "one of: auto, cuda, wgpu, cpu")),
    }
}

fn cpu_name() -> String {
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    format!("CPU, {threads} threads, burn flex")
}

#[cfg(feature = "cuda")]
fn cuda() -> Result<Picked, String> {
    use burn::backend::Cuda;
    if cfg!(target_os = "linux") && !std::path::Path::new("/proc/driver/nvidia/version").exists() {
        return Err("no NVIDIA driver loaded (/proc/driver/nvidia/version is absent)".into());
    }
    probe::<Cuda>(&Default::default()).map_err(|e| format!("no usable NVIDIA driver or GPU ({})", first_line(&e)))?;
    let name = nvidia_smi_name().unwrap_or_else(|| "NVIDIA GPU".into());
    Ok(Picked { kind: Kind::Cuda, gpu: match_device_name(&name), name, reason: "CUDA device 0 works".into(), index: 0 })
}

#[cfg(not(feature = "cuda"))]
fn cuda() -> Result<Picked, String> {
    Err("not compiled in (build with --features cuda)".into())
}

/// How many CUDA devices `nvidia-smi` lists (1 when it cannot tell).
fn cuda_device_count() -> usize {
    std::process::Command::new("nvidia-smi")
        .args(["--query-gpu=name", "--format=csv,noheader"])
        .output()
        .ok()
        .map_or(1, |out| String::from_utf8_lossy(&out.stdout).lines().filter(|l| !l.trim().is_empty()).count().max(1))
}

/// The GPU's model name from `nvidia-smi` (the driver's own tool), if present.
#[cfg(feature = "cuda")]
fn nvidia_smi_name() -> Option<String> {
    let out =
        std::process::Command::new("nvidia-smi").args(["--query-gpu=name", "--format=csv,noheader"]).output().ok()?;
    let name = String::from_utf8_lossy(&out.stdout).lines().next()?.trim().to_string();
    (!name.is_empty()).then_some(name)
}

#[cfg(feature = "wgpu")]
fn wgpu(allow_software: bool) -> Result<Picked, String> {
    use burn::backend::Wgpu;
    // Mesa's Vulkan drivers complain on stderr when XDG_RUNTIME_DIR is unset (containers, CI).
    if std::env::var_os("XDG_RUNTIME_DIR").is_none() {
        let dir = std::env::temp_dir().join(format!("lmlab-xdg-{}", std::process::id()));
        if std::fs::create_dir_all(&dir).is_ok() {
            #[cfg(unix)]
            {
                use std::os::unix::fs::PermissionsExt;
                let _ = std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700));
            }
            std::env::set_var("XDG_RUNTIME_DIR", &dir);
        }
    }
    let instance = wgpu::Instance::new(wgpu::InstanceDescriptor::new_without_display_handle_from_env());
    let adapters = pollster::block_on(instance.enumerate_adapters(wgpu::Backends::all()));
    let infos: Vec<wgpu::AdapterInfo> = adapters.iter().map(|a| a.get_info()).collect();
    let hardware = infos.iter().find(|i| i.device_type != wgpu::DeviceType::Cpu);
    let chosen = match (hardware, infos.first()) {
        (Some(h), _) => h.clone(),
        (None, Some(soft)) if allow_software => soft.clone(),
        (None, Some(soft)) => {
            return Err(format!(
            "only a software adapter ({}, a CPU emulation slower than the CPU backend; ask for it with --device wgpu)",
            soft.name
        ))
        }
        (None, None) => return Err("no adapter (no Vulkan, Metal or DX12 driver)".into()),
    };
    probe::<Wgpu>(&Default::default()).map_err(|e| format!("the adapter failed ({})", first_line(&e)))?;
    let software = chosen.device_type == wgpu::DeviceType::Cpu;
    let reason = if software {
        "asked for; this adapter is a CPU emulation, not a GPU".to_string()
    } else {
        format!("{:?} adapter works", chosen.device_type)
    };
    let name = format!("{} via {:?}", chosen.name, chosen.backend);
    Ok(Picked { kind: Kind::Wgpu, gpu: match_device_name(&chosen.name), name, reason, index: 0 })
}

#[cfg(not(feature = "wgpu"))]
fn wgpu(_allow_software: bool) -> Result<Picked, String> {
    Err("not compiled in (build with --features wgpu)".into())
}

fn first_line(s: &str) -> String {
    s.lines().next().unwrap_or("").chars().take(160).collect()
}

/// Runs a tiny computation on `device`; a panic (no driver, no adapter) becomes its message.
pub fn probe<B: Backend>(device: &B::Device) -> Result<(), String> {
    catch_quietly(|| {
        let t = Tensor::<B, 1>::from_floats([1.0, 2.0, 3.0], device);
        let sum = t.sum().into_data().convert::<f32>().to_vec::<f32>().unwrap_or_default();
        assert!(sum == [6.0], "the device computed 1 + 2 + 3 = {sum:?}");
    })
}

/// Runs `f`, turning a panic into its message without printing it (backends panic on missing
/// drivers, lost devices and out-of-memory; the CLI reports those as errors instead).
pub fn catch_quietly<T>(f: impl FnOnce() -> T) -> Result<T, String> {
    static LAST: OnceLock<Mutex<Option<String>>> = OnceLock::new();
    let last = LAST.get_or_init(|| Mutex::new(None));
    let previous = std::panic::take_hook();
    std::panic::set_hook(Box::new(|info| {
        let msg = if let Some(s) = info.payload().downcast_ref::<&str>() {
            s.to_string()
        } else if let Some(s) = info.payload().downcast_ref::<String>() {
            s.clone()
        } else {
            "unknown panic".to_string()
        };
        if let Some(m) = LAST.get() {
            *m.lock().unwrap_or_else(|e| e.into_inner()) = Some(msg);
        }
    }));
    let result = catch_unwind(AssertUnwindSafe(f));
    std::panic::set_hook(previous);
    result.map_err(|_| last.lock().unwrap_or_else(|e| e.into_inner()).take().unwrap_or_else(|| "unknown panic".into()))
}
