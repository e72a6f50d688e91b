//! Photos in: timm's evaluation transform, so that a network trained with timm sees the
//! tensor it saw in evaluation.
//!
//! [`Transform::timm_eval`] is timm's default for GhostNet (`crop_pct` 0.875, bicubic,
//! ImageNet mean and std): resize so that the shorter side is `floor(size / crop_pct)`
//! (torchvision's `Resize(int)`: the longer side is truncated), with Pillow's antialiased
//! filters ([`resample`]); cut the centre `H x W` (torchvision's `CenterCrop`: offsets
//! rounded half to even, zero padding when the image is smaller); scale to `[0, 1]` by
//! `/ 255`; subtract the mean and divide by the standard deviation, per channel, in `f32`.
//! A non-square input size resizes to `floor(H / crop_pct) x floor(W / crop_pct)` keeping
//! the aspect ratio (timm's `ResizeKeepRatio`, rounded half to even), then cuts the centre.
//!
//! Colour images are made RGB, grayscale ones replicated (Pillow's `convert("RGB")`);
//! one-channel models get Pillow's luma (`convert("L")`: `(19595 R + 38470 G + 7471 B +
//! 2^15) >> 16`). [`decode`] (feature `images`) reads PNG and JPEG files.

#[cfg(feature = "images")]
pub mod decode;
pub mod resample;

pub use resample::{Filter, Image};

/// ImageNet's per-channel mean, RGB, as timm and torchvision use it.
pub const IMAGENET_MEAN: [f32; 3] = [0.485, 0.456, 0.406];
/// ImageNet's per-channel standard deviation, RGB.
pub const IMAGENET_STD: [f32; 3] = [0.229, 0.224, 0.225];
/// timm's default `crop_pct`, GhostNet's too.
pub const DEFAULT_CROP_PCT: f64 = 0.875;

/// Why an image or the transform's options cannot be used; names the file or option.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("cannot read '{path}': {message}")]
    Read { path: String, message: String },
    #[error("'{path}' is not a PNG or JPEG image (it starts with {start})")]
    NotAnImage { path: String, start: String },
    #[error("'{path}' is a truncated {format} file: {message}")]
    Truncated { path: String, format: &'static str, message: String },
    #[error("'{path}' is not a valid {format} file: {message}")]
    Corrupt { path: String, format: &'static str, message: String },
    #[error("'{path}' is an empty image ({size})")]
    Empty { path: String, size: String },
    #[error("'{path}' is {width}x{height} pixels, more than the limit of {limit} pixels (--max-image-pixels)")]
    TooLarge { path: String, width: u64, height: u64, limit: u64 },
    #[error("'{path}': {what} images are not supported; {advice}")]
    Unsupported { path: String, what: String, advice: &'static str },
    #[error("{}", .0.join("; "))]
    Options(Vec<String>),
    #[error("{} of the images cannot be used:\n  - {}", .0.len(), .0.iter().map(|e| e.to_string()).collect::<Vec<_>>().join("\n  - "))]
    Several(Vec<Error>),
}

/// How the image is resized.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Interpolation {
    Bilinear,
    Bicubic,
}

impl Interpolation {
    pub fn filter(self) -> Filter {
        match self {
            Interpolation::Bilinear => Filter::Bilinear,
            Interpolation::Bicubic => Filter::Bicubic,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Interpolation::Bilinear => "bilinear",
            Interpolation::Bicubic => "bicubic",
        }
    }
}

impl std::str::FromStr for Interpolation {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "bilinear" => Ok(Interpolation::Bilinear),
            "bicubic" => Ok(Interpolation::Bicubic),
            _ => Err(format!("'{s}' is not an interpolation; use bicubic or bilinear")),
        }
    }
}

/// timm's evaluation transform for one network input of `channels x height x width`.
#[derive(Clone, Debug, PartialEq)]
pub struct Transform {
    pub channels: usize,
    pub height: usize,
    pub width: usize,
    /// The crop is this fraction of the resized image's shorter side (timm's `crop_pct`).
    pub crop_pct: f64,
    pub interpolation: Interpolation,
    /// Per channel (or one value for all channels).
    pub mean: Vec<f32>,
    /// Per channel (or one value for all channels).
    pub std: Vec<f32>,
}

impl Transform {
    /// timm's defaults for an NCHW input shape: crop_pct 0.875, bicubic, ImageNet mean and
    /// std (for one channel, their averages 0.449 and 0.226).
    pub fn timm_eval(input_shape: &[usize]) -> Result<Transform, Error> {
        let t = Transform::defaults(input_shape)?;
        t.check()?;
        Ok(t)
    }

