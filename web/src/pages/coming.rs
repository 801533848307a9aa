//! Labs that are not built yet say what they will hold instead of showing a broken page.

use yew::prelude::*;

use crate::route::Page;

#[derive(Properties, PartialEq)]
pub struct ComingProps {
    pub page: Page,
}

#[function_component(Coming)]
pub fn coming(props: &ComingProps) -> Html {
    let plan = match props.page {
        Page::Tokenizers => {
            "The four tokenizers of the lecture side by side on your text (colored tokens, ids, \
            compression), BPE training with a merge-by-merge stepper, and GPT-2's tokenizer for comparison."
        }
        Page::Train => {
            "A small transformer trained in a web worker on WebGPU, with live loss curves, tokens/s, \
            MFU against your GPU's peak, samples as it learns, and checkpoints you can download."
        }
        _ => "",
    };
    html! {
        <section class="coming-page">
            <h1>{ props.page.title() }</h1>
            <p class="notice">{"This lab is coming in a later release of lmlab."}</p>
            <p>{ plan }</p>
            <p>{"Meanwhile, try the "}<a href="#/precision">{"Precision"}</a>{" and "}<a href="#/compute">{"Compute"}</a>{" labs."}</p>
        </section>
    }
}
