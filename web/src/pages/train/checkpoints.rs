//! The Train page's checkpoints: the one stored in this browser (IndexedDB) — continue training
//! it, sample from it, forget it —, the newest as a `.tar` download the CLI reads, and a `.tar`
//! (e.g. trained with `lmlab train`) uploaded to sample from.

use lmlab::train::archive;
use lmlab::train::forms::TrainForm;
use lmlab::train::protocol::{Backend, Corpus, LiveSettings, AUTOSAVE_SECONDS};
use lmlab::units::format_bytes;
use web_sys::HtmlInputElement;
use yew::platform::spawn_local;
use yew::prelude::*;

use crate::assets::{fetch_text, SHAKESPEARE, SHAKESPEARE_NAME};
use crate::train::session::{self, Phase, TrainState};
use crate::train::store;

/// The largest checkpoint archive the page reads.
const MAX_CHECKPOINT_BYTES: u64 = 512 << 20;

/// The page's run settings for a checkpoint: where to run it and how to sample.
fn settings(form: &TrainForm) -> (LiveSettings, Backend) {
    form.parse().map(|p| (p.live, p.backend)).unwrap_or_else(|_| (LiveSettings::default(), Backend::WebGpu))
}

/// Continue training the stored run on its corpus (stored with it, or the bundled one).
pub fn on_resume_saved(form: UseStateHandle<TrainForm>) -> Callback<MouseEvent> {
    Callback::from(move |_: MouseEvent| {
        let (live, backend) = settings(&form);
        let run = session::begin("loading the checkpoint…");
        spawn_local(async move {
            let (meta, files, corpus) = match store::load().await {
                Ok(Some(l)) => l,
                Ok(None) => return session::fail(run, "nothing is saved in this browser yet".into()),
                Err(e) => return session::fail(run, e),
            };
            let carried = files.iter().find(|(n, _)| n == archive::CORPUS_FILE);
            let corpus = match (corpus, carried) {
                (Some(c), _) => c,
                (None, Some((_, bytes))) => match archive::embedded_corpus("the saved checkpoint", bytes) {
                    Ok(c) => c,
                    Err(e) => return session::fail(run, e.to_string()),
                },
                (None, None) if meta.bundled => match fetch_text(SHAKESPEARE).await {
                    Ok(text) => Corpus { name: SHAKESPEARE_NAME.into(), text },
                    Err(e) => return session::fail(run, format!("fetching the bundled corpus: {e}")),
                },
                (None, None) => {
                    let why = format!(
                        "the corpus of the saved run ({}) is not stored; sample from the checkpoint instead",
                        meta.data
                    );
                    return session::fail(run, why);
                }
            };
            let origin = "saved checkpoint".to_string();
            session::resume(run, files, origin, corpus, meta.bundled, meta.preset, backend, live);
        });
    })
}

/// After a reload (or a worker ended mid-step): the unfinished run autosaved in this browser,
/// offered at the top of the page — the student's work is one click away.
pub fn resume_offer(st: &TrainState, form: UseStateHandle<TrainForm>, engine_ready: bool) -> Html {
    let Some(saved) = st.saved.as_ref().filter(|m| m.step < m.steps) else { return html! {} };
    let idle = matches!(st.phase, Phase::Idle) || st.ended_mid_step == Some(st.run);
    if !idle {
        return html! {};
    }
    html! {
        <div class="notice" id="train-resume-offer" data-step={saved.step.to_string()}>
            <p>{ format!("Your {} run on {} was saved in this browser at step {} of {} ({}).",
                saved.preset, if saved.bundled { "the bundled Shakespeare" } else { &saved.data }, saved.step, saved.steps, saved.saved_at) }</p>
            <button id="train-resume-autosaved" class="primary" disabled={!engine_ready} onclick={on_resume_saved(form)}>
                { format!("Resume from step {}", saved.step) }</button>
        </div>
    }
}

/// The checkpoints panel.
pub fn view(
    st: &TrainState,
    form: &UseStateHandle<TrainForm>,
    action_error: &UseStateHandle<Option<String>>,
    busy: bool,
    engine_ready: bool,
) -> Html {
    let on_sample_saved = {
        let (form, action_error) = (form.clone(), action_error.clone());
        Callback::from(move |_: MouseEvent| {
            let backend = settings(&form).1;
            let action_error = action_error.clone();
            spawn_local(async move {
                match store::load().await {
                    Ok(Some((_, files, _))) => {
                        let run = session::begin("loading the checkpoint…");
                        session::load(run, files, "saved checkpoint".into(), backend)
                    }
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
    let on_upload = {
        let (form, action_error) = (form.clone(), action_error.clone());
        Callback::from(move |e: Event| {
            let input: HtmlInputElement = e.target_unchecked_into();
            let Some(file) = input.files().and_then(|f| f.get(0)) else { return };
            let file = gloo::file::File::from(file);
            let backend = settings(&form).1;
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
                            let run = session::begin("loading the checkpoint…");
                            session::load(run, files, name, backend);
                        }
                    },
                }
            });
        })
    };
    html! {
        <section class="panel checkpoints" id="train-checkpoints">
            <h2>{"Checkpoints"}</h2>
            <p class="hint">{format!("Saved in this browser (IndexedDB) as the run goes (at least every {} s), at stop and at the end; a reload keeps them. \
                A run on your own text carries it in the .tar when it is at most {}, so ", AUTOSAVE_SECONDS, format_bytes(archive::MAX_EMBEDDED_CORPUS_BYTES as f64))}
                <code>{"lmlab train --resume run.tar"}</code>{" continues it natively. \
                The download is the checkpoint directory of "}<code>{"lmlab train"}</code>{" as one .tar: "}
                <code>{"lmlab sample --checkpoint run.tar"}</code>{" reads it."}</p>
            if let Some(saved) = &st.saved {
                <p id="train-saved" data-step={saved.step.to_string()}>
                    { format!("Saved: {} at step {} of {} on {} ({}, {}), {}", saved.preset, saved.step, saved.steps, saved.data, saved.backend, format_bytes(saved.bytes as f64), saved.saved_at) }
                </p>
                <div class="actions">
                    <button id="train-restore" disabled={busy || !engine_ready} onclick={on_resume_saved(form.clone())}>{"Continue training it"}</button>
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
                <input id="train-upload-checkpoint" type="file" accept=".tar" disabled={busy || !engine_ready} onchange={on_upload} />
            </label>
        </section>
    }
}
