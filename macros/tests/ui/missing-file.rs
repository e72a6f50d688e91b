mod onnx {
    ghostnet_macros::ghostnet!(onnx = "models/missing.onnx");
}

mod weights {
    ghostnet_macros::ghostnet!(alpha = 1.3, weights = "weights/missing.safetensors");
}

mod folder {
    ghostnet_macros::ghostnet!(onnx = "ui-files/folder.onnx");
}

mod empty {
    ghostnet_macros::ghostnet!(onnx = "");
}

fn main() {
    let _ = (onnx::Net::new(), weights::Net::new(), folder::Net::new(), empty::Net::new());
}
