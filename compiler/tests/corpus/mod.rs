//! The bad-input corpus: malformed and hostile models, weights and stage tables, each with
//! the `ghostc` arguments to run it with and a piece of the error message it must give.
//!
//! [`cases`] makes every file from small seeded networks, deterministically, so the files in
//! `tests/bad-inputs/` can be regenerated (`cargo run -p ghostnet-compiler --example
//! make_bad_inputs`) and the test `bad_inputs` checks that they still are what this code
//! writes. Companion files that cases refer to (external data, a stage table) are written
//! too, under `data/`.
#![allow(dead_code)]

use ghostnet_compiler::back::onnx as writer;
use ghostnet_compiler::front::dsl::{self, weights::Source, Block, Spec};
use onnx_protobuf::attribute_proto::AttributeType;
use onnx_protobuf::{AttributeProto, ModelProto, NodeProto, StringStringEntryProto, TensorProto};
use protobuf::{EnumOrUnknown, Message};

/// One corpus file.
pub struct Case {
    /// File name inside the corpus folder.
    pub file: &'static str,
    pub bytes: Vec<u8>,
    /// `ghostc` arguments; `{}` stands for the file, `{dir}` for the corpus folder.
    pub args: &'static str,
    /// A piece of the error message.
    pub expect: &'static str,
}

/// Files the cases refer to (not inputs themselves): path inside the corpus folder, bytes.
pub fn companions() -> Vec<(&'static str, Vec<u8>)> {
    vec![
        ("data/small.bin", (0..64u32).flat_map(|i| (i as f32).to_le_bytes()).collect()),
        ("data/tiny_stages.json", TINY_STAGES.as_bytes().to_vec()),
    ]
}

/// The stage table of the tiny network whose weights the safetensors cases hold.
pub const TINY_STAGES: &str = "[[[3, 8, 8, 0, 1]]]";
/// `ghostc` flags for that network (input 1x3x16x16, 2 classes, head 1280).
const TINY_DSL: &str = "inspect --alpha 1.0 --stages @{dir}/data/tiny_stages.json --input 1x3x16x16 --classes 2 --weights {}";

/// A seeded two-block GhostNet (second block strided, with squeeze-excite) written as ONNX.
pub fn tiny_model() -> ModelProto {
    let b = Block::new;
    let spec = Spec {
        stages: vec![vec![b(3, 8, 8, 0.0, 1)], vec![b(3, 24, 16, 0.25, 2)]],
        input: [1, 3, 16, 16],
        num_classes: 4,
        head_channels: 16,
        ..Spec::default()
    };
    let g = dsl::build(&spec, &mut Source::seeded(3)).unwrap();
    ModelProto::parse_from_bytes(&writer::write(&g).unwrap()).unwrap()
}

/// The tiny DSL network of the safetensors cases, with its seeded weights by key.
pub fn tiny_weights() -> Vec<(String, Vec<usize>, Vec<f32>)> {
    let spec = ghostnet_compiler::fuzzing::tiny_weights_spec();
    assert_eq!(spec.stages, dsl::parse_stages(TINY_STAGES).unwrap());
    let g = dsl::build(&spec, &mut Source::seeded(5)).unwrap();
    let mut v: Vec<_> = g.tensors.iter().filter_map(|t| t.data.clone().map(|d| (t.name.clone(), t.shape.clone(), d))).collect();
    // timm's state dict also has BatchNorm's counter; the DSL expects (and ignores) it.
    let counters: Vec<String> =
        v.iter().filter_map(|(k, _, _)| k.strip_suffix(".running_var").map(|p| format!("{p}.num_batches_tracked"))).collect();
    for k in counters {
        v.push((k, vec![], vec![0.0]));
    }
    v.sort_by(|a, b| a.0.cmp(&b.0));
    v
}

