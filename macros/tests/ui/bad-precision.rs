mod a {
    ghostnet_macros::ghostnet!(alpha = 0.5, precision = "fp8");
}

mod b {
    ghostnet_macros::ghostnet!(alpha = 0.5, precision = bf16);
}

fn main() {}
