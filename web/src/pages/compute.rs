//! The Compute lab: parameters, FLOPs, memory and training time of a transformer on real GPUs.

use std::collections::BTreeMap;

use lmlab::accounting::{
    exercises, gpu_catalog, ClusterForm, MemoryEstimate, MemoryForm, ModelChoice, ModelShape, ShapeForm, TimeForm,
    TimeReport,
};
use lmlab::precision::Format;
use lmlab::units::{format_bytes, format_count, format_duration, format_number};
use lmlab::InputError;
use yew::prelude::*;

use crate::components::charts::{Bar, BarChart, Segment, StackedBar};
use crate::components::exercises::Exercises;
use crate::components::field::{SelectField, TextField};
use crate::pages::compute_parallel::{self, ParallelSection};
use crate::route::{self, Page, Route};

#[derive(Properties, PartialEq)]
pub struct ComputeProps {
    pub route: Route,
}

/// Every input of the page: (URL key, default). The URL carries exactly these keys.
const FIELDS: [(&str, &str); 24] = [
    ("model", "gpt2-xl"),
    ("params", "70B"),
    ("vocab", "50257"),
    ("context", "1024"),
    ("d_model", "768"),
    ("layers", "12"),
    ("heads", "12"),
    ("kv_heads", ""),
    ("d_ff", "3072"),
    ("experts", ""),
    ("top_k", ""),
    ("shared_experts", ""),
    ("expert_d_ff", ""),
    ("first_dense", ""),
    ("tokens", "50B"),
    ("gpu", "h100"),
    ("gpus", "8"),
    ("mfu", "0.4"),
    ("dtype", "bf16"),
    ("usd", "2.5"),
    ("peak", "100"),
    ("mem", "80"),
    ("precision", "mixed-bf16"),
    ("batch", "64"),
];

/// The custom shape's fields (in the URL only when the model is custom).
const SHAPE_KEYS: [&str; 12] = [
    "vocab",
    "context",
    "d_model",
    "layers",
    "heads",
    "kv_heads",
    "d_ff",
    "experts",
    "top_k",
    "shared_experts",
    "expert_d_ff",
    "first_dense",
];

/// The mixture-of-experts fields of the custom shape (all empty: a dense model).
const MOE_KEYS: [&str; 5] = ["experts", "top_k", "shared_experts", "expert_d_ff", "first_dense"];

/// The model selector's two non-preset choices.
const PARAMS_ONLY: &str = "params";
const CUSTOM: &str = "custom";

type Form = BTreeMap<&'static str, String>;

fn initial(route: &Route) -> Form {
    let mut form: Form = FIELDS.iter().map(|(k, d)| (*k, route.get(k).unwrap_or(d).to_string())).collect();
    for key in compute_parallel::KEYS {
        form.insert(key, route.get(key).map_or_else(|| compute_parallel::default_of(key), str::to_string));
    }
    form
}

/// Which page field an error from `lmlab` belongs to.
fn field_of(err: &InputError) -> &'static str {
    match err.field.trim_start_matches("--") {
        "params" => "params",
        "tokens" => "tokens",
        "GPU" => "gpu",
        "gpus" => "gpus",
        "mfu" => "mfu",
        "dtype" => "dtype",
        "usd-per-gpu-hour" => "usd",
        "peak-tflops" => "peak",
        "memory-gb" => "mem",
        "precision" => "precision",
        "batch" => "batch",
        "vocab" | "vocab size" => "vocab",
        "context" | "context length" => "context",
        "d_model" => "d_model",
        "layers" => "layers",
        "heads" => "heads",
        "kv heads" | "KV heads" => "kv_heads",
        "d_ff" => "d_ff",
        "experts" => "experts",
        "top-k" => "top_k",
        "shared experts" => "shared_experts",
        "expert d_ff" => "expert_d_ff",
        "first dense layers" => "first_dense",
        _ => "model",
    }
}

/// An error as the page shows it: flag names without the CLI's dashes.
fn shown(err: &InputError) -> String {
    InputError { field: err.field.trim_start_matches("--").to_string(), ..err.clone() }.to_string()
}

struct Evaluated {
    shape: Option<Result<ModelShape, InputError>>,
    time: Result<TimeReport, InputError>,
    memory: Result<MemoryEstimate, InputError>,
}

