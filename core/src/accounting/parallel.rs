//! # What data parallelism costs (CS336 lecture 7, assignment 2)
//!
//! Data parallelism trains one model on G GPUs by giving each a slice of the batch and averaging
//! the gradients every step. The average is an **all-reduce**; the ring algorithm (what NCCL and
//! MPI use for large messages) sends every byte around the ring twice, once to reduce-scatter and
//! once to all-gather, so each GPU moves `2(G−1)/G · bytes` over its link:
//!
//! ```text
//! t_allreduce = 2(G−1)/G · grad_bytes · N / link_bandwidth        (independent of G, almost)
//! t_compute   = 6 · N · tokens_per_gpu / (peak · MFU)             (forward 2N, backward 4N)
//! ```
//!
//! Both grow with N, so whether communication hides is a question of **tokens per GPU per step**:
//! with the reduction overlapped with the backward (DDP's buckets), it hides once the backward takes
//! longer, at `tokens ≥ t_allreduce · peak · MFU / (4N)` — N cancels. The link sets the threshold:
//! NVLink hides it at a few hundred tokens per GPU, 100 Gb Ethernet needs tens of thousands.
//!
//! Memory is the other limit: every data-parallel rank holds the whole model's states (16 bytes a
//! parameter with mixed-precision Adam). ZeRO (Rajbhandari et al., 2020, arXiv:1910.02054) shards
//! them across the G ranks: stage 1 the optimizer states, stage 2 the gradients too, stage 3 the
//! weights too, for 1×, 1× and 1.5× the communication of plain data parallelism. A model too big
//! even so is split by tensor parallelism (inside a node, over NVLink) and pipeline parallelism
//! (across nodes): [`split_3d`] does that for the seed's 1,024-H100 example.

use serde::Serialize;

use super::hardware::{find_gpu, Gpu};
use super::memory::TrainingPrecision;
use crate::exercise::{Exercise, Tolerance};
use crate::units::{parse_count, parse_number, parse_positive};
use crate::InputError;

/// An interconnect, by the bandwidth one GPU can send at in one direction (what a ring uses).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Link {
    pub key: &'static str,
    pub title: &'static str,
    /// Bytes per second per GPU per direction.
    pub bytes_per_s: f64,
    /// Where it connects GPUs: "within a node" or "between nodes".
    pub scope: &'static str,
}

const GB: f64 = 1e9;

/// The interconnects of the lesson. Figures are the vendors' per-GPU numbers, halved where the
/// datasheet gives both directions together:
/// * NVLink 3 (A100): 600 GB/s total — NVIDIA A100 Tensor Core GPU datasheet (2021);
/// * NVLink 4 (H100/H200 SXM): 900 GB/s total — NVIDIA H100 Tensor Core GPU datasheet (2023);
/// * NVLink 5 (B200): 1.8 TB/s total — NVIDIA Blackwell architecture technical brief (2024);
/// * PCIe 4.0 / 5.0 ×16: 32 / 64 GB/s per direction — PCI-SIG base specifications 4.0 (2017), 5.0 (2019);
/// * InfiniBand HDR / NDR / XDR: 200 / 400 / 800 Gb/s per port, one port per GPU as in a DGX H100
///   (8× ConnectX-7 at 400 Gb/s) — NVIDIA DGX H100 user guide, ConnectX-7/-8 product briefs;
/// * Ethernet 100 / 400 GbE (RoCE): 100 / 400 Gb/s per port — IEEE 802.3ba, 802.3bs.
pub fn links() -> Vec<Link> {
    let link = |key, title, bytes_per_s, scope| Link { key, title, bytes_per_s, scope };
    vec![
        link("nvlink3", "NVLink 3 (A100)", 300.0 * GB, "within a node"),
        link("nvlink4", "NVLink 4 (H100, H200)", 450.0 * GB, "within a node"),
        link("nvlink5", "NVLink 5 (B200)", 900.0 * GB, "within a node"),
        link("pcie4", "PCIe 4.0 ×16", 32.0 * GB, "within a node"),
        link("pcie5", "PCIe 5.0 ×16", 64.0 * GB, "within a node"),
        link("ib-hdr", "InfiniBand HDR, 200 Gb/s per GPU", 25.0 * GB, "between nodes"),
        link("ib-ndr", "InfiniBand NDR, 400 Gb/s per GPU", 50.0 * GB, "between nodes"),
        link("ib-xdr", "InfiniBand XDR, 800 Gb/s per GPU", 100.0 * GB, "between nodes"),
        link("eth-100g", "Ethernet 100 GbE (RoCE)", 12.5 * GB, "between nodes"),
        link("eth-400g", "Ethernet 400 GbE (RoCE)", 50.0 * GB, "between nodes"),
    ]
}

