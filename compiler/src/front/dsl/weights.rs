//! Where DSL weights come from: a timm `state_dict` in safetensors form, or a seeded
//! generator with non-trivial BatchNorm statistics.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use safetensors::{Dtype, SafeTensors};

use super::Error;
use crate::front::onnx::tensor::{bf16_to_f32, f16_to_f32};
use crate::ir::{Graph, Shape, ShapeDisplay, TensorId};
use crate::Limits;

/// What a parameter is, which decides its seeded distribution.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Init {
    /// Convolution kernel: uniform with variance `1 / fan_in`.
    Conv,
    /// Linear weight `[out, in]`: uniform with variance `1 / fan_in`.
    Linear,
    /// Conv or linear bias: uniform in `[-0.1, 0.1]`.
    Bias,
    /// BatchNorm gamma, beta, running mean and running variance.
    BnWeight,
    BnBias,
    BnMean,
    BnVar,
}

/// A supply of named parameters.
pub struct Source {
    kind: Kind,
    /// Keys handed out (or deliberately skipped) so far.
    used: BTreeSet<String>,
    problems: Vec<String>,
    /// Most elements of one parameter, most bytes (as f32) of all of them, bytes so far.
    max_elements: u64,
    max_bytes: u64,
    bytes: u64,
    /// Parameters refused by those limits (never allocated).
    over: Vec<String>,
}

enum Kind {
    Seeded(u64),
    File { path: PathBuf, tensors: BTreeMap<String, Loaded> },
}

struct Loaded {
    shape: Shape,
    /// `None` for non-float tensors, which no GhostNet parameter is.
    data: Option<Vec<f32>>,
    dtype: Dtype,
}

impl Source {
    /// Pseudo-random weights; each tensor depends only on `seed` and its key.
    pub fn seeded(seed: u64) -> Self {
        Self::new(Kind::Seeded(seed))
    }

    fn new(kind: Kind) -> Self {
        let limits = Limits::default();
        Source {
            kind,
            used: BTreeSet::new(),
            problems: Vec::new(),
            max_elements: limits.max_tensor_elements,
            max_bytes: limits.max_weight_bytes,
            bytes: 0,
            over: Vec::new(),
        }
    }

    /// Applies `limits` to the parameters handed out from now on.
    pub fn set_limits(&mut self, limits: &Limits) {
        self.max_elements = limits.max_tensor_elements;
        self.max_bytes = limits.max_weight_bytes;
    }

    /// The parameters refused by the limits, if any.
    pub fn over_limits(&self) -> Option<Vec<String>> {
        (!self.over.is_empty()).then(|| self.over.clone())
    }

    /// An error about the weights, naming the file they came from.
    pub fn weights_error(&self, problems: Vec<String>) -> Error {
        let path = match &self.kind {
            Kind::File { path, .. } => path.clone(),
            Kind::Seeded(seed) => PathBuf::from(format!("<weights seeded by {seed}>")),
        };
        Error::Weights { path, problems }
    }

    /// Weights from a safetensors file holding a timm `state_dict`.
    pub fn safetensors(path: &Path, limits: &Limits) -> Result<Self, Error> {
        let io = |source| Error::Io { path: path.to_path_buf(), source };
        let size = std::fs::metadata(path).map_err(io)?.len();
        if size > limits.max_file_bytes {
            return Err(Error::NotSafetensors {
                path: path.to_path_buf(),
                reason: format!("it is {size} bytes, over the limit of {} (raise it with --max-file-bytes)", limits.max_file_bytes),
            });
        }
        let bytes = std::fs::read(path).map_err(io)?;
        Self::from_safetensors_bytes(&bytes, path, limits)
    }

