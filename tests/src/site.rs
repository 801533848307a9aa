//! Serves a built site (trunk's `dist/`) on 127.0.0.1 for the browser tests.

use std::path::{Component, Path, PathBuf};
use std::sync::Arc;
use std::thread::JoinHandle;

use tiny_http::{Header, Response, Server};

/// A static file server on a free loopback port; stops when dropped.
pub struct Site {
    server: Arc<Server>,
    thread: Option<JoinHandle<()>>,
    pub url: String,
}

fn content_type(path: &Path) -> &'static str {
    match path.extension().and_then(|e| e.to_str()) {
        Some("html") => "text/html; charset=utf-8",
        Some("js") => "text/javascript",
        // The browser streams-compiles wasm only with this type.
        Some("wasm") => "application/wasm",
        Some("css") => "text/css",
        Some("json") => "application/json",
        Some("png") => "image/png",
        Some("svg") => "image/svg+xml",
        _ => "application/octet-stream",
    }
}

impl Site {
    /// Serves `root` (which must contain `index.html`).
    pub fn serve(root: &Path) -> Site {
        assert!(
            root.join("index.html").exists(),
            "{} has no index.html: build the site first (trunk build --release)",
            root.display()
        );
        let server = Arc::new(Server::http("127.0.0.1:0").expect("bind 127.0.0.1"));
        let url = format!("http://{}", server.server_addr().to_ip().expect("an IP address"));
        let root: PathBuf = root.to_path_buf();
        let worker = Arc::clone(&server);
        let thread = std::thread::spawn(move || {
            for request in worker.incoming_requests() {
                let path = request.url().split(['?', '#']).next().unwrap_or("/").trim_start_matches('/').to_string();
                let safe = Path::new(&path).components().all(|c| matches!(c, Component::Normal(_)));
                let file = if path.is_empty() { root.join("index.html") } else { root.join(&path) };
                let response = match std::fs::read(&file) {
                    Ok(bytes) if safe || path.is_empty() => {
                        let header = Header::from_bytes("Content-Type", content_type(&file)).expect("header");
                        Response::from_data(bytes).with_header(header)
                    }
                    _ => Response::from_string("not found").with_status_code(404),
                };
                let _ = request.respond(response);
            }
        });
        Site { server, thread: Some(thread), url }
    }
}

impl Drop for Site {
    fn drop(&mut self) {
        self.server.unblock();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}
