//! The measurement plan: which kernels at which sizes, checked against the adapter's limits before
//! anything runs, then warm-up, timed repetitions and a correctness check for each.

use super::gpu::Gpu;
use super::kernels::{Kernel, COPY_WORKGROUP, WORKGROUP_SIDE};
use super::reference::{check_copy, uniform, MatmulInputs, MatmulShape};
use super::report::{Measurement, Report, Skipped};
use super::HardwareError;

/// What to measure.
#[derive(Debug, Clone, PartialEq)]
pub struct SuiteConfig {
    /// Matmul problem sizes: each `n` runs an n×n×n product.
    pub sizes: Vec<u32>,
    /// Kernels to run (the copy and the matmuls; f16 is skipped where unsupported).
    pub kernels: Vec<Kernel>,
    /// Bytes the copy kernel copies (rounded down to whole `vec4`s).
    pub copy_bytes: u64,
    /// Timed repetitions aim to take at least this long in all...
    pub min_seconds: f64,
    /// ...but never more repetitions than this.
    pub max_repetitions: u32,
    /// A warm-up slower than this is taken as the measurement (the naive kernel on an emulator).
    pub slow_seconds: f64,
}

impl Default for SuiteConfig {
    fn default() -> Self {
        SuiteConfig {
            sizes: vec![256, 512, 1024, 2048],
            kernels: Kernel::ALL.to_vec(),
            copy_bytes: 64 << 20,
            min_seconds: 0.2,
            max_repetitions: 20,
            slow_seconds: 2.0,
        }
    }
}

/// Progress of a run, for the page's indicator and the CLI's log.
#[derive(Debug, Clone, PartialEq)]
pub enum Progress {
    /// About to run step `index` (0-based) of `total`.
    Started { index: usize, total: usize, kernel: Kernel, label: String },
    /// A step finished.
    Measured(Measurement),
    /// A kernel is not run on this adapter.
    Skipped(Skipped),
}

/// One planned step.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Step {
    Copy { vec4s: u32 },
    Matmul { kernel: Kernel, n: u32 },
}

impl SuiteConfig {
    /// Refuses sizes the adapter cannot hold, naming the limit; returns the planned steps and the
    /// kernels skipped (f16 without `shader-f16`).
    fn plan(&self, gpu: &Gpu) -> Result<(Vec<Step>, Vec<Skipped>), HardwareError> {
        let limits = gpu.summary.limits;
        let max_binding = limits.max_storage_buffer_binding_size.min(limits.max_buffer_size);
        let mut steps = vec![];
        let mut skipped = vec![];
        if self.kernels.is_empty() {
            return Err(HardwareError::Input("no kernels to run".into()));
        }
        if self.kernels.contains(&Kernel::Copy) {
            if self.copy_bytes < 16 {
                return Err(HardwareError::Input(format!(
                    "copy size {} bytes: at least 16 (one vec4)",
                    self.copy_bytes
                )));
            }
            if self.copy_bytes > max_binding {
                return Err(HardwareError::Limit(format!(
                    "copy size {} bytes is above the adapter's maxStorageBufferBindingSize / maxBufferSize ({} bytes)",
                    self.copy_bytes, max_binding
                )));
            }
            let vec4s =
                u32::try_from(self.copy_bytes / 16).map_err(|_| HardwareError::Input("copy size too large".into()))?;
            steps.push(Step::Copy { vec4s });
        }
        let matmuls: Vec<Kernel> = self.kernels.iter().copied().filter(|k| *k != Kernel::Copy).collect();
        if !matmuls.is_empty() && self.sizes.is_empty() {
            return Err(HardwareError::Input("no matmul sizes given".into()));
        }
        if limits.max_compute_invocations_per_workgroup < WORKGROUP_SIDE * WORKGROUP_SIDE {
            return Err(HardwareError::Limit(format!(
                "the kernels use {} invocations per workgroup; the adapter's maxComputeInvocationsPerWorkgroup is {}",
                WORKGROUP_SIDE * WORKGROUP_SIDE,
                limits.max_compute_invocations_per_workgroup
            )));
        }
        for &n in &self.sizes {
            if n == 0 {
                return Err(HardwareError::Input("matmul size 0: sizes must be at least 1".into()));
            }
            for &kernel in &matmuls {
                if kernel.needs_f16() && !gpu.summary.shader_f16 {
                    if !skipped.iter().any(|s: &Skipped| s.kernel == kernel) {
                        skipped.push(Skipped {
                            kernel,
                            reason: format!("{} does not offer the shader-f16 feature", gpu.summary.name),
                        });
                    }
                    continue;
                }
                // The largest buffer is any of A, B, C at n rows × padded stride.
                let bytes = n as u64 * super::reference::padded(n) as u64 * 4;
                if bytes > max_binding {
                    return Err(HardwareError::Limit(format!(
                        "size {n}: a {n}×{n} f32 matrix is {bytes} bytes, above the adapter's \
                         maxStorageBufferBindingSize / maxBufferSize ({max_binding} bytes)"
                    )));
                }
                let (x, y) = kernel.dispatch(n, n);
                if x.max(y) > limits.max_compute_workgroups_per_dimension {
                    return Err(HardwareError::Limit(format!(
                        "size {n}: {} workgroups along one dimension, above the adapter's \
                         maxComputeWorkgroupsPerDimension ({})",
                        x.max(y),
                        limits.max_compute_workgroups_per_dimension
                    )));
                }
                if kernel.workgroup_storage_bytes() > limits.max_compute_workgroup_storage_size as u64 {
                    return Err(HardwareError::Limit(format!(
                        "{} needs {} bytes of workgroup memory; the adapter's maxComputeWorkgroupStorageSize is {}",
                        kernel.file(),
                        kernel.workgroup_storage_bytes(),
                        limits.max_compute_workgroup_storage_size
                    )));
                }
                steps.push(Step::Matmul { kernel, n });
            }
        }
        Ok((steps, skipped))
    }
}

