//! ONNX tensors as the front end sees them: decoded `TensorProto`s, external data, and the
//! small host tensors that shape arithmetic works on.

use std::collections::HashMap;
use std::fs;
use std::path::{Component, Path, PathBuf};

use onnx_protobuf::TensorProto;

use crate::ir::{checked_numel, Shape, ShapeDisplay};
use crate::Limits;

/// A constant known at compile time: a weight, or a value of the shape arithmetic.
#[derive(Clone, Debug, PartialEq)]
pub struct HostTensor {
    pub shape: Shape,
    pub data: HostData,
}

/// Element data. Integer types widen to `i64`; floating types become `f32`.
#[derive(Clone, Debug, PartialEq)]
pub enum HostData {
    F32(Vec<f32>),
    I64(Vec<i64>),
}

impl HostTensor {
    pub fn f32(shape: Shape, data: Vec<f32>) -> Self {
        HostTensor { shape, data: HostData::F32(data) }
    }
    pub fn i64(shape: Shape, data: Vec<i64>) -> Self {
        HostTensor { shape, data: HostData::I64(data) }
    }
    pub fn len(&self) -> usize {
        match &self.data {
            HostData::F32(v) => v.len(),
            HostData::I64(v) => v.len(),
        }
    }
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// The values as integers (floats must be whole numbers).
    pub fn as_i64s(&self) -> Result<Vec<i64>, String> {
        match &self.data {
            HostData::I64(v) => Ok(v.clone()),
            HostData::F32(v) => v
                .iter()
                .map(|&x| if x.fract() == 0.0 && x.abs() < 9.0e15 { Ok(x as i64) } else { Err(format!("{x} is not an integer")) })
                .collect(),
        }
    }
    /// The values as floats.
    pub fn as_f32s(&self) -> Vec<f32> {
        match &self.data {
            HostData::F32(v) => v.clone(),
            HostData::I64(v) => v.iter().map(|&x| x as f32).collect(),
        }
    }
    pub fn type_name(&self) -> &'static str {
        match self.data {
            HostData::F32(_) => "float",
            HostData::I64(_) => "int64",
        }
    }
}

/// ONNX `TensorProto.DataType` codes this front end reads.
pub mod dtype {
    pub const FLOAT: i32 = 1;
    pub const UINT8: i32 = 2;
    pub const INT8: i32 = 3;
    pub const UINT16: i32 = 4;
    pub const INT16: i32 = 5;
    pub const INT32: i32 = 6;
    pub const INT64: i32 = 7;
    pub const BOOL: i32 = 9;
    pub const FLOAT16: i32 = 10;
    pub const DOUBLE: i32 = 11;
    pub const UINT32: i32 = 12;
    pub const UINT64: i32 = 13;
    pub const BFLOAT16: i32 = 16;

    /// Bytes per element, for the types above.
    pub fn size(code: i32) -> Option<usize> {
        Some(match code {
            UINT8 | INT8 | BOOL => 1,
            UINT16 | INT16 | FLOAT16 | BFLOAT16 => 2,
            FLOAT | INT32 | UINT32 => 4,
            INT64 | DOUBLE | UINT64 => 8,
            _ => return None,
        })
    }

    pub fn name(code: i32) -> String {
        match code {
            0 => "undefined".into(),
            1 => "float".into(),
            2 => "uint8".into(),
            3 => "int8".into(),
            4 => "uint16".into(),
            5 => "int16".into(),
            6 => "int32".into(),
            7 => "int64".into(),
            8 => "string".into(),
            9 => "bool".into(),
            10 => "float16".into(),
            11 => "double".into(),
            12 => "uint32".into(),
            13 => "uint64".into(),
            14 => "complex64".into(),
            15 => "complex128".into(),
            16 => "bfloat16".into(),
            c => format!("type code {c}"),
        }
    }
}

/// Exact conversion of an IEEE half to `f32`.
pub fn f16_to_f32(h: u16) -> f32 {
    let sign = ((h >> 15) as u32) << 31;
    let exp = ((h >> 10) & 0x1f) as u32;
    let mant = (h & 0x3ff) as u32;
    let bits = match (exp, mant) {
        (0, 0) => sign,
        (0, m) => {
            // Subnormal: renormalize.
            let shift = m.leading_zeros() - 21;
            let m = (m << shift) & 0x3ff;
            sign | ((127 - 15 + 1 - shift) << 23) | (m << 13)
        }
        (0x1f, m) => sign | 0x7f80_0000 | (m << 13),
        (e, m) => sign | ((e + 127 - 15) << 23) | (m << 13),
    };
    f32::from_bits(bits)
}

