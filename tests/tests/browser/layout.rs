//! Every page as a student meets it on a phone (390 px wide) and on a desktop (1,400 px): nothing
//! wider than the window (no sideways panning: wide tables and bit rows scroll or wrap in their
//! own box), every Check button readable (WCAG text contrast ≥ 4.5:1, computed here from the
//! page's computed colours), and a console without warnings or errors once the page has loaded.
//!
//! Failures are collected over all pages and reported together, after every screenshot is taken.

use lmlab_acceptance::browser::Browser;
use lmlab_acceptance::dist;
use lmlab_acceptance::site::Site;
use thirtyfour::By;

/// (name used in screenshots, route).
const PAGES: [(&str, &str); 7] = [
    ("home", "#/"),
    ("tokenizers", "#/tokenizers"),
    ("precision", "#/precision"),
    ("compute", "#/compute"),
    ("hardware", "#/hardware"),
    ("train", "#/train"),
    ("scaling", "#/scaling"),
];

/// Waits until the page's main content is drawn (what a width measurement needs to be meaningful).
async fn wait_ready(b: &Browser, page: &str) {
    match page {
        "home" => {
            b.wait_for(".cards .card", 30).await;
        }
        "tokenizers" => {
            // GPT-2's vocabulary is fetched lazily; its card is complete once it counts tokens.
            b.wait_text("[data-tokenizer=gpt2] .count", |t| !t.is_empty()).await;
        }
        "precision" => {
            b.wait_for("[data-format=fp64] .bits", 30).await;
            b.wait_for("#accumulation-chart", 30).await;
            b.wait_for("#ranges-table", 30).await;
        }
        "compute" => {
            b.wait_for("#time-days", 30).await;
            b.wait_for("#params-table", 30).await;
            b.wait_for("#memory-result", 30).await;
        }
        "hardware" => {
            b.wait_text("h1", |t| t.contains("Hardware")).await;
            b.wait_for(".kernels", 30).await;
        }
        "train" => {
            // The page loads its worker bundle and probes WebGPU before it shows the adapter.
            b.wait_for("#train-adapter, #train-no-webgpu", 120).await;
        }
        "scaling" => {
            b.wait_text("h1", |t| t.contains("Scaling")).await;
            b.wait_for("#predict-table", 30).await;
            b.wait_for("#sweep-estimate", 120).await;
        }
        other => panic!("no readiness rule for {other}"),
    }
}

/// The document's width against the window's, and (when wider) the elements that stick out,
/// ignoring those clipped by a scrolling ancestor inside the window.
const WIDTH_SCRIPT: &str = r#"
const doc = document.documentElement;
const limit = doc.clientWidth;
const out = [];
for (const el of document.body.querySelectorAll('*')) {
  const r = el.getBoundingClientRect();
  if (r.width === 0 || r.right <= limit + 0.5) continue;
  let clipped = false;
  for (let a = el.parentElement; a && a !== document.body; a = a.parentElement) {
    const o = getComputedStyle(a).overflowX;
    if ((o === 'auto' || o === 'scroll' || o === 'hidden' || o === 'clip') && a.getBoundingClientRect().right <= limit + 0.5) {
      clipped = true; break;
    }
  }
  if (clipped) continue;
  const name = el.tagName.toLowerCase() + (el.id ? '#' + el.id : '') +
    (typeof el.className === 'string' && el.className ? '.' + el.className.trim().split(/\s+/).join('.') : '');
  out.push(name + ' right=' + Math.round(r.right));
}
return [doc.scrollWidth, limit, window.innerWidth, out.slice(0, 12).join('; ')];
"#;

/// For every `button.check`: its text colour and the colour behind it (its own background, or
/// the first ancestor's that is not transparent; white at the root), as computed by the browser.
const CONTRAST_SCRIPT: &str = r#"
return Array.from(document.querySelectorAll('button.check')).map(el => {
  const color = getComputedStyle(el).color;
  let bg = 'rgb(255, 255, 255)';
  for (let a = el; a; a = a.parentElement) {
    const c = getComputedStyle(a).backgroundColor;
    const alpha = c.startsWith('rgba') ? parseFloat(c.split(',')[3]) : 1;
    if (alpha > 0) { bg = c; break; }
  }
  return [el.closest('[id]') ? el.closest('[id]').id : '', color, bg];
});
"#;