/// The link named `key` (`nvlink4`, `ib-ndr`, …).
pub fn find_link(key: &str) -> Result<Link, InputError> {
    let wanted = key.trim().to_ascii_lowercase();
    links().into_iter().find(|l| l.key == wanted).ok_or_else(|| {
        let keys: Vec<&str> = links().iter().map(|l| l.key).collect();
        InputError::new("--link", key, format!("one of: {}", keys.join(", ")))
    })
}

/// The ring all-reduce's traffic per GPU as a multiple of the buffer: 2(G−1)/G.
pub fn ring_factor(gpus: u64) -> f64 {
    2.0 * (gpus.saturating_sub(1)) as f64 / gpus.max(1) as f64
}

/// Seconds to all-reduce `bytes` across `gpus` by a ring whose links move `bytes_per_s` per GPU
/// per direction (bandwidth term only: at gradient sizes the per-hop latency is negligible).
pub fn ring_all_reduce_seconds(bytes: f64, gpus: u64, bytes_per_s: f64) -> f64 {
    ring_factor(gpus) * bytes / bytes_per_s
}

/// One row of the ZeRO table: bytes of model state one GPU holds.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ZeroStage {
    /// 0 = plain data parallelism (DDP).
    pub stage: u8,
    pub label: &'static str,
    pub weights: f64,
    pub gradients: f64,
    /// Master weights and Adam's moments.
    pub optimizer: f64,
    pub total: f64,
    /// Communication per step relative to DDP's all-reduce.
    pub comm_factor: f64,
}

/// Model-state bytes per GPU for `params` parameters over `gpus` data-parallel ranks, without
/// ZeRO and with each stage (ZeRO paper, table 1; Ψ = params, K = optimizer bytes per parameter).
pub fn zero_stages(params: f64, gpus: u64, precision: TrainingPrecision) -> Vec<ZeroStage> {
    let b = precision.state_bytes();
    let g = gpus.max(1) as f64;
    let (w, gr, opt) =
        (b.weights as f64 * params, b.gradients as f64 * params, (b.master_weights + b.optimizer) as f64 * params);
    let row = |stage, label, weights: f64, gradients: f64, optimizer: f64, comm_factor| ZeroStage {
        stage,
        label,
        weights,
        gradients,
        optimizer,
        total: weights + gradients + optimizer,
        comm_factor,
    };
    vec![
        row(0, "data parallel (DDP): everything replicated", w, gr, opt, 1.0),
        row(1, "ZeRO-1: optimizer states sharded", w, gr, opt / g, 1.0),
        row(2, "ZeRO-2: + gradients sharded", w, gr / g, opt / g, 1.0),
        row(3, "ZeRO-3 (FSDP): + weights sharded", w / g, gr / g, opt / g, 1.5),
    ]
}

