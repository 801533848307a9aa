//! The Train page: the CS336 transformer trained in the browser — on WebGPU through burn, or on
//! burn's CPU backend — by the very loop the CLI runs (`lmlab::train::run`), in a worker so the
//! page stays responsive. This page draws the form, the live curves and samples, and the
//! checkpoints; the run itself lives in `crate::train::session` and goes on while the student
//! visits other labs.

use std::rc::Rc;

use lmlab::accounting::{gpu_catalog, match_device_name};
use lmlab::train::archive;
use lmlab::train::forms::{TrainForm, CUSTOM};
use lmlab::train::presets::{exercises, flops_per_step, TRAINING_PRESETS};
use lmlab::train::protocol::{check_limits, Backend, BenchRequest, Corpus, LiveSettings, RunRequest, ToWorker};
use lmlab::units::{format_bytes, format_count, format_number};
use web_sys::{HtmlInputElement, HtmlTextAreaElement};
use yew::platform::spawn_local;
use yew::prelude::*;

use crate::assets::{fetch_text, SHAKESPEARE, SHAKESPEARE_NAME};
use crate::components::charts::{LineChart, Series};
use crate::components::exercises::Exercises;
use crate::components::field::{SelectField, TextField};
use crate::route::Route;
use crate::train::session::{self, EngineState, Phase, TrainState};
use crate::train::store;
use crate::webgpu::how_to_get_it;

#[derive(Properties, PartialEq)]
pub struct TrainProps {
    pub route: Route,
}

/// The largest corpus the page takes, pasted or uploaded (tokenizing and BPE training run in the
/// worker, but the text crosses to it in one message).
pub const MAX_CORPUS_BYTES: usize = 32 << 20;
/// The largest checkpoint archive the page reads.
const MAX_CHECKPOINT_BYTES: u64 = 512 << 20;
/// The GPU menu's "match the adapter's name" choice.
const AUTO: &str = "auto";

/// Where the corpus comes from.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Source {
    Bundled,
    Upload,
    Paste,
}

/// Median step time of the last `n` steps (the first steps compile kernels and are slow).
fn recent_step_seconds(st: &TrainState, n: usize) -> Option<f64> {
    let mut t: Vec<f64> = st.steps.iter().rev().take(n).map(|s| s.seconds).filter(|s| *s > 0.0).collect();
    if t.is_empty() {
        return None;
    }
    t.sort_by(f64::total_cmp);
    Some(t[t.len() / 2])
}

