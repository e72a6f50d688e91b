//! `ghostc profile`: where the time of a compiled network goes. The [`Program`] runs in
//! process with the runtime's kernels, exactly as the generated code runs them, on one or
//! several threads; every kernel call is timed (by the first thread, after the barrier that
//! ends the call), and the medians over the runs are summed per layer and per stage.
//!
//! For reference, the FMA bound: the time the network's multiply-accumulates take at the
//! measured peak of the tier (two flops per lane per fused multiply-add, every register
//! busy) on the threads used.

use std::fmt::Write as _;
use std::time::Instant;

use ghostnet_runtime as rt;
use rt::isa::{Arena, Isa, Part};

use crate::back::rust::lower::{describe, execute, step_macs, Program};
use crate::inspect::Report;
use crate::ir::{Graph, ShapeDisplay};

/// How to measure.
#[derive(Clone, Copy, Debug)]
pub struct Options {
    pub isa: Isa,
    pub threads: usize,
    /// Timed runs (after 3 untimed ones).
    pub runs: usize,
}

/// One layer (a node of the fused graph) and the kernel calls it became.
#[derive(Clone, Debug, PartialEq)]
pub struct LayerTime {
    pub name: String,
    pub op: String,
    pub fused: Vec<String>,
    pub input: Vec<usize>,
    pub output: Vec<usize>,
    pub macs: u64,
    /// The precision of its matrix products (`f32` when it has none).
    pub precision: String,
    /// Kernel calls of the layer.
    pub kernels: Vec<String>,
    /// Median time of each kernel call, seconds.
    pub kernel_seconds: Vec<f64>,
    /// Median time, seconds.
    pub seconds: f64,
}

/// A stage: `stem` (before the first block), `blocks.N`, `head` (after the last block).
#[derive(Clone, Debug, PartialEq)]
pub struct StageTime {
    pub name: String,
    pub layers: usize,
    pub macs: u64,
    pub seconds: f64,
}

/// The measurements.
#[derive(Clone, Debug, PartialEq)]
pub struct Profile {
    pub name: String,
    pub isa: Isa,
    pub threads: usize,
    pub runs: usize,
    /// The layers' times added up, seconds.
    pub total: f64,
    /// Median time of a whole forward pass, seconds.
    pub wall: f64,
    pub macs: u64,
    /// Measured FMA peak of one core on the tier, GFLOP/s.
    pub peak_gflops: f64,
    pub layers: Vec<LayerTime>,
    pub stages: Vec<StageTime>,
}

/// A deterministic input of `len` values in [-1, 1), like a normalized image.
pub fn sample_input(len: usize) -> Vec<f32> {
    let mut s = 0x9E37_79B9_7F4A_7C15u64;
    (0..len)
        .map(|_| {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            (s >> 40) as f32 / (1u64 << 23) as f32 - 1.0
        })
        .collect()
}

