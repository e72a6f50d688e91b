mod net {
    ghostnet_macros::ghostnet!(onnx = "ui-files/not-onnx.onnx");
}

fn main() {
    let _ = net::Net::new();
}