    /// Like [`Source::safetensors`] for bytes already in memory; `path` names them in messages.
    pub fn from_safetensors_bytes(bytes: &[u8], path: &Path, limits: &Limits) -> Result<Self, Error> {
        let not_st = |reason: String| Error::NotSafetensors { path: path.to_path_buf(), reason };
        check_header(bytes, limits).map_err(|p| not_st(format!("{} problem(s):\n  - {}", p.len(), p.join("\n  - "))))?;
        let st = SafeTensors::deserialize(bytes).map_err(|e| not_st(e.to_string()))?;
        // Sizes first, from the header, so that nothing over the limits is converted.
        let mut total = 0u64;
        let mut over = Vec::new();
        for (name, view) in st.iter() {
            let n = view.shape().iter().try_fold(1u64, |acc, &d| acc.checked_mul(d as u64)).unwrap_or(u64::MAX);
            if n > limits.max_tensor_elements {
                over.push(format!(
                    "tensor '{name}' of shape {} is over the limit of {} elements (raise it with --max-tensor-elements)",
                    ShapeDisplay(view.shape()),
                    limits.max_tensor_elements
                ));
            }
            total = total.saturating_add(n.saturating_mul(4));
        }
        if total > limits.max_weight_bytes {
            over.push(format!(
                "its weights take {total} bytes as f32, over the limit of {} (raise it with --max-weight-bytes)",
                limits.max_weight_bytes
            ));
        }
        if !over.is_empty() {
            return Err(not_st(over.join("; ")));
        }
        let mut tensors = BTreeMap::new();
        for (name, view) in st.iter() {
            let shape = view.shape().to_vec();
            let raw = view.data();
            let data = match view.dtype() {
                Dtype::F32 => Some(raw.chunks_exact(4).map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])).collect::<Vec<_>>()),
                Dtype::F64 => Some(raw.chunks_exact(8).map(|b| f64::from_le_bytes(std::array::from_fn(|i| b[i])) as f32).collect()),
                Dtype::F16 => Some(raw.chunks_exact(2).map(|b| f16_to_f32(u16::from_le_bytes([b[0], b[1]]))).collect()),
                Dtype::BF16 => Some(raw.chunks_exact(2).map(|b| bf16_to_f32(u16::from_le_bytes([b[0], b[1]]))).collect()),
                _ => None,
            };
            tensors.insert(name.to_string(), Loaded { shape, data, dtype: view.dtype() });
        }
        let mut source = Self::new(Kind::File { path: path.to_path_buf(), tensors });
        source.set_limits(limits);
        Ok(source)
    }

    /// Adds the parameter `key` of `shape` to `g` as a constant. A missing or mis-shaped
    /// tensor is recorded (see [`Source::finish`]) and replaced by zeros so that building
    /// goes on and every problem is found.
    ///
    /// A parameter over the limits (elements of one, or bytes of all) is recorded (see
    /// [`Source::over_limits`]) and gets no data at all, so nothing of its size is allocated.
    pub fn param(&mut self, g: &mut Graph, key: &str, shape: Shape, init: Init) -> TensorId {
        self.used.insert(key.to_string());
        let size = crate::ir::checked_numel(&shape).filter(|&n| n as u64 <= self.max_elements);
        let Some(n) = size.filter(|&n| self.bytes.saturating_add(n as u64 * 4) <= self.max_bytes) else {
            if size.is_none() {
                self.over.push(format!(
                    "parameter '{key}' of shape {} is over the limit of {} elements (raise it with --max-tensor-elements)",
                    ShapeDisplay(&shape),
                    self.max_elements
                ));
            } else if self.bytes != u64::MAX {
                // Every later parameter is over the byte limit too: report the first only.
                self.bytes = u64::MAX;
                self.over.push(format!(
                    "parameter '{key}' takes the weights over the limit of {} bytes (raise it with --max-weight-bytes)",
                    self.max_bytes
                ));
            }
            return g.add_const(key, shape, Vec::new());
        };
        self.bytes += n as u64 * 4;
        let data = match &self.kind {
            Kind::Seeded(seed) => seeded(*seed, key, &shape, init),
            Kind::File { tensors, .. } => match tensors.get(key) {
                None => {
                    self.problems.push(format!("missing tensor '{key}' of shape {}", ShapeDisplay(&shape)));
                    vec![0.0; n]
                }
                Some(t) if t.shape != shape => {
                    self.problems.push(format!(
                        "tensor '{key}' has shape {}, expected {}",
                        ShapeDisplay(&t.shape),
                        ShapeDisplay(&shape)
                    ));
                    vec![0.0; n]
                }
                Some(Loaded { data: Some(d), .. }) => d.clone(),
                Some(t) => {
                    self.problems.push(format!("tensor '{key}' is {:?}, expected a float type", t.dtype));
                    vec![0.0; n]
                }
            },
        };
        g.add_const(key, shape, data)
    }

    /// Marks `key` as expected but unused (BatchNorm's `num_batches_tracked`).
    pub fn ignore(&mut self, key: &str) {
        self.used.insert(key.to_string());
    }

    /// Marks every tensor whose key satisfies `unused` as expected but unused (the head of a
    /// full network's weights, when only its backbone is built).
    pub fn ignore_where(&mut self, unused: impl Fn(&str) -> bool) {
        if let Kind::File { tensors, .. } = &self.kind {
            let keys: Vec<String> = tensors.keys().filter(|k| unused(k)).cloned().collect();
            self.used.extend(keys);
        }
    }

    /// Reports every missing, mis-shaped and unexpected tensor at once.
    pub fn finish(&mut self) -> Result<(), Error> {
        let Kind::File { path, tensors } = &self.kind else { return Ok(()) };
        let mut problems = std::mem::take(&mut self.problems);
        for key in tensors.keys().filter(|k| !self.used.contains(*k)) {
            problems.push(format!("unexpected tensor '{key}'"));
        }
        if problems.is_empty() { Ok(()) } else { Err(Error::Weights { path: path.clone(), problems }) }
    }
}

