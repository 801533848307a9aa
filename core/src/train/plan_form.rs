//! A run plan as people type it: every field a string, empty for "the default". The CLI fills it
//! from its flags, the Train page from its form; one parse gives the same [`RunPlan`] and the same
//! errors (one per field, worded with each front end's names for the fields).

use super::plan::{
    byte_level_minimum, default_checkpoint_every, default_eval_every, default_steps, default_warmup, AttentionKernel,
    ModelPlan, Precision, RunPlan, TokenizerChoice, TrainingPlan,
};
use crate::accounting::{training_preset, ShapeField, ShapeForm};
use crate::units::{parse_count, parse_number, parse_positive, parse_whole};
use crate::InputError;

/// The preset choice that means "the shape fields alone".
pub const CUSTOM: &str = "custom";

/// The plan's fields as typed.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PlanForm {
    /// A training preset, [`CUSTOM`], or empty for `tiny`.
    pub preset: String,
    /// Shape fields; over a preset (or a `--config` model) a filled field replaces its value.
    /// Experts on a dense model make it a mixture of experts (top-2, experts d_ff / top-k wide:
    /// the dense model's active FLOPs); its vocabulary is the tokenizer's.
    pub shape: ShapeForm,
    /// `bpe` (empty) or `bytes`.
    pub tokenizer: String,
    /// The BPE's vocabulary (empty: the preset's, or the `--config` model's).
    pub vocab_size: String,
    pub steps: String,
    pub batch_size: String,
    pub lr: String,
    pub warmup: String,
    pub eval_every: String,
    pub checkpoint_every: String,
    pub seed: String,
    /// `fp32` (empty) or `bf16` (mixed precision).
    pub precision: String,
    /// `fused` (empty) or `reference`.
    pub attention: String,
    /// A number, or `none` for no limit.
    pub capacity_factor: String,
    pub balance_weight: String,
    pub z_weight: String,
}

/// A field of [`PlanForm`], for errors shown next to it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Field {
    Preset,
    Shape(ShapeField),
    Tokenizer,
    VocabSize,
    Steps,
    BatchSize,
    Lr,
    Warmup,
    EvalEvery,
    CheckpointEvery,
    Seed,
    Precision,
    Attention,
    CapacityFactor,
    BalanceWeight,
    ZWeight,
}

/// Whose words name the fields in messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Labels {
    /// `--steps`, `--top-k` …
    Cli,
    /// "steps", "top-k" …
    Page,
}

