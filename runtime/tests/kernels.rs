//! Every SIMD kernel against the scalar reference: many sizes, every tail length, channel
//! offsets and strides, epilogues, and the split into parts.
//!
//! Each test runs every tier this machine supports and says which; under `CI` on x86-64
//! the suite fails if AVX2 or AVX-512 never ran, on AArch64 if NEON did not, and on wasm32
//! built with simd128 if that tier did not (see `tiers_that_must_run`).

use ghostnet_runtime::conv::{self, Dense, Strided};
use ghostnet_runtime::dwconv::{self, Depthwise};
use ghostnet_runtime::gemm::{self, Gate, Gemm, View};
use ghostnet_runtime::isa::{bf16_bits, bf16_round, bf16_value, Act, Arena, Isa, Part};
use ghostnet_runtime::pool::{self, AvgPool, GlobalAvg};
use ghostnet_runtime::qgemm::{self, QGemm, Quantize};

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> f32 {
        self.0 = self.0.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        ((self.0 >> 40) as f32 / (1u64 << 24) as f32) * 2.0 - 1.0
    }
    fn vec(&mut self, n: usize) -> Vec<f32> {
        (0..n).map(|_| self.next()).collect()
    }
}

/// The tiers to compare against scalar on this machine.
fn simd_tiers() -> Vec<Isa> {
    let tiers: Vec<Isa> = [Isa::Avx2, Isa::Avx512, Isa::Neon, Isa::Simd128].into_iter().filter(|i| i.supported()).collect();
    eprintln!("tiers run: scalar{}", tiers.iter().map(|t| format!(", {}", t.name())).collect::<String>());
    tiers
}

fn assert_close(what: &str, got: &[f32], want: &[f32]) {
    for (i, (g, w)) in got.iter().zip(want).enumerate() {
        let tol = 1e-5 * (1.0 + w.abs()) * 4.0;
        assert!((g - w).abs() <= tol, "{what}: element {i}: got {g}, want {w}");
    }
}

const ACTS: [Act; 4] = [Act::None, Act::Relu, Act::HardSigmoid { alpha: 1.0 / 6.0, beta: 0.5 }, Act::Sigmoid];

#[test]
fn tiers_that_must_run() {
    let tiers = simd_tiers();
    if std::env::var_os("CI").is_some() && cfg!(target_arch = "x86_64") {
        assert!(tiers.contains(&Isa::Avx2), "CI machine must run the AVX2 tier");
        assert!(tiers.contains(&Isa::Avx512), "CI machine must run the AVX-512 tier");
    }
    if cfg!(target_arch = "aarch64") {
        assert!(tiers.contains(&Isa::Neon));
    }
    if cfg!(all(target_arch = "wasm32", target_feature = "simd128")) {
        assert!(tiers.contains(&Isa::Simd128));
    }
}