#[function_component(TrainLab)]
pub fn train_lab(props: &TrainProps) -> Html {
    let redraw = use_force_update();
    use_effect_with((), move |_| {
        let id = session::subscribe(Callback::from(move |_| redraw.force_update()));
        // Opening the page fetches the worker bundle (once per visit of the site).
        session::ensure_worker();
        move || session::unsubscribe(id)
    });
    let st = session::state();
    let form = use_state(|| {
        session::form().unwrap_or_else(|| TrainForm::for_preset(props.route.get("preset").unwrap_or("nano")))
    });
    use_effect_with((*form).clone(), |f| session::keep_form(f.clone()));
    let source = use_state(|| Source::Bundled);
    let uploaded = use_state(|| None::<Result<Rc<Corpus>, String>>);
    let pasted = use_state(String::new);
    let log_scale = use_state(|| false);
    let gpu_choice = use_state(|| AUTO.to_string());
    let action_error = use_state(|| None::<String>);

    let parsed = form.parse();
    {
        // The prompt, temperature and cadence apply to the running session as they are typed.
        let live = parsed.as_ref().ok().map(|p| p.live.clone());
        use_effect_with(live, |live| {
            if let Some(live) = live {
                session::send_live(live.clone());
            }
        });
    }
    let field_error = |name: &str| -> Option<String> {
        parsed.as_ref().err().and_then(|errs| errs.iter().find(|(f, _)| *f == name).map(|(_, m)| m.clone()))
    };
    let set = |apply: fn(&mut TrainForm, String)| {
        let form = form.clone();
        Callback::from(move |v: String| {
            let mut f = (*form).clone();
            apply(&mut f, v);
            form.set(f);
        })
    };
    let adapter = match &st.engine {
        EngineState::Ready(Ok(a)) => Some(a.clone()),
        _ => None,
    };
    let backend = parsed.as_ref().map(|p| p.backend).unwrap_or(Backend::WebGpu);
    // A preset too large for this adapter is refused before starting, naming the limit.
    let limit_error = match (&parsed, &adapter) {
        (Ok(p), Some(a)) if p.backend == Backend::WebGpu => check_limits(&p.shape, p.settings.batch_size, a).err(),
        _ => None,
    };
    let webgpu_missing = matches!(&st.engine, EngineState::Ready(Err(_)));
    let corpus_problem = match *source {
        Source::Bundled => None,
        Source::Upload => match &*uploaded {
            None => Some("choose a text file".to_string()),
            Some(Err(e)) => Some(e.clone()),
            Some(Ok(_)) => None,
        },
        Source::Paste => {
            if pasted.trim().is_empty() {
                Some("paste some text".to_string())
            } else if pasted.len() > MAX_CORPUS_BYTES {
                Some(format!(
                    "the pasted text is {}; the page takes up to {} (upload a file, or train with `lmlab train --data`)",
                    format_bytes(pasted.len() as f64),
                    format_bytes(MAX_CORPUS_BYTES as f64)
                ))
            } else {
                None
            }
        }
    };
    let engine_ready = matches!(st.engine, EngineState::Ready(_));
    let can_start = parsed.is_ok()
        && limit_error.is_none()
        && corpus_problem.is_none()
        && engine_ready
        && !st.phase.busy()
        && !(backend == Backend::WebGpu && webgpu_missing);

    let on_start = {
        let (form, source, uploaded, pasted, action_error) =
            (form.clone(), source.clone(), uploaded.clone(), pasted.clone(), action_error.clone());
        Callback::from(move |_: MouseEvent| {
            let Ok(p) = form.parse() else { return };
            let preset = form.preset.clone();
            let (source, uploaded, pasted, action_error) =
                (*source, (*uploaded).clone(), (*pasted).clone(), action_error.clone());
            action_error.set(None);
            spawn_local(async move {
                let corpus = match source {
                    Source::Bundled => match fetch_text(SHAKESPEARE).await {
                        Ok(text) => Corpus { name: SHAKESPEARE_NAME.into(), text },
                        Err(e) => return action_error.set(Some(format!("fetching the bundled corpus: {e}"))),
                    },
                    Source::Upload => match uploaded {
                        Some(Ok(c)) => (*c).clone(),
                        _ => return,
                    },
                    Source::Paste => Corpus { name: "pasted text".into(), text: pasted },
                };
                let request = RunRequest {
                    corpus,
                    tokenizer: p.tokenizer,
                    shape: p.shape,
                    settings: p.settings,
                    live: p.live,
                    backend: p.backend,
                };
                session::start(request, source == Source::Bundled, preset);
            });
        })
    };
    let send = |msg: fn() -> ToWorker| Callback::from(move |_: MouseEvent| session::send(msg()));
    let bench_steps = use_state(|| "3".to_string());
    let bench_steps_error = lmlab::units::parse_count("timed steps", &bench_steps).err().map(|e| e.to_string());
    let on_bench = {
        let (form, bench_steps) = (form.clone(), bench_steps.clone());
        let peak = gpu_peak(&gpu_choice, adapter.as_ref());
        Callback::from(move |_: MouseEvent| {
            let Ok(p) = form.parse() else { return };
            let Ok(steps) = lmlab::units::parse_count("timed steps", &bench_steps) else { return };
            session::bench(BenchRequest {
                preset: form.preset.clone(),
                shape: p.shape,
                batch: p.settings.batch_size,
                warmup: 1,
                steps: steps as usize,
                backend: p.backend,
                peak,
            });
        })
    };
    let on_live = {
        let form = form.clone();
        Callback::from(move |_: MouseEvent| {
            if let Ok(p) = form.parse() {
                session::send(ToWorker::Live(p.live));
                session::send(ToWorker::SampleNow);
            }
        })
    };
    let on_upload_corpus = {
        let uploaded = uploaded.clone();
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
    };
    let on_paste = {
        let pasted = pasted.clone();
        Callback::from(move |e: InputEvent| pasted.set(e.target_unchecked_into::<HtmlTextAreaElement>().value()))
    };
    // The stored checkpoint: continue training it, or sample from it.
    let on_resume_saved = {
        let (form, action_error) = (form.clone(), action_error.clone());
        Callback::from(move |_: MouseEvent| {
            let (live, backend) = form
                .parse()
                .map(|p| (p.live, p.backend))
                .unwrap_or_else(|_| (LiveSettings::default(), Backend::WebGpu));
            let action_error = action_error.clone();
            action_error.set(None);
            spawn_local(async move {
                let loaded = match store::load().await {
                    Ok(Some(l)) => l,
                    Ok(None) => return action_error.set(Some("nothing is saved in this browser yet".into())),
                    Err(e) => return action_error.set(Some(e)),
                };
                let (meta, files, corpus) = loaded;
                let corpus = match corpus {
                    Some(c) => c,
                    None if meta.bundled => match fetch_text(SHAKESPEARE).await {
                        Ok(text) => Corpus { name: SHAKESPEARE_NAME.into(), text },
                        Err(e) => return action_error.set(Some(format!("fetching the bundled corpus: {e}"))),
                    },
                    None => {
                        return action_error.set(Some(format!(
                            "the corpus of the saved run ({}) is not stored; sample from the checkpoint instead",
                            meta.data
                        )))
                    }
                };
                session::resume(files, "saved checkpoint".into(), corpus, meta.bundled, meta.preset, backend, live);
            });
        })
    };
    let on_sample_saved = {
        let (form, action_error) = (form.clone(), action_error.clone());
        Callback::from(move |_: MouseEvent| {
            let backend = form.parse().map(|p| p.backend).unwrap_or(Backend::WebGpu);
            let action_error = action_error.clone();
            spawn_local(async move {
                match store::load().await {
                    Ok(Some((_, files, _))) => session::load(files, "saved checkpoint".into(), backend),
                    Ok(None) => action_error.set(Some("nothing is saved in this browser yet".into())),
                    Err(e) => action_error.set(Some(e)),
                }
            });
        })
    };
    let on_forget = Callback::from(move |_: MouseEvent| {
        spawn_local(async move {
            let _ = store::clear().await;
            session::refresh_saved();
        })
    });
    let on_upload_checkpoint = {
        let (form, action_error) = (form.clone(), action_error.clone());
        Callback::from(move |e: Event| {
            let input: HtmlInputElement = e.target_unchecked_into();
            let Some(file) = input.files().and_then(|f| f.get(0)) else { return };
            let file = gloo::file::File::from(file);
            let backend = form.parse().map(|p| p.backend).unwrap_or(Backend::WebGpu);
            let action_error = action_error.clone();
            spawn_local(async move {
                let name = file.name();
                if file.size() > MAX_CHECKPOINT_BYTES {
                    return action_error.set(Some(format!(
                        "{name} is {}; the page loads checkpoints up to {} (small presets)",
                        format_bytes(file.size() as f64),
                        format_bytes(MAX_CHECKPOINT_BYTES as f64)
                    )));
                }
                match gloo::file::futures::read_as_bytes(&file).await {
                    Err(e) => action_error.set(Some(format!("{name}: {e}"))),
                    Ok(bytes) => match archive::unpack(&name, &bytes) {
                        Err(e) => action_error.set(Some(e.to_string())),
                        Ok(files) => {
                            action_error.set(None);
                            session::load(files, name, backend);
                        }
                    },
                }
            });
        })
    };

    // Live figures.
    let info = st.info.clone();
    let step_s = recent_step_seconds(&st, 10);
    let gpu = chosen_gpu(&gpu_choice, adapter.as_ref());
    let peak = gpu_peak(&gpu_choice, adapter.as_ref());
    let tokens_per_step = info.as_ref().map(|i| (i.batch_size as u64 * i.shape.context_length) as f64);
    let tokens_per_s = tokens_per_step.zip(step_s).map(|(t, s)| t / s);
    let mfu = info.as_ref().zip(step_s).zip(peak).map(|((i, s), p)| i.flops_per_step / s / p);
    let last_loss = st.steps.last().map(|s| s.loss);
    let last_val = st.evals.last().map(|e| e.1);
    let ln_v = info.as_ref().map(|i| (i.vocab_size as f64).ln());
    let planned = parsed.as_ref().ok().map(|p| {
        let params = p.shape.params();
        (params.total, params.active, flops_per_step(&p.shape, p.settings.batch_size))
    });
    // The twin of equal active FLOPs (MoE ↔ dense) of the run just made, with the same settings.
    let twin = {
        let shown = if st.preset.is_empty() { form.preset.clone() } else { st.preset.clone() };
        let base = TrainForm { preset: shown, ..(*form).clone() };
        base.with_twin().filter(|_| !st.phase.busy() && (st.info.is_some() || st.previous.is_some())).map(|t| {
            let name = t.preset.clone();
            let form = form.clone();
            (name, Callback::from(move |_: MouseEvent| form.set(t.clone())))
        })
    };

    let series = vec![
        Series { label: "training loss".into(), points: st.steps.iter().map(|s| (s.step as f64, s.loss)).collect() },
        Series { label: "validation loss".into(), points: st.evals.iter().map(|&(s, l)| (s as f64, l)).collect() },
    ];
    let mut preset_options: Vec<(String, String)> =
        TRAINING_PRESETS.iter().map(|p| (p.name.to_string(), format!("{} — {}", p.name, p.description))).collect();
    preset_options.push((CUSTOM.into(), "custom shape".into()));
    let mut gpu_options = vec![(AUTO.to_string(), "auto (match the adapter's name)".to_string())];
    gpu_options.extend(gpu_catalog().into_iter().filter(|g| g.name != "custom").map(|g| (g.name, g.title)));
    let custom = form.preset == CUSTOM;
    let busy = st.phase.busy();

    html! {
        <section class="lab train-lab">
            <h1>{"Train: watch a language model learn"}</h1>
            <p class="lead">
                {"The CS336 transformer, trained right here — on your GPU through WebGPU, or on the CPU — by the same \
                  Rust code that trains it on an H100 from the command line ("}<code>{"lmlab train"}</code>{"). Training \
                  runs in a web worker, so this page stays responsive; switch to another lab and come back, it keeps going."}
            </p>

            { engine_banner(&st) }

            <div class="train-grid">
            <fieldset class="panel setup" disabled={busy}>
                <legend>{"Run"}</legend>
                <div class="row">
                    <label class="field">
                        <span class="label">{"Corpus"}</span>
                        <select id="train-source" onchange={{
                            let source = source.clone();
                            Callback::from(move |e: Event| source.set(match e.target_unchecked_into::<web_sys::HtmlSelectElement>().value().as_str() {
                                "upload" => Source::Upload,
                                "paste" => Source::Paste,
                                _ => Source::Bundled,
                            }))
                        }}>
                            <option value="bundled" selected={*source == Source::Bundled}>{"Tiny Shakespeare (bundled, 1.1 MB)"}</option>
                            <option value="upload" selected={*source == Source::Upload}>{"a text file…"}</option>
                            <option value="paste" selected={*source == Source::Paste}>{"pasted text"}</option>
                        </select>
                    </label>
                    if *source == Source::Upload {
                        <label class="field">
                            <span class="label">{"Text file (UTF-8)"}</span>
                            <input id="train-corpus-file" type="file" accept=".txt,text/plain" onchange={on_upload_corpus} />
                            if let Some(Ok(c)) = &*uploaded {
                                <span class="hint">{ format!("{}: {}", c.name, format_bytes(c.text.len() as f64)) }</span>
                            }
                        </label>
                    }
                </div>
                if *source == Source::Paste {
                    <label class="field wide">
                        <span class="label">{"Your text"}</span>
                        <textarea id="train-paste" rows="5" oninput={on_paste} value={(*pasted).clone()} placeholder="Paste a few hundred KB of text: the model needs many windows of the context length." />
                    </label>
                }
                if let Some(problem) = &corpus_problem {
                    if *source != Source::Bundled { <p class="error" id="train-corpus-error" role="alert">{ problem }</p> }
                }
                <div class="row">
                    <SelectField id="train-preset" label="Model" options={preset_options} value={form.preset.clone()}
                        onchange={{ let form = form.clone(); Callback::from(move |v: String| form.set(form.with_preset(&v))) }} />
                    <SelectField id="train-tokenizer" label="Tokenizer"
                        options={vec![("bpe".to_string(), "byte-level BPE trained on the corpus".to_string()), ("bytes".to_string(), "bytes = characters of ASCII text (257 ids)".to_string())]}
                        value={form.tokenizer.clone()} onchange={set(|f, v| f.tokenizer = v)} />
                    if form.tokenizer == "bpe" {
                        <TextField id="train-vocab" label="Vocabulary" value={form.vocab_size.clone()} oninput={set(|f, v| f.vocab_size = v)} error={field_error("vocab_size")} />
                    }
                </div>
                if custom {
                    <div class="row">
                        <TextField id="train-context" label="Context" value={form.context_length.clone()} oninput={set(|f, v| f.context_length = v)} error={field_error("context_length")} />
                        <TextField id="train-d-model" label="d_model" value={form.d_model.clone()} oninput={set(|f, v| f.d_model = v)} error={field_error("d_model")} />
                        <TextField id="train-layers" label="Layers" value={form.num_layers.clone()} oninput={set(|f, v| f.num_layers = v)} error={field_error("num_layers")} />
                        <TextField id="train-heads" label="Heads" value={form.num_heads.clone()} oninput={set(|f, v| f.num_heads = v)} error={field_error("num_heads")} />
                        <TextField id="train-d-ff" label="d_ff" value={form.d_ff.clone()} oninput={set(|f, v| f.d_ff = v)} error={field_error("d_ff")} />
                    </div>
                }
                <div class="row">
                    <TextField id="train-steps" label="Steps" value={form.steps.clone()} oninput={set(|f, v| f.steps = v)} error={field_error("steps")} />
                    <TextField id="train-batch" label="Batch" value={form.batch_size.clone()} oninput={set(|f, v| f.batch_size = v)} error={field_error("batch_size")} />
                    <TextField id="train-lr" label="Learning rate" value={form.lr.clone()} oninput={set(|f, v| f.lr = v)} error={field_error("lr")} />
                    <TextField id="train-warmup" label="Warm-up steps" value={form.warmup.clone()} oninput={set(|f, v| f.warmup = v)} error={field_error("warmup")} />
                    <TextField id="train-eval-every" label="Validate every" value={form.eval_every.clone()} oninput={set(|f, v| f.eval_every = v)} error={field_error("eval_every")} />
                    <TextField id="train-seed" label="Seed" value={form.seed.clone()} oninput={set(|f, v| f.seed = v)} error={field_error("seed")} />
                </div>
                <div class="row">
                    <SelectField id="train-backend" label="Run on"
                        options={vec![("webgpu".to_string(), "WebGPU (burn's wgpu backend)".to_string()), ("cpu".to_string(), "CPU (burn's flex backend in wasm, one thread)".to_string())]}
                        value={form.backend.clone()} onchange={set(|f, v| f.backend = v)} />
                </div>
                if form.preset == CUSTOM {
                    <div class="row">
                        <TextField id="train-experts" label="Experts (empty: dense)" value={form.experts.clone()} oninput={set(|f, v| f.experts = v)} error={field_error("experts")} />
                        if !form.experts.trim().is_empty() {
                            <TextField id="train-top-k" label="Top-k" value={form.top_k.clone()} oninput={set(|f, v| f.top_k = v)} error={field_error("top_k")} />
                            <TextField id="train-d-ff-expert" label="d_ff per expert" value={form.d_ff_expert.clone()} oninput={set(|f, v| f.d_ff_expert = v)} error={field_error("d_ff_expert")} />
                            <TextField id="train-shared" label="Shared experts" value={form.shared_experts.clone()} oninput={set(|f, v| f.shared_experts = v)} error={field_error("shared_experts")} />
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
                if let Some(e) = &limit_error { <p class="error" id="train-limit-error" role="alert">{ e }</p> }
                <div class="actions">
                    <button id="train-start" class="primary" disabled={!can_start} onclick={on_start}>{"Start training"}</button>
                </div>
            </fieldset>

            <section class="panel controls">
                <h2>{"Controls"}</h2>
                <div class="actions">
                    <button id="train-pause" disabled={st.phase != Phase::Training} onclick={send(|| ToWorker::Pause)}>{"Pause"}</button>
                    <button id="train-resume" disabled={!matches!(st.phase, Phase::Paused | Phase::Stopped)} onclick={send(|| ToWorker::Continue)}>{"Resume"}</button>
                    <button id="train-stop" disabled={!matches!(st.phase, Phase::Training | Phase::Paused)} onclick={send(|| ToWorker::Stop)}>{"Stop"}</button>
                </div>
                <p class="phase" id="train-phase" data-phase={format!("{:?}", st.phase).to_lowercase()}>{ phase_text(&st) }</p>
                if let Some((message, fraction)) = &st.status {
                    <div class="progress" id="train-status">
                        <span>{ message }</span>
                        <progress max="1" value={fraction.map(|f| f.to_string())} />
                    </div>
                }
                if let Some(e) = &st.error {
                    <div class="error" id="train-error" role="alert">
                        <p>{ e }</p>
                        if let Some(saved) = &st.saved {
                            <p>{ format!("Nothing is lost: the checkpoint of step {} is saved in this browser.", saved.step) }
                               <button id="train-recover" onclick={on_resume_saved.clone()}>{"Resume from it"}</button></p>
                        }
                    </div>
                }
                if let Some(e) = &*action_error { <p class="error" id="train-action-error" role="alert">{ e }</p> }
                <h3>{"Samples"}</h3>
                <div class="row">
                    <TextField id="train-prompt" label="Prompt" value={form.prompt.clone()} oninput={set(|f, v| f.prompt = v)} error={field_error("prompt")} wide=true />
                    <TextField id="train-temperature" label="Temperature" value={form.temperature.clone()} oninput={set(|f, v| f.temperature = v)} error={field_error("temperature")} />
                    <TextField id="train-sample-every" label="Every N steps" value={form.sample_every.clone()} oninput={set(|f, v| f.sample_every = v)} error={field_error("sample_every")} />
                </div>
                <div class="actions">
                    <button id="train-sample" disabled={!matches!(st.phase, Phase::Training | Phase::Paused | Phase::Stopped | Phase::Finished | Phase::Loaded) || parsed.is_err()} onclick={on_live}>{"Sample now"}</button>
                </div>
            </section>
            </div>

            if let (Some(i), true) = (&info, st.phase == Phase::Loaded) {
                <section class="panel live" id="train-loaded">
                    <h2>{"Loaded checkpoint"}</h2>
                    <dl class="stats">
                        <div><dt>{"Trained for"}</dt><dd>{ format!("{} steps", i.step) }</dd></div>
                        <div><dt>{"Parameters"}</dt><dd>{ format_count(i.parameters as f64) }</dd></div>
                        <div><dt>{"Shape"}</dt><dd>{ format!("{} layers · d_model {} · {} heads · d_ff {} · context {}", i.shape.num_layers, i.shape.d_model, i.shape.num_heads, i.shape.d_ff, i.shape.context_length) }</dd></div>
                        <div><dt>{"Vocabulary"}</dt><dd>{ i.vocab_size }</dd></div>
                    </dl>
                    <p class="hint" id="train-device">
                        { format!("{} on {} · {}{}", i.backend.label(), i.device, i.tokenizer, if i.data.is_empty() { String::new() } else { format!(" · trained on {}", i.data) }) }
                    </p>
                    <p class="hint">{"Set the prompt and temperature under Samples, then “Sample now”."}</p>
                </section>
            } else if let Some(i) = &info {
                <section class="panel live" id="train-live">
                    <h2>{"Live"}</h2>
                    <dl class="stats">
                        <div><dt>{"Step"}</dt><dd id="train-step">{ format!("{} / {}", st.steps.last().map_or(i.step, |s| s.step + 1), i.steps) }</dd></div>
                        <div><dt>{"Training loss"}</dt><dd id="train-loss">{ last_loss.map_or("–".into(), |l| format!("{l:.3}")) }</dd></div>
                        <div><dt>{"Validation loss"}</dt><dd id="train-val-loss">{ last_val.map_or("–".into(), |l| format!("{l:.3}")) }</dd></div>
                        <div><dt>{"Tokens/s"}</dt><dd id="train-tokens-per-s">{ tokens_per_s.map_or("–".into(), format_number) }</dd></div>
                        <div><dt>{"Step time"}</dt><dd id="train-step-time">{ step_s.map_or("–".into(), |s| format!("{:.0} ms", s * 1e3)) }</dd></div>
                        <div><dt>{"MFU"}</dt><dd id="train-mfu">{ mfu.map_or("–".into(), |m| format!("{:.3}%", m * 100.0)) }</dd></div>
                        <div><dt>{"Parameters"}</dt><dd id="train-params">{ format_count(i.parameters as f64) }</dd></div>
                        <div><dt>{"FLOPs / step"}</dt><dd>{ format_number(i.flops_per_step) }</dd></div>
                        <div><dt>{"Tokens"}</dt><dd>{ format!("{} train · {} val", format_count(i.train_tokens as f64), format_count(i.val_tokens as f64)) }</dd></div>
                    </dl>
                    <p class="hint" id="train-device">
                        { format!("{} on {} · {} · data: {}", i.backend.label(), i.device, i.tokenizer, i.data) }
                    </p>
                    <div class="row">
                        <SelectField id="train-gpu" label="MFU against" options={gpu_options} value={(*gpu_choice).clone()}
                            onchange={{ let g = gpu_choice.clone(); Callback::from(move |v: String| g.set(v)) }} />
                        <label class="checkbox-inline">
                            <input id="train-log" type="checkbox" checked={*log_scale}
                                onchange={{ let l = log_scale.clone(); Callback::from(move |_| l.set(!*l)) }} />
                            {" log-scale loss"}
                        </label>
                    </div>
                    if gpu.is_none() {
                        <p class="hint">{"MFU needs a peak: pick your GPU above (the adapter's name matched no catalog GPU)."}</p>
                    }
                    if adapter.as_ref().is_some_and(|a| a.emulated) && i.backend == Backend::WebGpu {
                        <p class="hint emulated">{"This WebGPU adapter is a CPU emulation (SwiftShader): steps take seconds, and the speed says nothing about GPUs. On such a machine the CPU backend (“Run on”) is usually faster — measure both with the benchmark below."}</p>
                    }
                    <LineChart id="train-chart" series={series} x_label="step" y_label="loss (nats/token)"
                        reference={ln_v.map(|l| (l, format!("ln V = {l:.2} (uniform guess)")))} log_y={*log_scale} />
                    if i.unigram_entropy.is_finite() {
                        <p class="hint">{ format!("A model that ignores context cannot beat the unigram entropy of this data: {:.2} nats/token.", i.unigram_entropy) }</p>
                    }
                </section>
            }

            { super::train_moe::router_panel(&st) }
            { super::train_moe::comparison_panel(&st, twin) }

            if !st.samples.is_empty() {
                <section class="panel samples" id="train-samples">
                    <h2>{"Samples"}</h2>
                    { for st.samples.iter().enumerate().map(|(n, s)| html! {
                        <article class="sample" data-step={s.step.to_string()}>
                            <header>{ format!("step {}", s.step) }</header>
                            <pre><b>{ &s.prompt }</b>{ &s.text }</pre>
                            if n == 0 {
                                <table class="next-tokens" id="train-next">
                                    <caption>{"Most likely next tokens after the prompt"}</caption>
                                    { for s.next.iter().map(|(t, p)| html! {
                                        <tr><td class="token"><code>{ format!("{t:?}") }</code></td><td class="prob" data-p={p.to_string()}>{ format!("{:.4}", p) }</td></tr>
                                    }) }
                                </table>
                                { super::train_moe::route_heatmap(s) }
                            }
                        </article>
                    }) }
                </section>
            }

            <section class="panel checkpoints" id="train-checkpoints">
                <h2>{"Checkpoints"}</h2>
                <p class="hint">{"Saved in this browser (IndexedDB) as the run goes, at pause, stop and the end; a reload keeps them. \
                    The download is the checkpoint directory of "}<code>{"lmlab train"}</code>{" as one .tar: "}
                    <code>{"lmlab sample --checkpoint run.tar"}</code>{" reads it."}</p>
                if let Some(saved) = &st.saved {
                    <p id="train-saved" data-step={saved.step.to_string()}>
                        { format!("Saved: {} at step {} of {} on {} ({}, {}), {}", saved.preset, saved.step, saved.steps, saved.data, saved.backend, format_bytes(saved.bytes as f64), saved.saved_at) }
                    </p>
                    <div class="actions">
                        <button id="train-restore" disabled={busy || !engine_ready} onclick={on_resume_saved}>{"Continue training it"}</button>
                        <button id="train-load-saved" disabled={busy || !engine_ready} onclick={on_sample_saved}>{"Sample from it"}</button>
                        <button id="train-forget" disabled={busy} onclick={on_forget}>{"Forget it"}</button>
                    </div>
                } else {
                    <p class="hint" id="train-saved-none">{"Nothing saved in this browser yet."}</p>
                }
                if let Some(e) = &st.save_error { <p class="error" id="train-save-error" role="alert">{ e }</p> }
                if let Some(l) = &st.latest {
                    <p><a id="train-download" href={l.url.clone()} download={l.file_name.clone()} data-step={l.step.to_string()}>
                        { format!("Download {} ({})", l.file_name, format_bytes(l.bytes as f64)) }</a></p>
                }
                <label class="field">
                    <span class="label">{"Sample from a checkpoint .tar (e.g. trained with lmlab train)"}</span>
                    <input id="train-upload-checkpoint" type="file" accept=".tar" disabled={busy || !engine_ready} onchange={on_upload_checkpoint} />
                </label>
            </section>

            <section class="panel bench" id="train-bench-panel">
                <h2>{"Benchmark"}</h2>
                <p class="hint">{"Training speed of the model chosen above (its shape and batch) on random tokens: warm-up steps \
                    (kernels compile), then timed steps — the measurement of "}<code>{"lmlab bench train"}</code>{", so the \
                    two compare directly: "}<code>{ native_bench_command(&form) }</code></p>
                <div class="row">
                    <TextField id="train-bench-steps" label="Timed steps" value={(*bench_steps).clone()}
                        oninput={{ let b = bench_steps.clone(); Callback::from(move |v: String| b.set(v)) }} error={bench_steps_error.clone()} />
                    <div class="actions">
                        <button id="train-bench" disabled={busy || st.benchmarking || !engine_ready || parsed.is_err() || bench_steps_error.is_some() || limit_error.is_some()} onclick={on_bench}>{"Measure tokens/s"}</button>
                    </div>
                </div>
                if let Some((req, device, r)) = &st.bench {
                    <p id="train-bench-result" data-tokens-per-s={r.tokens_per_s.to_string()} data-ms-per-step={r.ms_per_step.to_string()}>
                        { format!("{}: {} parameters, batch {} × {} tokens on {} ({}): {:.0} ms/step, {} tokens/s after {} warm-up step(s) of {:.1} s{}",
                            req.preset, format_count(r.parameters as f64), r.batch, r.context, req.backend.label(), device,
                            r.ms_per_step, format_number(r.tokens_per_s), r.warmup, r.warmup_seconds,
                            r.mfu.map_or(String::new(), |m| format!(", MFU {:.3}%", 100.0 * m))) }
                    </p>
                }
            </section>

            <Exercises exercises={exercises()} />
        </section>
    }
}

/// The catalog GPU MFU is measured against: the menu's choice, else the adapter's name matched.
fn chosen_gpu(choice: &str, adapter: Option<&lmlab::train::protocol::Adapter>) -> Option<lmlab::accounting::Gpu> {
    match choice {
        AUTO => adapter.and_then(|a| match_device_name(&a.name)),
        name => gpu_catalog().into_iter().find(|g| g.name == name),
    }
}

/// Its peak for MFU: WebGPU cannot reach tensor cores, so the plain f32 peak.
fn gpu_peak(choice: &str, adapter: Option<&lmlab::train::protocol::Adapter>) -> Option<f64> {
    chosen_gpu(choice, adapter).map(|g| g.peak_fp32)
}

/// The CLI command that measures the same thing natively.
fn native_bench_command(form: &TrainForm) -> String {
    let preset = if form.preset == CUSTOM { "tiny" } else { form.preset.as_str() };
    let vocab = if form.tokenizer == "bytes" { "257" } else { form.vocab_size.as_str() };
    format!(
        "lmlab bench train --preset {preset} --vocab-size {vocab} --batch {} --warmup 1 --steps 3 --device wgpu",
        form.batch_size
    )
}

/// Loading the worker, WebGPU's verdict, and what to do without it.
fn engine_banner(st: &TrainState) -> Html {
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
