//! The lessons checked against independent references, in one test binary — natively, and in
//! headless Chromium for the wasm build (`cargo test -p lmlab --target wasm32-unknown-unknown`):
//! one link and one browser start instead of one per file.
//!
//! * [`precision_vectors`] — bit-exact floats against numpy / ml_dtypes;
//! * [`tokenizer_cs336`] — GPT-2 ids against tiktoken, BPE training against CS336's merges;
//! * [`model_cs336`], [`model_reference`] — model components and the whole LM against CS336's
//!   vectors and a numpy reference, checkpoints, KV cache, resume (feature `cpu`);
//! * [`mixed_precision`] — bf16 mixed precision against numpy + ml_dtypes, and training in it;
//! * [`moe_router`] — the mixture-of-experts layer against numpy, natively and on WebGPU;
//! * [`hardware_kernels`] — the WGSL kernels against a CPU reference (feature `hardware`);
//! * [`train_webgpu`] — training steps on WebGPU in the browser (wasm only).

#[cfg(target_arch = "wasm32")]
wasm_bindgen_test::wasm_bindgen_test_configure!(run_in_browser);

mod flash_attention;
mod hardware_kernels;
mod mixed_precision;
mod model_cs336;
mod model_reference;
mod moe_router;
mod precision_vectors;
mod tokenizer_cs336;
mod train_webgpu;
