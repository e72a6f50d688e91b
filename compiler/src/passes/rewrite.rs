//! The rewrite driver every pass runs on.
//!
//! A [`Rewriter`] holds the graph with its producer and reader maps and keeps them up to date
//! through every edit (a node replaced, removed, rewired; a constant added), so that a pass
//! asks "which node defines this tensor, who else reads it" in constant time instead of
//! scanning the node list. Removed nodes leave a hole until [`Rewriter::finish`], so node
//! indices stay valid while a pass runs. [`each_node`] visits the nodes in execution order
//! and lets a pass rewrite around each; the patterns are plain Rust over the helpers
//! ([`Rewriter::producer_if`], [`Rewriter::exclusive`], [`Rewriter::const_operand`], ...).
//!
//! A pass keeps the execution order valid by putting a node that replaces several at the
//! position of the last of them (its inputs are all defined before that one); the pass driver
//! validates the graph after every pass.

use crate::ir::{Graph, Node, Op, Shape, TensorId};

/// A graph being rewritten: the node list with holes, and the maps that follow every edit.
pub struct Rewriter<'g> {
    g: &'g mut Graph,
    live: Vec<bool>,
    /// By tensor index: the node defining it.
    producer: Vec<Option<usize>>,
    /// By tensor index: the live nodes reading it, each once.
    readers: Vec<Vec<usize>>,
    /// By tensor index: how many graph outputs it is.
    outputs: Vec<usize>,
    changed: bool,
}

impl<'g> Rewriter<'g> {
    pub fn new(g: &'g mut Graph) -> Self {
        let n = g.tensors.len();
        let mut rw = Rewriter {
            live: vec![true; g.nodes.len()],
            producer: vec![None; n],
            readers: vec![Vec::new(); n],
            outputs: vec![0; n],
            changed: false,
            g,
        };
        for i in 0..rw.g.nodes.len() {
            rw.index(i);
        }
        for k in 0..rw.g.outputs.len() {
            let o = rw.g.outputs[k].index();
            rw.grow(o);
            rw.outputs[o] += 1;
        }
        rw
    }

    fn grow(&mut self, t: usize) {
        if t >= self.producer.len() {
            self.producer.resize(t + 1, None);
            self.readers.resize(t + 1, Vec::new());
            self.outputs.resize(t + 1, 0);
        }
    }

    /// Records node `i`'s edges in the maps.
    fn index(&mut self, i: usize) {
        let out = self.g.nodes[i].output.index();
        self.grow(out);
        self.producer[out] = Some(i);
        for k in 0..self.g.nodes[i].inputs.len() {
            let t = self.g.nodes[i].inputs[k].index();
            self.grow(t);
            if !self.readers[t].contains(&i) {
                self.readers[t].push(i);
            }
        }
    }

    /// Forgets node `i`'s edges.
    fn unindex(&mut self, i: usize) {
        let out = self.g.nodes[i].output.index();
        if self.producer.get(out) == Some(&Some(i)) {
            self.producer[out] = None;
        }
        for k in 0..self.g.nodes[i].inputs.len() {
            let t = self.g.nodes[i].inputs[k].index();
            if let Some(r) = self.readers.get_mut(t) {
                r.retain(|&j| j != i);
            }
        }
    }

    /// The graph, for shapes, data and names.
    pub fn graph(&self) -> &Graph {
        self.g
    }

    /// Number of node slots (live or removed); indices below it are valid.
    pub fn len(&self) -> usize {
        self.g.nodes.len()
    }

    pub fn is_empty(&self) -> bool {
        self.g.nodes.is_empty()
    }

    pub fn is_live(&self, i: usize) -> bool {
        self.live[i]
    }

    /// Node `i` (live or not).
    pub fn node(&self, i: usize) -> &Node {
        &self.g.nodes[i]
    }

    pub fn shape(&self, t: TensorId) -> &Shape {
        self.g.shape(t)
    }

    pub fn data(&self, t: TensorId) -> Option<&[f32]> {
        self.g.data(t)
    }

    pub fn is_const(&self, t: TensorId) -> bool {
        self.g.tensor(t).is_const()
    }

    /// The live node defining `t`.
    pub fn producer(&self, t: TensorId) -> Option<usize> {
        self.producer.get(t.index()).copied().flatten()
    }

