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
import { argv, env, exit } from "node:process";
import { WASI } from "node:wasi";

const [program, ...args] = argv.slice(2);
if (!program) {
    console.error("usage: node wasi_run.mjs PROGRAM.wasm [ARGS...]");
    exit(2);
}
const wasi = new WASI({ version: "preview1", args: [program, ...args], env, preopens: { "/": "/" }, returnOnExit: true });
const module = await WebAssembly.compile(await readFile(program));
const instance = await WebAssembly.instantiate(module, { wasi_snapshot_preview1: wasi.wasiImport });
process.exitCode = wasi.start(instance);
