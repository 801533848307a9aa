//! Whether this page has WebGPU at all, and what to tell a student whose browser lacks it (shared
//! by the Hardware and Train pages).

use yew::prelude::*;

/// `navigator.gpu` exists (the browser exposes WebGPU; an adapter may still be refused).
pub fn has_webgpu() -> bool {
    web_sys::window().map(|w| js_sys::Reflect::has(&w.navigator(), &"gpu".into()).unwrap_or(false)).unwrap_or(false)
}

/// Why there is no `navigator.gpu`, in one sentence (the Train page's worker reports it too).
pub const MISSING: &str = "this browser does not expose WebGPU (navigator.gpu is missing)";

/// Where to get WebGPU, as list items.
pub fn how_to_get_it() -> Html {
    html! {
        <>
            <li>{"Use Chrome or Edge 113+ (Windows, macOS, ChromeOS, Android), Safari 26+, or Firefox 141+ on Windows."}</li>
            <li>{"On Linux, Chrome needs chrome://flags/#enable-unsafe-webgpu (and Vulkan); a page served over plain http from another host is not a secure context either — use https or localhost."}</li>
        </>
    }
}