    /// [`Transform::timm_eval`]'s values, not yet checked (to be changed, then checked).
    pub fn defaults(input_shape: &[usize]) -> Result<Transform, Error> {
        let [_, channels, height, width] = *input_shape else {
            return Err(Error::Options(vec![format!("the input shape has {} dimensions, not the 4 of NxCxHxW", input_shape.len())]));
        };
        let (mean, std) = if channels == 1 { (vec![0.449], vec![0.226]) } else { (IMAGENET_MEAN.to_vec(), IMAGENET_STD.to_vec()) };
        Ok(Transform { channels, height, width, crop_pct: DEFAULT_CROP_PCT, interpolation: Interpolation::Bicubic, mean, std })
    }

    /// Every problem with the options, at once.
    pub fn check(&self) -> Result<(), Error> {
        let mut problems = Vec::new();
        if self.channels != 1 && self.channels != 3 {
            problems.push(format!("images give 1 (grayscale) or 3 (RGB) channels, but the input has {}", self.channels));
        }
        if self.height == 0 || self.width == 0 {
            problems.push(format!("the input size {}x{} is empty", self.height, self.width));
        }
        if !(self.crop_pct.is_finite() && self.crop_pct > 0.0 && self.crop_pct <= 4.0) {
            problems.push(format!("--crop-pct {} is not in (0, 4]", self.crop_pct));
        }
        for (flag, v) in [("--mean", &self.mean), ("--std", &self.std)] {
            if v.len() != 1 && v.len() != self.channels && (self.channels == 1 || self.channels == 3) {
                problems.push(format!("{flag} has {} values; give 1 or {} (one per channel)", v.len(), self.channels));
            }
            if v.iter().any(|x| !x.is_finite()) {
                problems.push(format!("{flag} has a value that is not a finite number"));
            }
        }
        if self.std.contains(&0.0) {
            problems.push("--std has a zero".to_string());
        }
        if problems.is_empty() { Ok(()) } else { Err(Error::Options(problems)) }
    }

    /// The size the image is resized to before the centre crop, `(width, height)`.
    pub fn resized_size(&self, width: usize, height: usize) -> (usize, usize) {
        let target_h = (self.height as f64 / self.crop_pct).floor().max(1.0) as usize;
        let target_w = (self.width as f64 / self.crop_pct).floor().max(1.0) as usize;
        if target_h == target_w {
            // torchvision's Resize(int): the shorter side to the size, the longer truncated.
            let (short, long) = if width <= height { (width, height) } else { (height, width) };
            let new_long = ((target_h as f64 * long as f64) / short as f64) as usize;
            if width <= height { (target_h, new_long) } else { (new_long, target_h) }
        } else {
            // timm's ResizeKeepRatio: the smaller ratio, each side rounded half to even.
            let ratio = (height as f64 / target_h as f64).min(width as f64 / target_w as f64);
            let side = |x: usize| ((x as f64 / ratio).round_ties_even() as usize).max(1);
            (side(width), side(height))
        }
    }

    /// The centre window of a `width x height` image (torchvision's `CenterCrop`).
    pub fn crop_window(&self, width: usize, height: usize) -> resample::Window {
        let offset = |size: usize, crop: usize| -> i64 {
            if crop > size {
                -(((crop - size) / 2) as i64)
            } else {
                ((size - crop) as f64 / 2.0).round_ties_even() as i64
            }
        };
        resample::Window { left: offset(width, self.width), top: offset(height, self.height), width: self.width, height: self.height }
    }

    /// The network input for `image` (1 or 3 channels, 8-bit), `channels x height x width`
    /// values.
    pub fn apply(&self, image: &Image) -> Vec<f32> {
        let image = convert(image, self.channels);
        let (rw, rh) = self.resized_size(image.width, image.height);
        let window = self.crop_window(rw, rh);
        let cut = resample::resize_window(&image, rw, rh, self.interpolation.filter(), window);
        let plane = self.height * self.width;
        let mut out = vec![0f32; self.channels * plane];
        for c in 0..self.channels {
            let mean = self.mean[if self.mean.len() == 1 { 0 } else { c }];
            let std = self.std[if self.std.len() == 1 { 0 } else { c }];
            for (i, o) in out[c * plane..(c + 1) * plane].iter_mut().enumerate() {
                let v = f32::from(cut.pixels[i * self.channels + c]) / 255.0;
                *o = (v - mean) / std;
            }
        }
        out
    }
}

