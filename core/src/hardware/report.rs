//! What a run of the suite measured, and the roofline arithmetic the pages and the CLI draw from it.

use serde::Serialize;

use super::kernels::Kernel;
use super::reference::{Check, MatmulShape};
use crate::accounting::Gpu;

/// The adapter a suite ran on, as the report shows it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AdapterSummary {
    pub name: String,
    /// Vulkan, Metal, Dx12, BrowserWebGpu …
    pub backend: String,
    /// DiscreteGpu, IntegratedGpu, Cpu (a software emulation such as lavapipe or SwiftShader) …
    pub device_type: String,
    pub driver: String,
    /// A CPU emulation of a GPU: figures say nothing about real GPU hardware.
    pub software: bool,
    pub shader_f16: bool,
    pub timestamps: bool,
    pub limits: LimitsSummary,
}

/// The adapter limits that bound this lab's problem sizes.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct LimitsSummary {
    pub max_buffer_size: u64,
    pub max_storage_buffer_binding_size: u64,
    pub max_compute_workgroups_per_dimension: u32,
    pub max_compute_invocations_per_workgroup: u32,
    pub max_compute_workgroup_storage_size: u32,
}

/// How kernel times were taken.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Timing {
    /// GPU timestamp queries around each dispatch (median over the repetitions).
    GpuTimestamps,
    /// Wall clock around one submission of all repetitions (includes submit latency).
    WallClock,
}

impl Timing {
    pub fn describe(self) -> &'static str {
        match self {
            Timing::GpuTimestamps => "GPU timestamp queries (median of the repetitions)",
            Timing::WallClock => "wall clock around the batch (the adapter has no timestamp queries)",
        }
    }
}

/// One kernel at one size.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Measurement {
    pub kernel: Kernel,
    /// The matmul's shape; for the copy kernel m = n = k = 0 and `bytes` says how much was copied.
    pub shape: MatmulShape,
    /// Bytes the kernel must move at least (copy: read + write).
    pub bytes: f64,
    /// FLOPs of the work (0 for the copy).
    pub flops: f64,
    /// Seconds per dispatch.
    pub seconds: f64,
    pub repetitions: u32,
    pub timing: Timing,
    pub check: Check,
}

impl Measurement {
    pub fn flops_per_s(&self) -> f64 {
        self.flops / self.seconds
    }

    /// Compulsory bytes per second (for the copy, the measured bandwidth).
    pub fn bytes_per_s(&self) -> f64 {
        self.bytes / self.seconds
    }

    /// FLOPs per byte of compulsory traffic: the roofline's x.
    pub fn intensity(&self) -> f64 {
        self.flops / self.bytes
    }

    /// The size label: `2048` for square problems, `m×n×k` otherwise, MiB for the copy.
    pub fn size_label(&self) -> String {
        let s = self.shape;
        if self.kernel == Kernel::Copy {
            format!("{} MiB", crate::units::format_number(self.bytes / 2.0 / (1u64 << 20) as f64))
        } else if s.m == s.n && s.n == s.k {
            s.m.to_string()
        } else {
            format!("{}×{}×{}", s.m, s.n, s.k)
        }
    }
}

/// A kernel the run did not measure, and why (e.g. no `shader-f16`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Skipped {
    pub kernel: Kernel,
    pub reason: String,
}

/// The datasheet roofs a run is compared with.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Peak {
    pub name: String,
    pub title: String,
    /// Non-tensor f32 FLOP/s: what a WGSL kernel can reach (WebGPU has no tensor-core access).
    pub fp32_flops: f64,
    pub bandwidth_bytes_per_s: f64,
}

impl Peak {
    pub fn from_gpu(gpu: &Gpu) -> Peak {
        Peak {
            name: gpu.name.clone(),
            title: gpu.title.clone(),
            fp32_flops: gpu.peak_fp32,
            bandwidth_bytes_per_s: gpu.bandwidth_bytes_per_s,
        }
    }

    /// The intensity where the roofline bends: below it a kernel is memory-bound.
    pub fn ridge(&self) -> f64 {
        ridge_point(self.fp32_flops, self.bandwidth_bytes_per_s)
    }
}

/// The whole run.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Report {
    pub adapter: AdapterSummary,
    pub timing: Timing,
    pub measurements: Vec<Measurement>,
    pub skipped: Vec<Skipped>,
    /// The catalog GPU compared with (None: the adapter is not in the catalog and none was chosen).
    pub peak: Option<Peak>,
}

