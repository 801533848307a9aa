//! The Compute lab's data-parallel lesson: what averaging gradients across GPUs costs
//! (`lmlab::accounting::parallel`, the numbers `lmlab estimate parallel` prints). Its inputs live
//! in the Compute page's form under [`KEYS`] (so the URL keeps them with the rest of the scenario);
//! the training precision is the Memory section's.

use lmlab::accounting::gpu_catalog;
use lmlab::accounting::parallel::{self, links, ParallelForm, ParallelReport};
use lmlab::units::{format_count, format_number, format_step_time};
use lmlab::InputError;
use yew::prelude::*;

use crate::components::charts::{Segment, StackedBar};
use crate::components::field::{SelectField, TextField};

/// The section's inputs as keys of the Compute page's form (and URL).
pub const KEYS: [&str; 8] =
    ["dp_params", "dp_gpus", "dp_grad_bytes", "dp_link", "dp_bw", "dp_gpu", "dp_mfu", "dp_tokens"];

/// The form's field under `key` (one of [`KEYS`], or `precision`).
fn field<'a>(f: &'a mut ParallelForm, key: &str) -> &'a mut String {
    match key {
        "dp_params" => &mut f.params,
        "dp_gpus" => &mut f.gpus,
        "dp_grad_bytes" => &mut f.grad_bytes,
        "dp_link" => &mut f.link,
        "dp_bw" => &mut f.bandwidth_gbps,
        "dp_gpu" => &mut f.gpu,
        "dp_mfu" => &mut f.mfu,
        "dp_tokens" => &mut f.tokens_per_gpu,
        _ => &mut f.precision,
    }
}

/// The default of `key` (the lesson's GPT-2-small-on-8-H100s example).
pub fn default_of(key: &str) -> String {
    field(&mut ParallelForm::default(), key).clone()
}

/// The section's form from the page's values (`get` by key; `precision` is the Memory section's).
pub fn form_of(get: impl Fn(&str) -> String) -> ParallelForm {
    let mut f = ParallelForm::default();
    for key in KEYS.iter().chain(&["precision"]) {
        *field(&mut f, key) = get(key);
    }
    f
}

/// The key an error belongs to (its flag name → the field's key).
fn field_of(err: &InputError) -> &'static str {
    match err.field.as_str() {
        "--params" => "dp_params",
        "--gpus" => "dp_gpus",
        "--grad-bytes" => "dp_grad_bytes",
        "--bandwidth-gbps" => "dp_bw",
        "--mfu" => "dp_mfu",
        "--tokens-per-gpu" => "dp_tokens",
        "--link" => "dp_link",
        "--gpu" => "dp_gpu",
        _ => "precision",
    }
}

#[derive(Properties, PartialEq)]
pub struct ParallelProps {
    pub form: ParallelForm,
    /// A field changed: (key, new text).
    pub onchange: Callback<(&'static str, String)>,
}

#[function_component(ParallelSection)]
pub fn parallel_section(props: &ParallelProps) -> Html {
    let set = |key: &'static str| props.onchange.reform(move |v: String| (key, v));
    let mut current = props.form.clone();
    let value = |key: &str, f: &mut ParallelForm| AttrValue::from(field(f, key).clone());
    let report = props.form.evaluate();
    let error_for = |key: &str| report.as_ref().err().filter(|e| field_of(e) == key).map(|e| e.to_string());
    let text = |key: &'static str, label: &'static str, hint: Option<&'static str>, f: &mut ParallelForm| {
        html! { <TextField id={key.replace('_', "-")} label={label} value={value(key, f)} oninput={set(key)} error={error_for(key)} hint={hint.map(AttrValue::from)} /> }
    };
    let link_options: Vec<(String, String)> =
        links().iter().map(|l| (l.key.to_string(), format!("{} — {} GB/s", l.title, l.bytes_per_s / 1e9))).collect();
    let gpu_options: Vec<(String, String)> =
        gpu_catalog().into_iter().filter(|g| g.name != "custom").map(|g| (g.name, g.title)).collect();
    let grad_options =
        vec![("2".to_string(), "bf16 (2 bytes)".to_string()), ("4".to_string(), "fp32 (4 bytes)".to_string())];
    html! {
        <section id="data-parallel">
            <h2>{"Data parallelism: what communication costs"}</h2>
            <p>{"Each of G GPUs trains on its slice of the batch; every step they average gradients with an all-reduce. \
                A ring all-reduce sends each byte around twice (reduce-scatter, then all-gather), so every GPU moves \
                2(G−1)/G × the gradient over its link — almost independent of G. Compute per GPU is 6·N·tokens FLOPs. \
                Both grow with N: whether communication hides depends on the tokens per GPU and on the link."}</p>
            <div class="panel inputs">
                <div class="row">
                    { text("dp_params", "Parameters N", Some("e.g. 124M, 7B"), &mut current) }
                    { text("dp_gpus", "Data-parallel GPUs G", None, &mut current) }
                    <SelectField id="dp-link" label="Link" options={link_options} value={value("dp_link", &mut current)} onchange={set("dp_link")} />
                    { text("dp_bw", "or bandwidth (GB/s per GPU, one way)", Some("empty = the link's"), &mut current) }
                </div>
                <div class="row">
                    <SelectField id="dp-grad-bytes" label="Gradients sent as" options={grad_options} value={value("dp_grad_bytes", &mut current)} onchange={set("dp_grad_bytes")} />
                    <SelectField id="dp-gpu" label="GPU" options={gpu_options} value={value("dp_gpu", &mut current)} onchange={set("dp_gpu")} />
                    { text("dp_mfu", "MFU", Some("in (0, 1]"), &mut current) }
                    { text("dp_tokens", "Tokens per GPU per step", Some("batch × context"), &mut current) }
                </div>
            </div>
            { match &report {
                Ok(r) => report_view(r),
                Err(_) => html! { <div class="result-box waiting" id="dp-result">{"Waiting for valid input: see the field marked in red above."}</div> },
            } }
            { split_view() }
        </section>
    }
}

