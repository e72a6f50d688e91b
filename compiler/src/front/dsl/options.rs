//! The model options both front ends take (`ghostc`'s flags, the `ghostnet!` macro's
//! arguments) and the one set of rules between them: [`Options::source`] turns them into a
//! [`Source`], or lists every problem with the option it is about.

use std::path::PathBuf;

use super::{Block, Spec, Version};
use crate::Source;

/// A model option. Each front end names them its own way (`--in-chans`, `` `in_chans` ``).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Opt {
    Onnx,
    Alpha,
    Weights,
    Version,
    Classes,
    InChans,
    Seed,
    Stages,
    Input,
    Features,
    Outputs,
}

impl Opt {
    /// The options that describe a DSL network, in the order their problems are listed.
    pub const DSL: [Opt; 8] = [Opt::Alpha, Opt::Weights, Opt::Version, Opt::Classes, Opt::InChans, Opt::Seed, Opt::Stages, Opt::Features];
}

/// The model options as given (`None`: not given), each value already parsed.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Options {
    /// An ONNX model file; excludes every DSL option.
    pub onnx: Option<PathBuf>,
    /// Width multiplier (default 1.0).
    pub alpha: Option<f32>,
    /// GhostNet version, 1 or 2 (default 1).
    pub version: Option<u64>,
    /// Number of classes (default 1000).
    pub classes: Option<usize>,
    /// Input channels (default 3, or the C of `input`).
    pub in_chans: Option<usize>,
    /// NCHW input shape (default 1x3x224x224); for an ONNX model it fixes dynamic dimensions.
    pub input: Option<Vec<usize>>,
    /// Stage table (default GhostNet's).
    pub stages: Option<Vec<Vec<Block>>>,
    /// A timm `state_dict` as safetensors; without it the weights are seeded.
    pub weights: Option<PathBuf>,
    /// Seed of the pseudo-random weights (default 0).
    pub seed: Option<u64>,
    /// timm's `features_only` backbone (see [`Spec::features`]).
    pub features: Option<bool>,
    /// Tensors to make the outputs instead of the model's (see
    /// [`crate::Source::load_with`]); the caller passes them on, the rules are here.
    pub outputs: Option<Vec<String>>,
}

/// One problem with the options; `opt` is the option it is about, if it is about one.
#[derive(Clone, Debug, PartialEq)]
pub struct Problem {
    pub opt: Option<Opt>,
    pub message: String,
}

/// Why the options give no [`Source`].
#[derive(Debug, PartialEq, thiserror::Error)]
pub enum Error {
    /// Neither an ONNX model nor a DSL option; front ends say how to give one in their syntax.
    #[error("no model given: an ONNX model or a GhostNet description")]
    NoModel,
    /// Every problem found, at least one.
    #[error("{}", list(.0))]
    Problems(Vec<Problem>),
}

fn list(problems: &[Problem]) -> String {
    match problems {
        [one] => one.message.clone(),
        all => format!("{} problems:\n  - {}", all.len(), all.iter().map(|p| p.message.as_str()).collect::<Vec<_>>().join("\n  - ")),
    }
}

impl Options {
    fn given(&self, opt: Opt) -> bool {
        match opt {
            Opt::Onnx => self.onnx.is_some(),
            Opt::Alpha => self.alpha.is_some(),
            Opt::Weights => self.weights.is_some(),
            Opt::Version => self.version.is_some(),
            Opt::Classes => self.classes.is_some(),
            Opt::InChans => self.in_chans.is_some(),
            Opt::Seed => self.seed.is_some(),
            Opt::Stages => self.stages.is_some(),
            Opt::Input => self.input.is_some(),
            Opt::Features => self.features.is_some(),
            Opt::Outputs => self.outputs.is_some(),
        }
    }

