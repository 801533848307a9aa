//! Weights in and out of a module by name: the names are the module's field paths, which are
//! CS336's state-dict keys (`layers.0.attn.q_proj.weight` …), and every tensor keeps torch's layout,
//! so a safetensors file written here loads into the course's PyTorch model and back.
//!
//! Reading weights off the device is asynchronous ([`read_state_dict`]) so the browser can save
//! checkpoints too; loading is a pure device upload.

use std::collections::{BTreeMap, HashMap};

use burn::module::{Module, ModuleMapper, ModuleVisitor, Param, ParamId};
use burn::tensor::backend::Backend;
use burn::tensor::{Tensor, TensorData};
use safetensors::tensor::{Dtype, TensorView};
use safetensors::SafeTensors;
use thiserror::Error;

use crate::precision::{decode, Format};

/// A tensor on the host: its shape and row-major f32 values.
#[derive(Debug, Clone, PartialEq)]
pub struct HostTensor {
    pub shape: Vec<usize>,
    pub data: Vec<f32>,
}

/// Named host tensors, sorted by name.
pub type StateDict = BTreeMap<String, HostTensor>;

/// What can be wrong with a weights file or a state dict; each message names the file and key.
#[derive(Debug, Error, Clone, PartialEq)]
pub enum WeightsError {
    #[error("{file}: not a safetensors file ({message})")]
    Malformed { file: String, message: String },
    #[error("{file}: tensor {key} is {dtype}; expected F32, F16 or BF16")]
    Dtype { file: String, key: String, dtype: String },
    #[error("{file}: tensor {key} has shape {found:?}, the model expects {expected:?}")]
    Shape { file: String, key: String, found: Vec<usize>, expected: Vec<usize> },
    #[error("{file}: missing tensor(s) the model needs: {}", .keys.join(", "))]
    Missing { file: String, keys: Vec<String> },
    #[error("{file}: tensor(s) this model does not have: {} (a checkpoint of another architecture?)", .keys.join(", "))]
    Unexpected { file: String, keys: Vec<String> },
    #[error("{file}: tensor {key} holds a non-finite value ({value}) at index {index}")]
    NonFinite { file: String, key: String, index: usize, value: f32 },
    #[error("reading tensor {key} from the device failed: {message}")]
    Device { key: String, message: String },
}

/// Every float parameter of a module with its dotted path name and id, flattened to 1-D (no
/// device reads).
///
/// # Shapes
/// each → (`name`, id, torch shape, `[numel]`).
pub fn named_params<B: Backend, M: Module<B>>(module: &M) -> Vec<(String, ParamId, Vec<usize>, Tensor<B, 1>)> {
    struct Collect<B: Backend> {
        path: Vec<String>,
        out: Vec<(String, ParamId, Vec<usize>, Tensor<B, 1>)>,
    }
    impl<B: Backend> ModuleVisitor<B> for Collect<B> {
        fn enter_module(&mut self, name: &str, _: &str) {
            self.path.push(name.to_string());
        }
        fn exit_module(&mut self, _: &str, _: &str) {
            self.path.pop();
        }
        fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<B, D>>) {
            let t = param.val();
            let shape = t.dims().to_vec();
            let n: usize = shape.iter().product();
            self.out.push((self.path.join("."), param.id, shape, t.reshape([n])));
        }
    }
    let mut c = Collect { path: Vec::new(), out: Vec::new() };
    module.visit(&mut c);
    c.out
}

/// Reads every parameter to the host, asynchronously (one read per tensor).
pub async fn read_state_dict<B: Backend, M: Module<B>>(module: &M) -> Result<StateDict, WeightsError> {
    let mut out = StateDict::new();
    for (name, _, shape, t) in named_params(module) {
        let host = read_host(t, shape).await.map_err(|message| WeightsError::Device { key: name.clone(), message })?;
        out.insert(name, host);
    }
    Ok(out)
}

/// One device tensor to the host, asynchronously.
///
/// # Shapes
/// `[numel]` → a host tensor of `shape`.
pub async fn read_host<B: Backend>(t: Tensor<B, 1>, shape: Vec<usize>) -> Result<HostTensor, String> {
    let data = t.into_data_async().await.map_err(|e| format!("{e:?}"))?;
    let data = data.convert::<f32>().into_vec::<f32>().map_err(|e| format!("{e:?}"))?;
    Ok(HostTensor { shape, data })
}

