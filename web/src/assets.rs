//! Files the site serves beside the app (trunk copies them to `dist/assets/`), fetched only by
//! the pages that need them.

use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;

/// The bundled training corpus (public domain; see data/README.md).
pub const SHAKESPEARE: &str = "assets/tinyshakespeare.txt";
/// Its name in messages and checkpoints (the CLI's main job uses the same one).
pub const SHAKESPEARE_NAME: &str = "tinyshakespeare.txt (bundled)";

/// A text file of the site.
pub async fn fetch_text(url: &str) -> Result<String, String> {
    let window = web_sys::window().ok_or("no window")?;
    let response = JsFuture::from(window.fetch_with_str(url)).await.map_err(|e| format!("{url}: {e:?}"))?;
    let response: web_sys::Response = response.dyn_into().map_err(|_| format!("{url}: not a response"))?;
    if !response.ok() {
        return Err(format!("{url}: HTTP {}", response.status()));
    }
    let text =
        JsFuture::from(response.text().map_err(|e| format!("{e:?}"))?).await.map_err(|e| format!("{url}: {e:?}"))?;
    text.as_string().ok_or_else(|| format!("{url}: not text"))
}
