mod net {
    ghostnet_macros::ghostnet!(
        alpha = "1.3",
        classes = 1.5,
        in_chans = -3,
        seed = "7",
        version = 3,
        no_std = 1,
        weights = w,
        stages = 5,
    );
}

fn main() {
    let _ = net::Net::new();
}
