//! The Hardware lab: the WGSL kernels on SwiftShader's WebGPU, checked, on a roofline; limits and
//! a missing WebGPU named.

use std::time::Instant;

use lmlab_acceptance::browser::Browser;
use lmlab_acceptance::dist;
use lmlab_acceptance::site::Site;

#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs dist/ (trunk build --release) and chromedriver: run tests/run-all.sh"]
async fn hardware_lab_in_chromium() {
    let site = Site::serve(&dist());
    let mut b = Browser::start().await;
    b.fail_on(&["#hw-error"]);

    // Sizes that are not multiples of the 16- or 64-wide tiles; the adapter is SwiftShader here.
    let sizes = std::env::var("LMLAB_HW_SIZES").unwrap_or_else(|_| "40,129".into());
    b.goto(&format!("{}/#/hardware?sizes={sizes}&gpu=h100", site.url)).await;
    b.wait_text("h1", |t| t.contains("Hardware")).await;
    // Every kernel's lesson and source is on the page before anything runs.
    for k in lmlab::hardware::Kernel::ALL {
        let text = b.wait_text(&format!("#kernel-{} summary", k.key()), |t| !t.is_empty()).await;
        assert_eq!(text, format!("shaders/{}", k.file()));
    }
    assert_eq!(b.count("#no-webgpu").await, 0, "Chromium with --enable-unsafe-webgpu has WebGPU");
    b.click("#hw-run").await;
    // The progress indicator shows while the suite runs.
    b.wait_for("#hw-progress progress", 60).await;
    let started = Instant::now();
    b.wait_for("#hw-done", 1800).await;
    eprintln!("hardware suite ({sizes}) in Chromium: {:.1} s", started.elapsed().as_secs_f64());

    let adapter = b.wait_text("#hw-adapter", |t| !t.is_empty()).await;
    eprintln!("{adapter}");
    let rows = b.texts("#hw-table tbody tr").await;
    let n_sizes = sizes.split(',').count();
    let f16 = adapter.contains("shader-f16: yes");
    assert_eq!(rows.len(), 1 + n_sizes * if f16 { 5 } else { 4 }, "{adapter}");
    for text in &rows {
        eprintln!("{text}");
        assert!(text.contains("ok ("), "a kernel's result is wrong in the browser: {text}");
    }
    if !f16 {
        let headline = b.wait_text("#hw-headline", |t| !t.is_empty()).await;
        assert!(headline.contains("Skipped f16") && headline.contains("shader-f16"), "{headline}");
    }
    // The roofline: one point per matmul measurement, the measured roof and the H100's datasheet roof.
    assert_eq!(b.count("#roofline circle.point").await, rows.len() - 1);
    assert_eq!(b.count("#roofline .roof").await, 2);
    let headline = b.wait_text("#hw-headline", |t| t.contains("of the NVIDIA H100")).await;
    assert!(headline.contains("register-blocked kernel is"), "{headline}");
    // The step chart: naive is 1×, every step has a bar.
    assert_eq!(b.attr("#hw-steps .bar-row:first-child", "data-label").await, "Naive");
    assert_eq!(b.wait_text("#hw-steps .bar-row:first-child .bar-value", |_| true).await, "1×");
    b.shot_of("#hw-results", "20-hardware-results.png").await;
    b.shot_of("#roofline", "21-hardware-roofline.png").await;

    // A size beyond the limit is refused with the limit named; a typo is named under the field.
    b.type_into("#hw-sizes", "12,x").await;
    let err = b.wait_text(".field.invalid .error", |t| !t.is_empty()).await;
    assert!(err.contains("x"), "{err}");
    assert!(b.disabled("#hw-run").await);
    b.type_into("#hw-sizes", "60000").await;
    b.fail_on(&[]);
    b.click("#hw-run").await;
    let err = b.wait_for("#hw-error", 60).await.text().await.unwrap();
    assert!(err.contains("maxStorageBufferBindingSize"), "{err}");

    // Predict, then check.
    b.type_into("#exercise-hw-intensity-4096 input.answer", "683").await;
    b.click("#exercise-hw-intensity-4096 button.check").await;
    b.wait_text("#exercise-hw-intensity-4096 .verdict .message", |t| t.starts_with("Right")).await;
    b.shot("22-hardware-page.png").await;
    b.quit().await;
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs dist/ (trunk build --release) and chromedriver: run tests/run-all.sh"]
async fn hardware_lab_without_webgpu_says_how_to_get_it() {
    let site = Site::serve(&dist());

    // 1. WebGPU present but no adapter: Chromium on Linux without --enable-unsafe-webgpu.
    let b = Browser::start_with(&["--enable-unsafe-webgpu"], &[]).await;
    b.goto(&format!("{}/#/hardware?sizes=16", site.url)).await;
    b.wait_text("#kernel-copy h3", |t| t.contains("Copy")).await;
    assert_eq!(b.count("#no-webgpu").await, 0, "navigator.gpu exists even without an adapter");
    b.click("#hw-run").await;
    let err = b.wait_for("#hw-error", 60).await.text().await.unwrap();
    assert!(err.contains("no GPU adapter") && err.contains("--enable-unsafe-webgpu"), "{err}");
    b.shot("23-hardware-no-adapter.png").await;
    b.quit().await;

    // 2. A browser with no WebGPU at all (navigator.gpu removed before the page loads).
    let b = Browser::start().await;
    b.driver.cdp().page().add_script_to_evaluate_on_new_document("delete Navigator.prototype.gpu;").await.unwrap();
    b.goto(&format!("{}/#/hardware", site.url)).await;
    let notice = b.wait_text("#no-webgpu", |t| !t.is_empty()).await;
    assert!(notice.contains("does not expose WebGPU") && notice.contains("lmlab bench hardware"), "{notice}");
    assert!(b.disabled("#hw-run").await);
    // The lessons are still there.
    b.wait_text("#kernel-register h3", |t| t.contains("Register")).await;
    b.shot("24-hardware-no-webgpu.png").await;
    b.quit().await;
}

/// The attention lesson: its arithmetic and the kernels' source before anything runs, then naive
/// vs fused measured in the training worker on SwiftShader's WebGPU, one row per kernel and
/// length; predict, then check.
#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs dist/ (trunk build --release) and chromedriver: run tests/run-all.sh"]
async fn attention_lesson_in_chromium() {
    use lmlab::hardware::attention::{AttentionShape, KERNEL_FILE};
    use lmlab::model::plan::AttentionKernel;
    let site = Site::serve(&dist());
    let mut b = Browser::start().await;
    b.fail_on(&["#attn-error"]);
    b.goto(&format!("{}/#/hardware", site.url)).await;
    // The arithmetic at the largest default length (1024; 2 × 4 heads of 64).
    let text = b.wait_text("#attn-arithmetic", |t| !t.is_empty()).await;
    let s = AttentionShape { batch: 2, heads: 4, head: 64, t: 1024 };
    assert!(text.contains("T = 1024") && text.contains(&lmlab::units::format_bytes(s.tt_bytes(4.0))), "{text}");
    assert!(text.contains(&lmlab::units::format_bytes(s.peak_bytes(AttentionKernel::Reference))), "{text}");
    let summary = b.wait_text("#attn-source summary", |t| !t.is_empty()).await;
    assert!(summary.contains(KERNEL_FILE), "{summary}");
    assert_eq!(b.count("#attn-source code").await, 1);

    // Lengths that are not multiples of the tiles, head 16: a minute on a CPU emulation.
    b.type_into("#attn-lengths", "40,130").await;
    b.select("#attn-head", "16").await;
    b.click("#attn-run").await;
    let started = Instant::now();
    b.wait_attr("#attn-results", "data-done", 900, |d| d == "true").await;
    eprintln!("attention benchmark (40,130) in Chromium: {:.1} s", started.elapsed().as_secs_f64());
    let device = b.wait_text("#attn-device", |t| !t.is_empty()).await;
    eprintln!("{device}");
    for kind in ["fused", "reference"] {
        for t in ["40", "130"] {
            let css = format!("#attn-table tr[data-kind='{kind}'][data-t='{t}']");
            assert_eq!(b.count(&css).await, 1, "no {kind} row at T = {t}");
            let seconds: f64 = b.attr(&css, "data-seconds").await.parse().unwrap();
            assert!(seconds > 0.0, "{kind} at {t}: {seconds} s");
        }
    }
    let ratios = b.wait_text("#attn-ratios", |t| t.contains("T = 130")).await;
    assert!(ratios.contains("fused is") && ratios.contains("Peak memory grows"), "{ratios}");
    b.shot_of("#attention-lesson", "25-hardware-attention.png").await;

    // Predict, then check: the example, 8 GiB of probabilities.
    b.type_into("#exercise-attn-probs-4096 input.answer", "8").await;
    b.click("#exercise-attn-probs-4096 button.check").await;
    b.wait_text("#exercise-attn-probs-4096 .verdict .message", |t| t.starts_with("Right")).await;
    b.quit().await;
}