/// min(peak, intensity × bandwidth): the most FLOP/s a kernel of this intensity can reach.
pub fn roofline(intensity: f64, peak_flops: f64, bandwidth: f64) -> f64 {
    peak_flops.min(intensity * bandwidth)
}

/// peak / bandwidth: FLOPs per byte needed to be compute-bound.
pub fn ridge_point(peak_flops: f64, bandwidth: f64) -> f64 {
    peak_flops / bandwidth
}

impl Report {
    /// The measured bandwidth roof: the best copy.
    pub fn measured_bandwidth(&self) -> Option<f64> {
        self.of(Kernel::Copy).map(|m| m.bytes_per_s()).fold(None, |a, b| Some(a.map_or(b, |a: f64| a.max(b))))
    }

    /// The measured compute roof: the best f32 matmul.
    pub fn measured_flops(&self) -> Option<f64> {
        self.measurements
            .iter()
            .filter(|m| m.kernel != Kernel::Copy && m.kernel != Kernel::F16)
            .map(|m| m.flops_per_s())
            .fold(None, |a, b| Some(a.map_or(b, |a: f64| a.max(b))))
    }

    /// Measurements of one kernel, in size order.
    pub fn of(&self, kernel: Kernel) -> impl Iterator<Item = &Measurement> {
        self.measurements.iter().filter(move |m| m.kernel == kernel)
    }

    /// The measurement of `kernel` at the square size `n`.
    pub fn at(&self, kernel: Kernel, n: u32) -> Option<&Measurement> {
        self.of(kernel).find(|m| m.shape == MatmulShape::square(n))
    }

    /// The matmul sizes measured, ascending.
    pub fn sizes(&self) -> Vec<u32> {
        let mut sizes: Vec<u32> =
            self.measurements.iter().filter(|m| m.kernel != Kernel::Copy).map(|m| m.shape.m).collect();
        sizes.sort_unstable();
        sizes.dedup();
        sizes
    }

    /// Speed-up of each matmul over the naive kernel at size `n` (the step chart).
    pub fn speedups(&self, n: u32) -> Vec<(Kernel, f64)> {
        let Some(base) = self.at(Kernel::Naive, n) else { return vec![] };
        Kernel::MATMULS
            .iter()
            .filter_map(|&k| self.at(k, n).map(|m| (k, m.flops_per_s() / base.flops_per_s())))
            .collect()
    }

    /// Fraction of the compared GPU's roof: FLOP/s of the f32 peak for a matmul, bandwidth for the copy.
    pub fn fraction_of_peak(&self, m: &Measurement) -> Option<f64> {
        let peak = self.peak.as_ref()?;
        Some(if m.kernel == Kernel::Copy {
            m.bytes_per_s() / peak.bandwidth_bytes_per_s
        } else {
            m.flops_per_s() / peak.fp32_flops
        })
    }

    /// Whether every result matched the reference.
    pub fn all_correct(&self) -> bool {
        self.measurements.iter().all(|m| m.check.ok)
    }
}

/// A measured figure to three significant digits (`0.666`, `4.89`, `2,090` → `2090`).
pub fn short(x: f64) -> String {
    if !x.is_finite() || x == 0.0 {
        return crate::units::format_number(x);
    }
    let digits = 3 - 1 - x.abs().log10().floor() as i32;
    let scale = 10f64.powi(digits);
    crate::units::format_number((x * scale).round() / scale)
}

/// One line of the results table, with the derived figures (what `--json` prints per measurement).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Row {
    pub kernel: Kernel,
    pub title: &'static str,
    pub size: String,
    pub seconds: f64,
    pub repetitions: u32,
    /// GFLOP/s (None for the copy).
    pub gflops: Option<f64>,
    /// GB/s: measured for the copy, compulsory traffic / time for a matmul.
    pub gbps: f64,
    /// FLOP/byte of compulsory traffic (None for the copy).
    pub intensity: Option<f64>,
    pub fraction_of_peak: Option<f64>,
    pub max_abs_error: f64,
    pub entries_checked: usize,
    pub ok: bool,
}

