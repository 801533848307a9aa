//! A mixture of experts on the Train page: nano-moe trains on the CPU backend, the router panel
//! and heat map show where tokens went (as `lmlab route` says for the downloaded checkpoint), and
//! its dense twin's curve lands beside it.

use lmlab::accounting::training_preset;
use lmlab_acceptance::browser::Browser;
use lmlab_acceptance::site::Site;
use lmlab_acceptance::train_page::TRAIN_ERRORS;
use lmlab_acceptance::{cli_json, dist, lmlab, temp_file};
use thirtyfour::By;

#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs dist/ (trunk build --release) and chromedriver: run tests/run-all.sh"]
async fn train_page_trains_a_mixture_of_experts_and_shows_its_router() {
    let site = Site::serve(&dist());
    let mut b = Browser::start().await;
    b.fail_on(&TRAIN_ERRORS);
    let steps: usize = std::env::var("LMLAB_MOE_STEPS").ok().and_then(|s| s.parse().ok()).unwrap_or(10);

    b.goto(&format!("{}/#/train", site.url)).await;
    b.wait_for("#train-adapter", 120).await;

    // nano-moe: twice nano's feed-forward parameters, the same active ones; the page counts both.
    b.select("#train-preset", "nano-moe").await;
    let shape = training_preset("nano-moe").unwrap().shape.params();
    b.wait_text("#train-plan", |t| t.contains("active per token")).await;
    assert_eq!(b.attr("#train-plan", "data-params").await, shape.total.to_string());
    assert_eq!(b.attr("#train-plan", "data-active").await, shape.active.to_string());
    // On burn's CPU backend in wasm (13× faster than SwiftShader's emulated WebGPU here; the MoE
    // layer on WebGPU is checked against numpy by core's wasm test `moe_router`).
    b.select("#train-backend", "cpu").await;
    b.type_into("#train-steps", &steps.to_string()).await;
    b.type_into("#train-batch", "4").await;
    b.type_into("#train-warmup", "1").await;
    b.type_into("#train-eval-every", "5").await;
    b.type_into("#train-sample-every", "0").await;
    b.type_into("#train-prompt", "ROMEO:").await;
    let moe_run = b.begin_run("#train-start").await;
    b.wait_phase(moe_run, &["finished"], 1800).await;

    // The router panel: every MoE block's expert shares sum to 1; the losses are shown.
    b.wait_for("#train-moe .expert-row", 30).await;
    let rows = b.driver.find_all(By::Css("#train-moe .expert-row")).await.unwrap();
    assert_eq!(rows.len(), 2, "nano-moe has 2 MoE blocks");
    for row in &rows {
        let bars = row.find_all(By::Css(".expert-bar")).await.unwrap();
        assert_eq!(bars.len(), 4);
        let mut sum = 0.0;
        for bar in bars {
            sum += bar.attr("data-fraction").await.unwrap().unwrap().parse::<f64>().unwrap();
        }
        assert!((sum - 1.0).abs() < 1e-4, "expert shares sum to {sum}");
    }
    let balance: f64 = b.wait_text("#train-moe-balance", |t| !t.is_empty()).await.parse().unwrap();
    assert!((0.9..4.0).contains(&balance), "balance loss {balance}");
    b.wait_text("#train-moe-dropped", |t| t.contains("pairs")).await;
    assert_eq!(b.count("#train-moe-chart polyline.series").await, 2);

    // The finished run's sample: the heat map shows each token's first-choice expert.
    b.wait_for(&format!("#train-routes[data-step='{steps}']"), 300).await;
    let page_tokens = b.texts("#train-routes th.token").await;
    let map_rows = b.driver.find_all(By::Css("#train-routes tbody tr")).await.unwrap();
    assert_eq!(map_rows.len(), 2);
    let mut page_first = Vec::new();
    for row in &map_rows {
        let cells = row.find_all(By::Css("td.cell")).await.unwrap();
        assert_eq!(cells.len(), page_tokens.len());
        let mut experts = Vec::new();
        for c in cells {
            let e: usize = c.attr("data-expert").await.unwrap().unwrap().parse().unwrap();
            assert!(e < 4);
            experts.push(e);
        }
        page_first.push(experts);
    }
    b.shot("35-train-moe-router.png").await;
    b.shot_of("#train-moe", "36-train-moe-loads.png").await;
    b.shot_of("#train-routes", "39-train-moe-routes.png").await;

    // The CLI routes the prompt of the downloaded checkpoint the same way (a token's choice
    // depends only on the tokens before it), except where two experts are within float noise.
    b.wait_attr("#train-download", "data-step", 60, |s| s == steps.to_string()).await;
    let tar = b.download_bytes("#train-download").await;
    let tar_path = temp_file("moe.tar", &tar);
    let routed = cli_json(&["route", "--checkpoint", tar_path.to_str().unwrap(), "--text", "ROMEO:", "--json"]);
    let blocks = routed["blocks"].as_array().unwrap();
    assert_eq!(blocks.len(), 2);
    let mut compared = 0;
    for (bi, block) in blocks.iter().enumerate() {
        for (t, experts) in block["experts"].as_array().unwrap().iter().enumerate() {
            let w: Vec<f64> = block["weights"][t].as_array().unwrap().iter().map(|x| x.as_f64().unwrap()).collect();
            if w[0] - w[1] > 1e-3 {
                assert_eq!(
                    experts[0].as_u64().unwrap() as usize,
                    page_first[bi][t],
                    "block {bi} token {t}: page tokens {page_tokens:?} first experts {page_first:?}; lmlab route: {routed}"
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

    // The dense twin with the same settings, then both curves side by side.
    b.click("#train-twin").await;
    b.wait_text("#train-plan", |t| !t.contains("active per token")).await;
    let preset = b.driver.find(By::Css("#train-preset")).await.unwrap().value().await.unwrap();
    assert_eq!(preset.as_deref(), Some("nano"));
    let steps_field = b.driver.find(By::Css("#train-steps")).await.unwrap().value().await.unwrap();
    assert_eq!(steps_field, Some(steps.to_string()));
    let dense_run = b.begin_run("#train-start").await;
    b.wait_phase(dense_run, &["finished"], 1800).await;
    assert_eq!(b.count("#train-moe").await, 0, "a dense run has no router panel");
    for chart in ["#train-compare-tokens", "#train-compare-time"] {
        let lines = b.driver.find_all(By::Css(format!("{chart} polyline.series"))).await.unwrap();
        assert_eq!(lines.len(), 2, "{chart}: previous and this run");
        for l in lines {
            let n = l.attr("points").await.unwrap().unwrap_or_default().split_whitespace().count();
            assert_eq!(n, steps, "{chart}");
        }
    }
    b.shot_of("#train-compare", "37-train-moe-vs-dense.png").await;
    b.quit().await;
}
