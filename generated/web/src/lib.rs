//! A network compiled by `ghostc` as a WebAssembly module that JavaScript calls directly:
//! no dependencies, no generated glue. Here the digits GhostNet (`generated/digits/net.rs`,
//! the golden output); the benchmark and CI build the same file around other networks.
//!
//! Exports (all `extern "C"`, sizes in `f32`s, pointers into the module's `memory`):
//! - `ghostnet_input() -> *mut f32`: where the caller writes one input (`INPUT_LEN`, NCHW);
//! - `ghostnet_output() -> *const f32`: where `ghostnet_forward` leaves the output;
//! - `ghostnet_forward()`: runs the network (the first call allocates its arena, which may
//!   grow `memory`: take views of it after the call);
//! - `ghostnet_input_len()`, `ghostnet_output_len()`;
//! - `ghostnet_tier_name() -> *const u8` and `ghostnet_tier_name_len()`: the kernel tier,
//!   `simd128` or `scalar`, as UTF-8.
//!
//! Build with `-C target-feature=+simd128` (the repository's `.cargo/config.toml` does) for
//! the SIMD kernels; without it the module runs the scalar ones on engines without SIMD.

#[path = "../../digits/net.rs"]
mod net;

use core::cell::UnsafeCell;

#[cfg(all(target_family = "wasm", target_feature = "atomics"))]
compile_error!("these exports keep their state in a static that assumes one thread");

struct State {
    net: Option<net::Net>,
    input: [f32; net::INPUT_LEN],
    output: [f32; net::OUTPUT_LEN],
}

struct Global(UnsafeCell<State>);

// SAFETY: WebAssembly without the atomics feature (checked above) has one thread, so the
// state is never touched by two at once.
unsafe impl Sync for Global {}

static STATE: Global = Global(UnsafeCell::new(State { net: None, input: [0.0; net::INPUT_LEN], output: [0.0; net::OUTPUT_LEN] }));

/// The state, for the duration of one exported call.
fn state() -> &'static mut State {
    // SAFETY: one thread (see `Global`), and every exported function drops the reference
    // before it returns, so no two references to the state are alive at once.
    unsafe { &mut *STATE.0.get() }
}

fn net(s: &mut State) -> &mut net::Net {
    s.net.get_or_insert_with(net::Net::new)
}

#[unsafe(no_mangle)]
pub extern "C" fn ghostnet_input() -> *mut f32 {
    state().input.as_mut_ptr()
}

#[unsafe(no_mangle)]
pub extern "C" fn ghostnet_output() -> *const f32 {
    state().output.as_ptr()
}

#[unsafe(no_mangle)]
pub extern "C" fn ghostnet_input_len() -> usize {
    net::INPUT_LEN
}

#[unsafe(no_mangle)]
pub extern "C" fn ghostnet_output_len() -> usize {
    net::OUTPUT_LEN
}

#[unsafe(no_mangle)]
pub extern "C" fn ghostnet_forward() {
    let State { net, input, output } = state();
    net.get_or_insert_with(net::Net::new).forward(input, output);
}

#[unsafe(no_mangle)]
pub extern "C" fn ghostnet_tier_name() -> *const u8 {
    net(state()).isa().name().as_ptr()
}

#[unsafe(no_mangle)]
pub extern "C" fn ghostnet_tier_name_len() -> usize {
    net(state()).isa().name().len()
}
