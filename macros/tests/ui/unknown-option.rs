mod net {
    ghostnet_macros::ghostnet!(alpha = 1.0, depth = 3, widht = 2.0);
}

fn main() {
    let _ = net::Net::new();
}
