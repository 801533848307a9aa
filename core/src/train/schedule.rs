//! Linear warm-up then cosine decay to a floor (CS336 `get_lr_cosine_schedule`).

/// The learning rate at step `t`: α_max·t/T_w during warm-up (t < T_w), then
/// α_min + ½(1 + cos(π·(t − T_w)/(T_c − T_w)))·(α_max − α_min) until T_c, then α_min.
pub fn cosine_lr(t: usize, max_lr: f64, min_lr: f64, warmup_steps: usize, cosine_steps: usize) -> f64 {
    if t < warmup_steps {
        return max_lr * t as f64 / warmup_steps as f64;
    }
    if t > cosine_steps {
        return min_lr;
    }
    let span = (cosine_steps - warmup_steps).max(1) as f64;
    let progress = (t - warmup_steps) as f64 / span;
    min_lr + 0.5 * (1.0 + (std::f64::consts::PI * progress).cos()) * (max_lr - min_lr)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// All 25 values of the course test (tests/fixtures/cs336/optimizer/cosine_schedule.json).
    #[test]
    fn matches_the_course() {
        let json: serde_json::Value =
            serde_json::from_str(include_str!("../../../tests/fixtures/cs336/optimizer/cosine_schedule.json")).unwrap();
        let expected = json["expected_lrs"].as_array().expect("a list of learning rates");
        assert_eq!(expected.len(), 25);
        for (t, want) in expected.iter().enumerate() {
            let got = cosine_lr(t, 1.0, 0.1, 7, 21);
            let want = want.as_f64().unwrap();
            assert!((got - want).abs() <= 1e-7 * want.abs(), "t={t}: {got} vs {want}");
        }
    }
}
