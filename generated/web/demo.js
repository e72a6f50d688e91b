// The digits demo: a drawing pad, the network's ten class probabilities as bars, and a
// self-test (`?selftest`) that classifies embedded test digits and writes the results
// into the page (CI checks them with headless Chromium's --dump-dom).
import { loadNetwork } from "./ghostnet.js";

// The network was trained on scikit-learn's 8x8 digits (each pixel 0..16, the count of ink
// pixels in a 4x4 block of a 32x32 bitmap), upsampled bilinearly to 32x32 and normalized
// as (v / 16 - 0.3) / 0.4. A drawing takes the same road.
const SIDE = 32;

// Test digits from compiler/models/digits_ghostnet.test_x.bin (their 8x8 values, 0..g =
// 0..16) with ONNX Runtime's logits for them (digits_ghostnet.ort.bin).
const TEST_DIGITS = [
    { index: 3, label: 0, pixels: "005c910000eedd0003c11d40078006800880058005a00b4001f9bd00007fc200", ort: [25.40356, -10.76984, -8.240037, -8.70136, -3.701947, -4.938033, -1.54532, -7.609218, -2.559647, -5.936231] },
    { index: 5, label: 1, pixels: "004ac700008ggf00009ggc00007gg900002egb10000ggg00002ggc000019a000", ort: [-8.753748, 13.81452, -1.513137, -2.276524, -0.9955691, -6.808793, -3.44036, -6.71179, 0.4370131, -2.191512] },
    { index: 2, label: 2, pixels: "01cg500007feb00008dac000001cc000000e9000004g840000dggg9002gdb930", ort: [-6.17358, 0.6285408, 12.24591, -4.522146, -2.914124, -1.34513, -1.026923, -4.979876, -5.337545, -2.255812] },
    { index: 9, label: 3, pixels: "003bec3002da4ac002b209900003aa10007gg2000030e3000001d200037e5000", ort: [-6.289598, -3.592617, -1.262576, 7.702744, -4.558491, -0.8852457, -6.276842, -1.097964, -2.008498, 3.5182] },
    { index: 0, label: 4, pixels: "0008f000005g600001ea077005g31g7008gbdg3001bfgd300007g100000ca000", ort: [-2.927151, -3.682005, -4.622978, -7.369615, 14.50413, -1.681816, -2.12447, -4.417956, -5.331235, -2.287823] },
    { index: 17, label: 5, pixels: "0038990006gc85000bd0000009ga50000038da1000000a7000524d80007ge800", ort: [-5.866645, -4.840012, -4.244085, 2.736531, -4.847341, 11.43583, -2.969221, -4.79208, -4.137198, 2.605982] },
    { index: 15, label: 6, pixels: "0008d000000e6000006c0000008d820000dgde4000b823d0007b5cb0001bc400", ort: [-4.970001, 1.600989, -8.129364, -8.925379, 1.099206, -0.8279317, 17.0945, -11.61068, -0.4366997, -9.116641] },
    { index: 1, label: 7, pixels: "005bgg5003fbag400040ae00007fggc0009ge410001e7000004g4000008g0000", ort: [-13.07853, -3.986463, -3.269198, -6.898737, -0.722868, -2.842775, -11.31525, 23.79644, -5.936418, 0.21805] },
    { index: 26, label: 8, pixels: "007ef40007f49c0006f14e00009de700002gg40000e73f4000g30d80007gga10", ort: [-5.451885, -2.68364, -2.503917, -3.692263, -3.167626, -5.265276, -4.846341, -4.117921, 13.97824, -1.026059] },
    { index: 6, label: 9, pixels: "01ege80005c5e90002f9dc0000388g2000000b600040088004e45e7001dgga10", ort: [-4.255253, -6.624297, -2.698752, 2.231286, -4.716856, 0.5906993, -8.250296, -6.609946, -2.726156, 12.07069] },
];

// Pen strokes for a few digits, on the 256x256 pad: lists of [x, y] points.
const arc = (cx, cy, rx, ry, from, to, n = 24) =>
    Array.from({ length: n + 1 }, (_, i) => {
        const a = ((from + ((to - from) * i) / n) * Math.PI) / 180;
        return [cx + rx * Math.cos(a), cy + ry * Math.sin(a)];
    });