/// What `lmlab estimate parallel` and the Compute page's section compute.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ParallelReport {
    pub params: f64,
    pub gpus: u64,
    pub gpu: String,
    pub link: String,
    pub link_bytes_per_s: f64,
    pub grad_bytes_per_param: f64,
    /// Gradient bytes each GPU all-reduces per step.
    pub grad_bytes: f64,
    pub ring_factor: f64,
    pub comm_s: f64,
    pub tokens_per_gpu: f64,
    pub mfu: f64,
    pub peak_flops: f64,
    /// Forward + backward of one GPU's tokens.
    pub compute_s: f64,
    pub forward_s: f64,
    pub backward_s: f64,
    /// Reduction after the backward: compute + communication.
    pub step_serial_s: f64,
    /// Reduction overlapped with the backward (buckets): forward + max(backward, communication).
    pub step_overlapped_s: f64,
    /// Per-GPU throughput against one GPU alone, without and with overlap.
    pub efficiency_serial: f64,
    pub efficiency_overlapped: f64,
    /// Tokens per GPU per step from which communication hides behind the backward.
    pub hide_tokens_per_gpu: f64,
    pub zero: Vec<ZeroStage>,
    pub memory_bytes: f64,
}

/// The data-parallel estimate: all-reduce time, compute time, overlap, ZeRO memory.
pub struct ParallelQuery {
    pub params: f64,
    pub gpus: u64,
    pub grad_bytes_per_param: f64,
    pub link: Link,
    pub gpu: Gpu,
    pub mfu: f64,
    pub tokens_per_gpu: f64,
    pub precision: TrainingPrecision,
}

pub fn estimate_parallel(q: &ParallelQuery) -> ParallelReport {
    let peak = match q.precision {
        TrainingPrecision::Fp32 => q.gpu.peak_tf32,
        TrainingPrecision::MixedBf16 => q.gpu.peak_bf16,
    };
    let grad_bytes = q.params * q.grad_bytes_per_param;
    let comm_s = ring_all_reduce_seconds(grad_bytes, q.gpus, q.link.bytes_per_s);
    let rate = peak * q.mfu;
    let forward_s = 2.0 * q.params * q.tokens_per_gpu / rate;
    let backward_s = 2.0 * forward_s;
    let compute_s = forward_s + backward_s;
    let step_serial_s = compute_s + comm_s;
    let step_overlapped_s = forward_s + backward_s.max(comm_s);
    ParallelReport {
        params: q.params,
        gpus: q.gpus,
        gpu: q.gpu.title.clone(),
        link: q.link.title.into(),
        link_bytes_per_s: q.link.bytes_per_s,
        grad_bytes_per_param: q.grad_bytes_per_param,
        grad_bytes,
        ring_factor: ring_factor(q.gpus),
        comm_s,
        tokens_per_gpu: q.tokens_per_gpu,
        mfu: q.mfu,
        peak_flops: peak,
        compute_s,
        forward_s,
        backward_s,
        step_serial_s,
        step_overlapped_s,
        efficiency_serial: compute_s / step_serial_s,
        efficiency_overlapped: compute_s / step_overlapped_s,
        hide_tokens_per_gpu: comm_s * rate / (4.0 * q.params),
        zero: zero_stages(q.params, q.gpus, q.precision),
        memory_bytes: q.gpu.memory_bytes,
    }
}

/// The estimate's inputs as typed (CLI flags and the page's fields alike).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParallelForm {
    pub params: String,
    pub gpus: String,
    pub grad_bytes: String,
    /// A catalog link key; ignored when `bandwidth_gbps` is given.
    pub link: String,
    /// GB/s per GPU per direction, overriding the link.
    pub bandwidth_gbps: String,
    pub gpu: String,
    pub mfu: String,
    pub tokens_per_gpu: String,
    pub precision: String,
}

impl Default for ParallelForm {
    /// GPT-2 small on one 8-GPU H100 node, 32 sequences of 1,024 tokens per GPU.
    fn default() -> Self {
        Self {
            params: "124M".into(),
            gpus: "8".into(),
            grad_bytes: "2".into(),
            link: "nvlink4".into(),
            bandwidth_gbps: String::new(),
            gpu: "h100".into(),
            mfu: "0.5".into(),
            tokens_per_gpu: "32768".into(),
            precision: "mixed-bf16".into(),
        }
    }
}

