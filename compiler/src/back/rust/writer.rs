//! Writing a [`Program`] as Rust: constants, the weight blob, `Net`, one function per
//! block of the network, and the runtime's kernel sources carried in a private module.

use proc_macro2::{Ident, Literal, Span, TokenStream};
use quote::{format_ident, quote};

use super::lower::{Kind, Program, Step};
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

fn mat(m: &rt::ops::Mat) -> TokenStream {
    let (o, r, c) = (lit(m.off), lit(m.rs), lit(m.cs));
    quote!(Mat { off: #o, rs: #r, cs: #c })
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
        Kind::Binary { op, a, b, y, rows, cols, act: ac } => {
            let op = format_ident!("{}", format!("{op:?}"));
            let (a, b, y, r, cl, ac) = (mat(a), mat(b), mat(y), lit(*rows), lit(*cols), act(ac));
            quote!(c.binary(BinOp::#op, #a, #b, #y, #r, #cl, #ac);)
        }
        Kind::Unary { x, y, rows, cols, act: ac } => {
            let (x, y, r, cl, ac) = (mat(x), mat(y), lit(*rows), lit(*cols), act(ac));
            quote!(c.unary(#x, #y, #r, #cl, #ac);)
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
    if has(&|k| matches!(k, Kind::Gemm(_) | Kind::GemmBf16(_) | Kind::Depthwise(_) | Kind::Dense { .. } | Kind::GlobalAvg(_) | Kind::AvgPool(_))) {
        out.extend(quote!(use self::rt::gemm::View;));
    }
    let gated = |k: &Kind| match k {
        Kind::Gemm(g) | Kind::GemmBf16(g) => g.gate.is_some(),
        Kind::Depthwise(d) => d.gate.is_some(),
        _ => false,
    };
    if has(&gated) {
        out.extend(quote!(use self::rt::gemm::Gate;));
    }
    if has(&|k| !matches!(k, Kind::InputToNhwc { .. } | Kind::GlobalAvg(_) | Kind::AvgPool(_))) {
        out.extend(quote!(use self::rt::isa::Act;));
    }
    if has(&|k| matches!(k, Kind::Binary { .. } | Kind::Unary { .. })) {
        out.extend(quote!(use self::rt::ops::Mat;));
    }
    if has(&|k| matches!(k, Kind::Binary { .. })) {
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

/// The generated module as tokens (without the runtime module).
pub fn tokens(p: &Program, options: &Options) -> TokenStream {
    let in_shape: Vec<Literal> = p.input_shape.iter().map(|&d| lit(d)).collect();
    let out_shape: Vec<Literal> = p.output_shape.iter().map(|&d| lit(d)).collect();
    let out_rank = lit(p.output_shape.len());
    let (input_len, output_len) = (lit(p.batch() * p.image_len()), lit(p.batch() * p.out_len()));
    let (image_len, out_image) = (lit(p.image_len()), lit(p.out_len()));
    let arena_len = lit(p.arena_len);
    let weights_len = lit(p.weights.len());
    let o = p.output;
    let (o_off, o_ld, o_ch, o_hw) = (lit(o.off), lit(o.ld), lit(o.channels), lit(o.hw));

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

    let imports = imports(&p.steps);
    quote! {
        #![doc = #doc_source]
        #![doc = #doc_stats]
        // Not every program uses every item of the interface.
        #![allow(dead_code)]

        /// Input shape, NCHW, as in the source model.
        pub const INPUT_SHAPE: [usize; 4] = [#(#in_shape),*];
        /// Values in one input (`INPUT_SHAPE`'s product).
        pub const INPUT_LEN: usize = #input_len;
        /// Output shape, as in the source model.
        pub const OUTPUT_SHAPE: [usize; #out_rank] = [#(#out_shape),*];
        /// Values in one output.
        pub const OUTPUT_LEN: usize = #output_len;
        /// `f32`s of activation memory.
        pub const ARENA_LEN: usize = #arena_len;

        const BATCH: usize = INPUT_SHAPE[0];
        const IMAGE_LEN: usize = #image_len;
        const OUT_IMAGE_LEN: usize = #out_image;
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

        fn copy_output(arena: rt::isa::Arena<'_>, n: usize, output: &mut [f32; OUTPUT_LEN]) {
            let dst = &mut output[n * OUT_IMAGE_LEN..(n + 1) * OUT_IMAGE_LEN];
            rt::ops::nhwc_to_nchw(arena, #o_off, #o_ld, #o_ch, #o_hw, dst);
        }

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
        let docs = attrs.iter().take_while(|a| a.path().is_ident("doc")).count();
        attrs.insert(docs, allow);
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