/// Runs `f` on a copy of `arena` for the scalar tier and for `isa`, split in `parts`.
fn both(arena: &[f32], parts: usize, isa: Isa, f: &dyn Fn(Isa, Arena<'_>, Part)) -> (Vec<f32>, Vec<f32>) {
    let mut want = arena.to_vec();
    f(Isa::Scalar, Arena::new(&mut want), Part::ALL);
    let mut got = arena.to_vec();
    for index in 0..parts {
        f(isa, Arena::new(&mut got), Part { index, count: parts });
    }
    (got, want)
}

#[test]
fn gemm_matches_scalar_for_every_size_tail_and_epilogue() {
    check_gemm_tiers(false);
}

#[test]
fn gemm_bf16_matches_scalar_for_every_size_tail_and_epilogue() {
    check_gemm_tiers(true);
}

/// Every tier against scalar, `f32` or bfloat16 weights: sizes, tails, strides, offsets,
/// every epilogue (activation, residual, raw output, squeeze-excite scale, gate), parts.
fn check_gemm_tiers(bf16: bool) {
    let mut rng = Rng(1);
    let tiers = simd_tiers();
    let mut cases = 0;
    for &m in &[1, 2, 3, 4, 5, 6, 7, 11, 12, 13, 25, 49] {
        for &k in &[1, 2, 7, 16, 37] {
            for &n in &[1, 3, 4, 5, 8, 12, 15, 16, 17, 20, 31, 32, 36, 47, 48, 52, 100] {
                let variant = cases % 8;
                cases += 1;
                let act = ACTS[cases % ACTS.len()];
                let (lda, ldc) = (k + (variant & 1) * 3, n + (variant & 2) * 5);
                let aoff = 1 + (variant & 4);
                let coff = aoff + m * lda + 2;
                let roff = coff + m * ldc + 1;
                let woff = roff + m * ldc + 3;
                let soff = woff + m * ldc;
                // A gate map of ceil(m / 3) x 3 outputs from a 2x2 gate, on odd cases.
                let goff = soff + k + 8;
                let gate = (cases % 2 == 1).then_some(Gate { off: goff, ld: n + 1, h: 2, w: 2, oh: m.div_ceil(3), ow: 3 });
                let arena = rng.vec(goff + 4 * (n + 1) + 8);
                let mut weights = rng.vec(3);
                let b = weights.len();
                let dense = rng.vec(k * n);
                if bf16 {
                    weights.resize(b + gemm::packed_len_bf16(k, n), 0.0);
                    gemm::pack_bf16(k, n, |p, j| dense[p * n + j], &mut weights[b..]);
                } else {
                    weights.resize(b + gemm::packed_len(k, n), 0.0);
                    gemm::pack(k, n, |p, j| dense[p * n + j], &mut weights[b..]);
                }
                let bias = weights.len();
                weights.extend(rng.vec(n));
                let g = Gemm {
                    m,
                    k,
                    n,
                    a: View { off: aoff, ld: lda },
                    c: View { off: coff, ld: ldc },
                    b,
                    bias,
                    act,
                    residual: (variant & 1 == 1).then_some(View { off: roff, ld: ldc }),
                    raw: (variant & 2 == 2).then_some(View { off: woff, ld: ldc }),
                    scale: (variant & 4 == 4).then_some(soff),
                    gate,
                };
                for &isa in &tiers {
                    for parts in [1, 2, 3] {
                        let run = |i: Isa, a: Arena<'_>, p: Part| {
                            if bf16 { gemm::gemm_bf16(i, a, &weights, &g, p) } else { gemm::gemm(i, a, &weights, &g, p) }
                        };
                        let (got, want) = both(&arena, parts, isa, &run);
                        let dtype = if bf16 { "bf16" } else { "f32" };
                        assert_close(&format!("{} gemm {dtype} m{m} k{k} n{n} v{variant} parts{parts}", isa.name()), &got, &want);
                    }
                }
            }
        }
    }
}

#[test]
fn gemm_scalar_matches_the_definition() {
    // Checks the packing and the reference against dense loops.
    let mut rng = Rng(2);
    for &(m, k, n) in &[(3, 5, 20), (1, 16, 37), (4, 2, 16)] {
        let a = rng.vec(m * k);
        let dense = rng.vec(k * n);
        let bias = rng.vec(n);
        let mut weights = vec![0.0; gemm::packed_len(k, n)];
        gemm::pack(k, n, |p, j| dense[p * n + j], &mut weights);
        let b_off = 0;
        let bias_off = weights.len();
        weights.extend(&bias);
        let mut arena = a.clone();
        arena.resize(m * k + m * n, 0.0);
        let g = Gemm {
            m,
            k,
            n,
            a: View { off: 0, ld: k },
            c: View { off: m * k, ld: n },
            b: b_off,
            bias: bias_off,
            act: Act::None,
            residual: None,
            raw: None,
            scale: None,
            gate: None,
        };
        gemm::gemm(Isa::Scalar, Arena::new(&mut arena), &weights, &g, Part::ALL);
        for i in 0..m {
            for j in 0..n {
                let want: f32 = bias[j] + (0..k).map(|p| a[i * k + p] * dense[p * n + j]).sum::<f32>();
                let got = arena[m * k + i * n + j];
                assert!((got - want).abs() < 1e-5, "m{m} k{k} n{n} ({i},{j}): {got} vs {want}");
            }
        }
    }
}