impl ParallelForm {
    pub fn evaluate(&self) -> Result<ParallelReport, InputError> {
        let params = parse_positive("--params", &self.params)?;
        let gpus = parse_count("--gpus", &self.gpus)?;
        let grad_bytes_per_param = parse_positive("--grad-bytes", &self.grad_bytes)?;
        let link = match self.bandwidth_gbps.trim() {
            "" => find_link(&self.link)?,
            t => Link {
                key: "custom",
                title: "custom link",
                bytes_per_s: parse_positive("--bandwidth-gbps", t)? * GB,
                scope: "as given",
            },
        };
        let gpu = find_gpu(&self.gpu).map_err(|e| InputError { field: "--gpu".into(), ..e })?;
        let mfu = parse_number("--mfu", &self.mfu)?;
        if !(mfu > 0.0 && mfu <= 1.0) {
            return Err(InputError::new("--mfu", &self.mfu, "a fraction in (0, 1], e.g. 0.5"));
        }
        let tokens_per_gpu = parse_positive("--tokens-per-gpu", &self.tokens_per_gpu)?;
        let precision =
            TrainingPrecision::parse(&self.precision).map_err(|e| InputError { field: "--precision".into(), ..e })?;
        Ok(estimate_parallel(&ParallelQuery {
            params,
            gpus,
            grad_bytes_per_param,
            link,
            gpu,
            mfu,
            tokens_per_gpu,
            precision,
        }))
    }
}

/// How a model's training splits over a cluster: tensor × pipeline × data parallel.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Split3d {
    pub params: f64,
    pub gpus: u64,
    pub gpus_per_node: u64,
    /// Tensor parallel: within a node (every layer all-reduces its activations: NVLink only).
    pub tensor: u64,
    /// Pipeline parallel: stages of consecutive layers, across nodes (only activations cross).
    pub pipeline: u64,
    /// Data parallel: replicas of the (tensor × pipeline)-GPU model.
    pub data: u64,
    /// Model-state bytes per GPU: weights and gradients split by tensor × pipeline, optimizer
    /// states also by data (ZeRO-1).
    pub state_bytes_per_gpu: f64,
    pub memory_bytes: f64,
    /// The share of memory model states may take (the rest is for activations).
    pub budget_fraction: f64,
    /// Gradient bytes each GPU all-reduces with its data-parallel peers per step (bf16).
    pub dp_grad_bytes: f64,
    /// That all-reduce's seconds over InfiniBand NDR (the replicas are in different nodes).
    pub dp_comm_s: f64,
    /// Tokens per step across the cluster (Llama's 4M) and each GPU's compute seconds for its
    /// share at 50% MFU (bf16): what the all-reduce has to hide behind.
    pub global_batch_tokens: f64,
    pub compute_s: f64,
    pub why: String,
}

