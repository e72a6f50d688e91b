// Side-by-side latency, in Node, of GhostNets compiled by ghostc to WebAssembly and of
// onnxruntime-web (its WebAssembly backend), one thread each, interleaved in one process so
// that machine noise hits both alike. Prints medians (ms), the ratio, the .wasm sizes, and
// checks that the outputs agree with ONNX Runtime's.
//
//     node benches/wasm_compare.mjs [--model M.onnx]... [--rounds 7] [--runs 20] [--no-relaxed]
//
// Without --model it takes ghostnet_050_legacy and ghostnet_100_dynamo from the fixtures
// ($GHOSTNET_FIXTURES, or shared/fixtures in a folder above the repository). For each model
// it runs `ghostc`, builds the module of generated/web/src/lib.rs around the output for
// wasm32-unknown-unknown with simd128 (and once more with relaxed-simd too, unless
// --no-relaxed), and installs onnxruntime-web with npm into target/wasm-compare/npm.
// Beside M.onnx, M.input.bin (f32 NCHW) is the input and M.ort.bin ONNX Runtime's output;
// without them the input is random and the reference is onnxruntime-web's output.
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { basename, dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import v8 from "node:v8";

import { loadNetwork } from "../generated/web/ghostnet.js";

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const TARGET = process.env.CARGO_TARGET_DIR ? resolve(process.env.CARGO_TARGET_DIR) : join(ROOT, "target");
const WORK = join(TARGET, "wasm-compare");
const ORT_WEB = "onnxruntime-web@1.30.0";

function parseArgs(argv) {
    const a = { models: [], rounds: 7, runs: 20, relaxed: true };
    for (let i = 0; i < argv.length; i++) {
        const flag = argv[i];
        const value = () => {
            if (i + 1 >= argv.length) throw new Error(`${flag} needs a value`);
            return argv[++i];
        };
        if (flag === "--model") a.models.push(resolve(value()));
        else if (flag === "--rounds") a.rounds = Number(value());
        else if (flag === "--runs") a.runs = Number(value());
        else if (flag === "--no-relaxed") a.relaxed = false;
        else if (flag === "-h" || flag === "--help") {
            console.log("usage: node benches/wasm_compare.mjs [--model M.onnx]... [--rounds 7] [--runs 20] [--no-relaxed]");
            process.exit(0);
        } else throw new Error(`unknown argument ${flag}`);
    }
    if (!(a.rounds >= 1 && a.runs >= 1)) throw new Error("--rounds and --runs must be positive");
    return a;
}

function fixtures() {
    if (process.env.GHOSTNET_FIXTURES) return process.env.GHOSTNET_FIXTURES;
    for (let d = dirname(ROOT); ; d = dirname(d)) {
        if (existsSync(join(d, "shared", "fixtures"))) return join(d, "shared", "fixtures");
        if (dirname(d) === d) return null;
    }
}

/** Writes `text` to `path` unless it holds it already (so cargo sees no change). */
function sync(path, text) {
    if (!existsSync(path) || !readFileSync(path).equals(Buffer.from(text))) writeFileSync(path, text);
}

function run(cmd, args, opts = {}) {
    return String(execFileSync(cmd, args, { stdio: ["ignore", "pipe", "inherit"], ...opts }) ?? "");
}

function f32(path) {
    const b = readFileSync(path);
    return new Float32Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.length));
}

/** Sizes of a .wasm file's sections: code, data (the weights live there), the rest. */
function sections(bytes) {
    const out = { total: bytes.length, code: 0, data: 0, other: 0 };
    let i = 8;
    const leb = () => {
        let r = 0;
        let s = 0;
        let x;
        do {
            x = bytes[i++];
            r += (x & 0x7f) * 2 ** s;
            s += 7;
        } while (x & 0x80);
        return r;
    };
    while (i < bytes.length) {
        const id = bytes[i++];
        const n = leb();
        if (id === 10) out.code += n;
        else if (id === 11) out.data += n;
        else out.other += n;
        i += n;
    }
    return out;
}

