//! Reading PNG and JPEG files into 8-bit images (grayscale or RGB), as Pillow opens them
//! for `convert("RGB")`: palettes expanded, alpha dropped (not composited), no gamma, ICC
//! or EXIF-orientation handling. The size is checked against the pixel limit before any
//! pixel buffer is allocated.
//!
//! Refused with an error naming the file: files that are neither format, truncated or
//! corrupt data, 0-pixel images, images over the limit, 16-bit PNGs (Pillow narrows them
//! inconsistently: it keeps the high byte of 16-bit RGB but clips 16-bit gray at 255) and
//! CMYK/YCCK JPEGs (their conversion to RGB depends on an ICC profile).

use std::path::Path;

use super::{Error, Image};

/// Pillow's decompression-bomb limit (`Image.MAX_IMAGE_PIXELS`), 89 478 485 pixels: above
/// it Pillow warns, above twice it refuses.
pub const DEFAULT_MAX_PIXELS: u64 = 89_478_485;

/// Reads and decodes the PNG or JPEG file at `path`.
pub fn load(path: &Path, max_pixels: u64) -> Result<Image, Error> {
    let name = path.display().to_string();
    let bytes = std::fs::read(path).map_err(|e| Error::Read { path: name.clone(), message: e.to_string() })?;
    decode(&bytes, &name, max_pixels)
}

/// The network input of each image file: decoded and put through `transform`. Every file
/// that cannot be used is reported, all at once.
pub fn load_inputs(paths: &[std::path::PathBuf], transform: &super::Transform, max_pixels: u64) -> Result<Vec<Vec<f32>>, Error> {
    transform.check()?;
    let mut inputs = Vec::with_capacity(paths.len());
    let mut errors = Vec::new();
    for path in paths {
        match load(path, max_pixels) {
            Ok(image) => inputs.push(transform.apply(&image)),
            Err(e) => errors.push(e),
        }
    }
    match errors.len() {
        0 => Ok(inputs),
        1 => Err(errors.remove(0)),
        _ => Err(Error::Several(errors)),
    }
}

/// Decodes a PNG or JPEG file's bytes; `name` names it in errors.
pub fn decode(bytes: &[u8], name: &str, max_pixels: u64) -> Result<Image, Error> {
    if bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
        png(bytes, name, max_pixels)
    } else if bytes.starts_with(&[0xFF, 0xD8, 0xFF]) {
        jpeg(bytes, name, max_pixels)
    } else {
        let start = if bytes.is_empty() {
            "nothing: the file is empty".to_string()
        } else {
            let head: Vec<String> = bytes.iter().take(8).map(|b| format!("{b:02x}")).collect();
            format!("bytes {}", head.join(" "))
        };
        Err(Error::NotAnImage { path: name.to_string(), start })
    }
}

fn check_size(name: &str, width: u64, height: u64, max_pixels: u64) -> Result<(), Error> {
    if width == 0 || height == 0 {
        return Err(Error::Empty { path: name.to_string(), size: format!("{width}x{height} pixels") });
    }
    if width.saturating_mul(height) > max_pixels {
        return Err(Error::TooLarge { path: name.to_string(), width, height, limit: max_pixels });
    }
    Ok(())
}