/// Splits training of `params` parameters over `gpus` GPUs of `gpu`, `gpus_per_node` to a node:
/// tensor parallelism across a node when one GPU cannot hold the model states, then the fewest
/// pipeline stages (a power of two) whose share of the states, with ZeRO-1 over the data-parallel
/// replicas, fits in `budget_fraction` of a GPU's memory; the rest is data parallel. This is the
/// usual order of choice (Megatron-LM, Narayanan et al. 2021): tensor parallel never leaves the
/// NVLink domain, pipeline next, data parallel takes what is left.
pub fn split_3d(
    params: f64,
    gpus: u64,
    gpus_per_node: u64,
    gpu: &Gpu,
    precision: TrainingPrecision,
    budget_fraction: f64,
) -> Split3d {
    let b = precision.state_bytes();
    let sharded_by_model = (b.weights + b.gradients) as f64 * params;
    let optimizer = (b.master_weights + b.optimizer) as f64 * params;
    let budget = gpu.memory_bytes * budget_fraction;
    let per_gpu = |tp: u64, pp: u64| {
        let dp = (gpus / (tp * pp)).max(1);
        sharded_by_model / (tp * pp) as f64 + optimizer / (tp * pp * dp) as f64
    };
    let tensor = if per_gpu(1, 1) <= budget { 1 } else { gpus_per_node.min(gpus).max(1) };
    let mut pipeline = 1;
    while per_gpu(tensor, pipeline) > budget && tensor * pipeline * 2 <= gpus {
        pipeline *= 2;
    }
    let data = (gpus / (tensor * pipeline)).max(1);
    let state = per_gpu(tensor, pipeline);
    let dp_grad_bytes = 2.0 * params / (tensor * pipeline) as f64;
    let ndr = find_link("ib-ndr").expect("in the catalog");
    let why = format!(
        "{tensor}-way tensor parallel {}; {pipeline} pipeline stage(s) so that each GPU's share of the model states \
         ({:.1} GB with ZeRO-1) fits in {:.0}% of its {:.0} GB; {data} data-parallel replicas of that {}-GPU model",
        if tensor > 1 {
            "inside each node (its NVLink carries the per-layer all-reduces)"
        } else {
            "(one GPU holds it)"
        },
        state / GB,
        100.0 * budget_fraction,
        gpu.memory_bytes / GB,
        tensor * pipeline
    );
    Split3d {
        params,
        gpus,
        gpus_per_node,
        tensor,
        pipeline,
        data,
        state_bytes_per_gpu: state,
        memory_bytes: gpu.memory_bytes,
        budget_fraction,
        dp_grad_bytes,
        dp_comm_s: ring_all_reduce_seconds(dp_grad_bytes, data, ndr.bytes_per_s),
        global_batch_tokens: GLOBAL_BATCH_TOKENS,
        compute_s: 6.0 * params * GLOBAL_BATCH_TOKENS / gpus as f64 / (gpu.peak_bf16 * 0.5),
        why,
    }
}

/// Tokens per step of the split's example: 4M (2²²), Llama 2's and Llama 3's global batch.
const GLOBAL_BATCH_TOKENS: f64 = 4_194_304.0;

/// The seed's example: a 70B model on 1,024 H100s (8 per node), mixed precision, states in 60% of
/// memory.
pub fn seed_split() -> Split3d {
    let h100 = find_gpu("h100").expect("in the catalog");
    split_3d(70e9, 1024, 8, &h100, TrainingPrecision::MixedBf16, 0.6)
}

