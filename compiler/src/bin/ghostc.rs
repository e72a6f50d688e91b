//! `ghostc`: the command line over `ghostnet_compiler`. It parses flags, calls the library,
//! prints results; it has no logic of its own.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};
use ghostnet_compiler::front::dsl::{self, options::{self, Opt, Options, Problem}};
use ghostnet_compiler::back::rust::{self, lower};
use ghostnet_compiler::inspect::Report;
use ghostnet_compiler::ir::Precision;
use ghostnet_compiler::{interp, ir, quantize, Limits, Source};

/// Compile a GhostNet (ONNX file or DSL description) into dependency-free Rust.
///
/// `ghostc MODEL.onnx -o net.rs` or `ghostc --alpha 1.3 [--weights W.safetensors] -o net.rs`
/// writes `net.rs` and its weights beside it. `ghostc inspect` prints a per-layer table;
/// `ghostc run` runs the reference interpreter (on raw inputs or photos); `ghostc profile`
/// times every layer of the compiled network; `ghostc preprocess` turns photos into inputs.
#[derive(Parser, Debug)]
#[command(name = "ghostc", disable_version_flag = true, args_conflicts_with_subcommands = true, subcommand_negates_reqs = true)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    #[command(flatten)]
    compile: CompileArgs,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Print one row per layer (op, fused ops, input and output shape, params, MACs) and totals.
    Inspect(InspectArgs),
    /// Run the reference interpreter on raw f32 inputs or photos and print the top-5 classes.
    Run(RunArgs),
    /// Compile in process, run, and time every layer and stage (MACs, time, GFLOP/s, share),
    /// with the FMA bound of the kernel tier for reference.
    Profile(ProfileArgs),
    /// Turn PNG and JPEG photos into network inputs (raw f32 NCHW, back to back) with timm's
    /// evaluation transform.
    Preprocess(PreprocessArgs),
    /// Write the network as an ONNX model (opset 17), as loaded, before fusion: a DSL network
    /// for other engines to run, with the same weights.
    Export(ExportArgs),
}

#[derive(Args, Debug)]
struct ExportArgs {
    #[command(flatten)]
    model: ModelArgs,
    /// Input shape NxCxHxW (fixes dynamic ONNX dimensions; sets the DSL input). Same as --shape.
    #[arg(long = "input", value_name = "NxCxHxW", value_parser = parse_shape)]
    input_shape: Option<Dims>,
    /// The ONNX file to write.
    #[arg(short = 'o', long = "output", value_name = "OUT.onnx")]
    output: PathBuf,
}

#[derive(Args, Debug)]
struct CompileArgs {
    #[command(flatten)]
    model: ModelArgs,
    /// Input shape NxCxHxW (fixes dynamic ONNX dimensions; sets the DSL input). Same as --shape.
    #[arg(long = "input", value_name = "NxCxHxW", value_parser = parse_shape)]
    input_shape: Option<Dims>,
    /// The Rust file to write; the weights go beside it as `<stem>.weights.bin`.
    #[arg(short = 'o', long = "output", value_name = "OUT.rs", required = true)]
    output: Option<PathBuf>,
    /// Emit a variant for `#![no_std]` crates without `alloc`: the caller passes the arena.
    #[arg(long)]
    no_std: bool,
}

#[derive(Args, Debug)]
struct InspectArgs {
    #[command(flatten)]
    model: ModelArgs,
    /// Input shape NxCxHxW (fixes dynamic ONNX dimensions; sets the DSL input). Same as --shape.
    #[arg(long = "input", value_name = "NxCxHxW", value_parser = parse_shape)]
    input_shape: Option<Dims>,
    /// Print JSON with keys params, macs, arena_bytes and layers instead of a table.
    #[arg(long)]
    json: bool,
}

#[derive(Args, Debug)]
struct RunArgs {
    #[command(flatten)]
    model: ModelArgs,
    /// Raw little-endian f32 NCHW input; may hold several inputs back to back.
    #[arg(long, value_name = "IN.bin", required_unless_present = "image", conflicts_with = "image")]
    input: Option<PathBuf>,
    /// PNG or JPEG photos, preprocessed as timm evaluates (see `ghostc preprocess`).
    #[arg(long, value_name = "IMAGE", num_args = 1..)]
    image: Vec<PathBuf>,
    #[command(flatten)]
    transform: TransformArgs,
    /// Where to write the outputs (raw little-endian f32, back to back).
    #[arg(long, value_name = "OUT.bin")]
    output: Option<PathBuf>,
}