/// Runs the suite on `gpu`, reporting each step to `progress` as it starts and ends.
pub async fn run_suite(
    gpu: &Gpu,
    config: &SuiteConfig,
    progress: &mut dyn FnMut(Progress),
) -> Result<Report, HardwareError> {
    let (steps, skipped) = config.plan(gpu)?;
    for s in &skipped {
        progress(Progress::Skipped(s.clone()));
    }
    let mut report =
        Report { adapter: gpu.summary.clone(), timing: gpu.timing(), measurements: vec![], skipped, peak: None };
    let total = steps.len();
    for (index, step) in steps.into_iter().enumerate() {
        let (kernel, label) = match step {
            Step::Copy { vec4s } => (Kernel::Copy, format!("{} MiB", (vec4s as u64 * 16) >> 20)),
            Step::Matmul { kernel, n } => (kernel, format!("{n}×{n}×{n}")),
        };
        progress(Progress::Started { index, total, kernel, label });
        let m = match step {
            Step::Copy { vec4s } => measure_copy(gpu, vec4s, config).await?,
            Step::Matmul { kernel, n } => measure_matmul(gpu, kernel, MatmulShape::square(n), config).await?,
        };
        progress(Progress::Measured(m.clone()));
        report.measurements.push(m);
    }
    Ok(report)
}

/// Warm-up, then enough repetitions to fill `min_seconds`; returns (seconds, repetitions).
async fn timed(
    gpu: &Gpu,
    pipeline: &super::gpu::Pipeline,
    bound: &super::gpu::Bound,
    config: &SuiteConfig,
) -> Result<(f64, u32), HardwareError> {
    // The warm-up pays for lazy compilation and cold caches; it is not counted.
    let warm = gpu.time(pipeline, bound, 1).await?;
    if warm >= config.slow_seconds {
        return Ok((warm, 1));
    }
    let reps = ((config.min_seconds / warm.max(1e-7)).ceil() as u32).clamp(1, config.max_repetitions.max(1));
    Ok((gpu.time(pipeline, bound, reps).await?, reps))
}

/// Measures one matmul kernel on one shape and checks its output.
pub async fn measure_matmul(
    gpu: &Gpu,
    kernel: Kernel,
    shape: MatmulShape,
    config: &SuiteConfig,
) -> Result<Measurement, HardwareError> {
    let inputs = MatmulInputs::new(shape, kernel, 0x1A8 ^ shape.m as u64);
    let pipeline = gpu.pipeline(kernel).await?;
    let a = gpu.storage("A", &MatmulInputs::upload_bytes(&inputs.a, kernel)).await?;
    let b = gpu.storage("B", &MatmulInputs::upload_bytes(&inputs.b, kernel)).await?;
    let c_bytes = inputs.c_len() as u64 * 4;
    // NaN-filled, so an output the kernel never writes cannot pass as zero.
    let c = gpu.storage("C", &f32::NAN.to_le_bytes().repeat(inputs.c_len())).await?;
    let params = [shape.m, shape.n, shape.k, inputs.lda, inputs.ldb, inputs.ldc, 0, 0];
    let (x, y) = kernel.dispatch(shape.m, shape.n);
    let bound = gpu.bind(&pipeline, &[&a, &b, &c], &params, (x, y, 1));
    let (seconds, repetitions) = timed(gpu, &pipeline, &bound, config).await?;
    let out = gpu.read(&c, c_bytes).await?;
    let check = inputs.check(&f32s(&out), kernel);
    Ok(Measurement {
        kernel,
        shape,
        bytes: shape.min_bytes(kernel.input_bytes()),
        flops: shape.flops(),
        seconds,
        repetitions,
        timing: gpu.timing(),
        check,
    })
}

/// Measures the copy kernel on `vec4s` × 16 bytes and checks the copy bit for bit.
pub async fn measure_copy(gpu: &Gpu, vec4s: u32, config: &SuiteConfig) -> Result<Measurement, HardwareError> {
    let src_values = uniform(0xC0B1, vec4s as usize * 4);
    let pipeline = gpu.pipeline(Kernel::Copy).await?;
    let src = gpu.storage("source", bytemuck::cast_slice(&src_values)).await?;
    let dst = gpu.storage("destination", &vec![0u8; vec4s as usize * 16]).await?;
    // Enough workgroups to fill any GPU, few enough for every adapter's dispatch limit.
    let groups =
        vec4s.div_ceil(COPY_WORKGROUP).clamp(1, 4096.min(gpu.summary.limits.max_compute_workgroups_per_dimension));
    let params = [vec4s, groups * COPY_WORKGROUP, 0, 0, 0, 0, 0, 0];
    let bound = gpu.bind(&pipeline, &[&src, &dst], &params, (groups, 1, 1));
    let (seconds, repetitions) = timed(gpu, &pipeline, &bound, config).await?;
    let out = gpu.read(&dst, vec4s as u64 * 16).await?;
    let check = check_copy(&src_values, &f32s(&out));
    Ok(Measurement {
        kernel: Kernel::Copy,
        shape: MatmulShape { m: 0, n: 0, k: 0 },
        bytes: 2.0 * vec4s as f64 * 16.0,
        flops: 0.0,
        seconds,
        repetitions,
        timing: gpu.timing(),
        check,
    })
}

/// Little-endian bytes read back from the GPU as f32s (the byte vector need not be aligned).
fn f32s(bytes: &[u8]) -> Vec<f32> {
    bytes.chunks_exact(4).map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]])).collect()
}