impl Field {
    /// A stable key for the field (the page's form fields and its error lookup).
    pub fn key(self) -> &'static str {
        use Field as F;
        use ShapeField as S;
        match self {
            F::Preset => "preset",
            F::Shape(S::VocabSize) | F::VocabSize => "vocab_size",
            F::Shape(S::ContextLength) => "context_length",
            F::Shape(S::DModel) => "d_model",
            F::Shape(S::NumLayers) => "num_layers",
            F::Shape(S::NumHeads) => "num_heads",
            F::Shape(S::NumKvHeads) => "num_kv_heads",
            F::Shape(S::DFf) => "d_ff",
            F::Shape(S::NumExperts) => "experts",
            F::Shape(S::TopK) => "top_k",
            F::Shape(S::NumSharedExperts) => "shared_experts",
            F::Shape(S::DFfExpert) => "d_ff_expert",
            F::Shape(S::FirstDenseLayers) => "first_dense_layers",
            F::Tokenizer => "tokenizer",
            F::Steps => "steps",
            F::BatchSize => "batch_size",
            F::Lr => "lr",
            F::Warmup => "warmup",
            F::EvalEvery => "eval_every",
            F::CheckpointEvery => "checkpoint_every",
            F::Seed => "seed",
            F::Precision => "precision",
            F::Attention => "attention",
            F::CapacityFactor => "capacity_factor",
            F::BalanceWeight => "balance_weight",
            F::ZWeight => "z_weight",
        }
    }

    /// The field's name in `front`'s messages.
    pub fn label(self, front: Labels) -> &'static str {
        use Field as F;
        use ShapeField as S;
        let (cli, page) = match self {
            F::Preset => ("--preset", "model"),
            F::Shape(S::VocabSize) => ("--vocab-size", "vocabulary"),
            F::Shape(S::ContextLength) => ("--context", "context length"),
            F::Shape(S::DModel) => ("d_model", "d_model"),
            F::Shape(S::NumLayers) => ("layers", "layers"),
            F::Shape(S::NumHeads) => ("heads", "heads"),
            F::Shape(S::NumKvHeads) => ("KV heads", "KV heads"),
            F::Shape(S::DFf) => ("d_ff", "d_ff"),
            F::Shape(S::NumExperts) => ("--experts", "experts"),
            F::Shape(S::TopK) => ("--top-k", "top-k"),
            F::Shape(S::NumSharedExperts) => ("--shared-experts", "shared experts"),
            F::Shape(S::DFfExpert) => ("--expert-d-ff", "d_ff per expert"),
            F::Shape(S::FirstDenseLayers) => ("--first-dense-layers", "first dense layers"),
            F::Tokenizer => ("--tokenizer", "tokenizer"),
            F::VocabSize => ("--vocab-size", "vocabulary"),
            F::Steps => ("--steps", "steps"),
            F::BatchSize => ("--batch", "batch size"),
            F::Lr => ("--lr", "learning rate"),
            F::Warmup => ("--warmup", "warm-up steps"),
            F::EvalEvery => ("--eval-every", "evaluate every"),
            F::CheckpointEvery => ("--checkpoint-every", "checkpoint every"),
            F::Seed => ("--seed", "seed"),
            F::Precision => ("--precision", "precision"),
            F::Attention => ("--attention", "attention"),
            F::CapacityFactor => ("--capacity-factor", "capacity factor"),
            F::BalanceWeight => ("--balance-weight", "balance weight"),
            F::ZWeight => ("--z-weight", "z-loss weight"),
        };
        match front {
            Labels::Cli => cli,
            Labels::Page => page,
        }
    }
}

/// Every field's error, in form order.
pub type FieldErrors = Vec<(Field, InputError)>;

