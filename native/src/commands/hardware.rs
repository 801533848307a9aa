//! `lmlab bench hardware`: the Hardware lab's WGSL kernels on this machine's GPU through wgpu.

use lmlab::accounting::{find_gpu, match_device_name};
use lmlab::hardware::report::Row;
use lmlab::hardware::suite::{run_suite, Progress, SuiteConfig};
use lmlab::hardware::{gpu::Gpu, parse_sizes, Kernel, Peak};
use lmlab::units::parse_whole;

use crate::cli::BenchHardwareArgs;
use crate::report::{print_json, print_table};
use crate::CliResult;

pub fn bench(args: &BenchHardwareArgs) -> CliResult {
    let sizes = parse_sizes(&args.sizes)?;
    let kernels = match &args.kernels {
        Some(list) => list.split(',').map(Kernel::parse).collect::<Result<Vec<_>, _>>()?,
        None => Kernel::ALL.to_vec(),
    };
    let copy_mib = parse_whole("--copy-mib", &args.copy_mib)?;
    let chosen_peak = args.gpu.as_deref().map(find_gpu).transpose()?;
    let config = SuiteConfig { sizes, kernels, copy_bytes: copy_mib << 20, ..SuiteConfig::default() };
    // wgpu's Vulkan loader complains (harmlessly) when this is unset on a headless machine.
    if std::env::var_os("XDG_RUNTIME_DIR").is_none() {
        std::env::set_var("XDG_RUNTIME_DIR", std::env::temp_dir());
    }
    let gpu = pollster::block_on(Gpu::open(args.adapter.as_deref()))?;
    let json = args.json;
    if !json {
        let a = &gpu.summary;
        println!(
            "adapter: {} ({}, {}{})",
            a.name,
            a.backend,
            a.device_type,
            if a.software { ", a CPU emulation" } else { "" }
        );
        println!(
            "limits: max storage binding {} MiB, {} workgroups per dimension; shader-f16 {}; timing: {}",
            a.limits.max_storage_buffer_binding_size >> 20,
            a.limits.max_compute_workgroups_per_dimension,
            if a.shader_f16 { "yes" } else { "no" },
            gpu.timing().describe()
        );
    }
    let mut progress = |p: Progress| {
        if json {
            return;
        }
        match p {
            Progress::Started { index, total, kernel, label } => {
                eprintln!("[{}/{}] {} {}", index + 1, total, kernel.key(), label)
            }
            Progress::Measured(m) if !m.check.ok => {
                eprintln!("  WRONG result: {:?}", m.check.first_bad)
            }
            _ => {}
        }
    };
    let mut report = pollster::block_on(run_suite(&gpu, &config, &mut progress))?;
    report.peak = chosen_peak.or_else(|| match_device_name(&gpu.summary.name)).map(|g| Peak::from_gpu(&g));
    if json {
        print_json(&serde_json::json!({
            "adapter": report.adapter,
            "timing": report.timing,
            "peak": report.peak,
            "rows": report.rows(),
            "skipped": report.skipped,
            "measured_bandwidth_gbps": report.measured_bandwidth().map(|b| b / 1e9),
            "measured_gflops": report.measured_flops().map(|f| f / 1e9),
            "speedups": report.sizes().iter().map(|&n| serde_json::json!({
                "size": n,
                "over_naive": report.speedups(n).iter().map(|(k, x)| (k.key(), *x)).collect::<std::collections::BTreeMap<_, _>>(),
            })).collect::<Vec<_>>(),
            "all_correct": report.all_correct(),
        }));
    } else {
        let rows: Vec<Vec<String>> = report.rows().iter().map(Row::cells).collect();
        println!();
        print_table(&Row::HEADER, &rows);
        println!();
        for line in report.headline() {
            println!("{line}");
        }
    }
    if report.all_correct() {
        Ok(())
    } else {
        Err("a kernel's result did not match the CPU reference".into())
    }
}
