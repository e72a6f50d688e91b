//! Resizing 8-bit images exactly as Pillow's `Image.resize` does for `L` and `RGB` images
//! (`BILINEAR` and `BICUBIC`, both antialiased), so that a tensor made here equals the one
//! timm's evaluation transform makes from the same pixels.
//!
//! The algorithm, in Pillow's terms: the filter's support is widened by the scale when
//! downsampling (`support * max(in / out, 1)`), so every input pixel under the footprint
//! contributes; each output position `i` takes the inputs around the centre
//! `(i + 0.5) * in / out`, weighted by `filter((j - centre + 0.5) / max(in / out, 1))` and
//! normalized to sum 1; the weights are rounded to 22-bit fixed point. Rows are resampled
//! first (horizontal pass), rounded to 8 bits, then columns (vertical pass); a pass whose
//! size does not change is skipped. Bicubic is Keys' cubic with `a = -0.5`.

/// A resampling filter of Pillow.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Filter {
    /// Triangle filter, support 1.
    Bilinear,
    /// Cubic convolution with `a = -0.5`, support 2.
    Bicubic,
}

impl Filter {
    fn support(self) -> f64 {
        match self {
            Filter::Bilinear => 1.0,
            Filter::Bicubic => 2.0,
        }
    }

    fn weight(self, x: f64) -> f64 {
        let x = x.abs();
        match self {
            Filter::Bilinear => (1.0 - x).max(0.0),
            Filter::Bicubic => {
                const A: f64 = -0.5;
                if x < 1.0 {
                    ((A + 2.0) * x - (A + 3.0)) * x * x + 1.0
                } else if x < 2.0 {
                    (((x - 5.0) * x + 8.0) * x - 4.0) * A
                } else {
                    0.0
                }
            }
        }
    }
}

/// Fixed-point fraction bits of the weights: 8 bits of pixel and 2 of headroom (negative
/// lobes, sums above 1) in an `i32`.
const PRECISION_BITS: u32 = 32 - 8 - 2;

/// The input taps of a run of output positions along one axis.
struct Taps {
    /// First input index of each output position.
    first: Vec<usize>,
    /// Number of taps of each output position.
    count: Vec<usize>,
    /// `stride` fixed-point weights per output position.
    weights: Vec<i32>,
    stride: usize,
}

impl Taps {
    /// Taps of output positions `range` when `in_size` samples are resampled to `out_size`.
    fn new(in_size: usize, out_size: usize, range: std::ops::Range<usize>, filter: Filter) -> Taps {
        let scale = in_size as f64 / out_size as f64;
        let filter_scale = scale.max(1.0);
        let support = filter.support() * filter_scale;
        let stride = support.ceil() as usize * 2 + 1;
        let mut taps = Taps { first: Vec::new(), count: Vec::new(), weights: Vec::with_capacity(range.len() * stride), stride };
        let mut w = vec![0f64; stride];
        for i in range {
            let centre = (i as f64 + 0.5) * scale;
            // `as` truncates toward zero, as the C cast does.
            let lo = ((centre - support + 0.5) as i64).max(0) as usize;
            let hi = ((centre + support + 0.5) as i64).min(in_size as i64).max(lo as i64) as usize;
            let n = hi - lo;
            let mut sum = 0.0;
            for (x, wx) in w[..n].iter_mut().enumerate() {
                *wx = filter.weight(((x + lo) as f64 - centre + 0.5) / filter_scale);
                sum += *wx;
            }
            for x in 0..stride {
                let mut v = if x < n { w[x] } else { 0.0 };
                if x < n && sum != 0.0 {
                    v /= sum;
                }
                let fixed = v * f64::from(1u32 << PRECISION_BITS);
                taps.weights.push(if v < 0.0 { (fixed - 0.5) as i32 } else { (fixed + 0.5) as i32 });
            }
            taps.first.push(lo);
            taps.count.push(n);
        }
        taps
    }

    fn get(&self, k: usize) -> (usize, &[i32]) {
        (self.first[k], &self.weights[k * self.stride..k * self.stride + self.count[k]])
    }
}

