mod net {
    ghostnet_macros::ghostnet!(alpha, weights);
}

fn main() {
    let _ = net::Net::new();
}
