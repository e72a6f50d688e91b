// Checks a network compiled to a wasm32-unknown-unknown module with the exports of
// generated/web/src/lib.rs against ONNX Runtime's outputs, under Node:
//
//     node wasm_check.mjs MODULE.wasm INPUT.bin ORT.bin CLASSES TIER [LABELS.bin]
//
// runs every input of INPUT.bin (raw f32, back to back) and checks max |ours - ort| <=
// 1e-4 * max |ort| and the same top-5 classes in every row of CLASSES logits; the module must
// run the kernel tier TIER. LABELS.bin (one u8 per input) adds the accuracy. Exit status 0 if
// every check held, 1 if not, 2 if the module could not be set up.
import { readFileSync } from "node:fs";
import { basename } from "node:path";
import { argv, exit } from "node:process";

import { loadNetwork } from "../../generated/web/ghostnet.js";

const [wasm, inputPath, ortPath, classesArg, tier, labelsPath] = argv.slice(2);
const f32 = (p) => {
    const b = readFileSync(p);
    return new Float32Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.length));
};
const topK = (v, k) => [...v.keys()].sort((a, b) => v[b] - v[a] || a - b).slice(0, k).join();

let net;
try {
    if (!tier) throw new Error("usage: node wasm_check.mjs MODULE.wasm INPUT.bin ORT.bin CLASSES TIER [LABELS.bin]");
    net = await loadNetwork(readFileSync(wasm));
    if (net.tier !== tier) throw new Error(`${wasm} runs the ${net.tier} kernels, not ${tier}`);
} catch (e) {
    console.error(`error: ${e.message}`);
    exit(2);
}
const x = f32(inputPath);
const want = f32(ortPath);
const classes = Number(classesArg);
const labels = labelsPath ? readFileSync(labelsPath) : null;
const images = x.length / net.inputLen;
if (!Number.isInteger(images) || images * net.outputLen !== want.length) {
    console.error(`error: ${inputPath} and ${ortPath} do not hold the same number of whole inputs and outputs`);
    exit(2);
}
let diff = 0;
let scale = 0;
let finite = true;
let top5 = 0;
let correct = 0;
let firstBad = "";
const start = performance.now();
for (let n = 0; n < images; n++) {
    const y = net.forward(x.subarray(n * net.inputLen, (n + 1) * net.inputLen));
    for (let i = 0; i < y.length; i++) {
        const w = want[n * net.outputLen + i];
        finite &&= Number.isFinite(y[i]);
        diff = Math.max(diff, Math.abs(y[i] - w));
        scale = Math.max(scale, Math.abs(w));
    }
    for (let r = 0; r < y.length / classes; r++) {
        const got = y.subarray(r * classes, (r + 1) * classes);
        const ref = want.subarray(n * net.outputLen + r * classes, n * net.outputLen + (r + 1) * classes);
        if (topK(got, 5) === topK(ref, 5)) top5++;
        else firstBad ||= `input ${n} row ${r}: top-5 ${topK(got, 5)}, ONNX Runtime ${topK(ref, 5)}`;
        if (labels && labels[n] === Number(topK(got, 1))) correct++;
    }
}
const rows = want.length / classes;
const ok = finite && diff <= 1e-4 * scale && top5 === rows;
console.log(
    `${ok ? "ok  " : "FAIL"} ${basename(wasm)} (${net.tier}, ${images} inputs, ${((performance.now() - start) / images).toFixed(2)} ms each): ` +
        `max |diff| ${diff.toExponential(3)} = ${(diff / scale).toExponential(2)} * max |ort| (limit 1e-4), top-5 same in ${top5}/${rows} rows` +
        (labels ? `, ${correct}/${labels.length} correct` : "") + (finite ? "" : ", non-finite outputs") + (firstBad ? `; first differing ${firstBad}` : ""),
);
exit(ok ? 0 : 1);
