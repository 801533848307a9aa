//! The Tokenizers lab: four tokenizers side by side, BPE trained in the page with a merge stepper,
//! GPT-2 for comparison, and the trained tokenizer as downloadable files.
//!
//! Training runs on the main thread in slices (a few hundred KB of pre-tokenizing, or 64 merges,
//! per slice) with a yield to the browser between slices, so the page keeps painting and typing
//! stays responsive; the core's `BpeTrainer::step` makes that possible without a worker.

use std::rc::Rc;

use gloo::file::{Blob, ObjectUrl};
use gloo::timers::future::TimeoutFuture;
use lmlab::tokenize::formats::{read_gpt2, write_gpt2, write_hf, write_tiktoken};
use lmlab::tokenize::special::SpecialTokens;
use lmlab::tokenize::train::{merges_for, partial_model, slices, BpeTrainer, MergeStep, PretokenCounts};
use lmlab::tokenize::{exercises, Bpe, ByteTokenizer, CharTokenizer, WordTokenizer};
use lmlab::units::parse_count;
use web_sys::{HtmlInputElement, HtmlTextAreaElement};
use yew::platform::spawn_local;
use yew::prelude::*;

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
    model: Bpe,
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
        model,
        seconds: now_s() - started,
        unique_pretokens: counts.counts.len(),
        compression,
        downloads,
    })));
}

#[function_component(TokenizersLab)]
pub fn tokenizers_lab(props: &TokenizersProps) -> Html {
    let param = |k: &str, default: &str| props.route.get(k).unwrap_or(default).to_string();
    let input = use_state(|| param("text", "Hello, 世界!"));
    let vocab_size = use_state(|| param("vocab", "500"));
    let specials = use_state(|| param("special", "<|endoftext|>"));
    let corpus = use_state(|| Loaded::<Corpus>::Loading);
    let gpt2 = use_state(|| Loaded::<Rc<Bpe>>::Loading);
    let training = use_state(|| Training::Idle);
    let step = use_state(|| 1usize);
    let paste = use_state(String::new);
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
        let state = ((*input).clone(), (*vocab_size).clone(), (*specials).clone());
        use_effect_with(state, |(text, vocab, special)| {
            route::replace_params(
                Page::Tokenizers,
                vec![
                    ("text".into(), text.clone()),
                    ("vocab".into(), vocab.clone()),
                    ("special".into(), special.clone()),
                ],
            );
        });
    }
    let corpus_text = match &*corpus {
        Loaded::Ready(c) => Some(c.text.clone()),
        _ => None,
    };
    let word = use_memo(corpus_text.as_ref().map(|t| t.len()), {
        let corpus_text = corpus_text.clone();
        move |_| corpus_text.map(|t| WordTokenizer::train(&t, 10_000))
    });

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
    let on_paste = {
        let paste = paste.clone();
        Callback::from(move |e: InputEvent| paste.set(e.target_unchecked_into::<HtmlTextAreaElement>().value()))
    };
    let use_paste = {
        let (paste, corpus, corpus_error) = (paste.clone(), corpus.clone(), corpus_error.clone());
        Callback::from(move |_| {
            if paste.trim().is_empty() {
                corpus_error.set(Some("the pasted text is empty".into()));
                return;
            }
            corpus_error.set(None);
            corpus.set(Loaded::Ready(Corpus {
                name: format!("pasted text ({} characters)", paste.chars().count()),
                text: Rc::new((*paste).clone()),
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
                    return corpus_error.set(Some(format!(
                        "{name} is {} — the page takes files up to {} MB; train larger corpora with `lmlab bpe train`",
                        lmlab::units::format_bytes(file.size() as f64),
                        MAX_UPLOAD_BYTES / 1_000_000
                    )));
                }
                match gloo::file::futures::read_as_bytes(&file).await {
                    Err(e) => corpus_error.set(Some(format!("{name}: {e}"))),
                    Ok(bytes) => match String::from_utf8(bytes) {
                        Err(e) => corpus_error.set(Some(format!(
                            "{name}: invalid UTF-8 at byte offset {}",
                            e.utf8_error().valid_up_to()
                        ))),
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
    let mut columns: Vec<(String, Html)> = vec![
        ("char".into(), tokenizer_card("char", "Unicode code points", &CharTokenizer, &text)),
        ("byte".into(), tokenizer_card("byte", "UTF-8 bytes", &ByteTokenizer, &text)),
    ];
    match &*word {
        Some(w) => columns
            .push(("word".into(), tokenizer_card("word", "\\w+|. over the corpus, top 10,000 + [UNK]", w, &text))),
        None => columns.push(("word".into(), pending_card("word", "waiting for the corpus"))),
    }
    match (&*gpt2, &gpt2_model) {
        (_, Some(m)) => {
            columns.push(("gpt2".into(), tokenizer_card("gpt2", "GPT-2 byte-level BPE (50,257)", m.as_ref(), &text)))
        }
        (Loaded::Failed(e), _) => {
            columns.push(("gpt2".into(), pending_card("gpt2", &format!("could not load GPT-2: {e}"))))
        }
        _ => columns.push(("gpt2".into(), pending_card("gpt2", "loading GPT-2's vocabulary and merges…"))),
    }
    if let Some(t) = &trained {
        columns.push(("trained".into(), tokenizer_card("trained", "your BPE", &t.model, &text)));
    }

    html! {
        <section class="lab tokenizers">
            <h1>{"Tokenizers"}</h1>
            <p class="lead">{"A language model reads integers. How text becomes integers decides the vocabulary size (the embedding table) \
                and the sequence length (the compute): characters, bytes, words and byte-level BPE, side by side."}</p>
            <TextField id="tok-input" label="Text to tokenize" value={text.clone()} oninput={setter(&input)} wide=true
                hint="Whitespace is shown as · (space), ↵ (newline), → (tab). Bytes that are not a whole character show as <E4>." />
            <div class="tokenizer-grid" id="tokenizer-grid">
                { for columns.into_iter().map(|(_, card)| card) }
            </div>

            <h2>{"Train BPE"}</h2>
            <p>{"CS336's algorithm: split on special tokens, pre-tokenize with GPT-2's pattern, count pairs inside pre-tokens, \
                and repeatedly merge the most frequent pair (ties: the lexicographically greatest)."}</p>
            <div class="panel">
                <p class="corpus" id="corpus-name">{ match &*corpus {
                    Loaded::Loading => "Training text: loading Tiny Shakespeare…".to_string(),
                    Loaded::Ready(c) => format!("Training text: {} — {} bytes", c.name, c.text.len()),
                    Loaded::Failed(e) => format!("Could not load the bundled corpus ({e}); paste or upload a text."),
                } }</p>
                <div class="row">
                    <label class="field wide">
                        <span class="label">{"Paste a training text"}</span>
                        <textarea id="paste-corpus" rows="4" maxlength={MAX_PASTE_CHARS.to_string()} oninput={on_paste}
                            placeholder="Paste any text here, then press “Use pasted text”." value={(*paste).clone()} />
                        if paste.chars().count() >= MAX_PASTE_CHARS {
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
                { trained_view(&t, &text, *step, {
                    let step = step.clone();
                    Callback::from(move |k: usize| step.set(k))
                }) }
            }
            <Exercises exercises={exercises()} />
        </section>
    }
}

use views::{pending_card, tokenizer_card, trained_view, training_status};
