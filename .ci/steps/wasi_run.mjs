#!/usr/bin/env -S node --no-warnings --no-concurrent-marking
// Runs a wasm32-wasip1 program under Node's built-in WASI, as cargo's runner for that
// target (set in .cargo/config.toml):
//
//     node --no-concurrent-marking wasi_run.mjs PROGRAM.wasm [ARGS...]
//
// The program sees its arguments, this process's environment (GHOSTNET_ISA, RUST_BACKTRACE,
// ...) and the whole file system at its usual paths, and exits with its own status.
//
// Run it with --no-concurrent-marking (as the first line does): Node 20's V8 crashed with
// SIGSEGV after a WASI program that grew its memory past about 64 MB had finished, in 8 of 9
// runs of a plain allocating Rust program here, and in none of 9 without concurrent marking.
import { readFile } from "node:fs/promises";
import v8 from "node:v8";
import { argv, env, exit } from "node:process";
import { WASI } from "node:wasi";

const [program, ...args] = argv.slice(2);
if (!program) {
    console.error("usage: node wasi_run.mjs PROGRAM.wasm [ARGS...]");
    exit(2);
}
// Programs built with +relaxed-simd: Node 20 validates those instructions only with a flag.
// (module (func (result v128) (f32x4.relaxed_madd (v128.const 0) (v128.const 0) (v128.const 0))))
const zero = [253, 12, ...new Array(16).fill(0)];
const relaxed = Uint8Array.from([0, 97, 115, 109, 1, 0, 0, 0, 1, 5, 1, 96, 0, 1, 123, 3, 2, 1, 0, 10, 61, 1, 59, 0, ...zero, ...zero, ...zero, 253, 133, 2, 11]);
if (!WebAssembly.validate(relaxed)) v8.setFlagsFromString("--experimental-wasm-relaxed-simd");

const wasi = new WASI({ version: "preview1", args: [program, ...args], env, preopens: { "/": "/" }, returnOnExit: true });
const module = await WebAssembly.compile(await readFile(program));
const instance = await WebAssembly.instantiate(module, { wasi_snapshot_preview1: wasi.wasiImport });
process.exitCode = wasi.start(instance);
