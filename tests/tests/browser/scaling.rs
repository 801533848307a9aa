//! The Scaling lab: a small IsoFLOP sweep planned and run in the training worker (the CPU
//! backend: WebGPU here is SwiftShader), kept across a reload (IndexedDB) and continued, then
//! fitted live — the IsoFLOP parabolas, N_opt against C with the fitted line beside Chinchilla's,
//! the contours — and a prediction and an exercise checked.

use std::time::{Duration, Instant};

use lmlab_acceptance::browser::Browser;
use lmlab_acceptance::dist;
use lmlab_acceptance::site::Site;

/// Tiny budgets: each run a few seconds on the CPU backend in wasm.
const BUDGETS: &str = "4e9,8e9,1.6e10";

async fn wait_enabled(b: &Browser, css: &str, secs: u64) {
    let start = Instant::now();
    while b.disabled(css).await {
        assert!(start.elapsed().as_secs() < secs, "{css} stayed disabled for {secs} s");
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs dist/ (trunk build --release) and chromedriver: run tests/run-all.sh"]
async fn scaling_lab_in_chromium() {
    let site = Site::serve(&dist());
    let mut b = Browser::start().await;
    b.fail_on(&["#sweep-error"]);
    let url = format!("{}/#/scaling?budgets={BUDGETS}&sizes=3", site.url);
    b.goto(&url).await;
    b.wait_text("h1", |t| t.contains("Scaling")).await;
    // The plan and its expected time before anything runs.
    let estimate = b.wait_text("#sweep-estimate", |t| t.contains("9 runs")).await;
    assert!(estimate.contains("FLOP/s"), "{estimate}");
    wait_enabled(&b, "#sweep-start", 180).await;
    let backend = b.wait_text("#sweep-backend", |t| !t.is_empty()).await;
    assert!(backend.contains("CPU"), "SwiftShader's WebGPU is passed over for the CPU backend: {backend}");
    b.click("#sweep-start").await;
    let started = Instant::now();
    // Two runs, then a reload: the finished runs come back from IndexedDB.
    b.wait_attr("#sweep-runs", "data-done", 600, |d| d.parse::<usize>().unwrap_or(0) >= 2).await;
    b.goto("about:blank").await;
    b.goto(&url).await;
    let done: usize =
        b.wait_attr("#sweep-runs", "data-done", 60, |d| d.parse::<usize>().unwrap_or(0) >= 2).await.parse().unwrap();
    assert!(done < 9, "the sweep was cut short by the reload");
    wait_enabled(&b, "#sweep-continue", 180).await;
    b.click("#sweep-continue").await;
    b.wait_attr("#sweep-runs", "data-done", 900, |d| d == "9").await;
    b.wait_attr("#sweep-runs", "data-running", 30, |r| r == "false").await;
    eprintln!("sweep of 9 runs in Chromium: {:.1} s", started.elapsed().as_secs_f64());
    for row in b.texts("#sweep-table tbody tr").await {
        assert!(row.chars().any(|c| c.is_ascii_digit()), "{row}");
    }
    // The fits: a parabola per budget on the IsoFLOP chart, points and the fitted line on N_opt's.
    b.wait_for("#isoflop-chart svg", 60).await;
    assert!(b.count("#isoflop-chart circle").await >= 9);
    assert!(b.count("#isoflop-chart polyline.series").await >= 3, "one parabola per budget");
    let fitted = b.wait_for("#nopt-chart polyline[data-label^='your fit']", 30).await;
    let points = fitted.attr("points").await.unwrap().unwrap_or_default();
    assert!(points.split(' ').count() >= 2, "the fitted line is drawn: {points}");
    assert_eq!(b.count("#nopt-chart polyline[data-label^='Chinchilla']").await, 1);
    assert!(b.count("#contour-chart polyline.series").await >= 1);
    let laws = b.wait_text("#fit-laws", |t| t.contains("N_opt =")).await;
    assert!(laws.contains("L(N, D) ="), "{laws}");
    for inside in b.texts("#budget-fits li[data-inside]").await {
        assert!(inside.contains("N_opt"), "{inside}");
    }
    b.shot_of("#fits", "26-scaling-fits.png").await;

    // What the seed's budget buys: Chinchilla's law, by lmlab::scaling.
    let chin = lmlab::scaling::Law::CHINCHILLA.optimum(6.3e24);
    let n: f64 = b.attr("#predict-table tr[data-who=\"Chinchilla's L(N, D)\"]", "data-n").await.parse().unwrap();
    assert!((n / chin.params - 1.0).abs() < 1e-9);
    assert_eq!(b.count("#predict-table tr[data-who='your L(N, D)']").await, 1);
    b.shot("27-scaling.png").await;

    // Predict, then check.
    b.type_into("#exercise-chinchilla-tokens-70b input.answer", "1.4e12").await;
    b.click("#exercise-chinchilla-tokens-70b button.check").await;
    b.wait_text("#exercise-chinchilla-tokens-70b .verdict .message", |t| t.starts_with("Right")).await;
    b.quit().await;
}