#[test]
fn gemm_bf16_scalar_matches_the_definition() {
    // The pair packing (odd k included) and the reference against dense loops over the
    // weights rounded to bfloat16 (ties to even), with the squeeze-excite scale.
    let mut rng = Rng(12);
    for &(m, k, n) in &[(3, 5, 20), (1, 16, 37), (4, 2, 16), (2, 1, 3), (5, 33, 48)] {
        let a = rng.vec(m * k);
        let s = rng.vec(k);
        let dense = rng.vec(k * n);
        let bias = rng.vec(n);
        let mut weights = vec![0.0; gemm::packed_len_bf16(k, n)];
        gemm::pack_bf16(k, n, |p, j| dense[p * n + j], &mut weights);
        let bias_off = weights.len();
        weights.extend(&bias);
        let mut arena = a.clone();
        arena.extend(&s);
        arena.resize(m * k + k + m * n, 0.0);
        let c = m * k + k;
        let g = Gemm {
            m,
            k,
            n,
            a: View { off: 0, ld: k },
            c: View { off: c, ld: n },
            b: 0,
            bias: bias_off,
            act: Act::None,
            residual: None,
            raw: None,
            scale: Some(m * k),
            gate: None,
        };
        gemm::gemm_bf16(Isa::Scalar, Arena::new(&mut arena), &weights, &g, Part::ALL);
        for i in 0..m {
            for j in 0..n {
                let want: f32 = bias[j] + (0..k).map(|p| a[i * k + p] * (bf16_round(dense[p * n + j]) * s[p])).sum::<f32>();
                let got = arena[c + i * n + j];
                assert!((got - want).abs() < 1e-5, "m{m} k{k} n{n} ({i},{j}): {got} vs {want}");
            }
        }
    }
}

#[test]
fn bf16_rounding_is_to_nearest_even() {
    assert_eq!(bf16_bits(1.0), 0x3f80);
    // 1 + 2^-8 is halfway between 1 and 1 + 2^-7: ties to the even 1.
    assert_eq!(bf16_bits(1.0 + 1.0 / 256.0), 0x3f80);
    // 1 + 3 * 2^-8 is halfway between 1 + 2^-7 (odd) and 1 + 2^-6: up to the even one.
    assert_eq!(bf16_bits(1.0 + 3.0 / 256.0), 0x3f82);
    assert_eq!(bf16_bits(1.0 + 1.0 / 256.0 + 1.0 / 65536.0), 0x3f81);
    assert_eq!(bf16_bits(-2.5), 0xc020);
    assert_eq!(bf16_value(bf16_bits(f32::MAX)), f32::INFINITY);
    assert!(bf16_value(bf16_bits(f32::NAN)).is_nan());
    let mut rng = Rng(13);
    for _ in 0..10_000 {
        let x = rng.next() * 1e3;
        let r = bf16_round(x);
        assert!((r - x).abs() <= x.abs() / 256.0, "{x} -> {r}");
    }
}

#[test]
fn depthwise_matches_scalar_for_every_kernel_stride_and_tail() {
    let mut rng = Rng(3);
    let tiers = simd_tiers();
    let mut cases = 0;
    for &(kh, kw) in &[(3, 3), (5, 5), (1, 5), (5, 1), (3, 1), (1, 1)] {
        for &(sh, sw) in &[(1, 1), (2, 2)] {
            for &(h, w) in &[(1, 1), (2, 3), (5, 5), (7, 7), (8, 6), (14, 14), (4, 29), (3, 41)] {
                for &c in &[1, 3, 4, 8, 12, 16, 17, 20, 36, 40] {
                    cases += 1;
                    let (pt, pl) = (kh / 2, kw / 2);
                    let oh = (h + 2 * pt - kh) / sh + 1;
                    let ow = (w + 2 * pl - kw) / sw + 1;
                    let (xoff, ldx) = (cases % 5, c + (cases % 3) * 4);
                    let yoff = xoff + h * w * ldx + 3;
                    let ldy = c + (cases % 2) * 8;
                    let roff = yoff + oh * ow * ldy;
                    let goff = roff + oh * ow * ldy + 1;
                    let (gh, gw) = (usize::div_ceil(oh, 2), usize::div_ceil(ow, 3));
                    let arena = rng.vec(goff + gh * gw * (c + 2) + 1);
                    let taps = kh * kw;
                    let wd = rng.vec(c * taps);
                    let bd = rng.vec(c);
                    let mut weights = vec![0.0; 1 + dwconv::packed_len(c, taps)];
                    dwconv::pack(c, taps, |ch, t| wd[ch * taps + t], |ch| bd[ch], &mut weights[1..]);
                    let d = Depthwise {
                        h,
                        w,
                        c,
                        oh,
                        ow,
                        kh,
                        kw,
                        sh,
                        sw,
                        pt,
                        pl,
                        x: View { off: xoff, ld: ldx },
                        y: View { off: yoff, ld: ldy },
                        weights: 1,
                        act: ACTS[cases % ACTS.len()],
                        gate: (cases % 4 == 1).then_some(Gate { off: goff, ld: c + 2, h: gh, w: gw, oh, ow }),
                        residual: (cases % 3 == 0).then_some(View { off: roff, ld: ldy }),
                    };
                    for &isa in &tiers {
                        for parts in [1, 2] {
                            let (got, want) = both(&arena, parts, isa, &|i, a, p| dwconv::depthwise(i, a, &weights, &d, p));
                            assert_close(&format!("{} dw {kh}x{kw}/{sh} {h}x{w}x{c} parts{parts}", isa.name()), &got, &want);
                        }
                    }
                }
            }
        }
    }
}

