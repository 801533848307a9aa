//! The Train page while a run goes: the engine's state, the controls and the run's phase, and the
//! live panel (losses, tokens/s and MFU from `lmlab::telemetry::StepMeter` — the CLI's meter — and
//! the loss chart), or the panel of a checkpoint loaded to sample from.

use lmlab::accounting::{gpu_catalog, match_device_name, Gpu};
use lmlab::telemetry::{rising_validation, StepMeter};
use lmlab::train::protocol::{Adapter, Backend, RunInfo, ToWorker};
use lmlab::units::{format_count, format_number};
use yew::prelude::*;

use crate::components::charts::{LineChart, Series};
use crate::train::session::{self, EngineState, Phase, TrainState};
use crate::webgpu::how_to_get_it;

/// The GPU menu's "match the adapter's name" choice.
pub const AUTO: &str = "auto";

/// The catalog GPU MFU is measured against: the menu's choice, else the adapter's name matched.
pub fn chosen_gpu(choice: &str, adapter: Option<&Adapter>) -> Option<Gpu> {
    match choice {
        AUTO => adapter.and_then(|a| match_device_name(&a.name)),
        name => gpu_catalog().into_iter().find(|g| g.name == name),
    }
}

/// Its peak for MFU: WebGPU cannot reach tensor cores, so the plain f32 peak.
pub fn gpu_peak(choice: &str, adapter: Option<&Adapter>) -> Option<f64> {
    chosen_gpu(choice, adapter).map(|g| g.peak_fp32)
}

/// The backend and device in one phrase ("WebGPU on SwiftShader Device", "CPU (wasm): burn's
/// flex backend, one thread").
fn device_line(i: &RunInfo) -> String {
    match i.backend {
        Backend::Cpu => format!("{}: {}", i.backend.label(), i.device),
        _ => format!("{} on {}", i.backend.label(), i.device),
    }
}

/// Loading the worker, WebGPU's verdict, and what to do without it.
pub fn engine_banner(st: &TrainState) -> Html {
    match &st.engine {
        EngineState::NotLoaded => html! {},
        EngineState::Loading => html! {
            <div class="notice" id="train-loading">
                <p>{"Loading the training engine (burn compiled to WebAssembly, a few MB) and asking for a GPU…"}</p>
                <progress />
            </div>
        },
        EngineState::Ready(Ok(a)) => html! {
            <p class="hint" id="train-adapter" data-emulated={a.emulated.to_string()}>
                { format!("WebGPU adapter: {}{}", a.name, if a.emulated { " (a CPU emulation)" } else { "" }) }
            </p>
        },
        EngineState::Ready(Err(why)) => html! {
            <div class="notice" id="train-no-webgpu" role="alert">
                <p><strong>{"No WebGPU here: "}</strong>{ why }{"."}</p>
                <ul>{ how_to_get_it() }</ul>
                <p>{"You can still train: choose “CPU” under “Run on” — burn's pure-Rust CPU backend, compiled to \
                    WebAssembly, trains the nano and tiny presets (slowly: one thread)."}</p>
            </div>
        },
    }
}

fn phase_text(st: &TrainState) -> String {
    if st.ended_mid_step == Some(st.run) && st.phase == Phase::Stopped {
        let kept = match &st.saved {
            Some(saved) => format!("its last checkpoint (step {}) is kept; Resume continues from it", saved.step),
            None => "no checkpoint had been saved yet".to_string(),
        };
        return format!(
            "Stopped mid-step: the worker was busy inside a step (or still preparing) and did not answer within {:.1} s, \
             so the page ended it and started a fresh one; {kept}.",
            session::STOP_GRACE_MS as f64 / 1e3
        );
    }
    if st.stopping == Some(st.run) && st.phase.busy() {
        return "Stopping…".into();
    }
    match st.phase {
        Phase::Idle => "Not started.".into(),
        Phase::Preparing => "Preparing…".into(),
        Phase::Training => "Training.".into(),
        Phase::Paused => "Paused (the model stays in memory; Resume continues the same run).".into(),
        Phase::Stopped => "Stopped; a checkpoint was saved. Resume continues.".into(),
        Phase::Finished => "Finished.".into(),
        Phase::Loaded => "A checkpoint is loaded: sample from it.".into(),
        Phase::Failed => "Failed.".into(),
    }
}

