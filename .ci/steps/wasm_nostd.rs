//! The library of the scratch crate `.ci/steps/wasm.sh` builds for wasm32-unknown-unknown
//! around the `no_std` form of a compiled network (`ghostc --no-std`, `src/net.rs`): no
//! allocator, the arena in a static, and the exports of `generated/web/src/lib.rs`, so that
//! `generated/web/ghostnet.js` loads it like the std form.
#![no_std]

mod net;

use core::cell::UnsafeCell;

#[cfg(all(target_family = "wasm", target_feature = "atomics"))]
compile_error!("these exports keep their state in a static that assumes one thread");

#[panic_handler]
fn panic(_: &core::panic::PanicInfo<'_>) -> ! {
    core::arch::wasm32::unreachable()
}

struct State {
    arena: net::Arena,
    input: [f32; net::INPUT_LEN],
    output: [f32; net::OUTPUT_LEN],
}

struct Global(UnsafeCell<State>);

// SAFETY: WebAssembly without the atomics feature (checked above) has one thread.
unsafe impl Sync for Global {}

static STATE: Global = Global(UnsafeCell::new(State { arena: [0.0; net::ARENA_LEN], input: [0.0; net::INPUT_LEN], output: [0.0; net::OUTPUT_LEN] }));

/// The state, for the duration of one exported call.
fn state() -> &'static mut State {
    // SAFETY: one thread, and every exported function drops the reference before it returns.
    unsafe { &mut *STATE.0.get() }
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
    let State { arena, input, output } = state();
    net::Net::new(arena).forward(input, output);
}

#[unsafe(no_mangle)]
pub extern "C" fn ghostnet_tier_name() -> *const u8 {
    net::Isa::best().name().as_ptr()
}

#[unsafe(no_mangle)]
pub extern "C" fn ghostnet_tier_name_len() -> usize {
    net::Isa::best().name().len()
}
