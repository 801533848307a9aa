//! The web app in headless Chromium (wasm-bindgen-test): the pages render from the URL, react to
//! typing and clicks, and show the numbers `lmlab` computes.

#![cfg(target_arch = "wasm32")]

use gloo::timers::future::TimeoutFuture;
use lmlab::precision::{represent, Format};
use wasm_bindgen::JsCast;
use wasm_bindgen_test::*;
use web::route::{Page, Route};
use web_sys::{Element, HtmlElement, HtmlInputElement};

wasm_bindgen_test_configure!(run_in_browser);

fn document() -> web_sys::Document {
    web_sys::window().unwrap().document().unwrap()
}

/// Waits until `selector` matches (Yew renders asynchronously), up to ~5 s.
async fn find(selector: &str) -> Element {
    for _ in 0..100 {
        if let Ok(Some(el)) = document().query_selector(selector) {
            return el;
        }
        TimeoutFuture::new(50).await;
    }
    panic!("nothing matches {selector}");
}

async fn settle() {
    TimeoutFuture::new(100).await;
}

/// Types into an input or a textarea as a person would: sets the value and fires a bubbling
/// `input` event.
fn type_into(input: &Element, text: &str) {
    match input.dyn_ref::<web_sys::HtmlTextAreaElement>() {
        Some(area) => area.set_value(text),
        None => input.dyn_ref::<HtmlInputElement>().unwrap().set_value(text),
    }
    let init = web_sys::InputEventInit::new();
    init.set_bubbles(true);
    let event = web_sys::InputEvent::new_with_event_init_dict("input", &init).unwrap();
    input.dispatch_event(&event).unwrap();
}

async fn text_of(selector: &str) -> String {
    find(selector).await.text_content().unwrap_or_default()
}

/// Mounts the app once; later tests navigate by changing the fragment.
async fn open(fragment: &str) {
    let window = web_sys::window().unwrap();
    window.location().set_hash(fragment).unwrap();
    if document().query_selector("#app-root").unwrap().is_none() {
        let root = document().create_element("div").unwrap();
        root.set_id("app-root");
        document().body().unwrap().append_child(&root).unwrap();
        yew::Renderer::<web::app::App>::with_root(root).render();
    }
    settle().await;
}

#[wasm_bindgen_test]
fn routes_round_trip_through_the_fragment() {
    let r = Route::parse("#/compute?model=gpt2-xl&tokens=15e12&note=a%20b");
    assert_eq!(r.page, Page::Compute);
    assert_eq!(r.get("tokens"), Some("15e12"));
    assert_eq!(r.get("note"), Some("a b"));
    assert_eq!(Route::parse(&r.to_fragment()), r);
    assert_eq!(Route::parse("#/nowhere").page, Page::Home);
}

#[wasm_bindgen_test]
async fn precision_page_rounds_flips_and_rejects() {
    open("#/precision?x=1e-8").await;
    assert_eq!(text_of("[data-format=fp16] .class").await, "zero", "1e-8 underflows in fp16");
    assert_eq!(text_of("[data-format=bf16] .class").await, "normal");
    for f in Format::ALL {
        let bits = find(&format!("[data-format={}] .bits", f.key())).await.get_attribute("data-bits").unwrap();
        assert_eq!(bits, represent(f, 1e-8).bits, "{f}");
    }

    // Typing a new value re-renders every format.
    let input = find("#value-input").await;
    type_into(&input, "1");
    settle().await;
    assert_eq!(find("[data-format=fp16] .bits").await.get_attribute("data-bits").unwrap(), "0011110000000000");

    // Flipping the last fp16 mantissa bit gives 1 + 2^-10 everywhere.
    let last_bit: HtmlElement = find("[data-format=fp16] .bit[data-index='15']").await.dyn_into().unwrap();
    last_bit.click();
    settle().await;
    let input: HtmlInputElement = find("#value-input").await.dyn_into().unwrap();
    assert_eq!(input.value(), "1.0009765625");
    assert_eq!(text_of("[data-format=fp16] .value").await, "1.0009765625");
    assert_eq!(text_of("[data-format=bf16] .value").await, "1", "bf16 cannot hold 1 + 2^-10");
    assert!(web_sys::window().unwrap().location().hash().unwrap().contains("x=1.0009765625"), "state is in the URL");

    // Bad input: an inline message naming the value, and the page keeps working.
    type_into(&input, "twelve");
    settle().await;
    let alert = text_of(".field.invalid .error").await;
    assert!(alert.contains("twelve"), "{alert}");
    assert!(document().query_selector("#formats-table").unwrap().is_none());
    type_into(&input, "65520");
    settle().await;
    assert_eq!(text_of("[data-format=fp16] .class").await, "inf", "65520 overflows fp16");
    assert_eq!(text_of("[data-format=fp8e4m3] .class").await, "nan", "E4M3 overflows to NaN");
}

