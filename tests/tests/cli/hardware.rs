//! `lmlab bench hardware` end to end on this machine's wgpu adapter (Mesa's lavapipe without a GPU):
//! every kernel's result checked against the CPU reference on sizes that are not tile multiples,
//! the JSON report's arithmetic, and bad input named.

use lmlab::hardware::MatmulShape;
use lmlab_acceptance::run_lmlab as run;
use serde_json::Value;

fn bench_json(args: &[&str]) -> Value {
    let mut all = vec!["bench", "hardware", "--json"];
    all.extend(args);
    let r = run(&all);
    assert_eq!(r.code, 0, "lmlab {all:?} failed: {}", r.stderr);
    serde_json::from_str(&r.stdout).unwrap_or_else(|e| panic!("not JSON ({e}): {}", r.stdout))
}

#[test]
fn every_kernel_is_correct_on_odd_sizes_and_the_figures_add_up() {
    let v = bench_json(&["--sizes", "33,100", "--copy-mib", "3"]);
    assert_eq!(v["all_correct"], true, "{v:#}");
    let rows = v["rows"].as_array().unwrap();
    let f16 = v["adapter"]["shader_f16"].as_bool().unwrap();
    let kernels: Vec<&str> = rows.iter().map(|r| r["kernel"].as_str().unwrap()).collect();
    let mut expected = vec!["copy"];
    for _ in [33, 100] {
        expected.extend(["naive", "coalesced", "tiled", "register"]);
        if f16 {
            expected.push("f16");
        }
    }
    assert_eq!(kernels, expected);
    if !f16 {
        assert!(v["skipped"][0]["reason"].as_str().unwrap().contains("shader-f16"));
    }
    for row in rows {
        assert_eq!(row["ok"], true, "{row}");
        let seconds = row["seconds"].as_f64().unwrap();
        assert!(seconds > 0.0);
        if row["kernel"] == "copy" {
            // 3 MiB read + 3 MiB written.
            let gbps = row["gbps"].as_f64().unwrap();
            assert!((gbps * seconds * 1e9 / (6.0 * 1048576.0) - 1.0).abs() < 1e-9, "{row}");
            assert_eq!(row["entries_checked"], 3 * 1048576 / 4);
            continue;
        }
        let n: u32 = row["size"].as_str().unwrap().parse().unwrap();
        assert_eq!(row["entries_checked"].as_u64().unwrap(), (n * n) as u64, "every entry checked at {n}");
        let gflops = row["gflops"].as_f64().unwrap();
        assert!((gflops * 1e9 * seconds / (2.0 * (n as f64).powi(3)) - 1.0).abs() < 1e-9, "{row}");
        let bytes = if row["kernel"] == "f16" { 2 } else { 4 };
        let intensity = row["intensity"].as_f64().unwrap();
        assert!((intensity - MatmulShape::square(n).intensity(bytes)).abs() < 1e-9);
    }
    let speedups = &v["speedups"][1]["over_naive"];
    assert_eq!(speedups["naive"], 1.0);
    assert!(speedups["register"].as_f64().unwrap() > 0.0);
}

#[test]
fn a_named_catalog_gpu_gives_fractions_of_its_peak() {
    let v = bench_json(&["--sizes", "64", "--kernels", "copy,tiled", "--copy-mib", "1", "--gpu", "h100"]);
    assert_eq!(v["peak"]["name"], "h100");
    for row in v["rows"].as_array().unwrap() {
        let fraction = row["fraction_of_peak"].as_f64().unwrap();
        let expected = if row["kernel"] == "copy" {
            row["gbps"].as_f64().unwrap() * 1e9 / 3.35e12
        } else {
            row["gflops"].as_f64().unwrap() * 1e9 / 67e12
        };
        assert!((fraction / expected - 1.0).abs() < 1e-9, "{row}");
    }
}

#[test]
fn the_text_report_says_what_the_adapter_is() {
    let r = run(&["bench", "hardware", "--sizes", "48", "--kernels", "naive,register", "--copy-mib", "1"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.stdout.contains("adapter: "), "{}", r.stdout);
    assert!(r.stdout.contains("register") && r.stdout.contains("ok (2304 entries)"), "{}", r.stdout);
    assert!(r.stdout.contains("the register-blocked kernel is"), "{}", r.stdout);
    if r.stdout.contains("llvmpipe") {
        assert!(r.stdout.contains("CPU emulation"), "{}", r.stdout);
    }
}

#[test]
fn bad_requests_name_the_value_or_the_limit() {
    for (args, needle) in [
        (vec!["--sizes", "0"], "0"),
        (vec!["--sizes", "12,abc"], "abc"),
        (vec!["--sizes", "100000"], "100000"),
        (vec!["--kernels", "fastest"], "fastest"),
        (vec!["--copy-mib", "-3"], "-3"),
        (vec!["--adapter", "no-such-gpu-xyz"], "no-such-gpu-xyz"),
        (vec!["--gpu", "tpu9"], "tpu9"),
        // Above every adapter's storage-binding limit: refused before anything runs, limit named.
        (vec!["--sizes", "60000", "--kernels", "tiled"], "maxStorageBufferBindingSize"),
        (vec!["--copy-mib", "100000", "--kernels", "copy"], "maxStorageBufferBindingSize"),
    ] {
        let mut all = vec!["bench", "hardware"];
        all.extend(args.iter().copied());
        let r = run(&all);
        assert_eq!(r.code, 2, "{all:?} should fail: {}", r.stdout);
        assert!(r.stderr.contains(needle), "{all:?}: {}", r.stderr);
        assert_eq!(r.stderr.lines().count(), 1, "{all:?}: one line, got {}", r.stderr);
    }
}
