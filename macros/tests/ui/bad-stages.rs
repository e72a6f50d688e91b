mod text {
    ghostnet_macros::ghostnet!(alpha = 1.0, stages = "[[[3, 16, 16, 0]]]");
}

mod short_row {
    ghostnet_macros::ghostnet!(alpha = 1.0, stages = [[[3, 16, 16, 0, 1]], [[3, 48, 24, 2]]]);
}

mod bad_values {
    ghostnet_macros::ghostnet!(alpha = 1.0, stages = [[[4, 16, 16, 1.5, 0]], []]);
}

mod not_rows {
    ghostnet_macros::ghostnet!(alpha = 1.0, stages = [[3, 16, 16, 0, 1]]);
}

fn main() {}
