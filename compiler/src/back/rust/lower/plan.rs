//! Planning the arena: which buffer each activation lives in, when each buffer is alive,
//! and where it goes ([`memory::place`]).

use std::collections::HashMap;

use super::super::memory::{self, Lifetime};
use super::layout::Layouts;
use super::{data, How, Layout};
use crate::ir::{Graph, Op, Precision, TensorId};

/// Buffers, their offsets, and which buffer each tensor lives in.
pub(super) struct Plan {
    /// Offset of each tensor's buffer (activations only).
    pub offsets: HashMap<TensorId, usize>,
    /// Scratch offsets of node `i`.
    pub scratch: HashMap<usize, Vec<usize>>,
    pub input_in_arena: bool,
    /// Outputs no node computes (constants, the input), copied into buffers of their own
    /// (at these offsets) after the last node.
    pub staged: Vec<(TensorId, usize)>,
    pub arena_len: usize,
}

impl Plan {
    /// Where output `t` is in the arena after the steps.
    pub fn output_offset(&self, t: TensorId) -> usize {
        self.staged.iter().find(|(s, _)| *s == t).map_or_else(|| self.offsets[&t], |(_, off)| *off)
    }
}

pub(super) struct Planner<'g> {
    graph: &'g Graph,
    hows: &'g [How],
    layouts: &'g Layouts,
}

impl<'g> Planner<'g> {
    pub fn new(graph: &'g Graph, hows: &'g [How], layouts: &'g Layouts) -> Self {
        Planner { graph, hows, layouts }
    }

    fn size(&self, t: TensorId) -> usize {
        self.layouts.size(t)
    }

    /// Scratch buffers node `i` needs, in elements.
    fn scratch(&self, i: usize) -> Vec<usize> {
        let n = &self.graph.nodes[i];
        let mut out = match (&self.hows[i], &n.op) {
            (How::Ghost, Op::Ghost { residual, gate, .. }) if *residual || *gate => {
                let l = Layout::of(self.graph, n.output);
                vec![l.hw * self.graph.shape(n.inputs[1])[0]]
            }
            (How::SqueezeExcite, _) => vec![self.graph.shape(n.inputs[0])[1], self.graph.shape(n.inputs[1])[0]],
            (How::General, _) => data::scratch(self.graph, self.layouts, n),
            _ => vec![],
        };
        if n.precision == Precision::Int8 {
            // The bytes of the quantized input rows (the classifier takes every image at once).
            let rows = match self.hows[i] {
                How::Classifier => self.layouts.images(n.inputs[0]),
                _ => Layout::of(self.graph, n.output).hw,
            };
            let k = Layout::of(self.graph, n.inputs[0]).channels;
            out.push((rows * ghostnet_runtime::qgemm::row_bytes(k)).div_ceil(4));
        }
        out
    }

    /// The activation inputs node `i` reads from the arena: the fused kernels read the
    /// graph input there too (but a dense convolution reads it from the caller's buffer,
    /// as the general kernels do).
    fn reads(&self, i: usize) -> Vec<TensorId> {
        let n = &self.graph.nodes[i];
        let input = self.graph.inputs[0];
        n.inputs
            .iter()
            .copied()
            .filter(|&t| !self.graph.tensor(t).is_const())
            .filter(|&t| t != input || (self.hows[i].fused() && !(self.hows[i] == How::Dense && n.inputs[0] == t)))
            .collect()
    }

    fn residual(&self, i: usize) -> Option<TensorId> {
        let n = &self.graph.nodes[i];
        match &n.op {
            Op::Conv(c) => c.residual_input().map(|r| n.inputs[r]),
            Op::Ghost { residual: true, .. } => Some(n.inputs[5]),
            _ => None,
        }
    }

