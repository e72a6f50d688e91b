//! The generated module as tokens, for the `ghostnet!` proc-macro.
//!
//! A proc-macro cannot return the text [`writer::write_string`] writes: inner attributes
//! (the header's `#![doc]`) are not allowed in its output, and the hand-written
//! templates and the runtime sources are text. [`tokens`] returns the same items as tokens:
//! the inner attributes dropped, each top-level item marked `#[allow(dead_code)]` as in the
//! written file, and the text tokenized (inside a proc-macro, by rustc). Comments do not survive
//! tokenizing; the `SAFETY` comments live in the checked-in templates and runtime sources.
//!
//! The packed weights are one byte-string literal in a `#[repr(align(64))]` wrapper, and
//! every file the network was read from is named in an unused `include_bytes!`, so that
//! cargo rebuilds the crate when one changes.

use std::path::{Path, PathBuf};
use std::str::FromStr;

use proc_macro2::{Group, Literal, TokenStream, TokenTree};
use quote::quote;

use super::writer::{self, TEMPLATE_COMMON, TEMPLATE_NO_STD, TEMPLATE_STD};
use super::{Error, Options, Program, WeightsSource};
use crate::ir::Graph;

/// Lowers `graph` and returns the module's items as tokens, with the packed weights inline
/// (`options.weights` is ignored) and an `include_bytes!` of each of `inputs`.
///
/// `inputs` must be absolute paths (relative ones would resolve against the file of the
/// macro call).
pub fn generate(graph: &Graph, options: &Options, inputs: &[PathBuf]) -> Result<(Program, TokenStream), Error> {
    let program = super::lower::lower(graph).map_err(Error::Unsupported)?;
    // `weight_bytes`'s iterator chain, unoptimized as proc-macros are built, takes a second
    // for GhostNet 1.3x; this loop a tenth of that.
    let mut bytes = Vec::with_capacity(program.weights.len() * 4);
    for w in &program.weights {
        bytes.extend_from_slice(&w.to_le_bytes());
    }
    let options = Options { weights: WeightsSource::Inline(bytes), ..options.clone() };
    let tokens = tokens(&program, &options, inputs).map_err(Error::Internal)?;
    Ok((program, tokens))
}

/// Stands for inline weights while the items are parsed: a byte-string literal of tens of
/// megabytes costs seconds in `syn` (it prints every literal to classify it), so it is put
/// in after parsing, in place of `include_bytes!(PLACEHOLDER)`.
const PLACEHOLDER: &str = "<ghostnet-compiler: inline weights>";