/// A safetensors file from `(name, dtype, shape, data offsets)` entries and the data bytes.
pub fn safetensors_raw(entries: &[(String, &str, Vec<usize>, [u64; 2])], data: &[u8]) -> Vec<u8> {
    let mut header = String::from("{");
    for (i, (name, dtype, shape, [s, e])) in entries.iter().enumerate() {
        if i > 0 {
            header.push(',');
        }
        let shape: Vec<String> = shape.iter().map(ToString::to_string).collect();
        header.push_str(&format!("\"{name}\":{{\"dtype\":\"{dtype}\",\"shape\":[{}],\"data_offsets\":[{s},{e}]}}", shape.join(",")));
    }
    header.push('}');
    let mut out = (header.len() as u64).to_le_bytes().to_vec();
    out.extend_from_slice(header.as_bytes());
    out.extend_from_slice(data);
    out
}

/// The tiny network's weights as a well-formed safetensors file, each value encoded by
/// `encode` (4 bytes for F32, 2 for F16 / BF16) under the dtype name `dtype`; `edit` may
/// change the values first.
pub fn tiny_safetensors(dtype: &str, encode: fn(f32) -> Vec<u8>, edit: impl Fn(&str, &mut Vec<f32>)) -> Vec<u8> {
    let mut entries = Vec::new();
    let mut data = Vec::new();
    for (name, shape, mut values) in tiny_weights() {
        edit(&name, &mut values);
        let (dt, bytes): (&str, Vec<u8>) = if name.ends_with("num_batches_tracked") {
            ("I64", 0i64.to_le_bytes().to_vec())
        } else {
            (dtype, values.iter().flat_map(|&v| encode(v)).collect())
        };
        let start = data.len() as u64;
        data.extend_from_slice(&bytes);
        entries.push((name, dt, shape, [start, data.len() as u64]));
    }
    safetensors_raw(&entries, &data)
}

pub fn f32_bytes(v: f32) -> Vec<u8> {
    v.to_le_bytes().to_vec()
}

/// f32 to IEEE half by truncating the mantissa: exact for the values the tests use (normal
/// halves); out of range gives infinity, below the normal range zero.
pub fn f16_bytes(v: f32) -> Vec<u8> {
    let b = v.to_bits();
    let sign = ((b >> 16) & 0x8000) as u16;
    let exp = ((b >> 23) & 0xff) as i32 - 127 + 15;
    let mant = ((b >> 13) & 0x3ff) as u16;
    let h = if v.is_nan() {
        sign | 0x7e00
    } else if exp >= 0x1f {
        sign | 0x7c00
    } else if exp <= 0 {
        sign
    } else {
        sign | ((exp as u16) << 10) | mant
    };
    h.to_le_bytes().to_vec()
}

pub fn bf16_bytes(v: f32) -> Vec<u8> {
    ((v.to_bits() >> 16) as u16).to_le_bytes().to_vec()
}

fn model_bytes(m: &ModelProto) -> Vec<u8> {
    m.write_to_bytes().unwrap()
}

/// `tiny_model()` changed by `f`.
fn edited(f: impl FnOnce(&mut ModelProto)) -> Vec<u8> {
    let mut m = tiny_model();
    f(&mut m);
    model_bytes(&m)
}

fn node<'a>(m: &'a mut ModelProto, name: &str) -> &'a mut NodeProto {
    let g = m.graph.as_mut().unwrap();
    g.node.iter_mut().find(|n| n.name == name).unwrap_or_else(|| panic!("no node {name}"))
}

fn init<'a>(m: &'a mut ModelProto, prefix: &str) -> &'a mut TensorProto {
    let g = m.graph.as_mut().unwrap();
    g.initializer.iter_mut().find(|t| t.name.starts_with(prefix)).unwrap_or_else(|| panic!("no initializer {prefix}"))
}

fn set_ints(n: &mut NodeProto, name: &str, v: &[i64]) {
    n.attribute.retain(|a| a.name != name);
    let mut a = AttributeProto::new();
    a.name = name.into();
    a.type_ = EnumOrUnknown::new(AttributeType::INTS);
    a.ints = v.to_vec();
    n.attribute.push(a);
}

fn set_int(n: &mut NodeProto, name: &str, v: i64) {
    n.attribute.retain(|a| a.name != name);
    let mut a = AttributeProto::new();
    a.name = name.into();
    a.type_ = EnumOrUnknown::new(AttributeType::INT);
    a.i = v;
    n.attribute.push(a);
}

