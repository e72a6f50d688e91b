//! Per-step time of a compiled network: `cargo run --release --example profile -- MODEL.onnx [isa]`
//! (or `--alpha A` for the DSL at width A).
use ghostnet_compiler::back::rust::lower::{self, describe, step_macs};
use ghostnet_compiler::front::dsl::Spec;
use ghostnet_compiler::{optimize, Limits, Source};
use ghostnet_runtime::isa::Isa;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let source = if args[1] == "--alpha" {
        Source::Dsl { spec: Spec::with_width(args[2].parse().unwrap()), weights: None, seed: 0 }
    } else {
        Source::Onnx { path: args[1].clone().into(), input_shape: None }
    };
    let skip = if args[1] == "--alpha" { 3 } else { 2 };
    let isa = args.get(skip).and_then(|s| Isa::from_name(s)).unwrap_or(Isa::best());
    let p = lower::lower(&optimize(source.load(&Limits::default()).unwrap()).unwrap()).unwrap();
    let x = vec![0.5f32; p.image_len()];
    let t = p.profile(isa, &x, 50);
    let total: f64 = t.iter().sum();
    let mut by_kind: std::collections::BTreeMap<String, (f64, u64)> = Default::default();
    let mut by_stage: Vec<(String, f64, u64)> = Vec::new();
    for (s, &dt) in p.steps.iter().zip(&t) {
        let d = describe(&s.kind);
        let macs = step_macs(&s.kind);
        let gf = if dt > 0.0 { 2.0 * macs as f64 / dt / 1e9 } else { 0.0 };
        println!("{:>8.1} us {:>5.1}% {:>7.1} GF/s  {:<28} {}", dt * 1e6, 100.0 * dt / total, gf, s.layer, d);
        let e = by_kind.entry(d.split(' ').next().unwrap().to_string()).or_default();
        e.0 += dt;
        e.1 += macs;
        // A stage is `blocks.N` in timm's names; other layers stand alone.
        let stage = match s.layer.strip_prefix("blocks.") {
            Some(rest) => format!("blocks.{}", rest.split('.').next().unwrap_or(rest)),
            None => s.layer.split('.').next().unwrap_or(&s.layer).to_string(),
        };
        match by_stage.last_mut() {
            Some(last) if last.0 == stage => {
                last.1 += dt;
                last.2 += macs;
            }
            _ => by_stage.push((stage, dt, macs)),
        }
    }
    println!("total {:.3} ms on {}", total * 1e3, isa.name());
    for (k, (dt, macs)) in by_kind {
        println!("  {k:<8} {:>7.3} ms {:>5.1}%  {:>6.1} GF/s", dt * 1e3, 100.0 * dt / total, 2.0 * macs as f64 / dt / 1e9);
    }
    println!("by stage:");
    for (stage, dt, macs) in by_stage {
        println!("  {stage:<12} {:>7.3} ms {:>5.1}%  {:>6.1} M MACs {:>6.1} GF/s", dt * 1e3, 100.0 * dt / total, macs as f64 / 1e6, 2.0 * macs as f64 / dt / 1e9);
    }
}
