//! Reorders the nodes so that fewer activation bytes are live at once. Among the nodes
//! whose inputs are ready, the next is the one that adds the least: its output's size less
//! the inputs it is the last to read. The new order is kept only if its peak is lower.
//!
//! For a bottleneck with a conv shortcut this runs the shortcut's stride-2 depthwise conv
//! first, as PyTorch's dynamo exporter does, so the block input dies at the expansion
//! instead of living through the whole block (GhostNet 1.0x from the DSL: 3.81 MB of
//! arena before, 3.41 MB after).

use crate::ir::{Graph, TensorId};

/// Graphs with more nodes keep their order: the greedy choice is quadratic in the worst case.
const MAX_NODES: usize = 4096;

pub fn run(g: &mut Graph) -> bool {
    if g.nodes.len() > MAX_NODES {
        return false;
    }
    let order = greedy(g);
    if order.iter().enumerate().all(|(i, &n)| i == n) || peak(g, &order) >= peak(g, &(0..g.nodes.len()).collect::<Vec<_>>()) {
        return false;
    }
    let mut old: Vec<Option<crate::ir::Node>> = std::mem::take(&mut g.nodes).into_iter().map(Some).collect();
    g.nodes = order.iter().map(|&i| old[i].take().expect("each node is scheduled once")).collect();
    true
}

/// Bytes of an activation in the arena: graph inputs are the caller's, constants are
/// weights; neither counts.
fn bytes(g: &Graph, t: TensorId) -> usize {
    let tensor = &g.tensors[t.index()];
    if tensor.is_const() || g.inputs.contains(&t) { 0 } else { tensor.numel() * 4 }
}

/// How many nodes read each tensor (a node reading it twice counts once); graph outputs
/// get one more reader, so that they are never freed.
fn readers(g: &Graph) -> Vec<usize> {
    let mut count = vec![0usize; g.tensors.len()];
    for (t, nodes) in g.consumers() {
        count[t.index()] = nodes.len();
    }
    for &o in &g.outputs {
        count[o.index()] += 1;
    }
    count
}

/// The distinct tensors `node` reads.
fn distinct(inputs: &[TensorId]) -> impl Iterator<Item = TensorId> + '_ {
    inputs.iter().enumerate().filter(|&(i, t)| !inputs[..i].contains(t)).map(|(_, &t)| t)
}

/// The greedy order: indices into `g.nodes`.
fn greedy(g: &Graph) -> Vec<usize> {
    let producer = g.producers();
    let mut left = readers(g);
    let mut missing: Vec<usize> =
        g.nodes.iter().map(|n| distinct(&n.inputs).filter(|t| producer.contains_key(t)).count()).collect();
    let readers_of = g.consumers();
    let mut ready: Vec<usize> = (0..g.nodes.len()).filter(|&i| missing[i] == 0).collect();
    let mut order = Vec::with_capacity(g.nodes.len());
    while !ready.is_empty() {
        let cost = |i: usize| {
            let n = &g.nodes[i];
            let freed: usize = distinct(&n.inputs).filter(|t| left[t.index()] == 1).map(|t| bytes(g, t)).sum();
            bytes(g, n.output) as isize - freed as isize
        };
        // Ties go to the earliest node, so running the pass again changes nothing.
        let at = (0..ready.len()).min_by_key(|&r| (cost(ready[r]), ready[r])).expect("not empty");
        let i = ready.swap_remove(at);
        order.push(i);
        for t in distinct(&g.nodes[i].inputs) {
            left[t.index()] -= 1;
        }
        for &r in readers_of.get(&g.nodes[i].output).into_iter().flatten() {
            missing[r] -= 1;
            if missing[r] == 0 {
                ready.push(r);
            }
        }
    }
    debug_assert_eq!(order.len(), g.nodes.len(), "a valid graph has no cycle");
    order
}

/// The most activation bytes live at once when the nodes run in `order`: a node's inputs
/// and output are live together.
fn peak(g: &Graph, order: &[usize]) -> usize {
    let mut left = readers(g);
    let mut live = 0usize;
    let mut peak = 0usize;
    for &i in order {
        let n = &g.nodes[i];
        live += bytes(g, n.output);
        peak = peak.max(live);
        for t in distinct(&n.inputs) {
            left[t.index()] -= 1;
            if left[t.index()] == 0 {
                live -= bytes(g, t);
            }
        }
    }
    peak
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ir::{Conv, Op};
    use crate::passes::testing::{assert_preserves, konst};

    /// A bottleneck: the stem's output goes through an expansion, a strided conv and a
    /// reduction, and through a small strided shortcut; the two meet in an add. Written with
    /// the shortcut last, as timm's forward runs it.
    fn shortcut_last() -> Graph {
        let mut g = Graph::new("t");
        let x = g.add_input("x", vec![1, 4, 8, 8]);
        let w = konst(&mut g, "stem.w", vec![4, 1, 1, 1], 1);
        let x = g.push("stem", Op::Conv(Conv::new(1, 1, 0, 4)), vec![x, w]).unwrap();
        let w = konst(&mut g, "wide.w", vec![32, 4, 1, 1], 2);
        let wide = g.push("wide", Op::Conv(Conv::new(1, 1, 0, 1)), vec![x, w]).unwrap();
        let w = konst(&mut g, "down.w", vec![32, 1, 3, 3], 3);
        let down = g.push("down", Op::Conv(Conv::new(3, 2, 1, 32)), vec![wide, w]).unwrap();
        let w = konst(&mut g, "reduce.w", vec![4, 32, 1, 1], 5);
        let main = g.push("reduce", Op::Conv(Conv::new(1, 1, 0, 1)), vec![down, w]).unwrap();
        let w = konst(&mut g, "shortcut.w", vec![4, 1, 3, 3], 4);
        let sc = g.push("shortcut", Op::Conv(Conv::new(3, 2, 1, 4)), vec![x, w]).unwrap();
        let y = g.push("add", Op::Add, vec![main, sc]).unwrap();
        g.outputs.push(y);
        g
    }

    fn names(g: &Graph) -> Vec<&str> {
        g.nodes.iter().map(|n| n.name.as_str()).collect()
    }

    #[test]
    fn the_small_branch_runs_first_and_the_peak_drops() {
        let mut g = shortcut_last();
        g.validate().unwrap();
        let before = peak(&g, &(0..g.nodes.len()).collect::<Vec<_>>());
        assert!(assert_preserves(&mut g, run));
        assert_eq!(names(&g), ["stem", "shortcut", "wide", "down", "reduce", "add"]);
        let after = peak(&g, &(0..g.nodes.len()).collect::<Vec<_>>());
        // The peak is at the strided conv: beside its input (2048 values) and output (512),
        // the stem's output (256) was live; now the shortcut's (64) is.
        assert_eq!((before, after), (4 * (256 + 2048 + 512), 4 * (64 + 2048 + 512)));
        assert!(!run(&mut g), "a second run changes nothing");
    }

    #[test]
    fn an_order_that_is_already_best_is_kept() {
        let mut g = shortcut_last();
        run(&mut g);
        let once = names(&g).join(",");
        assert!(!run(&mut g));
        assert_eq!(names(&g).join(","), once);
    }
}