impl Row {
    /// The table's header, matching [`Row::cells`].
    pub const HEADER: [&'static str; 9] =
        ["kernel", "size", "time", "GFLOP/s", "GB/s", "FLOP/B", "of peak", "max error", "check"];

    /// The row as printed text (three significant digits: timings do not repeat to more).
    pub fn cells(&self) -> Vec<String> {
        let format_number = short;
        vec![
            self.kernel.key().to_string(),
            self.size.clone(),
            format!("{} ms", format_number(self.seconds * 1e3)),
            self.gflops.map(format_number).unwrap_or_else(|| "—".into()),
            format_number(self.gbps),
            self.intensity.map(format_number).unwrap_or_else(|| "—".into()),
            self.fraction_of_peak.map(|f| format!("{}%", format_number(f * 100.0))).unwrap_or_else(|| "—".into()),
            format!("{:.1e}", self.max_abs_error),
            if self.ok { format!("ok ({} entries)", self.entries_checked) } else { "WRONG".into() },
        ]
    }
}

impl Report {
    /// Every measurement as a table row.
    pub fn rows(&self) -> Vec<Row> {
        self.measurements
            .iter()
            .map(|m| Row {
                kernel: m.kernel,
                title: m.kernel.title(),
                size: m.size_label(),
                seconds: m.seconds,
                repetitions: m.repetitions,
                gflops: (m.kernel != Kernel::Copy).then(|| m.flops_per_s() / 1e9),
                gbps: m.bytes_per_s() / 1e9,
                intensity: (m.kernel != Kernel::Copy).then(|| m.intensity()),
                fraction_of_peak: self.fraction_of_peak(m),
                max_abs_error: m.check.max_abs_error,
                entries_checked: m.check.entries,
                ok: m.check.ok,
            })
            .collect()
    }

    /// The run's conclusions in a few sentences (the CLI prints them under the table, the page
    /// above its charts).
    pub fn headline(&self) -> Vec<String> {
        let format_number = short;
        let mut lines = vec![];
        if self.adapter.software {
            lines.push(format!(
                "{} is a CPU emulation of a GPU: these figures measure the CPU, not GPU hardware.",
                self.adapter.name
            ));
        }
        if let Some(bw) = self.measured_bandwidth() {
            lines.push(format!("Measured bandwidth (copy): {} GB/s.", format_number(bw / 1e9)));
        }
        if let Some(n) = self.sizes().into_iter().filter(|&n| self.at(Kernel::Naive, n).is_some()).max() {
            let speedups = self.speedups(n);
            if let Some((_, x)) = speedups.iter().find(|(k, _)| *k == Kernel::Register) {
                lines.push(format!("At {n}³ the register-blocked kernel is {}× the naive one.", format_number(*x)));
            }
        }
        if let Some(best) = self.measured_flops() {
            let of_peak = self
                .peak
                .as_ref()
                .map(|p| {
                    format!(
                        ", {}% of the {}'s {} TFLOP/s f32 peak",
                        format_number(best / p.fp32_flops * 100.0),
                        p.title,
                        format_number(p.fp32_flops / 1e12)
                    )
                })
                .unwrap_or_default();
            lines.push(format!("Best f32 matmul: {} GFLOP/s{of_peak}.", format_number(best / 1e9)));
        }
        if self.peak.is_none() {
            lines.push("No catalog GPU to compare with: choose one (CLI --gpu, or the page's GPU menu).".into());
        }
        for s in &self.skipped {
            lines.push(format!("Skipped {}: {}.", s.kernel.key(), s.reason));
        }
        if !self.all_correct() {
            lines.push("Some results did NOT match the CPU reference (marked WRONG).".into());
        }
        lines
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::accounting::find_gpu;

    #[test]
    fn figures_print_to_three_significant_digits() {
        assert_eq!(short(0.66626), "0.666");
        assert_eq!(short(4.8867), "4.89");
        assert_eq!(short(2087.8), "2090");
        assert_eq!(short(13.791), "13.8");
        assert_eq!(short(0.0), "0");
    }

    #[test]
    fn roofline_bends_at_the_ridge() {
        // H100 SXM: 67 TFLOP/s f32 over 3.35 TB/s → ridge at 20 FLOP/byte.
        let peak = Peak::from_gpu(&find_gpu("h100").unwrap());
        assert!((peak.ridge() - 20.0).abs() < 1e-9);
        assert_eq!(roofline(10.0, peak.fp32_flops, peak.bandwidth_bytes_per_s), 33.5e12);
        assert_eq!(roofline(40.0, peak.fp32_flops, peak.bandwidth_bytes_per_s), 67e12);
    }
}