fn set_string(n: &mut NodeProto, name: &str, v: &str) {
    n.attribute.retain(|a| a.name != name);
    let mut a = AttributeProto::new();
    a.name = name.into();
    a.type_ = EnumOrUnknown::new(AttributeType::STRING);
    a.s = v.as_bytes().to_vec();
    n.attribute.push(a);
}

fn external(t: &mut TensorProto, location: &str, offset: u64, length: u64) {
    t.raw_data.clear();
    t.data_location = EnumOrUnknown::new(onnx_protobuf::tensor_proto::DataLocation::EXTERNAL);
    t.external_data = [("location", location.to_string()), ("offset", offset.to_string()), ("length", length.to_string())]
        .into_iter()
        .map(|(k, v)| {
            let mut e = StringStringEntryProto::new();
            e.key = k.into();
            e.value = v;
            e
        })
        .collect();
}

fn input_dim(m: &mut ModelProto, axis: usize, v: onnx_protobuf::tensor_shape_proto::dimension::Value) {
    let g = m.graph.as_mut().unwrap();
    let Some(onnx_protobuf::type_proto::Value::TensorType(tt)) = g.input[0].type_.as_mut().unwrap().value.as_mut() else {
        unreachable!()
    };
    tt.shape.as_mut().unwrap().dim[axis].value = Some(v);
}

/// A model of `n` Relu nodes in a chain.
fn relu_chain(n: usize) -> Vec<u8> {
    let mut m = tiny_model();
    let g = m.graph.as_mut().unwrap();
    g.initializer.clear();
    g.node.clear();
    let input = g.input[0].name.clone();
    for i in 0..n {
        let mut r = NodeProto::new();
        r.op_type = "Relu".into();
        r.name = format!("relu{i}");
        r.input = vec![if i == 0 { input.clone() } else { format!("r{}", i - 1) }];
        r.output = vec![format!("r{i}")];
        g.node.push(r);
    }
    g.output[0].name = format!("r{}", n - 1);
    g.output[0].type_ = g.input[0].type_.clone();
    model_bytes(&m)
}

fn f32_tensor(name: &str, dims: &[i64], values: &[f32]) -> TensorProto {
    let mut t = TensorProto::new();
    t.name = name.into();
    t.data_type = 1;
    t.dims = dims.to_vec();
    t.raw_data = values.iter().flat_map(|v| v.to_le_bytes()).collect();
    t
}