/// Replaces every parameter of `module` with the tensor of the same name; the key sets must match
/// exactly and every shape must agree. `file` names the source in errors.
pub fn load_state_dict<B: Backend, M: Module<B>>(
    module: M,
    weights: &StateDict,
    file: &str,
) -> Result<M, WeightsError> {
    let expected: Vec<(String, Vec<usize>)> =
        named_params(&module).into_iter().map(|(name, _, shape, _)| (name, shape)).collect();
    let missing: Vec<String> =
        expected.iter().filter(|(n, _)| !weights.contains_key(n)).map(|(n, _)| n.clone()).collect();
    if !missing.is_empty() {
        return Err(WeightsError::Missing { file: file.into(), keys: missing });
    }
    let known: HashMap<&str, &Vec<usize>> = expected.iter().map(|(n, s)| (n.as_str(), s)).collect();
    let unexpected: Vec<String> = weights.keys().filter(|k| !known.contains_key(k.as_str())).cloned().collect();
    if !unexpected.is_empty() {
        return Err(WeightsError::Unexpected { file: file.into(), keys: unexpected });
    }
    for (name, shape) in &expected {
        let found = &weights[name].shape;
        if found != shape {
            return Err(WeightsError::Shape {
                file: file.into(),
                key: name.clone(),
                found: found.clone(),
                expected: shape.clone(),
            });
        }
    }
    struct Replace<'a> {
        path: Vec<String>,
        weights: &'a StateDict,
    }
    impl<B: Backend> ModuleMapper<B> for Replace<'_> {
        fn enter_module(&mut self, name: &str, _: &str) {
            self.path.push(name.to_string());
        }
        fn exit_module(&mut self, _: &str, _: &str) {
            self.path.pop();
        }
        fn map_float<const D: usize>(&mut self, param: Param<Tensor<B, D>>) -> Param<Tensor<B, D>> {
            let (id, old, mapper) = param.consume();
            let host = &self.weights[&self.path.join(".")];
            let new = Tensor::<B, D>::from_data(TensorData::new(host.data.clone(), host.shape.clone()), &old.device())
                .set_require_grad(old.is_require_grad());
            Param::from_mapped_value(id, new, mapper)
        }
    }
    Ok(module.map(&mut Replace { path: Vec::new(), weights }))
}

/// A state dict as safetensors bytes (F32, torch shapes), with string metadata in the header.
pub fn to_safetensors(weights: &StateDict, metadata: Option<HashMap<String, String>>) -> Vec<u8> {
    let bytes: Vec<(String, Vec<u8>, Vec<usize>)> = weights
        .iter()
        .map(|(k, t)| (k.clone(), t.data.iter().flat_map(|v| v.to_le_bytes()).collect(), t.shape.clone()))
        .collect();
    let views = bytes.iter().map(|(k, b, s)| {
        (k.as_str(), TensorView::new(Dtype::F32, s.clone(), b).expect("shape and byte length agree by construction"))
    });
    safetensors::serialize(views, metadata).expect("names are unique and the header is small")
}

/// Parses safetensors bytes into a state dict (F32, F16 and BF16 tensors, widened exactly to f32)
/// and the header's metadata. Non-finite values are refused: a checkpoint with NaNs is corrupt.
pub fn from_safetensors(file: &str, bytes: &[u8]) -> Result<(StateDict, HashMap<String, String>), WeightsError> {
    let malformed =
        |e: safetensors::SafeTensorError| WeightsError::Malformed { file: file.into(), message: e.to_string() };
    let st = SafeTensors::deserialize(bytes).map_err(malformed)?;
    let (_, meta) = SafeTensors::read_metadata(bytes).map_err(malformed)?;
    let mut out = StateDict::new();
    for (key, view) in st.tensors() {
        let raw = view.data();
        let data: Vec<f32> = match view.dtype() {
            Dtype::F32 => raw.chunks_exact(4).map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]])).collect(),
            Dtype::F16 => widen(raw, Format::Fp16),
            Dtype::BF16 => widen(raw, Format::Bf16),
            other => return Err(WeightsError::Dtype { file: file.into(), key, dtype: format!("{other:?}") }),
        };
        if let Some((index, &value)) = data.iter().enumerate().find(|(_, v)| !v.is_finite()) {
            return Err(WeightsError::NonFinite { file: file.into(), key, index, value });
        }
        out.insert(key, HostTensor { shape: view.shape().to_vec(), data });
    }
    Ok((out, meta.metadata().clone().unwrap_or_default()))
}

/// 16-bit floats to f32 through the precision lab's exact decoder (every f16/bf16 value is an f32).
fn widen(raw: &[u8], format: Format) -> Vec<f32> {
    raw.chunks_exact(2).map(|c| decode(format, u64::from(u16::from_le_bytes([c[0], c[1]]))) as f32).collect()
}
