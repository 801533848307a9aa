//! `lmlab estimate …`: the compute lab.

use lmlab::accounting::parallel::{self, ParallelForm};
use lmlab::accounting::{ClusterForm, MemoryForm, ModelChoice, ParamCount, ShapeForm, TimeForm};
use lmlab::precision::{parse_shape, tensor_bytes, Format};
use lmlab::units::{format_bytes, format_count, format_duration, format_number, format_step_time, parse_count};
use lmlab::InputError;
use serde::Serialize;

use crate::cli::{MemoryArgs, ModelArgs, ParallelArgs, ShapeArgs, TensorArgs, TimeArgs};
use crate::report::{print_json, print_pairs, print_table};

fn text(v: &Option<String>) -> String {
    v.clone().unwrap_or_default()
}

fn model_choice(args: &ShapeArgs) -> Result<ModelChoice, InputError> {
    if let Some(p) = &args.preset {
        return Ok(ModelChoice::Preset(p.clone()));
    }
    let missing: Vec<&str> = [
        ("--vocab", &args.vocab),
        ("--context", &args.context),
        ("--d-model", &args.d_model),
        ("--layers", &args.layers),
        ("--heads", &args.heads),
        ("--d-ff", &args.d_ff),
    ]
    .iter()
    .filter(|(_, v)| v.is_none())
    .map(|(k, _)| *k)
    .collect();
    if !missing.is_empty() {
        return Err(InputError::new("model", "", format!("--preset NAME, or all of {}", missing.join(", "))));
    }
    Ok(ModelChoice::Custom(ShapeForm {
        vocab_size: text(&args.vocab),
        context_length: text(&args.context),
        d_model: text(&args.d_model),
        num_layers: text(&args.layers),
        num_heads: text(&args.heads),
        num_kv_heads: text(&args.kv_heads),
        d_ff: text(&args.d_ff),
        num_experts: text(&args.experts),
        top_k: text(&args.top_k),
        num_shared_experts: text(&args.shared_experts),
        d_ff_expert: text(&args.expert_d_ff),
        first_dense_layers: text(&args.first_dense_layers),
    }))
}

pub fn time(args: &TimeArgs) -> Result<(), InputError> {
    let form = TimeForm {
        params: text(&args.params),
        model: args.preset.clone().map(ModelChoice::Preset),
        tokens: args.tokens.clone(),
        cluster: ClusterForm {
            gpu: args.gpu.clone(),
            gpus: args.gpus.clone(),
            peak_tflops: text(&args.peak_tflops),
            memory_gb: String::new(),
        },
        mfu: args.mfu.clone(),
        dtype: args.dtype.clone(),
        usd_per_gpu_hour: text(&args.usd_per_gpu_hour),
    };
    let r = form.evaluate()?;
    if args.json {
        print_json(&r);
        return Ok(());
    }
    let e = &r.estimate;
    let f = &r.training_flops;
    let mut pairs = if f.total_params > f.params {
        vec![("active parameters N", format_count(f.params)), ("total parameters", format_count(f.total_params))]
    } else {
        vec![("parameters", format_count(f.params))]
    };
    pairs.extend([("tokens", format_count(f.tokens)), ("FLOPs (6·N·D)", format_number(f.dense))]);
    if f.attention > 0.0 {
        pairs.push(("+ attention FLOPs", format_number(f.attention)));
    }
    pairs.extend([
        ("total FLOPs", format_number(e.flops)),
        (
            "cluster",
            format!(
                "{} × {} at {} peak {} TFLOP/s, MFU {}",
                e.gpus,
                e.gpu,
                e.dtype,
                format_number(e.peak_flops_per_gpu / 1e12),
                e.mfu
            ),
        ),
        ("achieved FLOP/s", format_number(e.achieved_flops_per_s)),
        ("time", format!("{} ({} s)", format_duration(e.seconds), format_number(e.seconds))),
        ("GPU-hours", format_count(e.gpu_hours)),
    ]);
    if let Some(cost) = e.cost_usd {
        pairs.push(("cost", format!("${}", format_count(cost))));
    }
    print_pairs(&pairs);
    Ok(())
}

