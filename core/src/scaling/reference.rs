//! The published laws the lab plots beside the student's own.
//!
//! * Hoffmann et al. 2022 ("Chinchilla"): the fitted L(N, D) is [`Law::CHINCHILLA`]; its rule
//!   of thumb is ≈ 20 training tokens per parameter (their table 3: 67B → 1.5T, 175B → 3.7T…).
//! * Kaplan et al. 2020 ("Scaling Laws for Neural Language Models"): L(N) = (N_c/N)^α_N with
//!   N_c = 8.8e13, α_N = 0.076 (eq. 1.1); L(D) = (D_c/D)^α_D with D_c = 5.4e13, α_D = 0.095
//!   (eq. 1.2); compute-efficient N_opt ≈ 1.3e9·(C_min / 1 PF-day)^0.73 (figure 14, eq. 6.1).
//!   Their N excludes embeddings and their losses are on WebText2 with GPT-2's tokenizer: the
//!   curves are for shape, not for absolute values.

use super::law::FLOPS_PER_PARAM_TOKEN;

pub use super::law::Law;

/// Chinchilla's tokens per parameter at the compute optimum (rule of thumb).
pub const CHINCHILLA_TOKENS_PER_PARAM: f64 = 20.0;

/// Kaplan et al.'s exponents and constants.
pub const KAPLAN_ALPHA_N: f64 = 0.076;
pub const KAPLAN_N_C: f64 = 8.8e13;
pub const KAPLAN_ALPHA_D: f64 = 0.095;
pub const KAPLAN_D_C: f64 = 5.4e13;
/// N_opt ∝ C^0.73, with N_opt = 1.3e9 at 1 PF-day.
pub const KAPLAN_N_EXPONENT: f64 = 0.73;
pub const KAPLAN_N_AT_PF_DAY: f64 = 1.3e9;
/// One petaFLOP/s-day in FLOPs: 1e15 × 86,400.
pub const PF_DAY: f64 = 8.64e19;

/// N and D by Chinchilla's rule of thumb: D = 20·N and C = 6·N·D, so N = √(C / 120).
pub fn chinchilla_rule(flops: f64) -> (f64, f64) {
    let n = (flops / (FLOPS_PER_PARAM_TOKEN * CHINCHILLA_TOKENS_PER_PARAM)).sqrt();
    (n, CHINCHILLA_TOKENS_PER_PARAM * n)
}

/// N and D by Kaplan et al.'s compute-efficient frontier (D = C / 6N).
pub fn kaplan_optimum(flops: f64) -> (f64, f64) {
    let n = KAPLAN_N_AT_PF_DAY * (flops / PF_DAY).powf(KAPLAN_N_EXPONENT);
    (n, flops / (FLOPS_PER_PARAM_TOKEN * n))
}

/// Kaplan's L(N): the loss of N (non-embedding) parameters trained to convergence.
pub fn kaplan_loss_of_params(params: f64) -> f64 {
    (KAPLAN_N_C / params).powf(KAPLAN_ALPHA_N)
}

/// Kaplan's L(D): the loss of a large model trained on D tokens with early stopping.
pub fn kaplan_loss_of_tokens(tokens: f64) -> f64 {
    (KAPLAN_D_C / tokens).powf(KAPLAN_ALPHA_D)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn published_numbers() {
        // Chinchilla: 70B parameters on 1.4T tokens at 20 tokens per parameter, C = 5.88e23.
        let (n, d) = chinchilla_rule(6.0 * 70e9 * 1.4e12);
        assert!((n / 70e9 - 1.0).abs() < 1e-9 && (d / 1.4e12 - 1.0).abs() < 1e-9);
        // Kaplan: 1.3e9 parameters at one PF-day; ×10 compute → ×10^0.73 parameters.
        assert!((kaplan_optimum(PF_DAY).0 / 1.3e9 - 1.0).abs() < 1e-12);
        assert!((kaplan_optimum(10.0 * PF_DAY).0 / 1.3e9 - 10f64.powf(0.73)).abs() < 1e-9);
        assert!((kaplan_loss_of_params(KAPLAN_N_C) - 1.0).abs() < 1e-12);
    }
}
