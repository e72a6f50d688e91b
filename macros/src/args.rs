//! The macro's arguments: parsed with their tokens kept, then checked into a [`Request`].
//!
//! ```text
//! ghostnet!(onnx = "PATH" [, input = [N, C, H, W]] [, outputs = ["NAME", ...]] [, PRECISION] [, no_std])
//! ghostnet!(alpha = F [, weights = "PATH" | seed = INT] [, version = 1 | 2] [, input = [N, C, H, W]]
//!           [, classes = INT] [, in_chans = INT] [, stages = TABLE] [, features [= BOOL]]
//!           [, outputs = ["NAME", ...]] [, PRECISION] [, no_std [= BOOL]])
//! PRECISION: precision = "f32" | "bf16", or
//!            precision = "int8", calibrate = "PATH" [, int8_budget = DB] [, keep_float = ["LAYER", ...]]
//! ```
//! `TABLE` is timm's `cfgs`, as a string (`"[[[3, 16, 16, 0, 1]], ...]"`, the text `ghostc
//! --stages` takes) or as a nested array (`[[[3, 16, 16, 0, 1]], ...]`). Paths are relative
//! to the crate's `CARGO_MANIFEST_DIR`.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use ghostnet_compiler::front::dsl::options::{self, Opt, Options};
use ghostnet_compiler::front::dsl::{self, Block};
use ghostnet_compiler::ir::Precision;
use ghostnet_compiler::{quantize, Source};
use proc_macro2::{Span, TokenStream};
use quote::ToTokens;
use syn::parse::{Parse, ParseStream};
use syn::punctuated::Punctuated;
use syn::{Expr, ExprLit, Ident, Lit, Token, UnOp};

const OPTIONS: &str =
    "alpha, weights, onnx, input, classes, in_chans, seed, stages, version, features, outputs, precision, calibrate, int8_budget, keep_float, no_std";

/// The macro's name of each model option, as its messages say it: the key in backticks.
fn name(o: Opt) -> &'static str {
    match o {
        Opt::Onnx => "`onnx`",
        Opt::Alpha => "`alpha`",
        Opt::Weights => "`weights`",
        Opt::Version => "`version`",
        Opt::Classes => "`classes`",
        Opt::InChans => "`in_chans`",
        Opt::Seed => "`seed`",
        Opt::Stages => "`stages`",
        Opt::Input => "`input`",
        Opt::Features => "`features`",
        Opt::Outputs => "`outputs`",
    }
}

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
    /// Tensors to make the outputs (empty: the model's).
    pub outputs: Vec<String>,
    pub no_std: bool,
    pub precision: Option<Precision>,
    pub int8: quantize::Settings,
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

/// The options as given, parsed from their tokens.
#[derive(Default)]
struct Given {
    options: Options,
    no_std: bool,
    precision: Option<Precision>,
    int8: quantize::Settings,
}

