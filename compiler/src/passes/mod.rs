//! Graph rewrites. Each pass is small and named for what it does; the driver validates
//! the graph after every pass, so a broken rewrite is caught where it happens. Passes
//! rewrite through [`rewrite::Rewriter`], which keeps the producer and reader maps up to
//! date, so a pass is one walk over the nodes, linear in their number.
//!
//! - [`NORMALIZE`] simplifies without changing which ops exist: identities and no-op
//!   reshapes go, constant subgraphs are evaluated, neutral constants (`x + 0`, `x * 1`)
//!   go and per-channel constants fold into the convolution before them, BatchNorm folds
//!   into convolutions, and parallel convolution branches that are summed merge into one
//!   (re-parameterization).
//! - [`FUSE`] builds the fused ops the back end runs (see the `ir` docs for their math).

mod absorb_fake_quant;
mod assign_precision;
mod dead_code;
mod fold_batchnorm;
mod fold_constants;
mod fuse_activation;
mod fuse_gate;
mod fuse_ghost;
mod fuse_residual;
mod fuse_scale;
mod fuse_squeeze_excite;
mod order_for_memory;
mod remove_identity;
mod reparameterize;
pub mod rewrite;
mod simplify;

use crate::ir::{Graph, Precision, ValidationErrors};

/// A named graph rewrite; `run` returns whether it changed anything.
pub struct Pass {
    pub name: &'static str,
    pub run: fn(&mut Graph) -> bool,
}

/// Simplifications every graph gets before anything else.
pub const NORMALIZE: &[Pass] = &[
    Pass { name: "remove_identity", run: remove_identity::run },
    Pass { name: "fold_constants", run: fold_constants::run },
    Pass { name: "simplify", run: simplify::run },
    Pass { name: "fold_batchnorm", run: fold_batchnorm::run },
    Pass { name: "reparameterize", run: reparameterize::run },
    Pass { name: "dead_code", run: dead_code::run },
];

/// Fusions, in dependency order: activations first (the squeeze-excite pattern needs
/// them), the gate multiply before the ghost module (which inherits its scale), residual
/// adds last (into shortcut convs or ghost modules); then the fused ops are ordered to keep
/// fewer bytes live.
pub const FUSE: &[Pass] = &[
    Pass { name: "fuse_activation", run: fuse_activation::run },
    Pass { name: "fuse_squeeze_excite", run: fuse_squeeze_excite::run },
    Pass { name: "fuse_scale", run: fuse_scale::run },
    Pass { name: "fuse_ghost", run: fuse_ghost::run },
    Pass { name: "fuse_gate", run: fuse_gate::run },
    Pass { name: "fuse_residual", run: fuse_residual::run },
    Pass { name: "dead_code", run: dead_code::run },
    Pass { name: "order_for_memory", run: order_for_memory::run },
];

/// A pass left the graph invalid: a compiler bug, reported with the pass's name.
#[derive(Debug, thiserror::Error)]
#[error("internal error: pass '{pass}' produced an invalid graph: {errors}")]
pub struct Error {
    pub pass: &'static str,
    pub errors: ValidationErrors,
}

/// Compiles a QDQ model's fake quantization: into the quantization of the layers it feeds
/// (`int8`) and clamps; see `absorb_fake_quant`. Run before [`NORMALIZE`].
pub fn absorb_fake_quant(graph: &mut Graph, int8: bool) -> Result<(), Error> {
    if absorb_fake_quant::run(graph, int8) {
        graph.validate().map_err(|errors| Error { pass: "absorb_fake_quant", errors })?;
    }
    Ok(())
}

/// Sets every node's precision: `precision` for the matrix products by constant weights,
/// `f32` for everything else. Run after [`FUSE`], which builds the nodes it looks at.
pub fn set_precision(graph: &mut Graph, precision: Precision) -> Result<(), Error> {
    if assign_precision::run(graph, precision) {
        graph.validate().map_err(|errors| Error { pass: "assign_precision", errors })?;
    }
    Ok(())
}

/// Runs `passes` in order, repeating the list until none changes the graph (at most
/// `max_rounds` times), validating after every pass.
pub fn run(graph: &mut Graph, passes: &[Pass]) -> Result<(), Error> {
    const MAX_ROUNDS: usize = 8;
    for _ in 0..MAX_ROUNDS {
        let mut changed = false;
        for p in passes {
            if (p.run)(graph) {
                changed = true;
                graph.validate().map_err(|errors| Error { pass: p.name, errors })?;
            }
        }
        if !changed {
            break;
        }
    }
    Ok(())
}

#[cfg(test)]
pub(crate) mod testing {
    //! Tiny graphs and the check that a pass keeps the interpreter's outputs.
    use crate::front::dsl::weights::SplitMix64;
    use crate::interp;
    use crate::ir::{numel, Graph, Shape, TensorId};

    pub fn random(len: usize, seed: u64) -> Vec<f32> {
        let mut r = SplitMix64::new(seed);
        (0..len).map(|_| r.uniform(-1.0, 1.0)).collect()
    }

    pub fn konst(g: &mut Graph, name: &str, shape: Shape, seed: u64) -> TensorId {
        let n = numel(&shape);
        g.add_const(name, shape, random(n, seed))
    }

    /// Runs `pass` on `g` and asserts the outputs stay within 1e-5 relative.
    pub fn assert_preserves(g: &mut Graph, pass: fn(&mut Graph) -> bool) -> bool {
        let input = random(numel(g.shape(g.inputs[0])), 99);
        let before = interp::run(g, &[&input]).unwrap();
        let changed = pass(g);
        g.validate().unwrap();
        let after = interp::run(g, &[&input]).unwrap();
        for (b, a) in before.iter().zip(&after) {
            let scale = b.iter().fold(1e-6f32, |m, v| m.max(v.abs()));
            let diff = b.iter().zip(a).fold(0f32, |m, (x, y)| m.max((x - y).abs()));
            assert!(diff <= 1e-5 * scale, "pass changed the outputs: {diff} of {scale}");
        }
        changed
    }
}