fn evaluate(f: &Form) -> Evaluated {
    let get = |k: &str| f.get(k).cloned().unwrap_or_default();
    let model = match get("model").as_str() {
        PARAMS_ONLY => None,
        CUSTOM => Some(ModelChoice::Custom(ShapeForm {
            vocab_size: get("vocab"),
            context_length: get("context"),
            d_model: get("d_model"),
            num_layers: get("layers"),
            num_heads: get("heads"),
            num_kv_heads: get("kv_heads"),
            d_ff: get("d_ff"),
            num_experts: get("experts"),
            top_k: get("top_k"),
            num_shared_experts: get("shared_experts"),
            d_ff_expert: get("expert_d_ff"),
            first_dense_layers: get("first_dense"),
        })),
        preset => Some(ModelChoice::Preset(preset.to_string())),
    };
    let cluster = ClusterForm { gpu: get("gpu"), gpus: get("gpus"), peak_tflops: get("peak"), memory_gb: get("mem") };
    let time = TimeForm {
        params: get("params"),
        model: model.clone(),
        tokens: get("tokens"),
        cluster: cluster.clone(),
        mfu: get("mfu"),
        dtype: get("dtype"),
        usd_per_gpu_hour: get("usd"),
    }
    .evaluate();
    let memory = MemoryForm {
        params: get("params"),
        model: model.clone(),
        precision: get("precision"),
        cluster: Some(cluster),
        batch: get("batch"),
    }
    .evaluate();
    Evaluated { shape: model.map(|m| m.shape()), time, memory }
}