const STROKES = {
    0: [arc(128, 128, 58, 88, 0, 360, 40)],
    1: [[[104, 70], [136, 44], [136, 214]]],
    2: [[...arc(126, 92, 52, 46, 200, 380), [82, 206], [182, 206]]],
    3: [[...arc(124, 84, 48, 40, 210, 450), ...arc(124, 164, 54, 44, 270, 510)]],
    4: [[[150, 44], [78, 160], [186, 160]], [[154, 96], [154, 216]]],
    5: [[[176, 48], [96, 48], [90, 118], ...arc(124, 158, 56, 50, 220, 500)]],
    7: [[[74, 52], [184, 52], [112, 214]]],
};

/** 8x8 values (0..16, row-major) -> the network's 32x32 input: bilinear, half-pixel centers. */
function upsample(v8) {
    const out = new Float32Array(SIDE * SIDE);
    const taps = (o) => {
        const src = Math.max((o + 0.5) * (8 / SIDE) - 0.5, 0);
        const i0 = Math.floor(src);
        return [i0, Math.min(i0 + 1, 7), src - i0];
    };
    for (let y = 0; y < SIDE; y++) {
        const [y0, y1, wy] = taps(y);
        for (let x = 0; x < SIDE; x++) {
            const [x0, x1, wx] = taps(x);
            const top = v8[y0 * 8 + x0] * (1 - wx) + v8[y0 * 8 + x1] * wx;
            const bottom = v8[y1 * 8 + x0] * (1 - wx) + v8[y1 * 8 + x1] * wx;
            out[y * SIDE + x] = ((top * (1 - wy) + bottom * wy) / 16 - 0.3) / 0.4;
        }
    }
    return out;
}

/** The drawing -> 8x8 values: the ink's bounding box scaled to fill the 32x32 bitmap (aspect
 * kept, centred), then the ink of each 4x4 block summed. Null when nothing is drawn. */
function drawingTo8x8(pad) {
    const { width, height } = pad;
    const ink = pad.getContext("2d").getImageData(0, 0, width, height).data;
    let [x0, y0, x1, y1] = [width, height, -1, -1];
    for (let y = 0; y < height; y++) {
        for (let x = 0; x < width; x++) {
            if (ink[(y * width + x) * 4] > 32) {
                x0 = Math.min(x0, x);
                y0 = Math.min(y0, y);
                x1 = Math.max(x1, x);
                y1 = Math.max(y1, y);
            }
        }
    }
    if (x1 < 0) return null;
    const w = x1 - x0 + 1;
    const h = y1 - y0 + 1;
    const scale = SIDE / Math.max(w, h);
    const small = new OffscreenCanvas(SIDE, SIDE);
    const g = small.getContext("2d", { willReadFrequently: true });
    g.imageSmoothingQuality = "high";
    g.fillStyle = "#000";
    g.fillRect(0, 0, SIDE, SIDE);
    g.drawImage(pad, x0, y0, w, h, (SIDE - w * scale) / 2, (SIDE - h * scale) / 2, w * scale, h * scale);
    const px = g.getImageData(0, 0, SIDE, SIDE).data;
    const v8 = new Float32Array(64);
    for (let y = 0; y < SIDE; y++) {
        for (let x = 0; x < SIDE; x++) {
            v8[(y >> 2) * 8 + (x >> 2)] += Math.min(1, (px[(y * SIDE + x) * 4] / 255) * 1.6);
        }
    }
    return v8;
}

function decode8x8(s) {
    return Float32Array.from(s, (c) => "0123456789abcdefg".indexOf(c));
}

function softmax(logits) {
    const m = Math.max(...logits);
    const e = logits.map((v) => Math.exp(v - m));
    const sum = e.reduce((a, b) => a + b, 0);
    return e.map((v) => v / sum);
}

const argmax = (v) => v.reduce((best, x, i) => (x > v[best] ? i : best), 0);

