//! The Train page: the CS336 transformer trained in the browser — on WebGPU through burn, or on
//! burn's CPU backend — by the very loop the CLI runs (`lmlab::train::run`), set up from the same
//! run plan (`lmlab::train::plan`), in a worker so the page stays responsive. The run itself lives
//! in `crate::train::session` and goes on while the student visits other labs; this page draws:
//!
//! * [`setup`] — the corpus, the model and the run's settings, Start;
//! * [`live`] — controls, phase, the live panel (or the loaded checkpoint's);
//! * [`moe`] — a mixture of experts' router panel, heat map and comparison with its twin;
//! * [`samples`] — sample settings and the samples;
//! * [`checkpoints`] — the stored checkpoint, the download, uploads;
//! * [`bench`] — the tokens/s benchmark beside `lmlab bench train`.

mod bench;
mod checkpoints;
mod live;
mod moe;
mod samples;
mod setup;

use lmlab::train::forms::TrainForm;
use lmlab::train::presets::exercises;
use lmlab::train::feasibility::{self, Verdict};
use lmlab::train::protocol::{check_limits, recommended_backend, Backend};
use yew::prelude::*;

use crate::components::exercises::Exercises;
use crate::route::Route;
use crate::train::session::{self, CorpusChoice, EngineState};
use setup::Setup;

#[derive(Properties, PartialEq)]
pub struct TrainProps {
    pub route: Route,
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
    // The corpus choice lives in the session: leaving the page and coming back keeps the text.
    let kept = use_memo((), |_| session::corpus_choice());
    let setup = Setup {
        form: form.clone(),
        source: use_state(|| kept.source),
        uploaded: use_state(|| kept.uploaded.clone()),
        pasted: use_state(|| kept.pasted.clone()),
    };
    use_effect_with((setup.source.clone(), setup.uploaded.clone(), setup.pasted.clone()), |(source, uploaded, pasted)| {
        session::keep_corpus_choice(CorpusChoice {
            source: **source,
            uploaded: (**uploaded).clone(),
            pasted: (**pasted).clone(),
        });
    });
    let log_scale = use_state(|| false);
    let gpu_choice = use_state(|| live::AUTO.to_string());
    let action_error = use_state(|| None::<String>);
    let bench_steps = use_state(|| "3".to_string());

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
    let adapter = match &st.engine {
        EngineState::Ready(Ok(a)) => Some(a.clone()),
        _ => None,
    };
    // The fastest backend by default: WebGPU only on a hardware adapter; the student's pick wins.
    let recommended = match &st.engine {
        EngineState::Ready(webgpu) => Some(recommended_backend(webgpu)),
        _ => None,
    };
    {
        let form = form.clone();
        let pick = recommended.as_ref().map(|(b, _)| *b);
        use_effect_with(pick, move |pick| {
            if let Some(b) = pick {
                if !session::backend_chosen() && form.backend != b.key() {
                    form.set(TrainForm { backend: b.key().into(), ..(*form).clone() });
                }
            }
        });
    }
    let backend = parsed.as_ref().map(|p| p.backend).unwrap_or(Backend::WebGpu);
    // What the run will cost, before it starts: refused if it cannot fit, warned if slow.
    let estimate = parsed.as_ref().ok().map(|p| {
        let emulated = adapter.as_ref().is_some_and(|a| a.emulated);
        let shape = &p.plan.model.shape;
        let e = feasibility::estimate(
            shape,
            p.plan.training.batch_size,
            p.plan.training.precision,
            p.backend,
            emulated,
            st.measured_rate(p.backend),
        );
        let verdict = feasibility::verdict(&e, p.backend);
        (e, verdict)
    });
    // A preset too large for this adapter (or for wasm's memory) is refused before starting.
    let limit_error = match (&parsed, &adapter) {
        (Ok(p), Some(a)) if p.backend == Backend::WebGpu => {
            check_limits(&p.plan.model.shape, p.plan.training.batch_size, a).err()
        }
        _ => None,
    }
    .or_else(|| match &estimate {
        Some((_, Verdict::TooBig(why))) => Some(why.clone()),
        _ => None,
    });
    let advice = setup::Advice {
        backend_reason: recommended
            .as_ref()
            .filter(|(b, _)| !session::backend_chosen() && b.key() == form.backend)
            .map(|(_, why)| why.as_str()),
        estimate: estimate.clone(),
        unoptimized: st.optimized == Some(false),
    };
    let webgpu_missing = matches!(&st.engine, EngineState::Ready(Err(_)));
    let engine_ready = matches!(st.engine, EngineState::Ready(_));
    let busy = st.phase.busy();
    let can_start = parsed.is_ok()
        && limit_error.is_none()
        && setup.corpus_problem().is_none()
        && engine_ready
        && !busy
        && !(backend == Backend::WebGpu && webgpu_missing);
    // The twin of equal active FLOPs (MoE ↔ dense) of the run just made, with the same settings.
    let twin = {
        let shown = if st.meta.preset.is_empty() { form.plan.preset.clone() } else { st.meta.preset.clone() };
        let base = TrainForm {
            plan: lmlab::train::plan_form::PlanForm { preset: shown, ..form.plan.clone() },
            ..(*form).clone()
        };
        base.with_twin().filter(|_| !busy && (st.info.is_some() || st.previous.is_some())).map(|t| {
            let name = t.plan.preset.clone();
            let form = form.clone();
            (name, Callback::from(move |_: MouseEvent| form.set(t.clone())))
        })
    };
    let peak = live::gpu_peak(&gpu_choice, adapter.as_ref());

    html! {
        <section class="lab train-lab">
            <h1>{"Train: watch a language model learn"}</h1>
            <p class="lead">
                {"The CS336 transformer, trained right here — on your GPU through WebGPU, or on the CPU — by the same \
                  Rust code that trains it on an H100 from the command line ("}<code>{"lmlab train"}</code>{"). Training \
                  runs in a web worker, so this page stays responsive; switch to another lab and come back, it keeps going."}
            </p>

            { live::engine_banner(&st) }
            { checkpoints::resume_offer(&st, form.clone(), engine_ready) }

            <div class="train-grid">
                { setup::view(&setup, &parsed, busy, limit_error.as_deref(), can_start, &advice) }
                <section class="panel controls">
                    <h2>{"Controls"}</h2>
                    { live::controls(&st, checkpoints::on_resume_saved(form.clone()), action_error.as_ref()) }
                    { samples::controls(&setup, &parsed, &st) }
                </section>
            </div>

            { live::panel(&st, adapter.as_ref(), &gpu_choice, &log_scale) }
            { moe::router_panel(&st) }
            { moe::comparison_panel(&st, twin) }
            { samples::view(&st) }
            { checkpoints::view(&st, &form, &action_error, busy, engine_ready) }
            { bench::view(&st, &form, &parsed, &bench_steps, peak, !busy && engine_ready && limit_error.is_none()) }

            <Exercises exercises={exercises()} />
        </section>
    }
}
