mod empty {
    ghostnet_macros::ghostnet!();
}

mod only_input {
    ghostnet_macros::ghostnet!(input = [1, 3, 224, 224], no_std);
}

fn main() {
    let _ = empty::Net::new();
    let mut arena = [0f32; only_input::ARENA_LEN];
    let _ = only_input::Net::new(&mut arena);
}
