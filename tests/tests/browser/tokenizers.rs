//! The Tokenizers lab: four tokenizers side by side, GPT-2 ids equal to the CLI's, BPE training
//! in the page equal to `lmlab bpe train`, the merge stepper, pasted corpora.

use lmlab_acceptance::browser::Browser;
use lmlab_acceptance::site::Site;
use lmlab_acceptance::{cli_json, dist, lmlab, repo_root};

#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs dist/ (trunk build --release) and chromedriver: run tests/run-all.sh"]
async fn tokenizers_lab_in_chromium() {
    let site = Site::serve(&dist());
    let b = Browser::start().await;
    let download = |file: &str| format!("#downloads a[data-file=\"{file}\"]");

    // The four tokenizers side by side on the lecture's example.
    b.goto(&format!("{}/#/tokenizers", site.url)).await;
    let card = |name: &str, what: &str| format!("[data-tokenizer={name}] {what}");
    assert_eq!(b.attr(&card("char", ".ids"), "data-ids").await, "72 101 108 108 111 44 32 19990 30028 33");
    assert_eq!(b.attr(&card("byte", ".ids"), "data-ids").await, "72 101 108 108 111 44 32 228 184 150 231 149 140 33");
    b.wait_text(&card("gpt2", ".count"), |t| !t.is_empty()).await; // GPT-2 is fetched lazily
    b.wait_text(&card("word", ".count"), |t| !t.is_empty()).await;
    b.type_into("#tok-input", "Hello, how are you?").await;
    b.wait_text(&card("gpt2", ".count"), |t| t == "6").await;
    assert_eq!(b.attr(&card("gpt2", ".ids"), "data-ids").await, "15496 11 703 389 345 30");
    let text = "Héllò hôw are ü? 🙃 It's 2024!   New  line.";
    b.type_into("#tok-input", text).await;
    let cli = cli_json(&["tokenize", "--tokenizer", "gpt2", text, "--json"]);
    let cli_ids: Vec<String> = cli["ids"].as_array().unwrap().iter().map(|v| v.to_string()).collect();
    b.wait_text(&card("gpt2", ".count"), |t| t == cli_ids.len().to_string()).await;
    assert_eq!(b.attr(&card("gpt2", ".ids"), "data-ids").await, cli_ids.join(" "), "page and CLI agree");
    b.type_into("#tok-input", "Hello, 世界!").await;
    b.wait_text(&card("char", ".count"), |t| t == "10").await;
    b.shot("09-tokenizers.png").await;

    // A vocabulary too small for the bytes and the special token: named, and Train is disabled.
    b.wait_text("#corpus-name", |t| t.contains("Tiny Shakespeare")).await;
    b.type_into("#vocab-size", "200").await;
    let err = b.wait_text(".field.invalid .error", |t| !t.is_empty()).await;
    assert!(err.contains("200") && err.contains("257"), "{err}");
    assert!(b.disabled("#train").await);

    // Train on the bundled corpus; the merges equal the CLI's on the same file.
    b.type_into("#vocab-size", "300").await;
    b.click("#train").await;
    let done = b.wait_text("#train-done", |t| t.starts_with("Trained")).await;
    assert!(done.contains("43 merges"), "{done}");
    let out = std::env::temp_dir().join(format!("lmlab-e2e-bpe-{}", std::process::id()));
    let corpus = repo_root().join("data/tinyshakespeare.txt");
    let r = lmlab()
        .args(["bpe", "train", "--input", corpus.to_str().unwrap(), "--vocab-size", "300"])
        .args(["--special", "<|endoftext|>", "--out", out.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(r.status.success(), "{}", String::from_utf8_lossy(&r.stderr));
    let cli_merges = std::fs::read_to_string(out.join("merges.txt")).unwrap();
    assert_eq!(b.download_text(&download("merges.txt")).await, cli_merges, "the page's merges.txt equals the CLI's");
    let hf: serde_json::Value = serde_json::from_str(&b.download_text(&download("tokenizer.json")).await).unwrap();
    assert_eq!(hf["model"]["type"], "BPE");
    assert_eq!(b.count("#downloads a[download]").await, 4);
    let _ = std::fs::remove_dir_all(&out);

    // Step through the merges.
    assert_eq!(b.attr("#stepper", "data-step").await, "1");
    let first = cli_merges.lines().nth(1).unwrap().replace('Ġ', "·").replace('Ċ', "↵");
    let info = b.wait_text("#merge-info", |t| t.starts_with("Merge 1 of 43")).await;
    let (x, y) = first.split_once(' ').unwrap();
    assert!(info.contains(x) && info.contains(y), "{info} vs {first}");
    b.click("#step-next").await;
    b.wait_text("#merge-info", |t| t.starts_with("Merge 2 of 43")).await;
    b.click("#step-last").await;
    b.wait_text("#merge-info", |t| t.starts_with("Merge 43 of 43")).await;
    assert_eq!(b.count("#compression-chart polyline.series").await, 1);
    b.wait_text("[data-tokenizer=trained] .count", |t| !t.is_empty()).await;
    b.driver.execute("window.scrollTo(0, document.body.scrollHeight * 0.35)", vec![]).await.unwrap();
    b.shot("10-tokenizers-trained.png").await;

    // Train on pasted text instead.
    b.type_into("#paste-corpus", "low lower lowest newer newest wider widest ".repeat(20).as_str()).await;
    b.click("#use-paste").await;
    b.wait_text("#corpus-name", |t| t.contains("pasted text")).await;
    b.type_into("#vocab-size", "270").await;
    b.click("#train").await;
    b.wait_text("#train-done", |t| t.contains("13 merges")).await;

    // Predict, then check.
    b.type_into("#exercise-bytes-of-shijie input.answer", "6").await;
    b.click("#exercise-bytes-of-shijie button.check").await;
    b.wait_text("#exercise-bytes-of-shijie .verdict .message", |t| t.starts_with("Right")).await;

    b.quit().await;
}
