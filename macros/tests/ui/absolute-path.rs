mod net {
    ghostnet_macros::ghostnet!(onnx = "/models/net.onnx");
}

fn main() {
    let _ = net::Net::new();
}
