//! The Train page's setup: the corpus (bundled, a file, pasted text), the model and the run's
//! settings as a [`TrainForm`] — the run plan's fields, parsed by `lmlab` exactly as the CLI's
//! flags are — and the Start button.

use std::rc::Rc;

use lmlab::accounting::training_presets;
use lmlab::telemetry::flops_per_step;
use lmlab::train::forms::{ParsedForm, TrainForm};
use lmlab::train::plan::{AttentionKernel, DataChoice, Precision};
use lmlab::train::plan_form::CUSTOM;
use lmlab::train::protocol::{Corpus, RunRequest};
use lmlab::train::feasibility::{StepEstimate, Verdict};
use lmlab::units::{format_bytes, format_count, format_duration, format_number};
use web_sys::{HtmlInputElement, HtmlTextAreaElement};
use yew::platform::spawn_local;
use yew::prelude::*;

use crate::assets::{fetch_text, SHAKESPEARE, SHAKESPEARE_NAME};
use crate::components::field::{SelectField, TextField};
use crate::train::session;

/// The largest corpus the page takes, pasted or uploaded (tokenizing and BPE training run in the
/// worker, but the text crosses to it in one message).
pub const MAX_CORPUS_BYTES: usize = 32 << 20;

pub use crate::train::session::Source;

/// The setup's state, owned by the page.
#[derive(Clone, PartialEq)]
pub struct Setup {
    pub form: UseStateHandle<TrainForm>,
    pub source: UseStateHandle<Source>,
    pub uploaded: UseStateHandle<Option<Result<Rc<Corpus>, String>>>,
    pub pasted: UseStateHandle<String>,
}

impl Setup {
    /// What is wrong with the chosen corpus, before anything runs.
    pub fn corpus_problem(&self) -> Option<String> {
        match *self.source {
            Source::Bundled => None,
            Source::Upload => match &*self.uploaded {
                None => Some("choose a text file".to_string()),
                Some(Err(e)) => Some(e.clone()),
                Some(Ok(_)) => None,
            },
            Source::Paste if self.pasted.trim().is_empty() => Some("paste some text".to_string()),
            Source::Paste if self.pasted.len() > MAX_CORPUS_BYTES => Some(format!(
                "the pasted text is {}; the page takes up to {} (upload a file, or train with `lmlab train --data`)",
                format_bytes(self.pasted.len() as f64),
                format_bytes(MAX_CORPUS_BYTES as f64)
            )),
            Source::Paste => None,
        }
    }

    /// A callback that edits one form field.
    pub fn set(&self, apply: fn(&mut TrainForm, String)) -> Callback<String> {
        let form = self.form.clone();
        Callback::from(move |v: String| {
            let mut f = (*form).clone();
            apply(&mut f, v);
            form.set(f);
        })
    }

    /// Start: the run begins at once (its id raised, the old run's error cleared), then the
    /// corpus is fetched or taken and the plan goes to the worker.
    pub fn on_start(&self) -> Callback<MouseEvent> {
        let setup = self.clone();
        Callback::from(move |_: MouseEvent| {
            let Ok(ParsedForm { mut plan, live, backend }) = setup.form.parse() else { return };
            let preset = setup.form.plan.preset.clone();
            let (source, uploaded, pasted) = (*setup.source, (*setup.uploaded).clone(), (*setup.pasted).clone());
            let run = session::begin("starting…");
            spawn_local(async move {
                let corpus = match source {
                    Source::Bundled => match fetch_text(SHAKESPEARE).await {
                        Ok(text) => Corpus { name: SHAKESPEARE_NAME.into(), text },
                        Err(e) => return session::fail(run, format!("fetching the bundled corpus: {e}")),
                    },
                    Source::Upload => match uploaded {
                        Some(Ok(c)) => (*c).clone(),
                        _ => return session::fail(run, "choose a text file".into()),
                    },
                    Source::Paste => Corpus { name: "pasted text".into(), text: pasted },
                };
                plan.data = match source {
                    Source::Bundled => DataChoice::Bundled,
                    _ => DataChoice::Text { name: corpus.name.clone() },
                };
                let request = RunRequest { plan, corpus, live, backend };
                session::start(run, request, source == Source::Bundled, preset);
            });
        })
    }

    /// "Run on": the student's pick, which the page's default never overrides afterwards.
    fn set_backend(&self) -> Callback<String> {
        let form = self.form.clone();
        Callback::from(move |v: String| {
            session::keep_backend_choice();
            form.set(TrainForm { backend: v, ..(*form).clone() });
        })
    }

