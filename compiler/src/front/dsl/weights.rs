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
        Source { kind: Kind::Seeded(seed), used: BTreeSet::new(), problems: Vec::new() }
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
        let st = SafeTensors::deserialize(bytes)
            .map_err(|e| Error::NotSafetensors { path: path.to_path_buf(), reason: e.to_string() })?;
        let mut tensors = BTreeMap::new();
        let mut total = 0u64;
        for (name, view) in st.iter() {
            let shape = view.shape().to_vec();
            let raw = view.data();
            let data = match view.dtype() {
                Dtype::F32 => Some(raw.chunks_exact(4).map(|b| f32::from_le_bytes(b.try_into().unwrap())).collect::<Vec<_>>()),
                Dtype::F64 => Some(raw.chunks_exact(8).map(|b| f64::from_le_bytes(b.try_into().unwrap()) as f32).collect()),
                Dtype::F16 => Some(raw.chunks_exact(2).map(|b| f16_to_f32(u16::from_le_bytes([b[0], b[1]]))).collect()),
                Dtype::BF16 => Some(raw.chunks_exact(2).map(|b| bf16_to_f32(u16::from_le_bytes([b[0], b[1]]))).collect()),
                _ => None,
            };
            total += data.as_ref().map_or(0, |d| d.len() as u64 * 4);
            tensors.insert(name.to_string(), Loaded { shape, data, dtype: view.dtype() });
        }
        if total > limits.max_weight_bytes {
            return Err(Error::NotSafetensors {
                path: path.to_path_buf(),
                reason: format!("its weights take {total} bytes as f32, over the limit of {} (raise it with --max-weight-bytes)", limits.max_weight_bytes),
            });
        }
        Ok(Source { kind: Kind::File { path: path.to_path_buf(), tensors }, used: BTreeSet::new(), problems: Vec::new() })
    }

    /// Adds the parameter `key` of `shape` to `g` as a constant. A missing or mis-shaped
    /// tensor is recorded (see [`Source::finish`]) and replaced by zeros so that building
    /// goes on and every problem is found.
    pub fn param(&mut self, g: &mut Graph, key: &str, shape: Shape, init: Init) -> TensorId {
        self.used.insert(key.to_string());
        let n: usize = shape.iter().product();
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
