//! A network compiled by `ghostc` as a WebAssembly module that JavaScript calls directly:
//! no dependencies, no generated glue. Here the digits GhostNet (`generated/digits/net.rs`,
//! the golden output); the benchmark and CI build the same file around other networks.
//!
//! Exports (all `extern "C"`, sizes in `f32`s, pointers into the module's `memory`):
//! - `ghostnet_input() -> *mut f32`: where the caller writes one input (`INPUT_LEN`, NCHW);
//! - `ghostnet_output() -> *const f32`: where `ghostnet_forward` leaves the output;
//! - `ghostnet_forward()`: runs the network;
//! - `ghostnet_input_len()`, `ghostnet_output_len()`;
//! - `ghostnet_tier_name() -> *const u8` and `ghostnet_tier_name_len()`: the kernel tier,
//!   `simd128` or `scalar`, as UTF-8.
//!
//! The first call of any of them but the two lengths allocates the network's memory, which
//! may grow `memory`: take views of it after that call.
//!
//! Build with `-C target-feature=+simd128` (the repository's `.cargo/config.toml` does) for
//! the SIMD kernels; without it the module runs the scalar ones on engines without SIMD.

#[path = "../../digits/net.rs"]
mod net;

use core::cell::UnsafeCell;

#[cfg(all(target_family = "wasm", target_feature = "atomics"))]
compile_error!("these exports keep their state in a static that assumes one thread");

/// The network and its input and output buffers, allocated by the first exported call (as
/// statics they would sit in the module's data, 600 KB for a 224x224 input).
struct State {
    net: net::Net,
    input: Box<[f32; net::INPUT_LEN]>,
    output: Box<[f32; net::OUTPUT_LEN]>,
}

struct Global(UnsafeCell<Option<State>>);

// SAFETY: WebAssembly without the atomics feature (checked above) has one thread, so the
// state is never touched by two at once.
unsafe impl Sync for Global {}

static STATE: Global = Global(UnsafeCell::new(None));

/// The state, for the duration of one exported call.
fn state() -> &'static mut State {
    // SAFETY: one thread (see `Global`), and every exported function drops the reference
    // before it returns, so no two references to the state are alive at once.
    let slot = unsafe { &mut *STATE.0.get() };
    slot.get_or_insert_with(|| State { net: net::Net::new(), input: zeros(), output: zeros() })
}

fn zeros<const N: usize>() -> Box<[f32; N]> {
    match vec![0f32; N].into_boxed_slice().try_into() {
        Ok(b) => b,
        Err(_) => unreachable!("a slice of N values"),
    }
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
    net.forward(input, output);
}

#[unsafe(no_mangle)]
pub extern "C" fn ghostnet_tier_name() -> *const u8 {
    state().net.isa().name().as_ptr()
}

#[unsafe(no_mangle)]
pub extern "C" fn ghostnet_tier_name_len() -> usize {
    state().net.isa().name().len()
}
