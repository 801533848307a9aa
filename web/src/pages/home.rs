//! The landing page: what each lab teaches.

use yew::prelude::*;

use crate::route::{href, Page};

#[function_component(Home)]
pub fn home() -> Html {
    let card = |page: Page, blurb: &str| {
        html! {
            <a class="card" href={href(page)}>
                <h2>{ page.title() }</h2>
                <p>{ blurb.to_string() }</p>
            </a>
        }
    };
    html! {
        <section class="home">
            <h1>{"Build a language model from scratch"}</h1>
            <p class="lead">
                {"A hands-on lab in the spirit of Stanford's CS336: every lesson is something you can change and \
                  measure, computed by the same Rust code that trains the model on a GPU."}
            </p>
            <div class="cards">
                { card(Page::Tokenizers, "Character, byte, word and byte-level BPE side by side; train BPE on your own text and watch it merge.") }
                { card(Page::Precision, "fp32, tf32, fp16, bf16 and fp8, bit by bit: type a number, flip a bit, watch the rounding error and a sum drift.") }
                { card(Page::Compute, "FLOPs, parameters, memory and training time of real transformers on real GPUs — how long does 70B on 15T tokens take?") }
                { card(Page::Train, "Train a small transformer on WebGPU, right in this page, from the same model code that runs on H100s.") }
                { card(Page::Hardware, "Measure your own GPU: a naive matmul, then tiling and register blocking, on a roofline chart.") }
                { card(Page::Scaling, "Run an IsoFLOP sweep, fit Chinchilla's laws yourself, and find the compute-optimal model for any budget.") }
            </div>
        </section>
    }
}
