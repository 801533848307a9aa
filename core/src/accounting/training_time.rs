//! Training time and cost: FLOPs / (GPUs × peak × MFU).

use serde::Serialize;

use super::hardware::Gpu;
use crate::precision::Format;
use crate::units::check_mfu;
use crate::InputError;

/// What a training-time estimate needs.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TimeQuery {
    /// Total training FLOPs (e.g. [`super::training_flops`] = 6·N·D).
    pub flops: f64,
    pub gpu: Gpu,
    pub gpus: u64,
    /// Model FLOPs utilization, in (0, 1].
    pub mfu: f64,
    /// The dtype whose peak applies (bf16 for mixed-precision training).
    pub dtype: Format,
    /// Price of one GPU-hour in US dollars, if the user gave one.
    pub usd_per_gpu_hour: Option<f64>,
}

/// The estimate.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TimeEstimate {
    pub flops: f64,
    pub gpu: String,
    pub gpus: u64,
    pub mfu: f64,
    pub dtype: Format,
    /// Peak FLOP/s of one GPU in `dtype`.
    pub peak_flops_per_gpu: f64,
    /// FLOP/s the whole cluster actually sustains: GPUs × peak × MFU.
    pub achieved_flops_per_s: f64,
    pub seconds: f64,
    pub hours: f64,
    pub days: f64,
    pub gpu_hours: f64,
    pub cost_usd: Option<f64>,
}

/// Wall-clock time to do `query.flops` on the cluster: FLOPs / (GPUs × peak × MFU).
pub fn estimate_time(query: &TimeQuery) -> Result<TimeEstimate, InputError> {
    if !(query.flops.is_finite() && query.flops > 0.0) {
        return Err(InputError::new("FLOPs", query.flops.to_string(), "a positive number"));
    }
    if query.gpus == 0 {
        return Err(InputError::new("--gpus", "0", "a whole number of at least 1"));
    }
    let mfu = check_mfu("--mfu", query.mfu)?;
    if let Some(price) = query.usd_per_gpu_hour {
        if !(price.is_finite() && price >= 0.0) {
            return Err(InputError::new("--usd-per-gpu-hour", price.to_string(), "a price of zero or more"));
        }
    }
    let peak = query.gpu.peak_flops(query.dtype)?;
    let achieved = query.gpus as f64 * peak * mfu;
    let seconds = query.flops / achieved;
    let gpu_hours = seconds / 3600.0 * query.gpus as f64;
    Ok(TimeEstimate {
        flops: query.flops,
        gpu: query.gpu.name.clone(),
        gpus: query.gpus,
        mfu,
        dtype: query.dtype,
        peak_flops_per_gpu: peak,
        achieved_flops_per_s: achieved,
        seconds,
        hours: seconds / 3600.0,
        days: seconds / 86400.0,
        gpu_hours,
        cost_usd: query.usd_per_gpu_hour.map(|p| p * gpu_hours),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::accounting::{find_gpu, training_flops};

    /// CS336 lecture 2: 70B parameters on 15T tokens, 1,024 H100s at MFU 0.5 → 6.3e24 FLOPs, ~144 days.
    #[test]
    fn lecture_70b_on_1024_h100s() {
        let q = TimeQuery {
            flops: training_flops(70e9, 15e12),
            gpu: find_gpu("h100").unwrap(),
            gpus: 1024,
            mfu: 0.5,
            dtype: Format::Bf16,
            usd_per_gpu_hour: Some(2.0),
        };
        let e = estimate_time(&q).unwrap();
        assert_eq!(e.flops, 6.3e24);
        assert!((e.days - 143.9).abs() < 0.05, "{}", e.days);
        assert!((e.cost_usd.unwrap() - e.gpu_hours * 2.0).abs() < 1e-6);
        let bad = TimeQuery { mfu: 1.2, ..q };
        assert!(estimate_time(&bad).unwrap_err().to_string().contains("(0, 1]"));
    }
}