#[test]
fn depthwise_scalar_matches_the_definition_with_padding() {
    // 3x3, stride 2, pad 1 on a 4x4 single channel, by hand.
    let x: Vec<f32> = (0..16).map(|v| v as f32).collect();
    let mut weights = vec![0.0; dwconv::packed_len(1, 9)];
    dwconv::pack(1, 9, |_, t| t as f32, |_| 0.5, &mut weights);
    let mut arena = x.clone();
    arena.resize(16 + 4, 0.0);
    let d = Depthwise {
        h: 4,
        w: 4,
        c: 1,
        oh: 2,
        ow: 2,
        kh: 3,
        kw: 3,
        sh: 2,
        sw: 2,
        pt: 1,
        pl: 1,
        x: View { off: 0, ld: 1 },
        y: View { off: 16, ld: 1 },
        weights: 0,
        act: Act::None,
        gate: None,
        residual: None,
    };
    dwconv::depthwise(Isa::Scalar, Arena::new(&mut arena), &weights, &d, Part::ALL);
    // Output (0,0) sees input rows -1..1, cols -1..1: taps 4,5,7,8 on x 0,1,4,5.
    let want00 = 0.5 + 4.0 * 0.0 + 5.0 * 1.0 + 7.0 * 4.0 + 8.0 * 5.0;
    assert_eq!(arena[16], want00);
}

#[test]
fn dense_conv_matches_scalar_reading_nchw_input_or_the_arena() {
    let mut rng = Rng(4);
    let tiers = simd_tiers();
    for &(cin, cout, k, s, h, w) in &[(3, 16, 3, 2, 9, 9), (1, 16, 3, 2, 8, 7), (3, 20, 3, 2, 5, 6), (3, 8, 3, 1, 4, 4), (2, 52, 5, 2, 7, 7), (3, 24, 1, 1, 3, 3)] {
        let p = k / 2;
        let (oh, ow) = ((h + 2 * p - k) / s + 1, (w + 2 * p - k) / s + 1);
        let wd = rng.vec(cout * cin * k * k);
        let bd = rng.vec(cout);
        let mut weights = vec![0.0; 2 + conv::packed_len(k, k, cin, cout)];
        conv::pack(k, k, cin, cout, |o, i, ky, kx| wd[((o * cin + i) * k + ky) * k + kx], |o| bd[o], &mut weights[2..]);
        let input = rng.vec(cin * h * w + 5);
        for from_input in [true, false] {
            let x = if from_input {
                Strided { off: 5, cs: h * w, rs: w, ps: 1 }
            } else {
                Strided { off: 3, cs: 1, rs: w * cin, ps: cin }
            };
            let yoff = 3 + h * w * cin;
            let arena = rng.vec(yoff + oh * ow * (cout + 4) * 2);
            let d = Dense {
                h,
                w,
                cin,
                oh,
                ow,
                cout,
                kh: k,
                kw: k,
                sh: s,
                sw: s,
                pt: p,
                pl: p,
                x,
                y: View { off: yoff, ld: cout + 4 },
                weights: 2,
                act: Act::Relu,
                residual: (!from_input).then_some(View { off: yoff + oh * ow * (cout + 4), ld: cout + 4 }),
            };
            let src = from_input.then_some(&input[..]);
            for &isa in &tiers {
                for parts in [1, 2] {
                    let (got, want) = both(&arena, parts, isa, &|i, a, pt| conv::dense(i, a, src, &weights, &d, pt));
                    assert_close(&format!("{} conv {cin}->{cout} k{k}/{s} {h}x{w}", isa.name()), &got, &want);
                }
            }
        }
    }
}