/// `image` with `channels` channels, as Pillow's `convert("RGB")` (gray replicated) or
/// `convert("L")` (luma) make it.
pub fn convert(image: &Image, channels: usize) -> std::borrow::Cow<'_, Image> {
    use std::borrow::Cow;
    match (image.channels, channels) {
        (a, b) if a == b => Cow::Borrowed(image),
        (1, 3) => Cow::Owned(Image { channels: 3, pixels: image.pixels.iter().flat_map(|&p| [p, p, p]).collect(), ..*image }),
        (3, 1) => Cow::Owned(Image {
            channels: 1,
            pixels: image
                .pixels
                .chunks_exact(3)
                .map(|p| ((u32::from(p[0]) * 19595 + u32::from(p[1]) * 38470 + u32::from(p[2]) * 7471 + 0x8000) >> 16) as u8)
                .collect(),
            ..*image
        }),
        (a, b) => panic!("convert: {a} channels to {b}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn eval() -> Transform {
        Transform::timm_eval(&[1, 3, 224, 224]).unwrap()
    }

    #[test]
    fn the_shorter_side_goes_to_256_and_the_longer_is_truncated() {
        let t = eval();
        assert_eq!(t.resized_size(512, 512), (256, 256));
        assert_eq!(t.resized_size(451, 300), (384, 256));
        assert_eq!(t.resized_size(600, 400), (384, 256));
        assert_eq!(t.resized_size(640, 427), (383, 256));
        assert_eq!(t.resized_size(300, 451), (256, 384));
        assert_eq!(t.resized_size(1, 1000), (256, 256000));
    }

    #[test]
    fn centre_crops_round_half_to_even_and_pad_small_images() {
        let t = eval();
        assert_eq!(t.crop_window(256, 256), resample::Window { left: 16, top: 16, width: 224, height: 224 });
        // (385 - 224) / 2 = 80.5 rounds to 80; (387 - 224) / 2 = 81.5 to 82.
        assert_eq!(t.crop_window(385, 256).left, 80);
        assert_eq!(t.crop_window(387, 256).left, 82);
        assert_eq!(t.crop_window(200, 223).left, -12);
        assert_eq!(t.crop_window(200, 223).top, 0);
    }

    #[test]
    fn non_square_inputs_keep_the_aspect_ratio() {
        let t = Transform { height: 224, width: 160, ..eval() };
        // targets 256 x 182: ratio min(400/256, 600/182) = 1.5625.
        assert_eq!(t.resized_size(600, 400), (384, 256));
    }

    #[test]
    fn normalizes_per_channel_in_f32() {
        let t = eval();
        let img = Image { width: 300, height: 300, channels: 3, pixels: [10u8, 128, 250].repeat(300 * 300) };
        let x = t.apply(&img);
        assert_eq!(x.len(), 3 * 224 * 224);
        for (c, v) in [10u8, 128, 250].into_iter().enumerate() {
            let want = (f32::from(v) / 255.0 - IMAGENET_MEAN[c]) / IMAGENET_STD[c];
            assert!(x[c * 224 * 224..(c + 1) * 224 * 224].iter().all(|&y| y == want));
        }
    }

    #[test]
    fn grayscale_is_replicated_or_kept_and_rgb_becomes_luma() {
        let gray = Image { width: 2, height: 1, channels: 1, pixels: vec![3, 200] };
        assert_eq!(convert(&gray, 3).pixels, vec![3, 3, 3, 200, 200, 200]);
        let rgb = Image { width: 2, height: 1, channels: 3, pixels: vec![255, 0, 0, 10, 200, 30] };
        // 255 * 19595 / 65536 = 76.2; (10 * 19595 + 200 * 38470 + 30 * 7471) / 65536 = 123.8
        assert_eq!(convert(&rgb, 1).pixels, vec![76, 124]);
    }

    #[test]
    fn bad_options_are_listed_together() {
        let t = Transform { crop_pct: 0.0, mean: vec![0.5, 0.5], std: vec![0.0], ..eval() };
        let e = t.check().unwrap_err().to_string();
        assert!(e.contains("--crop-pct 0 is not in (0, 4]") && e.contains("--mean has 2 values") && e.contains("--std has a zero"), "{e}");
        let e = Transform::timm_eval(&[1, 4, 224, 224]).unwrap_err().to_string();
        assert_eq!(e, "images give 1 (grayscale) or 3 (RGB) channels, but the input has 4");
    }
}
