//! Training data: a token array (a `.bin` file's bytes, memory-mapped natively or held in memory in
//! the browser) and CS336's `get_batch`: random windows, targets shifted by one.

use burn::tensor::backend::Backend;
use burn::tensor::{Int, Tensor, TensorData};
use rand::Rng;

use super::TrainError;

/// Token ids stored as little-endian `u16` or `u32` (the `.bin` layout), read in place so a
/// memory-mapped file of any size costs no copy.
#[derive(Debug, Clone, Copy)]
pub struct TokenSlice<'a> {
    bytes: &'a [u8],
    width: usize,
    /// Where the tokens came from (a file name), for error messages.
    name: &'a str,
}

impl<'a> TokenSlice<'a> {
    /// `width` is 2 (`uint16`) or 4 (`uint32`); the byte length must be a multiple of it.
    pub fn new(name: &'a str, bytes: &'a [u8], width: usize) -> Result<Self, TrainError> {
        if width != 2 && width != 4 {
            return Err(TrainError::Data { file: name.into(), message: format!("id width {width}, expected 2 or 4") });
        }
        if bytes.len() % width != 0 {
            return Err(TrainError::Data {
                file: name.into(),
                message: format!("{} bytes is not a whole number of {width}-byte ids", bytes.len()),
            });
        }
        Ok(Self { bytes, width, name })
    }

    pub fn len(&self) -> usize {
        self.bytes.len() / self.width
    }

    pub fn is_empty(&self) -> bool {
        self.bytes.is_empty()
    }

    pub fn name(&self) -> &str {
        self.name
    }

    pub fn get(&self, i: usize) -> u32 {
        let at = i * self.width;
        if self.width == 2 {
            u32::from(u16::from_le_bytes([self.bytes[at], self.bytes[at + 1]]))
        } else {
            u32::from_le_bytes([self.bytes[at], self.bytes[at + 1], self.bytes[at + 2], self.bytes[at + 3]])
        }
    }

    /// Tokens `[start, end)` as a slice of the same storage.
    pub fn range(&self, start: usize, end: usize) -> TokenSlice<'a> {
        TokenSlice { bytes: &self.bytes[start * self.width..end * self.width], width: self.width, name: self.name }
    }

    /// The largest id, to check the data against the model's vocabulary (one pass).
    pub fn max_id(&self) -> Option<u32> {
        (0..self.len()).map(|i| self.get(i)).max()
    }

    /// Refuses data that cannot fill one training window of `context_length` inputs plus the
    /// shifted target.
    pub fn check_fits(&self, context_length: usize) -> Result<(), TrainError> {
        if self.len() < context_length + 1 {
            return Err(TrainError::TooShort {
                file: self.name.into(),
                tokens: self.len(),
                needed: context_length + 1,
                why: "one window (context length + 1 for the shifted target)",
            });
        }
        Ok(())
    }
}

/// Splits off the last `fraction` of the tokens for validation (contiguous, so no window of the
/// validation split was ever seen in training). Both parts keep at least one window.
pub fn split_validation<'a>(
    tokens: TokenSlice<'a>,
    fraction: f64,
    context_length: usize,
) -> Result<(TokenSlice<'a>, TokenSlice<'a>), TrainError> {
    let n = tokens.len();
    let window = context_length + 1;
    if n < 2 * window {
        return Err(TrainError::TooShort {
            file: tokens.name.into(),
            tokens: n,
            needed: 2 * window,
            why: "one window for training and one held out for validation",
        });
    }
    let val = ((n as f64 * fraction).round() as usize).clamp(window, n - window);
    Ok((tokens.range(0, n - val), tokens.range(n - val, n)))
}

/// Window starts for one batch: uniform in [0, n − m − 1] (inclusive), so every window and its
/// shifted target fit.
pub fn batch_starts<R: Rng>(n: usize, context_length: usize, batch_size: usize, rng: &mut R) -> Vec<usize> {
    (0..batch_size).map(|_| rng.random_range(0..=n - context_length - 1)).collect()
}

/// The ids of a batch on the host: inputs `x[i] = t[s_i .. s_i + m]`, targets
/// `y[i] = t[s_i + 1 .. s_i + m + 1]`, each flattened row-major `[batch, m]`.
pub fn batch_ids(tokens: &TokenSlice<'_>, starts: &[usize], context_length: usize) -> (Vec<i64>, Vec<i64>) {
    let mut x = Vec::with_capacity(starts.len() * context_length);
    let mut y = Vec::with_capacity(starts.len() * context_length);
    for &s in starts {
        x.extend((s..s + context_length).map(|i| i64::from(tokens.get(i))));
        y.extend((s + 1..s + context_length + 1).map(|i| i64::from(tokens.get(i))));
    }
    (x, y)
}

