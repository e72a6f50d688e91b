//! The macro's arguments: parsed with their tokens kept, then checked into a [`Request`].
//!
//! ```text
//! ghostnet!(onnx = "PATH" [, input = [N, C, H, W]] [, no_std])
//! ghostnet!(alpha = F [, weights = "PATH" | seed = INT] [, version = 1 | 2] [, input = [N, C, H, W]]
//!           [, classes = INT] [, in_chans = INT] [, stages = TABLE] [, no_std [= BOOL]])
//! ```
//! `TABLE` is timm's `cfgs`, as a string (`"[[[3, 16, 16, 0, 1]], ...]"`, the text `ghostc
//! --stages` takes) or as a nested array (`[[[3, 16, 16, 0, 1]], ...]`). Paths are relative
//! to the crate's `CARGO_MANIFEST_DIR`.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use ghostnet_compiler::front::dsl::{self, Block, Spec, Version};
use ghostnet_compiler::Source;
use proc_macro2::{Span, TokenStream};
use quote::ToTokens;
use syn::parse::{Parse, ParseStream};
use syn::punctuated::Punctuated;
use syn::{Expr, ExprLit, Ident, Lit, LitStr, Token, UnOp};

const OPTIONS: &str = "alpha, weights, onnx, input, classes, in_chans, seed, stages, version, no_std";
/// Options that describe a DSL network (everything but `onnx`, `input` and `no_std`).
const DSL_ONLY: &[&str] = &["alpha", "weights", "classes", "in_chans", "seed", "stages", "version"];

/// `key = value` or a bare `key`.
pub struct Arg {
    pub key: Ident,
    pub value: Option<(Token![=], Expr)>,
}

/// The comma-separated arguments, as written.
pub struct Args(pub Punctuated<Arg, Token![,]>);

impl Parse for Arg {
    fn parse(input: ParseStream) -> syn::Result<Self> {
        let key: Ident = input.parse()?;
        let value = if input.peek(Token![=]) { Some((input.parse()?, input.parse()?)) } else { None };
        Ok(Arg { key, value })
    }
}

impl ToTokens for Arg {
    fn to_tokens(&self, tokens: &mut TokenStream) {
        self.key.to_tokens(tokens);
        if let Some((eq, value)) = &self.value {
            eq.to_tokens(tokens);
            value.to_tokens(tokens);
        }
    }
}

impl Parse for Args {
    fn parse(input: ParseStream) -> syn::Result<Self> {
        Ok(Args(Punctuated::parse_terminated(input)?))
    }
}

/// What to compile, checked.
pub struct Request {
    pub source: Source,
    pub no_std: bool,
    /// What the network is compiled from, in words.
    pub described: String,
    /// Where errors of the compiler point: the file's literal, else the whole call.
    pub span: TokenStream,
}

/// Collects errors and combines them into one (serde's `Ctxt`).
#[derive(Default)]
struct Errors(Option<syn::Error>);

impl Errors {
    fn at(&mut self, tokens: impl ToTokens, message: impl std::fmt::Display) {
        self.push(syn::Error::new_spanned(tokens, message));
    }
    fn push(&mut self, e: syn::Error) {
        match &mut self.0 {
            Some(all) => all.combine(e),
            None => self.0 = Some(e),
        }
    }
}

