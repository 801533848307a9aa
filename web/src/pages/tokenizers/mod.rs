//! The Tokenizers lab: four tokenizers side by side, BPE trained in the page with a merge stepper,
//! GPT-2 for comparison, and the trained tokenizer as downloadable files.
//!
//! Training runs on the main thread in slices (a few hundred KB of pre-tokenizing, or 64 merges,
//! per slice) with a yield to the browser between slices, so the page keeps painting and typing
//! stays responsive; the core's `BpeTrainer::step` makes that possible without a worker. The text
//! to tokenize is encoded the same way (see [`grid`]).
//!
//! Both text boxes are uncontrolled: Yew re-reads a controlled field's DOM value on every render
//! to compare it, a multi-megabyte copy per keystroke. The page reads them when it needs them.

use std::rc::Rc;

use gloo::file::{Blob, ObjectUrl};
use gloo::timers::future::TimeoutFuture;
use lmlab::tokenize::formats::{read_gpt2, write_gpt2, write_hf, write_tiktoken};
use lmlab::tokenize::special::SpecialTokens;
use lmlab::tokenize::train::{merges_for, partial_model, slices, BpeTrainer, MergeStep, PretokenCounts};
use lmlab::tokenize::{exercises, Bpe, ByteTokenizer, CharTokenizer, WordTokenizer};
use lmlab::units::parse_count;
use lmlab::tokenize::slicing::encoding_slices;
use lmlab::tokenize::Tokenizer;
use web_sys::{HtmlInputElement, HtmlTextAreaElement};
use yew::platform::spawn_local;
use yew::prelude::*;

mod grid;
mod views;

use crate::assets::fetch_text;
use crate::components::exercises::Exercises;
use crate::components::field::TextField;
use crate::route::{self, Page, Route};

/// The largest text the page takes by paste (characters) or upload (bytes): beyond this, training
/// would hold the tab for too long. The CLI has no limit.
pub const MAX_PASTE_CHARS: usize = 10_000_000;
pub const MAX_UPLOAD_BYTES: usize = 50_000_000;
/// Tokens drawn per tokenizer; counts and ratios always use the whole input.
const MAX_DRAWN_TOKENS: usize = 2_000;
/// Largest vocabulary the page trains (the CLI has no limit).
const MAX_PAGE_VOCAB: u64 = 50_000;
/// Texts up to this many characters go into the URL (to share a link). Longer ones stay out:
/// browsers cap URLs at ~2 MB, and encoding 5 MB into the fragment took ~0.25 s per keystroke.
const MAX_URL_TEXT_CHARS: usize = 2_000;
/// Texts up to this many characters are tokenized as soon as they are typed; longer ones after
/// the typing pauses for [`DEBOUNCE_MS`], so a burst of keystrokes starts one encoding, not many.
/// Pastes longer than this are kept out of the box: Chromium lays out a text box's whole content,
/// and for 5.5 MB that alone took 3–7 s on the main thread (1.3 s for an `<input>`), far more than
/// tokenizing it.
const INSTANT_CHARS: u32 = 100_000;
const DEBOUNCE_MS: u32 = 250;
/// The merge stepper re-encodes the text twice per step: it works on the first slice of at most
/// this many bytes (cut where no token changes) of a longer text.
const STEPPER_BYTES: usize = 16 * 1024;
/// The special token of GPT-2's column.
const GPT2_SPECIALS: [&str; 1] = ["<|endoftext|>"];

#[derive(Properties, PartialEq)]
pub struct TokenizersProps {
    pub route: Route,
}

/// A text fetched or loaded into the page.
#[derive(Clone, PartialEq)]
enum Loaded<T> {
    Loading,
    Ready(T),
    Failed(String),
    /// Nothing selected: the last paste or upload was rejected, and the text selected before it is
    /// dropped rather than silently kept (what the page shows is what Train would use).
    Cleared,
}

/// The training corpus: where it came from and its text.
#[derive(Clone, PartialEq)]
struct Corpus {
    name: String,
    text: Rc<String>,
}