#[test]
fn global_average_pool_matches_scalar() {
    let mut rng = Rng(5);
    let tiers = simd_tiers();
    for &pixels in &[1, 2, 3, 7, 49, 196] {
        for &c in &[1, 4, 12, 16, 20, 33, 960] {
            let ld = c + 3;
            let arena = rng.vec(2 + pixels * ld + c);
            let g = GlobalAvg { pixels, c, x: View { off: 2, ld }, y: 2 + pixels * ld };
            for &isa in &tiers {
                for parts in [1, 2] {
                    let (got, want) = both(&arena, parts, isa, &|i, a, p| pool::global_avg(i, a, &g, p));
                    assert_close(&format!("{} gap {pixels}x{c}", isa.name()), &got, &want);
                }
            }
        }
    }
}

#[test]
fn average_pool_matches_scalar_and_the_definition() {
    let mut rng = Rng(6);
    let tiers = simd_tiers();
    for &(h, w, k, s) in &[(7, 7, 2, 2), (8, 6, 2, 2), (3, 5, 3, 1), (56, 56, 2, 2), (1, 4, 1, 2)] {
        for &c in &[1, 4, 17, 36, 120] {
            if cfg!(miri) && h * w * c > 1000 {
                continue; // Miri runs the scalar definition check only; small sizes suffice.
            }
            let (oh, ow) = ((h - k) / s + 1, (w - k) / s + 1);
            let ld = c + 5;
            let y = 3 + h * w * ld;
            let arena = rng.vec(y + oh * ow * c + 2);
            let a = AvgPool { h, w, c, oh, ow, kh: k, kw: k, sh: s, sw: s, x: View { off: 3, ld }, y: View { off: y, ld: c } };
            let mut want = arena.clone();
            pool::avg_pool(Isa::Scalar, Arena::new(&mut want), &a, Part::ALL);
            // The reference is the definition.
            let mean = (0..k * k).map(|t| arena[3 + ((t / k) * w + t % k) * ld]).sum::<f32>() / (k * k) as f32;
            assert!((want[y] - mean).abs() < 1e-6);
            for &isa in &tiers {
                for parts in [1, 2] {
                    let (got, want) = both(&arena, parts, isa, &|i, ar, p| pool::avg_pool(i, ar, &a, p));
                    assert_close(&format!("{} avgpool {h}x{w}x{c} k{k}/{s}", isa.name()), &got, &want);
                }
            }
        }
    }
}

#[test]
fn parts_cover_every_index_once() {
    for n in [0, 1, 5, 16, 17, 100] {
        for grain in [1, 4, 16] {
            for count in 1..5 {
                let mut seen = vec![0; n];
                for index in 0..count {
                    for i in (Part { index, count }).range(n, grain) {
                        seen[i] += 1;
                    }
                }
                assert!(seen.iter().all(|&s| s == 1), "n{n} grain{grain} count{count}");
            }
        }
    }
}

#[test]
#[cfg_attr(target_family = "wasm", ignore = "panics abort on WebAssembly: there is no unwinding to catch")]
fn out_of_range_access_panics_instead_of_corrupting() {
    let mut arena = vec![0.0; 10];
    let weights = vec![0.0; 100];
    let g = Gemm {
        m: 4,
        k: 4,
        n: 4,
        a: View { off: 0, ld: 4 },
        c: View { off: 0, ld: 4 },
        b: 0,
        bias: 0,
        act: Act::None,
        residual: None,
        raw: None,
        scale: None,
        gate: None,
    };
    let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        gemm::gemm(Isa::Scalar, Arena::new(&mut arena), &weights, &g, Part::ALL)
    }));
    assert!(r.is_err());
}