/// Pause / Resume / Stop, the phase (`data-run` and `data-phase`: what a test waits on), the
/// progress of the work before the first step, and the run's error with the way back.
pub fn controls(st: &TrainState, recover: Callback<MouseEvent>, action_error: Option<&String>) -> Html {
    let send = |msg: fn() -> ToWorker| Callback::from(move |_: MouseEvent| session::send(msg()));
    // A worker ended mid-step holds no run: Resume continues from the stored checkpoint.
    let ended = st.ended_mid_step == Some(st.run);
    let on_resume = if ended { recover.clone() } else { send(|| ToWorker::Continue) };
    let can_resume = matches!(st.phase, Phase::Paused | Phase::Stopped) && (!ended || st.saved.is_some());
    html! {
        <>
            <div class="actions">
                <button id="train-pause" disabled={st.phase != Phase::Training} onclick={send(|| ToWorker::Pause)}>{"Pause"}</button>
                <button id="train-resume" disabled={!can_resume} onclick={on_resume}>{"Resume"}</button>
                // Stop works in every busy phase, a long step and the preparation included (see session::stop).
                <button id="train-stop" disabled={!st.phase.busy() || st.stopping == Some(st.run)} onclick={Callback::from(|_: MouseEvent| session::stop())}>{"Stop"}</button>
            </div>
            <p class="phase" id="train-phase" data-run={st.run.to_string()} data-phase={format!("{:?}", st.phase).to_lowercase()}>{ phase_text(st) }</p>
            if let Some((message, fraction)) = &st.status {
                <div class="progress" id="train-status">
                    <span>{ message }</span>
                    <progress max="1" value={fraction.map(|f| f.to_string())} />
                </div>
            }
            if let Some(e) = &st.error {
                <div class="error" id="train-error" role="alert" data-run={st.run.to_string()}>
                    <p>{ e }</p>
                    if let Some(saved) = &st.saved {
                        <p>{ format!("Nothing is lost: the checkpoint of step {} is saved in this browser.", saved.step) }
                           <button id="train-recover" onclick={recover}>{"Resume from it"}</button></p>
                    }
                </div>
            }
            if let Some(e) = action_error { <p class="error" id="train-action-error" role="alert">{ e }</p> }
        </>
    }
}