/// Exact conversion of a bfloat16 to `f32`.
pub fn bf16_to_f32(h: u16) -> f32 {
    f32::from_bits((h as u32) << 16)
}

/// Reads external-data files once each, confined to the model's folder.
pub struct ExternalFiles {
    dir: PathBuf,
    cache: HashMap<PathBuf, Vec<u8>>,
}

impl ExternalFiles {
    pub fn new(model_dir: &Path) -> Self {
        ExternalFiles { dir: model_dir.to_path_buf(), cache: HashMap::new() }
    }

    /// Bytes `offset..offset + length` (or to the end) of `location`, relative to the
    /// model's folder. Absolute paths and paths that leave the folder are refused.
    fn read(&mut self, location: &str, offset: u64, length: Option<u64>, limits: &Limits) -> Result<&[u8], String> {
        let rel = Path::new(location);
        let escapes = rel.components().any(|c| !matches!(c, Component::Normal(_) | Component::CurDir));
        if location.is_empty() || escapes {
            return Err(format!(
                "external data location '{location}' must be a relative path inside the model's folder"
            ));
        }
        let path = self.dir.join(rel);
        // A symlink inside the folder could still point outside it.
        if let (Ok(real), Ok(root)) = (path.canonicalize(), self.dir.canonicalize())
            && !real.starts_with(&root) {
                return Err(format!("external data location '{location}' resolves outside the model's folder"));
            }
        if !self.cache.contains_key(&path) {
            let size = fs::metadata(&path)
                .map_err(|e| format!("cannot read external data file '{}': {e}", path.display()))?
                .len();
            if size > limits.max_file_bytes {
                return Err(format!(
                    "external data file '{}' is {size} bytes, over the limit of {} (raise it with --max-file-bytes)",
                    path.display(),
                    limits.max_file_bytes
                ));
            }
            let bytes = fs::read(&path).map_err(|e| format!("cannot read external data file '{}': {e}", path.display()))?;
            self.cache.insert(path.clone(), bytes);
        }
        let bytes = &self.cache[&path];
        let len = bytes.len() as u64;
        let end = match length {
            Some(l) => offset.checked_add(l),
            None => Some(len),
        };
        match end {
            Some(end) if offset <= end && end <= len => Ok(&bytes[offset as usize..end as usize]),
            _ => Err(format!(
                "external data range offset {offset}, length {} is outside '{}' ({len} bytes)",
                length.map_or("to end".to_string(), |l| l.to_string()),
                path.display()
            )),
        }
    }
}

