//! `ghostnet!`: compiles a GhostNet into the calling crate.

use proc_macro::TokenStream;

/// Not available yet: the code generator lands first.
#[proc_macro]
pub fn ghostnet(_input: TokenStream) -> TokenStream {
    "::core::compile_error!(\"ghostnet!: not yet implemented; use the ghostc command line for now\");".parse().unwrap()
}