/// The live panel of a run (or the loaded checkpoint's).
pub fn panel(
    st: &TrainState,
    adapter: Option<&Adapter>,
    gpu_choice: &UseStateHandle<String>,
    log_scale: &UseStateHandle<bool>,
) -> Html {
    let Some(i) = &st.info else { return html! {} };
    if st.phase == Phase::Loaded {
        return html! {
            <section class="panel live" id="train-loaded">
                <h2>{"Loaded checkpoint"}</h2>
                <dl class="stats">
                    <div><dt>{"Trained for"}</dt><dd>{ format!("{} steps", i.step) }</dd></div>
                    <div><dt>{"Parameters"}</dt><dd>{ format_count(i.parameters as f64) }</dd></div>
                    <div><dt>{"Shape"}</dt><dd>{ format!("{} layers · d_model {} · {} heads · d_ff {} · context {}", i.shape.num_layers, i.shape.d_model, i.shape.num_heads, i.shape.d_ff, i.shape.context_length) }</dd></div>
                    <div><dt>{"Vocabulary"}</dt><dd>{ i.vocab_size }</dd></div>
                </dl>
                <p class="hint" id="train-device">
                    { format!("{} · {}{}", device_line(i), i.tokenizer, if i.data.is_empty() { String::new() } else { format!(" · trained on {}", i.data) }) }
                </p>
                <p class="hint">{"Set the prompt and temperature under Samples, then “Sample now”."}</p>
            </section>
        };
    }
    let peak = gpu_peak(gpu_choice, adapter);
    // Tokens/s and MFU as the CLI logs them: the median of the recent steps, the first left out.
    let meter = StepMeter::of(i.shape, i.batch_size, peak, st.steps.iter().map(|s| s.seconds));
    let speed = meter.throughput();
    let last_loss = st.steps.last().map(|s| s.loss);
    let last_val = st.evals.last().map(|e| e.1);
    let ln_v = (i.vocab_size as f64).ln();
    let series = vec![
        Series { label: "training loss".into(), points: st.steps.iter().map(|s| (s.step as f64, s.loss)).collect() },
        Series { label: "validation loss".into(), points: st.evals.iter().map(|&(s, l)| (s as f64, l)).collect() },
    ];
    let mut gpu_options = vec![(AUTO.to_string(), "auto (match the adapter's name)".to_string())];
    gpu_options.extend(gpu_catalog().into_iter().filter(|g| g.name != "custom").map(|g| (g.name, g.title)));
    let dash = || "–".to_string();
    let on_cpu = i.backend == Backend::Cpu;
    html! {
        <section class="panel live" id="train-live">
            <h2>{"Live"}</h2>
            <dl class="stats">
                <div><dt>{"Step"}</dt><dd id="train-step">{ format!("{} / {}", st.steps.last().map_or(i.step, |s| s.step + 1), i.steps) }</dd></div>
                <div><dt>{"Training loss"}</dt><dd id="train-loss">{ last_loss.map_or_else(dash, |l| format!("{l:.3}")) }</dd></div>
                <div><dt>{"Validation loss"}</dt><dd id="train-val-loss">{ last_val.map_or_else(dash, |l| format!("{l:.3}")) }</dd></div>
                <div><dt>{"Tokens/s"}</dt><dd id="train-tokens-per-s">{ speed.map_or_else(dash, |t| format_number(t.tokens_per_s)) }</dd></div>
                <div><dt>{"Step time"}</dt><dd id="train-step-time">{ meter.step_seconds().map_or_else(dash, |s| format!("{:.0} ms", s * 1e3)) }</dd></div>
                <div><dt>{"MFU"}</dt><dd id="train-mfu" title={on_cpu.then_some("MFU is measured against a GPU's peak; see the note below")}>{ if on_cpu { "n/a".to_string() } else { speed.and_then(|t| t.mfu).map_or_else(dash, |m| format!("{:.3}%", m * 100.0)) } }</dd></div>
                <div><dt>{"Parameters"}</dt><dd id="train-params">{ format_count(i.parameters as f64) }</dd></div>
                <div><dt>{"FLOPs / step"}</dt><dd>{ format_number(i.flops_per_step) }</dd></div>
                <div><dt>{"Tokens"}</dt><dd>{ format!("{} train · {} val", format_count(i.train_tokens as f64), format_count(i.val_tokens as f64)) }</dd></div>
            </dl>
            <p class="hint" id="train-device">
                { format!("{} · {} · data: {} · {} · attention {}", device_line(i), i.tokenizer, i.data, i.precision.label(), i.attention.key()) }
            </p>
            <div class="row">
                <crate::components::field::SelectField id="train-gpu" label="MFU against" options={gpu_options} value={(**gpu_choice).clone()}
                    onchange={{ let g = gpu_choice.clone(); Callback::from(move |v: String| g.set(v)) }} />
                <label class="checkbox-inline">
                    <input id="train-log" type="checkbox" checked={**log_scale}
                        onchange={{ let l = log_scale.clone(); Callback::from(move |_| l.set(!*l)) }} />
                    {" log-scale loss"}
                </label>
            </div>
            if on_cpu {
                <p class="hint" id="train-mfu-note">{"No MFU on the CPU backend: MFU compares achieved FLOP/s with a GPU's peak, and a browser does not say which CPU this is or how many of its cores the tab may use (burn runs on one thread here). The FLOPs per step and tokens/s above are the measurement."}</p>
            } else if chosen_gpu(gpu_choice, adapter).is_none() {
                <p class="hint">{"MFU needs a peak: pick your GPU above (the adapter's name matched no catalog GPU)."}</p>
            }
            if st.optimized == Some(false) {
                <p class="warning" id="train-unoptimized-live">{"Development build (trunk serve): these speeds understate your device; `trunk build --release` measures it."}</p>
            }
            if let Some((best_step, best, last)) = rising_validation(&st.evals) {
                <p class="warning" id="train-overfitting" role="status">
                    { format!("Validation loss is rising: {last:.3} now against {best:.3} at step {best_step}, while the training loss goes on falling — the model is memorizing its training text (overfitting; likely on a small text). Stop here and keep the checkpoint, or train on more text, fewer steps or a smaller model.") }
                </p>
            }
            if adapter.is_some_and(|a| a.emulated) && i.backend == Backend::WebGpu {
                <p class="hint emulated">{"This WebGPU adapter is a CPU emulation (SwiftShader): steps take seconds, and the speed says nothing about GPUs. On such a machine the CPU backend (“Run on”) is usually faster — measure both with the benchmark below."}</p>
            }
            <LineChart id="train-chart" series={series} x_label="step" y_label="loss (nats/token)"
                reference={Some((ln_v, format!("ln V = {ln_v:.2} (uniform guess)")))} log_y={**log_scale} />
            if i.unigram_entropy.is_finite() {
                <p class="hint">{ format!("A model that ignores context cannot beat the unigram entropy of the validation data: {:.2} nats/token.", i.unigram_entropy) }</p>
            }
        </section>
    }
}