#[function_component(ComputeLab)]
pub fn compute_lab(props: &ComputeProps) -> Html {
    let form = use_state(|| initial(&props.route));
    {
        use_effect_with((*form).clone(), |f| {
            let custom = f.get("model").map(String::as_str) == Some(CUSTOM);
            let params = f
                .iter()
                .filter(|(k, _)| custom || !SHAPE_KEYS.contains(k))
                .map(|(k, v)| (k.to_string(), v.clone()))
                .collect();
            route::replace_params(Page::Compute, params);
        });
    }
    let set = |key: &'static str| {
        let form = form.clone();
        Callback::from(move |v: String| {
            let mut next = (*form).clone();
            if key == "model" && v == CUSTOM {
                // Start the custom shape from the preset that was selected, if any.
                if let Some(p) =
                    lmlab::accounting::model_presets().find(|p| Some(&p.name.to_string()) == form.get("model"))
                {
                    let s = ShapeForm::from_shape(&p.shape);
                    for (k, val) in [
                        ("vocab", s.vocab_size),
                        ("context", s.context_length),
                        ("d_model", s.d_model),
                        ("layers", s.num_layers),
                        ("heads", s.num_heads),
                        ("kv_heads", s.num_kv_heads),
                        ("d_ff", s.d_ff),
                        ("experts", s.num_experts),
                        ("top_k", s.top_k),
                        ("shared_experts", s.num_shared_experts),
                        ("expert_d_ff", s.d_ff_expert),
                        ("first_dense", s.first_dense_layers),
                    ] {
                        next.insert(k, val);
                    }
                }
            }
            next.insert(key, v);
            form.set(next);
        })
    };
    // The data-parallel section's fields are plain keys of the same form.
    let dp_change = {
        let form = form.clone();
        Callback::from(move |(key, v): (&'static str, String)| {
            let mut next = (*form).clone();
            next.insert(key, v);
            form.set(next);
        })
    };
    let f = &*form;
    let value = |k: &str| AttrValue::from(f.get(k).cloned().unwrap_or_default());
    let ev = evaluate(f);
    let errors: Vec<&InputError> =
        [ev.time.as_ref().err(), ev.memory.as_ref().err(), ev.shape.as_ref().and_then(|s| s.as_ref().err())]
            .into_iter()
            .flatten()
            .collect();
    let error_for = |k: &str| errors.iter().find(|e| field_of(e) == k).map(|e| shown(e));
    let text = |id: &'static str, label: &'static str, hint: Option<&'static str>| {
        html! { <TextField id={format!("f-{id}")} label={label} value={value(id)} oninput={set(id)} error={error_for(id)} hint={hint.map(AttrValue::from)} /> }
    };

    let mut model_options: Vec<(String, String)> =
        lmlab::accounting::model_presets().map(|p| (p.name.to_string(), p.description.to_string())).collect();
    model_options.push((CUSTOM.into(), "Custom shape…".into()));
    model_options.push((PARAMS_ONLY.into(), "Parameter count only".into()));
    let gpu_options: Vec<(String, String)> = gpu_catalog().into_iter().map(|g| (g.name, g.title)).collect();
    let dtype_options: Vec<(String, String)> =
        [Format::Bf16, Format::Fp16, Format::Fp8E4M3, Format::Tf32, Format::Fp32, Format::Fp64]
            .iter()
            .map(|f| (f.key().to_string(), f.title().to_string()))
            .collect();
    let precision_options = vec![
        ("mixed-bf16".to_string(), "mixed bf16 (fp32 master weights)".to_string()),
        ("fp32".to_string(), "fp32".to_string()),
    ];
    let model_key = f.get("model").cloned().unwrap_or_default();
    // The MoE group opens when it holds a value or an error (a dense shape keeps it folded).
    let moe_open = MOE_KEYS.iter().any(|k| !value(k).trim().is_empty() || error_for(k).is_some());
    // The text fields on the page now, whose errors are shown under them (and so nowhere else).
    let mut visible = vec!["tokens", "gpus", "mfu", "usd", "batch"];
    if model_key == PARAMS_ONLY {
        visible.push("params");
    }
    if model_key == CUSTOM {
        visible.extend(SHAPE_KEYS);
    }
    if f.get("gpu").map(String::as_str) == Some("custom") {
        visible.extend(["peak", "mem"]);
    }

    html! {
        <section class="lab compute">
            <h1>{"Compute"}</h1>
            <p class="lead">{"How much does a model cost? Parameters and FLOPs follow from its shape; time is FLOPs ÷ (GPUs × peak × MFU); \
                memory is model states plus activations. Change any input — the URL keeps your scenario."}</p>
            <div class="panel inputs">
                <div class="row">
                    <SelectField id="f-model" label="Model" options={model_options} value={value("model")} onchange={set("model")} />
                    if model_key == PARAMS_ONLY { { text("params", "Parameters N", Some("e.g. 70B or 70e9")) } }
                    { text("tokens", "Training tokens D", Some("e.g. 15T or 15e12")) }
                </div>
                if model_key == CUSTOM {
                    <div class="row custom-shape">
                        { text("vocab", "vocab size", None) }
                        { text("context", "context length", None) }
                        { text("d_model", "d_model", None) }
                        { text("layers", "layers", None) }
                        { text("heads", "heads", None) }
                        { text("kv_heads", "KV heads", Some("empty = heads")) }
                        { text("d_ff", "d_ff", None) }
                    </div>
                    <details class="moe-fields" id="f-moe" open={moe_open}>
                        <summary>{"Mixture of experts"}</summary>
                        <div class="row">
                            { text("experts", "routed experts", Some("empty = dense model")) }
                            { text("top_k", "top-k", Some("routed experts per token")) }
                            { text("shared_experts", "shared experts", Some("always on; empty = 0")) }
                            { text("expert_d_ff", "d_ff per expert", Some("empty = d_ff")) }
                            { text("first_dense", "first dense layers", Some("keep d_ff; empty = 0")) }
                        </div>
                    </details>
                }
                <div class="row">
                    <SelectField id="f-gpu" label="GPU" options={gpu_options} value={value("gpu")} onchange={set("gpu")} />
                    { text("gpus", "GPUs", None) }
                    { text("mfu", "MFU", Some("in (0, 1]; 0.3–0.5 is typical")) }
                    <SelectField id="f-dtype" label="Compute dtype" options={dtype_options} value={value("dtype")} onchange={set("dtype")} />
                    { text("usd", "$ per GPU-hour", Some("empty = no cost")) }
                </div>
                if f.get("gpu").map(String::as_str) == Some("custom") {
                    <div class="row">
                        { text("peak", "Peak TFLOP/s", None) }
                        { text("mem", "Memory per GPU (GB)", None) }
                    </div>
                }
            </div>
            { time_view(&ev.time, &visible) }
            { model_view(ev.shape.as_ref().and_then(|s| s.as_ref().ok())) }
            <section>
                <h2>{"Memory"}</h2>
                <div class="row">
                    <SelectField id="f-precision" label="Training precision" options={precision_options} value={value("precision")} onchange={set("precision")} />
                    { text("batch", "Batch (sequences, whole cluster)", None) }
                </div>
                { memory_view(&ev.memory, &visible) }
            </section>
            <ParallelSection form={compute_parallel::form_of(|k| value(k).to_string())}
                onchange={dp_change} />
            <Exercises exercises={exercises()} />
        </section>
    }
}

/// What a result box shows while an input is invalid. The error itself is shown once, under its
/// field; the box only repeats it when that field is not on the page (so it would be shown nowhere).
fn waiting(id: &'static str, err: &InputError, visible: &[&str]) -> Html {
    if visible.contains(&field_of(err)) {
        html! { <div class="result-box waiting" id={id}>{"Waiting for valid input: see the field marked in red above."}</div> }
    } else {
        html! { <div class="result-box error" id={id} role="alert">{ shown(err) }</div> }
    }
}