fn png(bytes: &[u8], name: &str, max_pixels: u64) -> Result<Image, Error> {
    use png::{BitDepth, ColorType, DecodingError, Transformations};
    let error = |e: DecodingError| match e {
        DecodingError::IoError(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => {
            Error::Truncated { path: name.to_string(), format: "PNG", message: "the data ends early".into() }
        }
        e => Error::Corrupt { path: name.to_string(), format: "PNG", message: tidy(&e.to_string()) },
    };
    // The header alone gives the size, checked before anything is allocated for pixels.
    if bytes.len() < 24 || &bytes[12..16] != b"IHDR" {
        return Err(Error::Truncated { path: name.to_string(), format: "PNG", message: "no image header (IHDR)".into() });
    }
    let (width, height) = (u32::from_be_bytes(bytes[16..20].try_into().unwrap()), u32::from_be_bytes(bytes[20..24].try_into().unwrap()));
    check_size(name, width.into(), height.into(), max_pixels)?;
    let limits = png::Limits { bytes: (max_pixels as usize).saturating_mul(8).max(1 << 20) };
    let mut decoder = png::Decoder::new_with_limits(std::io::Cursor::new(bytes), limits);
    decoder.set_transformations(Transformations::EXPAND);
    let mut reader = decoder.read_info().map_err(error)?;
    if reader.info().bit_depth == BitDepth::Sixteen {
        return Err(Error::Unsupported {
            path: name.to_string(),
            what: "16-bit PNG".into(),
            advice: "save the image with 8 bits per channel (e.g. ImageMagick: convert IN.png -depth 8 OUT.png)",
        });
    }
    let size = reader.output_buffer_size().ok_or_else(|| Error::TooLarge { path: name.to_string(), width: width.into(), height: height.into(), limit: max_pixels })?;
    let mut buf = vec![0u8; size];
    let frame = reader.next_frame(&mut buf).map_err(error)?;
    let (w, h) = (frame.width as usize, frame.height as usize);
    let line = frame.line_size;
    let (channels, keep) = match frame.color_type {
        ColorType::Grayscale => (1, 1),
        ColorType::GrayscaleAlpha => (2, 1),
        ColorType::Rgb => (3, 3),
        ColorType::Rgba => (4, 3),
        ColorType::Indexed => return Err(Error::Corrupt { path: name.to_string(), format: "PNG", message: "the palette could not be expanded".into() }),
    };
    if frame.bit_depth != BitDepth::Eight {
        return Err(Error::Corrupt { path: name.to_string(), format: "PNG", message: format!("unexpected bit depth {:?} after expansion", frame.bit_depth) });
    }
    let mut pixels = Vec::with_capacity(w * h * keep);
    for row in buf.chunks(line).take(h) {
        for px in row[..w * channels].chunks_exact(channels) {
            pixels.extend_from_slice(&px[..keep]);
        }
    }
    Ok(Image { width: w, height: h, channels: keep, pixels })
}

fn jpeg(bytes: &[u8], name: &str, max_pixels: u64) -> Result<Image, Error> {
    use zune_core::bytestream::ZCursor;
    use zune_core::colorspace::ColorSpace;
    use zune_core::options::DecoderOptions;
    use zune_jpeg::errors::DecodeErrors;
    let error = |e: DecodeErrors| match e {
        DecodeErrors::ExhaustedData => Error::Truncated { path: name.to_string(), format: "JPEG", message: "the data ends early".into() },
        DecodeErrors::ZeroError => Error::Empty { path: name.to_string(), size: "a width or height of 0".into() },
        DecodeErrors::IoErrors(_) => Error::Truncated { path: name.to_string(), format: "JPEG", message: "the data ends early".into() },
        e => {
            let message = format!("{e:?}");
            if message.contains("No more bytes") || message.contains("EOF") || message.contains("end of") {
                Error::Truncated { path: name.to_string(), format: "JPEG", message }
            } else {
                Error::Corrupt { path: name.to_string(), format: "JPEG", message }
            }
        }
    };
    // The decoder fills a cut-off scan with gray rather than failing; a silent wrong image.
    if let Err(message) = jpeg_complete(bytes) {
        return Err(Error::Truncated { path: name.to_string(), format: "JPEG", message: message.into() });
    }
    let options = DecoderOptions::default().set_strict_mode(true).set_max_width(1 << 16).set_max_height(1 << 16);
    let mut decoder = zune_jpeg::JpegDecoder::new_with_options(ZCursor::new(bytes), options);
    decoder.decode_headers().map_err(error)?;
    let info = decoder.info().ok_or_else(|| Error::Corrupt { path: name.to_string(), format: "JPEG", message: "no frame header".into() })?;
    check_size(name, info.width.into(), info.height.into(), max_pixels)?;
    let (out, channels) = match decoder.input_colorspace() {
        Some(ColorSpace::Luma) => (ColorSpace::Luma, 1),
        Some(ColorSpace::CMYK | ColorSpace::YCCK) => {
            return Err(Error::Unsupported {
                path: name.to_string(),
                what: "CMYK JPEG".into(),
                advice: "convert the image to RGB first (e.g. ImageMagick: convert IN.jpg -colorspace sRGB OUT.jpg)",
            });
        }
        _ => (ColorSpace::RGB, 3),
    };
    decoder.set_options(options.jpeg_set_out_colorspace(out));
    let pixels = decoder.decode().map_err(error)?;
    let (width, height) = (usize::from(info.width), usize::from(info.height));
    if pixels.len() != width * height * channels {
        return Err(Error::Corrupt { path: name.to_string(), format: "JPEG", message: format!("decoded {} bytes for {width}x{height}x{channels}", pixels.len()) });
    }
    Ok(Image { width, height, channels, pixels })
}

/// The png crate's message with `ChunkType { type: IDAT, .. }` shortened to `IDAT`.
fn tidy(message: &str) -> String {
    let mut out = String::new();
    let mut rest = message;
    while let Some(i) = rest.find("ChunkType { type: ") {
        out.push_str(&rest[..i]);
        let after = &rest[i + "ChunkType { type: ".len()..];
        let name_end = after.find(',').unwrap_or(after.len());
        out.push_str(&after[..name_end]);
        rest = after.find('}').map_or("", |j| &after[j + 1..]);
    }
    out.push_str(rest);
    out
}

/// Whether the JPEG's marker segments and scans run to its end-of-image marker: each
/// segment's length fits, and each scan's entropy-coded data (where `FF` is followed only by
/// a stuffed `00` or a restart marker) is followed by another marker.
fn jpeg_complete(bytes: &[u8]) -> Result<(), &'static str> {
    let mut i = 2;
    loop {
        // Fill bytes may precede a marker.
        while bytes.get(i) == Some(&0xFF) && bytes.get(i + 1) == Some(&0xFF) {
            i += 1;
        }
        match (bytes.get(i), bytes.get(i + 1)) {
            (Some(0xFF), Some(0xD9)) => return Ok(()),
            (Some(0xFF), Some(&marker)) => {
                let len = match bytes.get(i + 2..i + 4) {
                    Some(l) => usize::from(u16::from_be_bytes([l[0], l[1]])),
                    None => return Err("the data ends early"),
                };
                if len < 2 || i + 2 + len > bytes.len() {
                    return Err("the data ends early");
                }
                i += 2 + len;
                if marker == 0xDA {
                    // Entropy-coded data up to the next marker.
                    loop {
                        match (bytes.get(i), bytes.get(i + 1)) {
                            (Some(0xFF), Some(0x00 | 0xD0..=0xD7)) => i += 2,
                            (Some(0xFF), Some(_)) => break,
                            (Some(_), _) => i += 1,
                            (None, _) => return Err("the data ends early, before the end-of-image marker"),
                        }
                    }
                }
            }
            (None, _) | (Some(0xFF), None) => return Err("the data ends early, before the end-of-image marker"),
            (Some(_), _) => return Err("a marker segment is followed by data that is not a marker"),
        }
    }
}