impl PlanForm {
    /// The plan over a preset (or `--config`'s model, `base`), or every field's error. The data is
    /// [`DataChoice::Bundled`](super::plan::DataChoice::Bundled) until the front end says otherwise.
    pub fn parse(&self, base: Option<&ModelPlan>, front: Labels) -> Result<RunPlan, FieldErrors> {
        let mut errors = FieldErrors::new();
        let preset_name = if self.preset.trim().is_empty() { "tiny" } else { self.preset.trim() };
        let custom = preset_name == CUSTOM && base.is_none();
        let preset = if custom || base.is_some() {
            None
        } else {
            match training_preset(preset_name) {
                Ok(p) => Some(p),
                Err(e) => {
                    errors.push((Field::Preset, InputError { field: Field::Preset.label(front).into(), ..e }));
                    None
                }
            }
        };
        let mut model = match (base, preset) {
            (Some(b), _) => b.clone(),
            (None, Some(p)) => ModelPlan::of_preset(p),
            (None, None) => ModelPlan::of_preset(training_preset("tiny").expect("listed")),
        };
        let shape = self.shape_over(&model, custom, front, &mut errors);
        fn take(
            errors: &mut FieldErrors,
            front: Labels,
            field: Field,
            text: &str,
            parse: fn(&str, &str) -> Result<u64, InputError>,
        ) -> Option<u64> {
            match text.trim() {
                "" => None,
                t => parse(field.label(front), t).map_err(|e| errors.push((field, e))).ok(),
            }
        }
        let vocab = take(&mut errors, front, Field::VocabSize, &self.vocab_size, parse_count);
        let tokenizer = match self.tokenizer.trim() {
            "" | "bpe" => {
                let vocab_size = vocab.map_or(model.shape.vocab_size as usize, |v| v as usize);
                if vocab_size < 257 {
                    let label = Field::VocabSize.label(front);
                    errors
                        .push((Field::VocabSize, InputError::new(label, vocab_size.to_string(), byte_level_minimum())));
                }
                TokenizerChoice::Bpe { vocab_size }
            }
            "bytes" => TokenizerChoice::Bytes,
            other => {
                errors.push((Field::Tokenizer, InputError::new(Field::Tokenizer.label(front), other, "bpe or bytes")));
                TokenizerChoice::Bytes
            }
        };
        let steps = take(&mut errors, front, Field::Steps, &self.steps, parse_count);
        let batch = take(&mut errors, front, Field::BatchSize, &self.batch_size, parse_count);
        let warmup = take(&mut errors, front, Field::Warmup, &self.warmup, parse_whole);
        let eval_every = take(&mut errors, front, Field::EvalEvery, &self.eval_every, parse_count);
        let checkpoint_every = take(&mut errors, front, Field::CheckpointEvery, &self.checkpoint_every, parse_count);
        let seed = take(&mut errors, front, Field::Seed, &self.seed, parse_whole);
        let lr = match self.lr.trim() {
            "" => None,
            t => parse_positive(Field::Lr.label(front), t).map_err(|e| errors.push((Field::Lr, e))).ok(),
        };
        let precision = match self.precision.trim() {
            "" => Precision::Fp32,
            t => Precision::parse(Field::Precision.label(front), t)
                .map_err(|e| errors.push((Field::Precision, e)))
                .unwrap_or_default(),
        };
        let attention = match self.attention.trim() {
            "" => AttentionKernel::default(),
            t => AttentionKernel::parse(Field::Attention.label(front), t)
                .map_err(|e| errors.push((Field::Attention, e)))
                .unwrap_or_default(),
        };
        self.router_over(&mut model, front, &mut errors);
        let steps = steps.map_or_else(|| preset.map_or(400, default_steps), |s| s as usize);
        let batch = batch.map_or_else(|| preset.and_then(|p| p.train_batch).unwrap_or(16), |b| b as usize);
        let mut training = TrainingPlan::defaults(steps, batch);
        if let Some(lr) = lr {
            training.max_lr = lr;
            training.min_lr = lr / 10.0;
        }
        training.warmup_steps = warmup.map_or(default_warmup(steps), |w| w as usize).min(steps);
        training.eval_every = eval_every.map_or(default_eval_every(steps), |e| e as usize);
        training.checkpoint_every = checkpoint_every.map_or(default_checkpoint_every(steps), |c| c as usize);
        training.seed = seed.unwrap_or(0);
        training.precision = precision;
        training.attention = attention;
        if let Some(shape) = shape {
            model.shape = shape;
            if !model.fixed_vocab {
                model.shape.vocab_size = tokenizer.vocab_size().unwrap_or(model.shape.vocab_size as usize) as u64;
            }
        }
        if !errors.is_empty() {
            return Err(errors);
        }
        let name =
            base.map_or_else(|| if custom { CUSTOM.to_string() } else { preset_name.to_string() }, |_| "config".into());
        Ok(RunPlan { preset: name, model, training, tokenizer, data: super::plan::DataChoice::Bundled, val: None })
    }

