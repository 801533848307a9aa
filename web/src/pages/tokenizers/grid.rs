//! The tokenizers side by side, encoding the text off the critical path.
//!
//! Measured in headless Chromium on 5.4 MB of text, the old page spent ~1.5 s in one task per
//! keystroke: ~0.45 s encoding with four tokenizers and building (id, bytes) for every token,
//! ~0.25 s writing the text into the URL, ~0.8 s in Yew patching 8,000 token spans and the 5 MB
//! field value. Here the text is encoded in slices cut where no token changes
//! ([`lmlab::tokenize::slicing`]), all tokenizers per slice, yielding to the browser every
//! [`BUDGET_MS`] with a progress bar; only counts and the first [`MAX_DRAWN_TOKENS`] tokens are
//! kept. A newer text or tokenizer bumps a generation counter and the older job stops at its next
//! yield. Each card is its own component, so progress updates patch the bar, not the spans.

use std::cell::RefCell;
use std::rc::Rc;

use gloo::timers::future::TimeoutFuture;
use lmlab::tokenize::slicing::encoding_slices;
use lmlab::tokenize::Tokenizer;
use lmlab::units::format_count;
use yew::platform::spawn_local;
use yew::prelude::*;

use super::views::pending_card;
use super::MAX_DRAWN_TOKENS;
use crate::components::tokens::TokenSpans;

/// Bytes encoded between checks of the clock: small enough that one slice through every
/// tokenizer takes a few milliseconds.
const SLICE_BYTES: usize = 16 * 1024;
/// Work between yields to the browser (ms); well under the 50 ms of a "long task".
const BUDGET_MS: f64 = 30.0;

/// One column: a tokenizer, or why it is not there yet.
#[derive(Clone)]
pub struct Column {
    pub name: &'static str,
    pub about: String,
    pub tokenizer: Result<Rc<dyn Tokenizer>, String>,
}

impl PartialEq for Column {
    fn eq(&self, other: &Self) -> bool {
        let same = match (&self.tokenizer, &other.tokenizer) {
            (Ok(a), Ok(b)) => Rc::ptr_eq(a, b),
            (Err(a), Err(b)) => a == b,
            _ => false,
        };
        same && self.name == other.name && self.about == other.about
    }
}

#[derive(Properties)]
pub struct GridProps {
    pub text: Rc<str>,
    pub columns: Vec<Column>,
    /// Special tokens of the BPE columns (the slicer must not cut inside one).
    pub specials: Vec<String>,
}

impl PartialEq for GridProps {
    fn eq(&self, other: &Self) -> bool {
        same_text(&self.text, &other.text)
            && self.columns == other.columns
            && self.specials == other.specials
    }
}

/// What one tokenizer made of the text so far.
#[derive(Clone, PartialEq)]
pub struct Encoded {
    /// (id, bytes) of the first tokens, up to [`MAX_DRAWN_TOKENS`].
    pub drawn: Vec<(u32, Vec<u8>)>,
    /// All tokens; `None` while counting.
    pub count: Option<usize>,
    /// Bytes of the text encoded.
    pub bytes: usize,
}