    /// The network these options describe, or every problem with them; `name` gives the
    /// front end's name of an option, used in the messages.
    pub fn source(self, name: fn(Opt) -> &'static str) -> Result<Source, Error> {
        let mut problems = Vec::new();
        let mut at = |opt: Option<Opt>, message: String| problems.push(Problem { opt, message });
        let dsl: Vec<Opt> = Opt::DSL.into_iter().filter(|&o| self.given(o)).collect();
        if self.onnx.is_none() && dsl.is_empty() {
            return Err(Error::NoModel);
        }
        match &self.outputs {
            Some(o) if o.is_empty() => at(Some(Opt::Outputs), format!("{} needs at least one tensor or layer name", name(Opt::Outputs))),
            Some(_) if self.features == Some(true) => at(
                Some(Opt::Outputs),
                format!("{} cannot be combined with {} (the features are the outputs)", name(Opt::Outputs), name(Opt::Features)),
            ),
            _ => {}
        }
        let input = match self.input.as_deref() {
            Some(&[n, c, h, w]) => Some([n, c, h, w]),
            Some(other) => {
                at(Some(Opt::Input), format!("{} must have 4 dimensions (N, C, H, W), got {}", name(Opt::Input), other.len()));
                None
            }
            None => None,
        };
        if let Some(path) = self.onnx {
            for o in dsl {
                at(Some(o), format!("{} describes a DSL network and cannot be combined with {}", name(o), name(Opt::Onnx)));
            }
            return if problems.is_empty() { Ok(Source::Onnx { path, input_shape: self.input }) } else { Err(Error::Problems(problems)) };
        }
        let mut spec = Spec::default();
        match self.alpha {
            Some(a) if !(a.is_finite() && a > 0.0) => {
                at(Some(Opt::Alpha), format!("{} (width multiplier) must be a positive, finite number, got {a}", name(Opt::Alpha)));
            }
            Some(a) => spec.width = a,
            None => {}
        }
        match self.version {
            None | Some(1) => {}
            Some(2) => spec.version = Version::V2,
            Some(v) => at(Some(Opt::Version), format!("{} must be 1 (GhostNet) or 2 (GhostNetV2), got {v}", name(Opt::Version))),
        }
        spec.num_classes = self.classes.unwrap_or(spec.num_classes);
        spec.input = input.unwrap_or(spec.input);
        match (self.in_chans, input) {
            (Some(c), Some(s)) if s[1] != c => {
                at(Some(Opt::InChans), format!("{} is {c}, but the input shape has {} channels", name(Opt::InChans), s[1]));
            }
            (Some(c), _) => spec.input[1] = c,
            (None, _) => {}
        }
        if self.seed.is_some() && self.weights.is_some() {
            at(Some(Opt::Seed), format!("{} only applies to seeded weights; it cannot be combined with {}", name(Opt::Seed), name(Opt::Weights)));
        }
        if let Some(stages) = &self.stages {
            spec.stages = stages.clone();
        }
        spec.features = self.features == Some(true);
        // Every other option is checked above, so what is left is about the stage table.
        if let Err(super::Error::Spec(found)) = spec.check() {
            let opt = self.stages.is_some().then_some(Opt::Stages);
            for message in found {
                at(opt, message);
            }
        }
        if !problems.is_empty() {
            return Err(Error::Problems(problems));
        }
        Ok(Source::Dsl { spec, weights: self.weights, seed: self.seed.unwrap_or(0) })
    }
}

fn dsl_name(spec: &Spec) -> String {
    if spec.features { format!("{} features", spec.name()) } else { spec.name() }
}

