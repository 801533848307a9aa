//! One plan, two front ends, the same numbers. The Train page's side runs natively through the
//! worker's code path — the page's form parsed into a `RunPlan`, `RunData::load`,
//! `prepare::start`, `run` — and the CLI's is `lmlab train --json`: the defaults, the unigram
//! entropy, the FLOPs per step, every validation loss and the tokens/s formula must agree.

use burn::backend::{Autodiff, Flex};
use lmlab::model::TransformerConfig;
use lmlab::telemetry::{StepMeter, StepMetrics};
use lmlab::train::checkpoint::Checkpoint;
use lmlab::train::forms::TrainForm;
use lmlab::train::plan::{Backend, TokenizerChoice};
use lmlab::train::plan_form::PlanForm;
use lmlab::train::prepare::{self, DataInput, DeviceLabel, RunData, TokenizerSource};
use lmlab::train::protocol::Corpus;
use lmlab::train::run::{run, RunHooks};
use lmlab::train::trainer::TrainConfig;
use lmlab::train::TrainError;
use lmlab_acceptance::{repo_root, run_lmlab};
use serde_json::Value;

/// The page worker's hooks reduced to what is compared: every validation loss.
#[derive(Default)]
struct Evals(Vec<(usize, f64)>);

impl RunHooks for Evals {
    fn on_step(&mut self, _: &StepMetrics) -> bool {
        true
    }
    fn on_eval(&mut self, step: usize, val_loss: f64) {
        self.0.push((step, val_loss));
    }
    fn on_checkpoint(&mut self, _: Checkpoint) -> Result<(), TrainError> {
        Ok(())
    }
}

#[test]
fn the_cli_and_the_page_give_the_same_numbers_for_one_plan() {
    // The page: the nano preset as its form fills it, 20 steps typed in.
    let form = TrainForm::for_preset("nano");
    let form = TrainForm { plan: PlanForm { steps: "20".into(), ..form.plan }, ..form };
    let plan = form.parse().expect("the page's form parses").plan;
    assert_eq!(plan.tokenizer, TokenizerChoice::Bpe { vocab_size: 512 });

    // The CLI: the same preset and steps, every other setting its default.
    let out = std::env::temp_dir().join(format!("lmlab-agreement-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&out);
    let r = run_lmlab(&[
        "train",
        "--preset",
        "nano",
        "--steps",
        "20",
        "--device",
        "cpu",
        "--json",
        "--log-every",
        "1",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let events: Vec<Value> = r.stdout.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    let setup = &events[0];
    assert_eq!(setup["event"], "setup");

    // The page's run, natively, on the worker's code path (the bundled corpus, as the page fetches it).
    let text = std::fs::read_to_string(repo_root().join("data/tinyshakespeare.txt")).unwrap();
    let corpus = Corpus { name: "tinyshakespeare.txt".into(), text };
    let tokenizer = TokenizerSource::Train(plan.tokenizer.clone());
    let data = RunData::load(DataInput::Text(corpus), None, tokenizer, &mut |_| {}).unwrap();
    let label = DeviceLabel { backend: Backend::Cpu, name: "flex".into(), reason: "test".into(), limits: None };
    let (mut trainer, info) = prepare::start::<Autodiff<Flex>>(&plan, &data, &Default::default(), &label).unwrap();

    // Defaults: the same trainer settings (batch, learning rates, warm-up, evaluation cadence and
    // batches, seed …) and the same model.
    assert_eq!(setup["train"], serde_json::to_value(TrainConfig::from_plan(&plan.training)).unwrap());
    assert_eq!(setup["train"], serde_json::to_value(&trainer.config).unwrap());
    let model: TransformerConfig = serde_json::from_value(setup["model"].clone()).unwrap();
    assert_eq!(model, trainer.model_config);
    // The yardsticks: parameters, FLOPs per step, and the unigram entropy of the validation tokens.
    assert_eq!(setup["params"].as_u64(), Some(info.parameters));
    assert_eq!(setup["flops_per_step"].as_f64(), Some(info.flops_per_step));
    assert_eq!(
        (setup["train_tokens"].as_u64(), setup["val_tokens"].as_u64()),
        (Some(info.train_tokens as u64), Some(info.val_tokens as u64))
    );
    assert_eq!(setup["val_unigram_entropy"].as_f64(), Some(info.unigram_entropy));

    // Every validation loss of the run (the same batches on the same CPU backend).
    let mut evals = Evals::default();
    let spec = data.spec(&trainer, plan.training.checkpoint_every).unwrap();
    pollster::block_on(run(&mut trainer, &spec, &mut evals)).unwrap();
    let cli_evals: Vec<(usize, f64)> = events
        .iter()
        .filter(|e| e["event"] == "eval")
        .map(|e| (e["step"].as_u64().unwrap() as usize, e["val_loss"].as_f64().unwrap()))
        .collect();
    assert_eq!(cli_evals.len(), evals.0.len(), "{cli_evals:?} vs {:?}", evals.0);
    for ((s, a), (t, b)) in cli_evals.iter().zip(&evals.0) {
        assert_eq!(s, t);
        assert!((a - b).abs() <= 1e-6 * a.abs(), "validation loss at step {s}: CLI {a}, page {b}");
    }

    // Tokens/s: the CLI logs the StepMeter's figure for its step times — the meter the page's
    // live panel feeds with its own.
    let mut meter = StepMeter::new(info.shape, info.batch_size, None);
    for e in events.iter().filter(|e| e["event"] == "step") {
        meter.record(e["step_seconds"].as_f64().unwrap());
        let expected = meter.throughput().map(|t| t.tokens_per_s);
        assert_eq!(e["tokens_per_s"].as_f64(), expected, "step {}", e["step"]);
    }
    let _ = std::fs::remove_dir_all(&out);
}
