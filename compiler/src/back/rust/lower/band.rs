//! Running the early, wide layers in bands of rows.
//!
//! At 112x112 a GhostNet tensor of 48 channels is 2.4 MB, more than a core's L2: run layer
//! after layer, each one streams its input back from L3. Run in bands, every layer of a
//! group computes a few more of its output rows, as many as the layers after it need for
//! their next band, so a band's rows are still in L2 when the next layer reads them.
//!
//! A band of a step is the same kernel on fewer rows: a matrix product or quantization on
//! a range of pixels, a depthwise convolution on a range of output rows whose input rows
//! start at the first one it reads (the padding above shrinks to match). Every output value
//! is computed by the same operations in the same order as without bands, so the results
//! are bit for bit the same. The planner keeps every buffer of a group alive across the
//! whole group and writes no output over its residual there ([`groups`]), so no band
//! overwrites what a later band still reads; [`schedule`] checks this from the steps'
//! accesses and leaves a group whole where it cannot.

use std::ops::Range;

use ghostnet_runtime as rt;
use rt::dwconv::Depthwise;
use rt::gemm::{Gemm, View};
use rt::qgemm::{QGemm, Quantize};

use super::layout::{Layouts, Mode};
use super::{How, Kind, Step};
use crate::ir::{Graph, Op};

/// Layers whose input has at least this many pixels run in bands (the 112x112 stage of a
/// 224x224 GhostNet; taking in the 56x56 stage as well measured slower).
const MIN_PIXELS: usize = 112 * 112;

/// The bands aim at this many bytes of the group's outputs each (measured: 1 MiB ran
/// faster than 256 KiB and than 4 MiB on GhostNet 1.0x).
const BAND_BYTES: usize = 1024 * 1024;

/// The node ranges that run in bands: runs of two or more consecutive nodes on the fused
/// 1x1, depthwise and ghost kernels, without squeeze-excite scales or gates, whose inputs
/// have at least [`MIN_PIXELS`] pixels.
pub(super) fn groups(graph: &Graph, hows: &[How], layouts: &Layouts) -> Vec<Range<usize>> {
    if layouts.mode != Mode::PerImage {
        return Vec::new();
    }
    let bandable = |i: usize| {
        let n = &graph.nodes[i];
        let x = graph.shape(n.inputs[0]);
        let wide = x.len() == 4 && x[2] * x[3] >= MIN_PIXELS;
        let plain = match &n.op {
            Op::Ghost { gate, scale, .. } => !gate && !scale,
            Op::Conv(c) => !c.scale,
            _ => false,
        };
        wide && plain && matches!(hows[i], How::Pointwise | How::Depthwise | How::Ghost)
    };
    let mut out = Vec::new();
    let mut i = 0;
    while i < graph.nodes.len() {
        let start = i;
        while i < graph.nodes.len() && bandable(i) {
            i += 1;
        }
        if i - start >= 2 {
            out.push(start..i);
        }
        i = i.max(start + 1);
    }
    out
}

/// Where a step reads or writes: `rows` rows, row `r` covering `off + r * stride ..
/// off + r * stride + len` (arena `f32` slots).
#[derive(Clone, Copy, Debug)]
struct Region {
    off: usize,
    stride: usize,
    len: usize,
    rows: usize,
}

impl Region {
    fn new(off: usize, stride: usize, len: usize, rows: usize) -> Self {
        Region { off, stride: stride.max(1), len, rows }
    }

    /// The end of the first `rows` rows.
    fn end_of(&self, rows: usize) -> usize {
        match rows {
            0 => self.off,
            r => self.off + (r - 1) * self.stride + self.len,
        }
    }

    /// How many rows start below address `a`.
    fn rows_below(&self, a: usize) -> usize {
        a.saturating_sub(self.off).div_ceil(self.stride).min(self.rows)
    }

    /// Whether some address is in both (rows of the same pitch are compared column range
    /// against column range; otherwise the spans).
    fn overlaps(&self, o: &Region) -> bool {
        if self.rows == 0 || o.rows == 0 || self.end_of(self.rows) <= o.off || o.end_of(o.rows) <= self.off {
            return false;
        }
        if self.stride == o.stride && self.len <= self.stride && o.len <= o.stride {
            let s = self.stride as i128;
            let d = (o.off as i128 - self.off as i128).rem_euclid(s);
            return d < self.len as i128 || d + o.len as i128 > s;
        }
        true
    }
}