#[derive(Serialize)]
struct ModelReport {
    preset: Option<String>,
    /// The parameter total (also in `params.total`), for scripts.
    total_params: u64,
    /// The parameters one token uses (also in `params.active`; `total_params` for a dense model).
    active_params: u64,
    /// Forward matmul FLOPs of `batch` sequences of `seq_len` tokens (also in `forward.matmul_flops`).
    forward_flops: f64,
    shape: lmlab::accounting::ModelShape,
    params: ParamCount,
    forward: lmlab::accounting::ForwardFlops,
    /// Forward FLOPs per token by the 2·N rule (N: active parameters) and the attention term it
    /// leaves out.
    forward_flops_per_token_2n: f64,
    attention_flops_per_token: f64,
    /// Training FLOPs per token ≈ 3 × forward.
    training_flops_per_token: f64,
}

pub fn model(args: &ModelArgs) -> Result<(), InputError> {
    let shape = model_choice(&args.shape)?.shape()?;
    let batch = parse_count("--batch", &args.batch)?;
    let seq_len = match &args.seq_len {
        Some(t) => parse_count("--seq-len", t)?,
        None => shape.context_length,
    };
    let params = shape.params();
    let forward = shape.forward_flops(batch, seq_len);
    let report = ModelReport {
        preset: args.shape.preset.clone(),
        total_params: params.total,
        active_params: params.active,
        forward_flops: forward.matmul_flops,
        shape,
        params,
        forward_flops_per_token_2n: 2.0 * params.active as f64,
        attention_flops_per_token: 4.0 * shape.num_layers as f64 * seq_len as f64 * shape.d_model as f64,
        training_flops_per_token: 3.0 * forward.total_flops / (batch as f64 * seq_len as f64),
        forward,
    };
    if args.json {
        print_json(&report);
        return Ok(());
    }
    println!("model: {}", shape.summary());
    print_table(&["parameters", "count", "share"], &param_rows(&params, shape.moe.is_some()));
    println!();
    println!("forward FLOPs for {batch} × {seq_len} tokens:");
    let rows: Vec<Vec<String>> = report
        .forward
        .components
        .iter()
        .map(|c| {
            vec![
                c.name.to_string(),
                format_number(c.flops),
                format!("{:.1}%", 100.0 * c.flops / report.forward.total_flops),
                c.formula.to_string(),
            ]
        })
        .collect();
    print_table(&["component", "FLOPs", "share", "formula"], &rows);
    print_pairs(&[
        ("matmul FLOPs", format_number(report.forward.matmul_flops)),
        ("total FLOPs", format_number(report.forward.total_flops)),
        ("2·N per token", format_number(report.forward_flops_per_token_2n)),
        ("training per token", format_number(report.training_flops_per_token)),
    ]);
    Ok(())
}

/// The parameter table: by component, then the total, and for a mixture of experts the router
/// and the active parameters (what one token uses: the FLOPs follow these, memory the total).
fn param_rows(params: &ParamCount, moe: bool) -> Vec<Vec<String>> {
    let total = params.total as f64;
    let row = |name: &str, n: u64| {
        vec![name.to_string(), format_count(n as f64), format!("{:.1}%", 100.0 * n as f64 / total)]
    };
    let ffn = if moe { "SwiGLU feed-forward (all experts)" } else { "SwiGLU feed-forward" };
    let mut rows = vec![
        row("token embedding", params.token_embedding),
        row("attention (Q, K, V, O)", params.attention),
        row(ffn, params.feed_forward),
    ];
    if moe {
        rows.push(row("MoE router", params.router));
    }
    rows.extend([
        row("RMSNorm gains", params.norms),
        row("LM head", params.lm_head),
        vec!["total".into(), format!("{} ({})", format_count(total), params.total), "100%".into()],
    ]);
    if moe {
        let mut active = row("active per token", params.active);
        active[1] = format!("{} ({})", format_count(params.active as f64), params.active);
        rows.push(active);
    }
    rows
}