/// Predict-then-check questions; every answer is computed by this module.
pub fn exercises() -> Vec<Exercise> {
    let nvlink = find_link("nvlink4").expect("in the catalog").bytes_per_s;
    let ndr = find_link("ib-ndr").expect("in the catalog").bytes_per_s;
    let h100 = find_gpu("h100").expect("in the catalog");
    let hide = ring_all_reduce_seconds(2.0, 8, nvlink) * h100.peak_bf16 * 0.5 / 4.0;
    vec![
        Exercise::new(
            "allreduce-7b-nvlink",
            "How many seconds does a ring all-reduce of a 7B model's bf16 gradients take across the 8 H100s of one \
             node (NVLink 4: 450 GB/s per GPU per direction)?",
            ring_all_reduce_seconds(2.0 * 7e9, 8, nvlink),
            Tolerance::Relative(0.05),
            "s",
            "2(G−1)/G · bytes / bandwidth = 1.75 × 14 GB / 450 GB/s ≈ 0.054 s: each GPU sends (and receives) almost \
             twice the gradient, whatever G.",
        ),
        Exercise::new(
            "allreduce-7b-ib",
            "And across 64 H100s in 8 nodes, where the ring is limited by InfiniBand NDR (50 GB/s per GPU)?",
            ring_all_reduce_seconds(2.0 * 7e9, 64, ndr),
            Tolerance::Relative(0.05),
            "s",
            "2·63/64 × 14 GB / 50 GB/s ≈ 0.55 s — ten times longer: the slowest link in the ring sets the pace.",
        ),
        Exercise::new(
            "zero3-70b-64",
            "How many GB of model states does each of 64 GPUs hold when a 70B model is trained with mixed-precision \
             Adam (16 bytes/parameter) under ZeRO-3?",
            zero_stages(70e9, 64, TrainingPrecision::MixedBf16)[3].total / GB,
            Tolerance::Relative(0.02),
            "GB",
            "16 × 70e9 / 64 = 17.5 GB; without ZeRO every GPU would need 1,120 GB.",
        ),
        Exercise::new(
            "hide-tokens-nvlink",
            "From how many tokens per GPU per step does the bf16 gradient all-reduce of 8 H100s over NVLink hide \
             behind the backward pass (bf16 at 50% MFU)? N cancels.",
            hide,
            Tolerance::Relative(0.05),
            "tokens",
            "Communication 1.75 × 2N / 450e9 s equals the backward 4N·tokens / (989e12 × 0.5) s at ≈ 960 tokens: any \
             real batch hides it inside a node. Over 100 GbE the threshold is 36× higher.",
        ),
        Exercise::new(
            "seed-70b-replicas",
            "The seed's 70B model on 1,024 H100s: with 8-way tensor parallelism in each node and the states fitting \
             without pipeline stages, how many data-parallel replicas train it?",
            seed_split().data as f64,
            Tolerance::Absolute(0.5),
            "replicas",
            "1,024 / (8 × 1) = 128 replicas, each all-reducing its 17.5 GB of bf16 gradient shards over InfiniBand.",
        ),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The ring factor and times by hand.
    #[test]
    fn ring_all_reduce_by_hand() {
        assert_eq!(ring_factor(1), 0.0);
        assert_eq!(ring_factor(2), 1.0);
        assert!((ring_factor(8) - 1.75).abs() < 1e-12);
        // 14 GB over NVLink 4 among 8: 1.75 × 14e9 / 450e9.
        assert!((ring_all_reduce_seconds(14e9, 8, 450e9) - 0.054_444).abs() < 1e-5);
    }

    /// ZeRO paper, figure 1: Ψ = 7.5B, K = 12, N_d = 64 → 120 GB, 31.4 GB, 16.6 GB, 1.88 GB.
    #[test]
    fn zero_matches_the_paper() {
        let rows = zero_stages(7.5e9, 64, TrainingPrecision::MixedBf16);
        let gb: Vec<f64> = rows.iter().map(|r| r.total / GB).collect();
        for (got, want) in gb.iter().zip([120.0, 31.4, 16.6, 1.88]) {
            assert!((got - want).abs() / want < 0.01, "{gb:?}");
        }
    }

    /// The hiding threshold is where the backward equals the all-reduce, whatever N.
    #[test]
    fn hiding_threshold_balances_backward_and_comm() {
        let mut form = ParallelForm { params: "7e9".into(), ..ParallelForm::default() };
        let r = form.evaluate().unwrap();
        form.tokens_per_gpu = r.hide_tokens_per_gpu.to_string();
        let at = form.evaluate().unwrap();
        assert!((at.backward_s - at.comm_s).abs() / at.comm_s < 1e-9);
        assert!((at.step_overlapped_s - at.compute_s).abs() < 1e-12);
        form.params = "70e9".into();
        assert!((form.evaluate().unwrap().hide_tokens_per_gpu - r.hide_tokens_per_gpu).abs() < 1e-6);
        let bad = ParallelForm { link: "carrier-pigeon".into(), ..ParallelForm::default() }.evaluate().unwrap_err();
        assert!(bad.to_string().contains("nvlink4"), "{bad}");
    }

    #[test]
    fn seed_split_is_tp8_dp128() {
        let s = seed_split();
        assert_eq!((s.tensor, s.pipeline, s.data), (8, 1, 128));
        assert_eq!(s.tensor * s.pipeline * s.data, 1024);
        // 405B needs pipeline stages too.
        let h100 = find_gpu("h100").unwrap();
        let big = split_3d(405e9, 1024, 8, &h100, TrainingPrecision::MixedBf16, 0.6);
        assert!(big.pipeline > 1 && big.state_bytes_per_gpu <= 0.6 * h100.memory_bytes, "{big:?}");
        assert_eq!(big.tensor * big.pipeline * big.data, 1024);
    }
}
