//! # The lmlab web app
//!
//! Yew pages that are thin views over the `lmlab` crate: a page keeps UI state (what is typed,
//! which tab is open), calls `lmlab` for every number it shows, and writes its state into the URL
//! so that a link reproduces the view. This crate never links burn: the labs that need no deep
//! learning load fast, and training will live in a separate worker bundle.

pub mod app;
pub mod components;
pub mod pages;
pub mod route;

/// Mounts the app on `<body>`.
pub fn start() {
    yew::Renderer::<app::App>::new().render();
}
