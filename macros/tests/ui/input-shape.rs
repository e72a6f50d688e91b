mod three_dims {
    ghostnet_macros::ghostnet!(alpha = 1.0, input = [1, 3, 224]);
}

mod zero_dim {
    ghostnet_macros::ghostnet!(alpha = 1.0, input = [1, 0, 224, 2.5]);
}

mod not_a_list {
    ghostnet_macros::ghostnet!(alpha = 1.0, input = "1x3x224x224");
}

fn main() {}
