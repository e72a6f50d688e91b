mod zero {
    ghostnet_macros::ghostnet!(alpha = 0.0);
}

mod negative {
    ghostnet_macros::ghostnet!(alpha = -1.3);
}

mod overflow {
    ghostnet_macros::ghostnet!(alpha = 1e40);
}

fn main() {
    let _ = (zero::Net::new(), negative::Net::new(), overflow::Net::new());
}