/// The state of the grid: the text encoded, each column's result by name and, while encoding,
/// the progress in bytes.
#[derive(Clone, PartialEq, Default)]
struct Results {
    /// The text and columns these results are for.
    text: Option<Rc<str>>,
    columns: Vec<Column>,
    encoded: Vec<(&'static str, Rc<Encoded>)>,
    progress: Option<(usize, usize)>,
}

fn same_text(a: &Rc<str>, b: &Rc<str>) -> bool {
    Rc::ptr_eq(a, b) || a == b
}

fn now_ms() -> f64 {
    js_sys::Date::now()
}

/// Encodes `text` with every tokenizer, a slice at a time, publishing partial and final results.
/// Returns early when `generation` moves past `mine`.
async fn encode_all(
    text: Rc<str>,
    columns: Vec<Column>,
    specials: Vec<String>,
    mine: u64,
    generation: Rc<RefCell<u64>>,
    results: UseStateHandle<Results>,
) {
    let tokenizers: Vec<(&'static str, Rc<dyn Tokenizer>)> =
        columns.iter().filter_map(|c| Some((c.name, c.tokenizer.as_ref().ok()?.clone()))).collect();
    let mut counts = vec![0usize; tokenizers.len()];
    let mut drawn: Vec<Vec<(u32, Vec<u8>)>> = vec![Vec::new(); tokenizers.len()];
    let mut done = 0;
    let mut since_yield = now_ms();
    let publish = |drawn: &[Vec<(u32, Vec<u8>)>], counts: Option<&[usize]>, progress| Results {
        text: Some(text.clone()),
        columns: columns.clone(),
        encoded: drawn
            .iter()
            .enumerate()
            .map(|(i, d)| {
                (tokenizers[i].0, Rc::new(Encoded { drawn: d.clone(), count: counts.map(|c| c[i]), bytes: text.len() }))
            })
            .collect(),
        progress,
    };
    let mut partial: Option<Results> = None;
    for slice in encoding_slices(&text, SLICE_BYTES, &specials) {
        for (i, (_, t)) in tokenizers.iter().enumerate() {
            let ids = t.encode(slice);
            let room = MAX_DRAWN_TOKENS.saturating_sub(drawn[i].len());
            drawn[i].extend(ids.iter().take(room).map(|&id| (id, t.token_bytes(id).unwrap_or_default())));
            counts[i] += ids.len();
        }
        done += slice.len();
        if done < text.len() && now_ms() - since_yield > BUDGET_MS {
            // The first tokens are known after the first slices: show them while counting on.
            let next = match partial.take() {
                None => publish(&drawn, None, Some((done, text.len()))),
                Some(p) => Results { progress: Some((done, text.len())), ..p },
            };
            partial = Some(next.clone());
            results.set(next);
            TimeoutFuture::new(0).await;
            if *generation.borrow() != mine {
                return;
            }
            since_yield = now_ms();
        }
    }
    results.set(publish(&drawn, Some(&counts), None));
}

#[function_component(TokenizerGrid)]
pub fn tokenizer_grid(props: &GridProps) -> Html {
    let results = use_state(Results::default);
    let generation = use_mut_ref(|| 0u64);
    {
        let results = results.clone();
        let generation = generation.clone();
        let key = (props.text.clone(), props.columns.clone(), props.specials.clone());
        use_effect_with(KeyOf(key), move |KeyOf((text, columns, specials))| {
            let mine = {
                let mut g = generation.borrow_mut();
                *g += 1;
                *g
            };
            let (text, columns, specials) = (text.clone(), columns.clone(), specials.clone());
            spawn_local(encode_all(text, columns, specials, mine, generation, results));
        });
    }
    // Results of an older text are not shown (the job for this one has not published yet).
    let current =
        results.text.as_ref().is_some_and(|t| same_text(t, &props.text)) && results.columns == props.columns;
    let encoded_of = |name: &str| {
        results.encoded.iter().find(|(n, _)| *n == name).map(|(_, e)| e.clone()).filter(|_| current)
    };
    let progress = results.progress.filter(|_| current);
    let running = progress.is_some() || !current;
    html! {
        <>
            if let Some((done, total)) = progress {
                <div class="progress" id="tokenize-progress" data-done={done.to_string()} data-total={total.to_string()}>
                    <progress max={total.to_string()} value={done.to_string()}></progress>
                    <span>{ format!(" tokenizing… {} of {} bytes", format_count(done as f64), format_count(total as f64)) }</span>
                </div>
            }
            <div class="tokenizer-grid" id="tokenizer-grid" data-state={if running { "tokenizing" } else { "done" }}>
                { for props.columns.iter().map(|c| match &c.tokenizer {
                    Err(message) => pending_card(c.name, message),
                    Ok(t) => html! {
                        <TokenizerCard name={c.name} about={c.about.clone()} vocab={t.vocab_size()}
                            encoded={encoded_of(c.name)} />
                    },
                }) }
            </div>
        </>
    }
}

/// Effect dependencies compared like the props (the text by pointer first).
struct KeyOf((Rc<str>, Vec<Column>, Vec<String>));

impl PartialEq for KeyOf {
    fn eq(&self, other: &Self) -> bool {
        let (a, b) = (&self.0, &other.0);
        same_text(&a.0, &b.0) && a.1 == b.1 && a.2 == b.2
    }
}

#[derive(Properties, PartialEq)]
struct CardProps {
    name: &'static str,
    about: String,
    vocab: usize,
    /// `None` before the first result for this column.
    encoded: Option<Rc<Encoded>>,
}

#[function_component(TokenizerCard)]
fn tokenizer_card(props: &CardProps) -> Html {
    let (drawn, count, bytes) = match &props.encoded {
        Some(e) => (e.drawn.clone(), e.count, e.bytes),
        None => (Vec::new(), None, 0),
    };
    let ids: Vec<String> = drawn.iter().map(|(id, _)| id.to_string()).collect();
    let ratio = match count {
        Some(n) if n > 0 => format!("{:.2}", bytes as f64 / n as f64),
        Some(_) => "0.00".to_string(),
        None => "…".to_string(),
    };
    html! {
        <div class="tokenizer-card" data-tokenizer={props.name}>
            <h3>{ props.name }<span class="sub">{ format!(" — {}", props.about) }</span></h3>
            <dl class="stats">
                <div><dt>{"tokens"}</dt><dd class="count">{ count.map(|n| n.to_string()).unwrap_or_default() }</dd></div>
                <div><dt>{"bytes/token"}</dt><dd class="ratio">{ ratio }</dd></div>
                <div><dt>{"vocabulary"}</dt><dd class="vocab" data-vocab={props.vocab.to_string()}>{ format_count(props.vocab as f64) }</dd></div>
            </dl>
            <TokenSpans tokens={drawn} />
            <p class="ids" data-ids={ids.join(" ")}>{ ids.join(", ") }</p>
            { match count {
                Some(n) if n > MAX_DRAWN_TOKENS => html! { <p class="hint">{ format!("showing the first {MAX_DRAWN_TOKENS} of {n} tokens") }</p> },
                None if props.encoded.is_some() => html! { <p class="hint counting">{ format!("showing the first {} tokens; counting the rest…", ids.len()) }</p> },
                _ => html! {},
            } }
        </div>
    }
}