/// Bits per element of the safetensors dtypes (`None` for names the format does not have).
fn dtype_bits(name: &str) -> Option<u64> {
    Some(match name {
        "BOOL" | "U8" | "I8" | "F8_E5M2" | "F8_E4M3" | "F8_E8M0" => 8,
        "F6_E2M3" | "F6_E3M2" => 6,
        "F4" => 4,
        "I16" | "U16" | "F16" | "BF16" => 16,
        "I32" | "U32" | "F32" => 32,
        "I64" | "U64" | "F64" | "C64" => 64,
        _ => return None,
    })
}

/// Checks a safetensors file's layout before the `safetensors` crate reads it, so that every
/// problem is reported at once and names its tensor: the 8-byte header length (which must
/// stay inside the file), the JSON header, each tensor's dtype, shape and data offsets
/// (inside the data section, matching the size the dtype and shape give), offsets that
/// overlap, and bytes that belong to no tensor.
fn check_header(bytes: &[u8], limits: &Limits) -> Result<(), Vec<String>> {
    let Some(len) = bytes.first_chunk::<8>() else {
        return Err(vec![format!("it is {} bytes, too short for the 8-byte header length", bytes.len())]);
    };
    let n = u64::from_le_bytes(*len);
    let rest = bytes.len() as u64 - 8;
    if n > rest {
        return Err(vec![format!("its header length {n} goes past the end of the file ({rest} bytes follow the length)")]);
    }
    // The safetensors crate's own ceiling on header size.
    if n > 100_000_000 {
        return Err(vec![format!("its header length {n} is over the format's limit of 100000000 bytes")]);
    }
    let text = std::str::from_utf8(&bytes[8..8 + n as usize]).map_err(|e| vec![format!("its header is not UTF-8: {e}")])?;
    let header: serde_json::Value = serde_json::from_str(text).map_err(|e| vec![format!("its header is not JSON: {e}")])?;
    let entries = header.as_object().ok_or_else(|| vec!["its header is not a JSON object".to_string()])?;
    let data_len = rest - n;
    let mut problems = Vec::new();
    let mut ranges: Vec<(u64, u64, &str)> = Vec::new();
    for (name, info) in entries.iter().filter(|(k, _)| k.as_str() != "__metadata__") {
        let dtype = info["dtype"].as_str().unwrap_or("");
        let Some(bits) = dtype_bits(dtype) else {
            problems.push(format!("tensor '{name}' has an unknown dtype {}", info["dtype"]));
            continue;
        };
        let shape: Option<Vec<u64>> = info["shape"].as_array().and_then(|a| a.iter().map(serde_json::Value::as_u64).collect());
        let Some(shape) = shape else {
            problems.push(format!("tensor '{name}' has no shape of non-negative integers: {}", info["shape"]));
            continue;
        };
        let offsets: Option<Vec<u64>> =
            info["data_offsets"].as_array().and_then(|a| a.iter().map(serde_json::Value::as_u64).collect());
        let Some([start, end]) = offsets.as_deref().and_then(|o| <[u64; 2]>::try_from(o).ok()) else {
            problems.push(format!("tensor '{name}' has no data offsets [start, end]: {}", info["data_offsets"]));
            continue;
        };
        if end < start {
            problems.push(format!("tensor '{name}' has data offsets [{start}, {end}] that end before they start"));
            continue;
        }
        if end > data_len {
            problems.push(format!("tensor '{name}' has data offsets [{start}, {end}] past the end of the data ({data_len} bytes)"));
        }
        match shape.iter().try_fold(1u64, |acc, &d| acc.checked_mul(d)) {
            None => problems.push(format!("tensor '{name}' has shape {shape:?}, whose size overflows")),
            Some(elems) if elems > limits.max_tensor_elements => problems.push(format!(
                "tensor '{name}' of shape {shape:?} is over the limit of {} elements (raise it with --max-tensor-elements)",
                limits.max_tensor_elements
            )),
            Some(elems) => {
                let want = elems.saturating_mul(bits).div_ceil(8);
                if end - start != want {
                    problems.push(format!(
                        "tensor '{name}' ({dtype}, shape {shape:?}) needs {want} bytes but its data offsets [{start}, {end}] hold {}",
                        end - start
                    ));
                }
            }
        }
        ranges.push((start, end, name));
    }
    ranges.sort_unstable();
    let mut covered = 0u64;
    for (i, &(start, end, name)) in ranges.iter().enumerate() {
        if i > 0 && start < ranges[i - 1].1 {
            let (ps, pe, pn) = ranges[i - 1];
            problems.push(format!("tensors '{pn}' [{ps}, {pe}] and '{name}' [{start}, {end}] overlap"));
        } else if start > covered {
            problems.push(format!("data bytes {covered}..{start} belong to no tensor"));
        }
        covered = covered.max(end);
    }
    if covered < data_len && problems.is_empty() {
        problems.push(format!("data bytes {covered}..{data_len} belong to no tensor"));
    }
    if problems.is_empty() { Ok(()) } else { Err(problems) }
}