/** Builds the module of generated/web/src/lib.rs around `net.rs`; returns the .wasm path. */
function buildModule(ghostc, model, stem, features) {
    const crate = join(WORK, stem);
    mkdirSync(join(crate, "src"), { recursive: true });
    const manifest = readFileSync(join(ROOT, "generated/web/Cargo.toml"), "utf8").replace(/^name = "ghostnet-web"$/m, `name = "${stem}"`);
    sync(join(crate, "Cargo.toml"), manifest);
    const lib = readFileSync(join(ROOT, "generated/web/src/lib.rs"), "utf8").replace(/^#\[path = .*\]\n/m, "");
    sync(join(crate, "src/lib.rs"), lib);
    const gen = join(crate, "gen");
    mkdirSync(gen, { recursive: true });
    run(ghostc, [model, "-o", join(gen, "net.rs")]);
    sync(join(crate, "src/net.rs"), readFileSync(join(gen, "net.rs")));
    sync(join(crate, "src/net.weights.bin"), readFileSync(join(gen, "net.weights.bin")));
    const targetDir = join(crate, `target-${features.replace(/[^a-z0-9]+/g, "-")}`);
    console.log(`building ${stem} for wasm32-unknown-unknown (${features})`);
    run("cargo", ["build", "--release", "-q", "--target", "wasm32-unknown-unknown"], {
        cwd: crate,
        env: { ...process.env, CARGO_TARGET_DIR: targetDir, CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUSTFLAGS: `-C target-feature=${features}` },
        stdio: ["ignore", "inherit", "inherit"],
    });
    const shape = readFileSync(join(gen, "net.rs"), "utf8").match(/pub const INPUT_SHAPE: \[usize; \d+\] = \[([^\]]*)\]/);
    return { wasm: join(targetDir, "wasm32-unknown-unknown/release", `${stem}.wasm`), shape: shape[1].split(",").map(Number), weights: readFileSync(join(gen, "net.weights.bin")).length };
}

function installOrtWeb() {
    const dir = join(WORK, "npm");
    mkdirSync(dir, { recursive: true });
    sync(join(dir, "package.json"), '{ "private": true }\n');
    const [name, version] = ORT_WEB.split("@");
    const pkg = join(dir, "node_modules", name, "package.json");
    if (!existsSync(pkg) || JSON.parse(readFileSync(pkg, "utf8")).version !== version) {
        console.log(`npm install ${ORT_WEB} (into ${dir})`);
        run("npm", ["install", "--no-audit", "--no-fund", "--loglevel=error", ORT_WEB], { cwd: dir, stdio: ["ignore", "inherit", "inherit"] });
    }
    return createRequire(join(dir, "package.json"))(name);
}

/** Whether this engine validates relaxed-simd (Node 20 needs a V8 flag for it). */
function relaxedSimd() {
    // (module (func (result v128) v128.const 0 0 0 0 v128.const 0 0 0 0 v128.const 0 0 0 0 f32x4.relaxed_madd))
    const m = Uint8Array.from([0, 97, 115, 109, 1, 0, 0, 0, 1, 5, 1, 96, 0, 1, 123, 3, 2, 1, 0, 10, 61, 1, 59, 0,
        ...[253, 12, ...new Array(16).fill(0)], ...[253, 12, ...new Array(16).fill(0)], ...[253, 12, ...new Array(16).fill(0)], 253, 133, 2, 11]);
    if (WebAssembly.validate(m)) return true;
    v8.setFlagsFromString("--experimental-wasm-relaxed-simd");
    return WebAssembly.validate(m);
}

