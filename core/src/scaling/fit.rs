//! Least squares in log space: the IsoFLOP parabola (Hoffmann et al.'s approach 2) and the power
//! laws N_opt ∝ C^a, D_opt ∝ C^b through its minima. Small dense problems: normal equations on
//! centred x, solved exactly, with the coefficients' covariance for the uncertainty.

use serde::{Deserialize, Serialize};

/// Fewest runs a budget's parabola is fitted through (three coefficients); with exactly three it
/// passes through them and has no uncertainty.
pub const MIN_PARABOLA_POINTS: usize = 3;

/// y = c₀ + c₁·(x − x̄) + c₂·(x − x̄)², fitted by least squares.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Parabola {
    /// The mean x the polynomial is centred on (conditioning).
    pub x_mean: f64,
    pub c: [f64; 3],
    /// Covariance of the coefficients (residual variance × (XᵀX)⁻¹); zeros with three points.
    pub cov: [[f64; 3]; 3],
    pub x_min: f64,
    pub x_max: f64,
}

impl Parabola {
    pub fn fit(points: &[(f64, f64)]) -> Result<Self, String> {
        let n = points.len();
        if n < MIN_PARABOLA_POINTS {
            return Err(format!("a parabola needs at least {MIN_PARABOLA_POINTS} runs; there are {n}"));
        }
        let x_mean = points.iter().map(|p| p.0).sum::<f64>() / n as f64;
        let rows: Vec<[f64; 3]> = points.iter().map(|&(x, _)| [1.0, x - x_mean, (x - x_mean).powi(2)]).collect();
        let mut xtx = [[0.0; 3]; 3];
        let mut xty = [0.0; 3];
        for (r, &(_, y)) in rows.iter().zip(points) {
            for i in 0..3 {
                xty[i] += r[i] * y;
                for j in 0..3 {
                    xtx[i][j] += r[i] * r[j];
                }
            }
        }
        let inv = invert3(&xtx)
            .ok_or("the runs' sizes are not distinct enough to fit a parabola (need three different N)")?;
        let c: [f64; 3] = std::array::from_fn(|i| (0..3).map(|j| inv[i][j] * xty[j]).sum());
        let rss: f64 =
            rows.iter().zip(points).map(|(r, &(_, y))| (y - (c[0] + c[1] * r[1] + c[2] * r[2])).powi(2)).sum();
        let s2 = if n > 3 { rss / (n - 3) as f64 } else { 0.0 };
        let cov = inv.map(|row| row.map(|v| v * s2));
        let x_min = points.iter().map(|p| p.0).fold(f64::INFINITY, f64::min);
        let x_max = points.iter().map(|p| p.0).fold(f64::NEG_INFINITY, f64::max);
        Ok(Self { x_mean, c, cov, x_min, x_max })
    }

    pub fn at(&self, x: f64) -> f64 {
        let u = x - self.x_mean;
        self.c[0] + self.c[1] * u + self.c[2] * u * u
    }

    /// The vertex x* = x̄ − c₁/(2c₂) and its standard error (the delta method), if the parabola
    /// opens upward (a minimum); `None` if it has none.
    pub fn minimum(&self) -> Option<(f64, f64)> {
        if !(self.c[2] > 0.0) {
            return None;
        }
        let (c1, c2) = (self.c[1], self.c[2]);
        let u = -c1 / (2.0 * c2);
        // ∂u/∂c₁ = −1/(2c₂), ∂u/∂c₂ = c₁/(2c₂²).
        let j = [0.0, -1.0 / (2.0 * c2), c1 / (2.0 * c2 * c2)];
        let var: f64 = (0..3).map(|i| (0..3).map(|k| j[i] * self.cov[i][k] * j[k]).sum::<f64>()).sum();
        Some((self.x_mean + u, var.max(0.0).sqrt()))
    }
}

fn invert3(m: &[[f64; 3]; 3]) -> Option<[[f64; 3]; 3]> {
    let det = m[0][0] * (m[1][1] * m[2][2] - m[1][2] * m[2][1]) - m[0][1] * (m[1][0] * m[2][2] - m[1][2] * m[2][0])
        + m[0][2] * (m[1][0] * m[2][1] - m[1][1] * m[2][0]);
    let scale = m.iter().flatten().map(|v| v.abs()).fold(0.0, f64::max).powi(3);
    if !(det.abs() > 1e-12 * scale) {
        return None;
    }
    let c = |r1: usize, c1: usize, r2: usize, c2: usize| m[r1][c1] * m[r2][c2] - m[r1][c2] * m[r2][c1];
    let adj = [
        [c(1, 1, 2, 2), -c(0, 1, 2, 2), c(0, 1, 1, 2)],
        [-c(1, 0, 2, 2), c(0, 0, 2, 2), -c(0, 0, 1, 2)],
        [c(1, 0, 2, 1), -c(0, 0, 2, 1), c(0, 0, 1, 1)],
    ];
    Some(adj.map(|row| row.map(|v| v / det)))
}