/// The options as given, each with its tokens.
#[derive(Default)]
struct Given<'a> {
    alpha: Option<f32>,
    weights: Option<(PathBuf, &'a LitStr)>,
    onnx: Option<(PathBuf, &'a LitStr)>,
    input: Option<[usize; 4]>,
    classes: Option<usize>,
    in_chans: Option<(usize, &'a Expr)>,
    seed: Option<(u64, &'a Expr)>,
    stages: Option<(Vec<Vec<Block>>, &'a Expr)>,
    version: Option<Version>,
    no_std: bool,
}

impl<'a> Given<'a> {
    /// Checks and records option `name`.
    fn set(&mut self, name: &str, value: &'a Expr, manifest_dir: Option<&Path>) -> syn::Result<()> {
        match name {
            "alpha" => {
                let v = number(value)?;
                if !(v > 0.0 && (v as f32) > 0.0) {
                    return Err(syn::Error::new_spanned(value, format!("alpha must be a positive width multiplier, got {v}")));
                }
                if !(v as f32).is_finite() {
                    return Err(syn::Error::new_spanned(value, "alpha is too large for an f32"));
                }
                self.alpha = Some(v as f32);
            }
            "weights" => self.weights = Some(path(value, manifest_dir, "weights = \"ghostnet_130.safetensors\"")?),
            "onnx" => self.onnx = Some(path(value, manifest_dir, "onnx = \"models/net.onnx\"")?),
            "input" => self.input = Some(shape(value)?),
            "classes" => self.classes = Some(positive(value, "classes expects a positive integer, like `classes = 10`")?),
            "in_chans" => self.in_chans = Some((positive(value, "in_chans expects a positive integer, like `in_chans = 1`")?, value)),
            "seed" => self.seed = Some((integer(value, "seed expects a non-negative integer, like `seed = 7`")?, value)),
            "stages" => self.stages = Some((stage_table(value)?, value)),
            "version" => {
                self.version = Some(match integer::<u64>(value, "version expects 1 or 2, like `version = 2`")? {
                    1 => Version::V1,
                    2 => Version::V2,
                    v => return Err(syn::Error::new_spanned(value, format!("version must be 1 (GhostNet) or 2 (GhostNetV2), got {v}"))),
                })
            }
            "no_std" => match value {
                Expr::Lit(ExprLit { lit: Lit::Bool(b), .. }) => self.no_std = b.value,
                _ => return Err(syn::Error::new_spanned(value, "no_std expects `true` or `false` (or write `no_std` alone)")),
            },
            other => return Err(syn::Error::new_spanned(value, format!("internal error: option `{other}` has no handler"))),
        }
        Ok(())
    }
}

impl Args {
    /// Whether `no_std` is given (and not `= false`), for the fallback stub.
    pub fn no_std(&self) -> bool {
        self.0.iter().any(|a| match &a.value {
            None => a.key == "no_std",
            Some((_, Expr::Lit(ExprLit { lit: Lit::Bool(b), .. }))) => a.key == "no_std" && b.value,
            Some(_) => false,
        })
    }

    /// Checks every argument, resolving paths against `manifest_dir`; all problems at once.
    pub fn request(&self, manifest_dir: Option<&Path>) -> Result<Request, syn::Error> {
        let mut errors = Errors::default();
        let mut seen = HashSet::new();
        let mut given = Given::default();
        for arg in &self.0 {
            let name = arg.key.to_string();
            if !OPTIONS.split(", ").any(|o| o == name) {
                errors.at(&arg.key, format!("unknown option `{name}`; expected one of {OPTIONS}"));
            } else if !seen.insert(name.clone()) {
                errors.at(&arg.key, format!("duplicate option `{name}`"));
            } else if let Some((_, value)) = &arg.value {
                if let Err(e) = given.set(&name, value, manifest_dir) {
                    errors.push(e);
                }
            } else if name == "no_std" {
                given.no_std = true;
            } else {
                errors.at(&arg.key, format!("option `{name}` needs a value: `{name} = ...`"));
            }
        }
        let request = self.check(given, &mut errors);
        match (errors.0, request) {
            (Some(e), _) => Err(e),
            (None, Some(r)) => Ok(r),
            (None, None) => Err(syn::Error::new(Span::call_site(), "internal error: no request and no error")),
        }
    }

    /// The rules between options; `None` when there is nothing to compile.
    fn check(&self, g: Given<'_>, errors: &mut Errors) -> Option<Request> {
        let dsl_keys: Vec<&Ident> = self.0.iter().map(|a| &a.key).filter(|k| DSL_ONLY.iter().any(|d| *k == d)).collect();
        if self.0.iter().any(|a| a.key == "onnx") {
            for key in &dsl_keys {
                errors.at(key, format!("`{key}` describes a DSL network and cannot be combined with `onnx`"));
            }
            let (path, lit) = g.onnx?;
            let described = format!("`{}`", path.file_name().unwrap_or_default().to_string_lossy());
            let source = Source::Onnx { path, input_shape: g.input.map(|s| s.to_vec()) };
            return Some(Request { source, no_std: g.no_std, described, span: lit.to_token_stream() });
        }
        if dsl_keys.is_empty() {
            if errors.0.is_none() {
                errors.push(syn::Error::new(
                    Span::call_site(),
                    "give a model: `onnx = \"models/net.onnx\"`, or a GhostNet by its width, like `alpha = 1.0`",
                ));
            }
            return None;
        }
        let mut spec = Spec::with_width(g.alpha.unwrap_or(1.0));
        spec.version = g.version.unwrap_or(Version::V1);
        spec.num_classes = g.classes.unwrap_or(spec.num_classes);
        spec.input = g.input.unwrap_or(spec.input);
        if let Some((c, tokens)) = g.in_chans {
            match g.input {
                Some(s) if s[1] != c => errors.at(tokens, format!("in_chans = {c} disagrees with the input shape's {} channels", s[1])),
                _ => spec.input[1] = c,
            }
        }
        if let Some((table, _)) = &g.stages {
            spec.stages = table.clone();
        }
        if let (Some((_, tokens)), Some(_)) = (g.seed, &g.weights) {
            errors.at(tokens, "`seed` only applies to seeded weights; it cannot be combined with `weights`");
        }
        // The other options are checked one by one above; what is left is the stage table's.
        if let Err(dsl::Error::Spec(problems)) = spec.check() {
            let at = g.stages.as_ref().map_or_else(|| self.0.to_token_stream(), |(_, t)| t.to_token_stream());
            for p in problems {
                errors.at(&at, p);
            }
        }
        let seed = g.seed.map_or(0, |s| s.0);
        let described = match &g.weights {
            Some((w, _)) => format!("the GhostNet DSL ({}) with weights `{}`", spec.name(), w.file_name().unwrap_or_default().to_string_lossy()),
            None => format!("the GhostNet DSL ({}) with weights seeded by {seed}", spec.name()),
        };
        let span = g.weights.as_ref().map_or_else(|| self.0.to_token_stream(), |(_, lit)| lit.to_token_stream());
        let source = Source::Dsl { spec, weights: g.weights.map(|(p, _)| p), seed };
        Some(Request { source, no_std: g.no_std, described, span })
    }
}

/// A literal inside an optional leading `-`, and whether it was negated.
fn literal(value: &Expr) -> Option<(&Lit, bool)> {
    match value {
        Expr::Lit(ExprLit { lit, .. }) => Some((lit, false)),
        Expr::Unary(u) if matches!(u.op, UnOp::Neg(_)) => match &*u.expr {
            Expr::Lit(ExprLit { lit, .. }) => Some((lit, true)),
            _ => None,
        },
        Expr::Group(g) => literal(&g.expr),
        _ => None,
    }
}

/// A float or integer literal, possibly negative.
fn number(value: &Expr) -> syn::Result<f64> {
    let wrong = || syn::Error::new_spanned(value, "alpha expects a number, like `alpha = 1.3`");
    let (v, negated) = match literal(value).ok_or_else(wrong)? {
        (Lit::Float(f), n) => (f.base10_parse::<f64>()?, n),
        (Lit::Int(i), n) => (i.base10_parse::<f64>()?, n),
        _ => return Err(wrong()),
    };
    Ok(if negated { -v } else { v })
}

/// A non-negative integer literal of type `T`; `wrong` is the message for anything else.
fn integer<T>(value: &Expr, wrong: &str) -> syn::Result<T>
where
    T: std::str::FromStr,
    T::Err: std::fmt::Display,
{
    match literal(value) {
        Some((Lit::Int(i), false)) => i.base10_parse(),
        _ => Err(syn::Error::new_spanned(value, wrong)),
    }
}

/// An integer literal of at least 1; `wrong` is the message for anything else.
fn positive(value: &Expr, wrong: &str) -> syn::Result<usize> {
    match integer::<usize>(value, wrong)? {
        0 => Err(syn::Error::new_spanned(value, wrong)),
        v => Ok(v),
    }
}

/// `[N, C, H, W]` of positive integers.
fn shape(value: &Expr) -> syn::Result<[usize; 4]> {
    let wrong = || syn::Error::new_spanned(value, "input expects an NCHW shape, like `input = [1, 3, 224, 224]`");
    let Expr::Array(array) = value else { return Err(wrong()) };
    if array.elems.len() != 4 {
        return Err(syn::Error::new_spanned(value, format!("input expects 4 dimensions (NCHW), got {}", array.elems.len())));
    }
    let mut dims = [0; 4];
    let mut errors = Errors::default();
    for (d, e) in dims.iter_mut().zip(&array.elems) {
        match positive(e, "a dimension must be a positive integer") {
            Ok(v) => *d = v,
            Err(err) => errors.push(err),
        }
    }
    errors.0.map_or(Ok(dims), Err)
}

/// A path string, resolved against `manifest_dir`, naming an existing file.
fn path<'a>(value: &'a Expr, manifest_dir: Option<&Path>, example: &str) -> syn::Result<(PathBuf, &'a LitStr)> {
    let Some((Lit::Str(lit), false)) = literal(value) else {
        return Err(syn::Error::new_spanned(value, format!("expected a path string, like `{example}`")));
    };
    let raw = lit.value();
    let given = Path::new(&raw);
    if raw.is_empty() {
        return Err(syn::Error::new_spanned(lit, "the path is empty"));
    }
    if given.is_absolute() {
        return Err(syn::Error::new_spanned(lit, "absolute paths only work on this machine; give a path relative to the crate's Cargo.toml"));
    }
    let Some(dir) = manifest_dir else {
        return Err(syn::Error::new_spanned(lit, "CARGO_MANIFEST_DIR is not set, so the path cannot be resolved (build with cargo)"));
    };
    let full = dir.join(given);
    match std::fs::metadata(&full) {
        Ok(m) if m.is_file() => Ok((full, lit)),
        Ok(_) => Err(syn::Error::new_spanned(lit, format!("'{raw}' is not a file"))),
        Err(e) => Err(syn::Error::new_spanned(lit, format!("cannot read '{raw}' (relative to the crate's Cargo.toml): {e}"))),
    }
}

/// A stage table: the text `ghostc --stages` takes, or a nested array of `[k, exp, c, se_ratio, s]` rows.
fn stage_table(value: &Expr) -> syn::Result<Vec<Vec<Block>>> {
    if let Some((Lit::Str(lit), false)) = literal(value) {
        return dsl::parse_stages(&lit.value()).map_err(|e| syn::Error::new_spanned(lit, e));
    }
    let list = |e: &'_ Expr, what: &str| -> syn::Result<Vec<Expr>> {
        match e {
            Expr::Array(a) => Ok(a.elems.iter().cloned().collect()),
            _ => Err(syn::Error::new_spanned(e, format!("expected {what}; a stage table is `[[[k, exp, c, se_ratio, s], ...], ...]` or that text as a string"))),
        }
    };
    let mut errors = Errors::default();
    let mut table = Vec::new();
    for stage in list(value, "a list of stages")? {
        let mut blocks = Vec::new();
        match list(&stage, "a stage, a list of blocks") {
            Ok(rows) if rows.iter().any(|r| !matches!(r, Expr::Array(_))) => {
                errors.at(&stage, "a stage is a list of blocks, `[[k, exp, c, se_ratio, s], ...]`");
            }
            Ok(rows) => {
                for row in rows {
                    match block(&row, &list) {
                        Ok(b) => blocks.push(b),
                        Err(e) => errors.push(e),
                    }
                }
            }
            Err(e) => errors.push(e),
        }
        table.push(blocks);
    }
    errors.0.map_or(Ok(table), Err)
}

/// One `[k, exp, c, se_ratio, s]` row.
fn block(row: &Expr, list: &dyn Fn(&Expr, &str) -> syn::Result<Vec<Expr>>) -> syn::Result<Block> {
    let v = list(row, "a block `[k, exp, c, se_ratio, s]`")?;
    if v.len() != 5 {
        return Err(syn::Error::new_spanned(row, format!("a block is `[k, exp, c, se_ratio, s]`, got {} values", v.len())));
    }
    let int = |e: &Expr, name: &str| integer::<usize>(e, &format!("{name} must be a non-negative integer"));
    let se = match literal(&v[3]) {
        Some((Lit::Float(f), false)) => f.base10_parse::<f32>()?,
        Some((Lit::Int(i), false)) => i.base10_parse::<f32>()?,
        _ => return Err(syn::Error::new_spanned(&v[3], "se_ratio must be a number in [0, 1)")),
    };
    Ok(Block::new(int(&v[0], "k")?, int(&v[1], "exp")?, int(&v[2], "c")?, se, int(&v[4], "s")?))
}
