//! The Hardware lab: the WGSL kernels of `shaders/` run on the student's GPU through WebGPU,
//! checked against the CPU reference, on a roofline and a step chart. All measuring is
//! `lmlab::hardware` (the same code as `lmlab bench hardware`); this page only draws. Below them,
//! the attention lesson ([`super::hardware_attention`]) measures naive vs fused attention.

use lmlab::accounting::{gpu_catalog, match_device_name};
use lmlab::hardware::gpu::Gpu;
use lmlab::hardware::report::short as format_number;
use lmlab::hardware::report::Row;
use lmlab::hardware::suite::{run_suite, Progress, SuiteConfig};
use lmlab::hardware::{exercises, parse_sizes, HardwareError, Kernel, Peak, Report};
use yew::prelude::*;

use crate::components::charts::{Bar, BarChart};
use crate::components::exercises::Exercises;
use crate::components::field::{SelectField, TextField};
use crate::components::roofline::{Point, Roof, Roofline};
use crate::route::{self, Page, Route};
use crate::webgpu::{has_webgpu, how_to_get_it};

#[derive(Properties, PartialEq)]
pub struct HardwareProps {
    pub route: Route,
}

/// Sizes the page starts with: quick on a laptop GPU, a minute or two on a CPU emulation.
const DEFAULT_SIZES: &str = "256,512,1024";
/// Copied bytes for the bandwidth kernel.
const COPY_BYTES: u64 = 64 << 20;
/// The GPU menu's "compare with nothing" choice.
const AUTO: &str = "auto";

/// Keeps the URL equal to the form, so a link reproduces the run's settings.
fn sync_url(sizes: &str, gpu: &str) {
    route::replace_params(Page::Hardware, vec![("sizes".into(), sizes.into()), ("gpu".into(), gpu.into())]);
}

/// What the run is doing.
#[derive(Clone, PartialEq)]
enum Status {
    Idle,
    Running { index: usize, total: usize, label: String },
    Done,
    Failed(String),
}