/// Every corpus case, in a fixed order.
pub fn cases() -> Vec<Case> {
    use onnx_protobuf::tensor_shape_proto::dimension::Value as Dim;
    const ONNX: &str = "inspect {}";
    let mut c = Vec::new();
    let mut add = |file, bytes, args, expect| c.push(Case { file, bytes, args, expect });

    // Graph structure.
    add("cycle.onnx", edited(|m| {
        let later = m.graph.as_ref().unwrap().node[6].output[0].clone();
        m.graph.as_mut().unwrap().node[2].input[0] = later;
    }), ONNX, "the graph has a cycle through node(s)");
    add("missing_tensor.onnx", edited(|m| node(m, "bn1/bn").input[0] = "no_such_tensor".into()), ONNX,
        "node 'bn1/bn' (BatchNormalization) reads 'no_such_tensor', which nothing defines");
    add("duplicate_node_output.onnx", edited(|m| {
        let first = m.graph.as_ref().unwrap().node[0].output[0].clone();
        m.graph.as_mut().unwrap().node[3].output[0] = first;
    }), ONNX, "is defined by more than one node");
    add("duplicate_initializer.onnx", edited(|m| {
        let g = m.graph.as_mut().unwrap();
        let dup = g.initializer[0].clone();
        g.initializer.push(dup);
    }), ONNX, "is defined more than once");
    add("initializer_is_node_output.onnx", edited(|m| {
        let out = m.graph.as_ref().unwrap().node[0].output[0].clone();
        init(m, "bn1.weight").name = out;
    }), ONNX, "is both an initializer and a node output");
    add("duplicate_graph_input.onnx", edited(|m| {
        let g = m.graph.as_mut().unwrap();
        let dup = g.input[0].clone();
        g.input.push(dup);
    }), ONNX, "is declared more than once");
    add("output_never_defined.onnx", edited(|m| m.graph.as_mut().unwrap().output[0].name = "nowhere".into()), ONNX,
        "output 'nowhere' is never defined");
    add("no_outputs.onnx", edited(|m| m.graph.as_mut().unwrap().output.clear()), ONNX, "the graph declares no outputs");
    add("two_inputs.onnx", edited(|m| {
        let g = m.graph.as_mut().unwrap();
        let mut extra = g.input[0].clone();
        extra.name = "second_input".into();
        g.input.push(extra);
    }), ONNX, "the graph must have exactly one input, it has 2");
    add("deep_chain.onnx", relu_chain(300), "inspect --max-depth 100 {}", "deeper than the limit of 100 nodes (raise it with --max-depth)");
    add("many_nodes.onnx", relu_chain(300), "inspect --max-nodes 50 {}", "300 nodes, over the limit of 50 (raise it with --max-nodes)");

    // Dimensions.
    add("zero_dim_weight.onnx", edited(|m| {
        let t = init(m, "conv_stem.weight");
        t.dims = vec![0, 3, 3, 3];
        t.raw_data.clear();
    }), ONNX, "input 'conv_stem.weight#1' has shape 0x3x3x3, with a zero dimension");
    add("negative_dim_weight.onnx", edited(|m| init(m, "conv_stem.weight").dims[0] = -8), ONNX, "has a negative dimension -8");
    add("negative_input_dim.onnx", edited(|m| input_dim(m, 1, Dim::DimValue(-3))), ONNX, "declares a negative dimension -3 at axis 1");
    add("zero_input_dim.onnx", edited(|m| input_dim(m, 2, Dim::DimValue(0))), ONNX, "declares a zero dimension at axis 2");
    add("dynamic_input_dim.onnx", edited(|m| input_dim(m, 3, Dim::DimParam("width".into()))), ONNX,
        "has a dynamic dimension 'width' at axis 3; fix the shape with --input");
    add("huge_input.onnx", edited(|m| input_dim(m, 2, Dim::DimValue(1 << 40))), ONNX, "elements (raise it with --max-tensor-elements)");
    add("huge_tensor_claim.onnx", edited(|m| init(m, "conv_stem.weight").dims = vec![1 << 20, 1 << 20, 1 << 20]), ONNX,
        "over the limit of 268435456 elements (raise it with --max-tensor-elements)");
    add("dims_overflow.onnx", edited(|m| init(m, "conv_stem.weight").dims = vec![1 << 40, 1 << 40]), ONNX, "overflows");
    add("wrong_data_length.onnx", edited(|m| init(m, "conv_stem.weight").raw_data.truncate(100)), ONNX,
        "initializer 'conv_stem.weight#1' shape 16x3x3x3 needs 432 float values, the file holds 25");
    add("unsupported_dtype.onnx", edited(|m| init(m, "conv_stem.weight").data_type = 8), ONNX, "has unsupported element type string");
    add("input_not_float.onnx", edited(|m| {
        let g = m.graph.as_mut().unwrap();
        if let Some(onnx_protobuf::type_proto::Value::TensorType(tt)) = g.input[0].type_.as_mut().unwrap().value.as_mut() {
            tt.elem_type = 7;
        }
    }), ONNX, "is int64, only float is supported");

    // Attributes.
    add("stride_zero.onnx", edited(|m| set_ints(node(m, "conv_stem"), "strides", &[0, 0])), ONNX,
        "node 'conv_stem' (Conv): strides [0, 0] must be positive");
    add("negative_stride.onnx", edited(|m| set_ints(node(m, "conv_stem"), "strides", &[-2, 2])), ONNX,
        "attribute strides has a negative value -2");
    add("pads_larger_than_kernel.onnx", edited(|m| set_ints(node(m, "conv_stem"), "pads", &[5, 5, 5, 5])), ONNX,
        "pads [5, 5, 5, 5] are not smaller than kernel 3x3");
    add("groups_not_dividing.onnx", edited(|m| set_int(node(m, "blocks.0.0.ghost1.cheap_operation.0"), "group", 3)), ONNX,
        "groups 3 must divide input channels 4 and output channels 4");
    add("group_negative.onnx", edited(|m| set_int(node(m, "conv_stem"), "group", -1)), ONNX, "group -1 must be positive");
    add("kernel_shape_disagrees.onnx", edited(|m| set_ints(node(m, "conv_stem"), "kernel_shape", &[5, 5])), ONNX,
        "disagrees with kernel 5x5");
    add("huge_dilation.onnx", edited(|m| set_ints(node(m, "conv_stem"), "dilations", &[1 << 62, 1 << 62])), ONNX,
        "does not fit input");
    add("auto_pad_unknown.onnx", edited(|m| set_string(node(m, "conv_stem"), "auto_pad", "SIDEWAYS")), ONNX,
        "auto_pad 'SIDEWAYS' is not supported");
    add("gemm_mismatch.onnx", edited(|m| {
        let t = init(m, "classifier.weight");
        t.dims = vec![4, 15];
        t.raw_data.truncate(4 * 15 * 4);
    }), ONNX, "inner dimensions differ: A is 1x16 and B is 4x15 (transposed)");
    add("batchnorm_training.onnx", edited(|m| set_int(node(m, "bn1/bn"), "training_mode", 1)), ONNX,
        "training_mode is set; only inference is supported");
    add("reshape_impossible.onnx", edited(|m| {
        let shape_input = node(m, "flatten").input[1].clone();
        let t = m.graph.as_mut().unwrap().initializer.iter_mut().find(|t| t.name == shape_input).unwrap();
        t.int64_data = vec![3, -1];
    }), ONNX, "cannot reshape 16 elements to [3, -1]");
    add("slice_step_zero.onnx", edited(|m| {
        let g = m.graph.as_mut().unwrap();
        let steps = {
            let mut t = TensorProto::new();
            t.name = "zero".into();
            t.data_type = 7;
            t.dims = vec![1];
            t.int64_data = vec![0];
            t
        };
        g.initializer.push(steps);
        let n = g.node.iter_mut().find(|n| n.op_type == "Slice").unwrap();
        n.input.push("zero".into());
    }), ONNX, "(Slice): a step is zero");

    // Ops and opsets.
    add("unsupported_op.onnx", edited(|m| node(m, "act1/relu").op_type = "LSTM".into()), ONNX, "'act1/relu' (LSTM)");
    add("custom_domain.onnx", edited(|m| node(m, "act1/relu").domain = "com.example".into()), ONNX, "(com.example::Relu)");
    add("opset_too_new.onnx", edited(|m| m.opset_import[0].version = 99), ONNX,
        "uses opset 99 of the default ONNX domain; ghostc reads opsets 7 to 23");
    add("opset_too_old.onnx", edited(|m| m.opset_import[0].version = 3), ONNX, "uses opset 3 of the default ONNX domain");
    add("no_opset.onnx", edited(|m| m.opset_import.clear()), ONNX, "it declares no opset for the default domain");
    add("constant_of_shape_huge.onnx", edited(|m| {
        let g = m.graph.as_mut().unwrap();
        let mut shape = TensorProto::new();
        shape.name = "huge_shape".into();
        shape.data_type = 7;
        shape.dims = vec![2];
        shape.int64_data = vec![1 << 20, 1 << 20];
        g.initializer.push(shape);
        let mut n = NodeProto::new();
        n.op_type = "ConstantOfShape".into();
        n.name = "fill".into();
        n.input = vec!["huge_shape".into()];
        n.output = vec!["filled".into()];
        g.node.insert(0, n);
        let conv = g.node.iter_mut().find(|n| n.name == "conv_stem").unwrap();
        conv.input[1] = "filled".into();
    }), ONNX, "node 'fill' (ConstantOfShape): the result has shape 1048576x1048576");

    // Weight values.
    add("nan_weight.onnx", edited(|m| init(m, "conv_stem.weight").raw_data[8..12].copy_from_slice(&f32::NAN.to_le_bytes())), ONNX,
        "weight 'conv_stem.weight#1' has 1 NaN and 0 infinite value(s) (the first at index 2)");
    add("inf_weight.onnx", edited(|m| {
        let t = init(m, "classifier.bias");
        t.raw_data[0..4].copy_from_slice(&f32::INFINITY.to_le_bytes());
        t.raw_data[4..8].copy_from_slice(&f32::NEG_INFINITY.to_le_bytes());
    }), ONNX, "has 0 NaN and 2 infinite value(s)");

    // Files.
    add("empty.onnx", Vec::new(), ONNX, "is not an ONNX model: it has no graph");
    add("nested_groups.onnx", vec![0x0b; 1 << 16], ONNX, "it holds a protobuf group (field 1 at byte 0)");
    add("random_bytes.onnx", (0..4096u32).map(|i| (i.wrapping_mul(2654435761) >> 13) as u8).collect(), ONNX, "is not an ONNX model");
    add("truncated.onnx", {
        let b = model_bytes(&tiny_model());
        b[..b.len() / 2].to_vec()
    }, ONNX, "is not an ONNX model");
    add("file_too_large.onnx", model_bytes(&tiny_model()), "inspect --max-file-bytes 1000 {}",
        "bytes, over the limit of 1000 bytes (raise it with --max-file-bytes)");
    add("weights_too_large.onnx", model_bytes(&tiny_model()), "inspect --max-weight-bytes 1000 {}",
        "over the limit of 1000 (raise it with --max-weight-bytes)");
    add("external_absolute.onnx", edited(|m| external(init(m, "conv_stem.weight"), "/etc/passwd", 0, 864)), ONNX,
        "external data location '/etc/passwd' must be a relative path inside the model's folder");
    add("external_escapes.onnx", edited(|m| external(init(m, "conv_stem.weight"), "../../x", 0, 864)), ONNX,
        "external data location '../../x' must be a relative path inside the model's folder");
    add("external_escapes_inside.onnx", edited(|m| external(init(m, "conv_stem.weight"), "data/../../bad-inputs/data/small.bin", 0, 256)), ONNX,
        "must be a relative path inside the model's folder");
    add("external_missing.onnx", edited(|m| external(init(m, "conv_stem.weight"), "data/missing.bin", 0, 864)), ONNX,
        "cannot read external data file");
    add("external_out_of_range.onnx", edited(|m| external(init(m, "conv_stem.weight"), "data/small.bin", 200, 864)), ONNX,
        "external data range offset 200, length 864 is outside");
    add("external_offset_overflow.onnx", edited(|m| external(init(m, "conv_stem.weight"), "data/small.bin", u64::MAX, 864)), ONNX,
        "is outside");

    // Safetensors weights for the DSL.
    let tiny = || tiny_safetensors("F32", f32_bytes, |_, _| {});
    add("st_header_length_overflow.safetensors", {
        let mut b = tiny();
        b[..8].copy_from_slice(&u64::MAX.to_le_bytes());
        b
    }, TINY_DSL, "its header length 18446744073709551615 goes past the end of the file");
    add("st_too_short.safetensors", vec![1, 0, 0], TINY_DSL, "too short for the 8-byte header length");
    add("st_header_not_json.safetensors", {
        let mut b = 9u64.to_le_bytes().to_vec();
        b.extend_from_slice(b"{\"a\": [1,");
        b
    }, TINY_DSL, "its header is not JSON");
    add("st_overlap.safetensors", safetensors_raw(
        &[("a".into(), "F32", vec![4], [0, 16]), ("b".into(), "F32", vec![4], [8, 24])],
        &[0; 24],
    ), TINY_DSL, "tensors 'a' [0, 16] and 'b' [8, 24] overlap");
    add("st_out_of_range.safetensors", safetensors_raw(&[("a".into(), "F32", vec![64], [0, 256])], &[0; 16]), TINY_DSL,
        "tensor 'a' has data offsets [0, 256] past the end of the data (16 bytes)");
    add("st_size_mismatch.safetensors", safetensors_raw(&[("a".into(), "F32", vec![3, 3], [0, 16])], &[0; 16]), TINY_DSL,
        "tensor 'a' (F32, shape [3, 3]) needs 36 bytes but its data offsets [0, 16] hold 16");
    add("st_offsets_reversed.safetensors", safetensors_raw(&[("a".into(), "F32", vec![2], [8, 0])], &[0; 8]), TINY_DSL,
        "tensor 'a' has data offsets [8, 0] that end before they start");
    add("st_gap.safetensors", safetensors_raw(&[("a".into(), "F32", vec![2], [8, 16])], &[0; 16]), TINY_DSL,
        "data bytes 0..8 belong to no tensor");
    add("st_unknown_dtype.safetensors", safetensors_raw(&[("a".into(), "F128", vec![1], [0, 16])], &[0; 16]), TINY_DSL,
        "tensor 'a' has an unknown dtype \"F128\"");
    add("st_huge_shape.safetensors", safetensors_raw(&[("a".into(), "F32", vec![1 << 31, 1 << 31, 1 << 31], [0, 4])], &[0; 4]), TINY_DSL,
        "whose size overflows");
    add("st_int_weights.safetensors", tiny_safetensors("I32", |v| (v as i32).to_le_bytes().to_vec(), |_, _| {}), TINY_DSL,
        "tensor 'conv_stem.weight' is I32, expected a float type");
    add("st_missing_key.safetensors", {
        let all = tiny_weights();
        let mut entries = Vec::new();
        let mut data = Vec::new();
        for (name, shape, values) in all.iter().filter(|(k, _, _)| k != "bn1.bias") {
            let start = data.len() as u64;
            data.extend(values.iter().flat_map(|v| v.to_le_bytes()));
            entries.push((name.clone(), "F32", shape.clone(), [start, data.len() as u64]));
        }
        safetensors_raw(&entries, &data)
    }, TINY_DSL, "missing tensor 'bn1.bias' of shape 16");
    add("st_nan.safetensors", tiny_safetensors("F32", f32_bytes, |k, v| {
        if k == "conv_head.weight" {
            v[5] = f32::NAN;
        }
    }), TINY_DSL, "weight 'conv_head.weight' has 1 NaN and 0 infinite value(s) (the first at index 5)");
    add("st_f16_inf.safetensors", tiny_safetensors("F16", f16_bytes, |k, v| {
        if k == "classifier.weight" {
            v[0] = 1e6; // Beyond f16's range: infinite once stored as f16.
        }
    }), TINY_DSL, "weight 'classifier.weight' has 0 NaN and 1 infinite value(s)");
    add("st_bf16_nan.safetensors", tiny_safetensors("BF16", bf16_bytes, |k, v| {
        if k == "bn1.running_var" {
            v[1] = f32::NAN;
        }
    }), TINY_DSL, "weight 'bn1.running_var' has 1 NaN");

    // Stage tables for the DSL.
    add("stages_huge_channels.json", b"[[[3, 999999999, 16, 0, 1]]]".to_vec(), "inspect --alpha 1.0 --stages @{}",
        "over the limit of 268435456 elements (raise it with --max-tensor-elements)");
    add("stages_many_blocks.json", format!("[[{}]]", vec!["[3, 16, 16, 0, 1]"; 2000].join(", ")).into_bytes(), "inspect --alpha 1.0 --stages @{}",
        "the stage table has 2000 blocks");
    add("stages_even_kernel.json", b"[[[4, 16, 16, 0, 1]], [[3, 48, 24, 0, 7], [0, 1, 0, 1.5, 0]]]".to_vec(), "inspect --alpha 1.0 --stages @{}",
        "stage 0, block 0: kernel 4 must be odd");
    add("stages_not_a_table.json", b"{\"stages\": 3}".to_vec(), "inspect --alpha 1.0 --stages @{}",
        "cannot parse the stage table: the table must be a list of stages");
    add("stages_huge_width.json", b"[[[3, 16, 16, 0, 1]]]".to_vec(), "inspect --alpha 1e30 --stages @{}",
        "over the limit of 268435456 elements");
    add("stages_huge_input.json", b"[[[3, 16, 16, 0, 1]]]".to_vec(), "inspect --alpha 1.0 --input 1x3x100000x100000 --stages @{}",
        "the input 1x3x100000x100000 has 30000000000 elements, over the limit");
    c
}