#[derive(Args, Debug)]
struct ProfileArgs {
    #[command(flatten)]
    model: ModelArgs,
    /// Input shape NxCxHxW (fixes dynamic ONNX dimensions; sets the DSL input). Same as --shape.
    #[arg(long = "input", value_name = "NxCxHxW", value_parser = parse_shape)]
    input_shape: Option<Dims>,
    /// Kernel tier: scalar, avx2, avxvnni, avx512, avx512vnni or neon (default: GHOSTNET_ISA,
    /// else the best this CPU runs).
    #[arg(long, value_name = "TIER")]
    isa: Option<String>,
    /// Threads sharing every layer, as `Net::forward_threads`.
    #[arg(long, default_value_t = 1)]
    threads: usize,
    /// Timed runs; each time is the median over them.
    #[arg(long, default_value_t = 50)]
    runs: usize,
    /// Print JSON instead of tables.
    #[arg(long)]
    json: bool,
}

#[derive(Args, Debug)]
struct PreprocessArgs {
    /// PNG or JPEG files.
    #[arg(value_name = "IMAGE", required = true)]
    images: Vec<PathBuf>,
    /// The network input shape NxCxHxW: C is 3 (RGB) or 1 (grayscale, Pillow's luma); N
    /// images make one input.
    #[arg(long = "input", value_name = "NxCxHxW", value_parser = parse_shape, default_value = "1x3x224x224")]
    input_shape: Dims,
    /// Where to write the inputs: raw little-endian f32 NCHW, back to back.
    #[arg(short = 'o', long = "output", value_name = "OUT.bin")]
    output: PathBuf,
    #[command(flatten)]
    transform: TransformArgs,
}

/// timm's evaluation transform (defaults: GhostNet's).
#[derive(Args, Debug)]
struct TransformArgs {
    /// The centre crop's share of the resized image (timm's crop_pct): the shorter side is
    /// resized to floor(size / crop_pct).
    #[arg(long, value_name = "F", default_value_t = ghostnet_compiler::preprocess::DEFAULT_CROP_PCT)]
    crop_pct: f64,
    /// Resampling filter, antialiased as Pillow's: bicubic or bilinear.
    #[arg(long, value_name = "FILTER", default_value = "bicubic")]
    interpolation: ghostnet_compiler::preprocess::Interpolation,
    /// Per-channel mean subtracted after scaling to [0, 1], comma-separated (default
    /// ImageNet's 0.485,0.456,0.406; 0.449 for one channel).
    #[arg(long, value_name = "M,M,M", value_delimiter = ',', allow_negative_numbers = true)]
    mean: Option<Vec<f32>>,
    /// Per-channel standard deviation divided by, comma-separated (default ImageNet's
    /// 0.229,0.224,0.225; 0.226 for one channel).
    #[arg(long, value_name = "S,S,S", value_delimiter = ',')]
    std: Option<Vec<f32>>,
    /// Largest image decoded, in pixels (default Pillow's decompression-bomb limit).
    #[arg(long, value_name = "N", default_value_t = ghostnet_compiler::preprocess::decode::DEFAULT_MAX_PIXELS)]
    max_image_pixels: u64,
}

impl TransformArgs {
    /// The network inputs of `images` for a model input of `shape` (NCHW), back to back.
    fn inputs(&self, images: &[PathBuf], shape: &[usize]) -> Result<Vec<f32>, String> {
        use ghostnet_compiler::preprocess::{decode, Transform};
        let mut t = Transform::defaults(shape).map_err(|e| e.to_string())?;
        t.crop_pct = self.crop_pct;
        t.interpolation = self.interpolation;
        t.mean = self.mean.clone().unwrap_or(t.mean);
        t.std = self.std.clone().unwrap_or(t.std);
        let batch = shape[0];
        if !images.len().is_multiple_of(batch) {
            return Err(format!("{} image(s) do not fill whole inputs of {batch} images (the input shape is {})", images.len(), ir::ShapeDisplay(shape)));
        }
        Ok(decode::load_inputs(images, &t, self.max_image_pixels).map_err(|e| e.to_string())?.concat())
    }
}

