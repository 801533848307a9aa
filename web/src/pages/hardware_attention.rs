//! The Hardware page's attention lesson: naive vs fused (FlashAttention-2) attention on the
//! student's GPU. The measurement runs in the training worker (burn lives there, not in the
//! page's bundle) — `lmlab::model::attention::bench`, what `lmlab bench attention` runs — and the
//! arithmetic beside it is `lmlab::hardware::attention`. This view only draws.

use lmlab::hardware::attention::{
    growth_exponent, ratios, AttentionBench, AttentionRow, AttentionShape, KERNEL_FILE, KERNEL_SOURCE,
};
use lmlab::model::plan::AttentionKernel;
use lmlab::units::format_bytes;
use yew::prelude::*;

use crate::components::field::{SelectField, TextField};
use crate::train::session;

/// Lengths the page starts with: seconds on a laptop GPU, a minute or two on a CPU emulation.
const DEFAULT_LENGTHS: &str = "128,256,512,1024";

/// The longest T the page offers: beyond it a browser's buffers and patience run out (natively,
/// `lmlab bench attention` goes to [`lmlab::hardware::attention::MAX_LENGTH`]).
const PAGE_MAX_LENGTH: usize = 16_384;

/// The lengths typed, or what is wrong with them.
fn parse_lengths(text: &str) -> Result<Vec<usize>, String> {
    let lengths = lmlab::hardware::attention::parse_lengths("lengths", text).map_err(|e| e.to_string())?;
    match lengths.last() {
        Some(&t) if t > PAGE_MAX_LENGTH => {
            Err(format!("lengths: {t} is beyond this page's {PAGE_MAX_LENGTH} (use lmlab bench attention natively)"))
        }
        _ => Ok(lengths),
    }
}

#[function_component(AttentionLesson)]
pub fn attention_lesson() -> Html {
    let redraw = use_force_update();
    use_effect_with((), move |_| {
        let id = session::subscribe(Callback::from(move |_| redraw.force_update()));
        move || session::unsubscribe(id)
    });
    let lengths = use_state(|| DEFAULT_LENGTHS.to_string());
    let head = use_state(|| "64".to_string());
    let st = session::state();
    let bench = &st.attention;
    let parsed = parse_lengths(&lengths);
    let head_size: usize = head.parse().unwrap_or(64);
    let request = parsed.clone().map(|lengths| AttentionBench {
        head: head_size,
        lengths,
        reps: 2,
        max_seconds: 20.0,
        max_bytes: 2.0 * (1u64 << 30) as f64,
        ..AttentionBench::default_shape()
    });
    let training = st.phase.busy();
    let on_run = {
        let request = request.clone();
        Callback::from(move |_: MouseEvent| {
            if let Ok(r) = request.clone() {
                session::bench_attention(r);
            }
        })
    };
    let shape_at =
        |t| request.as_ref().map(|r| r.shape(t)).unwrap_or(AttentionShape { batch: 2, heads: 4, head: head_size, t });
    let largest = parsed.as_ref().ok().and_then(|l| l.last().copied()).unwrap_or(1024);
    let heads = [("16", "16"), ("64", "64"), ("128", "128")].map(|(k, v)| (k.to_string(), v.to_string())).to_vec();
    html! {
        <section class="attention-lesson" id="attention-lesson">
            <h2>{"Attention: naive vs fused"}</h2>
            <p>{"The textbook attention computes the scores S = Q·Kᵀ/√d, the probabilities P = softmax(S + mask) and O = P·V as \
                separate tensor operations: each writes a [batch, heads, T, T] matrix to memory and the next reads it back, and \
                autodiff keeps P for the backward. FlashAttention computes the same O tile by tile: a block of queries stays on \
                chip while blocks of K and V stream past it, an online softmax rescales the running sum as each block arrives, \
                and only O and one log-sum-exp per row are written. The backward recomputes P from Q, K and that log-sum-exp \
                instead of storing it (FlashAttention-2's algorithm 2, with D = rowsum(dO ∘ O))."}</p>
            { arithmetic(&shape_at(largest)) }
            <div class="row">
                <TextField id="attn-lengths" label="Sequence lengths T" value={(*lengths).clone()}
                    oninput={{ let l = lengths.clone(); Callback::from(move |v: String| l.set(v)) }}
                    error={parsed.as_ref().err().cloned()}
                    hint="Comma-separated; 2 sequences × 4 heads, forward + backward in f32. 2048 and up take minutes on a CPU emulation." />
                <SelectField id="attn-head" label="Head size d" options={heads} value={(*head).clone()}
                    onchange={{ let h = head.clone(); Callback::from(move |v: String| h.set(v)) }} />
                <button id="attn-run" class="check" onclick={on_run} disabled={bench.running || training || parsed.is_err()}>
                    { if bench.running { "Measuring…" } else { "Run naive vs fused" } }
                </button>
            </div>
            if training {
                <p class="hint" id="attn-busy">{"The training worker is busy with a run on the Train page: stop it to measure attention."}</p>
            }
            <p class="hint">{"Natively: "}<code>{ format!("lmlab bench attention --head {head_size} --lengths {}", parsed.as_ref().map(|l| l.iter().map(|t| t.to_string()).collect::<Vec<_>>().join(",")).unwrap_or_default()) }</code></p>
            if let Some(e) = &bench.error {
                <p class="error" id="attn-error" role="alert">{ e.clone() }</p>
            }
            if !bench.rows.is_empty() || !bench.skipped.is_empty() {
                { results(bench.rows.as_slice(), &bench.skipped, bench.done.as_ref(), bench.runs) }
            }
            <details class="kernel" id="attn-source">
                <summary>{ format!("{KERNEL_FILE} — the kernels, in CubeCL (compiled to WGSL here, to CUDA on NVIDIA)") }</summary>
                <pre class="source"><code>{ KERNEL_SOURCE }</code></pre>
            </details>
        </section>
    }
}