    /// The shape: the base model's with the filled fields over it (all fields for a custom shape),
    /// checked by the lab's rules; errors go to the field they are about.
    fn shape_over(
        &self,
        base: &ModelPlan,
        custom: bool,
        front: Labels,
        errors: &mut FieldErrors,
    ) -> Option<crate::accounting::ModelShape> {
        let s = &self.shape;
        let b = &base.shape;
        let pick = |typed: &str, base: u64| {
            if typed.trim().is_empty() && !custom {
                base.to_string()
            } else {
                typed.to_string()
            }
        };
        let mut form = ShapeForm {
            vocab_size: b.vocab_size.to_string(),
            context_length: pick(&s.context_length, b.context_length),
            d_model: pick(&s.d_model, b.d_model),
            num_layers: pick(&s.num_layers, b.num_layers),
            num_heads: pick(&s.num_heads, b.num_heads),
            num_kv_heads: String::new(),
            d_ff: pick(&s.d_ff, b.d_ff),
            ..ShapeForm::default()
        };
        let moe_fields = [
            (ShapeField::TopK, &s.top_k),
            (ShapeField::DFfExpert, &s.d_ff_expert),
            (ShapeField::NumSharedExperts, &s.num_shared_experts),
            (ShapeField::FirstDenseLayers, &s.first_dense_layers),
        ];
        match (b.moe.filter(|_| !custom), s.num_experts.trim()) {
            // A dense model stays dense: MoE settings without experts are a mistake, said as such.
            (None, "") => {
                if let Some((f, text)) = moe_fields.iter().find(|(_, t)| !t.trim().is_empty()).filter(|_| !custom) {
                    let flag = Field::Shape(ShapeField::NumExperts).label(front);
                    errors.push((
                        Field::Shape(*f),
                        InputError::new(
                            Field::Shape(*f).label(front),
                            text.trim(),
                            format!("{flag} too: this model is dense (use a -moe preset or {flag} N)"),
                        ),
                    ));
                }
            }
            (None, experts) => {
                // A new mixture of experts: top-2 (or fewer experts), experts d_ff / top-k wide.
                form.num_experts = experts.to_string();
                let e = parse_count("experts", experts).unwrap_or(1);
                let k_text = if s.top_k.trim().is_empty() { (2.min(e)).to_string() } else { s.top_k.clone() };
                let k = parse_count("top-k", &k_text).unwrap_or(1).max(1);
                let d_ff = parse_count("d_ff", &form.d_ff).unwrap_or(k);
                form.top_k = k_text;
                form.d_ff_expert = if s.d_ff_expert.trim().is_empty() && !custom {
                    (d_ff / k).max(1).to_string()
                } else {
                    s.d_ff_expert.clone()
                };
                form.num_shared_experts = s.num_shared_experts.clone();
                form.first_dense_layers = s.first_dense_layers.clone();
            }
            (Some(m), experts) => {
                let over =
                    |typed: &str, base: u64| if typed.trim().is_empty() { base.to_string() } else { typed.to_string() };
                form.num_experts = over(experts, m.num_experts);
                form.top_k = over(&s.top_k, m.top_k);
                form.d_ff_expert = over(&s.d_ff_expert, m.d_ff_expert);
                form.num_shared_experts = over(&s.num_shared_experts, m.num_shared_experts);
                form.first_dense_layers = over(&s.first_dense_layers, m.first_dense_layers);
            }
        }
        let before = errors.len();
        let shape = match form.parse_fields(&|f| Field::Shape(f).label(front)) {
            Ok(shape) => Some(shape),
            Err(e) => {
                errors.extend(e.into_iter().map(|(f, e)| (Field::Shape(f), e)));
                None
            }
        }?;
        if let Err(e) = shape.validate_trainable() {
            errors.push((Field::Shape(ShapeField::of_rule(&e)), e));
        }
        (errors.len() == before).then_some(shape)
    }

    /// The router's capacity and loss weights over the base model's (MoE only).
    fn router_over(&self, model: &mut ModelPlan, front: Labels, errors: &mut FieldErrors) {
        let r = &mut model.router;
        match self.capacity_factor.trim() {
            "" => {}
            "none" | "off" => r.capacity_factor = None,
            t => match parse_number(Field::CapacityFactor.label(front), t) {
                Ok(c) if c > 0.0 => r.capacity_factor = Some(c),
                Ok(_) => errors.push((
                    Field::CapacityFactor,
                    InputError::new(
                        Field::CapacityFactor.label(front),
                        t,
                        "a positive capacity factor, or none for no limit",
                    ),
                )),
                Err(e) => errors.push((Field::CapacityFactor, e)),
            },
        }
        for (field, text, slot) in [
            (Field::BalanceWeight, &self.balance_weight, &mut r.balance_loss_weight),
            (Field::ZWeight, &self.z_weight, &mut r.z_loss_weight),
        ] {
            if text.trim().is_empty() {
                continue;
            }
            match parse_number(field.label(front), text) {
                Ok(w) if w >= 0.0 => *slot = w,
                Ok(_) => errors.push((field, InputError::new(field.label(front), text.trim(), "a weight ≥ 0"))),
                Err(e) => errors.push((field, e)),
            }
        }
    }
}

