// Loads a network compiled by ghostc into WebAssembly with the exports of `src/lib.rs`, in a
// browser or in Node. No dependencies.
//
//     const net = await loadNetwork(bytes);   // ArrayBuffer, typed array or WebAssembly.Module
//     const logits = net.forward(input);      // Float32Array of net.inputLen -> of net.outputLen
//     net.tier                                // "simd128" or "scalar"

export async function loadNetwork(source) {
    const imported = source instanceof WebAssembly.Module
        ? await WebAssembly.instantiate(source, {})
        : (await WebAssembly.instantiate(source, {})).instance;
    const e = imported.exports;
    const inputLen = e.ghostnet_input_len();
    const outputLen = e.ghostnet_output_len();
    // The first call allocates the arena (memory may grow, detaching older views).
    e.ghostnet_forward();
    const tierBytes = new Uint8Array(e.memory.buffer, e.ghostnet_tier_name(), e.ghostnet_tier_name_len());
    const tier = new TextDecoder().decode(tierBytes.slice());
    let buffer = null;
    let input = null;
    let output = null;
    const views = () => {
        if (buffer !== e.memory.buffer) {
            buffer = e.memory.buffer;
            input = new Float32Array(buffer, e.ghostnet_input(), inputLen);
            output = new Float32Array(buffer, e.ghostnet_output(), outputLen);
        }
    };
    return {
        tier,
        inputLen,
        outputLen,
        /** Runs one input (NCHW, `inputLen` values); returns a copy of the output. */
        forward(x) {
            if (x.length !== inputLen) {
                throw new RangeError(`the network takes ${inputLen} input values, got ${x.length}`);
            }
            views();
            input.set(x);
            e.ghostnet_forward();
            views();
            return output.slice();
        },
    };
}