/// Which network: an ONNX file, or the DSL flags.
#[derive(Args, Debug)]
struct ModelArgs {
    /// ONNX model to compile. Without it, the network is built from the DSL flags.
    #[arg(value_name = "MODEL.onnx")]
    model: Option<PathBuf>,
    /// DSL: width multiplier (any positive number, e.g. 0.5, 1.0, 1.3).
    #[arg(long, allow_negative_numbers = true)]
    alpha: Option<f32>,
    /// DSL: timm state_dict in safetensors form; without it weights are seeded pseudo-random.
    #[arg(long, value_name = "W.safetensors")]
    weights: Option<PathBuf>,
    /// DSL: GhostNet version, 1 or 2.
    #[arg(long)]
    version: Option<u8>,
    /// DSL: number of classes (default 1000).
    #[arg(long)]
    classes: Option<usize>,
    /// DSL: input channels (default 3; the C of --shape when given).
    #[arg(long)]
    in_chans: Option<usize>,
    /// DSL: seed of the pseudo-random weights (default 0).
    #[arg(long)]
    seed: Option<u64>,
    /// DSL: stage table as timm's cfgs, e.g. `[[[3,16,16,0,1]],[[3,48,24,0,2]]]`, or @FILE.
    #[arg(long, value_name = "TABLE")]
    stages: Option<String>,
    /// DSL: timm's features_only backbone: the outputs are the stem conv and every stride-2 stage.
    #[arg(long)]
    features: bool,
    /// Input shape NxCxHxW.
    #[arg(long, value_name = "NxCxHxW", value_parser = parse_shape)]
    shape: Option<Dims>,
    /// Tensors to make the outputs instead of the model's, comma-separated: ONNX tensor
    /// names or layer names as `ghostc inspect` lists them (e.g. flatten for the pooled features).
    #[arg(long, value_name = "NAME,...", value_delimiter = ',')]
    outputs: Option<Vec<String>>,
    /// Precision of the matrix products: f32 (the default, but int8 for a model quantized by
    /// another tool in QDQ form), bf16 (weights rounded to bfloat16, half the weight bytes;
    /// activations and sums stay f32) or int8 (8-bit inputs and weights, exact integer sums;
    /// needs --calibrate unless the model is already quantized).
    #[arg(long, value_name = "P", value_parser = parse_precision)]
    precision: Option<Precision>,
    /// int8: calibration inputs, raw little-endian f32 network inputs back to back.
    #[arg(long, value_name = "CALIB.bin")]
    calibrate: Option<PathBuf>,
    /// int8: least SQNR (dB) of the outputs against f32 on the calibration inputs; layers
    /// go back to float until it holds [default: 35].
    #[arg(long, value_name = "DB", allow_negative_numbers = true)]
    int8_budget: Option<f32>,
    /// int8: layers to keep in float (names as `ghostc inspect` shows them).
    #[arg(long, value_name = "LAYER,...", value_delimiter = ',')]
    keep_float: Vec<String>,
    #[command(flatten)]
    limits: LimitArgs,
}

/// Resource limits for untrusted files.
#[derive(Args, Debug)]
struct LimitArgs {
    /// Largest model, external-data or weights file read, in bytes.
    #[arg(long, value_name = "BYTES")]
    max_file_bytes: Option<u64>,
    /// Most nodes in a graph.
    #[arg(long, value_name = "N")]
    max_nodes: Option<usize>,
    /// Most elements in one tensor.
    #[arg(long, value_name = "N")]
    max_tensor_elements: Option<u64>,
    /// Most bytes of weights in total.
    #[arg(long, value_name = "BYTES")]
    max_weight_bytes: Option<u64>,
    /// Longest chain of nodes.
    #[arg(long, value_name = "N")]
    max_depth: Option<usize>,
}

impl LimitArgs {
    fn limits(&self) -> Limits {
        let d = Limits::default();
        Limits {
            max_file_bytes: self.max_file_bytes.unwrap_or(d.max_file_bytes),
            max_nodes: self.max_nodes.unwrap_or(d.max_nodes),
            max_tensor_elements: self.max_tensor_elements.unwrap_or(d.max_tensor_elements),
            max_weight_bytes: self.max_weight_bytes.unwrap_or(d.max_weight_bytes),
            max_depth: self.max_depth.unwrap_or(d.max_depth),
        }
    }
}

/// A shape given on the command line, `1x3x224x224`.
#[derive(Clone, Debug)]
struct Dims(Vec<usize>);

fn parse_shape(s: &str) -> Result<Dims, String> {
    let dims: Result<Vec<usize>, _> = s.split(['x', 'X']).map(|d| d.trim().parse::<usize>()).collect();
    match dims {
        Ok(d) if !d.is_empty() && !d.contains(&0) => Ok(Dims(d)),
        _ => Err(format!("'{s}' is not a shape like 1x3x224x224 (positive integers joined by 'x')")),
    }
}

