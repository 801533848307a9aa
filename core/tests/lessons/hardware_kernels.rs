//! Every Hardware-lab kernel against the CPU reference on sizes that are not multiples of the tiles,
//! natively (wgpu on Vulkan: Mesa's lavapipe on a machine without a GPU) and in headless Chromium
//! (WebGPU on SwiftShader). The same test body runs in both.
#![cfg(feature = "hardware")]

use lmlab::hardware::gpu::Gpu;
use lmlab::hardware::reference::MatmulShape;
use lmlab::hardware::suite::{measure_copy, measure_matmul, run_suite, Progress, SuiteConfig};
use lmlab::hardware::{HardwareError, Kernel};

/// Odd shapes: smaller than one tile, straddling 16- and 64-wide tiles, K not a multiple of 4 or 16.
const SHAPES: [MatmulShape; 4] = [
    MatmulShape { m: 1, n: 1, k: 1 },
    MatmulShape { m: 37, n: 53, k: 29 },
    MatmulShape { m: 65, n: 130, k: 67 },
    MatmulShape { m: 129, n: 67, k: 100 },
];

fn quick() -> SuiteConfig {
    SuiteConfig { min_seconds: 0.0, max_repetitions: 2, ..SuiteConfig::default() }
}

async fn kernels_match_the_reference() {
    let gpu = Gpu::open(None).await.expect("a GPU adapter (natively: apt-get install mesa-vulkan-drivers)");
    let config = quick();
    for kernel in Kernel::MATMULS {
        if kernel.needs_f16() && !gpu.summary.shader_f16 {
            continue;
        }
        for shape in SHAPES {
            let m = measure_matmul(&gpu, kernel, shape, &config).await.unwrap();
            assert!(
                m.check.ok,
                "{} on {}×{}×{} ({}): {:?}",
                kernel.key(),
                shape.m,
                shape.n,
                shape.k,
                gpu.summary.name,
                m.check
            );
            assert_eq!(m.check.entries, (shape.m * shape.n) as usize);
            assert!(m.seconds > 0.0 && m.seconds.is_finite());
        }
    }
    // 1,001 vec4s: not a multiple of the 256-wide workgroup.
    let copy = measure_copy(&gpu, 1001, &config).await.unwrap();
    assert!(copy.check.ok && copy.check.entries == 4004, "{:?}", copy.check);
    assert_eq!(copy.bytes, 2.0 * 1001.0 * 16.0);
}

async fn the_suite_reports_every_kernel_and_refuses_what_the_adapter_cannot_hold() {
    let gpu = Gpu::open(None).await.unwrap();
    let mut events = vec![];
    let config = SuiteConfig { sizes: vec![70], copy_bytes: 1 << 16, ..quick() };
    let report = run_suite(&gpu, &config, &mut |p| events.push(p)).await.unwrap();
    let ran: Vec<Kernel> = report.measurements.iter().map(|m| m.kernel).collect();
    let expected: Vec<Kernel> = Kernel::ALL.into_iter().filter(|k| !k.needs_f16() || gpu.summary.shader_f16).collect();
    assert_eq!(ran, expected);
    assert!(report.all_correct());
    if !gpu.summary.shader_f16 {
        assert!(report.skipped.iter().any(|s| s.kernel == Kernel::F16 && s.reason.contains("shader-f16")));
    }
    let started = events.iter().filter(|e| matches!(e, Progress::Started { .. })).count();
    assert_eq!(started, expected.len());
    assert_eq!(report.speedups(70).first().map(|s| s.0), Some(Kernel::Naive));

    // A matrix larger than the adapter's biggest storage binding is refused, naming the limit.
    let limit = gpu.summary.limits.max_storage_buffer_binding_size.min(gpu.summary.limits.max_buffer_size);
    let too_big = ((limit / 4) as f64).sqrt() as u32 + 8;
    let config = SuiteConfig { sizes: vec![too_big], kernels: vec![Kernel::Tiled], ..quick() };
    match run_suite(&gpu, &config, &mut |_| {}).await {
        Err(HardwareError::Limit(why)) => assert!(why.contains("maxStorageBufferBindingSize"), "{why}"),
        other => panic!("size {too_big} should exceed the limit: {other:?}"),
    }
    let config = SuiteConfig { sizes: vec![0], kernels: vec![Kernel::Tiled], ..quick() };
    assert!(matches!(run_suite(&gpu, &config, &mut |_| {}).await, Err(HardwareError::Input(_))));
}

/// A device lost mid-run (here: destroyed) is reported as such, without hanging.
async fn a_lost_device_is_reported_not_waited_on() {
    let gpu = Gpu::open(None).await.unwrap();
    let config = quick();
    measure_matmul(&gpu, Kernel::Tiled, MatmulShape { m: 20, n: 20, k: 20 }, &config).await.unwrap();
    gpu.destroy();
    match measure_matmul(&gpu, Kernel::Tiled, MatmulShape { m: 20, n: 20, k: 20 }, &config).await {
        Err(HardwareError::DeviceLost(why)) => assert!(why.to_lowercase().contains("destroy"), "{why}"),
        other => panic!("expected a lost device, got {other:?}"),
    }
}

#[cfg(not(target_arch = "wasm32"))]
#[test]
fn lost_device_natively() {
    pollster::block_on(a_lost_device_is_reported_not_waited_on());
}

#[cfg(target_arch = "wasm32")]
#[wasm_bindgen_test::wasm_bindgen_test]
async fn lost_device_in_the_browser() {
    a_lost_device_is_reported_not_waited_on().await;
}

#[cfg(not(target_arch = "wasm32"))]
#[test]
fn kernels_match_the_reference_natively() {
    pollster::block_on(kernels_match_the_reference());
}

#[cfg(not(target_arch = "wasm32"))]
#[test]
fn suite_natively() {
    pollster::block_on(the_suite_reports_every_kernel_and_refuses_what_the_adapter_cannot_hold());
}

#[cfg(target_arch = "wasm32")]
#[wasm_bindgen_test::wasm_bindgen_test]
async fn kernels_match_the_reference_in_the_browser() {
    kernels_match_the_reference().await;
}

#[cfg(target_arch = "wasm32")]
#[wasm_bindgen_test::wasm_bindgen_test]
async fn suite_in_the_browser() {
    the_suite_reports_every_kernel_and_refuses_what_the_adapter_cannot_hold().await;
}
