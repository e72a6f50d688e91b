//! `ghostnet!`: a GhostNet compiled into the calling crate.
//!
//! ```rust,ignore
//! mod net { ghostnet_macros::ghostnet!(alpha = 1.3, weights = "weights/ghostnet_130.safetensors"); }
//! mod digits { ghostnet_macros::ghostnet!(onnx = "models/digits.onnx"); }
//! mod synth { ghostnet_macros::ghostnet!(alpha = 0.75, input = [1, 3, 160, 160], classes = 100, seed = 7); }
//! ```
//! Each expands to the items of a `ghostc`-generated module (`INPUT_SHAPE`, `INPUT_LEN`,
//! `OUTPUT_SHAPE`, `OUTPUT_LEN`, `ARENA_LEN`, `Net`, `Isa`, ...), kernels included, so the
//! crate needs no other dependency. The options are in [`ghostnet!`]'s documentation.
//!
//! A runnable example, with seeded weights:
//! ```
//! mod tiny {
//!     ghostnet_macros::ghostnet!(alpha = 0.25, input = [1, 3, 32, 32], classes = 10, seed = 1);
//! }
//!
//! let mut net = tiny::Net::new();
//! let mut logits = [0f32; tiny::OUTPUT_LEN];
//! net.forward(&[0.5; tiny::INPUT_LEN], &mut logits);
//! assert_eq!(tiny::INPUT_SHAPE, [1, 3, 32, 32]);
//! assert!(logits.iter().all(|v| v.is_finite()));
//! ```
//!
//! This crate is a thin shim: it parses the arguments (`args.rs`) and calls
//! `ghostnet_compiler::compile_tokens`, the same pipeline as `ghostc`.

mod args;
mod fallback;

use proc_macro::TokenStream;

/// Compiles a GhostNet into the surrounding module.
///
/// An ONNX model, or a GhostNet from its width multiplier (timm's `GhostNet`):
/// ```text
/// ghostnet!(onnx = "PATH" [, input = [N, C, H, W]] [, outputs = ["NAME", ...]] [, PRECISION] [, no_std])
/// ghostnet!(alpha = F [, weights = "PATH" | seed = INT] [, version = 1 | 2] [, input = [N, C, H, W]]
///           [, classes = INT] [, in_chans = INT] [, stages = TABLE] [, features [= BOOL]]
///           [, outputs = ["NAME", ...]] [, PRECISION] [, no_std [= BOOL]])
/// PRECISION: precision = "f32" | "bf16", or
///            precision = "int8", calibrate = "PATH" [, int8_budget = DB] [, keep_float = ["LAYER", ...]]
/// ```
/// - `onnx`: a model exported from PyTorch (either exporter); `input` fixes its dynamic
///   dimensions (batch defaults to 1).
/// - `alpha`: width multiplier, any positive number (default 1.0 when other DSL options
///   are given); `version`: 1 (GhostNet, default) or 2 (GhostNetV2); `input`: NCHW input
///   shape (default `[1, 3, 224, 224]`); `classes` (default 1000); `in_chans` (default 3);
///   `stages`: timm's `cfgs`, `[[[k, exp, c, se_ratio, s], ...], ...]`, as a nested array or
///   as that text in a string (what `ghostc --stages` takes).
/// - `weights`: a timm `state_dict` as safetensors; without it the weights are seeded
///   pseudo-random from `seed` (default 0), for benchmarks and tests.
/// - `precision`: of the matrix products, `"f32"` (default), `"bf16"` (weights rounded
///   to bfloat16 and stored in half the bytes; activations and sums stay `f32`) or `"int8"`
///   (8-bit inputs and weights, exact integer sums), which needs `calibrate`: raw `f32`
///   network inputs back to back; layers go back to float until the outputs' SQNR against
///   `f32` on them is at least `int8_budget` dB (default 35); `keep_float` names layers to
///   keep float.
/// - `features`: timm's `features_only` backbone, the stem and every stride-2 stage as the
///   outputs; `outputs`: tensors to make the outputs instead of the model's, ONNX tensor
///   names or layer names as `ghostc inspect` lists them (e.g. `outputs = ["flatten"]`, the
///   pooled features). Several outputs are written back to back into `forward`'s output
///   array; `net::OUTPUTS` says where each is, and `net::output_<name>` returns one.
/// - `no_std`: emit the `#![no_std]` form, where `Net::new(&mut arena)` takes a `net::Arena`.
///
/// Paths are relative to the crate's `CARGO_MANIFEST_DIR`; the crate is rebuilt when a
/// file changes. The packed weights are embedded as one 64-byte-aligned byte string.
/// Invalid options are compile errors on their tokens, all listed at once.
#[proc_macro]
pub fn ghostnet(input: TokenStream) -> TokenStream {
    let args = match syn::parse::<args::Args>(input) {
        Ok(args) => args,
        Err(e) => return failed(e, false),
    };
    match expand(&args) {
        Ok(tokens) => tokens.into(),
        Err(e) => failed(e, args.no_std()),
    }
}

fn expand(args: &args::Args) -> syn::Result<proc_macro2::TokenStream> {
    use ghostnet_compiler::back::rust::{Options, WeightsSource};
    let manifest_dir = std::env::var_os("CARGO_MANIFEST_DIR").map(std::path::PathBuf::from);
    let request = args.request(manifest_dir.as_deref())?;
    let options = Options { no_std: request.no_std, source: request.described, weights: WeightsSource::Inline(Vec::new()), precision: request.precision, int8: request.int8 };
    let limits = ghostnet_compiler::Limits::default();
    // The compiler returns errors rather than panicking; a panic would be a bug, reported
    // like an error rather than as rustc's "proc macro panicked".
    let compiled = std::panic::catch_unwind(|| ghostnet_compiler::compile_tokens_with(&request.source, &limits, &request.outputs, &options));
    match compiled {
        Ok(Ok(embedded)) => Ok(embedded.tokens),
        Ok(Err(e)) => {
            // Name files as the caller wrote them, relative to the manifest directory.
            let mut message = e.to_string();
            if let Some(dir) = manifest_dir.as_deref().and_then(|d| d.to_str()) {
                message = message.replace(&format!("{}/", dir.trim_end_matches('/')), "");
            }
            Err(syn::Error::new_spanned(&request.span, shorten(&message)))
        }
        Err(panic) => {
            let message = panic.downcast_ref::<&str>().map(|s| s.to_string()).or_else(|| panic.downcast_ref::<String>().cloned());
            let message = message.unwrap_or_else(|| "no message".into());
            Err(syn::Error::new_spanned(&request.span, format!("internal error in ghostnet-compiler (a bug; please report it): {message}")))
        }
    }
}

/// `message` cut to its first lines: a weights file for another network misses hundreds
/// of tensors, and a compile error is no place to list them all.
fn shorten(message: &str) -> String {
    const LINES: usize = 12;
    let lines: Vec<&str> = message.lines().collect();
    if lines.len() <= LINES {
        return message.to_string();
    }
    format!("{}\n  ... and {} more", lines[..LINES].join("\n"), lines.len() - LINES)
}

/// The error, next to stubs of the module's items.
fn failed(e: syn::Error, no_std: bool) -> TokenStream {
    let mut out = e.into_compile_error();
    out.extend(fallback::stub(no_std));
    out.into()
}