pub fn memory(args: &MemoryArgs) -> Result<(), InputError> {
    let form = MemoryForm {
        params: text(&args.params),
        model: args.preset.clone().map(ModelChoice::Preset),
        precision: args.precision.clone(),
        cluster: args.gpu.as_ref().map(|gpu| ClusterForm {
            gpu: gpu.clone(),
            gpus: args.gpus.clone(),
            peak_tflops: String::new(),
            memory_gb: text(&args.memory_gb),
        }),
        batch: args.batch.clone(),
    };
    let e = form.evaluate()?;
    if args.json {
        print_json(&e);
        return Ok(());
    }
    let b = &e.bytes_per_param;
    let gb = |x: f64| format!("{} ({} GB)", format_bytes(x), format_number(x / 1e9));
    let mut pairs = vec![
        ("parameters", format_count(e.params)),
        ("precision", e.precision.key().to_string()),
        ("weights", format!("{}  ({} bytes/param)", gb(e.weights_bytes), b.weights)),
        ("gradients", format!("{}  ({} bytes/param)", gb(e.gradients_bytes), b.gradients)),
        ("fp32 master weights", format!("{}  ({} bytes/param)", gb(e.master_weights_bytes), b.master_weights)),
        ("AdamW moments", format!("{}  ({} bytes/param)", gb(e.optimizer_bytes), b.optimizer)),
        ("model states", format!("{}  ({} bytes/param)", gb(e.states_bytes), b.total())),
    ];
    if let (Some(a), Some(total), Some(total_re)) =
        (e.activations_per_sequence, e.total_bytes, e.total_recomputed_bytes)
    {
        pairs.push(("activations / layer / seq", format_bytes(a.per_layer)));
        pairs.push(("  with recomputation", format_bytes(a.per_layer_recomputed)));
        pairs.push(("activations (batch)", gb(e.activations_bytes.unwrap_or_default())));
        pairs.push(("  with recomputation", gb(e.activations_recomputed_bytes.unwrap_or_default())));
        pairs.push(("total", gb(total)));
        pairs.push(("total, recomputation", gb(total_re)));
    } else {
        pairs.push(("activations", "give --preset for activations and the largest batch".into()));
    }
    if let (Some(cluster), Some(gpu), Some(gpus)) = (e.cluster_bytes, &e.gpu, e.gpus) {
        let yes_no = |f: Option<bool>| if f == Some(true) { "yes" } else { "no" };
        pairs.push(("cluster memory", format!("{} × {} = {}", gpus, gpu, gb(cluster))));
        pairs.push(("fits", yes_no(e.fits).to_string()));
        pairs.push(("fits with recomputation", yes_no(e.fits_recomputed).to_string()));
        pairs.push((
            "largest model that fits",
            format!(
                "{} parameters at {} bytes/param",
                format_count(e.largest_model_params.unwrap_or_default()),
                b.total()
            ),
        ));
        if e.activations_per_sequence.is_some() {
            let show = |v: Option<u64>| v.map_or("none (the states alone do not fit)".to_string(), |n| n.to_string());
            pairs.push(("largest batch", show(e.largest_batch)));
            pairs.push(("largest batch, recomputation", show(e.largest_batch_recomputed)));
        }
    }
    print_pairs(&pairs);
    Ok(())
}

pub fn tensor(args: &TensorArgs) -> Result<(), InputError> {
    let shape = parse_shape(&args.shape)?;
    let format = Format::parse(&args.dtype).map_err(|e| InputError { field: "--dtype".into(), ..e })?;
    let m = tensor_bytes(&shape, format);
    if args.json {
        print_json(&m);
    } else {
        println!(
            "{:?} {} = {} elements × {} bytes = {} bytes ({})",
            m.shape, format, m.elements, m.bytes_per_element, m.bytes, m.human
        );
    }
    Ok(())
}