/// The module's items as tokens a proc-macro can return: what [`writer::write_string`]
/// writes, less the inner attributes and comments, plus one `include_bytes!` per input file.
pub fn tokens(p: &Program, options: &Options, inputs: &[PathBuf]) -> Result<TokenStream, String> {
    let internal = |what: &str, e: syn::Error| format!("internal error: {what} does not parse as items: {e}");
    let (written, inline) = match &options.weights {
        WeightsSource::Inline(bytes) => (Options { weights: WeightsSource::File(PLACEHOLDER.into()), ..options.clone() }, Some(bytes)),
        WeightsSource::File(_) => (options.clone(), None),
    };
    let generated: syn::File = syn::parse2(writer::tokens(p, &written)).map_err(|e| internal("the generated code", e))?;
    let common: syn::File = syn::parse_str(TEMPLATE_COMMON).map_err(|e| internal("templates/common.rs", e))?;
    let (name, text) = if options.no_std { ("templates/no_std.rs", TEMPLATE_NO_STD) } else { ("templates/std.rs", TEMPLATE_STD) };
    let mode: syn::File = syn::parse_str(text).map_err(|e| internal(name, e))?;
    // The runtime module allows dead code itself; it is the largest part, so it is only
    // tokenized, not parsed.
    let runtime = TokenStream::from_str(&writer::runtime_module(options.no_std)).map_err(|e| format!("internal error: the runtime sources do not tokenize: {e}"))?;

    let mut items: Vec<syn::Item> = generated.items.into_iter().chain(common.items).chain(mode.items).collect();
    items.iter_mut().for_each(writer::allow_dead_code);
    let mut items = quote!(#(#items)*);
    if let Some(bytes) = inline {
        let mut found = 0;
        items = put_weights(items, &Literal::byte_string(bytes), &mut found);
        if found != 1 {
            return Err(format!("internal error: the weights placeholder occurs {found} times in the generated code"));
        }
    }
    let tracked = inputs.iter().map(|path| track(path)).collect::<Result<Vec<_>, _>>()?;
    Ok(quote! {
        #(#tracked)*
        #items
        #runtime
    })
}

/// `tokens` with each `include_bytes!(PLACEHOLDER)` replaced by `weights`; counts them in `found`.
fn put_weights(tokens: TokenStream, weights: &Literal, found: &mut usize) -> TokenStream {
    let placeholder = format!("{PLACEHOLDER:?}");
    let tts: Vec<TokenTree> = tokens.into_iter().collect();
    let mut out = Vec::with_capacity(tts.len());
    let mut i = 0;
    while let Some(tt) = tts.get(i) {
        if let [TokenTree::Ident(name), TokenTree::Punct(bang), TokenTree::Group(args), ..] = &tts[i..]
            && name == "include_bytes"
            && bang.as_char() == '!'
            && args.stream().to_string() == placeholder
        {
            out.push(TokenTree::Literal(weights.clone()));
            *found += 1;
            i += 3;
            continue;
        }
        out.push(match tt {
            TokenTree::Group(g) => {
                let mut group = Group::new(g.delimiter(), put_weights(g.stream(), weights, found));
                group.set_span(g.span());
                TokenTree::Group(group)
            }
            other => other.clone(),
        });
        i += 1;
    }
    out.into_iter().collect()
}

/// The files `source` is read from, absolute, for [`generate`]'s `inputs`: the ONNX model
/// and the external-data files its tensors name, or the DSL's safetensors weights. Call it
/// after the source loaded; files that do not exist (any more) are left out.
pub fn inputs(source: &crate::Source) -> Vec<PathBuf> {
    let mut files = Vec::new();
    match source {
        crate::Source::Onnx { path, .. } => {
            files.push(path.clone());
            let dir = path.parent().unwrap_or(Path::new(""));
            files.extend(external_data(path).into_iter().map(|location| dir.join(location)));
        }
        crate::Source::Dsl { weights, .. } => files.extend(weights.iter().cloned()),
    }
    let mut absolute: Vec<PathBuf> = files.iter().filter_map(|f| f.canonicalize().ok()).collect();
    absolute.sort();
    absolute.dedup();
    absolute
}

/// The `location`s of the model's external-data tensors (initializers and node attributes).
fn external_data(model: &Path) -> Vec<String> {
    use protobuf::Message;
    let Some(graph) = std::fs::read(model).ok().and_then(|b| onnx_protobuf::ModelProto::parse_from_bytes(&b).ok()).and_then(|m| m.graph.into_option()) else {
        return Vec::new();
    };
    let attributes = graph.node.iter().flat_map(|n| &n.attribute);
    let tensors = graph.initializer.iter().chain(attributes.clone().filter_map(|a| a.t.as_ref())).chain(attributes.flat_map(|a| &a.tensors));
    tensors.flat_map(|t| &t.external_data).filter(|kv| kv.key == "location").map(|kv| kv.value.clone()).collect()
}

/// `const _: &[u8] = include_bytes!("/abs/path");`: rustc records the file as an input of
/// the crate, so cargo rebuilds (and re-expands the macro) when it changes.
fn track(path: &Path) -> Result<TokenStream, String> {
    let Some(text) = path.to_str().filter(|_| path.is_absolute()) else {
        return Err(format!("internal error: input file '{}' is not an absolute UTF-8 path", path.display()));
    };
    Ok(quote!(const _: &[u8] = include_bytes!(#text);))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::front::dsl::{self, weights::Source, Block, Spec};

    fn program() -> Program {
        let b = Block::new;
        let spec = Spec {
            stages: vec![vec![b(3, 16, 16, 0.0, 1)], vec![b(5, 48, 24, 0.25, 2)]],
            input: [1, 3, 32, 32],
            num_classes: 10,
            ..Spec::with_width(0.5)
        };
        let graph = crate::optimize(dsl::build(&spec, &mut Source::seeded(1)).unwrap()).unwrap();
        super::super::lower::lower(&graph).unwrap()
    }

    /// The items of a file, each printed alone (doc comments print alike whether they came
    /// from `///` text or from `#[doc]` tokens).
    fn item_texts(file: &syn::File) -> Vec<String> {
        let print = |i: &syn::Item| prettyplease::unparse(&syn::File { shebang: None, frontmatter: None, attrs: vec![], items: vec![i.clone()] });
        file.items.iter().map(print).collect()
    }

    /// The tokens hold exactly the items of the text `ghostc` writes (its public items
    /// marked `#[allow(dead_code)]`), after the tracked files.
    #[test]
    fn tokens_are_the_written_module_without_inner_attributes() {
        let p = program();
        for no_std in [false, true] {
            let options = Options { no_std, source: "a test".into(), weights: WeightsSource::File("net.weights.bin".into()), ..Default::default() };
            let text: syn::File = syn::parse_str(&writer::write_string(&p, &options).unwrap()).unwrap();
            let inputs = [PathBuf::from("/models/a.onnx")];
            let tokens: syn::File = syn::parse2(tokens(&p, &options, &inputs).unwrap()).unwrap();
            assert!(tokens.attrs.is_empty(), "inner attributes are not allowed in macro output");
            let mut got = item_texts(&tokens);
            assert_eq!(got.remove(0), "const _: &[u8] = include_bytes!(\"/models/a.onnx\");\n");
            let want = item_texts(&text);
            assert_eq!(got.len(), want.len());
            assert!(want.len() > 20, "{} items", want.len());
            for (g, w) in got.iter().zip(&want) {
                assert_eq!(g, w);
                let public = w.lines().find(|l| !l.starts_with("///") && !l.starts_with("#[")).is_some_and(|l| l.starts_with("pub ") && !l.starts_with("pub use"));
                assert!(!public || w.contains("#[allow(dead_code)]\npub "), "{w}");
            }
        }
    }

    #[test]
    fn weights_are_one_aligned_byte_string() {
        let p = program();
        let options = Options { no_std: false, source: "a test".into(), weights: WeightsSource::File("ignored".into()), ..Default::default() };
        let graph_free = tokens(&p, &Options { weights: WeightsSource::Inline(super::super::weight_bytes(&p)), ..options }, &[]).unwrap();
        let file: syn::File = syn::parse2(graph_free).unwrap();
        let stat = file.items.iter().find_map(|i| match i {
            syn::Item::Static(s) if s.ident == "WEIGHT_BYTES" => Some(s),
            _ => None,
        });
        let expr = stat.expect("a WEIGHT_BYTES static").expr.clone();
        let text = quote!(#expr).to_string();
        assert!(text.starts_with("& Aligned (* b\""), "{}", &text[..text.len().min(60)]);
        assert!(!text.contains("f32"), "weights must not be float literals");
    }

    #[test]
    fn relative_input_paths_are_an_internal_error() {
        let p = program();
        let options = Options { no_std: false, source: "a test".into(), weights: WeightsSource::Inline(vec![]), ..Default::default() };
        let e = tokens(&p, &options, &[PathBuf::from("model.onnx")]).unwrap_err();
        assert!(e.contains("'model.onnx' is not an absolute"), "{e}");
    }

    /// The tracked inputs: the model and every external-data file its tensors name, or the
    /// DSL's weights; absolute, each once.
    #[test]
    fn inputs_are_the_model_its_external_data_and_the_weights() {
        use onnx_protobuf::{GraphProto, ModelProto, StringStringEntryProto, TensorProto};
        use protobuf::Message;
        let dir = std::env::temp_dir().join(format!("ghostnet-embed-inputs-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let tensor = |location: &str| {
            let mut t = TensorProto::new();
            let mut kv = StringStringEntryProto::new();
            kv.key = "location".into();
            kv.value = location.into();
            t.external_data.push(kv);
            t
        };
        let mut graph = GraphProto::new();
        graph.initializer = vec![tensor("a.data"), tensor("b.data"), tensor("a.data")];
        let mut model = ModelProto::new();
        model.graph = Some(graph).into();
        std::fs::write(dir.join("m.onnx"), model.write_to_bytes().unwrap()).unwrap();
        for f in ["a.data", "b.data", "w.safetensors"] {
            std::fs::write(dir.join(f), b"").unwrap();
        }
        let real = dir.canonicalize().unwrap();
        let onnx = crate::Source::Onnx { path: dir.join("m.onnx"), input_shape: None };
        assert_eq!(inputs(&onnx), ["a.data", "b.data", "m.onnx"].map(|f| real.join(f)));
        let dsl = crate::Source::Dsl { spec: Spec::default(), weights: Some(dir.join("w.safetensors")), seed: 0 };
        assert_eq!(inputs(&dsl), [real.join("w.safetensors")]);
        let seeded = crate::Source::Dsl { spec: Spec::default(), weights: None, seed: 0 };
        assert!(inputs(&seeded).is_empty());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
