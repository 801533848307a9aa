// Starts the Train page's worker bundle (web/src/bin/train_worker.rs, built by trunk as a
// no-modules worker). Written here rather than trunk's generated shim, which calls wasm-bindgen's
// init with a bare path — a form wasm-bindgen now warns about in the console on every load.
importScripts("./train_worker.js");
wasm_bindgen({ module_or_path: "./train_worker_bg.wasm" });
