//! The browser entry point: trunk builds this binary into the app's main wasm bundle.

fn main() {
    web::start();
}