/// How many rows of a read a prefix of a step's output rows needs.
#[derive(Clone, Copy, Debug)]
enum Need {
    /// `n` of them for each output row.
    Rows(usize),
    /// The input rows (each `n` of the read's rows) under a `k`-row window with stride
    /// `s`, `p` rows of padding above.
    Window { k: usize, s: usize, p: usize, n: usize },
    /// All of them (a per-channel scale).
    All,
}

impl Need {
    fn rows(self, out: usize, of: usize) -> usize {
        match (self, out) {
            (_, 0) => 0,
            (Need::Rows(n), o) => (o * n).min(of),
            (Need::Window { k, s, p, n }, o) => (((o - 1) * s + k).saturating_sub(p) * n).min(of),
            (Need::All, _) => of,
        }
    }
}

/// A step's output rows and the regions it reads and writes, pixel by pixel (so that
/// channel ranges of one buffer compare exactly).
struct Io {
    rows: usize,
    /// The regions' rows (pixels) in one output row.
    pixels: usize,
    writes: Vec<Region>,
    reads: Vec<(Region, Need)>,
}

fn rows_of(v: View, n: usize, m: usize) -> Region {
    Region::new(v.off, v.ld, n, m)
}

/// The accesses of a step that can run in bands, else `None`.
fn io(kind: &Kind) -> Option<Io> {
    let matrix = |m: usize, n: usize, c: View, raw: Option<View>, residual: Option<View>| {
        let mut writes = vec![rows_of(c, n, m)];
        writes.extend(raw.map(|v| rows_of(v, n, m)));
        let reads: Vec<(Region, Need)> = residual.map(|v| (rows_of(v, n, m), Need::Rows(1))).into_iter().collect();
        (writes, reads)
    };
    match kind {
        Kind::Gemm(g) | Kind::GemmBf16(g) if g.gate.is_none() && g.m > 1 => {
            let (writes, mut reads) = matrix(g.m, g.n, g.c, g.raw, g.residual);
            reads.push((rows_of(g.a, g.k, g.m), Need::Rows(1)));
            reads.extend(g.scale.map(|s| (Region::new(s, g.k, g.k, 1), Need::All)));
            Some(Io { rows: g.m, pixels: 1, writes, reads })
        }
        Kind::QGemm(g) if g.gate.is_none() && g.m > 1 => {
            let (writes, mut reads) = matrix(g.m, g.n, g.c, g.raw, g.residual);
            let lda = g.lda / 4;
            reads.push((Region::new(g.a, lda, lda, g.m), Need::Rows(1)));
            Some(Io { rows: g.m, pixels: 1, writes, reads })
        }
        Kind::Quantize(q) if q.m > 1 => {
            let ldy = q.ldy / 4;
            let mut reads = vec![(rows_of(q.x, q.k, q.m), Need::Rows(1))];
            reads.extend(q.scale.map(|s| (Region::new(s, q.k, q.k, 1), Need::All)));
            Some(Io { rows: q.m, pixels: 1, writes: vec![Region::new(q.y, ldy, ldy, q.m)], reads })
        }
        Kind::Depthwise(d) if d.gate.is_none() => {
            let window = Need::Window { k: d.kh, s: d.sh, p: d.pt, n: d.w };
            let mut reads = vec![(rows_of(d.x, d.c, d.h * d.w), window)];
            reads.extend(d.residual.map(|r| (rows_of(r, d.c, d.oh * d.ow), Need::Rows(d.ow))));
            Some(Io { rows: d.oh, pixels: d.ow, writes: vec![rows_of(d.y, d.c, d.oh * d.ow)], reads })
        }
        _ => None,
    }
}

/// `kind` on its output rows `a..b` alone.
fn restrict(kind: &Kind, a: usize, b: usize) -> Kind {
    let shift = |v: View, rows: usize| View { off: v.off + rows * v.ld, ..v };
    let gemm = |g: &Gemm| Gemm {
        m: b - a,
        a: shift(g.a, a),
        c: shift(g.c, a),
        residual: g.residual.map(|v| shift(v, a)),
        raw: g.raw.map(|v| shift(v, a)),
        ..*g
    };
    match kind {
        Kind::Gemm(g) => Kind::Gemm(gemm(g)),
        Kind::GemmBf16(g) => Kind::GemmBf16(gemm(g)),
        Kind::QGemm(g) => Kind::QGemm(QGemm {
            m: b - a,
            a: g.a + a * g.lda / 4,
            c: shift(g.c, a),
            residual: g.residual.map(|v| shift(v, a)),
            raw: g.raw.map(|v| shift(v, a)),
            ..*g
        }),
        Kind::Quantize(q) => Kind::Quantize(Quantize { m: b - a, x: shift(q.x, a), y: q.y + a * q.ldy / 4, ..*q }),
        Kind::Depthwise(d) => {
            // Input rows `lo..hi` (padding outside `0..h`) hold every tap of rows `a..b`.
            let lo = (a * d.sh) as isize - d.pt as isize;
            let hi = ((b - 1) * d.sh + d.kh) as isize - d.pt as isize;
            let (lo_in, hi_in) = (lo.max(0) as usize, hi.min(d.h as isize) as usize);
            Kind::Depthwise(Depthwise {
                h: hi_in - lo_in,
                oh: b - a,
                pt: (lo_in as isize - lo) as usize,
                x: shift(d.x, lo_in * d.w),
                y: shift(d.y, a * d.ow),
                residual: d.residual.map(|v| shift(v, a * d.ow)),
                ..*d
            })
        }
        _ => unreachable!("only steps `io` accepts run in bands"),
    }
}

