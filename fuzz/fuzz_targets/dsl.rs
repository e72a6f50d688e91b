#![no_main]
use arbitrary::{Arbitrary, Unstructured};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    ghostnet_fuzz::remember(data);
    if let Ok(input) = ghostnet_fuzz::DslInput::arbitrary_take_rest(Unstructured::new(data)) {
        ghostnet_fuzz::dsl(&input);
    }
});