/// SplitMix64: small, fast, and good enough for test weights.
pub struct SplitMix64(u64);

impl SplitMix64 {
    pub fn new(seed: u64) -> Self {
        SplitMix64(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `[lo, hi)`.
    pub fn uniform(&mut self, lo: f32, hi: f32) -> f32 {
        let u = (self.next_u64() >> 40) as f32 / (1u64 << 24) as f32;
        lo + (hi - lo) * u
    }
}

/// FNV-1a of the key, so each tensor's values depend only on the seed and its name.
fn key_hash(key: &str) -> u64 {
    key.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| (h ^ b as u64).wrapping_mul(0x0100_0000_01b3))
}

fn seeded(seed: u64, key: &str, shape: &[usize], init: Init) -> Vec<f32> {
    let mut rng = SplitMix64::new(seed ^ key_hash(key));
    let n: usize = shape.iter().product();
    let fan_in = shape.iter().skip(1).product::<usize>().max(1) as f32;
    let (lo, hi) = match init {
        Init::Conv => {
            let b = (3.0 / fan_in).sqrt();
            (-b, b)
        }
        Init::Linear => {
            let b = (3.0 / fan_in).sqrt();
            (-b, b)
        }
        Init::Bias => (-0.1, 0.1),
        Init::BnWeight => (0.5, 1.5),
        Init::BnBias | Init::BnMean => (-0.2, 0.2),
        Init::BnVar => (0.5, 2.0),
    };
    (0..n).map(|_| rng.uniform(lo, hi)).collect()
}