#[function_component(HardwareLab)]
pub fn hardware_lab(props: &HardwareProps) -> Html {
    let sizes = use_state(|| props.route.get("sizes").unwrap_or(DEFAULT_SIZES).to_string());
    let gpu_choice = use_state(|| props.route.get("gpu").unwrap_or(AUTO).to_string());
    let status = use_state(|| Status::Idle);
    let report = use_state(|| None::<Report>);
    let partial = use_mut_ref(Vec::new);
    let webgpu = has_webgpu();

    let on_sizes = {
        let (sizes, gpu_choice) = (sizes.clone(), gpu_choice.clone());
        Callback::from(move |v: String| {
            sync_url(&v, &gpu_choice);
            sizes.set(v);
        })
    };
    let on_gpu = {
        let (sizes, gpu_choice) = (sizes.clone(), gpu_choice.clone());
        Callback::from(move |v: String| {
            sync_url(&sizes, &v);
            gpu_choice.set(v);
        })
    };
    let parsed = parse_sizes(&sizes);
    let running = matches!(*status, Status::Running { .. });
    let on_run = {
        let (status, report, partial) = (status.clone(), report.clone(), partial.clone());
        let parsed = parsed.clone();
        Callback::from(move |_: MouseEvent| {
            let Ok(sizes) = parsed.clone() else { return };
            let (status, report, partial) = (status.clone(), report.clone(), partial.clone());
            partial.borrow_mut().clear();
            report.set(None);
            status.set(Status::Running { index: 0, total: 1, label: "opening the GPU".into() });
            wasm_bindgen_futures::spawn_local(async move {
                let outcome = async {
                    let gpu = Gpu::open(None).await?;
                    let config = SuiteConfig { sizes, copy_bytes: COPY_BYTES, ..SuiteConfig::default() };
                    let summary = gpu.summary.clone();
                    let timing = gpu.timing();
                    let mut on_progress = |p: Progress| match p {
                        Progress::Started { index, total, kernel, label } => {
                            status.set(Status::Running { index, total, label: format!("{} {label}", kernel.title()) })
                        }
                        Progress::Measured(m) => {
                            partial.borrow_mut().push(m);
                            // Show each result as it lands: the table fills in during the run.
                            let measurements = partial.borrow().clone();
                            report.set(Some(Report {
                                adapter: summary.clone(),
                                timing,
                                measurements,
                                skipped: vec![],
                                peak: None,
                            }));
                        }
                        Progress::Skipped(_) => {}
                    };
                    run_suite(&gpu, &config, &mut on_progress).await
                }
                .await;
                match outcome {
                    Ok(r) => {
                        report.set(Some(r));
                        status.set(Status::Done);
                    }
                    Err(e) => status.set(Status::Failed(explain(&e))),
                }
            });
        })
    };

    // The compared GPU: the menu's choice, else the adapter's name if the catalog knows it.
    let shown = (*report).clone().map(|mut r| {
        r.peak = match gpu_choice.as_str() {
            AUTO => match_device_name(&r.adapter.name),
            name => gpu_catalog().into_iter().find(|g| g.name == name),
        }
        .map(|g| Peak::from_gpu(&g));
        r
    });
    let mut gpu_options = vec![(AUTO.to_string(), "auto (match the adapter's name)".to_string())];
    gpu_options.extend(gpu_catalog().into_iter().filter(|g| g.name != "custom").map(|g| (g.name, g.title)));

    html! {
        <section class="lab hardware-lab">
            <h1>{"Hardware: measure your own GPU"}</h1>
            <p class="lead">
                {"FLOPs only mean something against what a chip can really do. These hand-written WGSL kernels run on \
                  your GPU through WebGPU: a copy measures the memory bandwidth, then a matrix multiply goes from naive \
                  to near peak, one classic optimization at a time. Every result is checked against a CPU reference."}
            </p>
            if !webgpu {
                <div class="notice" id="no-webgpu" role="alert">
                    <p><strong>{"This browser does not expose WebGPU"}</strong>{" (navigator.gpu is missing), so the kernels cannot run here."}</p>
                    <ul>
                        { how_to_get_it() }
                        <li>{"Or run the same kernels natively: "}<code>{"lmlab bench hardware"}</code>{"."}</li>
                    </ul>
                </div>
            }
            <div class="row">
                <TextField id="hw-sizes" label="Matrix sizes (n for n×n×n)" value={(*sizes).clone()} oninput={on_sizes}
                    error={parsed.as_ref().err().map(|e| e.to_string())}
                    hint="Comma-separated. 2048 and up take minutes on a CPU emulation." />
                <SelectField id="hw-gpu" label="Compare with" options={gpu_options} value={(*gpu_choice).clone()} onchange={on_gpu} />
                <button id="hw-run" class="check" onclick={on_run} disabled={running || parsed.is_err() || !webgpu}>
                    { if running { "Running…" } else { "Run the kernels" } }
                </button>
            </div>
            { status_view(&status) }
            if let Some(r) = &shown { { results(r) } }
            <h2>{"The kernels"}</h2>
            <ol class="kernels">
                { for Kernel::ALL.iter().map(|k| kernel_view(*k)) }
            </ol>
            <super::hardware_attention::AttentionLesson />
            <Exercises exercises={exercises()} />
        </section>
    }
}

/// An error as the page says it: what happened and what to do.
fn explain(e: &HardwareError) -> String {
    match e {
        HardwareError::NoAdapter(_) => format!("{e}. The kernels and exercises below still explain each step."),
        _ => e.to_string(),
    }
}

fn status_view(status: &Status) -> Html {
    match status {
        Status::Idle => html! {},
        Status::Running { index, total, label } => html! {
            <div class="progress" id="hw-progress">
                <progress value={index.to_string()} max={total.to_string()}></progress>
                <span>{ format!("{} of {}: {label}", index + 1, total) }</span>
            </div>
        },
        Status::Done => html! { <p class="hint" id="hw-done">{"Done. Hover a point for its numbers."}</p> },
        Status::Failed(why) => html! { <p class="error" id="hw-error" role="alert">{ why.clone() }</p> },
    }
}

