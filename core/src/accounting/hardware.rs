//! The GPU catalog: dense peak FLOP/s per dtype, memory and memory bandwidth.
//!
//! All peaks are *dense* (vendors often quote 2:4-sparsity figures, twice as large) and per GPU.
//! Memory is in vendor gigabytes (10⁹ bytes), as datasheets state it. Sources:
//!
//! * A100 SXM4 80 GB — NVIDIA A100 Tensor Core GPU datasheet (2021): FP64 9.7 TF, FP32 19.5,
//!   TF32 156, BF16/FP16 312, 80 GB HBM2e at 2,039 GB/s. No FP8.
//! * H100 SXM5 80 GB — NVIDIA H100 Tensor Core GPU datasheet (2023): FP64 34, FP32 67, TF32 494.7,
//!   BF16/FP16 989.5, FP8 1,979 (the sheet's sparse figures halved), 80 GB HBM3 at 3.35 TB/s.
//! * H100 PCIe 80 GB — same datasheet: FP64 26, FP32 51, TF32 378, BF16/FP16 756, FP8 1,513,
//!   80 GB HBM2e at 2.0 TB/s.
//! * H200 SXM 141 GB — NVIDIA H200 datasheet (2024): H100 SXM's compute, 141 GB HBM3e at 4.8 TB/s.
//! * B200 — NVIDIA HGX B200 datasheet (2024), per GPU (8-GPU figures ÷ 8, sparse ÷ 2): FP64 37,
//!   FP32 75, TF32 1,100, BF16/FP16 2,250, FP8 4,500; 180 GB HBM3e at 8 TB/s.
//! * RTX 4090 — NVIDIA Ada Lovelace architecture whitepaper (2022), appendix A: FP32 82.6, TF32
//!   82.6, BF16/FP16 with FP32 accumulate 165.2, FP8 with FP32 accumulate 330.3, FP64 1.29;
//!   24 GB GDDR6X at 1,008 GB/s.
//! * custom — a placeholder the user edits (`--peak-tflops`, `--memory-gb` on the CLI; fields on
//!   the Compute page).

use serde::Serialize;

use crate::precision::Format;
use crate::InputError;

/// One accelerator's datasheet numbers.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Gpu {
    pub name: String,
    pub title: String,
    /// Dense peak FLOP/s for fp64, fp32 (non-tensor), tf32, bf16, fp16, fp8 (None: not supported).
    pub peak_fp64: f64,
    pub peak_fp32: f64,
    pub peak_tf32: f64,
    pub peak_bf16: f64,
    pub peak_fp16: f64,
    pub peak_fp8: Option<f64>,
    /// Memory in bytes (vendor GB × 10⁹).
    pub memory_bytes: f64,
    /// Memory bandwidth in bytes per second.
    pub bandwidth_bytes_per_s: f64,
}

const T: f64 = 1e12;
const GB: f64 = 1e9;

#[allow(clippy::too_many_arguments)]
fn gpu(
    name: &str,
    title: &str,
    fp64: f64,
    fp32: f64,
    tf32: f64,
    bf16: f64,
    fp16: f64,
    fp8: Option<f64>,
    mem_gb: f64,
    bw_gbs: f64,
) -> Gpu {
    Gpu {
        name: name.into(),
        title: title.into(),
        peak_fp64: fp64 * T,
        peak_fp32: fp32 * T,
        peak_tf32: tf32 * T,
        peak_bf16: bf16 * T,
        peak_fp16: fp16 * T,
        peak_fp8: fp8.map(|v| v * T),
        memory_bytes: mem_gb * GB,
        bandwidth_bytes_per_s: bw_gbs * GB,
    }
}

