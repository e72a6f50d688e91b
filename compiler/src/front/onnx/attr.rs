//! Typed access to a node's attributes.

use onnx_protobuf::attribute_proto::AttributeType;
use onnx_protobuf::{AttributeProto, NodeProto, TensorProto};

/// A `NodeProto` with attribute getters that fall back to defaults.
#[derive(Clone, Copy)]
pub struct NodeView<'a> {
    pub proto: &'a NodeProto,
}

impl<'a> NodeView<'a> {
    pub fn op_type(&self) -> &'a str {
        &self.proto.op_type
    }

    fn get(&self, name: &str) -> Option<&'a AttributeProto> {
        self.proto.attribute.iter().find(|a| a.name == name)
    }

    fn kind(a: &AttributeProto) -> Option<AttributeType> {
        a.type_.enum_value().ok()
    }

    pub fn has(&self, name: &str) -> bool {
        self.get(name).is_some()
    }

    pub fn int(&self, name: &str, default: i64) -> i64 {
        self.get(name).map_or(default, |a| a.i)
    }

    pub fn float(&self, name: &str, default: f32) -> f32 {
        self.get(name).map_or(default, |a| a.f)
    }

    pub fn ints(&self, name: &str) -> &'a [i64] {
        self.try_ints(name).unwrap_or(&[])
    }

    pub fn try_ints(&self, name: &str) -> Option<&'a [i64]> {
        self.get(name).map(|a| a.ints.as_slice())
    }

    pub fn floats(&self, name: &str) -> Option<&'a [f32]> {
        self.get(name).map(|a| a.floats.as_slice())
    }

    pub fn string(&self, name: &str, default: &'a str) -> String {
        self.get(name).map_or(default.to_string(), |a| String::from_utf8_lossy(&a.s).into_owned())
    }

    pub fn tensor(&self, name: &str) -> Option<&'a TensorProto> {
        self.get(name).and_then(|a| a.t.as_ref())
    }

    /// The attribute names present, with their kinds, for Constant.
    pub fn constant_value(&self) -> Option<(&'a str, &'a AttributeProto, Option<AttributeType>)> {
        self.proto.attribute.first().map(|a| (a.name.as_str(), a, Self::kind(a)))
    }

    /// `ints` attribute converted to `usize`, or an error naming it.
    pub fn usizes(&self, name: &str) -> Result<Option<Vec<usize>>, String> {
        self.try_ints(name)
            .map(|v| {
                v.iter()
                    .map(|&x| usize::try_from(x).map_err(|_| format!("attribute {name} has a negative value {x}")))
                    .collect()
            })
            .transpose()
    }
}
