//! Regenerates the bad-input corpus: `cargo run -p ghostnet-compiler --example
//! make_bad_inputs [DIR]` (default `compiler/tests/bad-inputs`), and the well-formed seeds
//! of the byte-level fuzz targets to `fuzz/seeds/`. The cases are defined in
//! `tests/corpus/mod.rs`; the test `bad_inputs` runs `ghostc` on each.

#[path = "../tests/corpus/mod.rs"]
mod corpus;

fn main() {
    let dir = std::env::args().nth(1).map(std::path::PathBuf::from).unwrap_or_else(|| {
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/bad-inputs")
    });
    let n = corpus::write_all(&dir).unwrap_or_else(|e| panic!("cannot write {}: {e}", dir.display()));
    println!("wrote {n} bad inputs and {} to {}", corpus::EXPECTATIONS, dir.display());
    // Well-formed seeds for the byte-level fuzz targets.
    let seeds = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz/seeds");
    for (name, bytes) in corpus::fuzz_seeds() {
        let p = seeds.join(name);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(&p, bytes).unwrap_or_else(|e| panic!("cannot write {}: {e}", p.display()));
    }
    println!("wrote the fuzz seeds to {}", seeds.display());
}