/// What `source` is compiled from, in words, for the generated module's documentation.
pub fn describe(source: &Source) -> String {
    let file = |p: &std::path::Path| p.file_name().map_or_else(|| p.display().to_string(), |f| f.to_string_lossy().into_owned());
    match source {
        Source::Onnx { path, .. } => format!("`{}`", file(path)),
        Source::Dsl { spec, weights: Some(w), .. } => format!("the GhostNet DSL ({}) with weights `{}`", dsl_name(spec), file(w)),
        Source::Dsl { spec, weights: None, seed } => format!("the GhostNet DSL ({}) with weights seeded by {seed}", dsl_name(spec)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn flag(o: Opt) -> &'static str {
        match o {
            Opt::Onnx => "MODEL",
            Opt::Alpha => "--alpha",
            Opt::Weights => "--weights",
            Opt::Version => "--version",
            Opt::Classes => "--classes",
            Opt::InChans => "--in-chans",
            Opt::Seed => "--seed",
            Opt::Stages => "--stages",
            Opt::Input => "--input",
            Opt::Features => "--features",
            Opt::Outputs => "--outputs",
        }
    }

    fn problems(o: Options) -> Vec<(Option<Opt>, String)> {
        match o.source(flag) {
            Err(Error::Problems(p)) => p.into_iter().map(|p| (p.opt, p.message)).collect(),
            other => panic!("expected problems, got {other:?}"),
        }
    }

    #[test]
    fn a_dsl_network_from_its_options() {
        let o = Options { alpha: Some(0.5), version: Some(2), classes: Some(7), in_chans: Some(1), seed: Some(9), ..Options::default() };
        let Ok(Source::Dsl { spec, weights: None, seed: 9 }) = o.source(flag) else { panic!() };
        assert_eq!((spec.width, spec.version, spec.num_classes, spec.input), (0.5, Version::V2, 7, [1, 1, 224, 224]));
        let o = Options { input: Some(vec![2, 1, 32, 32]), in_chans: Some(1), ..Options::default() };
        let Ok(Source::Dsl { spec, .. }) = o.source(flag) else { panic!() };
        assert_eq!((spec.width, spec.input), (1.0, [2, 1, 32, 32]));
    }

    #[test]
    fn an_onnx_model_takes_only_an_input_shape() {
        let o = Options { onnx: Some("m.onnx".into()), input: Some(vec![1, 3, 64, 64]), ..Options::default() };
        let Ok(Source::Onnx { input_shape: Some(s), .. }) = o.source(flag) else { panic!() };
        assert_eq!(s, [1, 3, 64, 64]);
        let o = Options { onnx: Some("m.onnx".into()), alpha: Some(1.0), seed: Some(1), ..Options::default() };
        assert_eq!(
            problems(o),
            [
                (Some(Opt::Alpha), "--alpha describes a DSL network and cannot be combined with MODEL".into()),
                (Some(Opt::Seed), "--seed describes a DSL network and cannot be combined with MODEL".into()),
            ]
        );
        let o = Options { onnx: Some("m.onnx".into()), input: Some(vec![1, 3]), version: Some(9), ..Options::default() };
        assert_eq!(
            problems(o),
            [
                (Some(Opt::Input), "--input must have 4 dimensions (N, C, H, W), got 2".into()),
                (Some(Opt::Version), "--version describes a DSL network and cannot be combined with MODEL".into()),
            ]
        );
    }

    #[test]
    fn features_are_dsl_and_exclude_outputs() {
        let o = Options { alpha: Some(0.5), features: Some(true), ..Options::default() };
        let Ok(Source::Dsl { spec, .. }) = o.source(flag) else { panic!() };
        assert!(spec.features);
        let o = Options { onnx: Some("m.onnx".into()), features: Some(true), outputs: Some(vec![]), ..Options::default() };
        assert_eq!(
            problems(o),
            [
                (Some(Opt::Outputs), "--outputs needs at least one tensor or layer name".into()),
                (Some(Opt::Features), "--features describes a DSL network and cannot be combined with MODEL".into()),
            ]
        );
        let o = Options { alpha: Some(0.5), features: Some(true), outputs: Some(vec!["x".into()]), ..Options::default() };
        assert_eq!(problems(o), [(Some(Opt::Outputs), "--outputs cannot be combined with --features (the features are the outputs)".into())]);
    }

    #[test]
    fn no_model_is_its_own_outcome() {
        assert_eq!(Options::default().source(flag).unwrap_err(), Error::NoModel);
        let only_input = Options { input: Some(vec![1, 3, 8, 8]), ..Options::default() };
        assert_eq!(only_input.source(flag).unwrap_err(), Error::NoModel);
    }

    #[test]
    fn every_problem_at_once_with_its_option() {
        let o = Options {
            alpha: Some(f32::INFINITY),
            version: Some(3),
            input: Some(vec![1, 3, 64, 64]),
            in_chans: Some(4),
            weights: Some("w.safetensors".into()),
            seed: Some(7),
            stages: Some(vec![vec![Block::new(4, 16, 16, 0.0, 1)]]),
            ..Options::default()
        };
        assert_eq!(
            problems(o),
            [
                (Some(Opt::Alpha), "--alpha (width multiplier) must be a positive, finite number, got inf".into()),
                (Some(Opt::Version), "--version must be 1 (GhostNet) or 2 (GhostNetV2), got 3".into()),
                (Some(Opt::InChans), "--in-chans is 4, but the input shape has 3 channels".into()),
                (Some(Opt::Seed), "--seed only applies to seeded weights; it cannot be combined with --weights".into()),
                (Some(Opt::Stages), "stage 0, block 0: kernel 4 must be odd".into()),
            ]
        );
        let o = Options { alpha: Some(-1.0), input: Some(vec![1, 3, 64]), classes: Some(0), ..Options::default() };
        assert_eq!(
            problems(o),
            [
                (Some(Opt::Input), "--input must have 4 dimensions (N, C, H, W), got 3".into()),
                (Some(Opt::Alpha), "--alpha (width multiplier) must be a positive, finite number, got -1".into()),
                (None, "classes must be at least 1".into()),
            ]
        );
    }

    #[test]
    fn messages_list_every_problem() {
        let one = Options { alpha: Some(1.0), version: Some(0), ..Options::default() };
        assert_eq!(one.source(flag).unwrap_err().to_string(), "--version must be 1 (GhostNet) or 2 (GhostNetV2), got 0");
        let two = Options { alpha: Some(0.0), version: Some(0), ..Options::default() };
        let text = two.source(flag).unwrap_err().to_string();
        assert!(text.starts_with("2 problems:\n  - --alpha") && text.contains("\n  - --version"), "{text}");
    }

    #[test]
    fn descriptions_name_the_file_or_the_seed() {
        let dsl = |weights: Option<&str>| Source::Dsl { spec: Spec::with_width(1.3), weights: weights.map(PathBuf::from), seed: 4 };
        assert_eq!(describe(&dsl(None)), "the GhostNet DSL (ghostnet_130) with weights seeded by 4");
        assert_eq!(describe(&dsl(Some("w/g.safetensors"))), "the GhostNet DSL (ghostnet_130) with weights `g.safetensors`");
        assert_eq!(describe(&Source::Onnx { path: "models/net.onnx".into(), input_shape: None }), "`net.onnx`");
    }
}
