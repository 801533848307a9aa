//! The URL is the state: `#/compute?model=gpt2-xl&gpus=8` opens the Compute lab with those inputs.
//!
//! Routing uses the fragment so the static site works from any path (no server rewrites). Pages
//! update the query with `history.replaceState` as the student types, so the back button is not
//! flooded; the app re-reads the fragment when the user navigates (`hashchange`).

/// The pages of the app.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Page {
    Home,
    Tokenizers,
    Precision,
    Compute,
    Train,
    Hardware,
    Scaling,
}

impl Page {
    /// Every page, in navigation order.
    pub const ALL: [Page; 7] =
        [Page::Home, Page::Tokenizers, Page::Precision, Page::Compute, Page::Train, Page::Hardware, Page::Scaling];

    pub fn slug(self) -> &'static str {
        match self {
            Page::Home => "",
            Page::Tokenizers => "tokenizers",
            Page::Precision => "precision",
            Page::Compute => "compute",
            Page::Train => "train",
            Page::Hardware => "hardware",
            Page::Scaling => "scaling",
        }
    }

    pub fn title(self) -> &'static str {
        match self {
            Page::Home => "lmlab",
            Page::Tokenizers => "Tokenizers",
            Page::Precision => "Precision",
            Page::Compute => "Compute",
            Page::Train => "Train",
            Page::Hardware => "Hardware",
            Page::Scaling => "Scaling",
        }
    }

    fn from_slug(slug: &str) -> Page {
        Page::ALL.into_iter().find(|p| p.slug() == slug).unwrap_or(Page::Home)
    }
}

/// A parsed fragment: the page and its query parameters in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Route {
    pub page: Page,
    pub params: Vec<(String, String)>,
}

impl Route {
    /// Parses `#/compute?model=gpt2-xl&gpus=8` (the leading `#` and `/` are optional).
    pub fn parse(fragment: &str) -> Route {
        let f = fragment.trim_start_matches('#').trim_start_matches('/');
        let (path, query) = f.split_once('?').unwrap_or((f, ""));
        let params = query
            .split('&')
            .filter(|kv| !kv.is_empty())
            .map(|kv| {
                let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
                (decode_component(k), decode_component(v))
            })
            .collect();
        Route { page: Page::from_slug(path.trim_end_matches('/')), params }
    }

    /// The fragment for this route, `#/page?k=v&…`.
    pub fn to_fragment(&self) -> String {
        let mut s = format!("#/{}", self.page.slug());
        if !self.params.is_empty() {
            let query: Vec<String> =
                self.params.iter().map(|(k, v)| format!("{}={}", encode_component(k), encode_component(v))).collect();
            s.push('?');
            s.push_str(&query.join("&"));
        }
        s
    }

    /// The value of a query parameter.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.params.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
    }
}

fn encode_component(s: &str) -> String {
    String::from(js_sys::encode_uri_component(s))
}

fn decode_component(s: &str) -> String {
    js_sys::decode_uri_component(&s.replace('+', " ")).map(String::from).unwrap_or_else(|_| s.to_string())
}

/// The route of the current page.
pub fn current() -> Route {
    let hash = web_sys::window().and_then(|w| w.location().hash().ok()).unwrap_or_default();
    Route::parse(&hash)
}

/// Writes `params` into the URL of `page` without adding a history entry.
pub fn replace_params(page: Page, params: Vec<(String, String)>) {
    let route = Route { page, params };
    if let Some(window) = web_sys::window() {
        if let Ok(history) = window.history() {
            let _ = history.replace_state_with_url(&wasm_bindgen::JsValue::NULL, "", Some(&route.to_fragment()));
        }
    }
}

/// The fragment that opens `page` with no parameters (for links).
pub fn href(page: Page) -> String {
    format!("#/{}", page.slug())
}