/// The expectations file: one line per case, `file <TAB> ghostc arguments <TAB> expected
/// piece of the error message`.
pub const EXPECTATIONS: &str = "EXPECTED.tsv";

/// Writes every case, its companions and the expectations file into `dir`.
pub fn write_all(dir: &std::path::Path) -> std::io::Result<usize> {
    std::fs::create_dir_all(dir.join("data"))?;
    let mut tsv = String::from("# Written by `cargo run -p ghostnet-compiler --example make_bad_inputs`; checked by the test `bad_inputs`.\n");
    tsv.push_str("# file\tghostc arguments ({} is the file, {dir} this folder)\texpected piece of the error message\n");
    let cases = cases();
    for c in &cases {
        std::fs::write(dir.join(c.file), &c.bytes)?;
        tsv.push_str(&format!("{}\t{}\t{}\n", c.file, c.args, c.expect));
    }
    for (path, bytes) in companions() {
        std::fs::write(dir.join(path), bytes)?;
    }
    std::fs::write(dir.join(EXPECTATIONS), tsv)?;
    Ok(cases.len())
}

/// Well-formed small inputs for the byte-level fuzz targets (`fuzz/seeds/<target>/`): the
/// tiny model as ONNX, a GhostNetV2 one, and the safetensors weights (f32, f16, bf16) of
/// the tiny DSL network. The first byte of a safetensors file is the low byte of its header
/// length; `fuzzing::safetensors_load` uses it to pick the network, so these are padded to
/// an even header length, which picks the digits network, and one odd copy picks the tiny one.
pub fn fuzz_seeds() -> Vec<(String, Vec<u8>)> {
    let v2 = {
        let spec = Spec {
            version: dsl::Version::V2,
            width: 0.5,
            stages: vec![vec![Block::new(3, 16, 16, 0.0, 1)], vec![Block::new(3, 32, 24, 0.25, 2)], vec![Block::new(3, 48, 24, 0.0, 1)]],
            input: [1, 1, 16, 16],
            num_classes: 3,
            head_channels: 8,
            features: false,
        };
        writer::write(&dsl::build(&spec, &mut Source::seeded(9)).unwrap()).unwrap()
    };
    let st = tiny_safetensors("F32", f32_bytes, |_, _| {});
    let odd = if st[0] % 2 == 1 { st.clone() } else { pad_header(&st) };
    let mut seeds = vec![
        ("onnx_load/tiny.onnx".into(), model_bytes(&tiny_model())),
        ("onnx_load/tiny_v2.onnx".into(), v2),
        ("safetensors_load/tiny_f32.safetensors".into(), odd),
        ("safetensors_load/tiny_f16.safetensors".into(), pad_header(&tiny_safetensors("F16", f16_bytes, |_, _| {}))),
        ("safetensors_load/tiny_bf16.safetensors".into(), tiny_safetensors("BF16", bf16_bytes, |_, _| {})),
    ];
    // `differential`: random choices, long enough for networks of several blocks.
    for k in 0..8u64 {
        let mut r = ghostnet_compiler::front::dsl::weights::SplitMix64::new(k);
        let bytes: Vec<u8> = (0..256).map(|_| r.next_u64() as u8).collect();
        seeds.push((format!("differential/random_{k}"), bytes));
    }
    seeds
}

/// The same safetensors file with one space added to its header (which flips the parity of
/// the header length).
fn pad_header(st: &[u8]) -> Vec<u8> {
    let n = u64::from_le_bytes(st[..8].try_into().unwrap()) as usize;
    let mut out = ((n + 1) as u64).to_le_bytes().to_vec();
    out.extend_from_slice(&st[8..8 + n]);
    out.push(b' ');
    out.extend_from_slice(&st[8 + n..]);
    out
}