/// `lmlab estimate parallel`: the data-parallel lesson's numbers for one configuration, the ZeRO
/// table, and the seed's 1,024-H100 split.
pub fn parallel(args: &ParallelArgs) -> Result<(), InputError> {
    let form = ParallelForm {
        params: args.params.clone(),
        gpus: args.gpus.clone(),
        grad_bytes: args.grad_bytes.clone(),
        link: args.link.clone(),
        bandwidth_gbps: text(&args.bandwidth_gbps),
        gpu: args.gpu.clone(),
        mfu: args.mfu.clone(),
        tokens_per_gpu: args.tokens_per_gpu.clone(),
        precision: args.precision.clone(),
    };
    let r = form.evaluate()?;
    let split = parallel::seed_split();
    if args.json {
        #[derive(Serialize)]
        struct Out<'a> {
            #[serde(flatten)]
            report: &'a parallel::ParallelReport,
            seed_split: &'a parallel::Split3d,
        }
        print_json(&Out { report: &r, seed_split: &split });
        return Ok(());
    }
    let ms = format_step_time;
    // Links and memory in decimal gigabytes, as vendors quote them.
    let gb = |bytes: f64| format!("{} GB", format_number(bytes / 1e9));
    let pct = |x: f64| format!("{:.1}%", 100.0 * x);
    print_pairs(&[
        ("parameters", format_count(r.params)),
        ("data-parallel GPUs", format!("{} × {}", r.gpus, r.gpu)),
        ("link", format!("{} — {}/s per GPU per direction", r.link, gb(r.link_bytes_per_s))),
        (
            "gradients per step",
            format!("{} ({} bytes × {})", gb(r.grad_bytes), r.grad_bytes_per_param, format_count(r.params)),
        ),
        (
            "ring all-reduce",
            format!(
                "{} = 2(G−1)/G = {:.3} × {} / {}/s",
                ms(r.comm_s),
                r.ring_factor,
                gb(r.grad_bytes),
                gb(r.link_bytes_per_s)
            ),
        ),
        (
            "compute per step",
            format!(
                "{} = 6 × N × {} tokens / ({:.0} TFLOP/s × MFU {}); forward {}, backward {}",
                ms(r.compute_s),
                format_count(r.tokens_per_gpu),
                r.peak_flops / 1e12,
                r.mfu,
                ms(r.forward_s),
                ms(r.backward_s)
            ),
        ),
        (
            "step, reduce after backward",
            format!("{} — {} of linear scaling", ms(r.step_serial_s), pct(r.efficiency_serial)),
        ),
        (
            "step, overlapped (buckets)",
            format!("{} — {} of linear scaling", ms(r.step_overlapped_s), pct(r.efficiency_overlapped)),
        ),
        (
            "hides behind the backward",
            format!(
                "from {} tokens per GPU per step (now {}); N cancels out",
                format_count(r.hide_tokens_per_gpu.ceil()),
                format_count(r.tokens_per_gpu)
            ),
        ),
    ]);
    println!("\nmodel states per GPU ({} of memory each):", gb(r.memory_bytes));
    let rows: Vec<Vec<String>> = r
        .zero
        .iter()
        .map(|z| {
            vec![
                z.label.to_string(),
                gb(z.weights),
                gb(z.gradients),
                gb(z.optimizer),
                gb(z.total),
                if z.total <= r.memory_bytes { "yes".into() } else { "no".into() },
                format!("{}×", z.comm_factor),
            ]
        })
        .collect();
    print_table(&["", "weights", "gradients", "optimizer", "total", "fits", "communication"], &rows);
    println!(
        "\nthe seed's example, {} parameters on {} H100s ({} per node): tensor {} × pipeline {} × data {}\n  {}\n  \
         data-parallel all-reduce of each GPU's {} of bf16 gradients over InfiniBand NDR: {} per step, against {} of \
         compute per step at a {}-token global batch and 50% MFU",
        format_count(split.params),
        format_count(split.gpus as f64),
        split.gpus_per_node,
        split.tensor,
        split.pipeline,
        split.data,
        split.why,
        gb(split.dp_grad_bytes),
        ms(split.dp_comm_s),
        ms(split.compute_s),
        format_count(split.global_batch_tokens)
    );
    Ok(())
}
