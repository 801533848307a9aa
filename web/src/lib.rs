//! # The lmlab web app
//!
//! Yew pages that are thin views over the `lmlab` crate: a page keeps UI state (what is typed,
//! which tab is open), calls `lmlab` for every number it shows, and writes its state into the URL
//! so that a link reproduces the view. The main bundle never links burn: the labs that need no
//! deep learning load fast; training runs in a separate worker bundle (`src/bin/train_worker.rs`,
//! feature `trainer`) that the Train page fetches when it opens.

pub mod app;
pub mod assets;
pub mod components;
pub mod pages;
pub mod route;
pub mod train;
pub mod webgpu;

/// Mounts the app on `<body>`.
pub fn start() {
    yew::Renderer::<app::App>::new().render();
}
