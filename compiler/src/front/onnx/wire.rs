//! A scan of the protobuf wire format before `protobuf` parses a model, for the one input the
//! parser cannot survive: protobuf 3.4 (which `onnx-protobuf` pins) skips an unknown *group*
//! field by recursing once per nesting level with no limit (RUSTSEC-2024-0437), so a few
//! hundred kilobytes of nested group tags overflow the stack and kill the process.
//!
//! ONNX files never contain groups. The scan walks every message the parser would parse (the
//! ONNX message fields below) without recursion and refuses any group tag; everything else,
//! including malformed bytes, is left for the parser to judge.

/// A message type of `onnx.proto` that has message fields.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Msg {
    Model,
    Graph,
    Node,
    Attribute,
    Tensor,
    SparseTensor,
    ValueInfo,
    Type,
    TypeTensor,
    TypeSequence,
    TypeMap,
    TypeOptional,
    TypeSparseTensor,
    TensorShape,
    TrainingInfo,
    TensorAnnotation,
    Function,
    /// A message with no message fields (StringStringEntry, OperatorSetId, Dimension, ...).
    Leaf,
}

/// The type of message field `field` of `m`, if it is one.
fn sub(m: Msg, field: u64) -> Option<Msg> {
    use Msg::*;
    Some(match (m, field) {
        (Model, 7) => Graph,
        (Model, 8 | 14) => Leaf,
        (Model, 20) => TrainingInfo,
        (Model, 25) => Function,
        (Graph, 1) => Node,
        (Graph, 5) => Tensor,
        (Graph, 15) => SparseTensor,
        (Graph, 11..=13) => ValueInfo,
        (Graph, 14) => TensorAnnotation,
        (Graph, 16) => Leaf,
        (Node, 5) => Attribute,
        (Node, 9) => Leaf,
        (Attribute, 5 | 10) => Tensor,
        (Attribute, 6 | 11) => Graph,
        (Attribute, 22 | 23) => SparseTensor,
        (Attribute, 14 | 15) => Type,
        (Tensor, 3 | 13 | 16) => Leaf,
        (SparseTensor, 1 | 2) => Tensor,
        (ValueInfo, 2) => Type,
        (ValueInfo, 4) => Leaf,
        (Type, 1) => TypeTensor,
        (Type, 4) => TypeSequence,
        (Type, 5) => TypeMap,
        (Type, 8) => TypeSparseTensor,
        (Type, 9) => TypeOptional,
        (TypeTensor | TypeSparseTensor, 2) => TensorShape,
        (TypeSequence | TypeOptional, 1) => Type,
        (TypeMap, 2) => Type,
        (TensorShape, 1) => Leaf,
        (TrainingInfo, 1 | 2) => Graph,
        (TrainingInfo, 3 | 4) => Leaf,
        (TensorAnnotation, 2) => Leaf,
        (Function, 7) => Node,
        (Function, 9 | 14) => Leaf,
        (Function, 11) => Attribute,
        (Function, 12) => ValueInfo,
        _ => return None,
    })
}

fn varint(b: &[u8], pos: usize) -> Option<(u64, usize)> {
    let mut v = 0u64;
    for i in 0..10 {
        let byte = *b.get(pos + i)?;
        v |= ((byte & 0x7f) as u64) << (7 * i);
        if byte & 0x80 == 0 {
            return Some((v, pos + i + 1));
        }
    }
    None
}

/// Refuses a model whose messages hold a protobuf group; `Ok` for anything else (malformed
/// bytes included: the parser reports those).
pub fn check_groups(bytes: &[u8]) -> Result<(), String> {
    let mut stack: Vec<(Msg, usize)> = vec![(Msg::Model, bytes.len())];
    let mut pos = 0;
    while let Some(&(msg, end)) = stack.last() {
        if pos >= end {
            stack.pop();
            continue;
        }
        let Some((tag, next)) = varint(bytes, pos) else { return Ok(()) };
        let (field, wire) = (tag >> 3, tag & 7);
        pos = match wire {
            0 => match varint(bytes, next) {
                Some((_, p)) => p,
                None => return Ok(()),
            },
            1 => next + 8,
            5 => next + 4,
            2 => {
                let Some((len, start)) = varint(bytes, next) else { return Ok(()) };
                let Some(stop) = usize::try_from(len).ok().and_then(|l| start.checked_add(l)).filter(|&s| s <= end) else {
                    return Ok(());
                };
                if let Some(m) = sub(msg, field) {
                    stack.push((m, stop));
                    start
                } else {
                    stop
                }
            }
            3 | 4 => {
                return Err(format!(
                    "it holds a protobuf group (field {field} at byte {pos}), which no ONNX file has (and the protobuf parser cannot read nested groups safely)"
                ));
            }
            _ => return Ok(()),
        };
        if pos > end {
            return Ok(());
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nested_groups_are_refused_and_models_pass() {
        let e = check_groups(&[0x0b; 1 << 16]).unwrap_err();
        assert!(e.contains("protobuf group (field 1 at byte 0)"), "{e}");
        // A group inside a node inside the graph: model { graph(7) { node(1) { group } } }.
        let node = [0x0bu8, 0x0c];
        let mut graph = vec![0x0a, node.len() as u8];
        graph.extend(node);
        let mut model = vec![0x3a, graph.len() as u8];
        model.extend(&graph);
        assert!(check_groups(&model).unwrap_err().contains("field 1 at byte 4"));
        // The same bytes as raw data of an initializer are just bytes.
        let mut tensor = vec![0x4a, 2];
        tensor.extend(node);
        let mut graph = vec![0x2a, tensor.len() as u8];
        graph.extend(tensor);
        let mut model = vec![0x3a, graph.len() as u8];
        model.extend(graph);
        assert!(check_groups(&model).is_ok());
        let digits = std::fs::read(concat!(env!("CARGO_MANIFEST_DIR"), "/models/digits_ghostnet.onnx")).unwrap();
        assert!(check_groups(&digits).is_ok());
    }
}
