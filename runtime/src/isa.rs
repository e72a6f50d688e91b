//! The types every kernel shares: the instruction-set tier, the fused activation, the
//! arena handle, and the part of a layer one thread computes.

use core::marker::PhantomData;

/// A kernel tier: the instructions the kernels may use. Each tier includes the ones
/// before it on its architecture; the `f32` kernels of a tier are those of its
/// [`Isa::base`], the 8-bit integer kernels use the dot-product instructions it adds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Isa {
    /// Portable plain loops; the reference every other tier is tested against.
    Scalar,
    /// x86-64 AVX2 with FMA.
    Avx2,
    /// AVX2 with AVX-VNNI (256-bit `vpdpbusd`).
    AvxVnni,
    /// x86-64 AVX-512F.
    Avx512,
    /// AVX-512F with AVX512_VNNI (512-bit `vpdpbusd`).
    Avx512Vnni,
    /// AArch64 Advanced SIMD.
    Neon,
    /// Advanced SIMD with the dot-product extension (`sdot`).
    NeonDot,
    /// WebAssembly SIMD (`simd128`), in wasm32 builds with that target feature.
    Simd128,
}

impl Isa {
    /// Every tier, best last on each architecture.
    pub const ALL: [Isa; 8] = [Isa::Scalar, Isa::Avx2, Isa::AvxVnni, Isa::Avx512, Isa::Avx512Vnni, Isa::Neon, Isa::NeonDot, Isa::Simd128];

    /// The name used by `GHOSTNET_ISA`.
    pub fn name(self) -> &'static str {
        match self {
            Isa::Scalar => "scalar",
            Isa::Avx2 => "avx2",
            Isa::AvxVnni => "avxvnni",
            Isa::Avx512 => "avx512",
            Isa::Avx512Vnni => "avx512vnni",
            Isa::Neon => "neon",
            Isa::NeonDot => "neondot",
            Isa::Simd128 => "simd128",
        }
    }

    /// The tier whose `f32` kernels this one runs: the tier without its dot-product
    /// extension.
    pub fn base(self) -> Isa {
        match self {
            Isa::AvxVnni => Isa::Avx2,
            Isa::Avx512Vnni => Isa::Avx512,
            Isa::NeonDot => Isa::Neon,
            other => other,
        }
    }

    pub fn from_name(name: &str) -> Option<Isa> {
        Isa::ALL.into_iter().find(|i| i.name() == name)
    }

    /// Whether this build contains the tier's kernels (they exist only for their
    /// architecture).
    pub fn compiled_in(self) -> bool {
        match self {
            Isa::Scalar => true,
            Isa::Avx2 | Isa::AvxVnni | Isa::Avx512 | Isa::Avx512Vnni => cfg!(target_arch = "x86_64"),
            Isa::Neon | Isa::NeonDot => cfg!(target_arch = "aarch64"),
            Isa::Simd128 => cfg!(all(target_arch = "wasm32", target_feature = "simd128")),
        }
    }

    /// Whether this build has the tier and this CPU can run it (detected once, cached).
    pub fn supported(self) -> bool {
        match self {
            Isa::Scalar => true,
            #[cfg(target_arch = "x86_64")]
            Isa::Avx2 => super::x86::has_avx2(),
            #[cfg(target_arch = "x86_64")]
            Isa::AvxVnni => super::x86::has_avx2() && super::x86::has_avxvnni(),
            #[cfg(target_arch = "x86_64")]
            Isa::Avx512 => super::x86::has_avx512(),
            #[cfg(target_arch = "x86_64")]
            Isa::Avx512Vnni => super::x86::has_avx512() && super::x86::has_avx512vnni(),
            #[cfg(target_arch = "aarch64")]
            Isa::Neon => true,
            #[cfg(target_arch = "aarch64")]
            Isa::NeonDot => super::neon::has_dotprod(),
            // WebAssembly has no run-time detection: an engine that lacks simd128 refuses
            // the whole module.
            #[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
            Isa::Simd128 => true,
            #[allow(unreachable_patterns)]
            _ => false,
        }
    }

    /// The best tier this CPU supports.
    pub fn best() -> Isa {
        [Isa::Avx512Vnni, Isa::Avx512, Isa::AvxVnni, Isa::Avx2, Isa::NeonDot, Isa::Neon, Isa::Simd128].into_iter().find(|i| i.supported()).unwrap_or(Isa::Scalar)
    }

    /// The best tier the compile-time target features guarantee; the selection for
    /// `no_std` builds, which cannot ask the CPU.
    pub fn from_target_features() -> Isa {
        if cfg!(all(target_arch = "x86_64", target_feature = "avx512f", target_feature = "avx512vnni")) {
            Isa::Avx512Vnni
        } else if cfg!(all(target_arch = "x86_64", target_feature = "avx512f")) {
            Isa::Avx512
        } else if cfg!(all(target_arch = "x86_64", target_feature = "avx2", target_feature = "fma", target_feature = "avxvnni")) {
            Isa::AvxVnni
        } else if cfg!(all(target_arch = "x86_64", target_feature = "avx2", target_feature = "fma")) {
            Isa::Avx2
        } else if cfg!(all(target_arch = "aarch64", target_feature = "neon")) {
            Isa::Neon
        } else if cfg!(all(target_arch = "wasm32", target_feature = "simd128")) {
            Isa::Simd128
        } else {
            Isa::Scalar
        }
    }
}