/// The memory-traffic arithmetic at one shape: why the naive form is bandwidth-bound.
fn arithmetic(s: &AttentionShape) -> Html {
    let flops = s.flops();
    let [naive, fused] = [AttentionKernel::Reference, AttentionKernel::Fused].map(|k| s.traffic_bytes(k));
    html! {
        <div class="attn-arithmetic" id="attn-arithmetic">
            <p>{ format!(
                "At T = {}, {} × {} heads of {}: one T×T f32 matrix is {}; the naive forward + backward keeps about {} \
                 (P, dP, dS and a temporary) and moves about {} through memory for {:.3} GFLOP — {:.0} FLOPs per byte, far \
                 below any GPU's ridge point (an H100 needs ~20 in f32, ~300 in bf16): bandwidth-bound. The fused kernels \
                 keep {} (O, the gradients, a log-sum-exp and a delta per row) and their loads request about {} — {:.0} \
                 FLOPs per byte — most of it K and V re-read once per tile of queries: a few hundred KiB per head, which a \
                 GPU's L2 cache serves, so what reaches DRAM is closer to the [T, d] tensors alone.",
                s.t, s.batch, s.heads, s.head,
                format_bytes(s.tt_bytes(4.0)),
                format_bytes(s.peak_bytes(AttentionKernel::Reference)),
                format_bytes(naive), flops / 1e9, flops / naive,
                format_bytes(s.peak_bytes(AttentionKernel::Fused)),
                format_bytes(fused), flops / fused) }</p>
        </div>
    }
}

fn results(
    rows: &[AttentionRow],
    skipped: &[lmlab::hardware::attention::SkippedRow],
    done: Option<&(String, bool)>,
    runs: u64,
) -> Html {
    let measured = rows.iter().any(|r| r.peak_measured);
    let mut lengths: Vec<usize> = rows.iter().map(|r| r.t).collect();
    lengths.sort_unstable();
    lengths.dedup();
    let growth = |k| growth_exponent(rows, k).map_or("—".to_string(), |p| format!("T^{p:.2}"));
    html! {
        <div class="attn-results" id="attn-results" data-runs={runs.to_string()} data-done={done.is_some().to_string()}>
            if let Some((device, _)) = done {
                <p class="hint" id="attn-device">{ format!("Measured on {device}.") }</p>
            }
            <div class="table-scroll">
            <table id="attn-table">
                <thead><tr>
                    <th>{"kernel"}</th><th>{"T"}</th><th>{"ms / forward + backward"}</th>
                    <th>{ if measured { "peak memory (measured)" } else { "peak memory (model)" } }</th>
                    <th>{"model peak"}</th><th>{"model traffic"}</th>
                </tr></thead>
                <tbody>
                    { for rows.iter().map(|r| html! {
                        <tr data-kind={r.kind.key()} data-t={r.t.to_string()} data-seconds={r.seconds.to_string()} data-peak={r.peak_bytes.to_string()}>
                            <td>{ r.kind.key() }</td><td>{ r.t }</td><td>{ format!("{:.2}", r.seconds * 1e3) }</td>
                            <td>{ format_bytes(r.peak_bytes as f64) }</td><td>{ format_bytes(r.model_peak_bytes as f64) }</td>
                            <td>{ format_bytes(r.traffic_bytes) }</td>
                        </tr>
                    }) }
                </tbody>
            </table>
            </div>
            <ul id="attn-ratios">
                { for lengths.iter().filter_map(|&t| ratios(rows, t).map(|(speed, memory)| html! {
                    <li data-t={t.to_string()} data-speedup={speed.to_string()}>{ format!(
                        "T = {t}: fused is {speed:.2}× the naive speed, {}",
                        memory.map_or("memory below the pools' page size".into(), |m| format!("with {m:.1}× less memory"))) }</li>
                })) }
                <li id="attn-growth">{ format!("Peak memory grows as {} (fused) and {} (naive): 1 is linear, 2 quadratic.",
                    growth(AttentionKernel::Fused), growth(AttentionKernel::Reference)) }</li>
            </ul>
            if !skipped.is_empty() {
                <ul class="hint" id="attn-skipped">
                    { for skipped.iter().map(|s| html! { <li>{ if s.t == 0 { format!("{}: {}", s.kind.key(), s.reason) } else { format!("{} at T = {}: skipped, {}", s.kind.key(), s.t, s.reason) } }</li> }) }
                </ul>
            }
        </div>
    }
}
