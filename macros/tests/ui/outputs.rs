mod both {
    ghostnet_macros::ghostnet!(alpha = 0.5, features, outputs = ["flatten"]);
}
mod not_a_list {
    ghostnet_macros::ghostnet!(alpha = 0.5, outputs = "flatten");
}
mod not_names {
    ghostnet_macros::ghostnet!(alpha = 0.5, outputs = [1, ""]);
}
mod empty {
    ghostnet_macros::ghostnet!(alpha = 0.5, outputs = []);
}
mod unknown {
    ghostnet_macros::ghostnet!(alpha = 0.5, input = [1, 3, 32, 32], outputs = ["flatten", "nope"]);
}
mod features_on_onnx {
    ghostnet_macros::ghostnet!(onnx = "ui-files/not-onnx.onnx", features = 1);
}

fn main() {
    let _ = (both::OUTPUTS, unknown::OUTPUTS[0].offset);
}