    /// The live nodes reading `t`, each once.
    pub fn readers(&self, t: TensorId) -> &[usize] {
        self.readers.get(t.index()).map_or(&[], Vec::as_slice)
    }

    /// Whether `t` is a graph output.
    pub fn is_output(&self, t: TensorId) -> bool {
        self.outputs.get(t.index()).is_some_and(|&n| n > 0)
    }

    /// Readers of `t`, a graph output counting as one (as [`Graph::use_count`]).
    pub fn use_count(&self, t: TensorId) -> usize {
        self.readers(t).len() + self.outputs.get(t.index()).copied().unwrap_or(0)
    }

    /// Whether one node reads `t` and nothing else (no graph output) does.
    pub fn exclusive(&self, t: TensorId) -> bool {
        self.use_count(t) == 1
    }

    /// The producer of `t` when its op satisfies `pred`.
    pub fn producer_if(&self, t: TensorId, pred: impl Fn(&Op) -> bool) -> Option<usize> {
        self.producer(t).filter(|&p| pred(&self.g.nodes[p].op))
    }

    /// The producer of `t` when its op satisfies `pred` and one node alone reads `t`: the
    /// producer can be merged into that reader.
    pub fn exclusive_producer_if(&self, t: TensorId, pred: impl Fn(&Op) -> bool) -> Option<usize> {
        self.producer_if(t, pred).filter(|_| self.exclusive(t))
    }

    /// For a two-input node: `(k, c, x)` when input `k` is the constant `c` and the other
    /// input, `x`, is not.
    pub fn const_operand(&self, i: usize) -> Option<(usize, TensorId, TensorId)> {
        let n = &self.g.nodes[i];
        let [a, b] = n.inputs[..] else { return None };
        match (self.is_const(a), self.is_const(b)) {
            (true, false) => Some((0, a, b)),
            (false, true) => Some((1, b, a)),
            _ => None,
        }
    }

    /// Adds a constant.
    pub fn add_const(&mut self, name: impl Into<String>, shape: Shape, data: Vec<f32>) -> TensorId {
        self.changed = true;
        self.g.add_const(name, shape, data)
    }

    /// Gives tensor `t` constant data; the caller removes its producer.
    pub fn set_data(&mut self, t: TensorId, data: Vec<f32>) {
        self.changed = true;
        self.g.tensor_mut(t).data = Some(data);
    }

    /// Removes node `i`; the caller makes sure nothing reads its output any more.
    pub fn remove(&mut self, i: usize) {
        if self.live[i] {
            self.unindex(i);
            self.live[i] = false;
            self.changed = true;
        }
    }

    /// Puts `node` in slot `i` in place of the node there.
    pub fn replace(&mut self, i: usize, node: Node) {
        if self.live[i] {
            self.unindex(i);
        }
        self.g.nodes[i] = node;
        self.live[i] = true;
        self.index(i);
        self.changed = true;
    }

    /// Edits node `i` in place.
    pub fn update(&mut self, i: usize, edit: impl FnOnce(&mut Node)) {
        self.unindex(i);
        edit(&mut self.g.nodes[i]);
        self.index(i);
        self.changed = true;
    }

    /// Makes every reader of `from` (nodes and graph outputs) read `to` instead.
    pub fn replace_uses(&mut self, from: TensorId, to: TensorId) {
        if from == to {
            return;
        }
        self.grow(from.index().max(to.index()));
        for i in std::mem::take(&mut self.readers[from.index()]) {
            for t in &mut self.g.nodes[i].inputs {
                if *t == from {
                    *t = to;
                }
            }
            if !self.readers[to.index()].contains(&i) {
                self.readers[to.index()].push(i);
            }
        }
        if self.outputs[from.index()] > 0 {
            for o in &mut self.g.outputs {
                if *o == from {
                    *o = to;
                }
            }
            self.outputs[to.index()] += std::mem::take(&mut self.outputs[from.index()]);
        }
        self.changed = true;
    }

    /// Removes node `i` and lets its readers read its input `k` instead (for nodes that
    /// pass that input through unchanged).
    pub fn bypass(&mut self, i: usize, k: usize) {
        let (out, x) = (self.g.nodes[i].output, self.g.nodes[i].inputs[k]);
        self.remove(i);
        self.replace_uses(out, x);
    }