/** Shows a 32x32 input (normalized values) on a small canvas. */
function show(canvas, input) {
    const g = canvas.getContext("2d");
    const img = g.createImageData(SIDE, SIDE);
    for (let i = 0; i < SIDE * SIDE; i++) {
        const v = Math.max(0, Math.min(255, Math.round(((input[i] * 0.4 + 0.3) * 255))));
        img.data.set([v, v, v, 255], i * 4);
    }
    g.putImageData(img, 0, 0);
}

function setupBars() {
    const bars = document.getElementById("bars");
    for (let d = 0; d < 10; d++) {
        const li = document.createElement("li");
        li.innerHTML = `<span class="digit">${d}</span><span class="track"><span class="fill"></span></span><span class="pct"></span>`;
        bars.append(li);
    }
    return [...bars.children];
}

function showProbabilities(rows, probs) {
    const best = probs ? argmax(probs) : -1;
    rows.forEach((li, d) => {
        const p = probs ? probs[d] : 0;
        li.querySelector(".fill").style.width = `${(100 * p).toFixed(1)}%`;
        li.querySelector(".pct").textContent = probs ? `${(100 * p).toFixed(1)}%` : "";
        li.classList.toggle("best", d === best);
    });
    document.getElementById("answer").textContent = probs ? `${best}` : "";
}

function drawStrokes(g, strokes) {
    g.strokeStyle = "#fff";
    g.lineWidth = 18;
    g.lineCap = "round";
    g.lineJoin = "round";
    for (const line of strokes) {
        g.beginPath();
        line.forEach(([x, y], i) => (i ? g.lineTo(x, y) : g.moveTo(x, y)));
        g.stroke();
    }
}

function selfTest(net, section) {
    const rows = [];
    let passed = 0;
    let worst = 0;
    for (const t of TEST_DIGITS) {
        const logits = net.forward(upsample(decode8x8(t.pixels)));
        const predicted = argmax(Array.from(logits));
        let diff = 0;
        let scale = 0;
        for (let i = 0; i < 10; i++) {
            diff = Math.max(diff, Math.abs(logits[i] - t.ort[i]));
            scale = Math.max(scale, Math.abs(t.ort[i]));
        }
        const rel = diff / scale;
        worst = Math.max(worst, rel);
        const ok = predicted === t.label && rel <= 1e-4;
        passed += ok;
        rows.push(`<tr class="${ok ? "pass" : "fail"}" data-label="${t.label}" data-predicted="${predicted}"><td>test image ${t.index}</td><td>${t.label}</td><td>${predicted}</td><td>${rel.toExponential(1)} of max |ort|</td><td>${ok ? "ok" : "FAIL"}</td></tr>`);
    }
    // The drawing path too: pen strokes on a pad, through the same preprocessing.
    let drawnPassed = 0;
    const drawn = Object.keys(STROKES);
    for (const d of drawn) {
        const pad = new OffscreenCanvas(256, 256);
        const g = pad.getContext("2d", { willReadFrequently: true });
        g.fillStyle = "#000";
        g.fillRect(0, 0, 256, 256);
        drawStrokes(g, STROKES[d]);
        const probs = softmax(Array.from(net.forward(upsample(drawingTo8x8(pad)))));
        const predicted = argmax(probs);
        const ok = predicted === Number(d);
        drawnPassed += ok;
        rows.push(`<tr class="${ok ? "pass" : "fail"}" data-label="${d}" data-predicted="${predicted}"><td>strokes</td><td>${d}</td><td>${predicted}</td><td>p = ${probs[predicted].toFixed(3)}</td><td>${ok ? "ok" : "FAIL"}</td></tr>`);
    }
    const total = TEST_DIGITS.length + drawn.length;
    const all = passed + drawnPassed;
    section.innerHTML = `<div class="card"><h2 style="font-size:16px;margin:0 0 8px">Self-test</h2>
<p id="selftest-summary" data-passed="${all}" data-total="${total}">selftest ${all === total ? "passed" : "FAILED"}: ${passed}/${TEST_DIGITS.length} test digits classified as labelled with logits within ${worst.toExponential(1)} of max |ONNX Runtime| (limit 1e-4), ${drawnPassed}/${drawn.length} drawn digits recognized; kernels ${net.tier}</p>
<table><tr><th>input</th><th>label</th><th>predicted</th><th>check</th><th></th></tr>${rows.join("")}</table></div>`;
    section.hidden = false;
}

