//! Headless Chromium through chromedriver, with the flags this lab needs (WebGPU via SwiftShader),
//! and the ways a test uses a page: wait for a state the page shows, type, click, read attributes,
//! take screenshots, read downloads. The end-to-end tests and the browser benchmark share it.
//!
//! Every wait is on something the page sets — a text, an attribute such as the Train page's
//! `data-run` / `data-phase` — never on time alone. A test that fails still ends its browser: the
//! [`Browser`] kills chromedriver's whole process group when dropped.

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use thirtyfour::prelude::*;
use thirtyfour::{BrowserLogEntry, LoggingPrefsLogLevel};

/// The Chromium flags of every browser test. `--enable-unsafe-webgpu` exposes WebGPU through
/// SwiftShader on machines without a GPU; the networking flags keep Chromium from calling home.
pub const CHROMIUM_FLAGS: [&str; 10] = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu-sandbox",
    "--disable-dev-shm-usage",
    "--enable-unsafe-webgpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--window-size=1280,1600",
];

/// How long a plain wait for the page (a render, a computation in the main bundle) may take.
const RENDER: Duration = Duration::from_secs(15);

/// A running chromedriver and one browser session; both end when dropped, test failed or not.
pub struct Browser {
    pub driver: WebDriver,
    chromedriver: Child,
    profile: PathBuf,
    /// Elements whose presence means the page reported an error (waits fail at once on them).
    errors: Vec<String>,
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).map(|a| a.port()).expect("a free port")
}

impl Browser {
    /// Starts chromedriver (`$CHROMEDRIVER` or `chromedriver` on PATH) and a fresh Chromium profile.
    pub async fn start() -> Browser {
        Browser::start_with(&[], &[]).await
    }

    /// As [`Browser::start`] without the flags in `remove` and with those in `add` (e.g. to see a
    /// page in a browser without WebGPU).
    pub async fn start_with(remove: &[&str], add: &[&str]) -> Browser {
        let driver_bin = std::env::var("CHROMEDRIVER").unwrap_or_else(|_| "chromedriver".into());
        let port = free_port();
        let mut command = Command::new(&driver_bin);
        command.arg(format!("--port={port}")).stdout(Stdio::null()).stderr(Stdio::null());
        // Its own process group: dropping the Browser ends chromedriver and every Chromium process.
        #[cfg(unix)]
        std::os::unix::process::CommandExt::process_group(&mut command, 0);
        let chromedriver = command
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {driver_bin}: {e} (apt-get install chromium-driver)"));
        let profile = std::env::temp_dir().join(format!("lmlab-chromium-{}-{port}", std::process::id()));
        let _ = std::fs::remove_dir_all(&profile);
        let mut caps = DesiredCapabilities::chrome();
        if let Ok(bin) = std::env::var("CHROMIUM") {
            caps.set_binary(&bin).expect("chromium binary");
        } else if std::path::Path::new("/usr/bin/chromium").exists() {
            caps.set_binary("/usr/bin/chromium").expect("chromium binary");
        }
        for flag in CHROMIUM_FLAGS.iter().filter(|f| !remove.contains(f)).chain(add) {
            caps.add_arg(flag).expect("chromium flag");
        }
        caps.add_arg(&format!("--user-data-dir={}", profile.display())).expect("profile flag");
        // Keep the page's console (and failed loads) for [`Browser::console`]; without this
        // capability chromedriver's log endpoint is always empty.
        caps.set_browser_log_level(LoggingPrefsLogLevel::All).expect("browser log capability");
        let url = format!("http://127.0.0.1:{port}");
        let started = Instant::now();
        let driver = connect(&url, &caps, started).await;
        driver.set_script_timeout(Duration::from_secs(60)).await.expect("script timeout");
        Browser { driver, chromedriver, profile, errors: Vec::new() }
    }

    /// Fails every wait at once when one of `css` appears (the page's error boxes).
    pub fn fail_on(&mut self, css: &[&str]) {
        self.errors = css.iter().map(|s| s.to_string()).collect();
    }