/// CS336's `get_batch`: `batch_size` random windows of `context_length` tokens and their targets.
///
/// # Shapes
/// → inputs `[batch, m]`, targets `[batch, m]`.
pub fn get_batch<B: Backend, R: Rng>(
    tokens: &TokenSlice<'_>,
    batch_size: usize,
    context_length: usize,
    rng: &mut R,
    device: &B::Device,
) -> (Tensor<B, 2, Int>, Tensor<B, 2, Int>) {
    let starts = batch_starts(tokens.len(), context_length, batch_size, rng);
    batch_tensors(tokens, &starts, context_length, device)
}

/// The windows starting at `starts` as input and target tensors on `device`.
///
/// # Shapes
/// → inputs `[starts.len(), m]`, targets `[starts.len(), m]`.
pub fn batch_tensors<B: Backend>(
    tokens: &TokenSlice<'_>,
    starts: &[usize],
    context_length: usize,
    device: &B::Device,
) -> (Tensor<B, 2, Int>, Tensor<B, 2, Int>) {
    let (x, y) = batch_ids(tokens, starts, context_length);
    let shape = [starts.len(), context_length];
    (Tensor::from_data(TensorData::new(x, shape), device), Tensor::from_data(TensorData::new(y, shape), device))
}

/// The entropy of the tokens' unigram distribution, in nats per token: the loss of the best model
/// that ignores context. A trained language model should go well below it.
pub fn unigram_entropy(tokens: &TokenSlice<'_>) -> f64 {
    let mut counts: std::collections::HashMap<u32, u64> = std::collections::HashMap::new();
    for i in 0..tokens.len() {
        *counts.entry(tokens.get(i)).or_default() += 1;
    }
    let n = tokens.len() as f64;
    // Summed in a fixed order (a HashMap's differs from run to run), so the CLI and the page, two
    // processes, print the same value to the last bit.
    let mut counts: Vec<u64> = counts.into_values().collect();
    counts.sort_unstable();
    counts.iter().map(|&c| c as f64 / n).map(|p| -p * p.ln()).sum()
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    fn bytes(ids: &[u16]) -> Vec<u8> {
        ids.iter().flat_map(|i| i.to_le_bytes()).collect()
    }

    /// CS336's test_get_batch: starts cover [0, n − m − 1] uniformly, targets are inputs + 1.
    #[test]
    fn get_batch_semantics() {
        let ids: Vec<u16> = (0..100).collect();
        let b = bytes(&ids);
        let tokens = TokenSlice::new("arange", &b, 2).unwrap();
        let m = 7;
        let mut rng = ChaCha8Rng::seed_from_u64(0);
        let mut seen = vec![0usize; 100];
        for _ in 0..1000 {
            let starts = batch_starts(tokens.len(), m, 32, &mut rng);
            let (x, y) = batch_ids(&tokens, &starts, m);
            for (row, &s) in starts.iter().enumerate() {
                seen[s] += 1;
                for j in 0..m {
                    assert_eq!(x[row * m + j], (s + j) as i64);
                    assert_eq!(y[row * m + j], x[row * m + j] + 1);
                }
            }
        }
        let last = 100 - m - 1;
        assert!(seen[last] > 0 && seen[last + 1..].iter().all(|&c| c == 0), "max start is n - m - 1");
        let expected = 32_000.0 / (last + 1) as f64;
        for (s, &c) in seen[..=last].iter().enumerate() {
            // The course checks the mean start against (n - m - 1)/2 within 1%; here each start
            // is within 5 standard deviations of uniform.
            assert!((c as f64 - expected).abs() < 5.0 * expected.sqrt(), "start {s}: {c} vs {expected}");
        }
    }

    #[test]
    fn too_short_and_split() {
        let b = bytes(&[1, 2, 3]);
        let t = TokenSlice::new("tiny.bin", &b, 2).unwrap();
        let err = t.check_fits(3).unwrap_err().to_string();
        assert!(err.contains("tiny.bin") && err.contains("3 tokens") && err.contains('4'), "{err}");
        let b = bytes(&(0..1000).collect::<Vec<u16>>());
        let t = TokenSlice::new("a", &b, 2).unwrap();
        let (train, val) = split_validation(t, 0.1, 16).unwrap();
        assert_eq!((train.len(), val.len()), (900, 100));
        assert_eq!(val.get(0), 900);
        assert!(TokenSlice::new("odd.bin", &b[..3], 2).unwrap_err().to_string().contains("odd.bin"));
    }

    #[test]
    fn unigram_entropy_by_hand() {
        // Four distinct tokens equally often: ln 4. One token: 0.
        let b = bytes(&[1, 2, 3, 4, 4, 3, 2, 1]);
        assert!((unigram_entropy(&TokenSlice::new("a", &b, 2).unwrap()) - 4f64.ln()).abs() < 1e-12);
        let b = bytes(&[7, 7, 7]);
        assert_eq!(unigram_entropy(&TokenSlice::new("a", &b, 2).unwrap()), 0.0);
    }
}
