//! Differential testing of the back end: random networks (`fuzzing::generate`) compiled
//! through every pass, the lowering and the writer, run on every kernel tier with one and
//! two threads, against the reference interpreter. A fixed set of seeds here; the cargo-fuzz
//! target `differential` runs the same check on the fuzzer's inputs.
//! `GHOSTNET_DIFFERENTIAL_CASES=N` runs `N` seeds instead of the default.

use ghostnet_compiler::front::dsl::weights::SplitMix64;
use ghostnet_compiler::fuzzing::generate::{check, network, Seeded};

#[test]
fn random_networks_match_the_interpreter_on_every_tier() {
    let cases: u64 = std::env::var("GHOSTNET_DIFFERENTIAL_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(1000);
    let (mut checked, mut nodes, mut outputs) = (0, 0, 0);
    let mut failures = Vec::new();
    for seed in 0..cases {
        let g = network(&mut Seeded(SplitMix64::new(seed)));
        nodes += g.nodes.len();
        outputs += g.outputs.len();
        match check(&g) {
            Ok(true) => checked += 1,
            Ok(false) => {}
            Err(e) => failures.push(format!("seed {seed} ({} nodes): {e}", g.nodes.len())),
        }
    }
    eprintln!("{cases} random networks: {checked} compared, {nodes} nodes and {outputs} outputs in all");
    assert!(failures.is_empty(), "{} of {cases} random networks failed:\n{}", failures.len(), failures.join("\n"));
    assert!(checked * 10 >= cases * 9, "only {checked} of {cases} networks had finite outputs");
}
