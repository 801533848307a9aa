//! `lmlab route`: a mixture-of-experts checkpoint's router at work — for each token of a text, the
//! experts every MoE block sends it to, their weights, and whether capacity dropped it.

use burn::tensor::backend::AutodiffBackend;
use lmlab::model::moe::{sequence_routes, BlockRoutes};
use lmlab::tokenize::display_token;
use lmlab::train::checkpoint::Checkpoint;
use lmlab::train::TrainError;
use serde_json::json;

use crate::backend::{pick_device, run_job, Job, Picked};
use crate::checkpoint_dir;
use crate::cli::RouteArgs;
use crate::report::print_table;
use crate::CliResult;

pub fn route(args: &RouteArgs) -> CliResult {
    let checkpoint = checkpoint_dir::read(&args.checkpoint)?;
    let config = checkpoint.config()?;
    let Some(moe) = &config.model.moe else {
        return Err(TrainError::Checkpoint {
            file: args.checkpoint.display().to_string(),
            message: "is a dense model (its config.json has no \"moe\" settings): there is no router to show; \
                      train one with lmlab train --preset tiny-moe"
                .into(),
        }
        .into());
    };
    if args.text.is_empty() {
        return Err(lmlab::InputError::new("--text", "", "some text to route").into());
    }
    if !args.json {
        println!(
            "{}: {} experts, top-{}, {} shared, capacity factor {}",
            args.checkpoint.display(),
            moe.num_experts,
            moe.top_k,
            moe.num_shared_experts,
            moe.capacity_factor.map_or("none".into(), |c| c.to_string())
        );
    }
    let picked = pick_device(&args.device)?;
    run_job(&picked, RouteJob { checkpoint, text: args.text.clone(), json: args.json })
}

struct RouteJob {
    checkpoint: Checkpoint,
    text: String,
    json: bool,
}

impl Job for RouteJob {
    fn run<B: AutodiffBackend>(self, device: B::Device, _: &Picked) -> CliResult {
        let (model, config, tokenizer) = self.checkpoint.load_model::<B::InnerBackend>(&device)?;
        let ids = tokenizer.encode_text(&self.text);
        if ids.len() > config.model.context_length {
            return Err(lmlab::InputError::new(
                "--text",
                format!("{} tokens", ids.len()),
                format!("at most the model's context length, {} tokens", config.model.context_length),
            )
            .into());
        }
        let routes = pollster::block_on(sequence_routes(&model, &ids)).map_err(TrainError::Device)?;
        let tokens: Vec<String> = ids.iter().map(|&id| display_token(&tokenizer, id)).collect();
        if self.json {
            println!("{}", json!({"tokens": tokens, "ids": ids, "blocks": routes}));
            return Ok(());
        }
        let mut header = vec!["token".to_string()];
        header.extend(routes.iter().map(|b| format!("block {}", b.layer)));
        let rows: Vec<Vec<String>> = tokens
            .iter()
            .enumerate()
            .map(|(t, tok)| {
                let mut row = vec![format!("{tok:?}")];
                row.extend(routes.iter().map(|b| cell(b, t)));
                row
            })
            .collect();
        let header: Vec<&str> = header.iter().map(String::as_str).collect();
        print_table(&header, &rows);
        println!("(expert:weight; ✗ = dropped for lack of capacity, the token skipped that expert)");
        Ok(())
    }
}

/// "3:0.62 5:0.38" for token `t` in one block.
fn cell(block: &BlockRoutes, t: usize) -> String {
    let parts: Vec<String> = (0..block.experts[t].len())
        .map(|j| {
            let mark = if block.kept[t][j] { "" } else { "✗" };
            format!("{}:{:.2}{mark}", block.experts[t][j], block.weights[t][j])
        })
        .collect();
    parts.join(" ")
}