/// y = k·x^p, fitted as ln y = ln k + p·ln x.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct PowerLaw {
    pub coefficient: f64,
    pub exponent: f64,
    /// Standard error of the exponent (None with two points: the line passes through both).
    pub exponent_se: Option<f64>,
}

impl PowerLaw {
    pub fn fit(points: &[(f64, f64)]) -> Result<Self, String> {
        let n = points.len();
        if n < 2 {
            return Err(format!(
                "a power law needs optima at two or more budgets; there {} {n}",
                if n == 1 { "is" } else { "are" }
            ));
        }
        if let Some(p) = points.iter().find(|p| !(p.0 > 0.0 && p.1 > 0.0)) {
            return Err(format!("a power law is fitted in log space: ({}, {}) is not positive", p.0, p.1));
        }
        let xs: Vec<f64> = points.iter().map(|p| p.0.ln()).collect();
        let ys: Vec<f64> = points.iter().map(|p| p.1.ln()).collect();
        let (mx, my) = (xs.iter().sum::<f64>() / n as f64, ys.iter().sum::<f64>() / n as f64);
        let sxx: f64 = xs.iter().map(|x| (x - mx).powi(2)).sum();
        if !(sxx > 0.0) {
            return Err("a power law needs at least two different budgets".into());
        }
        let sxy: f64 = xs.iter().zip(&ys).map(|(x, y)| (x - mx) * (y - my)).sum();
        let p = sxy / sxx;
        let ln_k = my - p * mx;
        let exponent_se = (n > 2).then(|| {
            let rss: f64 = xs.iter().zip(&ys).map(|(x, y)| (y - ln_k - p * x).powi(2)).sum();
            (rss / (n - 2) as f64 / sxx).sqrt()
        });
        Ok(Self { coefficient: ln_k.exp(), exponent: p, exponent_se })
    }

    pub fn at(&self, x: f64) -> f64 {
        self.coefficient * x.powf(self.exponent)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parabola_recovers_a_planted_minimum() {
        // L = 3 + 0.2·(ln N − ln 2e5)², sampled at five sizes a factor 2 apart, with noise ±0.002.
        let x0 = (2e5f64).ln();
        let noise = [0.002, -0.001, 0.0015, -0.002, 0.0005];
        let pts: Vec<(f64, f64)> = (0..5)
            .map(|i| {
                let x = (5e4f64 * 2f64.powi(i)).ln();
                (x, 3.0 + 0.2 * (x - x0).powi(2) + noise[i as usize])
            })
            .collect();
        let p = Parabola::fit(&pts).unwrap();
        let (x, se) = p.minimum().unwrap();
        assert!((x.exp() / 2e5 - 1.0).abs() < 0.05, "N_opt {}", x.exp());
        assert!(se > 0.0 && se < 0.1, "{se}");
        // Exact data: exact vertex, zero uncertainty with three points.
        let exact: Vec<(f64, f64)> = [1.0, 2.0, 4.0].iter().map(|&x: &f64| (x, (x - 2.5).powi(2))).collect();
        let p = Parabola::fit(&exact).unwrap();
        assert_eq!(p.minimum().map(|m| ((m.0 * 1e9).round() / 1e9, m.1)), Some((2.5, 0.0)));
        // Concave: no minimum.
        let cap: Vec<(f64, f64)> = [1.0, 2.0, 3.0].iter().map(|&x: &f64| (x, -(x * x))).collect();
        assert_eq!(Parabola::fit(&cap).unwrap().minimum(), None);
        assert!(Parabola::fit(&exact[..2]).unwrap_err().contains("at least 3"));
    }

    #[test]
    fn power_law_recovers_its_exponent() {
        let pts: Vec<(f64, f64)> = [1e10, 1e11, 1e12, 1e13].iter().map(|&c: &f64| (c, 0.1 * c.powf(0.5))).collect();
        let p = PowerLaw::fit(&pts).unwrap();
        assert!((p.exponent - 0.5).abs() < 1e-12 && (p.coefficient / 0.1 - 1.0).abs() < 1e-9);
        assert!(p.exponent_se.unwrap() < 1e-9);
        assert!(PowerLaw::fit(&pts[..1]).unwrap_err().contains("two or more"));
    }
}
