/// The activation memory `Net` needs; the caller provides it (`no_std`, no allocator).
#[allow(dead_code)]
pub type Arena = [f32; ARENA_LEN];

/// The compiled network.
#[allow(dead_code)]
pub struct Net<'a> {
    arena: &'a mut Arena,
    isa: Isa,
}

#[allow(dead_code)]
impl<'a> Net<'a> {
    /// Uses the best kernel tier this CPU supports.
    pub fn new(arena: &'a mut Arena) -> Self {
        Net { arena, isa: Isa::best() }
    }

    /// Uses tier `isa`.
    ///
    /// # Panics
    /// If this CPU cannot run `isa`.
    pub fn with_isa(arena: &'a mut Arena, isa: Isa) -> Self {
        assert!(isa.supported(), "this CPU cannot run the {} kernels", isa.name());
        Net { arena, isa }
    }

    /// The kernel tier in use.
    pub fn isa(&self) -> Isa {
        self.isa
    }

    /// Runs the network. Never allocates.
    pub fn forward(&mut self, input: &[f32; INPUT_LEN], output: &mut [f32; OUTPUT_LEN]) {
        forward(self.isa, &mut self.arena[..], input, output);
    }
}
