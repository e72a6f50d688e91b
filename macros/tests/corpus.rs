//! The compiler's bad-input corpus (`compiler/tests/bad-inputs/`) through `ghostnet!`: every
//! bad model or weights file given to the macro is a compile error on that call, with the
//! message `ghostc` gives, and never a panic. Rows about `ghostc`'s limit flags or stage
//! table files have no macro spelling (the macro takes its table as tokens, and has no
//! limit options); `ghostc`'s own test covers them.

mod support;

use std::collections::BTreeMap;
use std::path::Path;

use support::ScratchCrate;

/// The macro arguments for a corpus row's `ghostc` arguments, if it has a spelling.
fn macro_args(ghostc: &str, file: &str, stages: &str) -> Option<String> {
    const TINY_DSL: &str = "inspect --alpha 1.0 --stages @{dir}/data/tiny_stages.json --input 1x3x16x16 --classes 2 --weights {}";
    match ghostc {
        "inspect {}" => Some(format!("onnx = {file:?}")),
        TINY_DSL => Some(format!("alpha = 1.0, stages = {stages}, input = [1, 3, 16, 16], classes = 2, weights = {file:?}")),
        _ => None,
    }
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let p = e.unwrap().path();
        let dest = to.join(p.file_name().unwrap());
        if p.is_dir() {
            copy_dir(&p, &dest);
        } else {
            std::fs::copy(&p, &dest).unwrap();
        }
    }
}

/// rustc's errors by the line of `src/main.rs` they point at.
fn errors_by_line(stderr: &str) -> BTreeMap<usize, Vec<String>> {
    let mut by_line: BTreeMap<usize, Vec<String>> = BTreeMap::new();
    let mut message: Option<String> = None;
    for line in stderr.lines() {
        if let Some(m) = line.strip_prefix("error: ").or_else(|| line.strip_prefix("error")) {
            message = Some(m.to_string());
        } else if let Some(at) = line.trim_start().strip_prefix("--> src/main.rs:") {
            if let (Some(m), Some(n)) = (message.take(), at.split(':').next().and_then(|n| n.parse().ok())) {
                by_line.entry(n).or_default().push(m);
            }
        } else if let Some(m) = message.as_mut() {
            m.push('\n');
            m.push_str(line);
        }
    }
    by_line
}

#[test]
fn the_macro_refuses_every_bad_input_with_its_message() {
    let dir = support::workspace().join("compiler/tests/bad-inputs");
    let table = std::fs::read_to_string(dir.join("EXPECTED.tsv")).unwrap();
    let stages = std::fs::read_to_string(dir.join("data/tiny_stages.json")).unwrap();
    let mut cases = Vec::new();
    let mut skipped = 0;
    for line in table.lines().filter(|l| !l.starts_with('#') && !l.trim().is_empty()) {
        let [file, ghostc, expect]: [&str; 3] = line.split('\t').collect::<Vec<_>>().try_into().unwrap_or_else(|_| panic!("bad line: {line}"));
        // The macro takes paths relative to the crate: the corpus is copied into it.
        match macro_args(ghostc, &format!("bad-inputs/{file}"), stages.trim()) {
            Some(args) => cases.push((file, args, expect)),
            None => skipped += 1,
        }
    }
    assert!(cases.len() >= 60, "only {} corpus rows have a macro spelling", cases.len());

    // One call per line, line i + 1 for case i, so that each error names its case.
    let mut main = String::new();
    for (i, (_, args, _)) in cases.iter().enumerate() {
        main.push_str(&format!("mod case_{i} {{ ghostnet_macros::ghostnet!({args}); }}\n"));
    }
    main.push_str("fn main() {}\n");
    let krate = ScratchCrate::new("bad_inputs");
    copy_dir(&dir, &krate.dir.join("bad-inputs"));
    krate.write_main(&main);
    let (ok, stderr) = krate.try_build();
    assert!(!ok, "a crate of bad inputs built");
    assert!(!stderr.contains("panicked") && !stderr.contains("internal error"), "the macro crashed:\n{stderr}");

    let errors = errors_by_line(&stderr);
    let mut failures = Vec::new();
    for (i, (file, _, expect)) in cases.iter().enumerate() {
        match errors.get(&(i + 1)) {
            None => failures.push(format!("{file}: no error at its call")),
            Some(found) if !found.iter().any(|m| m.contains(expect)) => {
                failures.push(format!("{file}: expected '{expect}', got: {}", found.join(" | ")))
            }
            Some(_) => {}
        }
    }
    let stray: Vec<_> = errors.keys().filter(|&&l| l == 0 || l > cases.len()).collect();
    assert!(stray.is_empty(), "errors outside the calls, at lines {stray:?}:\n{stderr}");
    eprintln!("{} corpus files through ghostnet!, {skipped} rows without a macro spelling", cases.len());
    assert!(failures.is_empty(), "{} of {} cases failed:\n{}", failures.len(), cases.len(), failures.join("\n"));
}
