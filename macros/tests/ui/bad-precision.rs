mod a {
    ghostnet_macros::ghostnet!(alpha = 0.5, precision = "fp8");
}

mod b {
    ghostnet_macros::ghostnet!(alpha = 0.5, precision = bf16);
}



mod c {
    ghostnet_macros::ghostnet!(alpha = 0.5, calibrate = "calib.bin", keep_float = ["classifier"]);
}

mod d {
    ghostnet_macros::ghostnet!(alpha = 0.5, precision = "int8");
}

mod e {
    ghostnet_macros::ghostnet!(alpha = 0.5, precision = "int8", calibrate = "missing.bin", keep_float = "classifier", int8_budget = "high");
}
fn main() {}
