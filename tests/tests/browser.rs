//! The built site (trunk's `dist/`) in headless Chromium, used as a student would: type numbers,
//! flip bits, pick presets, make mistakes, check exercises, reload a shared link. Screenshots go
//! to `tests/screenshots/`.
//!
//! Needs `trunk build --release` first and Debian's chromium + chromium-driver, so it is ignored by
//! a plain `cargo test`; `tests/run-all.sh` runs it with `--ignored`.

use std::time::{Duration, Instant};

use lmlab::precision::{represent, Format};
use lmlab_acceptance::browser::Browser;
use lmlab_acceptance::site::Site;
use lmlab_acceptance::{lmlab, repo_root, screenshot_dir};
use thirtyfour::prelude::*;

/// Polls `css` until `ok(text)` holds (Yew renders asynchronously), up to 15 s.
async fn wait_text(driver: &WebDriver, css: &str, ok: impl Fn(&str) -> bool) -> String {
    let start = Instant::now();
    let mut last = String::from("<absent>");
    while start.elapsed() < Duration::from_secs(15) {
        if let Ok(el) = driver.find(By::Css(css)).await {
            if let Ok(t) = el.text().await {
                if ok(&t) {
                    return t;
                }
                last = t;
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("{css}: text never satisfied the check; last seen {last:?}");
}

/// The built site: `$LMLAB_DIST` or `dist/`.
fn dist() -> std::path::PathBuf {
    std::env::var("LMLAB_DIST").map(Into::into).unwrap_or_else(|_| repo_root().join("dist"))
}

async fn attr(driver: &WebDriver, css: &str, name: &str) -> String {
    let el = driver.query(By::Css(css)).first().await.unwrap_or_else(|e| panic!("{css}: {e}"));
    el.attr(name).await.unwrap().unwrap_or_else(|| panic!("{css} has no {name}"))
}

/// Replaces a text field's content by typing, as a person would.
async fn type_into(driver: &WebDriver, css: &str, text: &str) {
    let el = driver.query(By::Css(css)).first().await.unwrap_or_else(|e| panic!("{css}: {e}"));
    el.clear().await.unwrap();
    el.send_keys(text).await.unwrap();
}

async fn click(driver: &WebDriver, css: &str) {
    let el = driver.query(By::Css(css)).first().await.unwrap_or_else(|e| panic!("{css}: {e}"));
    el.scroll_into_view().await.unwrap();
    el.click().await.unwrap();
}

async fn shot(driver: &WebDriver, name: &str) {
    tokio::time::sleep(Duration::from_millis(300)).await;
    driver.screenshot(&screenshot_dir().join(name)).await.unwrap();
}

async fn shot_of(driver: &WebDriver, css: &str, name: &str) {
    let el = driver.find(By::Css(css)).await.unwrap();
    el.scroll_into_view().await.unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    el.screenshot(&screenshot_dir().join(name)).await.unwrap();
}

fn cli_json(args: &[&str]) -> serde_json::Value {
    let out = lmlab().args(args).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).unwrap()
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs dist/ (trunk build --release) and chromedriver: run tests/run-all.sh"]
async fn precision_and_compute_labs_in_chromium() {
    let site = Site::serve(&dist());
    let browser = Browser::start().await;
    let d = &browser.driver;

    // Home: every lab is listed and built.
    d.goto(format!("{}/", site.url)).await.unwrap();
    wait_text(d, "h1", |t| t.contains("Build a language model")).await;
    assert_eq!(d.find_all(By::Css("nav .nav-link")).await.unwrap().len(), 5);
    assert_eq!(d.find_all(By::Css(".cards .card")).await.unwrap().len(), 5);
    shot(d, "01-home.png").await;

    // Precision: type a number, read every format.
    click(d, "#nav-precision").await;
    type_into(d, "#value-input", "1e-8").await;
    wait_text(d, "[data-format=fp16] .class", |t| t == "zero").await;
    for f in Format::ALL {
        let bits = attr(d, &format!("[data-format={}] .bits", f.key()), "data-bits").await;
        assert_eq!(bits, represent(f, 1e-8).bits, "{f} bits of 1e-8");
    }
    // The CLI prints the same bits.
    let cli = cli_json(&["float", "1e-8", "--json"]);
    for row in cli.as_array().unwrap() {
        let key = row["format"].as_str().unwrap();
        assert_eq!(attr(d, &format!("[data-format={key}] .bits"), "data-bits").await, row["bits"].as_str().unwrap());
    }
    shot(d, "02-precision-1e-8.png").await;

    // Flip the last mantissa bit of fp16's 1.0.
    type_into(d, "#value-input", "1").await;
    wait_text(d, "[data-format=fp16] .value", |t| t == "1").await;
    click(d, "[data-format=fp16] .bit[data-index='15']").await;
    wait_text(d, "[data-format=fp16] .value", |t| t == "1.0009765625").await;
    let value = d.find(By::Css("#value-input")).await.unwrap().value().await.unwrap();
    assert_eq!(value.as_deref(), Some("1.0009765625"));
    assert_eq!(wait_text(d, "[data-format=bf16] .value", |_| true).await, "1");

    // A mistake: an inline message that names it; nothing breaks.
    type_into(d, "#value-input", "0.1x").await;
    let err = wait_text(d, ".field.invalid .error", |t| !t.is_empty()).await;
    assert!(err.contains("0.1x"), "{err}");
    shot(d, "03-precision-error.png").await;
    type_into(d, "#value-input", "0.1").await;
    wait_text(d, "[data-format=fp32] .value", |t| t == "0.100000001490116119384765625").await;

    // The accumulation demo and its chart.
    assert_eq!(wait_text(d, "[data-recipe='fp16'] .result", |_| true).await, "9.953125");
    assert_eq!(d.find_all(By::Css("#accumulation-chart polyline.series")).await.unwrap().len(), 5);
    shot_of(d, "#accumulation-chart", "04-precision-accumulation.png").await;

    // Predict, then check.
    type_into(d, "#exercise-fp16-underflow input.answer", "0").await;
    click(d, "#exercise-fp16-underflow button.check").await;
    wait_text(d, "#exercise-fp16-underflow .verdict .message", |t| t.starts_with("Right")).await;
    type_into(d, "#exercise-e4m3-max input.answer", "240").await;
    click(d, "#exercise-e4m3-max button.check").await;
    wait_text(d, "#exercise-e4m3-max .verdict .message", |t| t.contains("448")).await;

    // The URL is the state: reloading it restores the view.
    let url = d.current_url().await.unwrap();
    assert!(url.as_str().contains("x=0.1"), "{url}");
    d.goto(format!("{}/#/", site.url)).await.unwrap();
    d.goto(url.as_str()).await.unwrap();
    wait_text(d, "[data-format=fp32] .value", |t| t == "0.100000001490116119384765625").await;

    // Compute: the lecture's 70B on 15T tokens on 1,024 H100s.
    click(d, "#nav-compute").await;
    click(d, "#f-model option[value='params']").await;
    type_into(d, "#f-params", "70e9").await;
    type_into(d, "#f-tokens", "15e12").await;
    type_into(d, "#f-gpus", "1024").await;
    type_into(d, "#f-mfu", "0.5").await;
    click(d, "#f-gpu option[value='h100']").await;
    wait_text(d, "#time-days", |t| t == "143.9 days").await;
    let cli = cli_json(&[
        "estimate", "time", "--params", "70e9", "--tokens", "15e12", "--gpu", "h100", "--gpus", "1024", "--mfu", "0.5",
        "--json",
    ]);
    let page_days: f64 = attr(d, "#time-days", "data-days").await.parse().unwrap();
    assert_eq!(page_days, cli["days"].as_f64().unwrap(), "page and CLI agree to the last bit");
    wait_text(d, "#memory-largest-model", |t| t.contains("5.12T")).await;
    shot(d, "05-compute-70b.png").await;

    // A mistake in MFU.
    type_into(d, "#f-mfu", "1.5").await;
    let err = wait_text(d, ".field.invalid .error", |t| !t.is_empty()).await;
    assert!(err.contains("1.5") && err.contains("(0, 1]"), "{err}");
    shot(d, "06-compute-error.png").await;
    type_into(d, "#f-mfu", "0.5").await;
    wait_text(d, "#time-days", |t| t == "143.9 days").await;

    // A preset: GPT-2 XL's parameters and FLOPs by component.
    click(d, "#f-model option[value='gpt2-xl']").await;
    wait_text(d, "#params-total", |t| t.contains("2127057600")).await;
    let cli = cli_json(&["estimate", "model", "--preset", "gpt2-xl", "--json"]);
    assert_eq!(attr(d, "#params-total", "data-params").await, cli["params"]["total"].to_string());
    assert_eq!(d.find_all(By::Css("#flops-chart .bar-row")).await.unwrap().len(), 7);
    type_into(d, "#exercise-70b-training-days input.answer", "144").await;
    click(d, "#exercise-70b-training-days button.check").await;
    wait_text(d, "#exercise-70b-training-days .verdict .message", |t| t.starts_with("Right")).await;
    d.execute("window.scrollTo(0, 0)", vec![]).await.unwrap();
    shot(d, "07-compute-gpt2-xl.png").await;
    shot_of(d, "#memory-result", "08-compute-memory.png").await;

    // A shared link opens the same scenario.
    let url = d.current_url().await.unwrap();
    assert!(url.as_str().contains("model=gpt2-xl") && url.as_str().contains("mfu=0.5"), "{url}");
    d.goto(format!("{}/#/precision", site.url)).await.unwrap();
    d.goto(url.as_str()).await.unwrap();
    wait_text(d, "#params-total", |t| t.contains("2127057600")).await;

    browser.quit().await;
}

/// Reads a downloaded file's content in the page (the link is a blob: URL).
async fn download_text(d: &WebDriver, file: &str) -> String {
    let script = format!(
        "const done = arguments[arguments.length - 1];
         fetch(document.querySelector('#downloads a[data-file=\"{file}\"]').href).then(r => r.text()).then(done, e => done('ERROR ' + e));"
    );
    let ret = d.execute_async(&script, vec![]).await.unwrap();
    ret.json().as_str().unwrap_or_default().to_string()
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs dist/ (trunk build --release) and chromedriver: run tests/run-all.sh"]
async fn tokenizers_lab_in_chromium() {
    let site = Site::serve(&dist());
    let browser = Browser::start().await;
    let d = &browser.driver;
    d.set_script_timeout(Duration::from_secs(30)).await.unwrap();

    // The four tokenizers side by side on the lecture's example.
    d.goto(format!("{}/#/tokenizers", site.url)).await.unwrap();
    let card = |name: &str, what: &str| format!("[data-tokenizer={name}] {what}");
    assert_eq!(attr(d, &card("char", ".ids"), "data-ids").await, "72 101 108 108 111 44 32 19990 30028 33");
    assert_eq!(attr(d, &card("byte", ".ids"), "data-ids").await, "72 101 108 108 111 44 32 228 184 150 231 149 140 33");
    wait_text(d, &card("gpt2", ".count"), |t| !t.is_empty()).await; // GPT-2 is fetched lazily
    wait_text(d, &card("word", ".count"), |t| !t.is_empty()).await;
    type_into(d, "#tok-input", "Hello, how are you?").await;
    wait_text(d, &card("gpt2", ".count"), |t| t == "6").await;
    assert_eq!(attr(d, &card("gpt2", ".ids"), "data-ids").await, "15496 11 703 389 345 30");
    let text = "Héllò hôw are ü? 🙃 It's 2024!   New  line.";
    type_into(d, "#tok-input", text).await;
    let cli = cli_json(&["tokenize", "--tokenizer", "gpt2", text, "--json"]);
    let cli_ids: Vec<String> = cli["ids"].as_array().unwrap().iter().map(|v| v.to_string()).collect();
    wait_text(d, &card("gpt2", ".count"), |t| t == cli_ids.len().to_string()).await;
    assert_eq!(attr(d, &card("gpt2", ".ids"), "data-ids").await, cli_ids.join(" "), "page and CLI agree");
    type_into(d, "#tok-input", "Hello, 世界!").await;
    wait_text(d, &card("char", ".count"), |t| t == "10").await;
    shot(d, "09-tokenizers.png").await;

    // A vocabulary too small for the bytes and the special token: named, and Train is disabled.
    wait_text(d, "#corpus-name", |t| t.contains("Tiny Shakespeare")).await;
    type_into(d, "#vocab-size", "200").await;
    let err = wait_text(d, ".field.invalid .error", |t| !t.is_empty()).await;
    assert!(err.contains("200") && err.contains("257"), "{err}");
    assert!(!d.find(By::Css("#train")).await.unwrap().is_enabled().await.unwrap());

    // Train on the bundled corpus; the merges equal the CLI's on the same file.
    type_into(d, "#vocab-size", "300").await;
    click(d, "#train").await;
    let done = wait_text(d, "#train-done", |t| t.starts_with("Trained")).await;
    assert!(done.contains("43 merges"), "{done}");
    let out = std::env::temp_dir().join(format!("lmlab-e2e-bpe-{}", std::process::id()));
    let corpus = repo_root().join("data/tinyshakespeare.txt");
    let r = lmlab()
        .args([
            "bpe",
            "train",
            "--input",
            corpus.to_str().unwrap(),
            "--vocab-size",
            "300",
            "--special",
            "<|endoftext|>",
            "--out",
            out.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert!(r.status.success(), "{}", String::from_utf8_lossy(&r.stderr));
    let cli_merges = std::fs::read_to_string(out.join("merges.txt")).unwrap();
    assert_eq!(download_text(d, "merges.txt").await, cli_merges, "the page's merges.txt equals the CLI's");
    let hf: serde_json::Value = serde_json::from_str(&download_text(d, "tokenizer.json").await).unwrap();
    assert_eq!(hf["model"]["type"], "BPE");
    assert_eq!(d.find_all(By::Css("#downloads a[download]")).await.unwrap().len(), 4);
    let _ = std::fs::remove_dir_all(&out);

    // Step through the merges.
    assert_eq!(attr(d, "#stepper", "data-step").await, "1");
    let first = cli_merges.lines().nth(1).unwrap().replace('Ġ', "·").replace('Ċ', "↵");
    let info = wait_text(d, "#merge-info", |t| t.starts_with("Merge 1 of 43")).await;
    let (a, b) = first.split_once(' ').unwrap();
    assert!(info.contains(a) && info.contains(b), "{info} vs {first}");
    click(d, "#step-next").await;
    wait_text(d, "#merge-info", |t| t.starts_with("Merge 2 of 43")).await;
    click(d, "#step-last").await;
    wait_text(d, "#merge-info", |t| t.starts_with("Merge 43 of 43")).await;
    assert_eq!(d.find_all(By::Css("#compression-chart polyline.series")).await.unwrap().len(), 1);
    wait_text(d, "[data-tokenizer=trained] .count", |t| !t.is_empty()).await;
    d.execute("window.scrollTo(0, document.body.scrollHeight * 0.35)", vec![]).await.unwrap();
    shot(d, "10-tokenizers-trained.png").await;

    // Train on pasted text instead.
    type_into(d, "#paste-corpus", "low lower lowest newer newest wider widest ".repeat(20).as_str()).await;
    click(d, "#use-paste").await;
    wait_text(d, "#corpus-name", |t| t.contains("pasted text")).await;
    type_into(d, "#vocab-size", "270").await;
    click(d, "#train").await;
    wait_text(d, "#train-done", |t| t.contains("13 merges")).await;

    // Predict, then check.
    type_into(d, "#exercise-bytes-of-shijie input.answer", "6").await;
    click(d, "#exercise-bytes-of-shijie button.check").await;
    wait_text(d, "#exercise-bytes-of-shijie .verdict .message", |t| t.starts_with("Right")).await;

    browser.quit().await;
}

/// Polls until `css` exists (long GPU work: up to `secs`).
async fn wait_for(driver: &WebDriver, css: &str, secs: u64) -> WebElement {
    let start = Instant::now();
    loop {
        if let Ok(el) = driver.find(By::Css(css)).await {
            return el;
        }
        if let Ok(err) = driver.find(By::Css("#hw-error")).await {
            panic!("the page reported an error while waiting for {css}: {}", err.text().await.unwrap_or_default());
        }
        assert!(start.elapsed() < Duration::from_secs(secs), "{css} did not appear within {secs} s");
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs dist/ (trunk build --release) and chromedriver: run tests/run-all.sh"]
async fn hardware_lab_in_chromium() {
    let site = Site::serve(&dist());
    let browser = Browser::start().await;
    let d = &browser.driver;

    // Sizes that are not multiples of the 16- or 64-wide tiles; the adapter is SwiftShader here.
    let sizes = std::env::var("LMLAB_HW_SIZES").unwrap_or_else(|_| "40,129".into());
    d.goto(format!("{}/#/hardware?sizes={sizes}&gpu=h100", site.url)).await.unwrap();
    wait_text(d, "h1", |t| t.contains("Hardware")).await;
    // Every kernel's lesson and source is on the page before anything runs.
    for k in lmlab::hardware::Kernel::ALL {
        let text = wait_text(d, &format!("#kernel-{} summary", k.key()), |t| !t.is_empty()).await;
        assert_eq!(text, format!("shaders/{}", k.file()));
    }
    assert!(d.find(By::Css("#no-webgpu")).await.is_err(), "Chromium with --enable-unsafe-webgpu has WebGPU");
    click(d, "#hw-run").await;
    // The progress indicator shows while the suite runs.
    wait_for(d, "#hw-progress progress", 60).await;
    let started = Instant::now();
    wait_for(d, "#hw-done", 1800).await;
    eprintln!("hardware suite ({sizes}) in Chromium: {:.1} s", started.elapsed().as_secs_f64());

    let adapter = wait_text(d, "#hw-adapter", |t| !t.is_empty()).await;
    eprintln!("{adapter}");
    let rows = d.find_all(By::Css("#hw-table tbody tr")).await.unwrap();
    let n_sizes = sizes.split(',').count();
    let f16 = adapter.contains("shader-f16: yes");
    assert_eq!(rows.len(), 1 + n_sizes * if f16 { 5 } else { 4 }, "{adapter}");
    for row in &rows {
        let text = row.text().await.unwrap();
        eprintln!("{text}");
        assert!(text.contains("ok ("), "a kernel's result is wrong in the browser: {text}");
    }
    if !f16 {
        let headline = wait_text(d, "#hw-headline", |t| !t.is_empty()).await;
        assert!(headline.contains("Skipped f16") && headline.contains("shader-f16"), "{headline}");
    }
    // The roofline: one point per matmul measurement, the measured roof and the H100's datasheet roof.
    let points = d.find_all(By::Css("#roofline circle.point")).await.unwrap();
    assert_eq!(points.len(), rows.len() - 1);
    assert_eq!(d.find_all(By::Css("#roofline .roof")).await.unwrap().len(), 2);
    let headline = wait_text(d, "#hw-headline", |t| t.contains("of the NVIDIA H100")).await;
    assert!(headline.contains("register-blocked kernel is"), "{headline}");
    // The step chart: naive is 1×, every step has a bar.
    assert_eq!(attr(d, "#hw-steps .bar-row:first-child", "data-label").await, "Naive");
    assert_eq!(wait_text(d, "#hw-steps .bar-row:first-child .bar-value", |_| true).await, "1×");
    shot_of(d, "#hw-results", "20-hardware-results.png").await;
    shot_of(d, "#roofline", "21-hardware-roofline.png").await;

    // A size beyond the limit is refused with the limit named; a typo is named under the field.
    type_into(d, "#hw-sizes", "12,x").await;
    let err = wait_text(d, ".field.invalid .error", |t| !t.is_empty()).await;
    assert!(err.contains("x"), "{err}");
    assert!(d.find(By::Css("#hw-run")).await.unwrap().attr("disabled").await.unwrap().is_some());
    type_into(d, "#hw-sizes", "60000").await;
    click(d, "#hw-run").await;
    let err = wait_for(d, "#hw-error", 60).await.text().await.unwrap();
    assert!(err.contains("maxStorageBufferBindingSize"), "{err}");

    // Predict, then check.
    type_into(d, "#exercise-hw-intensity-4096 input.answer", "683").await;
    click(d, "#exercise-hw-intensity-4096 button.check").await;
    wait_text(d, "#exercise-hw-intensity-4096 .verdict .message", |t| t.starts_with("Right")).await;
    shot(d, "22-hardware-page.png").await;
    browser.quit().await;
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs dist/ (trunk build --release) and chromedriver: run tests/run-all.sh"]
async fn hardware_lab_without_webgpu_says_how_to_get_it() {
    let site = Site::serve(&dist());

    // 1. WebGPU present but no adapter: Chromium on Linux without --enable-unsafe-webgpu.
    let browser = Browser::start_with(&["--enable-unsafe-webgpu"], &[]).await;
    let d = &browser.driver;
    d.goto(format!("{}/#/hardware?sizes=16", site.url)).await.unwrap();
    wait_text(d, "#kernel-copy h3", |t| t.contains("Copy")).await;
    assert!(d.find(By::Css("#no-webgpu")).await.is_err(), "navigator.gpu exists even without an adapter");
    click(d, "#hw-run").await;
    let err = wait_for(d, "#hw-error", 60).await.text().await.unwrap();
    assert!(err.contains("no GPU adapter") && err.contains("--enable-unsafe-webgpu"), "{err}");
    shot(d, "23-hardware-no-adapter.png").await;
    browser.quit().await;

    // 2. A browser with no WebGPU at all (navigator.gpu removed before the page loads).
    let browser = Browser::start().await;
    let d = &browser.driver;
    d.cdp().page().add_script_to_evaluate_on_new_document("delete Navigator.prototype.gpu;").await.unwrap();
    d.goto(format!("{}/#/hardware", site.url)).await.unwrap();
    let notice = wait_text(d, "#no-webgpu", |t| !t.is_empty()).await;
    assert!(notice.contains("does not expose WebGPU") && notice.contains("lmlab bench hardware"), "{notice}");
    assert!(d.find(By::Css("#hw-run")).await.unwrap().attr("disabled").await.unwrap().is_some());
    // The lessons are still there.
    wait_text(d, "#kernel-register h3", |t| t.contains("Register")).await;
    shot(d, "24-hardware-no-webgpu.png").await;
    browser.quit().await;
}

/// Polls until `css` exists while a training run goes on; a Train page error fails at once.
async fn wait_train(driver: &WebDriver, css: &str, secs: u64) -> WebElement {
    let start = Instant::now();
    loop {
        if let Ok(el) = driver.find(By::Css(css)).await {
            return el;
        }
        for err in ["#train-error", "#train-action-error", "#train-save-error"] {
            if let Ok(e) = driver.find(By::Css(err)).await {
                panic!(
                    "the Train page reported an error while waiting for {css}: {}",
                    e.text().await.unwrap_or_default()
                );
            }
        }
        assert!(start.elapsed() < Duration::from_secs(secs), "{css} did not appear within {secs} s");
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// The number of steps done, from the page's "N / total".
async fn steps_done(d: &WebDriver) -> usize {
    let t = d.find(By::Css("#train-step")).await.unwrap().text().await.unwrap();
    t.split(" / ").next().unwrap().trim().parse().unwrap_or_else(|_| panic!("step text {t:?}"))
}

/// The checkpoint behind the page's download link, as bytes (fetched from its blob: URL).
async fn download_bytes(d: &WebDriver, css: &str) -> Vec<u8> {
    let script = format!(
        "const done = arguments[arguments.length - 1];
         fetch(document.querySelector('{css}').href).then(r => r.arrayBuffer()).then(b => {{
           const u = new Uint8Array(b); let s = '';
           for (let i = 0; i < u.length; i += 8192) s += String.fromCharCode.apply(null, u.subarray(i, i + 8192));
           done(btoa(s));
         }}, e => done('ERROR ' + e));"
    );
    let ret = d.execute_async(&script, vec![]).await.unwrap();
    let b64 = ret.json().as_str().unwrap_or_default().to_string();
    assert!(!b64.starts_with("ERROR"), "{b64}");
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.decode(b64).unwrap()
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs dist/ (trunk build --release) and chromedriver: run tests/run-all.sh"]
async fn train_page_trains_on_webgpu_in_chromium() {
    use lmlab::train::archive;
    use lmlab::train::session::checkpoint_of;

    let site = Site::serve(&dist());
    let browser = Browser::start().await;
    let d = &browser.driver;
    let steps: usize = std::env::var("LMLAB_TRAIN_STEPS").ok().and_then(|s| s.parse().ok()).unwrap_or(24);

    // Opening the page fetches the worker bundle and probes WebGPU (SwiftShader here).
    let opened = Instant::now();
    d.goto(format!("{}/#/train", site.url)).await.unwrap();
    wait_text(d, "h1", |t| t.contains("Train")).await;
    let adapter = wait_train(d, "#train-adapter", 120).await.text().await.unwrap();
    eprintln!("worker bundle loaded and WebGPU probed in {:.1} s: {adapter}", opened.elapsed().as_secs_f64());
    assert!(adapter.to_lowercase().contains("swiftshader") && adapter.contains("CPU emulation"), "{adapter}");

    // A preset too large for this adapter is refused before it starts, naming the limit.
    d.find(By::Css("#train-preset option[value='gpt2-small']")).await.unwrap().click().await.unwrap();
    let e = wait_text(d, "#train-limit-error", |t| !t.is_empty()).await;
    assert!(e.contains("logits") && (e.contains("maxStorageBufferBindingSize") || e.contains("maxBufferSize")), "{e}");
    assert!(d.find(By::Css("#train-start")).await.unwrap().attr("disabled").await.unwrap().is_some());
    d.find(By::Css("#train-preset option[value='nano']")).await.unwrap().click().await.unwrap();

    // nano on the bundled Shakespeare, few steps; a sample and a validation every 8 steps.
    type_into(d, "#train-steps", &steps.to_string()).await;
    type_into(d, "#train-eval-every", "8").await;
    type_into(d, "#train-sample-every", "8").await;
    type_into(d, "#train-warmup", "2").await;
    let plan = wait_text(d, "#train-plan", |t| t.contains("parameters")).await;
    let nano = lmlab::train::presets::training_preset("nano").unwrap().shape(512);
    assert!(plan.contains(&lmlab::units::format_count(nano.params().total as f64)), "{plan}");
    click(d, "#train-start").await;
    let started = Instant::now();
    wait_train(d, "#train-live", 600).await;
    let device = wait_text(d, "#train-device", |t| !t.is_empty()).await;
    assert!(device.starts_with("WebGPU on") && device.contains("BPE (512 ids)"), "{device}");
    // The untrained model's loss is close to ln V (the exercise's answer).
    while steps_done(d).await < 1 {
        wait_train(d, "#train-live", 5).await;
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let first: f64 = wait_text(d, "#train-loss", |t| t != "–").await.parse().unwrap();
    eprintln!("first step after {:.1} s, loss {first}", started.elapsed().as_secs_f64());
    assert!((first - 512f64.ln()).abs() < 0.35, "first loss {first} vs ln 512");

    // Pause holds the run (the step count stays), Resume continues it.
    while steps_done(d).await < 3 {
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    click(d, "#train-pause").await;
    wait_text(d, "#train-phase", |t| t.starts_with("Paused")).await;
    let held = steps_done(d).await;
    tokio::time::sleep(Duration::from_secs(4)).await;
    assert_eq!(steps_done(d).await, held, "no step is taken while paused");
    // The page stays responsive while paused or training: typing updates the form at once.
    type_into(d, "#train-prompt", "KING").await;
    click(d, "#train-resume").await;
    wait_text(d, "#train-phase", |t| t.starts_with("Training")).await;
    // Other labs while it trains; the run goes on.
    click(d, "#nav-precision").await;
    wait_text(d, "h1", |t| t.contains("Precision") || t.contains("precision") || !t.is_empty()).await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    click(d, "#nav-train").await;
    wait_train(d, "#train-live", 30).await;

    let finished = Instant::now();
    loop {
        let phase = attr(d, "#train-phase", "data-phase").await;
        if phase == "finished" {
            break;
        }
        assert!(finished.elapsed() < Duration::from_secs(1800), "the run did not finish");
        wait_train(d, "#train-live", 5).await;
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let seconds = started.elapsed().as_secs_f64();
    let last: f64 = wait_text(d, "#train-loss", |t| t != "–").await.parse().unwrap();
    let val: f64 = wait_text(d, "#train-val-loss", |t| t != "–").await.parse().unwrap();
    let tps = wait_text(d, "#train-tokens-per-s", |t| t != "–").await;
    eprintln!("{steps} nano steps in Chromium (WebGPU/SwiftShader): {seconds:.1} s; loss {first:.3} → {last:.3}, val {val:.3}, {tps} tokens/s");
    assert!(last < first - 0.5, "the loss must drop: {first} → {last}");
    assert_eq!(steps_done(d).await, steps);
    // The chart: training and validation curves, the ln V line.
    let lines = d.find_all(By::Css("#train-chart polyline.series")).await.unwrap();
    assert_eq!(lines.len(), 2);
    let train_pts = lines[0].attr("points").await.unwrap().unwrap_or_default();
    assert_eq!(train_pts.split_whitespace().count(), steps);
    assert!(d.find(By::Css("#train-chart .reference")).await.is_ok());
    click(d, "#train-log").await;
    assert_eq!(attr(d, "#train-chart", "data-scale").await, "log");
    // Samples every 8 steps and at the end, newest first, with the prompt typed during the run.
    let samples = d.find_all(By::Css("#train-samples article.sample")).await.unwrap();
    assert!(samples.len() >= 2, "{} samples", samples.len());
    assert_eq!(samples[0].attr("data-step").await.unwrap().unwrap(), steps.to_string());
    shot(d, "30-train-finished.png").await;
    shot_of(d, "#train-live", "31-train-live.png").await;

    // The checkpoint: saved in IndexedDB at the end, offered as a .tar the CLI reads.
    let saved = wait_train(d, "#train-saved", 30).await;
    assert_eq!(saved.attr("data-step").await.unwrap().unwrap(), steps.to_string());
    let tar = download_bytes(d, "#train-download").await;
    let files = archive::unpack("download.tar", &tar).unwrap();
    let names: Vec<&str> = files.iter().map(|f| f.0.as_str()).collect();
    for n in ["config.json", "model.safetensors", "optimizer.safetensors", "state.json", "vocab.json", "merges.txt"] {
        assert!(names.contains(&n), "{names:?}");
    }
    // The page's next-token probabilities (WebGPU) equal the CPU's on the downloaded weights.
    let probs: Vec<f64> = {
        let mut v = Vec::new();
        for el in d.find_all(By::Css("#train-next td.prob")).await.unwrap() {
            v.push(el.attr("data-p").await.unwrap().unwrap().parse().unwrap());
        }
        v
    };
    assert_eq!(probs.len(), 5);
    // The prompt typed during the run applies to the samples that follow.
    let shown_prompt = wait_text(d, "#train-samples article.sample pre b", |t| !t.is_empty()).await;
    assert_eq!(shown_prompt, "KING");
    let ckpt = checkpoint_of("download.tar", files);
    let (model, config, tokenizer) = ckpt
        .load_model::<burn::backend::Flex>(&Default::default())
        .expect("the CLI's loader reads the page's checkpoint");
    let prompt = tokenizer.encode_text("KING");
    let native =
        pollster::block_on(lmlab::sample::next_token_probabilities(&model, config.model.context_length, &prompt, 5))
            .unwrap();
    for (p, (_, q)) in probs.iter().zip(&native) {
        assert!((p - q).abs() < 2e-3, "page {probs:?} vs native {native:?}");
    }
    let dir = std::env::temp_dir().join(format!("lmlab-page-ckpt-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let tar_path = dir.join("page.tar");
    std::fs::write(&tar_path, &tar).unwrap();
    let out = lmlab()
        .args(["sample", "--checkpoint", tar_path.to_str().unwrap(), "--prompt", "KING", "--max-tokens", "20"])
        .output()
        .unwrap();
    assert!(out.status.success(), "lmlab sample on the page's checkpoint: {}", String::from_utf8_lossy(&out.stderr));
    std::fs::remove_dir_all(&dir).ok();

    // A reload keeps the checkpoint (IndexedDB); sample from it in the page.
    d.refresh().await.unwrap();
    let saved = wait_train(d, "#train-saved", 120).await;
    assert_eq!(saved.attr("data-step").await.unwrap().unwrap(), steps.to_string());
    wait_train(d, "#train-adapter", 120).await;
    click(d, "#train-load-saved").await;
    wait_text(d, "#train-phase", |t| t.contains("checkpoint is loaded")).await;
    wait_text(d, "#train-loaded", |t| t.contains(&format!("{steps} steps")) && t.contains("d_model 64")).await;
    click(d, "#train-sample").await;
    wait_train(d, "#train-samples article.sample", 300).await;
    shot(d, "32-train-reloaded-sample.png").await;

    // Predict, then check: ln V.
    type_into(d, "#exercise-train-untrained-loss input.answer", "6.24").await;
    click(d, "#exercise-train-untrained-loss button.check").await;
    wait_text(d, "#exercise-train-untrained-loss .verdict .message", |t| t.starts_with("Right")).await;
    browser.quit().await;
}

/// Waits for the Train page's error (`#train-error` or a field/corpus error) and returns its text.
async fn train_error(d: &WebDriver, css: &str) -> String {
    let el = wait_for(d, css, 600).await;
    el.text().await.unwrap()
}

/// A file for an `<input type=file>`, written to a temporary directory.
fn temp_file(name: &str, bytes: &[u8]) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("lmlab-train-inputs-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(name);
    std::fs::write(&path, bytes).unwrap();
    path
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs dist/ (trunk build --release) and chromedriver: run tests/run-all.sh"]
async fn train_page_without_webgpu_trains_on_the_cpu_and_names_bad_input() {
    use burn::backend::{Autodiff, Flex};
    use lmlab::train::trainer::{TrainConfig, Trainer};

    let site = Site::serve(&dist());
    let browser = Browser::start().await;
    let d = &browser.driver;
    d.cdp().page().add_script_to_evaluate_on_new_document("delete Navigator.prototype.gpu;").await.unwrap();
    d.goto(format!("{}/#/train", site.url)).await.unwrap();
    // No WebGPU: the page says what is missing and offers the CPU backend.
    let notice = wait_for(d, "#train-no-webgpu", 120).await.text().await.unwrap();
    assert!(notice.contains("navigator.gpu is missing") && notice.contains("CPU"), "{notice}");
    assert!(d.find(By::Css("#train-start")).await.unwrap().attr("disabled").await.unwrap().is_some());
    d.find(By::Css("#train-backend option[value='cpu']")).await.unwrap().click().await.unwrap();
    shot(d, "33-train-no-webgpu.png").await;

    // Bad corpora are named before anything runs.
    d.find(By::Css("#train-source option[value='upload']")).await.unwrap().click().await.unwrap();
    let png = temp_file("picture.png", b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR");
    d.find(By::Css("#train-corpus-file")).await.unwrap().send_keys(png.to_str().unwrap()).await.unwrap();
    let e = wait_text(d, "#train-corpus-error", |t| t.contains("picture.png")).await;
    assert!(e.contains("binary file"), "{e}");
    let empty = temp_file("empty.txt", b"");
    d.find(By::Css("#train-corpus-file")).await.unwrap().send_keys(empty.to_str().unwrap()).await.unwrap();
    wait_text(d, "#train-corpus-error", |t| t.contains("empty.txt: the file is empty")).await;
    let latin1 = temp_file("latin1.txt", b"caf\xe9\n");
    d.find(By::Css("#train-corpus-file")).await.unwrap().send_keys(latin1.to_str().unwrap()).await.unwrap();
    wait_text(d, "#train-corpus-error", |t| t.contains("latin1.txt: invalid UTF-8 at byte offset 3")).await;
    assert!(d.find(By::Css("#train-start")).await.unwrap().attr("disabled").await.unwrap().is_some());
    // A corpus shorter than two context windows: the worker names the shortfall.
    d.find(By::Css("#train-source option[value='paste']")).await.unwrap().click().await.unwrap();
    type_into(d, "#train-paste", "To be, or not to be.").await;
    click(d, "#train-start").await;
    let e = train_error(d, "#train-error").await;
    assert!(e.contains("pasted text") && e.contains("too short") && e.contains("context length"), "{e}");

    // A model field typo is named under its field and blocks Start.
    type_into(d, "#train-lr", "fast").await;
    let e = wait_text(d, ".field.invalid .error", |t| !t.is_empty()).await;
    assert!(e.contains("fast"), "{e}");
    assert!(d.find(By::Css("#train-start")).await.unwrap().attr("disabled").await.unwrap().is_some());
    type_into(d, "#train-lr", "3e-3").await;

    // The CPU backend (burn's flex in wasm) trains nano on the bundled corpus.
    d.find(By::Css("#train-source option[value='bundled']")).await.unwrap().click().await.unwrap();
    type_into(d, "#train-steps", "6").await;
    type_into(d, "#train-batch", "4").await;
    type_into(d, "#train-warmup", "1").await;
    type_into(d, "#train-eval-every", "3").await;
    type_into(d, "#train-sample-every", "0").await;
    click(d, "#train-start").await;
    wait_train(d, "#train-live", 300).await;
    let device = wait_text(d, "#train-device", |t| !t.is_empty()).await;
    assert!(device.starts_with("CPU (wasm)"), "{device}");
    let start = Instant::now();
    while attr(d, "#train-phase", "data-phase").await != "finished" {
        assert!(start.elapsed() < Duration::from_secs(900), "the CPU run did not finish");
        wait_train(d, "#train-live", 5).await;
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    let points = attr(d, "#train-chart polyline.series", "points").await;
    let losses: Vec<f64> = points.split_whitespace().map(|p| p.split(',').nth(1).unwrap().parse().unwrap()).collect();
    // SVG y grows downward: a lower loss is a larger y.
    assert_eq!(losses.len(), 6);
    assert!(losses[5] > losses[0], "the loss must drop on the CPU backend too: {points}");
    wait_train(d, "#train-saved", 30).await;

    // Checkpoints that do not fit: not a tar, and weights of another shape than their config.
    let junk = temp_file("notes.tar", b"these are not the files you are looking for");
    d.find(By::Css("#train-upload-checkpoint")).await.unwrap().send_keys(junk.to_str().unwrap()).await.unwrap();
    let e = train_error(d, "#train-action-error").await;
    assert!(e.contains("notes.tar") && e.contains("tar"), "{e}");
    let bpe = lmlab::tokenize::train::train_bpe("abcabcabd abd", 260, &["<|endoftext|>".into()], &mut |_| {}).unwrap();
    let vocab = lmlab::tokenize::Tokenizer::vocab_size(&bpe);
    let small = lmlab::model::TransformerConfig::new(vocab, 8, 16, 1, 2, 64);
    let trainer = Trainer::<Autodiff<Flex>>::new(small, TrainConfig::new().with_steps(1), &Default::default()).unwrap();
    let mut ckpt = pollster::block_on(lmlab::train::checkpoint::save(&trainer, &bpe, "test", None, None, "x")).unwrap();
    let mut config: serde_json::Value = serde_json::from_slice(&ckpt.files["config.json"]).unwrap();
    assert_eq!(config["model"]["d_model"], 16);
    config["model"]["d_model"] = 32.into();
    ckpt.files.insert("config.json".into(), serde_json::to_vec(&config).unwrap());
    let tar = lmlab::train::archive::pack(&ckpt.files.into_iter().collect());
    let other = temp_file("other-shape.tar", &tar);
    d.refresh().await.unwrap();
    wait_for(d, "#train-no-webgpu", 120).await;
    d.find(By::Css("#train-backend option[value='cpu']")).await.unwrap().click().await.unwrap();
    d.find(By::Css("#train-upload-checkpoint")).await.unwrap().send_keys(other.to_str().unwrap()).await.unwrap();
    let e = train_error(d, "#train-error").await;
    assert!(e.contains("model.safetensors") && e.contains("shape"), "{e}");
    // The run saved before is still there.
    wait_for(d, "#train-saved", 30).await;
    shot(d, "34-train-bad-checkpoint.png").await;
    browser.quit().await;
}

/// Waits until the Train page's run has finished.
async fn wait_finished(d: &WebDriver, secs: u64) {
    let start = Instant::now();
    while attr(d, "#train-phase", "data-phase").await != "finished" {
        assert!(start.elapsed() < Duration::from_secs(secs), "the run did not finish within {secs} s");
        wait_train(d, "#train-live", 5).await;
        tokio::time::sleep(Duration::from_millis(400)).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs dist/ (trunk build --release) and chromedriver: run tests/run-all.sh"]
async fn train_page_trains_a_mixture_of_experts_and_shows_its_router() {
    let site = Site::serve(&dist());
    let browser = Browser::start().await;
    let d = &browser.driver;
    let steps: usize = std::env::var("LMLAB_MOE_STEPS").ok().and_then(|s| s.parse().ok()).unwrap_or(10);

    // The Compute lab counts Mixtral's total and active parameters (46.7 B / 12.9 B published).
    d.goto(format!("{}/#/compute", site.url)).await.unwrap();
    click(d, "#f-model option[value='mixtral-8x7b']").await;
    wait_text(d, "#params-active", |t| !t.is_empty()).await;
    let total: f64 = attr(d, "#params-total", "data-params").await.parse().unwrap();
    let active: f64 = attr(d, "#params-active", "data-params").await.parse().unwrap();
    assert!((total / 46.7e9 - 1.0).abs() < 0.005 && (active / 12.9e9 - 1.0).abs() < 0.005, "{total} / {active}");
    shot_of(d, "#params-table", "38-compute-mixtral.png").await;

    d.goto(format!("{}/#/train", site.url)).await.unwrap();
    wait_train(d, "#train-adapter", 120).await;

    // nano-moe: twice nano's feed-forward parameters, the same active ones; the page counts both.
    d.find(By::Css("#train-preset option[value='nano-moe']")).await.unwrap().click().await.unwrap();
    let shape = lmlab::train::presets::training_preset("nano-moe").unwrap().shape(512).params();
    wait_text(d, "#train-plan", |t| t.contains("active per token")).await;
    assert_eq!(attr(d, "#train-plan", "data-params").await, shape.total.to_string());
    assert_eq!(attr(d, "#train-plan", "data-active").await, shape.active.to_string());
    // On burn's CPU backend in wasm (13× faster than SwiftShader's emulated WebGPU here; the MoE
    // layer on WebGPU is checked against numpy by core's wasm test `moe_router`).
    d.find(By::Css("#train-backend option[value='cpu']")).await.unwrap().click().await.unwrap();
    type_into(d, "#train-steps", &steps.to_string()).await;
    type_into(d, "#train-batch", "4").await;
    type_into(d, "#train-warmup", "1").await;
    type_into(d, "#train-eval-every", "5").await;
    type_into(d, "#train-sample-every", "0").await;
    type_into(d, "#train-prompt", "ROMEO:").await;
    click(d, "#train-start").await;
    wait_train(d, "#train-live", 600).await;
    wait_finished(d, 1800).await;

    // The router panel: every MoE block's expert shares sum to 1; the losses are shown.
    wait_train(d, "#train-moe .expert-row", 30).await;
    let rows = d.find_all(By::Css("#train-moe .expert-row")).await.unwrap();
    assert_eq!(rows.len(), 2, "nano-moe has 2 MoE blocks");
    for row in &rows {
        let bars = row.find_all(By::Css(".expert-bar")).await.unwrap();
        assert_eq!(bars.len(), 4);
        let mut sum = 0.0;
        for b in bars {
            sum += b.attr("data-fraction").await.unwrap().unwrap().parse::<f64>().unwrap();
        }
        assert!((sum - 1.0).abs() < 1e-4, "expert shares sum to {sum}");
    }
    let balance: f64 = wait_text(d, "#train-moe-balance", |t| !t.is_empty()).await.parse().unwrap();
    assert!((0.9..4.0).contains(&balance), "balance loss {balance}");
    wait_text(d, "#train-moe-dropped", |t| t.contains("pairs")).await;
    assert_eq!(d.find_all(By::Css("#train-moe-chart polyline.series")).await.unwrap().len(), 2);

    // The finished run's sample: the heat map shows each token's first-choice expert.
    wait_train(d, &format!("#train-routes[data-step='{steps}']"), 300).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let mut page_tokens = Vec::new();
    for th in d.find_all(By::Css("#train-routes th.token")).await.unwrap() {
        page_tokens.push(th.text().await.unwrap());
    }
    let tokens = page_tokens.len();
    let map_rows = d.find_all(By::Css("#train-routes tbody tr")).await.unwrap();
    assert_eq!(map_rows.len(), 2);
    let mut page_first = Vec::new();
    for row in &map_rows {
        let cells = row.find_all(By::Css("td.cell")).await.unwrap();
        assert_eq!(cells.len(), tokens);
        let mut experts = Vec::new();
        for c in cells {
            let e: usize = c.attr("data-expert").await.unwrap().unwrap().parse().unwrap();
            assert!(e < 4);
            experts.push(e);
        }
        page_first.push(experts);
    }
    shot(d, "35-train-moe-router.png").await;
    shot_of(d, "#train-moe", "36-train-moe-loads.png").await;
    shot_of(d, "#train-routes", "39-train-moe-routes.png").await;

    // The CLI routes the prompt of the downloaded checkpoint the same way (a token's choice
    // depends only on the tokens before it), except where two experts are within float noise.
    let tar = download_bytes(d, "#train-download").await;
    let dir = std::env::temp_dir().join(format!("lmlab-page-moe-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let tar_path = dir.join("moe.tar");
    std::fs::write(&tar_path, &tar).unwrap();
    std::fs::write(std::env::temp_dir().join("lmlab-last-page-moe.tar"), &tar).unwrap();
    let routed = cli_json(&["route", "--checkpoint", tar_path.to_str().unwrap(), "--text", "ROMEO:", "--json"]);
    let blocks = routed["blocks"].as_array().unwrap();
    assert_eq!(blocks.len(), 2);
    let mut compared = 0;
    for (b, block) in blocks.iter().enumerate() {
        for (t, experts) in block["experts"].as_array().unwrap().iter().enumerate() {
            let w: Vec<f64> = block["weights"][t].as_array().unwrap().iter().map(|x| x.as_f64().unwrap()).collect();
            if w[0] - w[1] > 1e-3 {
                assert_eq!(
                    experts[0].as_u64().unwrap() as usize,
                    page_first[b][t],
                    "block {b} token {t}: page tokens {page_tokens:?} first experts {page_first:?}; lmlab route: {routed}"
                );
                compared += 1;
            }
        }
    }
    assert!(compared > 0, "no clear first choice to compare");
    let text =
        lmlab().args(["route", "--checkpoint", tar_path.to_str().unwrap(), "--text", "ROMEO:"]).output().unwrap();
    let text = String::from_utf8_lossy(&text.stdout).to_string();
    assert!(text.contains("block 0") && text.contains("block 1") && text.contains("\"R\""), "{text}");
    std::fs::remove_dir_all(&dir).ok();

    // The dense twin with the same settings, then both curves side by side.
    click(d, "#train-twin").await;
    wait_text(d, "#train-plan", |t| !t.contains("active per token")).await;
    assert_eq!(d.find(By::Css("#train-preset")).await.unwrap().value().await.unwrap().unwrap(), "nano");
    assert_eq!(d.find(By::Css("#train-steps")).await.unwrap().value().await.unwrap().unwrap(), steps.to_string());
    click(d, "#train-start").await;
    wait_train(d, "#train-live", 600).await;
    wait_finished(d, 1800).await;
    assert!(d.find(By::Css("#train-moe")).await.is_err(), "a dense run has no router panel");
    for chart in ["#train-compare-tokens", "#train-compare-time"] {
        let lines = d.find_all(By::Css(&format!("{chart} polyline.series"))).await.unwrap();
        assert_eq!(lines.len(), 2, "{chart}: previous and this run");
        for l in lines {
            let n = l.attr("points").await.unwrap().unwrap_or_default().split_whitespace().count();
            assert_eq!(n, steps, "{chart}");
        }
    }
    shot_of(d, "#train-compare", "37-train-moe-vs-dense.png").await;
    browser.quit().await;
}