/// Activation fused into a kernel's epilogue.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Act {
    None,
    /// `max(x, 0)`.
    Relu,
    /// `clamp(x, min, max)`.
    Clip { min: f32, max: f32 },
    /// `clamp(alpha * x + beta, 0, 1)`.
    HardSigmoid { alpha: f32, beta: f32 },
    /// `1 / (1 + exp(-x))`.
    Sigmoid,
}

impl Act {
    #[inline(always)]
    // max-then-min, not `clamp`: a NaN becomes the lower bound, as in the vector kernels.
    #[allow(clippy::manual_clamp)]
    pub fn apply(self, x: f32) -> f32 {
        match self {
            Act::None => x,
            Act::Relu => x.max(0.0),
            Act::Clip { min, max } => x.max(min).min(max),
            Act::HardSigmoid { alpha, beta } => (alpha * x + beta).max(0.0).min(1.0),
            Act::Sigmoid => 1.0 / (1.0 + exp(-x)),
        }
    }
}

/// `e^x` for `f32` without `std`: range reduction to `2^k * e^r`, `|r| <= ln(2)/2`, and a
/// degree-7 Taylor polynomial (relative error below 1e-7 on the reduced range).
pub fn exp(x: f32) -> f32 {
    if x.is_nan() {
        return x;
    }
    if x > 88.72 {
        return f32::INFINITY;
    }
    if x < -103.97 {
        return 0.0;
    }
    let x = x as f64;
    // Round to nearest (core has no `f64::round`); |t| < 151 here, so the cast is exact.
    let t = x * core::f64::consts::LOG2_E;
    let k = (if t >= 0.0 { t + 0.5 } else { t - 0.5 }) as i64 as f64;
    let r = x - k * core::f64::consts::LN_2;
    let mut p = 1.0 / 5040.0;
    for c in [1.0 / 720.0, 1.0 / 120.0, 1.0 / 24.0, 1.0 / 6.0, 0.5, 1.0, 1.0] {
        p = p * r + c;
    }
    // 2^k for k in [-150, 128], built from exponent bits in two steps to stay normal.
    let k = k as i32;
    let half = k / 2;
    let two = |e: i32| f64::from_bits(((e + 1023) as u64) << 52);
    (p * two(half) * two(k - half)) as f32
}

/// `x` rounded to the nearest bfloat16, ties to even, as its 16 bits (the high half of an
/// `f32`). A NaN stays a NaN; values past the largest bfloat16 round to infinity.
pub fn bf16_bits(x: f32) -> u16 {
    let b = x.to_bits();
    if x.is_nan() {
        return ((b >> 16) | 0x40) as u16;
    }
    ((b + 0x7fff + ((b >> 16) & 1)) >> 16) as u16
}