/// One configuration's step, the links compared, and the ZeRO table.
fn report_view(r: &ParallelReport) -> Html {
    let pct = |x: f64| format!("{:.1}%", 100.0 * x);
    let serial = vec![
        Segment { label: "forward".into(), value: r.forward_s, text: format_step_time(r.forward_s) },
        Segment { label: "backward".into(), value: r.backward_s, text: format_step_time(r.backward_s) },
        Segment { label: "all-reduce".into(), value: r.comm_s, text: format_step_time(r.comm_s) },
    ];
    let exposed = (r.comm_s - r.backward_s).max(0.0);
    let mut overlapped = vec![
        Segment { label: "forward".into(), value: r.forward_s, text: format_step_time(r.forward_s) },
        Segment {
            label: "backward, all-reduce alongside".into(),
            value: r.backward_s,
            text: format_step_time(r.backward_s),
        },
    ];
    if exposed > 0.0 {
        overlapped.push(Segment {
            label: "exposed all-reduce".into(),
            value: exposed,
            text: format_step_time(exposed),
        });
    }
    let scale = Some((r.step_serial_s, format!("serial step {}", format_step_time(r.step_serial_s))));
    let per_link: Vec<Html> = links()
        .iter()
        .map(|l| {
            let t = parallel::ring_all_reduce_seconds(r.grad_bytes, r.gpus, l.bytes_per_s);
            let hide = t * r.peak_flops * r.mfu / (4.0 * r.params);
            let hides = hide <= r.tokens_per_gpu;
            html! {
                <tr class={classes!((l.title == r.link).then_some("current"))}>
                    <td>{ l.title }</td><td>{ l.scope }</td>
                    <td class="num">{ format!("{} GB/s", l.bytes_per_s / 1e9) }</td>
                    <td class="num">{ format_step_time(t) }</td>
                    <td class="num">{ format_count(hide.ceil()) }</td>
                    <td>{ if hides { html! { <span class="yes">{"hidden"}</span> } } else { html! { <span class="no">{"exposed"}</span> } } }</td>
                </tr>
            }
        })
        .collect();
    let zero: Vec<Html> = r
        .zero
        .iter()
        .map(|z| {
            html! {
                <tr>
                    <td>{ z.label }</td>
                    <td class="num">{ gb(z.weights) }</td>
                    <td class="num">{ gb(z.gradients) }</td>
                    <td class="num">{ gb(z.optimizer) }</td>
                    <td class="num">{ gb(z.total) }</td>
                    <td>{ if z.total <= r.memory_bytes { html! { <span class="yes">{"yes"}</span> } } else { html! { <span class="no">{"no"}</span> } } }</td>
                    <td class="num">{ format!("{}×", z.comm_factor) }</td>
                </tr>
            }
        })
        .collect();
    html! {
        <div class="result-box" id="dp-result">
            <dl>
                <dt>{"gradients per step"}</dt>
                <dd id="dp-grad-bytes-out">{ format!("{} ({} bytes × {} parameters)", gb(r.grad_bytes), r.grad_bytes_per_param, format_count(r.params)) }</dd>
                <dt>{"ring all-reduce"}</dt>
                <dd id="dp-comm" data-seconds={r.comm_s.to_string()}>{ format!("{} = 2(G−1)/G = {:.3} × {} ÷ {}/s ({})", format_step_time(r.comm_s), r.ring_factor, gb(r.grad_bytes), gb(r.link_bytes_per_s), r.link) }</dd>
                <dt>{"compute per step"}</dt>
                <dd id="dp-compute">{ format!("{} = 6 × N × {} tokens ÷ ({} × MFU {}) on {}", format_step_time(r.compute_s), format_count(r.tokens_per_gpu), format_flops(r.peak_flops), r.mfu, r.gpu) }</dd>
                <dt>{"reduce after the backward"}</dt>
                <dd id="dp-serial">{ format!("{} per step — {} of linear scaling", format_step_time(r.step_serial_s), pct(r.efficiency_serial)) }</dd>
                <dt>{"overlapped with the backward (buckets)"}</dt>
                <dd id="dp-overlapped" data-efficiency={r.efficiency_overlapped.to_string()}>{ format!("{} per step — {} of linear scaling", format_step_time(r.step_overlapped_s), pct(r.efficiency_overlapped)) }</dd>
                <dt>{"communication hides from"}</dt>
                <dd id="dp-hide" data-tokens={r.hide_tokens_per_gpu.to_string()}>{ format!("{} tokens per GPU per step (now {}): the backward's 4·N·tokens FLOPs outlast the all-reduce. N cancels.", format_count(r.hide_tokens_per_gpu.ceil()), format_count(r.tokens_per_gpu)) }</dd>
            </dl>
            <h3>{"One step, reduce after the backward"}</h3>
            <StackedBar id="dp-serial-bar" segments={serial} capacity={scale.clone()} />
            <h3>{"One step, overlapped"}</h3>
            <StackedBar id="dp-overlap-bar" segments={overlapped} capacity={scale} />
            <h3>{"Every link, same model and GPUs"}</h3>
            <div class="table-scroll"><table class="data" id="dp-links">
                <thead><tr><th>{"link"}</th><th>{"where"}</th><th>{"per GPU, one way"}</th><th>{"all-reduce"}</th><th>{"tokens/GPU to hide"}</th><th>{"now"}</th></tr></thead>
                <tbody>{ for per_link }</tbody>
            </table></div>
            <h3>{ format!("Model states per GPU with ZeRO ({} per GPU)", gb(r.memory_bytes)) }</h3>
            <div class="table-scroll"><table class="data" id="dp-zero">
                <thead><tr><th></th><th>{"weights"}</th><th>{"gradients"}</th><th>{"optimizer"}</th><th>{"total"}</th><th>{"fits"}</th><th>{"communication"}</th></tr></thead>
                <tbody>{ for zero }</tbody>
            </table></div>
            <p class="hint">{"ZeRO (Rajbhandari et al., 2020) shards the optimizer states (stage 1), the gradients (2) and the weights (3) \
                across the data-parallel GPUs; stages 1–2 cost no extra communication (a reduce-scatter plus an all-gather is an all-reduce), \
                stage 3 gathers the weights again in the backward: 1.5×."}</p>
        </div>
    }
}