/// The steps of one group interleaved in bands, or `None` where some step cannot run in
/// bands or a band would overwrite what another still reads.
pub(super) fn schedule(steps: &[Step]) -> Option<Vec<Step>> {
    let ios: Vec<Io> = steps.iter().map(|s| io(&s.kind)).collect::<Option<_>>()?;
    for (j, w) in ios.iter().enumerate() {
        for (i, r) in ios.iter().enumerate() {
            for out in &w.writes {
                // A later step writing what an earlier one reads, two steps writing the
                // same place, or a step writing what it reads through a window.
                let read_hazard =
                    r.reads.iter().any(|(reg, need)| (i < j || (i == j && !matches!(need, Need::Rows(_)))) && out.overlaps(reg));
                let write_hazard = i != j && r.writes.iter().any(|o| out.overlaps(o));
                if read_hazard || write_hazard {
                    return None;
                }
            }
        }
    }
    let bytes: usize = ios.iter().flat_map(|io| &io.writes).map(|w| 4 * (w.end_of(w.rows) - w.off)).sum();
    let rows = ios.iter().map(|io| io.rows).min().unwrap_or(0);
    let bands = (bytes / BAND_BYTES).clamp(1, (rows / 2).max(1));
    if bands < 2 {
        return None;
    }
    let mut done = vec![0usize; steps.len()];
    let mut out = Vec::new();
    for band in 1..=bands {
        let mut need: Vec<usize> = ios.iter().map(|io| (io.rows * band).div_ceil(bands)).collect();
        for s in (0..steps.len()).rev() {
            for &(reg, how) in &ios[s].reads {
                let rows = how.rows(need[s], reg.rows);
                if rows == 0 {
                    continue;
                }
                let read = Region { rows, ..reg };
                let end = read.end_of(rows);
                for p in 0..s {
                    for w in &ios[p].writes {
                        if w.overlaps(&read) {
                            need[p] = need[p].max(w.rows_below(end).div_ceil(ios[p].pixels));
                        }
                    }
                }
            }
        }
        for (s, step) in steps.iter().enumerate() {
            if need[s] > done[s] {
                out.push(Step { layer: step.layer.clone(), kind: restrict(&step.kind, done[s], need[s]) });
                done[s] = need[s];
            }
        }
    }
    debug_assert!(done.iter().zip(&ios).all(|(d, io)| *d == io.rows));
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn regions_of_one_pitch_overlap_only_where_their_columns_do() {
        let a = Region::new(0, 48, 24, 10);
        let b = Region::new(24, 48, 24, 10);
        assert!(!a.overlaps(&b) && !b.overlaps(&a));
        assert!(a.overlaps(&Region::new(23, 48, 2, 10)));
        assert!(a.overlaps(&Region::new(40, 48, 16, 10)), "wraps into the next row");
        assert!(!a.overlaps(&Region::new(480, 48, 48, 3)), "after the last row");
        assert!(a.overlaps(&Region::new(100, 7, 3, 2)), "different pitches compare spans");
    }

    #[test]
    fn windows_need_the_rows_under_them() {
        let w = Need::Window { k: 3, s: 2, p: 1, n: 1 };
        assert_eq!(w.rows(0, 112), 0);
        assert_eq!(w.rows(1, 112), 2);
        assert_eq!(w.rows(2, 112), 4);
        assert_eq!(w.rows(56, 112), 112);
        assert_eq!(Need::Window { k: 3, s: 1, p: 1, n: 10 }.rows(2, 1000), 30);
        assert_eq!(Need::Rows(1).rows(5, 3), 3);
        assert_eq!(Need::Rows(7).rows(2, 100), 14);
        assert_eq!(Need::All.rows(1, 7), 7);
    }
}
