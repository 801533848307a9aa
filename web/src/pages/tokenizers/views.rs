//! The Tokenizers lab's cards: one tokenizer's tokens and ids, the training progress, and the
//! trained BPE with its merge stepper and compression chart.

use std::rc::Rc;

use lmlab::tokenize::train::partial_model;
use lmlab::tokenize::Tokenizer;
use web_sys::HtmlInputElement;
use yew::prelude::*;

use super::{Trained, Training, MAX_DRAWN_TOKENS};
use crate::components::charts::{LineChart, Series};
use crate::components::tokens::{tokens_of, visible, TokenSpans};

pub(super) fn pending_card(name: &str, message: &str) -> Html {
    html! {
        <div class="tokenizer-card pending" data-tokenizer={name.to_string()}>
            <h3>{ name.to_string() }</h3>
            <p class="hint">{ message.to_string() }</p>
        </div>
    }
}

pub(super) fn training_status(t: &Training) -> Html {
    match t {
        Training::Idle => html! {},
        Training::Running { phase, done, total } => html! {
            <div class="progress" id="train-progress">
                <progress max={total.to_string()} value={done.to_string()}></progress>
                <span>{ format!(" {phase} {done}/{total}") }</span>
            </div>
        },
        Training::Failed(e) => html! { <p class="error" role="alert" id="train-error">{ e }</p> },
        Training::Done(t) => html! {
            <p class="result" id="train-done">{ format!("Trained {} merges (vocabulary {}) on {} unique pre-tokens in {:.2} s.",
                t.merges.len(), t.model.vocab_size(), t.unique_pretokens, t.seconds) }</p>
        },
    }
}

/// The trained tokenizer: the merge stepper on `input` (the first slice of a text of `total_len`
/// bytes), the compression chart and the downloads.
pub(super) fn trained_view(t: &Rc<Trained>, input: &str, total_len: usize, step: usize, on_step: Callback<usize>) -> Html {
    let n = t.merges.len();
    let k = step.clamp(n.min(1), n);
    let before = partial_model(&t.merges, k.saturating_sub(1), &t.specials);
    let after = partial_model(&t.merges, k, &t.specials);
    let before_tokens = tokens_of(&before, input);
    let after_tokens = tokens_of(&after, input);
    let go = |to: usize| {
        let cb = on_step.clone();
        Callback::from(move |_| cb.emit(to))
    };
    let on_slider = {
        let cb = on_step.clone();
        Callback::from(move |e: InputEvent| {
            if let Ok(v) = e.target_unchecked_into::<HtmlInputElement>().value().parse::<usize>() {
                cb.emit(v)
            }
        })
    };
    let merge = t.merges.get(k.wrapping_sub(1));
    html! {
        <>
            <h2>{"Step through the merges"}</h2>
            if let Some(m) = merge {
                <div class="stepper panel" id="stepper" data-step={k.to_string()}>
                    <div class="row">
                        <button class="secondary" id="step-first" onclick={go(1)} disabled={k <= 1}>{"« first"}</button>
                        <button class="secondary" id="step-prev" onclick={go(k.saturating_sub(1).max(1))} disabled={k <= 1}>{"◀ previous"}</button>
                        <input type="range" id="step-slider" min="1" max={n.to_string()} value={k.to_string()} oninput={on_slider} />
                        <button class="secondary" id="step-next" onclick={go((k + 1).min(n))} disabled={k >= n}>{"next ▶"}</button>
                        <button class="secondary" id="step-last" onclick={go(n)} disabled={k >= n}>{"last »"}</button>
                    </div>
                    <p class="merge" id="merge-info">
                        { format!("Merge {k} of {n}: ") }
                        <code class="token">{ visible(&m.left) }</code>{" + "}<code class="token">{ visible(&m.right) }</code>
                        {" → "}<code class="token hot">{ visible(&[m.left.as_slice(), m.right.as_slice()].concat()) }</code>
                        { format!("  (seen {} times, new id {})", m.count, m.id) }
                    </p>
                    <p>{ if input.len() < total_len {
                        format!("Your text's first {} bytes: {} tokens before this merge → {} after.", input.len(), before_tokens.len(), after_tokens.len())
                    } else {
                        format!("Your text: {} tokens before this merge → {} after.", before_tokens.len(), after_tokens.len())
                    } }</p>
                    <TokenSpans tokens={after_tokens.into_iter().take(MAX_DRAWN_TOKENS).collect::<Vec<_>>()} highlight={vec![m.id]} />
                </div>
            } else {
                <p class="hint">{"No merges: the text has no pair left to merge."}</p>
            }
            <h2>{"Vocabulary size vs compression"}</h2>
            <LineChart id="compression-chart" x_label="vocabulary size" y_label="bytes per token (corpus sample)"
                series={vec![Series { label: "your BPE".into(), points: t.compression.clone() }]} />
            <h2>{"Download your tokenizer"}</h2>
            <p class="downloads" id="downloads">
                { for t.downloads.iter().map(|(name, url)| html! {
                    <a class="download" href={url.to_string()} download={*name} data-file={*name}>{ *name }</a>
                }) }
            </p>
            <p class="hint">{"vocab.json + merges.txt (GPT-2), tokenizer.json (HF tokenizers), bpe.tiktoken (tiktoken ranks). \
                The CLI reads all three: lmlab tokenize --tokenizer bpe --tokenizer-dir DIR."}</p>
        </>
    }
}
