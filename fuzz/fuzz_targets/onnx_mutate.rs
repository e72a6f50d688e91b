#![no_main]
use arbitrary::{Arbitrary, Unstructured};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    ghostnet_fuzz::remember(data);
    if let Ok(input) = ghostnet_fuzz::MutateInput::arbitrary_take_rest(Unstructured::new(data)) {
        ghostnet_fuzz::onnx_mutate(&input);
    }
});
