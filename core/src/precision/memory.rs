//! Tensor memory: how many bytes a tensor of a given shape and dtype takes.

use serde::Serialize;

use super::format::Format;
use crate::units::format_bytes;
use crate::InputError;

/// The memory of one dense tensor.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TensorMemory {
    pub shape: Vec<u64>,
    pub format: Format,
    pub elements: u64,
    pub bytes_per_element: u64,
    pub bytes: u64,
    /// `bytes` in binary units, e.g. `"2.25 GiB"`.
    pub human: String,
}

/// Bytes of a dense tensor: product of the shape × the dtype's element size (tf32 is stored as 4
/// bytes). A 4×8 fp32 tensor takes 128 bytes.
pub fn tensor_bytes(shape: &[u64], format: Format) -> TensorMemory {
    let elements = shape.iter().product::<u64>();
    let bytes_per_element = format.storage_bytes();
    let bytes = elements.saturating_mul(bytes_per_element);
    TensorMemory {
        shape: shape.to_vec(),
        format,
        elements,
        bytes_per_element,
        bytes,
        human: format_bytes(bytes as f64),
    }
}

/// Reads a shape written as `4x8`, `4×8`, `4, 8` or `[4, 8]`. Every dimension must be a whole
/// number of at least 1.
pub fn parse_shape(text: &str) -> Result<Vec<u64>, InputError> {
    let inner = text.trim().trim_start_matches(['[', '(']).trim_end_matches([']', ')']);
    let expected = "dimensions ≥ 1 separated by x or commas, e.g. 4x8 or [4, 8]";
    let dims: Result<Vec<u64>, _> = inner.split(['x', 'X', '×', ',', '*']).map(|d| d.trim().parse::<u64>()).collect();
    match dims {
        Ok(d)
            if !d.is_empty()
                && d.iter().all(|&n| n >= 1)
                && d.iter().try_fold(1u64, |a, &n| a.checked_mul(n)).is_some() =>
        {
            Ok(d)
        }
        _ => Err(InputError::new("shape", text, expected)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lecture_tensor_sizes() {
        assert_eq!(tensor_bytes(&[4, 8], Format::Fp32).bytes, 128);
        assert_eq!(tensor_bytes(&[4, 8], Format::Bf16).bytes, 64);
        assert_eq!(tensor_bytes(&[4, 8], Format::Fp8E4M3).bytes, 32);
        let gpt3_ffn = tensor_bytes(&[12288 * 4, 12288], Format::Fp32);
        assert_eq!(gpt3_ffn.bytes, 2_415_919_104);
        assert_eq!(gpt3_ffn.human, "2.25 GiB");
    }

    #[test]
    fn shapes() {
        assert_eq!(parse_shape("4x8").unwrap(), vec![4, 8]);
        assert_eq!(parse_shape("[2, 3, 4]").unwrap(), vec![2, 3, 4]);
        assert_eq!(parse_shape("4×8").unwrap(), vec![4, 8]);
        for bad in ["", "4x", "0x8", "-1", "a,b", "99999999999x99999999999"] {
            assert!(parse_shape(bad).is_err(), "{bad}");
        }
    }
}
