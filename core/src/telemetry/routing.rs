//! A mixture-of-experts run's router as plain numbers: what each step logs, and where a sequence's
//! tokens were routed. The model computes them ([`crate::model::moe`]); the CLI, the page and its
//! worker show them, so they need no burn.

use serde::{Deserialize, Serialize};

/// The router's statistics of one training step, over the step's batch.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MoeMetrics {
    /// Switch's E·Σ fᵢ·Pᵢ averaged over the MoE blocks, before its weight α (1 = balanced).
    pub balance_loss: f64,
    /// The router z-loss averaged over the MoE blocks, before its weight β.
    pub z_loss: f64,
    /// (token, choice) pairs dropped for lack of capacity, all MoE blocks together.
    pub dropped: u64,
    /// The same as a share of the pairs routed.
    pub dropped_fraction: f64,
    /// Per MoE block, the share of the routed pairs each expert received (each row sums to 1).
    pub expert_fraction: Vec<Vec<f64>>,
}

impl MoeMetrics {
    /// Parses the per-block summaries read back from the device: for each block, its experts'
    /// fractions, the balance loss, the z-loss and the dropped pairs (`num_experts + 3` values).
    /// `routed` is the pairs each block routed (tokens × k).
    pub fn from_summaries(values: &[f32], num_experts: usize, routed: usize) -> Option<Self> {
        let width = num_experts + 3;
        if values.is_empty() || values.len() % width != 0 {
            return None;
        }
        let blocks: Vec<&[f32]> = values.chunks(width).collect();
        let n = blocks.len() as f64;
        let mean = |i: usize| blocks.iter().map(|b| f64::from(b[i])).sum::<f64>() / n;
        let dropped: f64 = blocks.iter().map(|b| f64::from(b[num_experts + 2])).sum();
        Some(Self {
            balance_loss: mean(num_experts),
            z_loss: mean(num_experts + 1),
            dropped: dropped.round() as u64,
            dropped_fraction: dropped / (routed as f64 * n),
            expert_fraction: blocks.iter().map(|b| b[..num_experts].iter().map(|&v| f64::from(v)).collect()).collect(),
        })
    }

    /// The largest expert's share over the balanced share 1/E, worst block (1 = perfectly even).
    pub fn max_load(&self) -> f64 {
        self.expert_fraction
            .iter()
            .map(|row| row.iter().cloned().fold(0.0, f64::max) * row.len() as f64)
            .fold(0.0, f64::max)
    }
}

/// Where each token of one sequence went in one MoE block.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BlockRoutes {
    /// The block's index among all blocks (0-based).
    pub layer: usize,
    /// `[token][k]`: the chosen experts, most probable first.
    pub experts: Vec<Vec<usize>>,
    /// `[token][k]`: their renormalized weights.
    pub weights: Vec<Vec<f32>>,
    /// `[token][k]`: whether the expert had room (false: dropped for capacity).
    pub kept: Vec<Vec<bool>>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn summaries_parse_per_block() {
        // Two blocks of 2 experts: [f0, f1, balance, z, dropped].
        let v = [0.75, 0.25, 1.25, 2.0, 3.0, 0.5, 0.5, 1.0, 4.0, 1.0];
        let m = MoeMetrics::from_summaries(&v, 2, 8).unwrap();
        assert_eq!(m.expert_fraction, vec![vec![0.75, 0.25], vec![0.5, 0.5]]);
        assert_eq!((m.balance_loss, m.z_loss, m.dropped), (1.125, 3.0, 4));
        assert_eq!(m.dropped_fraction, 4.0 / 16.0);
        assert_eq!(m.max_load(), 1.5);
        assert!(MoeMetrics::from_summaries(&v[..7], 2, 8).is_none());
    }
}
