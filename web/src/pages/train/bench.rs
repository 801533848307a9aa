//! The Train page's benchmark: the model chosen above trained on random tokens in the worker —
//! `lmlab::train::bench::bench_train`, the measurement `lmlab bench train` makes — so the browser
//! and the terminal compare directly.

use lmlab::train::forms::{ParsedForm, TrainForm};
use lmlab::train::plan_form::CUSTOM;
use lmlab::train::protocol::{Backend, BenchRequest};
use lmlab::units::{format_count, format_number, parse_count};
use yew::prelude::*;

use crate::components::field::TextField;
use crate::train::session::{self, TrainState};

/// The CLI command that measures the same thing natively.
fn native_command(form: &TrainForm) -> String {
    let preset = if form.plan.preset == CUSTOM { "tiny" } else { form.plan.preset.as_str() };
    let vocab = if form.plan.tokenizer == "bytes" { "257" } else { form.plan.vocab_size.as_str() };
    let device = if form.backend == "cpu" { "cpu" } else { "wgpu" };
    format!(
        "lmlab bench train --preset {preset} --vocab-size {vocab} --batch {} --warmup 1 --steps 3 --device {device}",
        form.plan.batch_size
    )
}

/// The benchmark panel; `peak` is the FLOP/s MFU is measured against; `enabled` when a run may start.
pub fn view(
    st: &TrainState,
    form: &UseStateHandle<TrainForm>,
    parsed: &Result<ParsedForm, Vec<(&'static str, String)>>,
    steps: &UseStateHandle<String>,
    peak: Option<f64>,
    enabled: bool,
) -> Html {
    let steps_error = parse_count("timed steps", steps).err().map(|e| e.to_string());
    let on_bench = {
        let (form, steps) = (form.clone(), steps.clone());
        Callback::from(move |_: MouseEvent| {
            let Ok(p) = form.parse() else { return };
            let Ok(timed) = parse_count("timed steps", &steps) else { return };
            session::bench(BenchRequest {
                preset: form.plan.preset.clone(),
                shape: p.plan.model.shape,
                batch: p.plan.training.batch_size,
                warmup: 1,
                steps: timed as usize,
                backend: p.backend,
                // MFU is against a GPU's peak: none on the CPU backend (as in the live panel).
                peak: if p.backend == Backend::Cpu { None } else { peak },
            });
        })
    };
    let disabled = !enabled || st.benchmarking || parsed.is_err() || steps_error.is_some();
    html! {
        <section class="panel bench" id="train-bench-panel" data-benchmarks={st.benchmarks.to_string()}>
            <h2>{"Benchmark"}</h2>
            <p class="hint">{"Training speed of the model chosen above (its shape and batch) on random tokens: warm-up steps \
                (kernels compile), then timed steps — the measurement of "}<code>{"lmlab bench train"}</code>{", so the \
                two compare directly: "}<code>{ native_command(form) }</code></p>
            <div class="row">
                <TextField id="train-bench-steps" label="Timed steps" value={(**steps).clone()}
                    oninput={{ let b = steps.clone(); Callback::from(move |v: String| b.set(v)) }} error={steps_error} />
                <div class="actions">
                    <button id="train-bench" {disabled} onclick={on_bench}>{"Measure tokens/s"}</button>
                </div>
            </div>
            if let Some((req, device, r)) = &st.bench {
                <p id="train-bench-result" data-benchmark={st.benchmarks.to_string()} data-tokens-per-s={r.tokens_per_s.to_string()} data-ms-per-step={r.ms_per_step.to_string()}>
                    { format!("{}: {} parameters, batch {} × {} tokens on {} ({}): {:.0} ms/step, {} tokens/s after {} warm-up step(s) of {:.1} s{}",
                        req.preset, format_count(r.parameters as f64), r.batch, r.context, req.backend.label(), device,
                        r.ms_per_step, format_number(r.tokens_per_s), r.warmup, r.warmup_seconds,
                        r.mfu.map_or(String::new(), |m| format!(", MFU {:.3}%", 100.0 * m))) }
                </p>
            }
        </section>
    }
}