fn parse_precision(s: &str) -> Result<Precision, String> {
    Precision::from_name(s).ok_or_else(|| {
        let names: Vec<&str> = Precision::ALL.iter().map(|p| p.name()).collect();
        format!("'{s}' is not a precision; use {}", names.join(" or "))
    })
}

/// ghostc's name of each model option, as its messages say it.
fn flag(o: Opt) -> &'static str {
    match o {
        Opt::Onnx => "an ONNX model",
        Opt::Alpha => "--alpha",
        Opt::Weights => "--weights",
        Opt::Version => "--version",
        Opt::Classes => "--classes",
        Opt::InChans => "--in-chans",
        Opt::Seed => "--seed",
        Opt::Stages => "--stages",
        Opt::Input => "the input shape",
        Opt::Features => "--features",
        Opt::Outputs => "--outputs",
    }
}

/// A `--stages` value: the table's text, or `@FILE` holding it.
fn stage_table(arg: &str) -> Result<Vec<Vec<dsl::Block>>, String> {
    let text = match arg.strip_prefix('@') {
        Some(file) => std::fs::read_to_string(file).map_err(|e| format!("cannot read the stage table '{file}': {e}"))?,
        None => arg.to_string(),
    };
    dsl::parse_stages(&text).map_err(|e| e.to_string())
}

impl ModelArgs {
    /// The int8 settings these flags give.
    fn int8(&self) -> quantize::Settings {
        quantize::Settings { calibrate: self.calibrate.clone(), budget_db: self.int8_budget, keep_float: self.keep_float.clone() }
    }

    /// Loads and optimizes the network in the asked precision (quantizing it for int8).
    fn graph(&self, source: &Source) -> Result<(ir::Graph, Option<quantize::Summary>), String> {
        let limits = self.limits.limits();
        let graph = source.load_with(&limits, &self.output_names()).map_err(|e| e.to_string())?;
        ghostnet_compiler::optimize_for(graph, self.precision, &self.int8(), &limits).map_err(|e| e.to_string())
    }