/// The shape fields of a shape, as the page shows them for a preset.
pub fn shape_fields(shape: &crate::accounting::ModelShape) -> ShapeForm {
    ShapeForm { vocab_size: String::new(), num_kv_heads: String::new(), ..ShapeForm::from_shape(shape) }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::accounting::training_preset;
    use crate::train::plan::RunPlan;

    fn cli(edit: impl FnOnce(&mut PlanForm)) -> Result<RunPlan, FieldErrors> {
        let mut f = PlanForm::default();
        edit(&mut f);
        f.parse(None, Labels::Cli)
    }

    fn first_error(r: Result<RunPlan, FieldErrors>) -> String {
        r.unwrap_err().remove(0).1.to_string()
    }

    #[test]
    fn an_empty_form_is_the_main_jobs_plan() {
        let plan = cli(|_| {}).unwrap();
        assert_eq!(plan, RunPlan::for_preset(training_preset("tiny").unwrap()));
        let nano = cli(|f| f.preset = "nano".into()).unwrap();
        assert_eq!(nano, RunPlan::for_preset(training_preset("nano").unwrap()));
        let short = cli(|f| f.steps = "40".into()).unwrap();
        assert_eq!((short.training.warmup_steps, short.training.eval_every), (2, 4));
        assert_eq!(cli(|f| f.precision = "bf16".into()).unwrap().training.precision, Precision::Bf16);
        let e = first_error(cli(|f| f.precision = "fp16".into()));
        assert!(e.contains("--precision") && e.contains("fp16") && e.contains("bf16"), "{e}");
        assert_eq!(cli(|_| {}).unwrap().training.attention, AttentionKernel::Fused);
        assert_eq!(cli(|f| f.attention = "naive".into()).unwrap().training.attention, AttentionKernel::Reference);
        let e = first_error(cli(|f| f.attention = "sparse".into()));
        assert!(e.contains("--attention") && e.contains("sparse") && e.contains("reference"), "{e}");
    }

    #[test]
    fn experts_turn_a_dense_model_into_its_moe_of_equal_active_flops() {
        let p = cli(|f| f.shape.num_experts = "4".into()).unwrap();
        let m = p.model.shape.moe.unwrap();
        assert_eq!((m.num_experts, m.top_k, m.d_ff_expert), (4, 2, 192));
        let moe = cli(|f| f.preset = "tiny-moe".into()).unwrap();
        assert_eq!(moe.model.shape, training_preset("tiny-moe").unwrap().shape);
        let k3 = cli(|f| {
            f.preset = "tiny-moe".into();
            f.shape.top_k = "3".into();
            f.capacity_factor = "none".into();
        })
        .unwrap();
        assert_eq!(k3.model.shape.moe.unwrap().top_k, 3);
        assert_eq!(k3.model.router.capacity_factor, None);
    }

    #[test]
    fn mistakes_are_named_in_each_front_ends_words() {
        let e = first_error(cli(|f| f.shape.top_k = "2".into()));
        assert!(e.contains("--top-k") && e.contains("--experts"), "{e}");
        let e = first_error(cli(|f| {
            f.shape.num_experts = "4".into();
            f.shape.top_k = "5".into();
        }));
        assert!(e.contains("top-k") && e.contains('5') && e.contains('4'), "{e}");
        let e = first_error(cli(|f| {
            f.shape.num_experts = "4".into();
            f.capacity_factor = "0".into();
        }));
        assert!(e.contains("capacity factor") && e.contains("positive"), "{e}");
        let e = first_error(cli(|f| f.preset = "huge".into()));
        assert!(e.contains("--preset") && e.contains("nano"), "{e}");
        let e = first_error(cli(|f| f.vocab_size = "100".into()));
        assert!(e.contains("--vocab-size") && e.contains("257"), "{e}");
        let page = PlanForm { steps: "0".into(), lr: "fast".into(), ..PlanForm::default() };
        let errors = page.parse(None, Labels::Page).unwrap_err();
        let fields: Vec<Field> = errors.iter().map(|e| e.0).collect();
        assert_eq!(fields, [Field::Steps, Field::Lr]);
        assert!(errors[0].1.to_string().contains("steps '0'"), "{errors:?}");
        let odd = PlanForm {
            preset: CUSTOM.into(),
            shape: shape_fields(&training_preset("nano").unwrap().shape),
            ..PlanForm::default()
        };
        let odd = PlanForm { shape: ShapeForm { num_heads: "64".into(), ..odd.shape.clone() }, ..odd };
        let errors = odd.parse(None, Labels::Page).unwrap_err();
        assert_eq!(errors[0].0, Field::Shape(ShapeField::NumHeads));
    }
}
