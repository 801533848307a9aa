//! The Train page's samples: the prompt, temperature and cadence (they apply to the running
//! session as they are typed), and the samples drawn so far with the model's next-token guesses.

use lmlab::tokenize::visible_controls;
use lmlab::train::forms::{ParsedForm, TrainForm};
use lmlab::train::protocol::ToWorker;
use yew::prelude::*;

use super::setup::Setup;
use crate::components::field::TextField;
use crate::train::session::{self, Phase, TrainState};

/// The sample settings and "Sample now".
pub fn controls(setup: &Setup, parsed: &Result<ParsedForm, Vec<(&'static str, String)>>, st: &TrainState) -> Html {
    let form = &*setup.form;
    let error = |name: &str| -> Option<String> {
        parsed.as_ref().err().and_then(|errs| errs.iter().find(|(f, _)| *f == name).map(|(_, m)| m.clone()))
    };
    let set = |apply: fn(&mut TrainForm, String)| setup.set(apply);
    let on_sample = {
        let form = setup.form.clone();
        Callback::from(move |_: MouseEvent| {
            if let Ok(p) = form.parse() {
                session::send(ToWorker::Live(p.live));
                session::send(ToWorker::SampleNow);
            }
        })
    };
    let can_sample =
        matches!(st.phase, Phase::Training | Phase::Paused | Phase::Stopped | Phase::Finished | Phase::Loaded);
    html! {
        <>
            <h3>{"Samples"}</h3>
            <div class="row">
                <TextField id="train-prompt" label="Prompt" value={form.prompt.clone()} oninput={set(|f, v| f.prompt = v)} error={error("prompt")} wide=true />
                <TextField id="train-temperature" label="Temperature" value={form.temperature.clone()} oninput={set(|f, v| f.temperature = v)} error={error("temperature")} />
                <TextField id="train-sample-every" label="Every N steps" value={form.sample_every.clone()} oninput={set(|f, v| f.sample_every = v)} error={error("sample_every")} />
            </div>
            <div class="actions">
                <button id="train-sample" disabled={!can_sample || parsed.is_err()} onclick={on_sample}>{"Sample now"}</button>
            </div>
        </>
    }
}

/// The samples, newest first; the newest with its next-token table and (MoE) router map.
pub fn view(st: &TrainState) -> Html {
    if st.samples.is_empty() {
        return html! {};
    }
    html! {
        <section class="panel samples" id="train-samples">
            <h2>{"Samples"}</h2>
            { for st.samples.iter().enumerate().map(|(n, s)| html! {
                <article class="sample" data-step={s.step.to_string()}>
                    <header>{ format!("step {}", s.step) }</header>
                    // Control characters a young model emits are shown as ␛-style pictures, not raw.
                    <pre><b>{ visible_controls(&s.prompt) }</b>{ visible_controls(&s.text) }</pre>
                    if n == 0 {
                        <table class="next-tokens" id="train-next">
                            <caption>{"Most likely next tokens after the prompt"}</caption>
                            { for s.next.iter().map(|(t, p)| html! {
                                <tr><td class="token"><code>{ format!("{t:?}") }</code></td><td class="prob" data-p={p.to_string()}>{ format!("{:.4}", p) }</td></tr>
                            }) }
                        </table>
                        { super::moe::route_heatmap(s) }
                    }
                </article>
            }) }
        </section>
    }
}
