//! The FMA bound of one core: fused multiply-adds per second with every register busy.

use std::time::Instant;

use ghostnet_runtime::isa::Isa;

/// Measured peak of `isa` on this core, in GFLOP/s (2 flops per lane per FMA).
pub fn gflops(isa: Isa) -> f64 {
    let n = 20_000_000u64;
    let t = Instant::now();
    let lanes = match isa {
        #[cfg(target_arch = "x86_64")]
        Isa::Avx512 if isa.supported() => {
            // SAFETY: the CPU supports AVX-512F (checked by the guard).
            unsafe { x86::avx512(n) };
            16
        }
        #[cfg(target_arch = "x86_64")]
        Isa::Avx2 if isa.supported() => {
            // SAFETY: the CPU supports AVX2 and FMA (checked by the guard).
            unsafe { x86::avx2(n) };
            8
        }
        _ => {
            let mut a = [1f32; 8];
            let b = std::hint::black_box(0.999_999f32);
            for _ in 0..n {
                for x in &mut a {
                    *x = x.mul_add(b, 1e-6);
                }
            }
            std::hint::black_box(a);
            return (n * 8 * 2) as f64 / t.elapsed().as_secs_f64() / 1e9;
        }
    };
    (n * 12 * lanes * 2) as f64 / t.elapsed().as_secs_f64() / 1e9
}

#[cfg(target_arch = "x86_64")]
mod x86 {
    use std::arch::x86_64::*;

    /// # Safety
    /// The CPU supports AVX-512F.
    #[target_feature(enable = "avx512f")]
    pub unsafe fn avx512(n: u64) {
        let mut a = [_mm512_set1_ps(1.0); 12];
        let b = _mm512_set1_ps(std::hint::black_box(0.999_999));
        let c = _mm512_set1_ps(1e-6);
        for _ in 0..std::hint::black_box(n) {
            for x in a.iter_mut() {
                *x = _mm512_fmadd_ps(*x, b, c);
            }
        }
        std::hint::black_box(a);
    }

    /// # Safety
    /// The CPU supports AVX2 and FMA.
    #[target_feature(enable = "avx2,fma")]
    pub unsafe fn avx2(n: u64) {
        let mut a = [_mm256_set1_ps(1.0); 12];
        let b = _mm256_set1_ps(std::hint::black_box(0.999_999));
        let c = _mm256_set1_ps(1e-6);
        for _ in 0..std::hint::black_box(n) {
            for x in a.iter_mut() {
                *x = _mm256_fmadd_ps(*x, b, c);
            }
        }
        std::hint::black_box(a);
    }
}
