mod net {
    ghostnet_macros::ghostnet!(alpha = 0, classes = 0, onnx_file = "a.onnx", weights = "missing.safetensors", alpha = 2.0);
}

fn main() {
    let mut y = [0f32; net::OUTPUT_LEN];
    net::Net::new().forward(&[0.0; net::INPUT_LEN], &mut y);
}