    /// Ends the session cleanly (drop ends it too, by force).
    pub async fn quit(self) {
        let _ = self.driver.clone().quit().await;
    }

    pub async fn goto(&self, url: &str) {
        self.driver.goto(url).await.unwrap_or_else(|e| panic!("open {url}: {e}"));
    }

    /// Panics with the page's error if one of the error boxes is shown.
    async fn check_errors(&self, waiting_for: &str) {
        for css in &self.errors {
            if let Ok(e) = self.driver.find(By::Css(css)).await {
                let text = e.text().await.unwrap_or_default();
                panic!("the page reported an error ({css}) while waiting for {waiting_for}: {text}");
            }
        }
    }

    /// Polls until `css` exists, up to `secs`.
    pub async fn wait_for(&self, css: &str, secs: u64) -> WebElement {
        let start = Instant::now();
        loop {
            if let Ok(el) = self.driver.find(By::Css(css)).await {
                return el;
            }
            self.check_errors(css).await;
            assert!(start.elapsed() < Duration::from_secs(secs), "{css} did not appear within {secs} s");
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// Polls `css` until its text satisfies `ok` (Yew renders asynchronously), up to 15 s.
    pub async fn wait_text(&self, css: &str, ok: impl Fn(&str) -> bool) -> String {
        let start = Instant::now();
        let mut last = String::from("<absent>");
        while start.elapsed() < RENDER {
            if let Ok(el) = self.driver.find(By::Css(css)).await {
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

    /// Polls until `css`'s attribute `name` satisfies `ok`, up to `secs`; returns it.
    pub async fn wait_attr(&self, css: &str, name: &str, secs: u64, ok: impl Fn(&str) -> bool) -> String {
        let start = Instant::now();
        let mut last = String::from("<absent>");
        loop {
            if let Ok(el) = self.driver.find(By::Css(css)).await {
                if let Ok(Some(v)) = el.attr(name).await {
                    if ok(&v) {
                        return v;
                    }
                    last = v;
                }
            }
            self.check_errors(&format!("{css}[{name}]")).await;
            assert!(
                start.elapsed() < Duration::from_secs(secs),
                "{css}[{name}] never satisfied the check in {secs} s; last {last:?}"
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// An attribute of the first element matching `css` (it must exist).
    pub async fn attr(&self, css: &str, name: &str) -> String {
        let el = self.driver.query(By::Css(css)).first().await.unwrap_or_else(|e| panic!("{css}: {e}"));
        el.attr(name).await.unwrap().unwrap_or_else(|| panic!("{css} has no {name}"))
    }

    /// Whether `css` exists and is disabled.
    pub async fn disabled(&self, css: &str) -> bool {
        self.driver
            .find(By::Css(css))
            .await
            .unwrap_or_else(|e| panic!("{css}: {e}"))
            .attr("disabled")
            .await
            .unwrap()
            .is_some()
    }

    /// Replaces a text field's content by typing, as a person would.
    pub async fn type_into(&self, css: &str, text: &str) {
        let el = self.driver.query(By::Css(css)).first().await.unwrap_or_else(|e| panic!("{css}: {e}"));
        el.clear().await.unwrap();
        el.send_keys(text).await.unwrap();
    }

    pub async fn click(&self, css: &str) {
        let el = self.driver.query(By::Css(css)).first().await.unwrap_or_else(|e| panic!("{css}: {e}"));
        el.scroll_into_view().await.unwrap();
        el.click().await.unwrap_or_else(|e| panic!("click {css}: {e}"));
    }

    /// Picks `value` in the `<select>` `css`.
    pub async fn select(&self, css: &str, value: &str) {
        self.click(&format!("{css} option[value='{value}']")).await;
    }

    /// Gives a file to an `<input type=file>`.
    pub async fn upload(&self, css: &str, path: &std::path::Path) {
        let el = self.driver.find(By::Css(css)).await.unwrap_or_else(|e| panic!("{css}: {e}"));
        el.send_keys(path.to_str().expect("a UTF-8 path")).await.unwrap();
    }

    /// The texts of every element matching `css`.
    pub async fn texts(&self, css: &str) -> Vec<String> {
        let mut out = Vec::new();
        for el in self.driver.find_all(By::Css(css)).await.unwrap() {
            out.push(el.text().await.unwrap_or_default());
        }
        out
    }

    /// The number of elements matching `css`.
    pub async fn count(&self, css: &str) -> usize {
        self.driver.find_all(By::Css(css)).await.unwrap().len()
    }

    /// The browser console's entries since the last call (chromedriver hands each entry out once):
    /// `console.*` calls, uncaught errors and failed network loads, each with its level
    /// (`INFO`, `WARNING`, `SEVERE`, …).
    pub async fn console(&self) -> Vec<BrowserLogEntry> {
        self.driver.browser_log().await.expect("the browser log (goog:loggingPrefs)")
    }

    /// A screenshot of the window, to `tests/screenshots/<name>`.
    pub async fn shot(&self, name: &str) {
        tokio::time::sleep(Duration::from_millis(300)).await;
        self.driver.screenshot(&crate::screenshot_dir().join(name)).await.unwrap();
    }

    /// A screenshot of one element.
    pub async fn shot_of(&self, css: &str, name: &str) {
        let el = self.driver.find(By::Css(css)).await.unwrap();
        el.scroll_into_view().await.unwrap();
        tokio::time::sleep(Duration::from_millis(300)).await;
        el.screenshot(&crate::screenshot_dir().join(name)).await.unwrap();
    }

    /// The file behind a download link (a `blob:` URL), as bytes.
    pub async fn download_bytes(&self, css: &str) -> Vec<u8> {
        let script = format!(
            "const done = arguments[arguments.length - 1];
             fetch(document.querySelector('{css}').href).then(r => r.arrayBuffer()).then(b => {{
               const u = new Uint8Array(b); let s = '';
               for (let i = 0; i < u.length; i += 8192) s += String.fromCharCode.apply(null, u.subarray(i, i + 8192));
               done(btoa(s));
             }}, e => done('ERROR ' + e));"
        );
        let ret = self.driver.execute_async(&script, vec![]).await.unwrap();
        let b64 = ret.json().as_str().unwrap_or_default().to_string();
        assert!(!b64.starts_with("ERROR"), "{css}: {b64}");
        use base64::Engine;
        base64::engine::general_purpose::STANDARD.decode(b64).unwrap()
    }

    /// The text of a download link's file.
    pub async fn download_text(&self, css: &str) -> String {
        String::from_utf8(self.download_bytes(css).await).expect("a UTF-8 download")
    }
}

/// A session on chromedriver at `url`, retried while it starts (up to 30 s).
async fn connect(url: &str, caps: &thirtyfour::ChromeCapabilities, started: Instant) -> WebDriver {
    loop {
        match WebDriver::new(url, caps.clone()).await {
            Ok(d) => return d,
            Err(_) if started.elapsed() < Duration::from_secs(30) => {
                tokio::time::sleep(Duration::from_millis(200)).await
            }
            Err(e) => panic!("chromedriver on {url} did not start a session: {e}"),
        }
    }
}

impl Drop for Browser {
    /// Ends chromedriver and the browsers it started (its process group), even after a panic.
    fn drop(&mut self) {
        #[cfg(unix)]
        {
            let group = format!("-{}", self.chromedriver.id());
            let _ = Command::new("kill").args(["-TERM", "--", &group]).stderr(Stdio::null()).status();
            std::thread::sleep(Duration::from_millis(200));
            let _ = Command::new("kill").args(["-KILL", "--", &group]).stderr(Stdio::null()).status();
        }
        let _ = self.chromedriver.kill();
        let _ = self.chromedriver.wait();
        let _ = std::fs::remove_dir_all(&self.profile);
    }
}