#[test]
fn exp_is_accurate() {
    for i in -200..=200 {
        let x = i as f32 * 0.37;
        let (got, want) = (ghostnet_runtime::isa::exp(x), (x as f64).exp());
        if want < 1e38 && want > 1e-37 {
            assert!(((got as f64 - want) / want).abs() < 3e-7, "exp({x}) = {got}, want {want}");
        }
    }
}

/// The 8-bit tiers this machine runs (each with its own dot product), besides scalar.
fn int8_tiers() -> Vec<Isa> {
    // The run-time detection (AArch64's dot product is known to the operating system only).
    ghostnet_runtime::detect::select_from(None).unwrap();
    let tiers: Vec<Isa> = Isa::ALL.into_iter().filter(|i| *i != Isa::Scalar && i.supported()).collect();
    eprintln!("8-bit tiers run: scalar{}", tiers.iter().map(|t| format!(", {}", t.name())).collect::<String>());
    tiers
}

#[test]
fn int8_tiers_that_must_run() {
    let tiers = int8_tiers();
    if std::env::var_os("CI").is_some() && cfg!(target_arch = "x86_64") {
        // The CI machine (Sapphire Rapids) has both VNNI extensions.
        for t in [Isa::Avx2, Isa::AvxVnni, Isa::Avx512, Isa::Avx512Vnni] {
            assert!(tiers.contains(&t), "CI machine must run the {} tier", t.name());
        }
    }
    if std::env::var_os("CI").is_some() && cfg!(target_arch = "aarch64") {
        // qemu-aarch64's default CPU has the dot-product extension.
        assert!(tiers.contains(&Isa::NeonDot), "the CI's emulated CPU must run the neondot tier");
    }
    if cfg!(all(target_arch = "wasm32", target_feature = "simd128")) {
        assert!(tiers.contains(&Isa::Simd128));
    }
}

#[test]
fn quantize_matches_scalar_bit_for_bit() {
    let mut rng = Rng(21);
    for &m in &[1, 3, 7, 13] {
        for &k in &[1, 3, 4, 5, 15, 16, 17, 24, 33, 64, 100] {
            // Dense rows (the input fills them, the bytes need no padding) take one run.
            for (scaled, dense) in [(false, false), (true, false), (false, true), (true, true)] {
                let ld = if dense { k } else { k + 3 };
                let soff = m * ld;
                let yoff = soff + k + 5;
                let ldy = if dense { qgemm::row_bytes(k) } else { qgemm::row_bytes(k) + 4 * (k % 2) };
                let mut arena: Vec<f32> = rng.vec(yoff + (m * ldy).div_ceil(4) + 4).iter().map(|v| v * 3.0).collect();
                // Values on the rounding boundaries (x.5 after scaling) and out of range.
                arena[0] = 0.5 * 0.04 - 1.0;
                arena[1 % k] = 1000.0;
                let q = Quantize { m, k, x: View { off: 0, ld }, y: yoff, ldy, inv_scale: 25.0, zero: 37.0, scale: scaled.then_some(soff) };
                for isa in simd_tiers() {
                    for parts in [1, 2] {
                        let (got, want) = both(&arena, parts, isa, &|i, a, p| qgemm::quantize(i, a, &q, p));
                        assert!(got.iter().zip(&want).all(|(g, w)| g.to_bits() == w.to_bits()), "{} quantize m{m} k{k} scaled {scaled} dense {dense}", isa.name());
                    }
                }
                // The bytes are the definition's.
                let mut y = arena.clone();
                qgemm::quantize(Isa::Scalar, Arena::new(&mut y), &q, Part::ALL);
                let bytes: Vec<u8> = y[yoff..].iter().flat_map(|v| v.to_le_bytes()).collect();
                for i in 0..m {
                    for p in 0..ldy {
                        let want = if p < k {
                            let s = if scaled { arena[soff + p] } else { 1.0 };
                            let t = (arena[i * ld + p] * s * 25.0 + 37.0).clamp(0.0, 255.0);
                            t.round_ties_even() as u8
                        } else {
                            0
                        };
                        assert_eq!(bytes[i * ldy + p], want, "m{m} k{k} row {i} col {p}");
                    }
                }
            }
        }
    }
}

