//! Headless Chromium through chromedriver, with the flags this lab needs (WebGPU via SwiftShader).

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use thirtyfour::prelude::*;

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

/// A running chromedriver and one browser session; both end when dropped.
pub struct Browser {
    pub driver: WebDriver,
    chromedriver: Child,
    profile: PathBuf,
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
        let chromedriver = Command::new(&driver_bin)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
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
        let url = format!("http://127.0.0.1:{port}");
        let started = Instant::now();
        let driver = loop {
            match WebDriver::new(&url, caps.clone()).await {
                Ok(d) => break d,
                Err(e) if started.elapsed() < Duration::from_secs(30) => {
                    let _ = e;
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
                Err(e) => panic!("chromedriver on {url} did not start a session: {e}"),
            }
        };
        Browser { driver, chromedriver, profile }
    }

    /// Ends the session (call before drop: quitting is async).
    pub async fn quit(self) {
        let Browser { driver, mut chromedriver, profile } = self;
        let _ = driver.quit().await;
        let _ = chromedriver.kill();
        let _ = chromedriver.wait();
        let _ = std::fs::remove_dir_all(profile);
    }
}