/// The `f32` a bfloat16 stands for (exact).
pub fn bf16_value(h: u16) -> f32 {
    f32::from_bits((h as u32) << 16)
}

/// `x` rounded to bfloat16 precision: [`bf16_value`] of [`bf16_bits`].
pub fn bf16_round(x: f32) -> f32 {
    bf16_value(bf16_bits(x))
}

/// Which share of a layer's work a call computes: part `index` of `count`.
///
/// Kernels split their output into `count` disjoint ranges and compute only range
/// `index`, so threads running the parts of one layer never write the same element.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Part {
    pub index: usize,
    pub count: usize,
}

impl Part {
    /// The whole layer.
    pub const ALL: Part = Part { index: 0, count: 1 };

    /// The range of `0..n` this part owns, in whole multiples of `grain` (the last part
    /// takes the remainder).
    pub fn range(self, n: usize, grain: usize) -> core::ops::Range<usize> {
        let grain = grain.max(1);
        let units = n.div_ceil(grain);
        let count = self.count.max(1);
        let start = (units * self.index / count * grain).min(n);
        let end = (units * (self.index + 1) / count * grain).min(n);
        start..end
    }
}

/// The activation memory of one network: a mutable `f32` buffer that the kernels of a
/// layer read and write at planned offsets.
///
/// It holds a raw pointer so that the parts of one layer can run on several threads at
/// once; creating it borrows the buffer mutably for `'a`, so nothing else touches it
/// meanwhile. Kernels check every range they touch against `len`.
#[derive(Clone, Copy, Debug)]
pub struct Arena<'a> {
    ptr: *mut f32,
    len: usize,
    _buf: PhantomData<&'a mut [f32]>,
}

impl<'a> Arena<'a> {
    pub fn new(buf: &'a mut [f32]) -> Self {
        Arena { ptr: buf.as_mut_ptr(), len: buf.len(), _buf: PhantomData }
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Pointer to element `offset`, after checking that `offset..offset + extent` is inside.
    ///
    /// # Panics
    /// If the range leaves the arena: a planning bug, never memory unsafety.
    #[inline]
    pub fn at(&self, offset: usize, extent: usize) -> *mut f32 {
        assert!(
            offset.checked_add(extent).is_some_and(|end| end <= self.len),
            "arena access {offset}+{extent} is outside the arena of {}",
            self.len
        );
        // SAFETY: offset <= len (checked above), so the result stays inside the allocation
        // or one past its end.
        unsafe { self.ptr.add(offset) }
    }
}

/// An `Arena` that may cross threads; see [`SharedArena::new`].
#[derive(Clone, Copy, Debug)]
pub struct SharedArena<'a>(Arena<'a>);

impl<'a> SharedArena<'a> {
    /// # Safety
    /// Threads sharing the arena only run disjoint parts ([`Part`]) of the same kernel
    /// call at the same time, and wait on a common barrier between calls.
    pub unsafe fn new(arena: Arena<'a>) -> Self {
        SharedArena(arena)
    }

    pub fn get(self) -> Arena<'a> {
        self.0
    }
}

// SAFETY: see the type's contract; the creator guarantees disjoint writes per layer and
// synchronization between layers.
unsafe impl Send for SharedArena<'_> {}
// SAFETY: as above.
unsafe impl Sync for SharedArena<'_> {}

/// Extent (in elements) of `rows` rows of `width` elements laid out `stride` apart.
#[inline]
pub fn extent(rows: usize, stride: usize, width: usize) -> usize {
    if rows == 0 || width == 0 { 0 } else { (rows - 1) * stride + width }
}

/// Where a kernel reads an operand from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Src {
    /// Offset into the packed weight blob.
    Weights(usize),
    /// Offset into the arena.
    Arena(usize),
    /// Offset into the caller's input image (NCHW, as given).
    Input(usize),
}