fn gflops(macs: u64, seconds: f64) -> f64 {
    if seconds > 0.0 { 2.0 * macs as f64 / seconds / 1e9 } else { 0.0 }
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// Times `program` (lowered from `graph`) on `input` (one image, NCHW; values do not change
/// the time, except for denormals).
pub fn measure(graph: &Graph, program: &Program, input: &[f32], options: &Options) -> Profile {
    let image = &input[..program.image_len()];
    let runs = options.runs.max(1);
    let mut arena = vec![0f32; program.arena_len];
    let mut team = rt::team::Team::new(options.threads.max(1));
    let count = team.threads();
    let n = program.steps.len();
    let mut step_times = vec![Vec::with_capacity(runs); n];
    let mut walls = Vec::with_capacity(runs);
    for run in 0..runs + 3 {
        let stamps = std::sync::Mutex::new(Vec::new());
        // SAFETY: every thread runs a disjoint part of each step and waits on the barrier
        // after each (Ctx's methods do both), as `Program::run` does.
        let shared = unsafe { rt::isa::SharedArena::new(Arena::new(&mut arena)) };
        team.run(&|index, barrier| {
            let ctx = rt::exec::Ctx { isa: options.isa, arena: shared.get(), weights: &program.weights, input: image, part: Part { index, count }, barrier: (count > 1).then_some(barrier) };
            let mut mine = Vec::with_capacity(if index == 0 { n + 1 } else { 0 });
            if index == 0 {
                mine.push(Instant::now());
            }
            for s in &program.steps {
                execute(&ctx, &s.kind);
                if index == 0 {
                    mine.push(Instant::now());
                }
            }
            if index == 0 {
                *stamps.lock().unwrap_or_else(|e| e.into_inner()) = mine;
            }
        });
        let stamps = stamps.into_inner().unwrap_or_else(|e| e.into_inner());
        if run >= 3 {
            for (i, t) in step_times.iter_mut().enumerate() {
                t.push((stamps[i + 1] - stamps[i]).as_secs_f64());
            }
            walls.push((stamps[n] - stamps[0]).as_secs_f64());
        }
    }
    let medians: Vec<f64> = step_times.iter_mut().map(|t| median(t)).collect();

    let report = Report::new(graph, program.arena_len * 4);
    let mut layers: Vec<LayerTime> = Vec::new();
    for (s, &dt) in program.steps.iter().zip(&medians) {
        if let Some(l) = layers.last_mut().filter(|l| l.name == s.layer) {
            l.seconds += dt;
            l.kernels.push(describe(&s.kind));
            l.kernel_seconds.push(dt);
            continue;
        }
        let row = report.layers.iter().find(|l| l.name == s.layer);
        layers.push(LayerTime {
            name: s.layer.clone(),
            op: row.map_or_else(|| describe(&s.kind), |r| r.op.clone()),
            fused: row.map(|r| r.fused.clone()).unwrap_or_default(),
            input: row.map(|r| r.input.clone()).unwrap_or_default(),
            output: row.map(|r| r.output.clone()).unwrap_or_default(),
            macs: row.map_or_else(|| step_macs(&s.kind), |r| r.macs),
            precision: row.map_or_else(|| "f32".to_string(), |r| r.precision.clone()),
            kernels: vec![describe(&s.kind)],
            kernel_seconds: vec![dt],
            seconds: dt,
        });
    }
    let stages = stages(&layers);
    Profile {
        name: graph.name.clone(),
        isa: options.isa,
        threads: count,
        runs,
        total: medians.iter().sum(),
        wall: median(&mut walls),
        macs: layers.iter().map(|l| l.macs).sum(),
        peak_gflops: fma_peak_gflops(options.isa),
        layers,
        stages,
    }
}

/// `blocks.N` for layers of timm's `blocks.N.*`, `stem` before the first, `head` after the
/// last; without blocks, the first part of each layer's name.
fn stage_of(name: &str) -> Option<String> {
    let mut parts = name.split('.');
    match (parts.next(), parts.next()) {
        (Some("blocks"), Some(n)) if n.parse::<u32>().is_ok() => Some(format!("blocks.{n}")),
        _ => None,
    }
}

fn stages(layers: &[LayerTime]) -> Vec<StageTime> {
    let any_block = layers.iter().any(|l| stage_of(&l.name).is_some());
    let mut seen_block = false;
    let mut out: Vec<StageTime> = Vec::new();
    for l in layers {
        let name = match stage_of(&l.name) {
            Some(s) => {
                seen_block = true;
                s
            }
            None if !any_block => l.name.split('.').next().unwrap_or(&l.name).to_string(),
            None if seen_block => "head".to_string(),
            None => "stem".to_string(),
        };
        match out.last_mut() {
            Some(s) if s.name == name => {
                s.layers += 1;
                s.macs += l.macs;
                s.seconds += l.seconds;
            }
            _ => out.push(StageTime { name, layers: 1, macs: l.macs, seconds: l.seconds }),
        }
    }
    out
}

impl Profile {
    /// Seconds the network's MACs take at the FMA peak on the threads used.
    pub fn fma_bound(&self) -> f64 {
        2.0 * self.macs as f64 / (self.peak_gflops * 1e9 * self.threads as f64)
    }

    /// Per-layer and per-stage tables and a summary.
    pub fn to_table(&self) -> String {
        let mut s = String::new();
        let share = |t: f64| 100.0 * t / self.total.max(f64::MIN_POSITIVE);
        let w = self.layers.iter().map(|l| l.name.len()).max().unwrap_or(5).clamp(5, 40);
        let _ = writeln!(s, "{:<w$}  {:<15} {:>14} {:>14} {:>11} {:>5} {:>9} {:>8} {:>6}", "layer", "op", "input", "output", "MACs", "prec", "us", "GFLOP/s", "share");
        for l in &self.layers {
            let mut name = l.name.clone();
            if name.len() > w {
                name = format!("…{}", &name[name.len() - (w - 1)..]);
            }
            let _ = writeln!(
                s,
                "{name:<w$}  {:<15} {:>14} {:>14} {:>11} {:>5} {:>9.1} {:>8.1} {:>5.1}%",
                l.op,
                ShapeDisplay(&l.input).to_string(),
                ShapeDisplay(&l.output).to_string(),
                l.macs,
                l.precision,
                l.seconds * 1e6,
                gflops(l.macs, l.seconds),
                share(l.seconds)
            );
        }
        let _ = writeln!(s, "\n{:<12} {:>6} {:>9} {:>9} {:>8} {:>6}", "stage", "layers", "M MACs", "ms", "GFLOP/s", "share");
        for st in &self.stages {
            let _ = writeln!(s, "{:<12} {:>6} {:>9.1} {:>9.3} {:>8.1} {:>5.1}%", st.name, st.layers, st.macs as f64 / 1e6, st.seconds * 1e3, gflops(st.macs, st.seconds), share(st.seconds));
        }
        let _ = writeln!(
            s,
            "\n{}: {:.3} ms per image ({:.3} ms the layers added up), {:.1} M MACs, {:.1} GFLOP/s; {} tier, {} thread(s), median of {} runs",
            self.name,
            self.wall * 1e3,
            self.total * 1e3,
            self.macs as f64 / 1e6,
            gflops(self.macs, self.wall),
            self.isa.name(),
            self.threads,
            self.runs
        );
        let _ = writeln!(
            s,
            "FMA bound: {:.0} GFLOP/s per core on {} (measured), so these MACs take at least {:.3} ms on {} thread(s); this run reaches {:.0}% of it",
            self.peak_gflops,
            self.isa.name(),
            self.fma_bound() * 1e3,
            self.threads,
            100.0 * self.fma_bound() / self.wall.max(f64::MIN_POSITIVE)
        );
        s
    }

    /// The same as JSON: `{"name", "isa", "threads", "runs", "ms", "layers_ms", "macs",
    /// "gflops", "fma_peak_gflops", "fma_bound_ms", "layers": [...], "stages": [...]}`; each
    /// layer lists its kernel calls (`kernels`) and their times (`kernel_ms`).
    pub fn to_json(&self) -> String {
        let share = |t: f64| t / self.total.max(f64::MIN_POSITIVE);
        let layers: Vec<serde_json::Value> = self
            .layers
            .iter()
            .map(|l| {
                serde_json::json!({
                    "name": l.name, "op": l.op, "fused": l.fused, "input": l.input, "output": l.output,
                    "macs": l.macs, "precision": l.precision, "kernels": l.kernels,
                    "kernel_ms": l.kernel_seconds.iter().map(|t| t * 1e3).collect::<Vec<_>>(), "ms": l.seconds * 1e3,
                    "gflops": gflops(l.macs, l.seconds), "share": share(l.seconds),
                })
            })
            .collect();
        let stages: Vec<serde_json::Value> = self
            .stages
            .iter()
            .map(|s| serde_json::json!({"name": s.name, "layers": s.layers, "macs": s.macs, "ms": s.seconds * 1e3, "gflops": gflops(s.macs, s.seconds), "share": share(s.seconds)}))
            .collect();
        let v = serde_json::json!({
            "name": self.name, "isa": self.isa.name(), "threads": self.threads, "runs": self.runs,
            "ms": self.wall * 1e3, "layers_ms": self.total * 1e3, "macs": self.macs, "gflops": gflops(self.macs, self.wall),
            "fma_peak_gflops": self.peak_gflops, "fma_bound_ms": self.fma_bound() * 1e3,
            "layers": layers, "stages": stages,
        });
        serde_json::to_string_pretty(&v).expect("JSON of plain values")
    }
}

/// Measured peak of one core on `isa`, GFLOP/s: 12 independent FMA chains per register
/// width (enough to hide the latency), 2 flops per lane per FMA.
/// A tier with a dot-product extension has the FMA peak of its base tier.
pub fn fma_peak_gflops(isa: Isa) -> f64 {
    let n = if cfg!(miri) { 10 } else { 4_000_000u64 };
    let t = Instant::now();
    let lanes = match isa.base() {
        #[cfg(target_arch = "x86_64")]
        Isa::Avx512 if isa.base().supported() => {
            // SAFETY: the CPU supports AVX-512F (checked by the guard).
            unsafe { x86::avx512(n) };
            16
        }
        #[cfg(target_arch = "x86_64")]
        Isa::Avx2 if isa.base().supported() => {
            // SAFETY: the CPU supports AVX2 and FMA (checked by the guard).
            unsafe { x86::avx2(n) };
            8
        }
        #[cfg(target_arch = "aarch64")]
        Isa::Neon if isa.base().supported() => {
            // SAFETY: the CPU supports NEON (checked by the guard).
            unsafe { arm::neon(n) };
            4
        }
        _ => {
            let mut a = [1f32; 12];
            let b = std::hint::black_box(0.999_999f32);
            for _ in 0..n {
                for x in &mut a {
                    *x = x.mul_add(b, 1e-6);
                }
            }
            std::hint::black_box(a);
            1
        }
    };
    (n * 12 * lanes * 2) as f64 / t.elapsed().as_secs_f64() / 1e9
}

#[cfg(target_arch = "x86_64")]
mod x86 {
    use std::arch::x86_64::*;

    /// `n` rounds of 12 independent 16-lane FMAs.
    ///
    /// # Safety
    /// The CPU supports AVX-512F.
    #[target_feature(enable = "avx512f")]
    pub unsafe fn avx512(n: u64) {
        let mut a = [_mm512_set1_ps(1.0); 12];
        let b = _mm512_set1_ps(std::hint::black_box(0.999_999));
        let c = _mm512_set1_ps(1e-6);
        for _ in 0..std::hint::black_box(n) {
            for x in a.iter_mut() {
                *x = _mm512_fmadd_ps(*x, b, c);
            }
        }
        std::hint::black_box(a);
    }

    /// `n` rounds of 12 independent 8-lane FMAs.
    ///
    /// # Safety
    /// The CPU supports AVX2 and FMA.
    #[target_feature(enable = "avx2,fma")]
    pub unsafe fn avx2(n: u64) {
        let mut a = [_mm256_set1_ps(1.0); 12];
        let b = _mm256_set1_ps(std::hint::black_box(0.999_999));
        let c = _mm256_set1_ps(1e-6);
        for _ in 0..std::hint::black_box(n) {
            for x in a.iter_mut() {
                *x = _mm256_fmadd_ps(*x, b, c);
            }
        }
        std::hint::black_box(a);
    }
}

#[cfg(target_arch = "aarch64")]
mod arm {
    use std::arch::aarch64::*;

    /// `n` rounds of 12 independent 4-lane FMAs.
    ///
    /// # Safety
    /// The CPU supports NEON.
    #[target_feature(enable = "neon")]
    pub unsafe fn neon(n: u64) {
        let mut a = [vdupq_n_f32(1.0); 12];
        let b = vdupq_n_f32(std::hint::black_box(0.999_999));
        let c = vdupq_n_f32(1e-6);
        for _ in 0..std::hint::black_box(n) {
            for x in a.iter_mut() {
                *x = vfmaq_f32(c, *x, b);
            }
        }
        std::hint::black_box(a);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::front::dsl::{self, weights::Source, Block, Spec};

    #[test]
    fn every_kernel_call_is_in_one_layer_and_stages_follow_timms_names() {
        let spec = Spec {
            stages: vec![vec![Block::new(3, 16, 16, 0.0, 1)], vec![Block::new(3, 48, 24, 0.25, 2)]],
            input: [1, 3, 32, 32],
            num_classes: 10,
            ..Spec::with_width(0.5)
        };
        let graph = crate::optimize(dsl::build(&spec, &mut Source::seeded(1)).unwrap()).unwrap();
        let program = crate::back::rust::lower::lower(&graph).unwrap();
        let input = vec![0.25f32; program.image_len()];
        for threads in [1, 2] {
            let p = measure(&graph, &program, &input, &Options { isa: Isa::Scalar, threads, runs: 3 });
            assert_eq!(p.layers.iter().map(|l| l.kernels.len()).sum::<usize>(), program.steps.len());
            assert_eq!(p.macs, graph.mac_count());
            let names: Vec<&str> = p.stages.iter().map(|s| s.name.as_str()).collect();
            // timm appends the 1x1 conv to the head width as the last block.
            assert_eq!(names, ["stem", "blocks.0", "blocks.1", "blocks.2", "head"]);
            assert_eq!(p.stages.iter().map(|s| s.layers).sum::<usize>(), p.layers.len());
            assert!((p.stages.iter().map(|s| s.seconds).sum::<f64>() - p.total).abs() < 1e-9);
            assert!(p.wall > 0.0 && p.peak_gflops > 0.0 && p.threads == threads);
            let json: serde_json::Value = serde_json::from_str(&p.to_json()).unwrap();
            assert_eq!(json["layers"].as_array().unwrap().len(), p.layers.len());
            assert!(p.to_table().contains("FMA bound"));
        }
    }
}