async function main() {
    const status = document.getElementById("status");
    const rows = setupBars();
    let net;
    let size = "";
    try {
        const response = await fetch("digits.wasm");
        if (!response.ok) throw new Error(`digits.wasm: HTTP ${response.status} (build it with generated/web/build.sh)`);
        const bytes = await response.arrayBuffer();
        size = `${(bytes.byteLength / 1e6).toFixed(1)} MB`;
        net = await loadNetwork(bytes);
    } catch (e) {
        status.textContent = `could not load the network: ${e.message}`;
        status.dataset.error = "1";
        throw e;
    }
    const pad = document.getElementById("pad");
    const seen = document.getElementById("seen");
    const g = pad.getContext("2d", { willReadFrequently: true });
    const clear = () => {
        g.fillStyle = "#000";
        g.fillRect(0, 0, pad.width, pad.height);
        show(seen, new Float32Array(SIDE * SIDE).fill(-0.75));
        showProbabilities(rows, null);
    };
    const classify = () => {
        const v8 = drawingTo8x8(pad);
        if (!v8) return showProbabilities(rows, null);
        const input = upsample(v8);
        show(seen, input);
        const start = performance.now();
        const logits = net.forward(input);
        const ms = performance.now() - start;
        showProbabilities(rows, softmax(Array.from(logits)));
        // (Headless screenshots run on a virtual clock that reads 0.)
        status.textContent = `kernels: ${net.tier} · module ${size}` + (ms > 0 ? ` · last forward ${ms.toFixed(2)} ms` : "");
    };
    clear();
    status.textContent = `kernels: ${net.tier} · module ${size} · draw a digit`;

    let drawing = false;
    let scheduled = false;
    const at = (e) => {
        const r = pad.getBoundingClientRect();
        return [((e.clientX - r.left) * pad.width) / r.width, ((e.clientY - r.top) * pad.height) / r.height];
    };
    g.lineCap = "round";
    g.lineJoin = "round";
    pad.addEventListener("pointerdown", (e) => {
        drawing = true;
        pad.setPointerCapture(e.pointerId);
        g.strokeStyle = "#fff";
        g.lineWidth = 18;
        g.beginPath();
        g.moveTo(...at(e));
        g.lineTo(...at(e));
        g.stroke();
    });
    pad.addEventListener("pointermove", (e) => {
        if (!drawing) return;
        g.lineTo(...at(e));
        g.stroke();
        if (!scheduled) {
            scheduled = true;
            requestAnimationFrame(() => {
                scheduled = false;
                classify();
            });
        }
    });
    const end = () => {
        if (drawing) classify();
        drawing = false;
    };
    pad.addEventListener("pointerup", end);
    pad.addEventListener("pointercancel", end);
    document.getElementById("clear").addEventListener("click", clear);

    const params = new URLSearchParams(location.search);
    if (params.has("show")) {
        // Puts test digit N on the pad (for screenshots): its 8x8 values, drawn large.
        const t = TEST_DIGITS[Number(params.get("show")) % TEST_DIGITS.length];
        const v8 = decode8x8(t.pixels);
        for (let i = 0; i < 64; i++) {
            const v = Math.round((v8[i] / 16) * 255);
            g.fillStyle = `rgb(${v},${v},${v})`;
            g.fillRect((i % 8) * 32, Math.floor(i / 8) * 32, 32, 32);
        }
        classify();
    }
    if (params.has("draw")) {
        // Draws the built-in strokes of a digit, as a person would (for screenshots).
        drawStrokes(g, STROKES[params.get("draw")] ?? []);
        classify();
    }
    if (params.has("selftest")) selfTest(net, document.getElementById("selftest"));
}

main();