/// `round(sum / 2^22)` clamped to a byte; `sum` started at half a unit.
fn clip8(sum: i32) -> u8 {
    (sum >> PRECISION_BITS).clamp(0, 255) as u8
}

/// An 8-bit image: `channels` interleaved values per pixel, rows top to bottom.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Image {
    pub width: usize,
    pub height: usize,
    pub channels: usize,
    pub pixels: Vec<u8>,
}

impl Image {
    /// A `width x height` image of zeros.
    pub fn zeros(width: usize, height: usize, channels: usize) -> Image {
        Image { width, height, channels, pixels: vec![0; width * height * channels] }
    }
}

/// A window of an image that is `width x height` pixels: `cols` and `rows`, which may
/// reach outside it (those pixels are 0).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Window {
    pub left: i64,
    pub top: i64,
    pub width: usize,
    pub height: usize,
}

/// `image` resized to `width x height` with `filter`, as Pillow's `Image.resize`.
pub fn resize(image: &Image, width: usize, height: usize, filter: Filter) -> Image {
    resize_window(image, width, height, filter, Window { left: 0, top: 0, width, height })
}

/// The pixels in `window` of `image` resized to `width x height` with `filter`: the same
/// values as resizing the whole image and cutting the window out (pixels of the window
/// outside the resized image are 0), computing only the window.
pub fn resize_window(image: &Image, width: usize, height: usize, filter: Filter, window: Window) -> Image {
    let c = image.channels;
    let mut out = Image::zeros(window.width, window.height, c);
    // The part of the window inside the resized image.
    let clip = |start: i64, len: usize, size: usize| -> std::ops::Range<usize> {
        let a = start.clamp(0, size as i64) as usize;
        let b = (start + len as i64).clamp(0, size as i64) as usize;
        a..b.max(a)
    };
    let (cols, rows) = (clip(window.left, window.width, width), clip(window.top, window.height, height));
    if cols.is_empty() || rows.is_empty() || image.width == 0 || image.height == 0 {
        return out;
    }

    // Horizontal pass over the input rows the vertical pass reads: `mid` holds them at the
    // window's columns.
    let vertical = (height != image.height).then(|| Taps::new(image.height, height, rows.clone(), filter));
    let in_rows = match &vertical {
        Some(t) => {
            let last = t.first.len() - 1;
            t.first[0]..t.first[last] + t.count[last]
        }
        None => rows.clone(),
    };
    let mid_w = cols.len();
    let mut mid = vec![0u8; in_rows.len() * mid_w * c];
    if width != image.width {
        let taps = Taps::new(image.width, width, cols.clone(), filter);
        for (r, y) in in_rows.clone().enumerate() {
            let src = &image.pixels[y * image.width * c..(y + 1) * image.width * c];
            for k in 0..mid_w {
                let (first, w) = taps.get(k);
                for ch in 0..c {
                    let mut sum = 1i32 << (PRECISION_BITS - 1);
                    for (t, &wt) in w.iter().enumerate() {
                        sum += i32::from(src[(first + t) * c + ch]) * wt;
                    }
                    mid[(r * mid_w + k) * c + ch] = clip8(sum);
                }
            }
        }
    } else {
        for (r, y) in in_rows.clone().enumerate() {
            let src = &image.pixels[(y * image.width + cols.start) * c..(y * image.width + cols.end) * c];
            mid[r * mid_w * c..(r + 1) * mid_w * c].copy_from_slice(src);
        }
    }

    // Vertical pass, into the window.
    let (dx, dy) = ((cols.start as i64 - window.left) as usize, (rows.start as i64 - window.top) as usize);
    for (k, _) in rows.clone().enumerate() {
        let dst_row = (dy + k) * window.width;
        match &vertical {
            Some(taps) => {
                let (first, w) = taps.get(k);
                let first = first - in_rows.start;
                for x in 0..mid_w {
                    for ch in 0..c {
                        let mut sum = 1i32 << (PRECISION_BITS - 1);
                        for (t, &wt) in w.iter().enumerate() {
                            sum += i32::from(mid[((first + t) * mid_w + x) * c + ch]) * wt;
                        }
                        out.pixels[(dst_row + dx + x) * c + ch] = clip8(sum);
                    }
                }
            }
            None => {
                let src = &mid[k * mid_w * c..(k + 1) * mid_w * c];
                out.pixels[(dst_row + dx) * c..(dst_row + dx + mid_w) * c].copy_from_slice(src);
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pattern(width: usize, height: usize, channels: usize, seed: u32) -> Image {
        let mut s = seed.wrapping_mul(2654435761) | 1;
        let pixels = (0..width * height * channels)
            .map(|_| {
                s ^= s << 13;
                s ^= s >> 17;
                s ^= s << 5;
                (s >> 24) as u8
            })
            .collect();
        Image { width, height, channels, pixels }
    }

    #[test]
    fn weights_sum_to_one_in_fixed_point() {
        for (i, o) in [(512, 256), (451, 384), (300, 256), (7, 3), (3, 7), (640, 224), (1000, 1)] {
            for filter in [Filter::Bilinear, Filter::Bicubic] {
                let t = Taps::new(i, o, 0..o, filter);
                for k in 0..o {
                    let (first, w) = t.get(k);
                    assert!(first + w.len() <= i);
                    let sum: i32 = w.iter().sum();
                    assert!((sum - (1 << PRECISION_BITS)).abs() <= w.len() as i32, "{i}->{o} {filter:?} at {k}: {sum}");
                }
            }
        }
    }

    #[test]
    fn same_size_is_the_identity_and_constants_stay_constant() {
        let img = pattern(13, 9, 3, 1);
        assert_eq!(resize(&img, 13, 9, Filter::Bicubic), img);
        let flat = Image { pixels: vec![77; 40 * 30 * 3], ..Image::zeros(40, 30, 3) };
        for (w, h) in [(17, 11), (64, 48), (40, 7), (3, 30)] {
            for filter in [Filter::Bilinear, Filter::Bicubic] {
                let r = resize(&flat, w, h, filter);
                assert!(r.pixels.iter().all(|&p| p == 77), "{w}x{h} {filter:?}");
            }
        }
    }

    #[test]
    fn upsampling_by_an_integer_factor_keeps_every_second_sample_of_a_bilinear_ramp() {
        // 1-D ramp 0, 100, 200 upsampled x2 bilinear: centres at 0.25, 0.75, ... of the input.
        let img = Image { width: 3, height: 1, channels: 1, pixels: vec![0, 100, 200] };
        let r = resize(&img, 6, 1, Filter::Bilinear);
        assert_eq!(r.pixels, vec![0, 25, 75, 125, 175, 200]);
    }

    #[test]
    fn a_window_equals_the_cut_out_of_the_whole_resize() {
        for (w, h, c) in [(31, 17, 3), (17, 31, 1), (50, 50, 3)] {
            let img = pattern(w, h, c, 7);
            for (ow, oh) in [(20, 12), (40, 60), (50, 11), (31, 17)] {
                let full = resize(&img, ow, oh, Filter::Bicubic);
                for win in [Window { left: 3, top: 2, width: 10, height: 7 }, Window { left: -2, top: -3, width: ow + 5, height: oh + 4 }, Window { left: 0, top: 0, width: ow, height: oh }] {
                    let got = resize_window(&img, ow, oh, Filter::Bicubic, win);
                    for y in 0..win.height {
                        for x in 0..win.width {
                            let (sx, sy) = (x as i64 + win.left, y as i64 + win.top);
                            for ch in 0..c {
                                let want = if (0..ow as i64).contains(&sx) && (0..oh as i64).contains(&sy) { full.pixels[((sy as usize) * ow + sx as usize) * c + ch] } else { 0 };
                                assert_eq!(got.pixels[(y * win.width + x) * c + ch], want, "{w}x{h} -> {ow}x{oh}, {win:?} at {x},{y}");
                            }
                        }
                    }
                }
            }
        }
    }
}
