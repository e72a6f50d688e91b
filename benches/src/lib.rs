//! The networks the benchmarks run, compiled by `build.rs`, and the FMA-bound measurement
//! the kernel benchmarks report against.

include!(concat!(env!("OUT_DIR"), "/nets.rs"));

pub mod peak;
