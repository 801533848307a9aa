//! Naive vs fused attention on the student's own device: forward + backward time and peak memory
//! against T. `lmlab bench attention` and the Hardware page's worker run this same function; the
//! arithmetic it is compared with is [`crate::hardware::attention`].

use burn::tensor::backend::{AutodiffBackend, Backend};
use burn::tensor::{Distribution, Tensor};
use web_time::Instant;

use crate::hardware::attention::{AttentionBench, AttentionRow, SkippedRow};
use crate::model::plan::{AttentionKernel, Precision};

/// One forward + backward of `kind` at `bench`'s shape and length `t`, timed over `bench.reps`
/// passes after an untimed one (kernel compilation, autotuning).
///
/// Peak memory is measured where burn's memory pools can be read (the GPU backends): tensors are
/// freed into pools that return whole free pages only when cleaned up, so the bytes reserved after
/// the passes minus those reserved after a clean-up before them is the passes' high-water mark,
/// rounded up to the pools' pages. Q, K, V and dO are allocated before: what is measured is what
/// attention itself allocates. Elsewhere (the CPU backend) the model's figure stands in, marked so.
pub async fn measure<B: AutodiffBackend>(
    bench: &AttentionBench,
    kind: AttentionKernel,
    t: usize,
    device: &B::Device,
) -> AttentionRow {
    let shape = [bench.batch, bench.heads, t, bench.head];
    B::seed(device, 11);
    let draw = || Tensor::<B, 4>::random(shape, Distribution::Normal(0.0, 1.0), device);
    let (q, k, v, d_out) = (draw().require_grad(), draw().require_grad(), draw().require_grad(), draw());
    // One pass: the loss Σ dO ∘ O, so the backward starts from dO; the gradients are summed into
    // one number so reading it waits for all of them.
    let pass = || {
        let out = super::causal(q.clone(), k.clone(), v.clone(), kind, Precision::Fp32);
        let grads = (out * d_out.clone()).sum().backward();
        let g = |x: &Tensor<B, 4>| x.grad(&grads).expect("a gradient").sum();
        g(&q) + g(&k) + g(&v)
    };
    let wait = |x: Tensor<B::InnerBackend, 1>| async move {
        let _ = x.into_data_async().await;
    };
    wait(pass()).await;
    B::memory_cleanup(device);
    let before = super::memory_reserved::<B>(device);
    let started = Instant::now();
    let sums: Vec<_> = (0..bench.reps).map(|_| pass()).collect();
    for s in sums {
        wait(s).await;
    }
    let seconds = started.elapsed().as_secs_f64() / bench.reps as f64;
    let after = super::memory_reserved::<B>(device);
    let model = bench.shape(t);
    let model_peak = model.peak_bytes(kind) as u64;
    let measured = before.zip(after).map(|(b, a)| a.saturating_sub(b));
    drop((q, k, v, d_out));
    B::memory_cleanup(device);
    AttentionRow {
        kind,
        t,
        seconds,
        peak_bytes: measured.unwrap_or(model_peak),
        peak_measured: measured.is_some(),
        model_peak_bytes: model_peak,
        traffic_bytes: model.traffic_bytes(kind),
    }
}

/// What a benchmark reports as it goes.
pub enum Progress<'a> {
    Row(&'a AttentionRow),
    Skipped(&'a SkippedRow),
}

/// Every row of `bench`: the fused kernels over all lengths, then the reference (so the reference's
/// large pools are not already reserved when the fused rows are measured). A kind stops at the
/// first length beyond the memory or buffer limits, or after a row slower than
/// `bench.max_seconds`; the rows not run are reported with the reason. On a backend without the
/// fused kernels (the CPU) only the reference runs.
pub async fn run<B: AutodiffBackend>(
    bench: &AttentionBench,
    device: &B::Device,
    mut report: impl FnMut(Progress<'_>),
) -> (Vec<AttentionRow>, Vec<SkippedRow>) {
    let mut rows = Vec::new();
    let mut skipped = Vec::new();
    for kind in AttentionKernel::ALL {
        if kind == AttentionKernel::Fused && !super::available::<B>() {
            let s = SkippedRow {
                kind,
                t: 0,
                reason: format!("{} has no fused kernels: the reference runs instead", B::name(device)),
            };
            report(Progress::Skipped(&s));
            skipped.push(s);
            continue;
        }
        let mut stop: Option<String> = None;
        for &t in &bench.lengths {
            if let Some(reason) = bench.skip_reason(kind, t).or_else(|| stop.clone()) {
                let s = SkippedRow { kind, t, reason };
                report(Progress::Skipped(&s));
                skipped.push(s);
                continue;
            }
            let row = measure::<B>(bench, kind, t, device).await;
            if row.seconds > bench.max_seconds {
                stop =
                    Some(format!("T = {t} took {:.1} s per pass, over the {} s limit", row.seconds, bench.max_seconds));
            }
            report(Progress::Row(&row));
            rows.push(row);
        }
    }
    (rows, skipped)
}

/// Whether `B` has memory pools to measure (else peaks are the model's).
pub fn measures_memory<B: Backend>(device: &B::Device) -> bool {
    super::memory_reserved::<B>(device).is_some()
}