/// The whole catalog, in the order the pages list it.
pub fn gpu_catalog() -> Vec<Gpu> {
    vec![
        gpu("a100", "NVIDIA A100 SXM4 80 GB", 9.7, 19.5, 156.0, 312.0, 312.0, None, 80.0, 2039.0),
        gpu("h100", "NVIDIA H100 SXM5 80 GB", 34.0, 67.0, 494.7, 989.5, 989.5, Some(1979.0), 80.0, 3350.0),
        gpu("h100-pcie", "NVIDIA H100 PCIe 80 GB", 26.0, 51.0, 378.0, 756.0, 756.0, Some(1513.0), 80.0, 2000.0),
        gpu("h200", "NVIDIA H200 SXM 141 GB", 34.0, 67.0, 494.7, 989.5, 989.5, Some(1979.0), 141.0, 4800.0),
        gpu("b200", "NVIDIA B200 180 GB", 37.0, 75.0, 1100.0, 2250.0, 2250.0, Some(4500.0), 180.0, 8000.0),
        gpu("rtx4090", "NVIDIA GeForce RTX 4090", 1.29, 82.6, 82.6, 165.2, 165.2, Some(330.3), 24.0, 1008.0),
        custom_gpu(100.0, 80.0),
    ]
}

/// A user-described accelerator: one peak for every dtype, and its memory.
pub fn custom_gpu(peak_tflops: f64, memory_gb: f64) -> Gpu {
    let p = peak_tflops;
    gpu("custom", "Custom accelerator", p, p, p, p, p, Some(p), memory_gb, 1000.0)
}

/// Looks a GPU up by name (`h100`, `H100`, `h100-sxm`, `4090` …).
pub fn find_gpu(name: &str) -> Result<Gpu, InputError> {
    let wanted = name.trim().to_ascii_lowercase().replace(['_', ' '], "-");
    let wanted = match wanted.as_str() {
        "h100-sxm" | "h100-sxm5" => "h100",
        "a100-sxm" | "a100-80gb" => "a100",
        "4090" | "rtx-4090" => "rtx4090",
        other => other,
    };
    gpu_catalog().into_iter().find(|g| g.name == wanted).ok_or_else(|| {
        let names: Vec<String> = gpu_catalog().into_iter().map(|g| g.name).collect();
        InputError::new("GPU", name, format!("one of: {}", names.join(", ")))
    })
}

/// The catalog entry for a device name as drivers report it ("NVIDIA H200", "NVIDIA GeForce RTX
/// 4090", "NVIDIA H100 PCIe"), or None for a device the catalog does not list (including CPU
/// emulations such as lavapipe or SwiftShader).
pub fn match_device_name(name: &str) -> Option<Gpu> {
    let n = name.to_ascii_lowercase();
    let key = if n.contains("h200") {
        "h200"
    } else if n.contains("h100") && n.contains("pcie") {
        "h100-pcie"
    } else if n.contains("h100") {
        "h100"
    } else if n.contains("a100") {
        "a100"
    } else if n.contains("b200") {
        "b200"
    } else if n.contains("4090") {
        "rtx4090"
    } else {
        return None;
    };
    find_gpu(key).ok()
}

impl Gpu {
    /// Dense peak FLOP/s for computing in `dtype`; an error names the dtypes this GPU supports.
    pub fn peak_flops(&self, dtype: Format) -> Result<f64, InputError> {
        let peak = match dtype {
            Format::Fp64 => Some(self.peak_fp64),
            Format::Fp32 => Some(self.peak_fp32),
            Format::Tf32 => Some(self.peak_tf32),
            Format::Bf16 => Some(self.peak_bf16),
            Format::Fp16 => Some(self.peak_fp16),
            Format::Fp8E4M3 | Format::Fp8E5M2 => self.peak_fp8,
        };
        peak.ok_or_else(|| {
            InputError::new(
                "dtype",
                dtype.key(),
                format!("a dtype the {} supports: fp64, fp32, tf32, bf16, fp16", self.title),
            )
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn catalog_lookup() {
        let h100 = find_gpu("H100").unwrap();
        assert_eq!(h100.peak_flops(Format::Bf16).unwrap(), 989.5e12);
        assert_eq!(h100.peak_flops(Format::Fp32).unwrap(), 67e12);
        assert!(find_gpu("a100").unwrap().peak_flops(Format::Fp8E4M3).is_err());
        let err = find_gpu("tpu").unwrap_err().to_string();
        assert!(err.contains("tpu") && err.contains("h200") && err.contains("custom"), "{err}");
        assert_eq!(find_gpu("4090").unwrap().name, "rtx4090");
    }
}
