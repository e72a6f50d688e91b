//! Graph validation: edges, execution order, arity and shapes.

use std::fmt;

use super::{checked_numel, Graph, ShapeDisplay, TensorId, MAX_RANK};

/// One problem found in a graph.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum ValidationError {
    #[error("node '{node}' ({op}) reads tensor #{tensor}, which does not exist")]
    DanglingInput { node: String, op: &'static str, tensor: u32 },
    #[error("node '{node}' ({op}) reads '{tensor}' before anything defines it")]
    UseBeforeDef { node: String, op: &'static str, tensor: String },
    #[error("tensor '{tensor}' is defined more than once")]
    Redefined { tensor: String },
    #[error("node '{node}' ({op}): {message}")]
    Shape { node: String, op: &'static str, message: String },
    #[error("node '{node}' ({op}) records output shape {stored} but its inputs give {inferred}")]
    StaleShape { node: String, op: &'static str, stored: String, inferred: String },
    #[error("constant '{tensor}' has {len} values but shape {shape}")]
    ConstLength { tensor: String, len: usize, shape: String },
    #[error("tensor '{tensor}' has a shape whose size overflows")]
    Overflow { tensor: String },
    #[error("tensor '{tensor}' has shape {shape}, with a zero dimension")]
    Empty { tensor: String, shape: String },
    #[error("graph output '{tensor}' is never defined")]
    UndefinedOutput { tensor: String },
    #[error("graph output #{index} refers to a tensor that does not exist")]
    DanglingOutput { index: usize },
    #[error("tensor '{tensor}' has {rank} dimensions; at most {MAX_RANK} are supported")]
    Rank { tensor: String, rank: usize },
    #[error("the graph has {outputs} outputs but {names} output names")]
    OutputNames { outputs: usize, names: usize },
}

/// Every problem found in a graph, in node order.
#[derive(Clone, Debug, PartialEq)]
pub struct ValidationErrors(pub Vec<ValidationError>);

impl fmt::Display for ValidationErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} problem(s) in the graph:", self.0.len())?;
        for e in &self.0 {
            write!(f, "\n  - {e}")?;
        }
        Ok(())
    }
}

impl std::error::Error for ValidationErrors {}

impl Graph {
    /// Checks the invariants listed in the module docs; returns every violation at once.
    pub fn validate(&self) -> Result<(), ValidationErrors> {
        let mut errors = Vec::new();
        let n_tensors = self.tensors.len();
        let mut defined = vec![false; n_tensors];
        for t in &self.tensors {
            if t.shape.len() > MAX_RANK {
                errors.push(ValidationError::Rank { tensor: t.name.clone(), rank: t.shape.len() });
            }
            match checked_numel(&t.shape) {
                None => errors.push(ValidationError::Overflow { tensor: t.name.clone() }),
                Some(n) => {
                    if n == 0 {
                        errors.push(ValidationError::Empty { tensor: t.name.clone(), shape: ShapeDisplay(&t.shape).to_string() });
                    }
                    if let Some(d) = &t.data
                        && d.len() != n
                    {
                        errors.push(ValidationError::ConstLength {
                            tensor: t.name.clone(),
                            len: d.len(),
                            shape: ShapeDisplay(&t.shape).to_string(),
                        });
                    }
                }
            }
        }
        for (i, t) in self.tensors.iter().enumerate() {
            if t.is_const() {
                defined[i] = true;
            }
        }
        for &i in &self.inputs {
            if i.index() < n_tensors {
                defined[i.index()] = true;
            }
        }
        let name = |t: TensorId| self.tensors[t.index()].name.clone();
        for node in &self.nodes {
            let op = node.op.name();
            let mut ok = true;
            for &i in &node.inputs {
                if i.index() >= n_tensors {
                    errors.push(ValidationError::DanglingInput { node: node.name.clone(), op, tensor: i.0 });
                    ok = false;
                } else if !defined[i.index()] {
                    errors.push(ValidationError::UseBeforeDef { node: node.name.clone(), op, tensor: name(i) });
                    ok = false;
                }
            }
            if node.output.index() >= n_tensors {
                errors.push(ValidationError::DanglingInput { node: node.name.clone(), op, tensor: node.output.0 });
                continue;
            }
            if defined[node.output.index()] {
                errors.push(ValidationError::Redefined { tensor: name(node.output) });
            }
            defined[node.output.index()] = true;
            if !ok {
                continue;
            }
            let shapes: Vec<_> = node.inputs.iter().map(|&i| self.shape(i)).collect();
            match node.op.infer_shape(&shapes) {
                Err(message) => errors.push(ValidationError::Shape { node: node.name.clone(), op, message }),
                Ok(s) if &s != self.shape(node.output) => errors.push(ValidationError::StaleShape {
                    node: node.name.clone(),
                    op,
                    stored: ShapeDisplay(self.shape(node.output)).to_string(),
                    inferred: ShapeDisplay(&s).to_string(),
                }),
                Ok(_) => {}
            }
        }
        for (index, &o) in self.outputs.iter().enumerate() {
            if o.index() >= n_tensors {
                errors.push(ValidationError::DanglingOutput { index });
            } else if !defined[o.index()] {
                errors.push(ValidationError::UndefinedOutput { tensor: name(o) });
            }
        }
        if !self.output_names.is_empty() && self.output_names.len() != self.outputs.len() {
            errors.push(ValidationError::OutputNames { outputs: self.outputs.len(), names: self.output_names.len() });
        }
        if errors.is_empty() { Ok(()) } else { Err(ValidationErrors(errors)) }
    }
}