    fn on_upload(&self) -> Callback<Event> {
        let uploaded = self.uploaded.clone();
        Callback::from(move |e: Event| {
            let input: HtmlInputElement = e.target_unchecked_into();
            let Some(file) = input.files().and_then(|f| f.get(0)) else { return };
            let file = gloo::file::File::from(file);
            let uploaded = uploaded.clone();
            spawn_local(async move {
                let name = file.name();
                if file.size() as usize > MAX_CORPUS_BYTES {
                    return uploaded.set(Some(Err(format!(
                        "{name} is {}; the page takes up to {} (train larger corpora with `lmlab train --data`)",
                        format_bytes(file.size() as f64),
                        format_bytes(MAX_CORPUS_BYTES as f64)
                    ))));
                }
                let result = match gloo::file::futures::read_as_bytes(&file).await {
                    Err(e) => Err(format!("{name}: {e}")),
                    Ok(bytes) => Corpus::from_bytes(&name, &bytes).map(Rc::new),
                };
                uploaded.set(Some(result));
            });
        })
    }
}

/// What the page says before Start about the chosen backend and the run's cost.
pub struct Advice<'a> {
    /// Why this backend is the default here (the adapter, or its absence), until the student picks.
    pub backend_reason: Option<&'a str>,
    /// The estimate of memory and time per step, and its verdict.
    pub estimate: Option<(StepEstimate, Verdict)>,
    /// A development build of the worker (`trunk serve`): its speeds are not the real ones.
    pub unoptimized: bool,
}