    /// The source these flags describe, or every problem with them.
    fn source(&self, shape: Option<Dims>) -> Result<Source, String> {
        let (stages, unreadable) = match self.stages.as_deref().map(stage_table).transpose() {
            Ok(stages) => (stages, None),
            Err(e) => (None, Some(e)),
        };
        let options = Options {
            onnx: self.model.clone(),
            alpha: self.alpha,
            version: self.version.map(u64::from),
            classes: self.classes,
            in_chans: self.in_chans,
            input: shape.or_else(|| self.shape.clone()).map(|d| d.0),
            stages,
            weights: self.weights.clone(),
            seed: self.seed,
            features: self.features.then_some(true),
            outputs: self.outputs.clone(),
        };
        match (options.source(flag), unreadable) {
            (Ok(source), None) => Ok(source),
            (Err(options::Error::NoModel), None) => {
                Err("give an ONNX model (ghostc MODEL.onnx ...) or describe a GhostNet with --alpha (e.g. ghostc --alpha 1.0 ...)".into())
            }
            (Err(options::Error::Problems(mut problems)), Some(e)) => {
                problems.insert(0, Problem { opt: Some(Opt::Stages), message: e });
                Err(options::Error::Problems(problems).to_string())
            }
            (Err(e), None) => Err(e.to_string()),
            (_, Some(e)) => Err(e),
        }
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Some(Command::Inspect(a)) => inspect(&a),
        Some(Command::Run(a)) => run(&a),
        Some(Command::Profile(a)) => profile(&a),
        Some(Command::Preprocess(a)) => preprocess(&a),
        Some(Command::Export(a)) => export(&a),
        None => compile(&cli.compile),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

impl ModelArgs {
    /// The `--outputs` names (empty: the model's outputs).
    fn output_names(&self) -> Vec<String> {
        self.outputs.clone().unwrap_or_default()
    }
}

fn inspect(a: &InspectArgs) -> Result<(), String> {
    let source = a.model.source(a.input_shape.clone())?;
    let (graph, _) = a.model.graph(&source)?;
    // The arena is planned by the back end; a graph it cannot lower still gets its table.
    let arena = lower::lower(&graph).map_or(0, |p| p.arena_len * 4);
    let report = Report::new(&graph, arena);
    print!("{}", if a.json { report.to_json() + "\n" } else { report.to_table() });
    Ok(())
}

fn export(a: &ExportArgs) -> Result<(), String> {
    let source = a.model.source(a.input_shape.clone())?;
    let graph = source.load(&a.model.limits.limits()).map_err(|e| e.to_string())?;
    let bytes = ghostnet_compiler::back::onnx::write(&graph).map_err(|e| e.to_string())?;
    write_atomic(&a.output, &bytes)?;
    println!("wrote {} ({} nodes, {} bytes)", a.output.display(), graph.nodes.len(), bytes.len());
    Ok(())
}

fn run(a: &RunArgs) -> Result<(), String> {
    let source = a.model.source(None)?;
    let (graph, _) = a.model.graph(&source)?;
    let in_shape = graph.shape(graph.inputs[0]).clone();
    let per = ir::numel(&in_shape);
    let values: Vec<f32> = match &a.input {
        Some(input) => {
            let bytes = std::fs::read(input).map_err(|e| format!("cannot read '{}': {e}", input.display()))?;
            if bytes.is_empty() || bytes.len() % (per * 4) != 0 {
                return Err(format!(
                    "'{}' holds {} bytes, not a whole number of inputs of shape {} ({} bytes each as f32)",
                    input.display(),
                    bytes.len(),
                    ir::ShapeDisplay(&in_shape),
                    per * 4
                ));
            }
            bytes.chunks_exact(4).map(|b| f32::from_le_bytes(b.try_into().unwrap())).collect()
        }
        None => a.transform.inputs(&a.image, &in_shape)?,
    };
    let several = graph.outputs.len() > 1;
    let mut all = Vec::new();
    for (i, x) in values.chunks(per).enumerate() {
        let ys = interp::run(&graph, &[x]).map_err(|e| e.to_string())?;
        for (k, y) in ys.into_iter().enumerate() {
            let out_shape = graph.shape(graph.outputs[k]);
            let name = if several { format!(", output '{}'", graph.output_name(k)) } else { String::new() };
            // Scores (one row of classes per image) get their top 5; other tensors a summary.
            if out_shape.len() == 2 {
                for (r, logits) in y.chunks(out_shape[1].max(1)).enumerate() {
                    let mut idx: Vec<usize> = (0..logits.len()).collect();
                    idx.sort_by(|&p, &q| logits[q].total_cmp(&logits[p]).then(p.cmp(&q)));
                    // ImageNet's class names for a 1000-class output.
                    let class = |k: usize| match ghostnet_compiler::imagenet::class_name(k).filter(|_| logits.len() == ghostnet_compiler::imagenet::CLASSES) {
                        Some(n) => format!(" {n}"),
                        None => String::new(),
                    };
                    let top: Vec<String> = idx.iter().take(5).map(|&k| format!("{k}{} ({:.5})", class(k), logits[k])).collect();
                    let tag = match a.image.get(i * in_shape[0] + r).filter(|_| a.input.is_none()) {
                        Some(image) => image.display().to_string(),
                        None if out_shape[0] > 1 => format!("input {i}, row {r}"),
                        None => format!("input {i}"),
                    };
                    println!("{tag}{name}: top-5 {}", top.join(", "));
                }
            } else {
                let mean = y.iter().map(|&v| v as f64).sum::<f64>() / y.len().max(1) as f64;
                let max = y.iter().fold(0f32, |m, v| m.max(v.abs()));
                println!("input {i}{name}: {}, mean {mean:.5}, max |x| {max:.5}", ir::ShapeDisplay(out_shape));
            }
            all.extend(y);
        }
    }
    if let Some(out) = &a.output {
        let bytes: Vec<u8> = all.iter().flat_map(|v| v.to_le_bytes()).collect();
        write_atomic(out, &bytes)?;
    }
    Ok(())
}

fn profile(a: &ProfileArgs) -> Result<(), String> {
    use ghostnet_compiler::profile;
    use ghostnet_runtime::isa::Isa;
    let isa = match a.isa.as_deref() {
        None => ghostnet_runtime::detect::select().map_err(|e| e.to_string())?,
        Some(name) => match Isa::from_name(name) {
            Some(isa) if isa.supported() => isa,
            Some(_) => {
                let usable: Vec<&str> = Isa::ALL.iter().filter(|i| i.supported()).map(|i| i.name()).collect();
                return Err(format!("--isa {name}: this CPU or build cannot run that tier (usable here: {})", usable.join(", ")));
            }
            None => {
                let names: Vec<&str> = Isa::ALL.iter().map(|i| i.name()).collect();
                return Err(format!("--isa {name} is not a kernel tier; use one of {}", names.join(", ")));
            }
        },
    };
    if a.threads == 0 || a.runs == 0 {
        return Err(format!("--threads and --runs must be at least 1 (got --threads {} --runs {})", a.threads, a.runs));
    }
    let source = a.model.source(a.input_shape.clone())?;
    let (graph, _) = a.model.graph(&source)?;
    let program = lower::lower(&graph).map_err(|e| rust::Error::Unsupported(e).to_string())?;
    let input = profile::sample_input(program.image_len());
    let p = profile::measure(&graph, &program, &input, &profile::Options { isa, threads: a.threads, runs: a.runs });
    print!("{}", if a.json { p.to_json() + "\n" } else { p.to_table() });
    Ok(())
}

fn preprocess(a: &PreprocessArgs) -> Result<(), String> {
    if a.input_shape.0.len() != 4 {
        return Err(format!("--input {} is not NxCxHxW", ir::ShapeDisplay(&a.input_shape.0)));
    }
    let values = a.transform.inputs(&a.images, &a.input_shape.0)?;
    let bytes: Vec<u8> = values.iter().flat_map(|v| v.to_le_bytes()).collect();
    create_parent(&a.output)?;
    write_atomic(&a.output, &bytes)?;
    println!("wrote {} ({} image(s) of {}, {} bytes)", a.output.display(), a.images.len(), ir::ShapeDisplay(&a.input_shape.0[1..]), bytes.len());
    Ok(())
}

fn compile(a: &CompileArgs) -> Result<(), String> {
    let out = a.output.as_ref().expect("clap requires -o");
    let source = a.model.source(a.input_shape.clone())?;
    if out.extension().is_none_or(|e| e != "rs") {
        return Err(format!("the output '{}' must be a .rs file", out.display()));
    }
    let stem = out.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
    let weights_name = format!("{stem}.weights.bin");
    let weights_path = out.with_file_name(&weights_name);
    let options = rust::Options { no_std: a.no_std, source: options::describe(&source), weights: rust::WeightsSource::File(weights_name.clone()), precision: a.model.precision, int8: a.model.int8() };
    let compiled =
        ghostnet_compiler::compile_with(&source, &a.model.limits.limits(), &a.model.output_names(), &options).map_err(|e| e.to_string())?;
    create_parent(out)?;
    write_atomic(&weights_path, &compiled.weight_bytes())?;
    if let Err(e) = write_atomic(out, compiled.code.as_bytes()) {
        let _ = std::fs::remove_file(&weights_path);
        return Err(e);
    }
    let r = compiled.report();
    println!(
        "{}: {} layers before fusion, {} after; {} params ({:.3} M), {} MACs ({:.1} M), arena {} bytes",
        compiled.graph.name,
        compiled.layers_before,
        compiled.graph.nodes.len(),
        r.params,
        r.params as f64 / 1e6,
        r.macs,
        r.macs as f64 / 1e6,
        r.arena_bytes
    );
    if let Some(q) = &compiled.quantization {
        println!("{q}");
    }
    println!("wrote {} ({} kernel calls) and {} ({} bytes)", out.display(), compiled.program.steps.len(), weights_path.display(), compiled.program.weights.len() * 4);
    Ok(())
}

/// Creates the directory `path` goes in when it is missing.
fn create_parent(path: &std::path::Path) -> Result<(), String> {
    match path.parent().filter(|d| !d.as_os_str().is_empty() && !d.is_dir()) {
        Some(dir) => std::fs::create_dir_all(dir).map_err(|e| format!("cannot create the directory '{}' for '{}': {e}", dir.display(), path.display())),
        None => Ok(()),
    }
}

/// Writes `bytes` to a temporary file beside `path` and renames it into place, so a failed
/// run never leaves a half-written file.
fn write_atomic(path: &std::path::Path, bytes: &[u8]) -> Result<(), String> {
    let name = path.file_name().ok_or_else(|| format!("'{}' is not a file path", path.display()))?;
    let tmp = path.with_file_name(format!(".{}.tmp{}", name.to_string_lossy(), std::process::id()));
    std::fs::write(&tmp, bytes).map_err(|e| format!("cannot write '{}': {e}", path.display()))?;
    std::fs::rename(&tmp, path).map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        format!("cannot write '{}': {e}", path.display())
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn cli_definition_is_consistent() {
        use clap::CommandFactory;
        super::Cli::command().debug_assert();
    }
}