/// `rgb(r, g, b)` or `rgba(r, g, b, a)` → (r, g, b) in 0–255.
fn parse_rgb(css: &str) -> (f64, f64, f64) {
    let inner = css.split_once('(').and_then(|(_, rest)| rest.strip_suffix(')')).unwrap_or_else(|| panic!("{css}"));
    let v: Vec<f64> = inner.split(',').map(|p| p.trim().parse().unwrap_or_else(|_| panic!("{css}"))).collect();
    (v[0], v[1], v[2])
}

/// WCAG 2.x relative luminance of an sRGB colour.
fn luminance((r, g, b): (f64, f64, f64)) -> f64 {
    let lin = |c: f64| {
        let c = c / 255.0;
        if c <= 0.04045 {
            c / 12.92
        } else {
            ((c + 0.055) / 1.055).powf(2.4)
        }
    };
    0.2126 * lin(r) + 0.7152 * lin(g) + 0.0722 * lin(b)
}

/// WCAG contrast ratio (L_lighter + 0.05) / (L_darker + 0.05), from 1 to 21.
fn contrast(a: (f64, f64, f64), b: (f64, f64, f64)) -> f64 {
    let (la, lb) = (luminance(a), luminance(b));
    (la.max(lb) + 0.05) / (la.min(lb) + 0.05)
}

#[test]
fn contrast_matches_the_wcag_definition() {
    // Black on white is the maximum, 21:1; a colour against itself is 1:1.
    assert!((contrast((0.0, 0.0, 0.0), (255.0, 255.0, 255.0)) - 21.0).abs() < 1e-9);
    assert!((contrast((37.0, 99.0, 235.0), (37.0, 99.0, 235.0)) - 1.0).abs() < 1e-12);
    // Mid grey #777777 on white is the textbook "just fails AA" pair: 4.48:1.
    let grey = contrast((119.0, 119.0, 119.0), (255.0, 255.0, 255.0));
    assert!((grey - 4.48).abs() < 0.01, "{grey}");
}

/// Sets the viewport to `width` × `height` CSS pixels (a phone's when `mobile`), for every page
/// loaded after it.
async fn emulate(b: &Browser, width: u32, height: u32, mobile: bool) {
    let params = serde_json::json!({
        "width": width, "height": height, "screenWidth": width, "screenHeight": height, "deviceScaleFactor": if mobile { 2 } else { 1 }, "mobile": mobile,
    });
    b.driver.cdp().send_raw("Emulation.setDeviceMetricsOverride", params).await.expect("viewport emulation");
}

/// Checks the page now shown at the current window size; problems go to `failures`.
async fn check_page(b: &Browser, page: &str, size: &str, mobile: bool, failures: &mut Vec<String>) {
    let ret = b.driver.execute(WIDTH_SCRIPT, vec![]).await.unwrap();
    let v = ret.json();
    let (scroll, client, inner) = (v[0].as_f64().unwrap(), v[1].as_f64().unwrap(), v[2].as_f64().unwrap());
    // A phone zooms out to show a page wider than its screen: innerWidth then exceeds it too (on
    // a desktop it exceeds it by the vertical scrollbar's width, which is no problem).
    if scroll > client || (mobile && inner > client) {
        failures.push(format!(
            "{page} at {size}: document {scroll} px wide in a {client} px window (innerWidth {inner}): {}",
            v[3]
        ));
    }
    let buttons = b.driver.execute(CONTRAST_SCRIPT, vec![]).await.unwrap();
    for entry in buttons.json().as_array().unwrap() {
        let (owner, fg, bg) = (entry[0].as_str().unwrap(), entry[1].as_str().unwrap(), entry[2].as_str().unwrap());
        let ratio = contrast(parse_rgb(fg), parse_rgb(bg));
        if ratio < 4.5 {
            failures
                .push(format!("{page} at {size}: Check button in #{owner} has contrast {ratio:.2}:1 ({fg} on {bg})"));
        }
    }
}