impl Given {
    /// Parses and records option `name`.
    fn set(&mut self, name: &str, value: &Expr, manifest_dir: Option<&Path>) -> syn::Result<()> {
        let o = &mut self.options;
        match name {
            "alpha" => o.alpha = Some(number(value, "alpha expects a number, like `alpha = 1.3`")? as f32),
            "weights" => o.weights = Some(path(value, manifest_dir, "weights = \"ghostnet_130.safetensors\"")?),
            "onnx" => o.onnx = Some(path(value, manifest_dir, "onnx = \"models/net.onnx\"")?),
            "input" => o.input = Some(shape(value)?),
            "classes" => o.classes = Some(positive(value, "classes expects a positive integer, like `classes = 10`")?),
            "in_chans" => o.in_chans = Some(positive(value, "in_chans expects a positive integer, like `in_chans = 1`")?),
            "seed" => o.seed = Some(integer(value, "seed expects a non-negative integer, like `seed = 7`")?),
            "stages" => o.stages = Some(stage_table(value)?),
            "version" => o.version = Some(integer(value, "version expects 1 or 2, like `version = 2`")?),
            "precision" => self.precision = Some(precision(value)?),
            "calibrate" => self.int8.calibrate = Some(path(value, manifest_dir, "calibrate = \"calib/inputs.bin\"")?),
            "int8_budget" => self.int8.budget_db = Some(number(value, "int8_budget expects a number of dB, like `int8_budget = 35.0`")? as f32),
            "keep_float" => self.int8.keep_float = strings(value, "keep_float expects a list of layer names, like `keep_float = [\"classifier\"]`")?,
            "no_std" => self.no_std = boolean(value, "no_std")?,
            "features" => o.features = Some(boolean(value, "features")?),
            "outputs" => o.outputs = Some(names(value)?),
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

    /// Checks every argument, resolving paths against `manifest_dir`; all problems at once,
    /// in the order of the options they are about.
    pub fn request(&self, manifest_dir: Option<&Path>) -> Result<Request, syn::Error> {
        // One slot per option as written, and a last one for problems about none.
        let mut errors: Vec<Errors> = std::iter::repeat_with(Errors::default).take(self.0.len() + 1).collect();
        let mut seen = HashSet::new();
        let mut given = Given::default();
        for (arg, slot) in self.0.iter().zip(&mut errors) {
            let name = arg.key.to_string();
            if !OPTIONS.split(", ").any(|o| o == name) {
                slot.at(&arg.key, format!("unknown option `{name}`; expected one of {OPTIONS}"));
            } else if !seen.insert(name.clone()) {
                slot.at(&arg.key, format!("duplicate option `{name}`"));
            } else if let Some((_, value)) = &arg.value {
                if let Err(e) = given.set(&name, value, manifest_dir) {
                    slot.push(e);
                }
            } else if name == "no_std" {
                given.no_std = true;
            } else if name == "features" {
                given.options.features = Some(true);
            } else {
                slot.at(&arg.key, format!("option `{name}` needs a value: `{name} = ...`"));
            }
        }
        let request = self.check(given, &mut errors);
        let all = errors.into_iter().filter_map(|e| e.0).reduce(|mut all, e| {
            all.combine(e);
            all
        });
        match (all, request) {
            (Some(e), _) => Err(e),
            (None, Some(r)) => Ok(r),
            (None, None) => Err(syn::Error::new(Span::call_site(), "internal error: no request and no error")),
        }
    }

    /// The rules between options (the compiler's, shared with `ghostc`), their problems put
    /// in the slot of the option they are about; `None` when there is nothing to compile.
    fn check(&self, mut g: Given, errors: &mut [Errors]) -> Option<Request> {
        if g.options.onnx.is_none() && self.value("onnx").is_some() {
            // The path's own error is reported; the other options are still checked as for a model.
            g.options.onnx = Some(PathBuf::new());
        }
        let outputs = g.options.outputs.clone().unwrap_or_default();
        let source = match g.options.source(name) {
            Ok(source) => source,
            Err(options::Error::NoModel) => {
                if errors.iter().all(|e| e.0.is_none())
                    && let Some(none) = errors.last_mut()
                {
                    none.push(syn::Error::new(
                        Span::call_site(),
                        "give a model: `onnx = \"models/net.onnx\"`, or a GhostNet by its width, like `alpha = 1.0`",
                    ));
                }
                return None;
            }
            Err(options::Error::Problems(problems)) => {
                for p in problems {
                    let at = p.opt.and_then(|o| self.0.iter().position(|a| a.key == name(o).trim_matches('`')));
                    let tokens = at.map_or_else(|| self.0.to_token_stream(), |i| self.0[i].to_token_stream());
                    if let Some(slot) = errors.get_mut(at.unwrap_or(self.0.len())) {
                        slot.at(tokens, p.message);
                    }
                }
                return None;
            }
        };
        let file = match &source {
            Source::Onnx { .. } => self.value("onnx"),
            Source::Dsl { weights: Some(_), .. } => self.value("weights"),
            Source::Dsl { .. } => None,
        };
        let span = file.map_or_else(|| self.0.to_token_stream(), ToTokens::to_token_stream);
        let int8_only = ["calibrate", "int8_budget", "keep_float"];
        if g.precision != Some(Precision::Int8) {
            for (slot, arg) in errors.iter_mut().zip(&self.0) {
                if int8_only.iter().any(|o| arg.key == o) {
                    slot.at(&arg.key, format!("`{}` applies to `precision = \"int8\"` only", arg.key));
                }
            }
        } else if g.int8.calibrate.is_none() && self.value("calibrate").is_none()
            && let Some(at) = self.0.iter().position(|a| a.key == "precision")
        {
            errors[at].at(&self.0[at], "int8 needs calibration inputs: add `calibrate = \"PATH\"`, a file of raw f32 network inputs back to back");
        }
        Some(Request { described: options::describe(&source), source, outputs, no_std: g.no_std, precision: g.precision, int8: g.int8, span })
    }

    /// The value of option `key`, the first time it is given.
    fn value(&self, key: &str) -> Option<&Expr> {
        self.0.iter().find(|a| a.key == key).and_then(|a| a.value.as_ref()).map(|(_, v)| v)
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

/// `true` or `false`, for option `key` (which may also be written alone).
fn boolean(value: &Expr, key: &str) -> syn::Result<bool> {
    match value {
        Expr::Lit(ExprLit { lit: Lit::Bool(b), .. }) => Ok(b.value),
        _ => Err(syn::Error::new_spanned(value, format!("{key} expects `true` or `false` (or write `{key}` alone)"))),
    }
}

/// A list of names: `["features.0", "flatten"]`.
fn names(value: &Expr) -> syn::Result<Vec<String>> {
    let wrong = "outputs expects a list of tensor or layer names, like `outputs = [\"flatten\", \"classifier\"]`";
    let Expr::Array(array) = value else {
        return Err(syn::Error::new_spanned(value, wrong));
    };
    let mut out = Vec::new();
    let mut errors = Errors::default();
    for e in &array.elems {
        match literal(e) {
            Some((Lit::Str(s), false)) if !s.value().is_empty() => out.push(s.value()),
            _ => errors.at(e, "an output is a non-empty string naming a tensor or a layer"),
        }
    }
    errors.0.map_or(Ok(out), Err)
}

/// A float or integer literal, possibly negative; `wrong` is the message for anything else.
fn number(value: &Expr, wrong: &str) -> syn::Result<f64> {
    let wrong = || syn::Error::new_spanned(value, wrong);
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

/// A list of positive integers, `[N, C, H, W]` (how many is a rule between options).
fn shape(value: &Expr) -> syn::Result<Vec<usize>> {
    let Expr::Array(array) = value else {
        return Err(syn::Error::new_spanned(value, "input expects an NCHW shape, like `input = [1, 3, 224, 224]`"));
    };
    let mut dims = Vec::new();
    let mut errors = Errors::default();
    for e in &array.elems {
        match positive(e, "a dimension must be a positive integer") {
            Ok(v) => dims.push(v),
            Err(err) => errors.push(err),
        }
    }
    errors.0.map_or(Ok(dims), Err)
}

/// A list of string literals.
fn strings(value: &Expr, wrong: &str) -> syn::Result<Vec<String>> {
    let Expr::Array(array) = value else { return Err(syn::Error::new_spanned(value, wrong)) };
    array
        .elems
        .iter()
        .map(|e| match literal(e) {
            Some((Lit::Str(s), false)) => Ok(s.value()),
            _ => Err(syn::Error::new_spanned(e, wrong)),
        })
        .collect()
}

/// A precision name: `"f32"`, `"bf16"` or `"int8"`.
fn precision(value: &Expr) -> syn::Result<Precision> {
    let names: Vec<String> = Precision::ALL.iter().map(|p| format!("\"{p}\"")).collect();
    let wrong = |what: &str| format!("{what}; precision is one of {}, like `precision = \"bf16\"`", names.join(", "));
    match literal(value) {
        Some((Lit::Str(lit), false)) => {
            Precision::from_name(&lit.value()).ok_or_else(|| syn::Error::new_spanned(lit, wrong(&format!("unknown precision \"{}\"", lit.value()))))
        }
        _ => Err(syn::Error::new_spanned(value, wrong("expected a string"))),
    }
}

/// A path string, resolved against `manifest_dir`, naming an existing file.
fn path(value: &Expr, manifest_dir: Option<&Path>, example: &str) -> syn::Result<PathBuf> {
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
        Ok(m) if m.is_file() => Ok(full),
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