/// A finished training run.
struct Trained {
    merges: Vec<MergeStep>,
    specials: Vec<String>,
    model: Rc<Bpe>,
    seconds: f64,
    unique_pretokens: usize,
    /// (vocabulary size, bytes per token on a sample of the corpus)
    compression: Vec<(f64, f64)>,
    downloads: Vec<(&'static str, ObjectUrl)>,
}

#[derive(Clone)]
enum Training {
    Idle,
    Running { phase: &'static str, done: usize, total: usize },
    Done(Rc<Trained>),
    Failed(String),
}

fn now_s() -> f64 {
    js_sys::Date::now() / 1000.0
}

fn specials_of(text: &str) -> Vec<String> {
    text.split_whitespace().map(String::from).collect()
}

/// Trains BPE on `text` in slices, reporting progress through `status`.
async fn train_in_slices(text: Rc<String>, vocab_size: usize, specials: Vec<String>, status: UseStateHandle<Training>) {
    let started = now_s();
    let total_merges = match merges_for(vocab_size, &specials) {
        Ok(n) => n,
        Err(e) => return status.set(Training::Failed(e.to_string())),
    };
    let special_set = SpecialTokens::new(&specials);
    let mut counts = PretokenCounts::default();
    let pieces = slices(&text, 256 * 1024);
    for (i, piece) in pieces.iter().enumerate() {
        counts.add_text(piece, &special_set);
        status.set(Training::Running { phase: "pre-tokenizing", done: i + 1, total: pieces.len() });
        TimeoutFuture::new(0).await;
    }
    if counts.total == 0 {
        return status.set(Training::Failed("the training text is empty".into()));
    }
    let mut trainer = BpeTrainer::new(&counts);
    let mut done = 0;
    'merging: while done < total_merges {
        for _ in 0..64 {
            if done == total_merges || trainer.step().is_none() {
                break 'merging;
            }
            done += 1;
        }
        status.set(Training::Running { phase: "merging", done, total: total_merges });
        TimeoutFuture::new(0).await;
    }
    let merges = trainer.merges().to_vec();
    // Compression along the way: bytes per token of a sample at ~20 vocabulary sizes.
    let mut end = text.len().min(64 * 1024);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    let sample = &text[..end];
    let points: Vec<usize> = (0..=20).map(|i| merges.len() * i / 20).collect();
    let mut compression = Vec::new();
    for k in points {
        let m = partial_model(&merges, k, &specials);
        let n = m.encode_text(sample).len().max(1);
        compression.push(((256 + k + specials.len()) as f64, sample.len() as f64 / n as f64));
    }
    let model = trainer.model(&specials);
    let (vocab_json, merges_txt) = write_gpt2(&model);
    let file = |text: String, mime: &str| ObjectUrl::from(Blob::new_with_options(text.as_str(), Some(mime)));
    let downloads = vec![
        ("vocab.json", file(vocab_json, "application/json")),
        ("merges.txt", file(merges_txt, "text/plain")),
        ("tokenizer.json", file(write_hf(&model), "application/json")),
        ("bpe.tiktoken", file(write_tiktoken(&model), "text/plain")),
    ];
    status.set(Training::Done(Rc::new(Trained {
        merges,
        specials,
        model: Rc::new(model),
        seconds: now_s() - started,
        unique_pretokens: counts.counts.len(),
        compression,
        downloads,
    })));
}

#[function_component(TokenizersLab)]
pub fn tokenizers_lab(props: &TokenizersProps) -> Html {
    let param = |k: &str, default: &str| props.route.get(k).unwrap_or(default).to_string();
    let input = use_state(|| Rc::<str>::from(param("text", "Hello, 世界!")));
    let input_ref = use_node_ref();
    // Characters of a long pasted text held outside the box (see INSTANT_CHARS).
    let held = use_state(|| None::<usize>);
    let debounce = use_mut_ref(|| 0u64);
    let vocab_size = use_state(|| param("vocab", "500"));
    let specials = use_state(|| param("special", "<|endoftext|>"));
    let corpus = use_state(|| Loaded::<Corpus>::Loading);
    let gpt2 = use_state(|| Loaded::<Rc<Bpe>>::Loading);
    let training = use_state(|| Training::Idle);
    let step = use_state(|| 1usize);
    let paste_ref = use_node_ref();
    let paste_chars = use_state(|| 0usize);
    let corpus_error = use_state(|| None::<String>);

    {
        // Lazily fetched assets: only this page loads them.
        let (corpus, gpt2) = (corpus.clone(), gpt2.clone());
        use_effect_with((), move |_| {
            spawn_local(async move {
                match fetch_text("assets/tinyshakespeare.txt").await {
                    Ok(text) => corpus
                        .set(Loaded::Ready(Corpus { name: "Tiny Shakespeare (bundled)".into(), text: Rc::new(text) })),
                    Err(e) => corpus.set(Loaded::Failed(e)),
                }
                let vocab = fetch_text("assets/gpt2_vocab.json").await;
                let merges = fetch_text("assets/gpt2_merges.txt").await;
                gpt2.set(match (vocab, merges) {
                    (Ok(v), Ok(m)) => {
                        match read_gpt2("gpt2_vocab.json", &v, "gpt2_merges.txt", &m, &["<|endoftext|>".to_string()]) {
                            Ok(bpe) => Loaded::Ready(Rc::new(bpe)),
                            Err(e) => Loaded::Failed(e.to_string()),
                        }
                    }
                    (Err(e), _) | (_, Err(e)) => Loaded::Failed(e),
                });
            });
        });
    }
    {
        // The text box is uncontrolled: its first value is set once, here.
        let (input_ref, text) = (input_ref.clone(), (*input).clone());
        use_effect_with((), move |_| {
            if let Some(el) = input_ref.cast::<HtmlTextAreaElement>() {
                el.set_value(&text);
            }
        });
    }
    {
        let state = ((*input).clone(), (*vocab_size).clone(), (*specials).clone());
        use_effect_with(state, |(text, vocab, special)| {
            let mut params = vec![("vocab".into(), vocab.clone()), ("special".into(), special.clone())];
            if text.chars().take(MAX_URL_TEXT_CHARS + 1).count() <= MAX_URL_TEXT_CHARS {
                params.insert(0, ("text".into(), text.to_string()));
            }
            route::replace_params(Page::Tokenizers, params);
        });
    }
    let corpus_text = match &*corpus {
        Loaded::Ready(c) => Some(c.text.clone()),
        _ => None,
    };
    // Keyed by the corpus itself (its allocation), not its length: two corpora of one length differ.
    let word = use_memo(corpus_text.as_ref().map(|t| Rc::as_ptr(t) as usize), {
        let corpus_text = corpus_text.clone();
        move |_| corpus_text.map(|t| Rc::new(WordTokenizer::train(&t, 10_000)) as Rc<dyn Tokenizer>)
    });
    let char_tokenizer = use_memo((), |_| Rc::new(CharTokenizer) as Rc<dyn Tokenizer>);
    let byte_tokenizer = use_memo((), |_| Rc::new(ByteTokenizer) as Rc<dyn Tokenizer>);

    let setter = |s: &UseStateHandle<String>| {
        let s = s.clone();
        Callback::from(move |v: String| s.set(v))
    };
    let vocab_parsed = parse_count("vocab size", &vocab_size).map_err(|e| e.to_string()).and_then(|v| {
        if v > MAX_PAGE_VOCAB {
            return Err(format!(
                "vocab size {v} is more than the page trains ({MAX_PAGE_VOCAB}); use `lmlab bpe train` for larger"
            ));
        }
        merges_for(v as usize, &specials_of(&specials)).map(|_| v as usize).map_err(|e| e.to_string())
    });
    let running = matches!(*training, Training::Running { .. });
    let on_train = {
        let (training, step, corpus_text, vocab_parsed, specials) =
            (training.clone(), step.clone(), corpus_text.clone(), vocab_parsed.clone(), specials.clone());
        Callback::from(move |_| {
            let (Some(text), Ok(v)) = (corpus_text.clone(), vocab_parsed.clone()) else { return };
            let (training, step) = (training.clone(), step.clone());
            let specials = specials_of(&specials);
            training.set(Training::Running { phase: "starting", done: 0, total: 1 });
            spawn_local(async move {
                train_in_slices(text, v, specials, training).await;
                step.set(1);
            });
        })
    };
    let on_big_paste = {
        let (input, debounce, held) = (input.clone(), debounce.clone(), held.clone());
        Callback::from(move |e: Event| {
            let Some(text) = pasted_text(&e) else { return };
            if text.len() <= INSTANT_CHARS as usize {
                return; // the box takes it; on_input tokenizes it
            }
            e.prevent_default();
            *debounce.borrow_mut() += 1; // a pending debounced read would overwrite it
            e.target_unchecked_into::<HtmlTextAreaElement>().set_value("");
            held.set(Some(text.chars().count()));
            input.set(Rc::from(text));
        })
    };
    let on_input = {
        let (input, debounce, held) = (input.clone(), debounce.clone(), held.clone());
        Callback::from(move |e: InputEvent| {
            held.set(None);
            let el: HtmlTextAreaElement = e.target_unchecked_into();
            let mine = {
                let mut d = debounce.borrow_mut();
                *d += 1;
                *d
            };
            if el.text_length() <= INSTANT_CHARS {
                return input.set(Rc::from(el.value()));
            }
            let (input, debounce) = (input.clone(), debounce.clone());
            spawn_local(async move {
                TimeoutFuture::new(DEBOUNCE_MS).await;
                if *debounce.borrow() == mine {
                    input.set(Rc::from(el.value()));
                }
            });
        })
    };
    let on_paste = {
        let paste_chars = paste_chars.clone();
        Callback::from(move |e: InputEvent| {
            paste_chars.set(e.target_unchecked_into::<HtmlTextAreaElement>().text_length() as usize)
        })
    };
    let use_paste = {
        let (paste_ref, corpus, corpus_error) = (paste_ref.clone(), corpus.clone(), corpus_error.clone());
        Callback::from(move |_| {
            let paste = paste_ref.cast::<HtmlTextAreaElement>().map(|el| el.value()).unwrap_or_default();
            if paste.trim().is_empty() {
                corpus.set(Loaded::Cleared);
                corpus_error.set(Some("the pasted text is empty".into()));
                return;
            }
            corpus_error.set(None);
            corpus.set(Loaded::Ready(Corpus {
                name: format!("pasted text ({} characters)", paste.chars().count()),
                text: Rc::new(paste),
            }));
        })
    };
    let on_upload = {
        let (corpus, corpus_error) = (corpus.clone(), corpus_error.clone());
        Callback::from(move |e: Event| {
            let input: HtmlInputElement = e.target_unchecked_into();
            let Some(file) = input.files().and_then(|f| f.get(0)) else { return };
            let file = gloo::file::File::from(file);
            let (corpus, corpus_error) = (corpus.clone(), corpus_error.clone());
            spawn_local(async move {
                let name = file.name();
                if file.size() as usize > MAX_UPLOAD_BYTES {
                    corpus.set(Loaded::Cleared);
                    return corpus_error.set(Some(format!(
                        "{name} is {} — the page takes files up to {} MB; train larger corpora with `lmlab bpe train`",
                        lmlab::units::format_bytes(file.size() as f64),
                        MAX_UPLOAD_BYTES / 1_000_000
                    )));
                }
                match gloo::file::futures::read_as_bytes(&file).await {
                    Err(e) => {
                        corpus.set(Loaded::Cleared);
                        corpus_error.set(Some(format!("{name}: {e}")));
                    }
                    Ok(bytes) => match String::from_utf8(bytes) {
                        Err(e) => {
                            corpus.set(Loaded::Cleared);
                            corpus_error.set(Some(format!(
                                "{name}: invalid UTF-8 at byte offset {}",
                                e.utf8_error().valid_up_to()
                            )));
                        }
                        Ok(text) => {
                            corpus_error.set(None);
                            corpus.set(Loaded::Ready(Corpus {
                                name: format!("{name} ({} bytes)", text.len()),
                                text: Rc::new(text),
                            }));
                        }
                    },
                }
            });
        })
    };

    let trained = match &*training {
        Training::Done(t) => Some(t.clone()),
        _ => None,
    };
    let text = (*input).clone();
    let gpt2_model = match &*gpt2 {
        Loaded::Ready(m) => Some(m.clone()),
        _ => None,
    };
    let column = |name: &'static str, about: &str, tokenizer: Result<Rc<dyn Tokenizer>, String>| grid::Column {
        name,
        about: about.to_string(),
        tokenizer,
    };
    let mut columns = vec![
        column("char", "Unicode code points", Ok((*char_tokenizer).clone())),
        column("byte", "UTF-8 bytes", Ok((*byte_tokenizer).clone())),
        column(
            "word",
            "\\w+|. over the corpus, top 10,000 + [UNK]",
            match (&*word, &*corpus) {
                (Some(w), _) => Ok(w.clone()),
                (None, Loaded::Cleared) => Err("no training text: paste or upload one".into()),
                (None, _) => Err("waiting for the corpus".into()),
            },
        ),
        column(
            "gpt2",
            "GPT-2 byte-level BPE (50,257)",
            match (&*gpt2, &gpt2_model) {
                (_, Some(m)) => Ok(m.clone() as Rc<dyn Tokenizer>),
                (Loaded::Failed(e), _) => Err(format!("could not load GPT-2: {e}")),
                _ => Err("loading GPT-2's vocabulary and merges…".into()),
            },
        ),
    ];
    let mut grid_specials: Vec<String> = GPT2_SPECIALS.iter().map(|s| s.to_string()).collect();
    if let Some(t) = &trained {
        columns.push(column("trained", "your BPE", Ok(t.model.clone() as Rc<dyn Tokenizer>)));
        grid_specials.extend(t.specials.iter().cloned());
    }
    // The stepper's share of the text: all of a short one, the first safe slice of a long one.
    let stepper_text = encoding_slices(&text, STEPPER_BYTES, &grid_specials).next().unwrap_or_default();