const median = (v) => {
    const s = [...v].sort((a, b) => a - b);
    return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

function topK(v, k) {
    return [...v.keys()].sort((a, b) => v[b] - v[a] || a - b).slice(0, k);
}

/** max |got - want| relative to max |want|, and whether the top-5 agree. */
function agreement(got, want) {
    let diff = 0;
    let scale = 0;
    for (let i = 0; i < want.length; i++) {
        diff = Math.max(diff, Math.abs(got[i] - want[i]));
        scale = Math.max(scale, Math.abs(want[i]));
    }
    const rel = diff / scale;
    const top5 = got.length === want.length && topK(got, 5).join() === topK(want, 5).join();
    return { rel, top5, ok: got.length === want.length && Number.isFinite(rel) && rel <= 1e-4 && top5 };
}

async function main() {
    const args = parseArgs(process.argv.slice(2));
    if (args.models.length === 0) {
        const fx = fixtures();
        if (!fx) throw new Error("no models: pass --model M.onnx, or provide the fixtures ($GHOSTNET_FIXTURES)");
        args.models = ["ghostnet_050_legacy", "ghostnet_100_dynamo"].map((s) => join(fx, `${s}.onnx`));
    }
    console.log("building ghostc");
    run("cargo", ["build", "--release", "-q", "-p", "ghostnet-compiler", "--bin", "ghostc"], { cwd: ROOT, stdio: ["ignore", "inherit", "inherit"] });
    const ghostc = join(TARGET, "release", "ghostc");
    const relaxed = args.relaxed && relaxedSimd();
    if (args.relaxed && !relaxed) console.log("notice: this engine lacks relaxed-simd; timing the simd128 build only");
    const ort = installOrtWeb();
    ort.env.wasm.numThreads = 1;
    console.log(`node ${process.version}, V8 ${process.versions.v8}, onnxruntime-web ${ort.env.versions?.web ?? "?"}`);

    const report = [];
    let failed = false;
    for (const model of args.models) {
        const stem = basename(model, ".onnx");
        const base = model.replace(/\.onnx$/, "");
        const builds = [{ name: "simd128", ...buildModule(ghostc, model, stem, "+simd128") }];
        if (relaxed) builds.push({ name: "relaxed", ...buildModule(ghostc, model, stem, "+simd128,+relaxed-simd") });
        const shape = builds[0].shape;
        const len = shape.reduce((a, b) => a * b, 1);
        let x = existsSync(`${base}.input.bin`) ? f32(`${base}.input.bin`) : null;
        if (!x || x.length !== len) x = Float32Array.from({ length: len }, (_, i) => Math.sin(i * 12.9898) * 0.5);
        const session = await ort.InferenceSession.create(model, { executionProviders: ["wasm"], graphOptimizationLevel: "all" });
        const feeds = { [session.inputNames[0]]: new ort.Tensor("float32", x, shape) };

        const engines = [];
        for (const b of builds) {
            const net = await loadNetwork(readFileSync(b.wasm));
            engines.push({ name: `ghostnet ${b.name}`, tier: net.tier, call: async () => net.forward(x), build: b });
        }
        engines.push({ name: "onnxruntime-web", call: async () => (await session.run(feeds))[session.outputNames[0]].data });
        for (const e of engines) {
            for (let i = 0; i < 5; i++) e.output = await e.call();
            e.rounds = [];
            e.cpuRounds = [];
        }
        for (let r = 0; r < args.rounds; r++) {
            // Rotate the order, so that no engine always runs first after another's garbage.
            for (let j = 0; j < engines.length; j++) {
                const e = engines[(j + r) % engines.length];
                const t = [];
                const cpu = [];
                for (let i = 0; i < args.runs; i++) {
                    const c = process.cpuUsage();
                    const s = performance.now();
                    e.output = await e.call();
                    t.push(performance.now() - s);
                    const u = process.cpuUsage(c);
                    cpu.push((u.user + u.system) / 1000);
                }
                e.rounds.push(median(t));
                e.cpuRounds.push(median(cpu));
                e.best = Math.min(e.best ?? Infinity, ...t);
            }
            console.log(`${stem} round ${r + 1}/${args.rounds}: ${engines.map((e) => `${e.name} ${median(e.rounds).toFixed(2)} (cpu ${median(e.cpuRounds).toFixed(2)})`).join(", ")}`);
        }
        const want = existsSync(`${base}.ort.bin`) ? f32(`${base}.ort.bin`) : engines.at(-1).output;
        const refName = existsSync(`${base}.ort.bin`) ? "ONNX Runtime (M.ort.bin)" : "onnxruntime-web";
        for (const e of engines) {
            const a = agreement(e.output, want);
            e.check = a;
            if (e.build && !a.ok) failed = true;
            console.log(`  ${e.name}${e.tier ? ` (tier ${e.tier})` : ""} vs ${refName}: max |diff| = ${a.rel.toExponential(2)} of max |ref| (limit 1e-4), top-5 ${a.top5 ? "equal" : "DIFFERENT"}${e.build && !a.ok ? "  FAIL" : ""}`);
        }
        report.push({ stem, engines });
    }

    // Wall-clock time; the process's CPU time (user + system), which on a machine shared
    // with other work leaves out the time the process waited for a core; and the fastest
    // single run, the least disturbed one.
    const stats = [
        ["wall-clock ms, median of the round medians", (e) => median(e.rounds)],
        ["CPU-time ms, median of the round medians", (e) => median(e.cpuRounds)],
        ["wall-clock ms, fastest run", (e) => e.best],
    ];
    console.log(`\n${args.rounds} interleaved rounds of ${args.runs} runs each, one thread; ratio = onnxruntime-web / ghostnet`);
    for (const [what, stat] of stats) {
        const names = report[0].engines.map((e) => e.name);
        console.log(`\n${what}`);
        console.log(["model".padEnd(22), ...names.map((n) => n.padStart(18)), ...names.slice(0, -1).map((n) => `ratio ${n.replace("ghostnet ", "")}`.padStart(15))].join(" "));
        for (const { stem, engines } of report) {
            const ms = engines.map(stat);
            const ortMs = ms.at(-1);
            console.log([stem.padEnd(22), ...ms.map((m) => m.toFixed(2).padStart(18)), ...ms.slice(0, -1).map((m) => `${(ortMs / m).toFixed(2)}x`.padStart(15))].join(" "));
        }
    }
    console.log("\n.wasm sizes (bytes): code section, data section (weights file size), everything else");
    for (const { stem, engines } of report) {
        for (const e of engines.filter((e) => e.build)) {
            const s = sections(readFileSync(e.build.wasm));
            const big = s.code >= 1 << 20 ? "  (code over 1 MB!)" : "";
            console.log(`  ${stem} ${e.name}: total ${s.total}, code ${s.code}, data ${s.data} (weights ${e.build.weights}), other ${s.other}${big}`);
        }
    }
    if (failed) {
        console.log("\nFAIL: an output of ours is outside the tolerance");
        process.exit(1);
    }
}

main().catch((e) => {
    console.error(`wasm_compare: ${e.message}`);
    process.exit(1);
});
