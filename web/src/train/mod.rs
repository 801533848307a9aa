//! The Train page's machinery outside the page itself: the worker type both bundles share, the
//! engine the worker bundle runs (feature `trainer`), the page's session with the worker (it
//! outlives the page, so training goes on while the student visits other labs) and the
//! browser's checkpoint store.

#[cfg(feature = "trainer")]
pub mod engine;
pub mod session;
pub mod store;
pub mod worker;
