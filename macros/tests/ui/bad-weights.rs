mod not_safetensors {
    ghostnet_macros::ghostnet!(alpha = 0.5, weights = "ui-files/not-safetensors.safetensors");
}

mod wrong_network {
    ghostnet_macros::ghostnet!(alpha = 0.5, weights = "ui-files/tiny.safetensors");
}

fn main() {
    let _ = (not_safetensors::Net::new(), wrong_network::Net::new());
}