fn results(r: &Report) -> Html {
    let a = &r.adapter;
    let rows = r.rows();
    let size = r.sizes().into_iter().filter(|&n| r.at(Kernel::Naive, n).is_some()).max();
    let bars: Vec<Bar> = size
        .map(|n| {
            r.speedups(n)
                .into_iter()
                .map(|(k, x)| Bar { label: k.title().into(), value: x, text: format!("{}×", format_number(x)) })
                .collect()
        })
        .unwrap_or_default();
    // Same colors as the step chart below (its bars follow the matmul order).
    let color = |k: Kernel| Kernel::MATMULS.iter().position(|x| *x == k).unwrap_or(0);
    let points: Vec<Point> = r
        .measurements
        .iter()
        .filter(|m| m.kernel != Kernel::Copy)
        .map(|m| Point {
            label: format!("{} {}", m.kernel.key(), m.size_label()),
            intensity: m.intensity(),
            flops: m.flops_per_s(),
            color: color(m.kernel),
        })
        .collect();
    let mut roofs = vec![];
    if let (Some(bw), Some(fl)) = (r.measured_bandwidth(), r.measured_flops()) {
        roofs.push(Roof { label: "measured (copy, best matmul)".into(), bandwidth: bw, peak: fl, class: "measured" });
    }
    if let Some(p) = &r.peak {
        roofs.push(Roof {
            label: format!("{} datasheet (f32)", p.title),
            bandwidth: p.bandwidth_bytes_per_s,
            peak: p.fp32_flops,
            class: "catalog",
        });
    }
    html! {
        <div class="hw-results" id="hw-results">
            <div class="adapter" id="hw-adapter">
                <h2>{"Your adapter"}</h2>
                <p><strong>{ a.name.clone() }</strong>{ format!(" — {}, {}", a.backend, a.device_type) }
                    if a.software { <span class="badge warn">{"CPU emulation"}</span> }</p>
                <p class="hint">{ format!(
                    "Largest storage buffer {} MiB · {} workgroups per dimension · {} invocations per workgroup · {} KiB workgroup memory · shader-f16: {} · timing: {}",
                    a.limits.max_storage_buffer_binding_size >> 20, a.limits.max_compute_workgroups_per_dimension,
                    a.limits.max_compute_invocations_per_workgroup, a.limits.max_compute_workgroup_storage_size / 1024,
                    if a.shader_f16 { "yes" } else { "no" }, r.timing.describe()) }</p>
            </div>
            <ul class="hw-headline" id="hw-headline">
                { for r.headline().into_iter().map(|l| html! { <li>{ l }</li> }) }
            </ul>
            <div class="table-scroll">
            <table id="hw-table">
                <thead><tr>{ for Row::HEADER.iter().map(|h| html! { <th>{ *h }</th> }) }</tr></thead>
                <tbody>
                    { for rows.iter().map(|row| html! {
                        <tr class={classes!((!row.ok).then_some("wrong"))} data-kernel={row.kernel.key()}>
                            { for row.cells().into_iter().map(|c| html! { <td>{ c }</td> }) }
                        </tr>
                    }) }
                </tbody>
            </table>
            </div>
            if !points.is_empty() {
                <h2>{"Roofline"}</h2>
                <p class="hint">{"A kernel can go no higher than its roof: bandwidth × intensity on the left of the bend, the compute peak on the right. \
                    Intensity here is the problem's (compulsory traffic); the naive kernels really move far more bytes, which is why they sit far below."}</p>
                <Roofline {points} {roofs} />
                <p class="legend">
                    { for Kernel::MATMULS.iter().map(|k| html! {
                        <span class="key"><span class="swatch" style={format!("background:{}", crate::components::charts::PALETTE[color(*k) % 8])}></span>{ k.title() }</span>
                    }) }
                </p>
            }
            if let Some(n) = size {
                <h2>{ format!("Each step's speed-up over naive at {n}³") }</h2>
                <BarChart id="hw-steps" {bars} />
            }
        </div>
    }
}

fn kernel_view(k: Kernel) -> Html {
    html! {
        <li class="kernel" id={format!("kernel-{}", k.key())}>
            <h3>{ k.title() }</h3>
            <p>{ k.lesson() }</p>
            <details>
                <summary>{ format!("shaders/{}", k.file()) }</summary>
                <pre class="source"><code>{ k.source() }</code></pre>
            </details>
        </li>
    }
}