#[wasm_bindgen_test]
async fn precision_accumulation_and_exercise() {
    open("#/precision?acc=0.01&n=1000").await;
    assert_eq!(text_of("[data-recipe='fp16'] .result").await, "9.953125");
    assert_eq!(text_of("[data-recipe='bf16'] .result").await, "4");
    let answer = find("#exercise-fp16-underflow input.answer").await;
    type_into(&answer, "0");
    let button: HtmlElement = find("#exercise-fp16-underflow button.check").await.dyn_into().unwrap();
    button.click();
    settle().await;
    assert!(find("#exercise-fp16-underflow .verdict.right").await.text_content().unwrap().contains("Right"));
}

#[wasm_bindgen_test]
async fn compute_page_reads_the_url_and_checks_inputs() {
    open("#/compute?model=params&params=70e9&tokens=15e12&gpu=h100&gpus=1024&mfu=0.5").await;
    let days: f64 = find("#time-days").await.get_attribute("data-days").unwrap().parse().unwrap();
    assert!((days - 143.9).abs() < 0.05, "{days}");
    assert!(
        find("#memory-largest-model").await.text_content().unwrap().contains("5.12T"),
        "1,024 × 80 GB / 16 bytes = 5.12T parameters"
    );

    let mfu = find("#f-mfu").await;
    type_into(&mfu, "1.5");
    settle().await;
    let err = text_of(".field.invalid .error").await;
    assert!(err.contains("1.5") && err.contains("(0, 1]"), "{err}");
    assert!(document().query_selector("#time-days").unwrap().is_none());

    open("#/compute?model=gpt2-xl&tokens=50B&gpu=h100&gpus=8&mfu=0.4").await;
    assert_eq!(find("#params-total").await.get_attribute("data-params").unwrap(), "2127057600");
    assert_eq!(document().query_selector_all("#flops-chart .bar-row").unwrap().length(), 7);
}

#[wasm_bindgen_test]
async fn tokenizers_page_shows_the_lecture_example() {
    open("#/tokenizers").await;
    let ids = |name: &str| format!("[data-tokenizer={name}] .ids");
    assert_eq!(find(&ids("char")).await.get_attribute("data-ids").unwrap(), "72 101 108 108 111 44 32 19990 30028 33");
    assert_eq!(
        find(&ids("byte")).await.get_attribute("data-ids").unwrap(),
        "72 101 108 108 111 44 32 228 184 150 231 149 140 33"
    );
    assert_eq!(text_of("[data-tokenizer=byte] .vocab").await, "256");
    let input = find("#tok-input").await;
    type_into(&input, "世界");
    settle().await;
    assert_eq!(text_of("[data-tokenizer=byte] .count").await, "6");
    assert_eq!(text_of("[data-tokenizer=char] .count").await, "2");
    let vocab = find("#vocab-size").await;
    type_into(&vocab, "abc");
    settle().await;
    assert!(text_of(".field.invalid .error").await.contains("abc"));
}

/// The Train page talks to its worker in bincode, which has no field names: every message type
/// must serialize every field (a `skip_serializing_if` misaligns what follows). A run request with
/// a dense and a MoE plan, and a step report with and without router metrics, survive the worker's
/// codec, stamps included.
#[wasm_bindgen_test]
fn worker_messages_survive_the_bincode_codec() {
    use gloo::worker::{Bincode, Codec};
    use lmlab::accounting::training_preset;
    use lmlab::telemetry::{MoeMetrics, StepMetrics};
    use lmlab::train::plan::RunPlan;
    use lmlab::train::protocol::{Backend, Corpus, FromWorker, LiveSettings, RunRequest, Stamped, ToWorker};
    let moe = MoeMetrics {
        balance_loss: 1.1,
        z_loss: 2.0,
        dropped: 3,
        dropped_fraction: 0.01,
        expert_fraction: vec![vec![0.5, 0.5]],
    };
    for (name, metrics) in [("nano", None), ("nano-moe", Some(moe))] {
        let report =
            StepMetrics { step: 4, loss: 5.5, lr: 1e-3, grad_norm: 0.7, tokens_seen: 99, seconds: 0.25, moe: metrics, comm: None };
        let message = Stamped { run: 42, message: FromWorker::Step(report) };
        let back: Stamped = Bincode::decode(Bincode::encode(&message));
        assert_eq!(back, message, "{name}");
        let request = RunRequest {
            plan: RunPlan::for_preset(training_preset(name).unwrap()),
            corpus: Corpus { name: "pasted text".into(), text: "To be, or not to be".into() },
            live: LiveSettings::default(),
            backend: Backend::Cpu,
        };
        let start = ToWorker::Start { run: 7, request: Box::new(request) };
        let back: ToWorker = Bincode::decode(Bincode::encode(&start));
        assert_eq!(back, start, "{name}");
    }
}
