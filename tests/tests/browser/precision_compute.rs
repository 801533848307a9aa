//! The Precision and Compute labs: every format's bits, bit flips, errors named, the lecture's
//! numbers, and the same figures as the CLI.

use lmlab::precision::{represent, Format};
use lmlab_acceptance::browser::Browser;
use lmlab_acceptance::site::Site;
use lmlab_acceptance::{cli_json, dist};

#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs dist/ (trunk build --release) and chromedriver: run tests/run-all.sh"]
async fn precision_and_compute_labs_in_chromium() {
    let site = Site::serve(&dist());
    let b = Browser::start().await;

    // Home: every lab is listed and built.
    b.goto(&format!("{}/", site.url)).await;
    b.wait_text("h1", |t| t.contains("Build a language model")).await;
    assert_eq!(b.count("nav .nav-link").await, 6);
    assert_eq!(b.count(".cards .card").await, 6);
    b.shot("01-home.png").await;

    // Precision: type a number, read every format.
    b.click("#nav-precision").await;
    b.type_into("#value-input", "1e-8").await;
    b.wait_text("[data-format=fp16] .class", |t| t == "zero").await;
    for f in Format::ALL {
        let bits = b.attr(&format!("[data-format={}] .bits", f.key()), "data-bits").await;
        assert_eq!(bits, represent(f, 1e-8).bits, "{f} bits of 1e-8");
    }
    // The CLI prints the same bits.
    let cli = cli_json(&["float", "1e-8", "--json"]);
    for row in cli.as_array().unwrap() {
        let key = row["format"].as_str().unwrap();
        assert_eq!(b.attr(&format!("[data-format={key}] .bits"), "data-bits").await, row["bits"].as_str().unwrap());
    }
    b.shot("02-precision-1e-8.png").await;

    // Flip the last mantissa bit of fp16's 1.0.
    b.type_into("#value-input", "1").await;
    b.wait_text("[data-format=fp16] .value", |t| t == "1").await;
    b.click("[data-format=fp16] .bit[data-index='15']").await;
    b.wait_text("[data-format=fp16] .value", |t| t == "1.0009765625").await;
    let value = b.driver.find(thirtyfour::By::Css("#value-input")).await.unwrap().value().await.unwrap();
    assert_eq!(value.as_deref(), Some("1.0009765625"));
    assert_eq!(b.wait_text("[data-format=bf16] .value", |_| true).await, "1");

    // A mistake: an inline message that names it; nothing breaks.
    b.type_into("#value-input", "0.1x").await;
    let err = b.wait_text(".field.invalid .error", |t| !t.is_empty()).await;
    assert!(err.contains("0.1x"), "{err}");
    b.shot("03-precision-error.png").await;
    // A decimal comma is refused, naming the decimal point, not read as 15.
    b.type_into("#value-input", "1,5").await;
    let err = b.wait_text(".field.invalid .error", |t| !t.is_empty()).await;
    assert!(err.contains("1,5") && err.contains("decimal point (1.5)"), "{err}");
    assert_eq!(b.count("#formats-table").await, 0, "no formats shown for a refused number");
    // A decimal beyond float64 is stored as inf: its error is infinite, and inf has no ulp.
    b.type_into("#value-input", "1e999").await;
    b.wait_text("[data-format=fp32] .class", |t| t == "inf").await;
    assert_eq!(b.wait_text("[data-format=fp32] .abs-error", |_| true).await, "inf");
    assert_eq!(b.wait_text("[data-format=fp32] .ulp", |_| true).await, "—");
    b.wait_for("#beyond-f64", 5).await;
    b.type_into("#value-input", "0.1").await;
    b.wait_text("[data-format=fp32] .value", |t| t == "0.100000001490116119384765625").await;

    // The accumulation demo and its chart.
    assert_eq!(b.wait_text("[data-recipe='fp16'] .result", |_| true).await, "9.953125");
    assert_eq!(b.count("#accumulation-chart polyline.series").await, 5);
    b.shot_of("#accumulation-chart", "04-precision-accumulation.png").await;

    // Predict, then check.
    b.type_into("#exercise-fp16-underflow input.answer", "0").await;
    b.click("#exercise-fp16-underflow button.check").await;
    b.wait_text("#exercise-fp16-underflow .verdict .message", |t| t.starts_with("Right")).await;
    b.type_into("#exercise-e4m3-max input.answer", "240").await;
    b.click("#exercise-e4m3-max button.check").await;
    b.wait_text("#exercise-e4m3-max .verdict .message", |t| t.contains("448")).await;

    // The URL is the state: reloading it restores the view.
    let url = b.driver.current_url().await.unwrap();
    assert!(url.as_str().contains("x=0.1"), "{url}");
    b.goto(&format!("{}/#/", site.url)).await;
    b.goto(url.as_str()).await;
    b.wait_text("[data-format=fp32] .value", |t| t == "0.100000001490116119384765625").await;

    // Compute: the lecture's 70B on 15T tokens on 1,024 H100s.
    b.click("#nav-compute").await;
    b.select("#f-model", "params").await;
    b.type_into("#f-params", "70e9").await;
    b.type_into("#f-tokens", "15e12").await;
    b.type_into("#f-gpus", "1024").await;
    b.type_into("#f-mfu", "0.5").await;
    b.select("#f-gpu", "h100").await;
    b.wait_text("#time-days", |t| t == "143.9 days").await;
    let cli = cli_json(&[
        "estimate", "time", "--params", "70e9", "--tokens", "15e12", "--gpu", "h100", "--gpus", "1024", "--mfu", "0.5",
        "--json",
    ]);
    let page_days: f64 = b.attr("#time-days", "data-days").await.parse().unwrap();
    assert_eq!(page_days, cli["days"].as_f64().unwrap(), "page and CLI agree to the last bit");
    b.wait_text("#memory-largest-model", |t| t.contains("5.12T")).await;
    b.shot("05-compute-70b.png").await;

    // A mistake in MFU.
    b.type_into("#f-mfu", "1.5").await;
    let err = b.wait_text(".field.invalid .error", |t| !t.is_empty()).await;
    assert!(err.contains("1.5") && err.contains("(0, 1]"), "{err}");
    b.shot("06-compute-error.png").await;
    // The error is shown once, under its field; the time box only says it waits for it (memory
    // does not depend on MFU and still shows its estimate).
    assert_eq!(b.count(".error[role=alert], .result-box.error").await, 1);
    b.wait_text("#time-error", |t| t.contains("Waiting")).await;
    b.wait_for("#memory-result", 5).await;
    b.type_into("#f-mfu", "0.5").await;
    b.wait_text("#time-days", |t| t == "143.9 days").await;
    // Absurd what-ifs stay readable. 1e30 parameters: 6·1e30·15e12 FLOPs over 1,024 × 989.5e12
    // × 0.5 FLOP/s is ≈ 1.78e26 s ≈ 5.6e18 years; 1e12 GPUs finish 70B in well under a second.
    b.type_into("#f-params", "1e30").await;
    let t = b.wait_text("#time-days", |t| t.contains("years")).await;
    assert!(t.contains('e') && !t.contains("days") && t.len() < 20, "{t}");
    b.type_into("#f-params", "70e9").await;
    b.type_into("#f-gpus", "1e12").await;
    b.wait_text("#time-days", |t| t == "< 1 s").await;
    b.type_into("#f-gpus", "1024").await;
    b.wait_text("#time-days", |t| t == "143.9 days").await;

    // A preset: GPT-2 XL's parameters and FLOPs by component.
    b.select("#f-model", "gpt2-xl").await;
    b.wait_text("#params-total", |t| t.contains("2127057600")).await;
    let cli = cli_json(&["estimate", "model", "--preset", "gpt2-xl", "--json"]);
    assert_eq!(b.attr("#params-total", "data-params").await, cli["params"]["total"].to_string());
    assert_eq!(b.count("#flops-chart .bar-row").await, 7);
    b.type_into("#exercise-70b-training-days input.answer", "144").await;
    b.click("#exercise-70b-training-days button.check").await;
    b.wait_text("#exercise-70b-training-days .verdict .message", |t| t.starts_with("Right")).await;
    b.driver.execute("window.scrollTo(0, 0)", vec![]).await.unwrap();
    b.shot("07-compute-gpt2-xl.png").await;
    b.shot_of("#memory-result", "08-compute-memory.png").await;

    // A shared link opens the same scenario.
    let url = b.driver.current_url().await.unwrap();
    assert!(url.as_str().contains("model=gpt2-xl") && url.as_str().contains("mfu=0.5"), "{url}");
    b.goto(&format!("{}/#/precision", site.url)).await;
    b.goto(url.as_str()).await;
    b.wait_text("#params-total", |t| t.contains("2127057600")).await;

    // Mixtral's total and active parameters (46.7 B / 12.9 B published).
    b.select("#f-model", "mixtral-8x7b").await;
    b.wait_text("#params-active", |t| !t.is_empty()).await;
    let total: f64 = b.attr("#params-total", "data-params").await.parse().unwrap();
    let active: f64 = b.attr("#params-active", "data-params").await.parse().unwrap();
    assert!((total / 46.7e9 - 1.0).abs() < 0.005 && (active / 12.9e9 - 1.0).abs() < 0.005, "{total} / {active}");
    b.shot_of("#params-table", "38-compute-mixtral.png").await;

    // Data parallelism: a 7B model's bf16 gradients across 8 H100s over NVLink, then over 100 GbE —
    // the ring all-reduce by hand (2·7/8 × 14 GB / 450 GB/s) and the CLI's numbers to the last bit.
    b.type_into("#dp-params", "7B").await;
    b.wait_text("#dp-comm", |t| t.starts_with("54.4 ms")).await;
    let cli = cli_json(&["estimate", "parallel", "--params", "7B", "--gpus", "8", "--json"]);
    let page_comm: f64 = b.attr("#dp-comm", "data-seconds").await.parse().unwrap();
    assert_eq!(page_comm, cli["comm_s"].as_f64().unwrap());
    assert!((page_comm - 1.75 * 14e9 / 450e9).abs() < 1e-12);
    let hide_nvlink: f64 = b.attr("#dp-hide", "data-tokens").await.parse().unwrap();
    assert_eq!(hide_nvlink, cli["hide_tokens_per_gpu"].as_f64().unwrap());
    assert_eq!(b.count("#dp-links tbody tr").await, 10);
    let zero = b.texts("#dp-zero tbody tr").await;
    assert_eq!(zero.len(), 4);
    assert!(zero[3].contains("14 GB") || zero[3].contains("13.04 GiB"), "ZeRO-3: 16 × 7e9 / 8 bytes: {zero:?}");
    b.select("#dp-link", "eth-100g").await;
    b.wait_text("#dp-comm", |t| t.contains("Ethernet")).await;
    let hide_eth: f64 = b.attr("#dp-hide", "data-tokens").await.parse().unwrap();
    assert!((hide_eth / hide_nvlink - 36.0).abs() < 1e-9, "450 / 12.5 GB/s: {hide_eth} vs {hide_nvlink}");
    b.wait_text("#dp-split-shape", |t| t.contains("tensor 8 × pipeline 1 × data 128")).await;
    // The URL keeps the section's scenario with the rest of the page's.
    let url = b.driver.current_url().await.unwrap();
    assert!(url.as_str().contains("dp_params=7B") && url.as_str().contains("dp_link=eth-100g"), "{url}");
    let eth_comm = b.attr("#dp-comm", "data-seconds").await;
    b.goto(&format!("{}/#/precision", site.url)).await;
    b.goto(url.as_str()).await;
    b.wait_text("#dp-comm", |t| t.contains("Ethernet")).await;
    assert_eq!(b.attr("#dp-comm", "data-seconds").await, eth_comm);
    b.type_into("#dp-gpus", "0").await;
    let err = b.wait_text("#data-parallel .field.invalid .error", |t| !t.is_empty()).await;
    assert!(err.contains("--gpus") || err.contains('0'), "{err}");
    b.type_into("#dp-gpus", "8").await;
    b.type_into("#exercise-allreduce-7b-nvlink input.answer", "0.054").await;
    b.click("#exercise-allreduce-7b-nvlink button.check").await;
    b.wait_text("#exercise-allreduce-7b-nvlink .verdict .message", |t| t.starts_with("Right")).await;
    b.shot_of("#data-parallel", "39-compute-data-parallel.png").await;

    b.quit().await;
}
