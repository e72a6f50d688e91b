//! Static memory planning: every buffer gets an offset in one arena so that buffers alive
//! at the same time never overlap.

/// A buffer to place: `size` elements, alive from step `start` to step `end` inclusive.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Lifetime {
    pub size: usize,
    pub start: usize,
    pub end: usize,
}

/// Offsets are multiples of this many `f32`s (64 bytes, a cache line).
pub const ALIGN: usize = 16;

/// Assigns offsets: largest buffers first, each at the lowest aligned offset that does not
/// overlap a placed buffer whose lifetime intersects its own. Returns the offsets and the
/// arena length.
pub fn place(buffers: &[Lifetime]) -> (Vec<usize>, usize) {
    let mut order: Vec<usize> = (0..buffers.len()).collect();
    order.sort_by_key(|&i| (std::cmp::Reverse(buffers[i].size), buffers[i].start, i));
    let mut offsets = vec![0; buffers.len()];
    let mut placed: Vec<usize> = Vec::new();
    let mut total = 0;
    for i in order {
        let b = buffers[i];
        let mut taken: Vec<(usize, usize)> = placed
            .iter()
            .filter(|&&j| buffers[j].start <= b.end && b.start <= buffers[j].end)
            .map(|&j| (offsets[j], offsets[j] + buffers[j].size))
            .collect();
        taken.sort_unstable();
        let mut at = 0;
        for (lo, hi) in taken {
            if at + b.size <= lo {
                break;
            }
            at = at.max(hi.div_ceil(ALIGN) * ALIGN);
        }
        offsets[i] = at;
        total = total.max(at + b.size);
        placed.push(i);
    }
    (offsets, total.div_ceil(ALIGN) * ALIGN)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(buffers: &[Lifetime]) -> usize {
        let (off, total) = place(buffers);
        for i in 0..buffers.len() {
            assert_eq!(off[i] % ALIGN, 0);
            assert!(off[i] + buffers[i].size <= total);
            for j in 0..i {
                let (a, b) = (buffers[i], buffers[j]);
                let live = a.start <= b.end && b.start <= a.end;
                let apart = off[i] + a.size <= off[j] || off[j] + b.size <= off[i];
                assert!(!live || apart || a.size == 0 || b.size == 0, "buffers {i} and {j} overlap");
            }
        }
        total
    }

    #[test]
    fn a_chain_needs_only_two_buffers() {
        // x0 -> x1 -> x2 -> ...: each buffer lives across one step boundary.
        let chain: Vec<Lifetime> = (0..10).map(|i| Lifetime { size: 1000, start: i, end: i + 1 }).collect();
        assert_eq!(check(&chain), 2016);
    }

    #[test]
    fn random_lifetimes_never_overlap() {
        let mut s = 12345u64;
        let mut next = |m: usize| {
            s = s.wrapping_mul(6364136223846793005).wrapping_add(1);
            (s >> 33) as usize % m
        };
        for _ in 0..50 {
            let bufs: Vec<Lifetime> = (0..40)
                .map(|_| {
                    let start = next(30);
                    Lifetime { size: next(500) + 1, start, end: start + next(6) }
                })
                .collect();
            check(&bufs);
        }
    }
}