#[test]
fn qgemm_matches_scalar_bit_for_bit_for_every_size_tail_and_epilogue() {
    let mut rng = Rng(22);
    let tiers = int8_tiers();
    let acts = [Act::None, Act::Relu, Act::Clip { min: -0.5, max: 0.75 }];
    let mut cases = 0;
    for &m in &[1, 2, 3, 4, 5, 6, 7, 11, 12, 13, 25, 49] {
        for &k in &[1, 3, 4, 7, 16, 37, 64] {
            for &n in &[1, 3, 4, 5, 8, 12, 15, 16, 17, 20, 31, 32, 36, 47, 48, 52, 100] {
                let variant = cases % 8;
                cases += 1;
                let act = acts[cases % acts.len()];
                let lda = qgemm::row_bytes(k) + 4 * (variant & 1);
                let ldc = n + (variant & 2) * 5;
                let aoff = 1 + (variant & 4);
                let coff = aoff + (m * lda).div_ceil(4) + 2;
                let roff = coff + m * ldc + 1;
                let woff = roff + m * ldc + 3;
                let goff = woff + m * ldc;
                let gate = (cases % 2 == 1).then_some(Gate { off: goff, ld: n + 1, h: 2, w: 2, oh: m.div_ceil(3), ow: 3 });
                let mut arena = rng.vec(goff + 4 * (n + 1) + 8);
                // Bytes of A, all values 0..=255 (the extremes included), padding zero.
                let mut bytes: Vec<u8> = (0..m * lda).map(|i| if i % lda >= k { 0 } else { ((rng.next() + 1.0) * 128.0) as u8 }).collect();
                bytes[0] = 255;
                bytes.resize(((m * lda).div_ceil(4)) * 4, 0);
                for (i, c) in bytes.chunks(4).enumerate() {
                    arena[aoff + i] = f32::from_bits(u32::from_le_bytes(c.try_into().unwrap()));
                }
                let w: Vec<i8> = (0..k * n).map(|i| if i == 0 { -128 } else { (rng.next() * 127.0) as i8 }).collect();
                let mut weights = rng.vec(3);
                let b = weights.len();
                weights.resize(b + qgemm::packed_len_i8(k, n), 0.0);
                qgemm::pack_i8(k, n, |p, j| w[p * n + j], &mut weights[b..]);
                let scale = weights.len();
                weights.extend(rng.vec(n).iter().map(|v| v.abs() * 1e-3));
                let bias = weights.len();
                weights.extend(rng.vec(n));
                let g = QGemm {
                    m,
                    k,
                    n,
                    a: aoff,
                    lda,
                    c: View { off: coff, ld: ldc },
                    b,
                    scale,
                    bias,
                    act,
                    residual: (variant & 1 == 1).then_some(View { off: roff, ld: ldc }),
                    raw: (variant & 2 == 2).then_some(View { off: woff, ld: ldc }),
                    gate,
                };
                // The reference against the definition.
                let mut want = arena.clone();
                qgemm::qgemm(Isa::Scalar, Arena::new(&mut want), &weights, &g, Part::ALL);
                for i in 0..m.min(3) {
                    for j in 0..n {
                        let acc: i32 = (0..k).map(|p| bytes[i * lda + p] as i32 * w[p * n + j] as i32).sum();
                        let mut y = acc as f32 * weights[scale + j] + weights[bias + j];
                        y = match act {
                            Act::Relu => y.max(0.0),
                            Act::Clip { min, max } => y.max(min).min(max),
                            _ => y,
                        };
                        if let Some(gt) = gate {
                            y *= arena[gt.at(i) + j];
                        }
                        if variant & 1 == 1 {
                            y += arena[roff + i * ldc + j];
                        }
                        assert_eq!(want[coff + i * ldc + j].to_bits(), y.to_bits(), "qgemm scalar m{m} k{k} n{n} ({i},{j})");
                    }
                }
                for &isa in &tiers {
                    for parts in [1, 2, 3] {
                        let (got, want) = both(&arena, parts, isa, &|i, a, p| qgemm::qgemm(i, a, &weights, &g, p));
                        let same = got.iter().zip(&want).all(|(x, y)| x.to_bits() == y.to_bits());
                        assert!(same, "{} qgemm m{m} k{k} n{n} v{variant} parts{parts}: not bit-identical to scalar", isa.name());
                    }
                }
            }
        }
    }
}
