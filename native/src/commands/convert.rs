//! `lmlab convert`: a checkpoint directory ↔ bare CS336-keyed safetensors weights (PyTorch's
//! `state_dict` names and shapes), both ways.

use burn::backend::Flex;
use lmlab::model::weights::from_safetensors;
use lmlab::model::TransformerConfig;
use lmlab::tokenize::{TokenizeError, END_OF_TEXT};
use lmlab::train::checkpoint::{from_weights, infer_shape, weights_file};
use lmlab::units::{parse_count, parse_positive};
use lmlab::InputError;

use crate::checkpoint_dir;
use crate::cli::{BpeSource, ConvertArgs};
use crate::commands::tokenize::load_bpe;
use crate::CliResult;

/// `lmlab convert --from DIR --to F.safetensors` or `--from F.safetensors --to DIR`.
pub fn convert(args: &ConvertArgs) -> CliResult {
    if args.from.is_dir() {
        let checkpoint = checkpoint_dir::read(&args.from)?;
        let bytes = weights_file(&checkpoint)?;
        let to = args.to.display().to_string();
        std::fs::write(&args.to, &bytes).map_err(|e| TokenizeError::Io { file: to.clone(), message: e.to_string() })?;
        println!("wrote {to}: {} bytes, CS336 state-dict keys (torch: safetensors.torch.load_file)", bytes.len());
        return Ok(());
    }
    let name = args.from.display().to_string();
    let bytes =
        std::fs::read(&args.from).map_err(|e| TokenizeError::Io { file: name.clone(), message: e.to_string() })?;
    let (weights, _) = from_safetensors(&name, &bytes)?;
    let (vocab_size, d_model, num_layers, d_ff) = infer_shape(&weights, &name)?;
    let heads = args.heads.as_deref().ok_or_else(|| {
        InputError::new("--heads", "", "the number of attention heads (a state dict does not record it)")
    })?;
    let context = args.context.as_deref().ok_or_else(|| {
        InputError::new(
            "--context",
            "",
            "the context length the model was trained with (a state dict does not record it)",
        )
    })?;
    let model = TransformerConfig::new(
        vocab_size,
        parse_count("--context", context)? as usize,
        d_model,
        num_layers,
        parse_count("--heads", heads)? as usize,
        d_ff,
    )
    .with_rope_theta(parse_positive("--rope-theta", &args.rope_theta)?);
    let source = BpeSource {
        vocab: None,
        merges: None,
        tokenizer_dir: args.tokenizer_dir.clone(),
        specials: vec![END_OF_TEXT.into()],
    };
    let (tokenizer, tokenizer_source) = load_bpe(&source)?;
    // The weights are checked against the model built on the CPU (its own keys and shapes).
    let mut checkpoint =
        from_weights::<Flex>(&weights, &name, model, &tokenizer, &tokenizer_source, &Default::default())?;
    checkpoint.origin = args.to.display().to_string();
    checkpoint_dir::write(&args.to, &checkpoint)?;
    println!(
        "wrote checkpoint {} (vocabulary {vocab_size}, d_model {d_model}, {num_layers} layers, d_ff {d_ff}); try: lmlab sample --checkpoint {}",
        args.to.display(),
        args.to.display()
    );
    Ok(())
}
