//! Writing a [`Program`] as Rust: constants, the weight blob, `Net`, one function per
//! block of the network, and the runtime's kernel sources carried in a private module.

use proc_macro2::{Ident, Literal, Span, TokenStream};
use quote::{format_ident, quote};

use super::lower::{Kind, Operand, Program, Step};
use super::{Options, WeightsSource};
use ghostnet_runtime as rt;
use rt::isa::Act;

fn lit(v: usize) -> Literal {
    Literal::usize_unsuffixed(v)
}

fn flit(v: f32) -> TokenStream {
    if v.is_finite() {
        let l = Literal::f32_unsuffixed(v);
        quote!(#l)
    } else if v.is_nan() {
        quote!(f32::NAN)
    } else if v > 0.0 {
        quote!(f32::INFINITY)
    } else {
        quote!(f32::NEG_INFINITY)
    }
}

fn act(a: &Act) -> TokenStream {
    match *a {
        Act::None => quote!(Act::None),
        Act::Relu => quote!(Act::Relu),
        Act::Sigmoid => quote!(Act::Sigmoid),
        Act::Clip { min, max } => {
            let (lo, hi) = (flit(min), flit(max));
            quote!(Act::Clip { min: #lo, max: #hi })
        }
        Act::HardSigmoid { alpha, beta } => {
            let (a, b) = (flit(alpha), flit(beta));
            quote!(Act::HardSigmoid { alpha: #a, beta: #b })
        }
    }
}

fn view(v: &rt::gemm::View) -> TokenStream {
    let (o, l) = (lit(v.off), lit(v.ld));
    quote!(View { off: #o, ld: #l })
}

fn opt<T>(v: &Option<T>, f: impl Fn(&T) -> TokenStream) -> TokenStream {
    match v {
        Some(x) => {
            let t = f(x);
            quote!(Some(#t))
        }
        None => quote!(None),
    }
}

fn gate(g: &rt::gemm::Gate) -> TokenStream {
    let [o, l, h, w, oh, ow] = [g.off, g.ld, g.h, g.w, g.oh, g.ow].map(lit);
    quote!(Gate { off: #o, ld: #l, h: #h, w: #w, oh: #oh, ow: #ow })
}

/// A signed integer (a negative one as a negation, which every parser takes).
fn ilit(v: isize) -> TokenStream {
    let l = Literal::usize_unsuffixed(v.unsigned_abs());
    if v < 0 { quote!(-#l) } else { quote!(#l) }
}

fn dims(d: &[usize]) -> TokenStream {
    let d = d.iter().map(|&v| lit(v));
    quote!(&[#(#d),*])
}

fn src(s: &rt::isa::Src) -> TokenStream {
    match *s {
        rt::isa::Src::Arena(o) => {
            let o = lit(o);
            quote!(Src::Arena(#o))
        }
        rt::isa::Src::Weights(o) => {
            let o = lit(o);
            quote!(Src::Weights(#o))
        }
        rt::isa::Src::Input(o) => {
            let o = lit(o);
            quote!(Src::Input(#o))
        }
    }
}

fn nd(o: &Operand) -> TokenStream {
    let (s, st) = (src(&o.src), o.strides.iter().map(|&v| ilit(v)));
    quote!(Nd { src: #s, strides: &[#(#st),*] })
}

/// The call for one step.
fn call(kind: &Kind) -> TokenStream {
    match kind {
        Kind::InputToNhwc { dst, ld, channels, hw } => {
            let (d, l, c, h) = (lit(*dst), lit(*ld), lit(*channels), lit(*hw));
            quote!(c.input_to_nhwc(#d, #l, #c, #h);)
        }
        Kind::Gemm(g) | Kind::GemmBf16(g) => {
            let method = if matches!(kind, Kind::GemmBf16(_)) { quote!(gemm_bf16) } else { quote!(gemm) };
            let (m, k, n, b, bias) = (lit(g.m), lit(g.k), lit(g.n), lit(g.b), lit(g.bias));
            let (a, cc, ac) = (view(&g.a), view(&g.c), act(&g.act));
            let res = opt(&g.residual, view);
            let raw = opt(&g.raw, view);
            let scale = opt(&g.scale, |s| {
                let s = lit(*s);
                quote!(#s)
            });
            let gt = opt(&g.gate, gate);
            quote! {
                c.#method(&Gemm { m: #m, k: #k, n: #n, a: #a, c: #cc, b: #b, bias: #bias, act: #ac, residual: #res, raw: #raw, scale: #scale, gate: #gt });
            }
        }
        Kind::Quantize(q) => {
            let (m, k, y, ldy) = (lit(q.m), lit(q.k), lit(q.y), lit(q.ldy));
            let (x, inv, zero) = (view(&q.x), flit(q.inv_scale), flit(q.zero));
            let scale = opt(&q.scale, |s| {
                let s = lit(*s);
                quote!(#s)
            });
            quote!(c.quantize(&Quantize { m: #m, k: #k, x: #x, y: #y, ldy: #ldy, inv_scale: #inv, zero: #zero, scale: #scale });)
        }
        Kind::QGemm(g) => {
            let [m, k, n, a, lda, b, scale, bias] = [g.m, g.k, g.n, g.a, g.lda, g.b, g.scale, g.bias].map(lit);
            let (cc, ac) = (view(&g.c), act(&g.act));
            let res = opt(&g.residual, view);
            let raw = opt(&g.raw, view);
            let gt = opt(&g.gate, gate);
            quote! {
                c.qgemm(&QGemm { m: #m, k: #k, n: #n, a: #a, lda: #lda, c: #cc, b: #b, scale: #scale, bias: #bias, act: #ac, residual: #res, raw: #raw, gate: #gt });
            }
        }
        Kind::Depthwise(d) => {
            let f = [d.h, d.w, d.c, d.oh, d.ow, d.kh, d.kw, d.sh, d.sw, d.pt, d.pl, d.weights].map(lit);
            let [h, w, ch, oh, ow, kh, kw, sh, sw, pt, pl, wo] = f;
            let (x, y, a) = (view(&d.x), view(&d.y), act(&d.act));
            let res = opt(&d.residual, view);
            let gt = opt(&d.gate, gate);
            quote! {
                c.depthwise(&Depthwise {
                    h: #h, w: #w, c: #ch, oh: #oh, ow: #ow, kh: #kh, kw: #kw, sh: #sh, sw: #sw, pt: #pt, pl: #pl,
                    x: #x, y: #y, weights: #wo, act: #a, gate: #gt, residual: #res,
                });
            }
        }
        Kind::Dense { conv: d, from_input } => {
            let f = [d.h, d.w, d.cin, d.oh, d.ow, d.cout, d.kh, d.kw, d.sh, d.sw, d.pt, d.pl, d.weights].map(lit);
            let [h, w, cin, oh, ow, cout, kh, kw, sh, sw, pt, pl, wo] = f;
            let [xo, cs, rs, ps] = [d.x.off, d.x.cs, d.x.rs, d.x.ps].map(lit);
            let (y, a) = (view(&d.y), act(&d.act));
            let res = opt(&d.residual, view);
            let method = if *from_input { quote!(dense_input) } else { quote!(dense) };
            quote! {
                c.#method(&Dense {
                    h: #h, w: #w, cin: #cin, oh: #oh, ow: #ow, cout: #cout, kh: #kh, kw: #kw, sh: #sh, sw: #sw,
                    pt: #pt, pl: #pl, x: Strided { off: #xo, cs: #cs, rs: #rs, ps: #ps }, y: #y, weights: #wo,
                    act: #a, residual: #res,
                });
            }
        }
        Kind::GlobalAvg(g) => {
            let (p, ch, y, x) = (lit(g.pixels), lit(g.c), lit(g.y), view(&g.x));
            quote!(c.global_avg(&GlobalAvg { pixels: #p, c: #ch, x: #x, y: #y });)
        }
        Kind::AvgPool(a) => {
            let [h, w, ch, oh, ow, kh, kw, sh, sw] = [a.h, a.w, a.c, a.oh, a.ow, a.kh, a.kw, a.sh, a.sw].map(lit);
            let (x, y) = (view(&a.x), view(&a.y));
            quote!(c.avg_pool(&AvgPool { h: #h, w: #w, c: #ch, oh: #oh, ow: #ow, kh: #kh, kw: #kw, sh: #sh, sw: #sw, x: #x, y: #y });)
        }
        Kind::Map { dims: d, x, y, act: ac } => {
            let (d, x, y, ac) = (dims(d), nd(x), nd(y), act(ac));
            quote!(c.map(&Map { dims: #d, x: #x, y: #y, act: #ac });)
        }
        Kind::Zip { op, dims: d, a, b, y, act: ac } => {
            let op = format_ident!("{}", format!("{op:?}"));
            let (d, a, b, y, ac) = (dims(d), nd(a), nd(b), nd(y), act(ac));
            quote!(c.zip(&Zip { op: BinOp::#op, dims: #d, a: #a, b: #b, y: #y, act: #ac });)
        }
        Kind::Pad { dims: d, x_dims, before, mode, x, y } => {
            let (d, xd, bf, x, y) = (dims(d), dims(x_dims), dims(before), nd(x), nd(y));
            let mode = match *mode {
                rt::nd::PadMode::Constant(v) => {
                    let v = flit(v);
                    quote!(PadMode::Constant(#v))
                }
                rt::nd::PadMode::Reflect => quote!(PadMode::Reflect),
                rt::nd::PadMode::Edge => quote!(PadMode::Edge),
                rt::nd::PadMode::Wrap => quote!(PadMode::Wrap),
            };
            quote!(c.pad(&Pad { dims: #d, x_dims: #xd, before: #bf, mode: #mode, x: #x, y: #y });)
        }
        Kind::Resize { dims: d, x_dims, scales, interp, coord, x, y } => {
            let (d, xd, x, y) = (dims(d), dims(x_dims), nd(x), nd(y));
            let sc = scales.iter().map(|&v| flit(v));
            let (interp, coord) = (format_ident!("{}", format!("{interp:?}")), format_ident!("{}", format!("{coord:?}")));
            quote!(c.resize(&Resize { dims: #d, x_dims: #xd, scales: &[#(#sc),*], interp: Interp::#interp, coord: Coord::#coord, x: #x, y: #y });)
        }
        Kind::Pool { window: w, x, y } => {
            let f = [w.n, w.c, w.h, w.w, w.oh, w.ow, w.kh, w.kw, w.sh, w.sw, w.dh, w.dw].map(lit);
            let [n, ch, h, wd, oh, ow, kh, kw, sh, sw, dh, dw] = f;
            let pads = w.pads.map(lit);
            let (max, cip, x, y) = (w.max, w.count_include_pad, nd(x), nd(y));
            quote! {
                c.pool(&Pool {
                    window: Window {
                        max: #max, n: #n, c: #ch, h: #h, w: #wd, oh: #oh, ow: #ow, kh: #kh, kw: #kw, sh: #sh, sw: #sw, dh: #dh, dw: #dw,
                        pads: [#(#pads),*], count_include_pad: #cip,
                    },
                    x: #x,
                    y: #y,
                });
            }
        }
        Kind::Reduce { max, dims: d, inner, x, y } => {
            let (d, inner, x, y) = (dims(d), dims(inner), nd(x), nd(y));
            quote!(c.reduce(&Reduce { max: #max, dims: #d, inner: #inner, x: #x, y: #y });)
        }
        Kind::MatMul { batch, m, k, n, alpha, beta, a, b, c: cc, y } => {
            let (batch, m, k, n, al, be) = (dims(batch), lit(*m), lit(*k), lit(*n), flit(*alpha), flit(*beta));
            let (a, b, cc, y) = (nd(a), nd(b), opt(cc, nd), nd(y));
            quote!(c.matmul(&MatMul { batch: #batch, m: #m, k: #k, n: #n, alpha: #al, beta: #be, a: #a, b: #b, c: #cc, y: #y });)
        }
        Kind::Conv { shape: s, act: ac, x, w, bias, scale, residual, y } => {
            let f = [s.n, s.c, s.h, s.w, s.m, s.oh, s.ow, s.kh, s.kw, s.groups, s.sh, s.sw, s.dh, s.dw, s.pt, s.pl].map(lit);
            let [n, ch, h, wd, m, oh, ow, kh, kw, groups, sh, sw, dh, dw, pt, pl] = f;
            let (ac, x, w, y) = (act(ac), nd(x), nd(w), nd(y));
            let (bias, scale, residual) = (opt(bias, nd), opt(scale, nd), opt(residual, nd));
            quote! {
                c.conv(&Conv {
                    shape: ConvShape {
                        n: #n, c: #ch, h: #h, w: #wd, m: #m, oh: #oh, ow: #ow, kh: #kh, kw: #kw, groups: #groups,
                        sh: #sh, sw: #sw, dh: #dh, dw: #dw, pt: #pt, pl: #pl,
                    },
                    act: #ac, x: #x, weights: #w, bias: #bias, scale: #scale, residual: #residual, y: #y,
                });
            }
        }
    }
}

/// `use` lines for the runtime types the steps mention.
fn imports(steps: &[Step]) -> TokenStream {
    let has = |f: &dyn Fn(&Kind) -> bool| steps.iter().any(|s| f(&s.kind));
    let mut out = TokenStream::new();
    if has(&|k| matches!(k, Kind::Dense { .. })) {
        out.extend(quote!(use self::rt::conv::{Dense, Strided};));
    }
    if has(&|k| matches!(k, Kind::Depthwise(_))) {
        out.extend(quote!(use self::rt::dwconv::Depthwise;));
    }
    if has(&|k| matches!(k, Kind::Gemm(_) | Kind::GemmBf16(_))) {
        out.extend(quote!(use self::rt::gemm::Gemm;));
    }
    if has(&|k| matches!(k, Kind::Quantize(_) | Kind::QGemm(_))) {
        out.extend(quote!(use self::rt::qgemm::{QGemm, Quantize};));
    }
    if has(&|k| {
        matches!(k, Kind::Gemm(_) | Kind::GemmBf16(_) | Kind::Quantize(_) | Kind::QGemm(_) | Kind::Depthwise(_) | Kind::Dense { .. } | Kind::GlobalAvg(_) | Kind::AvgPool(_))
    }) {
        out.extend(quote!(use self::rt::gemm::View;));
    }
    let gated = |k: &Kind| match k {
        Kind::Gemm(g) | Kind::GemmBf16(g) => g.gate.is_some(),
        Kind::QGemm(g) => g.gate.is_some(),
        Kind::Depthwise(d) => d.gate.is_some(),
        _ => false,
    };
    if has(&gated) {
        out.extend(quote!(use self::rt::gemm::Gate;));
    }
    let acts = |k: &Kind| {
        matches!(k, Kind::Gemm(_) | Kind::GemmBf16(_) | Kind::QGemm(_) | Kind::Depthwise(_) | Kind::Dense { .. } | Kind::Map { .. } | Kind::Zip { .. } | Kind::Conv { .. })
    };
    if has(&acts) {
        out.extend(quote!(use self::rt::isa::Act;));
    }
    let nd: std::collections::BTreeSet<&str> = steps.iter().flat_map(|s| nd_items(&s.kind)).copied().collect();
    if !nd.is_empty() {
        let items = nd.iter().map(|n| format_ident!("{n}"));
        out.extend(quote!(use self::rt::isa::Src; use self::rt::nd::{#(#items),*};));
    }
    if has(&|k| matches!(k, Kind::Zip { .. })) {
        out.extend(quote!(use self::rt::ops::BinOp;));
    }
    if has(&|k| matches!(k, Kind::GlobalAvg(_))) {
        out.extend(quote!(use self::rt::pool::GlobalAvg;));
    }
    if has(&|k| matches!(k, Kind::AvgPool(_))) {
        out.extend(quote!(use self::rt::pool::AvgPool;));
    }
    out
}

/// The `rt::nd` items the call of a step names.
fn nd_items(k: &Kind) -> &'static [&'static str] {
    match k {
        Kind::Map { .. } => &["Map", "Nd"],
        Kind::Zip { .. } => &["Zip", "Nd"],
        Kind::Pad { .. } => &["Pad", "PadMode", "Nd"],
        Kind::Resize { .. } => &["Resize", "Interp", "Coord", "Nd"],
        Kind::Pool { .. } => &["Pool", "Window", "Nd"],
        Kind::Reduce { .. } => &["Reduce", "Nd"],
        Kind::MatMul { .. } => &["MatMul", "Nd"],
        Kind::Conv { .. } => &["Conv", "ConvShape", "Nd"],
        _ => &[],
    }
}

/// The function a step belongs to: `blocks_3_0` for layers of `blocks.3.0`, `stem` before
/// the first block, `head` after the last; `layers_N` chunks for networks without blocks.
fn groups(steps: &[Step]) -> Vec<(String, Vec<String>, Vec<&Step>)> {
    let block = |layer: &str| -> Option<String> {
        let mut parts = layer.split('.');
        let (a, b, c) = (parts.next()?, parts.next()?, parts.next()?);
        (a == "blocks" && b.parse::<u32>().is_ok() && c.parse::<u32>().is_ok()).then(|| format!("blocks_{b}_{c}"))
    };
    let any_block = steps.iter().any(|s| block(&s.layer).is_some());
    let mut out: Vec<(String, Vec<String>, Vec<&Step>)> = Vec::new();
    let mut seen_block = false;
    for (i, s) in steps.iter().enumerate() {
        let key = match block(&s.layer) {
            Some(b) => {
                seen_block = true;
                b
            }
            None if !any_block => format!("layers_{}", i / 16),
            None if seen_block => match out.last() {
                Some((k, _, _)) if k.starts_with("blocks_") && !s.layer.contains('.') && !s.layer.starts_with("conv_") => k.clone(),
                _ => "head".to_string(),
            },
            None => "stem".to_string(),
        };
        match out.last_mut() {
            Some((k, layers, v)) if *k == key => {
                if layers.last() != Some(&s.layer) {
                    layers.push(s.layer.clone());
                }
                v.push(s);
            }
            _ => out.push((key, vec![s.layer.clone()], vec![s])),
        }
    }
    // A key that comes back after another (unusual orders) gets a suffix.
    let mut counts = std::collections::HashMap::new();
    for (k, _, _) in &mut out {
        let c = counts.entry(k.clone()).or_insert(0);
        if *c > 0 {
            *k = format!("{k}_{c}");
        }
        *c += 1;
    }
    out
}

/// Hand-written parts of every generated module (they hold the only `unsafe` blocks, and
/// their `SAFETY` comments, which token-based printing would drop).
pub(super) const TEMPLATE_COMMON: &str = include_str!("templates/common.rs");
pub(super) const TEMPLATE_STD: &str = include_str!("templates/std.rs");
pub(super) const TEMPLATE_NO_STD: &str = include_str!("templates/no_std.rs");

/// Runtime source files carried into the generated code, in module order (the runtime crate
/// holds them, so that this crate builds from its package alone).
const RUNTIME: &[(&str, &str)] = ghostnet_runtime::SOURCES;

/// Names of the runtime modules that are carried (for the test that none is forgotten).
pub fn runtime_modules() -> impl Iterator<Item = &'static str> {
    RUNTIME.iter().map(|(m, _)| *m)
}

/// The `mod rt { ... }` text: every runtime file, indented, `std`-only ones in std mode.
pub(super) fn runtime_module(no_std: bool) -> String {
    let mut s = String::from(
        "/// The ghostnet-runtime kernels this network uses, carried in so that it needs no dependency.\n\
         #[allow(dead_code, unused_imports, clippy::all)]\nmod rt {\n",
    );
    for (name, src) in RUNTIME {
        let std_only = src.lines().next().is_some_and(|l| l.trim() == "#![cfg(feature = \"std\")]");
        if std_only && no_std {
            continue;
        }
        s.push_str(&format!("    pub mod {name} {{\n"));
        for line in src.lines() {
            if std_only && line.trim() == "#![cfg(feature = \"std\")]" {
                continue;
            }
            if line.is_empty() {
                s.push('\n');
            } else {
                s.push_str("        ");
                s.push_str(line);
                s.push('\n');
            }
        }
        s.push_str("    }\n");
    }
    s.push_str("}\n");
    s
}

/// Rust identifiers for the accessors of `names`: `output_` and the name, every character
/// that is not a letter or digit an underscore, runs of them one; a number appended to
/// names that come out the same.
pub fn accessor_names(names: &[String]) -> Vec<String> {
    let mut out: Vec<String> = Vec::with_capacity(names.len());
    for name in names {
        let mut id = String::from("output_");
        for ch in name.chars() {
            let ch = if ch.is_ascii_alphanumeric() { ch.to_ascii_lowercase() } else { '_' };
            if !(ch == '_' && id.ends_with('_')) {
                id.push(ch);
            }
        }
        while id.ends_with('_') && id.len() > "output_".len() {
            id.pop();
        }
        let base = id.clone();
        let mut k = 1;
        while out.contains(&id) {
            k += 1;
            id = format!("{base}_{k}");
        }
        out.push(id);
    }
    out
}

/// The generated module as tokens (without the runtime module).
pub fn tokens(p: &Program, options: &Options) -> TokenStream {
    let in_shape: Vec<Literal> = p.input_shape.iter().map(|&d| lit(d)).collect();
    let in_rank = lit(p.input_shape.len());
    let (input_len, output_len) = (lit(crate::ir::numel(&p.input_shape)), lit(p.output_len()));
    let image_len = lit(p.image_len());
    let arena_len = lit(p.arena_len);
    let weights_len = lit(p.weights.len());

    let weight_bytes = match &options.weights {
        WeightsSource::File(path) => quote!(*include_bytes!(#path)),
        WeightsSource::Inline(bytes) => {
            let l = Literal::byte_string(bytes);
            quote!(*#l)
        }
    };

    let groups = groups(&p.steps);
    let fn_names: Vec<Ident> = groups.iter().map(|(k, _, _)| Ident::new(k, Span::call_site())).collect();
    let fns = groups.iter().zip(&fn_names).map(|((_, layers, steps), name)| {
        let doc = format!(" Layers {}.", layers.join(", "));
        let calls = steps.iter().map(|s| call(&s.kind));
        quote! {
            #[doc = #doc]
            fn #name(c: &Ctx<'_>) {
                #(#calls)*
            }
        }
    });

    let doc_source = format!(" Generated by ghostc {} from {}. Do not edit.", env!("CARGO_PKG_VERSION"), options.source);
    let doc_stats = format!(
        " {} kernel calls, {} weight values, an arena of {} f32 ({} bytes).",
        p.steps.len(),
        p.weights.len(),
        p.arena_len,
        p.arena_len * 4
    );

    // One output copied in one block per run: the form every GhostNet has.
    let single = match &p.outputs[..] {
        [o] if o.copies.len() == 1 && o.offset == 0 && o.copies[0].dst == 0 => Some(o),
        _ => None,
    };
    let output_items = match single {
        Some(o) => {
            let shape: Vec<Literal> = o.shape.iter().map(|&d| lit(d)).collect();
            let rank = lit(o.shape.len());
            quote! {
                /// Output shape, as in the source model.
                pub const OUTPUT_SHAPE: [usize; #rank] = [#(#shape),*];
                /// Values in one output.
                pub const OUTPUT_LEN: usize = #output_len;
            }
        }
        None => quote! {
            /// Values of all outputs, back to back in the order of `OUTPUTS`.
            pub const OUTPUT_LEN: usize = #output_len;
        },
    };
    let batch = if p.runs == p.batch() && !p.input_shape.is_empty() {
        quote!(const BATCH: usize = INPUT_SHAPE[0];)
    } else {
        quote! {
            // An op mixes the images of the batch: the layers run once, on all of them.
            const BATCH: usize = 1;
        }
    };
    let out_image_len = single.map(|o| {
        let out_image = lit(o.len() / p.runs);
        quote!(const OUT_IMAGE_LEN: usize = #out_image;)
    });
    let copy_output = match single {
        Some(o) => {
            let c = o.copies[0];
            let (o_off, o_ld, o_ch, o_hw) = (lit(c.off), lit(c.ld), lit(c.channels), lit(c.hw));
            quote! {
                fn copy_output(arena: rt::isa::Arena<'_>, n: usize, output: &mut [f32; OUTPUT_LEN]) {
                    let dst = &mut output[n * OUT_IMAGE_LEN..(n + 1) * OUT_IMAGE_LEN];
                    rt::ops::nhwc_to_nchw(arena, #o_off, #o_ld, #o_ch, #o_hw, dst);
                }
            }
        }
        None => {
            let copies = p.outputs.iter().flat_map(|o| {
                let per_run = o.len() / p.runs;
                o.copies.iter().map(move |c| {
                    let (at, run) = (lit(o.offset + c.dst), lit(per_run));
                    let (off, ld, ch, hw, len) = (lit(c.off), lit(c.ld), lit(c.channels), lit(c.hw), lit(c.channels * c.hw));
                    quote! {
                        let at = #at + n * #run;
                        rt::ops::nhwc_to_nchw(arena, #off, #ld, #ch, #hw, &mut output[at..at + #len]);
                    }
                })
            });
            quote! {
                /// Copies every output of run `n` (NHWC in the arena) to its place in `output` (NCHW).
                fn copy_output(arena: rt::isa::Arena<'_>, n: usize, output: &mut [f32; OUTPUT_LEN]) {
                    #(#copies)*
                }
            }
        }
    };
    let n_outputs = lit(p.outputs.len());
    let infos = p.outputs.iter().map(|o| {
        let (name, offset, len) = (o.name.as_str(), lit(o.offset), lit(o.len()));
        let shape = o.shape.iter().map(|&d| lit(d));
        quote!(OutputInfo { name: #name, shape: &[#(#shape),*], offset: #offset, len: #len })
    });
    let names: Vec<String> = p.outputs.iter().map(|o| o.name.clone()).collect();
    let accessors = p.outputs.iter().zip(accessor_names(&names)).map(|(o, f)| {
        let f = Ident::new(&f, Span::call_site());
        let (from, to, len) = (lit(o.offset), lit(o.offset + o.len()), lit(o.len()));
        let doc = format!(" Output `{}` ({}, NCHW) in `forward`'s output array.", o.name, crate::ir::ShapeDisplay(&o.shape));
        quote! {
            #[doc = #doc]
            pub fn #f(output: &[f32; OUTPUT_LEN]) -> &[f32; #len] {
                output[#from..#to].try_into().expect("the output lies inside the array")
            }
        }
    });

    let imports = imports(&p.steps);
    quote! {
        #![doc = #doc_source]
        #![doc = #doc_stats]
        // Not every program uses every item of the interface.
        #![allow(dead_code)]

        /// Input shape, NCHW, as in the source model.
        pub const INPUT_SHAPE: [usize; #in_rank] = [#(#in_shape),*];
        /// Values in one input (`INPUT_SHAPE`'s product).
        pub const INPUT_LEN: usize = #input_len;
        #output_items
        /// `f32`s of activation memory.
        pub const ARENA_LEN: usize = #arena_len;

        /// One output of the network and where `forward` writes it.
        #[derive(Clone, Copy, Debug, PartialEq, Eq)]
        pub struct OutputInfo {
            /// The name the model gives it.
            pub name: &'static str,
            pub shape: &'static [usize],
            /// Its first value in `forward`'s output array; it takes `len` values, NCHW.
            pub offset: usize,
            pub len: usize,
        }

        /// The outputs, in the model's order, back to back in `forward`'s output array.
        pub const OUTPUTS: [OutputInfo; #n_outputs] = [#(#infos),*];

        #(#accessors)*

        #batch
        const IMAGE_LEN: usize = #image_len;
        #out_image_len
        const WEIGHTS_LEN: usize = #weights_len;

        pub use self::rt::isa::Isa;
        use self::rt::exec::Ctx;
        use self::rt::isa::Part;
        #imports

        #[cfg(target_endian = "big")]
        compile_error!("the packed weights are little-endian");

        #[repr(C, align(64))]
        struct Aligned<T: ?Sized>(T);

        /// The packed weights: `WEIGHTS_LEN` little-endian `f32`s.
        static WEIGHT_BYTES: &Aligned<[u8]> = &Aligned(#weight_bytes);

        #copy_output

        /// One image through every layer.
        fn run(c: &Ctx<'_>) {
            #(#fn_names(c);)*
        }

        #(#fns)*
    }
}

/// Marks a public item or an `impl` `#[allow(dead_code)]` unless it already is: not every
/// program uses every item of the interface.
pub(super) fn allow_dead_code(item: &mut syn::Item) {
    let allow: syn::Attribute = syn::parse_quote!(#[allow(dead_code)]);
    let public = |v: &syn::Visibility| matches!(v, syn::Visibility::Public(_));
    let attrs = match item {
        syn::Item::Const(i) if public(&i.vis) => &mut i.attrs,
        syn::Item::Enum(i) if public(&i.vis) => &mut i.attrs,
        syn::Item::Fn(i) if public(&i.vis) => &mut i.attrs,
        syn::Item::Static(i) if public(&i.vis) => &mut i.attrs,
        syn::Item::Struct(i) if public(&i.vis) => &mut i.attrs,
        syn::Item::Type(i) if public(&i.vis) => &mut i.attrs,
        syn::Item::Impl(i) => &mut i.attrs,
        _ => return,
    };
    let is_allow = |a: &syn::Attribute| a.path().is_ident("allow") && a.meta.require_list().is_ok_and(|l| l.tokens.to_string() == "dead_code");
    if !attrs.iter().any(is_allow) {
        attrs.push(allow);
    }
}

/// The whole generated file. It has no inner attributes, so that it works both as a module
/// file (`mod net;`) and through `include!` (`mod net { include!(...); }`, as a build script
/// writes it): the header is plain comments, and the public items are marked
/// `#[allow(dead_code)]`.
pub fn write_string(p: &Program, options: &Options) -> Result<String, String> {
    let mut file: syn::File = syn::parse2(tokens(p, options)).map_err(|e| format!("internal error: generated code does not parse: {e}"))?;
    let mut code = String::new();
    for attr in std::mem::take(&mut file.attrs) {
        if let syn::Meta::NameValue(nv) = &attr.meta
            && nv.path.is_ident("doc")
            && let syn::Expr::Lit(syn::ExprLit { lit: syn::Lit::Str(text), .. }) = &nv.value
        {
            code.push_str(&format!("//{}\n", text.value()));
        }
    }
    file.items.iter_mut().for_each(allow_dead_code);
    code.push_str(&prettyplease::unparse(&file));
    code.push('\n');
    code.push_str(TEMPLATE_COMMON);
    code.push('\n');
    code.push_str(if options.no_std { TEMPLATE_NO_STD } else { TEMPLATE_STD });
    code.push('\n');
    code.push_str(&runtime_module(options.no_std));
    Ok(code)
}