/// Opens every page at the emulated `width`: checks that it fits ([`check_page`]), collects its
/// console's warnings and errors, and on a phone takes its screenshot.
async fn visit_every_page(
    b: &Browser,
    site: &Site,
    width: f64,
    phone: bool,
    failures: &mut Vec<String>,
    console: &mut Vec<String>,
) {
    let size = format!("{width} px");
    for (page, route) in PAGES {
        b.goto(&format!("{}/{route}", site.url)).await;
        wait_ready(b, page).await;
        let screen = b.driver.execute("return screen.width", vec![]).await.unwrap().json().as_f64().unwrap();
        assert_eq!(screen, width, "the emulated screen should be {size} wide");
        check_page(b, page, &size, phone, failures).await;
        for e in b.console().await {
            if e.level == "WARNING" || e.level == "SEVERE" {
                console.push(format!("{page} ({size}): {} {}", e.level, e.message));
            }
        }
        if phone {
            b.driver.execute("window.scrollTo(0, 0)", vec![]).await.unwrap();
            b.shot(&format!("60-phone-{page}.png")).await;
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs dist/ (trunk build --release) and chromedriver: run tests/run-all.sh"]
async fn every_page_fits_a_phone_and_a_desktop_in_chromium() {
    let site = Site::serve(&dist());
    let b = Browser::start().await;
    // Chromium keeps a window at least 500 px wide, so a phone is emulated as DevTools does it:
    // a 390 × 844 CSS-pixel viewport that honours the page's meta viewport, as an iPhone 12–15's.
    emulate(&b, 390, 844, true).await;
    let mut failures = Vec::new();
    let mut console = Vec::new();

    // A phone: every page, the Check buttons, the console after each load.
    visit_every_page(&b, &site, 390.0, true, &mut failures, &mut console).await;
    // Closer looks at the parts that used to spill: the bits, the charts, the tables.
    b.goto(&format!("{}/#/precision", site.url)).await;
    wait_ready(&b, "precision").await;
    b.shot_of("[data-format=fp64]", "61-phone-precision-fp64.png").await;
    b.shot_of("#accumulation-chart", "62-phone-precision-accumulation.png").await;
    b.shot_of("#ranges-table", "63-phone-precision-ranges.png").await;
    b.goto(&format!("{}/#/compute", site.url)).await;
    wait_ready(&b, "compute").await;
    b.shot_of("#flops-chart", "64-phone-compute-flops.png").await;
    b.shot_of("#time-result", "69-phone-compute-time.png").await;
    b.shot_of("#memory-result", "70-phone-compute-memory.png").await;
    b.goto(&format!("{}/#/tokenizers", site.url)).await;
    wait_ready(&b, "tokenizers").await;
    b.shot_of("[data-tokenizer=gpt2]", "65-phone-tokenizers-gpt2.png").await;

    // A desktop.
    emulate(&b, 1400, 1000, false).await;
    visit_every_page(&b, &site, 1400.0, false, &mut failures, &mut console).await;
    b.goto(&format!("{}/#/precision", site.url)).await;
    wait_ready(&b, "precision").await;
    // fp64's 64 bits sit in one row of the format's box, not in a scrolling strip.
    let bits_box = b.driver.find(By::Css("[data-format=fp64] .bits")).await.unwrap();
    let (w, scroll_w) = (
        bits_box.prop("clientWidth").await.unwrap().unwrap_or_default(),
        bits_box.prop("scrollWidth").await.unwrap().unwrap_or_default(),
    );
    if w != scroll_w {
        failures.push(format!("precision at 1400 px: the fp64 bits scroll ({scroll_w} px in {w} px)"));
    }
    b.shot_of("[data-format=fp64]", "66-desktop-precision-fp64.png").await;
    b.goto(&format!("{}/#/train", site.url)).await;
    wait_ready(&b, "train").await;
    b.shot("67-desktop-train.png").await;
    b.shot_of(".exercises", "71-desktop-train-exercises.png").await;
    b.goto(&format!("{}/#/tokenizers", site.url)).await;
    wait_ready(&b, "tokenizers").await;
    b.shot_of(".tokenizer-grid", "68-desktop-tokenizers-cards.png").await;

    b.quit().await;
    assert!(failures.is_empty(), "layout problems:\n{}", failures.join("\n"));
    assert!(console.is_empty(), "console warnings or errors:\n{}", console.join("\n"));
}
