mod chans {
    ghostnet_macros::ghostnet!(alpha = 1.0, input = [1, 3, 64, 64], in_chans = 1);
}

mod seed_and_weights {
    ghostnet_macros::ghostnet!(alpha = 0.5, weights = "ui-files/tiny.safetensors", seed = 7);
}

fn main() {}