/// Decodes a `TensorProto` into a host tensor, checking its size against its data before
/// allocating anything of the claimed size.
pub fn decode(t: &TensorProto, ext: &mut ExternalFiles, limits: &Limits) -> Result<HostTensor, String> {
    let mut shape = Vec::with_capacity(t.dims.len());
    for &d in &t.dims {
        if d < 0 {
            return Err(format!("has a negative dimension {d} in {:?}", t.dims));
        }
        shape.push(usize::try_from(d).map_err(|_| format!("dimension {d} does not fit in memory"))?);
    }
    let n = checked_numel(&shape).ok_or_else(|| format!("shape {:?} overflows", t.dims))?;
    if n as u64 > limits.max_tensor_elements {
        return Err(format!(
            "claims shape {} ({n} elements), over the limit of {} elements (raise it with --max-tensor-elements)",
            ShapeDisplay(&shape),
            limits.max_tensor_elements
        ));
    }
    let code = t.data_type;
    let size = dtype::size(code).ok_or_else(|| format!("has unsupported element type {}", dtype::name(code)))?;
    let external = t.data_location.enum_value() == Ok(onnx_protobuf::tensor_proto::DataLocation::EXTERNAL);
    let raw: Option<&[u8]> = if external {
        let mut location = None;
        let mut offset = 0u64;
        let mut length = None;
        for kv in &t.external_data {
            let num = || kv.value.parse::<u64>().map_err(|_| format!("external data {} '{}' is not a number", kv.key, kv.value));
            match kv.key.as_str() {
                "location" => location = Some(kv.value.as_str()),
                "offset" => offset = num()?,
                "length" => length = Some(num()?),
                _ => {}
            }
        }
        let location = location.ok_or("is stored externally but names no location")?;
        Some(ext.read(location, offset, length, limits)?)
    } else if !t.raw_data.is_empty() || n == 0 {
        Some(&t.raw_data)
    } else {
        None
    };
    let wrong_len = |got: usize| {
        format!("shape {} needs {n} {} values, the file holds {got}", ShapeDisplay(&shape), dtype::name(code))
    };
    if let Some(raw) = raw {
        if Some(raw.len()) != n.checked_mul(size) {
            return Err(wrong_len(raw.len() / size));
        }
        let words = raw.chunks_exact(size);
        let data = match code {
            dtype::FLOAT => HostData::F32(words.map(|b| f32::from_le_bytes(b.try_into().unwrap())).collect()),
            dtype::DOUBLE => HostData::F32(words.map(|b| f64::from_le_bytes(b.try_into().unwrap()) as f32).collect()),
            dtype::FLOAT16 => HostData::F32(words.map(|b| f16_to_f32(u16::from_le_bytes([b[0], b[1]]))).collect()),
            dtype::BFLOAT16 => HostData::F32(words.map(|b| bf16_to_f32(u16::from_le_bytes([b[0], b[1]]))).collect()),
            dtype::INT64 => HostData::I64(words.map(|b| i64::from_le_bytes(b.try_into().unwrap())).collect()),
            dtype::UINT64 => HostData::I64(words.map(|b| u64::from_le_bytes(b.try_into().unwrap()) as i64).collect()),
            dtype::INT32 => HostData::I64(words.map(|b| i32::from_le_bytes(b.try_into().unwrap()) as i64).collect()),
            dtype::UINT32 => HostData::I64(words.map(|b| u32::from_le_bytes(b.try_into().unwrap()) as i64).collect()),
            dtype::INT16 => HostData::I64(words.map(|b| i16::from_le_bytes([b[0], b[1]]) as i64).collect()),
            dtype::UINT16 => HostData::I64(words.map(|b| u16::from_le_bytes([b[0], b[1]]) as i64).collect()),
            dtype::INT8 => HostData::I64(words.map(|b| b[0] as i8 as i64).collect()),
            _ => HostData::I64(words.map(|b| b[0] as i64).collect()),
        };
        return Ok(HostTensor { shape, data });
    }
    let data = match code {
        dtype::FLOAT => {
            if t.float_data.len() != n {
                return Err(wrong_len(t.float_data.len()));
            }
            HostData::F32(t.float_data.clone())
        }
        dtype::DOUBLE => {
            if t.double_data.len() != n {
                return Err(wrong_len(t.double_data.len()));
            }
            HostData::F32(t.double_data.iter().map(|&x| x as f32).collect())
        }
        dtype::INT64 => {
            if t.int64_data.len() != n {
                return Err(wrong_len(t.int64_data.len()));
            }
            HostData::I64(t.int64_data.clone())
        }
        dtype::UINT64 | dtype::UINT32 => {
            if t.uint64_data.len() != n {
                return Err(wrong_len(t.uint64_data.len()));
            }
            HostData::I64(t.uint64_data.iter().map(|&x| x as i64).collect())
        }
        // int32_data holds every narrower type, halves as raw bits.
        _ => {
            if t.int32_data.len() != n {
                return Err(wrong_len(t.int32_data.len()));
            }
            match code {
                dtype::FLOAT16 => HostData::F32(t.int32_data.iter().map(|&x| f16_to_f32(x as u16)).collect()),
                dtype::BFLOAT16 => HostData::F32(t.int32_data.iter().map(|&x| bf16_to_f32(x as u16)).collect()),
                _ => HostData::I64(t.int32_data.iter().map(|&x| x as i64).collect()),
            }
        }
    };
    Ok(HostTensor { shape, data })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn f16_conversion_is_exact() {
        assert_eq!(f16_to_f32(0x3c00), 1.0);
        assert_eq!(f16_to_f32(0xc000), -2.0);
        assert_eq!(f16_to_f32(0x7bff), 65504.0);
        assert_eq!(f16_to_f32(0x0001), 2f32.powi(-24));
        assert_eq!(f16_to_f32(0x0200), 2f32.powi(-15));
        assert!(f16_to_f32(0x7c00).is_infinite());
        assert!(f16_to_f32(0x7e00).is_nan());
        assert_eq!(bf16_to_f32(0x3f80), 1.0);
    }
}
