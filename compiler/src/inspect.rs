//! `ghostc inspect`: a per-layer table of a graph, as text or JSON.

use std::fmt::Write as _;

use crate::ir::{Graph, ShapeDisplay};

/// One row: a node of the (optimized) graph.
#[derive(Clone, Debug, PartialEq)]
pub struct Layer {
    pub name: String,
    pub op: String,
    /// Source ops merged into this node.
    pub fused: Vec<String>,
    /// Shape of the first input.
    pub input: Vec<usize>,
    pub output: Vec<usize>,
    pub params: usize,
    pub macs: u64,
    /// The precision of its matrix products (`f32` when it has none).
    pub precision: String,
    /// int8-capable layers: the SQNR (dB) of its output in int8 against `f32`, measured on
    /// the calibration inputs (also for those that stay float).
    pub int8_sqnr_db: Option<f32>,
}

/// The totals and the rows.
#[derive(Clone, Debug, PartialEq)]
pub struct Report {
    pub name: String,
    pub params: usize,
    pub macs: u64,
    /// Bytes of the activation arena, 0 when memory has not been planned.
    pub arena_bytes: usize,
    pub layers: Vec<Layer>,
    /// The outputs, in order: name and shape.
    pub outputs: Vec<(String, Vec<usize>)>,
}

impl Report {
    pub fn new(graph: &Graph, arena_bytes: usize) -> Self {
        let layers = graph
            .nodes
            .iter()
            .map(|n| Layer {
                name: n.name.clone(),
                op: op_label(n),
                fused: n.fused.clone(),
                input: n.inputs.first().map(|&t| graph.shape(t).clone()).unwrap_or_default(),
                output: graph.shape(n.output).clone(),
                params: graph.node_params(n),
                macs: graph.node_macs(n),
                precision: n.precision.to_string(),
                int8_sqnr_db: n.quant.as_ref().and_then(|q| q.error_db),
            })
            .collect();
        let outputs = graph.outputs.iter().enumerate().map(|(k, &o)| (graph.output_name(k).to_string(), graph.shape(o).clone())).collect();
        Report { name: graph.name.clone(), params: graph.param_count(), macs: graph.mac_count(), arena_bytes, layers, outputs }
    }

    /// A fixed-width table and a totals line.
    pub fn to_table(&self) -> String {
        let mut s = String::new();
        let w = self.layers.iter().map(|l| l.name.len()).max().unwrap_or(4).clamp(5, 48);
        let _ = writeln!(s, "{:<w$}  {:<17} {:<36} {:>14} {:>14} {:>9} {:>12}  {:<9} {}", "layer", "op", "fused", "input", "output", "params", "MACs", "precision", "int8 SQNR");
        for l in &self.layers {
            let mut name = l.name.clone();
            if name.len() > w {
                name = format!("…{}", &name[name.len() - (w - 1)..]);
            }
            let fused = if l.fused.is_empty() { "-".to_string() } else { l.fused.join("+") };
            let _ = writeln!(
                s,
                "{:<w$}  {:<17} {:<36} {:>14} {:>14} {:>9} {:>12}  {:<9} {}",
                name,
                l.op,
                fused,
                ShapeDisplay(&l.input).to_string(),
                ShapeDisplay(&l.output).to_string(),
                l.params,
                l.macs,
                l.precision,
                l.int8_sqnr_db.map_or("-".to_string(), |db| format!("{db:.1} dB"))
            );
        }
        let _ = writeln!(
            s,
            "total: {} layers, {} params ({:.3} M), {} MACs ({:.1} M), arena {} bytes",
            self.layers.len(),
            self.params,
            self.params as f64 / 1e6,
            self.macs,
            self.macs as f64 / 1e6,
            self.arena_bytes
        );
        let outputs: Vec<String> = self.outputs.iter().map(|(n, s)| format!("{n} ({})", ShapeDisplay(s))).collect();
        let _ = writeln!(s, "outputs: {}", outputs.join(", "));
        s
    }

    /// `{"name", "params", "macs", "arena_bytes", "layers": [{"name", "op", "fused", "input",
    /// "output", "params", "macs", "precision", "int8_sqnr_db"}], "outputs": [{"name", "shape"}]}`.
    pub fn to_json(&self) -> String {
        let layers: Vec<serde_json::Value> = self
            .layers
            .iter()
            .map(|l| {
                serde_json::json!({
                    "name": l.name, "op": l.op, "fused": l.fused, "input": l.input,
                    "output": l.output, "params": l.params, "macs": l.macs, "precision": l.precision, "int8_sqnr_db": l.int8_sqnr_db,
                })
            })
            .collect();
        let outputs: Vec<serde_json::Value> = self.outputs.iter().map(|(n, s)| serde_json::json!({ "name": n, "shape": s })).collect();
        let v = serde_json::json!({
            "name": self.name, "params": self.params, "macs": self.macs,
            "arena_bytes": self.arena_bytes, "layers": layers, "outputs": outputs,
        });
        serde_json::to_string_pretty(&v).expect("JSON of plain values")
    }
}

/// The op column: the op name plus the kernel shape for convolutions.
fn op_label(n: &crate::ir::Node) -> String {
    match &n.op {
        crate::ir::Op::Conv(c) => {
            let dw = if c.groups > 1 { " dw" } else { "" };
            format!("Conv {}x{}/{}{dw}", c.kernel[0], c.kernel[1], c.stride[0])
        }
        op => op.name().to_string(),
    }
}
