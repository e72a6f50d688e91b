mod net {
    ghostnet_macros::ghostnet!(alpha 1.3);
}

fn main() {
    let _ = net::Net::new();
}
