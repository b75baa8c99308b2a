//! `ctl snapshot`: the latest output frame as a PNG.

use std::io::Write;

use flate2::write::ZlibEncoder;
use flate2::{Compression, Crc};
use scope_host::video::framing::{Framing, RawFrame};
use scope_host::video::y4m::Y4mReader;

/// The frame, converted to RGB as the host converts its input, as PNG.
pub fn png(framing: &Framing, frame: &RawFrame) -> Result<Vec<u8>, String> {
    let (width, height) = framing.size();
    let rgb = match framing {
        Framing::Rgb24 { .. } => frame.data.clone(),
        Framing::Y4m { .. } => {
            let mut stream = framing.header_bytes();
            frame
                .write_to(&mut stream)
                .map_err(|e| format!("cannot copy the frame: {e}"))?;
            let mut reader = Y4mReader::new(&stream[..]).map_err(|e| e.to_string())?;
            match reader.read_frame() {
                Ok(Some(frame)) => frame.into_data(),
                Ok(None) => return Err("the latest frame is empty".into()),
                Err(e) => return Err(e.to_string()),
            }
        }
    };
    Ok(encode(width, height, &rgb))
}

/// A truecolour 8-bit PNG: signature, IHDR, one IDAT, IEND.
fn encode(width: u32, height: u32, rgb: &[u8]) -> Vec<u8> {
    let mut png = b"\x89PNG\r\n\x1a\n".to_vec();
    let mut header = Vec::with_capacity(13);
    header.extend(width.to_be_bytes());
    header.extend(height.to_be_bytes());
    // 8 bits per channel, colour type 2 (RGB), deflate, filter 0, no interlace.
    header.extend([8, 2, 0, 0, 0]);
    chunk(&mut png, b"IHDR", &header);
    let mut deflate = ZlibEncoder::new(Vec::new(), Compression::fast());
    for row in rgb.chunks(width as usize * 3) {
        // Each scanline starts with its filter type: none.
        let _ = deflate.write_all(&[0]);
        let _ = deflate.write_all(row);
    }
    let data = deflate.finish().unwrap_or_default();
    chunk(&mut png, b"IDAT", &data);
    chunk(&mut png, b"IEND", &[]);
    png
}

fn chunk(png: &mut Vec<u8>, kind: &[u8; 4], data: &[u8]) {
    png.extend((data.len() as u32).to_be_bytes());
    png.extend(kind);
    png.extend(data);
    let mut crc = Crc::new();
    crc.update(kind);
    crc.update(data);
    png.extend(crc.sum().to_be_bytes());
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_png_carries_its_size_and_valid_checksums() {
        let framing = Framing::Rgb24 {
            width: 2,
            height: 1,
        };
        let frame = RawFrame {
            line: String::new(),
            data: vec![255, 0, 0, 0, 0, 255],
        };
        let png = png(&framing, &frame).unwrap();
        assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
        assert_eq!(&png[12..16], b"IHDR");
        assert_eq!(&png[16..24], &[0, 0, 0, 2, 0, 0, 0, 1]);
        let mut crc = Crc::new();
        crc.update(&png[12..29]);
        assert_eq!(&png[29..33], &crc.sum().to_be_bytes());
        assert!(png.ends_with(b"IEND\xae\x42\x60\x82"));
    }
}