fn time_view(time: &Result<TimeReport, InputError>, visible: &[&str]) -> Html {
    match time {
        Err(e) => waiting("time-error", e, visible),
        Ok(r) => {
            let e = &r.estimate;
            let f = &r.training_flops;
            html! {
                <div class="result-box" id="time-result">
                    <div class="headline">
                        <span class="big" id="time-days" data-days={e.days.to_string()}>{ format_duration(e.seconds) }</span>
                        <span class="sub">{ format!("{} hours on {} × {}", format_count(e.hours), format_count(e.gpus as f64), e.gpu) }</span>
                    </div>
                    <dl>
                        if f.total_params > f.params {
                            <dt>{"active parameters N"}</dt><dd id="time-params">{ format_count(f.params) }</dd>
                            <dt>{"total parameters"}</dt><dd id="time-total-params">{ format_count(f.total_params) }</dd>
                        } else {
                            <dt>{"parameters N"}</dt><dd id="time-params">{ format_count(f.params) }</dd>
                        }
                        <dt>{"FLOPs 6·N·D"}</dt><dd>{ format_number(f.dense) }</dd>
                        if f.attention > 0.0 { <dt>{"+ attention (QKᵀ, AV)"}</dt><dd>{ format_number(f.attention) }</dd> }
                        <dt>{"total FLOPs"}</dt><dd id="time-flops" data-flops={e.flops.to_string()}>{ format_number(e.flops) }</dd>
                        <dt>{"cluster throughput"}</dt><dd>{ format!("{} FLOP/s ({} × {} TFLOP/s × MFU {})", format_number(e.achieved_flops_per_s), e.gpus, format_number(e.peak_flops_per_gpu / 1e12), e.mfu) }</dd>
                        <dt>{"GPU-hours"}</dt><dd>{ format_count(e.gpu_hours) }</dd>
                        if let Some(cost) = e.cost_usd { <dt>{"cost"}</dt><dd id="time-cost">{ format!("${}", format_count(cost)) }</dd> }
                    </dl>
                    <p class="hint" id="time-scaling-link">{"Is this N right for this many FLOPs? The "}
                        <a href={route::Route { page: Page::Scaling, params: vec![("budget".into(), format!("{:e}", e.flops))] }.to_fragment()}>
                            {"Scaling lab"}</a>{" fits the compute-optimal N and D for a budget — Chinchilla's, Kaplan's, and your own sweep's."}</p>
                </div>
            }
        }
    }
}

fn model_view(shape: Option<&ModelShape>) -> Html {
    let Some(s) = shape else {
        return html! { <section><h2>{"Model"}</h2><p class="hint">{"Pick a preset or a custom shape to see its parameters and FLOPs by component."}</p></section> };
    };
    let p = s.params();
    let fwd = s.forward_flops(1, s.context_length);
    let moe = s.moe.is_some();
    let mut param_rows = vec![
        ("token embedding", p.token_embedding),
        ("attention (Q, K, V, O)", p.attention),
        (if moe { "SwiGLU feed-forward (all experts)" } else { "SwiGLU feed-forward" }, p.feed_forward),
    ];
    if moe {
        param_rows.push(("MoE router", p.router));
    }
    param_rows.extend([("RMSNorm gains", p.norms), ("LM head", p.lm_head)]);
    let bars: Vec<Bar> = fwd
        .components
        .iter()
        .map(|c| Bar {
            label: c.name.to_string(),
            value: c.flops,
            text: format!("{} ({:.1}%)", format_number(c.flops), 100.0 * c.flops / fwd.total_flops),
        })
        .collect();
    html! {
        <section>
            <h2>{"Model"}</h2>
            <p>{ s.summary() }</p>
            <div class="two-col">
                <div class="table-scroll">
                <table class="params" id="params-table">
                    <thead><tr><th>{"parameters"}</th><th>{"count"}</th><th>{"share"}</th></tr></thead>
                    <tbody>
                        { for param_rows.iter().map(|(name, n)| html! {
                            <tr><th scope="row">{ *name }</th><td>{ format_count(*n as f64) }</td>
                                <td>{ format!("{:.1}%", 100.0 * *n as f64 / p.total as f64) }</td></tr>
                        }) }
                        <tr class="total"><th scope="row">{"total"}</th><td id="params-total" data-params={p.total.to_string()}>{ format!("{} ({})", format_count(p.total as f64), p.total) }</td><td>{"100%"}</td></tr>
                        if moe {
                            <tr class="total"><th scope="row">{"active per token"}</th><td id="params-active" data-params={p.active.to_string()}>{ format!("{} ({})", format_count(p.active as f64), p.active) }</td>
                                <td>{ format!("{:.1}%", 100.0 * p.active as f64 / p.total as f64) }</td></tr>
                        }
                    </tbody>
                </table>
                </div>
                <div>
                    <h3>{ format!("Forward FLOPs of one {}-token sequence: {}", s.context_length, format_number(fwd.matmul_flops)) }</h3>
                    <BarChart id="flops-chart" bars={bars} />
                    <p class="hint">{"Matmuls cost 2·B·D·K. Training ≈ 3× forward (the backward pass does two matmuls per forward one)."}</p>
                    if moe {
                        <p class="hint" id="params-moe-note">{"A token runs through its top-k routed experts and the shared ones: FLOPs (and 6·N·D) follow the active parameters, while memory holds every expert."}</p>
                    }
                </div>
            </div>
        </section>
    }
}

