//! What the macro returns next to its error: items with the generated module's names and
//! types, so that the caller's uses of `net::Net` and the constants add no errors of their
//! own (thiserror's `fallback.rs`). The crate never builds, so the bodies never run.

use proc_macro2::TokenStream;
use quote::quote;

/// The public items of a generated module as stubs, in `no_std` or std form.
pub fn stub(no_std: bool) -> TokenStream {
    let net = if no_std {
        quote! {
            #[allow(dead_code)]
            pub type Arena = [f32; ARENA_LEN];
            #[allow(dead_code)]
            pub struct Net<'a>(&'a mut Arena);
            #[allow(dead_code)]
            impl<'a> Net<'a> {
                pub fn new(arena: &'a mut Arena) -> Self {
                    Net(arena)
                }
                pub fn forward(&mut self, _: &[f32; INPUT_LEN], _: &mut [f32; OUTPUT_LEN]) {
                    ::core::unreachable!()
                }
            }
        }
    } else {
        quote! {
            #[allow(dead_code)]
            pub struct Net;
            #[allow(dead_code)]
            impl Net {
                pub fn new() -> Self {
                    Net
                }
                pub fn forward(&mut self, _: &[f32; INPUT_LEN], _: &mut [f32; OUTPUT_LEN]) {
                    ::core::unreachable!()
                }
                pub fn forward_threads(&mut self, _: &[f32; INPUT_LEN], _: &mut [f32; OUTPUT_LEN], _: usize) {
                    ::core::unreachable!()
                }
            }
        }
    };
    quote! {
        #[allow(dead_code)]
        pub const INPUT_SHAPE: [usize; 4] = [1, 1, 1, 1];
        #[allow(dead_code)]
        pub const INPUT_LEN: usize = 1;
        #[allow(dead_code)]
        pub const OUTPUT_LEN: usize = 1;
        #[allow(dead_code)]
        pub const ARENA_LEN: usize = 1;
        #[allow(dead_code)]
        #[derive(Clone, Copy, Debug, PartialEq, Eq)]
        pub struct OutputInfo {
            pub name: &'static str,
            pub shape: &'static [usize],
            pub offset: usize,
            pub len: usize,
        }
        #[allow(dead_code)]
        pub const OUTPUTS: [OutputInfo; 1] = [OutputInfo { name: "", shape: &[1], offset: 0, len: 1 }];
        #net
    }
}
