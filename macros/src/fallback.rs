//! What the macro returns next to its error: items with the generated module's names and
//! types, so that the caller's uses of `net::Net` and the constants add no errors of their
//! own (thiserror's `fallback.rs`). The crate never builds, so the bodies never run.

use proc_macro2::TokenStream;
use quote::quote;

/// The public items of a generated module as stubs, in `no_std` or std form.
pub fn stub(no_std: bool) -> TokenStream {
    let net = if no_std {
        quote! {
            pub type Arena = [f32; ARENA_LEN];
            pub struct Net<'a>(&'a mut Arena);
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
            pub struct Net;
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
    let consts = quote! {
        pub const INPUT_SHAPE: [usize; 4] = [1, 1, 1, 1];
        pub const INPUT_LEN: usize = 1;
        pub const OUTPUT_LEN: usize = 1;
        pub const ARENA_LEN: usize = 1;
    };
    let items: syn::File = syn::parse2(quote!(#consts #net)).expect("the stub parses");
    let items = items.items;
    quote!(#(#[allow(dead_code)] #items)*)
}
