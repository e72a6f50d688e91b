pub use self::rt::detect::IsaError;

/// The compiled network.
#[allow(dead_code)]
pub struct Net {
    arena: Box<[f32]>,
    isa: Isa,
    /// The threads of `forward_threads`, started by its first call.
    #[cfg(not(all(target_family = "wasm", not(target_feature = "atomics"))))]
    team: Option<rt::team::Team>,
}

#[allow(dead_code)]
impl Net {
    /// Allocates the arena and picks the kernel tier: `GHOSTNET_ISA` if set, else the best
    /// this CPU supports.
    ///
    /// # Panics
    /// If `GHOSTNET_ISA` names a tier this CPU cannot run; see [`Net::try_new`].
    pub fn new() -> Self {
        match Self::try_new() {
            Ok(net) => net,
            Err(e) => panic!("{e}"),
        }
    }

    /// Like [`Net::new`], returning an error for an unusable `GHOSTNET_ISA`.
    pub fn try_new() -> Result<Self, IsaError> {
        Ok(Self::with_isa(rt::detect::select()?))
    }

    /// Uses tier `isa`.
    ///
    /// # Panics
    /// If this CPU cannot run `isa`.
    pub fn with_isa(isa: Isa) -> Self {
        assert!(isa.supported(), "this CPU cannot run the {} kernels", isa.name());
        Net {
            arena: vec![0.0; ARENA_LEN].into_boxed_slice(),
            isa,
            #[cfg(not(all(target_family = "wasm", not(target_feature = "atomics"))))]
            team: None,
        }
    }

    /// The kernel tier in use.
    pub fn isa(&self) -> Isa {
        self.isa
    }

    /// Runs the network on one thread. Never allocates.
    pub fn forward(&mut self, input: &[f32; INPUT_LEN], output: &mut [f32; OUTPUT_LEN]) {
        forward(self.isa, &mut self.arena, input, output);
    }

    /// Runs the network with every layer's work split over `threads` threads: this one and
    /// `threads - 1` kept for later calls (the first call, or one with a new count, starts
    /// them). The result is bit for bit `forward`'s.
    #[cfg(not(all(target_family = "wasm", not(target_feature = "atomics"))))]
    pub fn forward_threads(&mut self, input: &[f32; INPUT_LEN], output: &mut [f32; OUTPUT_LEN], threads: usize) {
        let threads = threads.max(1);
        if threads == 1 {
            return self.forward(input, output);
        }
        let isa = self.isa;
        let team = match &mut self.team {
            Some(team) if team.threads() == threads => team,
            slot => slot.insert(rt::team::Team::new(threads)),
        };
        let count = team.threads();
        for n in 0..BATCH {
            let image = &input[n * IMAGE_LEN..(n + 1) * IMAGE_LEN];
            // SAFETY: every thread runs `run`, the same sequence of `Ctx` calls; each call
            // computes only its own part of the kernel's output and then waits on the barrier.
            let shared = unsafe { rt::isa::SharedArena::new(rt::isa::Arena::new(&mut self.arena)) };
            team.run(&|index, barrier| {
                let part = Part { index, count };
                run(&Ctx { isa, arena: shared.get(), weights: weights(), input: image, part, barrier: Some(barrier) });
            });
            copy_output(rt::isa::Arena::new(&mut self.arena), n, output);
        }
    }

    /// [`Net::forward`]: WebAssembly without the `atomics` target feature (`wasm32-wasip1`,
    /// `wasm32-unknown-unknown`) has no threads, so every layer runs on this one.
    #[cfg(all(target_family = "wasm", not(target_feature = "atomics")))]
    pub fn forward_threads(&mut self, input: &[f32; INPUT_LEN], output: &mut [f32; OUTPUT_LEN], _threads: usize) {
        self.forward(input, output);
    }
}

#[allow(dead_code)]
impl Default for Net {
    fn default() -> Self {
        Self::new()
    }
}