/// The setup panel. `errors` are the form's, by field key; `blocked` is a reason the run cannot
/// start on this device (a buffer limit, too little memory); `can_start` enables Start.
pub fn view(
    setup: &Setup,
    parsed: &Result<ParsedForm, Vec<(&'static str, String)>>,
    busy: bool,
    blocked: Option<&str>,
    can_start: bool,
    advice: &Advice,
) -> Html {
    let form = &*setup.form;
    let error = |name: &str| -> Option<String> {
        parsed.as_ref().err().and_then(|errs| errs.iter().find(|(f, _)| *f == name).map(|(_, m)| m.clone()))
    };
    let set = |apply: fn(&mut TrainForm, String)| setup.set(apply);
    // The menu names each preset and its shape; the rest of its description goes under the menu
    // (a long option is cut off by the select's width).
    let mut presets: Vec<(String, String)> = training_presets()
        .map(|p| (p.name.to_string(), format!("{} — {}", p.name, p.description.split(" — ").next().unwrap_or(""))))
        .collect();
    let about = training_presets().find(|p| p.name == form.plan.preset).map(|p| p.description);
    presets.push((CUSTOM.into(), "custom shape".into()));
    let planned = parsed.as_ref().ok().map(|p| {
        let params = p.plan.model.shape.params();
        (params.total, params.active, flops_per_step(&p.plan.model.shape, p.plan.training.batch_size))
    });
    let custom = form.plan.preset == CUSTOM;
    let source = *setup.source;
    let on_source = {
        let s = setup.source.clone();
        Callback::from(move |e: Event| {
            s.set(match e.target_unchecked_into::<web_sys::HtmlSelectElement>().value().as_str() {
                "upload" => Source::Upload,
                "paste" => Source::Paste,
                _ => Source::Bundled,
            })
        })
    };
    let on_paste = {
        let pasted = setup.pasted.clone();
        Callback::from(move |e: InputEvent| pasted.set(e.target_unchecked_into::<HtmlTextAreaElement>().value()))
    };
    let on_preset = {
        let form = setup.form.clone();
        Callback::from(move |v: String| form.set(form.with_preset(&v)))
    };
    let shape = &form.plan.shape;
    html! {
        <fieldset class="panel setup" disabled={busy}>
            <legend>{"Run"}</legend>
            <div class="row">
                <label class="field">
                    <span class="label">{"Corpus"}</span>
                    <select id="train-source" onchange={on_source}>
                        <option value="bundled" selected={source == Source::Bundled}>{"Tiny Shakespeare (bundled, 1.1 MB)"}</option>
                        <option value="upload" selected={source == Source::Upload}>{"a text file…"}</option>
                        <option value="paste" selected={source == Source::Paste}>{"pasted text"}</option>
                    </select>
                </label>
                if source == Source::Upload {
                    <label class="field">
                        <span class="label">{"Text file (UTF-8)"}</span>
                        <input id="train-corpus-file" type="file" accept=".txt,text/plain" onchange={setup.on_upload()} />
                        if let Some(Ok(c)) = &*setup.uploaded {
                            <span class="hint">{ format!("{}: {}", c.name, format_bytes(c.text.len() as f64)) }</span>
                        }
                    </label>
                }
            </div>
            if source == Source::Paste {
                <label class="field wide">
                    <span class="label">{"Your text"}</span>
                    <textarea id="train-paste" rows="5" oninput={on_paste} value={(*setup.pasted).clone()} placeholder="Paste a few hundred KB of text: the model needs many windows of the context length." />
                </label>
            }
            if let (Some(problem), false) = (setup.corpus_problem(), source == Source::Bundled) {
                <p class="error" id="train-corpus-error" role="alert">{ problem }</p>
            }
            <div class="row">
                <SelectField id="train-preset" label="Model" options={presets} value={form.plan.preset.clone()} onchange={on_preset}
                    hint={about.and_then(|a| a.split_once(" — ")).map(|(_, why)| AttrValue::from(why.to_string()))} />
                <SelectField id="train-tokenizer" label="Tokenizer"
                    options={vec![("bpe".to_string(), "byte-level BPE trained on the corpus".to_string()), ("bytes".to_string(), "bytes = characters of ASCII text (257 ids)".to_string())]}
                    value={form.plan.tokenizer.clone()} onchange={set(|f, v| f.plan.tokenizer = v)} />
                if form.plan.tokenizer != "bytes" {
                    <TextField id="train-vocab" label="Vocabulary" value={form.plan.vocab_size.clone()} oninput={set(|f, v| f.plan.vocab_size = v)} error={error("vocab_size")} />
                }
            </div>
            if custom {
                <div class="row">
                    <TextField id="train-context" label="Context" value={shape.context_length.clone()} oninput={set(|f, v| f.plan.shape.context_length = v)} error={error("context_length")} />
                    <TextField id="train-d-model" label="d_model" value={shape.d_model.clone()} oninput={set(|f, v| f.plan.shape.d_model = v)} error={error("d_model")} />
                    <TextField id="train-layers" label="Layers" value={shape.num_layers.clone()} oninput={set(|f, v| f.plan.shape.num_layers = v)} error={error("num_layers")} />
                    <TextField id="train-heads" label="Heads" value={shape.num_heads.clone()} oninput={set(|f, v| f.plan.shape.num_heads = v)} error={error("num_heads")} />
                    <TextField id="train-d-ff" label="d_ff" value={shape.d_ff.clone()} oninput={set(|f, v| f.plan.shape.d_ff = v)} error={error("d_ff")} />
                </div>
            }
            <div class="row">
                <TextField id="train-steps" label="Steps" value={form.plan.steps.clone()} oninput={set(|f, v| f.plan.steps = v)} error={error("steps")} />
                <TextField id="train-batch" label="Batch" value={form.plan.batch_size.clone()} oninput={set(|f, v| f.plan.batch_size = v)} error={error("batch_size")} />
                <TextField id="train-lr" label="Learning rate" value={form.plan.lr.clone()} oninput={set(|f, v| f.plan.lr = v)} error={error("lr")} />
                <TextField id="train-warmup" label="Warm-up steps" value={form.plan.warmup.clone()} oninput={set(|f, v| f.plan.warmup = v)} error={error("warmup")} hint={derived(&form.plan.warmup, parsed, |p| p.plan.training.warmup_steps)} />
                <TextField id="train-eval-every" label="Validate every" value={form.plan.eval_every.clone()} oninput={set(|f, v| f.plan.eval_every = v)} error={error("eval_every")} hint={derived(&form.plan.eval_every, parsed, |p| p.plan.training.eval_every)} />
                <TextField id="train-seed" label="Seed" value={form.plan.seed.clone()} oninput={set(|f, v| f.plan.seed = v)} error={error("seed")} />
            </div>
            <div class="row">
                <SelectField id="train-backend" label="Run on"
                    options={vec![("webgpu".to_string(), "WebGPU (burn's wgpu backend)".to_string()), ("cpu".to_string(), "CPU (burn's flex backend in wasm, one thread)".to_string())]}
                    value={form.backend.clone()} onchange={setup.set_backend()} />
                <SelectField id="train-precision" label="Precision"
                    options={Precision::ALL.iter().map(|p| (p.key().to_string(), p.label().to_string())).collect::<Vec<_>>()}
                    value={if form.plan.precision.is_empty() { "fp32".to_string() } else { form.plan.precision.clone() }}
                    onchange={set(|f, v| f.plan.precision = v)} />
                <SelectField id="train-attention" label="Attention"
                    options={AttentionKernel::ALL.iter().map(|k| (k.key().to_string(), k.label().to_string())).collect::<Vec<_>>()}
                    value={if form.plan.attention.is_empty() { "fused".to_string() } else { form.plan.attention.clone() }}
                    onchange={set(|f, v| f.plan.attention = v)} />
            </div>
            if let Some(why) = advice.backend_reason {
                <p class="hint" id="train-backend-reason">{ format!("{} chosen for this browser: {why}.", if form.backend == "cpu" { "CPU" } else { "WebGPU" }) }</p>
            }
            if let Some(e) = error("precision") {
                <p class="error" id="train-precision-error" role="alert">{ e }</p>
            }
            if custom {
                <div class="row">
                    <TextField id="train-experts" label="Experts (empty: dense)" value={shape.num_experts.clone()} oninput={set(without_experts_when_empty)} error={error("experts")} />
                    if !shape.num_experts.trim().is_empty() {
                        <TextField id="train-top-k" label="Top-k" value={shape.top_k.clone()} oninput={set(|f, v| f.plan.shape.top_k = v)} error={error("top_k")} />
                        <TextField id="train-d-ff-expert" label="d_ff per expert" value={shape.d_ff_expert.clone()} oninput={set(|f, v| f.plan.shape.d_ff_expert = v)} error={error("d_ff_expert")} />
                        <TextField id="train-shared" label="Shared experts" value={shape.num_shared_experts.clone()} oninput={set(|f, v| f.plan.shape.num_shared_experts = v)} error={error("shared_experts")} />
                    }
                </div>
            }
            if let Some((params, active, flops)) = planned {
                <p class="hint" id="train-plan" data-params={params.to_string()} data-active={active.to_string()}>
                    { format!("{} parameters{} · {} FLOPs per step (3 × forward, from the Compute lab's accounting)",
                        format_count(params as f64),
                        if active < params { format!(" ({} active per token)", format_count(active as f64)) } else { String::new() },
                        format_number(flops)) }
                </p>
            }
            if let Some((e, verdict)) = &advice.estimate {
                <p class="hint" id="train-estimate" data-bytes={format!("{:.0}", e.memory_bytes())} data-seconds={format!("{:.3}", e.seconds_per_step())}>
                    { format!("Estimate before starting: at least {} of memory ({} for weights, gradients and AdamW state, {} of activations); about {} per step ({}).",
                        format_bytes(e.memory_bytes()), format_bytes(e.states_bytes), format_bytes(e.activations_bytes),
                        step_time(e.seconds_per_step()), e.rate_source.describe()) }
                </p>
                if let Verdict::Slow(why) = verdict {
                    <p class="warning" id="train-slow-warning" role="status">{ why }</p>
                }
            }
            if advice.unoptimized {
                <p class="warning" id="train-unoptimized">{"This is a development build of the training worker (trunk serve, debug profile):                     steps run slower than in the published site, and its tokens/s and MFU understate your device.                     Build with `trunk build --release` to measure."}</p>
            }
            if let Some(e) = blocked { <p class="error" id="train-limit-error" role="alert">{ e }</p> }
            <div class="actions">
                <button id="train-start" class="primary" disabled={!can_start} onclick={setup.on_start()}>{"Start training"}</button>
            </div>
        </fieldset>
    }
}

/// A step's time as a person reads it: milliseconds below a second, else a duration.
fn step_time(seconds: f64) -> String {
    if seconds < 1.0 {
        format!("{:.0} ms", (seconds * 1e3).max(1.0))
    } else {
        format_duration(seconds)
    }
}

/// For a blank field, the value it takes (the plan's default for these steps), as its hint.
fn derived(
    typed: &str,
    parsed: &Result<ParsedForm, Vec<(&'static str, String)>>,
    of: fn(&ParsedForm) -> usize,
) -> Option<AttrValue> {
    let p = parsed.as_ref().ok().filter(|_| typed.trim().is_empty())?;
    Some(AttrValue::from(format!("blank: {} (the default)", of(p))))
}

/// Typing the experts field; emptied, the model is dense again and the other MoE fields go with
/// it (they are hidden, so an error on them could not be seen).
fn without_experts_when_empty(f: &mut TrainForm, v: String) {
    if v.trim().is_empty() {
        let s = &mut f.plan.shape;
        (s.top_k, s.d_ff_expert, s.num_shared_experts, s.first_dense_layers) = Default::default();
    }
    f.plan.shape.num_experts = v;
}