    /// Drops the removed nodes; returns whether anything changed.
    pub fn finish(self) -> bool {
        if self.live.iter().any(|l| !l) {
            let mut it = self.live.iter();
            self.g.nodes.retain(|_| *it.next().expect("one flag per node"));
        }
        self.changed
    }
}

/// Runs `f` on every live node in execution order; `f` rewrites around node `i` and returns
/// whether it changed anything. A node that was rewritten and is still there is visited
/// again (the new node may start another match). Returns whether anything changed.
pub fn each_node(g: &mut Graph, mut f: impl FnMut(&mut Rewriter<'_>, usize) -> bool) -> bool {
    /// More rewrites at one node than this mean a pass that never settles: a bug, stopped
    /// here rather than looping (the validation after the pass still runs).
    const MAX_VISITS: usize = 64;
    let mut rw = Rewriter::new(g);
    let mut i = 0;
    let mut visits = 0;
    while i < rw.len() {
        if rw.is_live(i) && visits < MAX_VISITS && f(&mut rw, i) {
            rw.changed = true;
            visits += 1;
            continue;
        }
        visits = 0;
        i += 1;
    }
    rw.finish()
}

/// Like [`each_node`], from the last node to the first (readers before producers), each
/// node once.
pub fn each_node_rev(g: &mut Graph, mut f: impl FnMut(&mut Rewriter<'_>, usize) -> bool) -> bool {
    let mut rw = Rewriter::new(g);
    for i in (0..rw.len()).rev() {
        if rw.is_live(i) && f(&mut rw, i) {
            rw.changed = true;
        }
    }
    rw.finish()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ir::Act;

    fn chain() -> (Graph, [TensorId; 4]) {
        let mut g = Graph::new("t");
        let x = g.add_input("x", vec![1, 2]);
        let a = g.push("a", Op::Activation(Act::Relu), vec![x]).unwrap();
        let b = g.push("b", Op::Add, vec![a, a]).unwrap();
        let c = g.push("c", Op::Mul, vec![a, b]).unwrap();
        g.outputs.push(c);
        (g, [x, a, b, c])
    }

    #[test]
    fn maps_follow_every_edit() {
        let (mut g, [x, a, b, c]) = chain();
        let mut rw = Rewriter::new(&mut g);
        assert_eq!(rw.producer(b), Some(1));
        assert_eq!(rw.readers(a), [1, 2]);
        assert_eq!(rw.use_count(c), 1);
        assert!(rw.is_output(c));
        // b = a + a becomes b = x + a: `a` loses no reader, `x` gains one.
        rw.update(1, |n| n.inputs[0] = x);
        assert_eq!(rw.readers(x), [0, 1]);
        assert_eq!(rw.readers(a), [2, 1]);
        // Remove the relu, reading x instead.
        rw.bypass(0, 0);
        assert_eq!(rw.producer(a), None);
        assert_eq!(rw.readers(a), [] as [usize; 0]);
        assert_eq!(rw.readers(x), [1, 2]);
        // The output moves with replace_uses.
        rw.replace_uses(c, b);
        assert!(rw.is_output(b) && !rw.is_output(c));
        assert_eq!(rw.use_count(b), 2);
        rw.remove(2);
        assert!(rw.finish());
        assert_eq!(g.nodes.len(), 1);
        assert_eq!(g.outputs, [b]);
        assert_eq!(g.nodes[0].inputs, [x, x]);
        g.validate().unwrap();
    }

    #[test]
    fn each_node_revisits_a_rewritten_node_and_reports_changes() {
        let (mut g, _) = chain();
        let mut seen = Vec::new();
        let changed = each_node(&mut g, |rw, i| {
            seen.push(rw.node(i).name.clone());
            // Rename "a" once; the visit after the rewrite sees the new name.
            if rw.node(i).name == "a" {
                rw.update(i, |n| n.name = "a2".into());
                return true;
            }
            false
        });
        assert!(changed);
        assert_eq!(seen, ["a", "a2", "b", "c"]);
        assert!(!each_node(&mut g, |_, _| false));
    }
}