/// Bytes in decimal gigabytes, as vendors quote links and memory (`0.496 GB`, `450 GB`).
fn gb(bytes: f64) -> String {
    format!("{} GB", format_number(bytes / 1e9))
}

/// Peak FLOP/s as TFLOP/s.
fn format_flops(flops: f64) -> String {
    format!("{:.0} TFLOP/s", flops / 1e12)
}

/// The seed's 1,024-H100 example split into tensor × pipeline × data parallel.
fn split_view() -> Html {
    let s = parallel::seed_split();
    html! {
        <div class="result-box" id="dp-split">
            <h3>{ format!("The seed's example: a {} model on {} H100s", format_count(s.params), format_count(s.gpus as f64)) }</h3>
            <p id="dp-split-shape"><strong>{ format!("tensor {} × pipeline {} × data {}", s.tensor, s.pipeline, s.data) }</strong>{ format!(" = {} GPUs", format_count((s.tensor * s.pipeline * s.data) as f64)) }</p>
            <p>{ s.why.clone() }</p>
            <p>{ format!("Each GPU all-reduces its {} of bf16 gradient shards with its {} data-parallel peers over InfiniBand NDR: {} per step, \
                against {} of compute per step at a {}-token global batch and 50% MFU.", gb(s.dp_grad_bytes), s.data - 1,
                format_step_time(s.dp_comm_s), format_step_time(s.compute_s), format_count(s.global_batch_tokens)) }</p>
        </div>
    }
}
