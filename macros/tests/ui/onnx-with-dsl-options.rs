mod net {
    ghostnet_macros::ghostnet!(onnx = "ui-files/not-onnx.onnx", alpha = 1.0, classes = 10, input = [1, 1, 32, 32]);
}

fn main() {
    let _ = net::Net::new();
}