    pub fn plan(&self) -> Plan {
        let g = self.graph;
        let input = g.inputs[0];
        let input_in_arena = (0..g.nodes.len()).any(|i| self.reads(i).contains(&input));
        let defined: std::collections::HashSet<TensorId> = g.nodes.iter().map(|n| n.output).collect();
        let mut staged: Vec<TensorId> = g.outputs.iter().copied().filter(|o| !defined.contains(o)).collect();
        staged.sort_unstable();
        staged.dedup();
        // Buffers: one per tensor to start with; aliases share their source's.
        let mut root: HashMap<TensorId, usize> = HashMap::new();
        let mut sizes: Vec<usize> = Vec::new();
        let new_buf = |sizes: &mut Vec<usize>, s: usize| {
            sizes.push(s);
            sizes.len() - 1
        };
        if input_in_arena {
            let b = new_buf(&mut sizes, self.size(input));
            root.insert(input, b);
        }
        for (i, n) in g.nodes.iter().enumerate() {
            if self.hows[i] == How::Alias {
                let r = root[&n.inputs[0]];
                root.insert(n.output, r);
            } else {
                let b = new_buf(&mut sizes, self.size(n.output));
                root.insert(n.output, b);
            }
        }
        // A staged input gets a buffer apart from the arena copy the fused kernels read.
        let mut staged_bufs = HashMap::new();
        for &t in &staged {
            staged_bufs.insert(t, new_buf(&mut sizes, self.size(t)));
        }
        let buf_of = |root: &HashMap<TensorId, usize>, t: TensorId| staged_bufs.get(&t).or_else(|| root.get(&t)).copied();
        // Last reader of each buffer, before any in-place merging.
        let mut last_read = vec![0usize; sizes.len()];
        for i in 0..g.nodes.len() {
            for t in self.reads(i) {
                last_read[root[&t]] = i;
            }
        }
        let out_bufs: Vec<usize> = g.outputs.iter().filter_map(|&o| buf_of(&root, o)).collect();
        // In place: an output takes its residual's buffer when that residual dies here.
        // Merged buffers point to the one they joined (`merged`, followed to its end).
        let mut merged: Vec<usize> = (0..sizes.len()).collect();
        let find = |merged: &Vec<usize>, mut b: usize| {
            while merged[b] != b {
                b = merged[b];
            }
            b
        };
        for i in 0..g.nodes.len() {
            let Some(r) = self.residual(i) else { continue };
            let n = &g.nodes[i];
            let (rb, ob) = (find(&merged, root[&r]), find(&merged, root[&n.output]));
            let x_buf = root.get(&n.inputs[0]).map(|&b| find(&merged, b));
            let same = self.size(r) == self.size(n.output);
            if last_read[rb] == i && Some(rb) != x_buf && !out_bufs.contains(&rb) && same && rb != ob {
                merged[ob] = rb;
            }
        }
        for b in root.values_mut() {
            *b = find(&merged, *b);
        }
        // Lifetimes in node time: the input copy at 0, node i at i + 1.
        let end = g.nodes.len() + 1;
        let mut life: Vec<Option<(usize, usize)>> = vec![None; sizes.len()];
        let mut touch = |b: usize, t: usize| {
            let l = life[b].get_or_insert((t, t));
            l.0 = l.0.min(t);
            l.1 = l.1.max(t);
        };
        if input_in_arena {
            touch(root[&input], 0);
        }
        for i in 0..g.nodes.len() {
            touch(root[&g.nodes[i].output], i + 1);
            for t in self.reads(i) {
                touch(root[&t], i + 1);
            }
        }
        for &o in &g.outputs {
            touch(buf_of(&root, o).expect("every output has a buffer"), end);
        }
        let mut lifetimes: Vec<Lifetime> = Vec::new();
        let mut buf_slot: Vec<Option<usize>> = vec![None; sizes.len()];
        for (b, l) in life.iter().enumerate() {
            if let Some((s, e)) = l {
                buf_slot[b] = Some(lifetimes.len());
                lifetimes.push(Lifetime { size: sizes[b], start: *s, end: *e });
            }
        }
        let mut scratch_slots: Vec<(usize, usize)> = Vec::new();
        for i in 0..g.nodes.len() {
            for s in self.scratch(i) {
                scratch_slots.push((i, lifetimes.len()));
                lifetimes.push(Lifetime { size: s, start: i + 1, end: i + 1 });
            }
        }
        let (offs, arena_len) = memory::place(&lifetimes);
        let offsets: HashMap<TensorId, usize> = root.iter().filter_map(|(&t, &b)| buf_slot[b].map(|s| (t, offs[s]))).collect();
        let staged = staged.iter().map(|t| (*t, offs[buf_slot[staged_bufs[t]].expect("staged outputs are alive at the end")])).collect();
        let mut scratch: HashMap<usize, Vec<usize>> = HashMap::new();
        for (i, slot) in scratch_slots {
            scratch.entry(i).or_default().push(offs[slot]);
        }
        Plan { offsets, scratch, input_in_arena, staged, arena_len }
    }
}
