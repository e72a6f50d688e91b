/// The packed weights as `f32`s.
fn weights() -> &'static [f32] {
    let bytes = &WEIGHT_BYTES.0;
    assert!(bytes.len() == WEIGHTS_LEN * 4, "the weights file does not match this network");
    // SAFETY: the bytes are 64-byte aligned (`Aligned`), hold exactly WEIGHTS_LEN f32s
    // (checked above), and every bit pattern is a valid f32.
    unsafe { core::slice::from_raw_parts(bytes.as_ptr().cast::<f32>(), WEIGHTS_LEN) }
}

/// Runs every image of `input` through the layers on one thread.
fn forward(isa: Isa, arena: &mut [f32], input: &[f32; INPUT_LEN], output: &mut [f32; OUTPUT_LEN]) {
    for n in 0..BATCH {
        let image = &input[n * IMAGE_LEN..(n + 1) * IMAGE_LEN];
        let arena_handle = rt::isa::Arena::new(arena);
        run(&Ctx { isa, arena: arena_handle, weights: weights(), input: image, part: Part::ALL, barrier: None });
        copy_output(rt::isa::Arena::new(arena), n, output);
    }
}