    html! {
        <section class="lab tokenizers">
            <h1>{"Tokenizers"}</h1>
            <p class="lead">{"A language model reads integers. How text becomes integers decides the vocabulary size (the embedding table) \
                and the sequence length (the compute): characters, bytes, words and byte-level BPE, side by side."}</p>
            <label class="field wide">
                <span class="label">{"Text to tokenize"}</span>
                <textarea id="tok-input" rows="3" spellcheck="false" autocomplete="off" ref={input_ref} oninput={on_input}
                    onpaste={on_big_paste} />
                if let Some(n) = *held {
                    <span class="hint" id="held-text">{ format!("Tokenizing your pasted text of {n} characters below; it is kept out of the box, \
                        where the browser would take seconds to lay it out. Type in the box to replace it.") }</span>
                }
                <span class="hint">{"Whitespace is shown as · (space), ↵ (newline), → (tab). Bytes that are not a whole character show as <E4>. \
                    Long texts (megabytes) are tokenized in slices, with a progress bar."}</span>
            </label>
            <grid::TokenizerGrid text={text.clone()} columns={columns} specials={grid_specials} />

            <h2>{"Train BPE"}</h2>
            <p>{"CS336's algorithm: split on special tokens, pre-tokenize with GPT-2's pattern, count pairs inside pre-tokens, \
                and repeatedly merge the most frequent pair (ties: the lexicographically greatest)."}</p>
            <div class="panel">
                <p class="corpus" id="corpus-name">{ match &*corpus {
                    Loaded::Loading => "Training text: loading Tiny Shakespeare…".to_string(),
                    Loaded::Ready(c) => format!("Training text: {} — {} bytes", c.name, c.text.len()),
                    Loaded::Failed(e) => format!("Could not load the bundled corpus ({e}); paste or upload a text."),
                    Loaded::Cleared => "Training text: none — paste or upload a text.".to_string(),
                } }</p>
                <div class="row">
                    <label class="field wide">
                        <span class="label">{"Paste a training text"}</span>
                        <textarea id="paste-corpus" rows="4" maxlength={MAX_PASTE_CHARS.to_string()} oninput={on_paste}
                            ref={paste_ref} placeholder="Paste any text here, then press “Use pasted text”." />
                        if *paste_chars >= MAX_PASTE_CHARS {
                            <span class="error" role="alert">{ format!("Pasted text stops at the page's limit of {MAX_PASTE_CHARS} characters; upload a file (up to {} MB) or use `lmlab bpe train` for more.", MAX_UPLOAD_BYTES / 1_000_000) }</span>
                        }
                    </label>
                </div>
                <div class="row">
                    <button class="secondary" id="use-paste" onclick={use_paste}>{"Use pasted text"}</button>
                    <label class="upload">{"or upload a file "}<input type="file" id="upload-corpus" accept=".txt,text/plain" onchange={on_upload} /></label>
                </div>
                if let Some(err) = &*corpus_error { <p class="error" role="alert" id="corpus-error">{ err }</p> }
                <div class="row">
                    <TextField id="vocab-size" label="Vocabulary size" value={(*vocab_size).clone()} oninput={setter(&vocab_size)}
                        error={vocab_parsed.as_ref().err().cloned()} hint="256 bytes + merges + special tokens" />
                    <TextField id="special-tokens" label="Special tokens (space-separated)" value={(*specials).clone()} oninput={setter(&specials)} />
                    <button id="train" class="check" disabled={running || corpus_text.is_none() || vocab_parsed.is_err()} onclick={on_train}>{"Train"}</button>
                </div>
                { training_status(&training) }
            </div>
            if let Some(t) = trained.clone() {
                { trained_view(&t, stepper_text, text.len(), *step, {
                    let step = step.clone();
                    Callback::from(move |k: usize| step.set(k))
                }) }
            }
            <Exercises exercises={exercises()} />
        </section>
    }
}

use views::{trained_view, training_status};

/// The plain text of a `paste` event (`clipboardData.getData("text")`), read through JS reflection
/// to need no extra web-sys features.
fn pasted_text(e: &Event) -> Option<String> {
    use wasm_bindgen::JsCast;
    let data = js_sys::Reflect::get(e, &"clipboardData".into()).ok().filter(|d| d.is_object())?;
    let get = js_sys::Reflect::get(&data, &"getData".into()).ok()?.dyn_into::<js_sys::Function>().ok()?;
    get.call1(&data, &"text".into()).ok()?.as_string()
}