fn memory_view(memory: &Result<MemoryEstimate, InputError>, visible: &[&str]) -> Html {
    let e = match memory {
        Err(err) => return waiting("memory-error", err, visible),
        Ok(e) => e,
    };
    let b = &e.bytes_per_param;
    let gb = |x: f64| format!("{} ({} GB)", format_bytes(x), format_number(x / 1e9));
    let mut segments = vec![
        Segment { label: "weights".into(), value: e.weights_bytes, text: gb(e.weights_bytes) },
        Segment { label: "gradients".into(), value: e.gradients_bytes, text: gb(e.gradients_bytes) },
        Segment { label: "fp32 master".into(), value: e.master_weights_bytes, text: gb(e.master_weights_bytes) },
        Segment { label: "AdamW m, v".into(), value: e.optimizer_bytes, text: gb(e.optimizer_bytes) },
    ];
    segments.retain(|s| s.value > 0.0);
    if let Some(a) = e.activations_bytes {
        segments.push(Segment { label: "activations".into(), value: a, text: gb(a) });
    }
    let capacity = e
        .cluster_bytes
        .map(|c| (c, format!("{} × {}: {}", e.gpus.unwrap_or(1), e.gpu.clone().unwrap_or_default(), gb(c))));
    let yes_no = |v: Option<bool>| match v {
        Some(true) => html! { <span class="yes">{"yes"}</span> },
        _ => html! { <span class="no">{"no"}</span> },
    };
    html! {
        <div class="result-box" id="memory-result">
            <StackedBar id="memory-bar" segments={segments} capacity={capacity} />
            <dl>
                <dt>{"model states"}</dt><dd id="memory-states">{ format!("{} — {} bytes/parameter ({} weights + {} gradients + {} master + {} AdamW)", gb(e.states_bytes), b.total(), b.weights, b.gradients, b.master_weights, b.optimizer) }</dd>
                if let Some(a) = e.activations_per_sequence {
                    <dt>{"activations per layer, per sequence"}</dt><dd>{ format!("{} — with recomputation {}", format_bytes(a.per_layer), format_bytes(a.per_layer_recomputed)) }</dd>
                    <dt>{ format!("total for batch {}", e.batch) }</dt><dd id="memory-total">{ format!("{} — with recomputation {}", gb(e.total_bytes.unwrap_or_default()), gb(e.total_recomputed_bytes.unwrap_or_default())) }</dd>
                }
                <dt>{"fits"}</dt><dd id="memory-fits">{ yes_no(e.fits) }{" · with recomputation "}{ yes_no(e.fits_recomputed) }</dd>
                if let Some(n) = e.largest_model_params {
                    <dt>{"largest model that fits"}</dt><dd id="memory-largest-model">{ format!("{} parameters (states only)", format_count(n)) }</dd>
                }
                if e.activations_per_sequence.is_some() {
                    <dt>{"largest batch"}</dt><dd id="memory-largest-batch">{ format!("{} · with recomputation {}",
                        e.largest_batch.map_or("none".into(), |n| n.to_string()), e.largest_batch_recomputed.map_or("none".into(), |n| n.to_string())) }</dd>
                } else {
                    <dt>{"activations"}</dt><dd>{"pick a model shape to count activations and the largest batch"}</dd>
                }
            </dl>
            <p class="hint">{"Model states are assumed fully sharded over the GPUs (ZeRO-3 / FSDP); workspace and fragmentation are not counted."}</p>
        </div>
    }
}
