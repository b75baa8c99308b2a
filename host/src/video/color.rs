//! Conversion between Y'CbCr planes (BT.601, limited range, as ffmpeg's
//! `yuv420p` is by default) and interleaved 8-bit RGB, by `yuvutils-rs`,
//! which picks AVX2, SSE4.1 or NEON code at run time (the `simd-color`
//! feature, on by default; without it, `color_scalar`'s integer loops).
//!
//! It was measured against the fixed-point loops this module had before
//! (`host/examples/frame-kernels.rs`, one 1080p frame, one core): 0.42 ms
//! against 0.73 ms to RGB, 0.51 ms against 1.17 ms back to 4:2:0.

#[cfg(not(feature = "simd-color"))]
pub use super::color_scalar::{planes_to_rgb, rgb_to_planes420};

#[cfg(feature = "simd-color")]
use yuvutils_rs::{
    rgb_to_yuv420, yuv400_to_rgb, yuv420_to_rgb, yuv422_to_rgb, yuv444_to_rgb, BufferStoreMut,
    YuvConversionMode, YuvGrayImage, YuvPlanarImage, YuvPlanarImageMut, YuvRange,
    YuvStandardMatrix,
};

#[cfg(any(feature = "simd-color", test))]
use super::y4m::Chroma;

#[cfg(feature = "simd-color")]
const RANGE: YuvRange = YuvRange::Limited;
#[cfg(feature = "simd-color")]
const MATRIX: YuvStandardMatrix = YuvStandardMatrix::Bt601;

#[cfg(feature = "simd-color")]
/// Converts a frame's planes (`y`, then `u` and `v` of `chroma`'s size; none
/// for mono) to interleaved RGB in `rgb` (`width * height * 3` bytes).
pub fn planes_to_rgb(
    chroma: Chroma,
    (width, height): (u32, u32),
    (y, u, v): (&[u8], &[u8], &[u8]),
    rgb: &mut [u8],
) {
    let chroma_width = match chroma {
        Chroma::C444 => width,
        _ => width.div_ceil(2),
    };
    let image = YuvPlanarImage {
        y_plane: y,
        y_stride: width,
        u_plane: u,
        u_stride: chroma_width,
        v_plane: v,
        v_stride: chroma_width,
        width,
        height,
    };
    let stride = width * 3;
    let converted = match chroma {
        Chroma::C420 => yuv420_to_rgb(&image, rgb, stride, RANGE, MATRIX),
        Chroma::C422 => yuv422_to_rgb(&image, rgb, stride, RANGE, MATRIX),
        Chroma::C444 => yuv444_to_rgb(&image, rgb, stride, RANGE, MATRIX),
        Chroma::Mono => {
            let grey = YuvGrayImage {
                y_plane: y,
                y_stride: width,
                width,
                height,
            };
            yuv400_to_rgb(&grey, rgb, stride, RANGE, MATRIX)
        }
    };
    // Every size passed is the header's: a mismatch is a bug here.
    converted.expect("planes and frame sized from the stream header");
}

#[cfg(feature = "simd-color")]
/// Converts interleaved RGB (`width * height * 3` bytes) to 4:2:0 planes:
/// `y` of `width * height` bytes, `u` and `v` of a quarter (rounded up).
pub fn rgb_to_planes420(
    rgb: &[u8],
    (width, height): (u32, u32),
    (y, u, v): (&mut [u8], &mut [u8], &mut [u8]),
) {
    let chroma_width = width.div_ceil(2);
    let mut image = YuvPlanarImageMut {
        y_plane: BufferStoreMut::Borrowed(y),
        y_stride: width,
        u_plane: BufferStoreMut::Borrowed(u),
        u_stride: chroma_width,
        v_plane: BufferStoreMut::Borrowed(v),
        v_stride: chroma_width,
        width,
        height,
    };
    rgb_to_yuv420(
        &mut image,
        rgb,
        width * 3,
        RANGE,
        MATRIX,
        YuvConversionMode::Balanced,
    )
    .expect("planes and frame sized from the stream header");
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round_trip(rgb: &[u8], (w, h): (u32, u32)) -> Vec<u8> {
        let (wu, hu) = (w as usize, h as usize);
        let c = wu.div_ceil(2) * hu.div_ceil(2);
        let (mut y, mut u, mut v) = (vec![0; wu * hu], vec![0; c], vec![0; c]);
        rgb_to_planes420(rgb, (w, h), (&mut y, &mut u, &mut v));
        let mut back = vec![0; rgb.len()];
        planes_to_rgb(Chroma::C420, (w, h), (&y, &u, &v), &mut back);
        back
    }

    #[test]
    fn limited_range_extremes_map_to_rgb_extremes() {
        let mut rgb = [0u8; 12];
        planes_to_rgb(
            Chroma::C420,
            (2, 2),
            (&[16, 235, 16, 235], &[128], &[128]),
            &mut rgb,
        );
        assert_eq!(rgb, [0, 0, 0, 255, 255, 255, 0, 0, 0, 255, 255, 255]);
        let mut grey = [0u8; 6];
        planes_to_rgb(Chroma::Mono, (2, 1), (&[16, 235], &[], &[]), &mut grey);
        assert_eq!(grey, [0, 0, 0, 255, 255, 255]);
    }

    #[test]
    fn grey_and_colours_round_trip_within_a_few_steps() {
        for rgb in [
            [0, 0, 0],
            [77, 77, 77],
            [128, 128, 128],
            [255, 255, 255],
            [255, 0, 0],
            [0, 255, 0],
            [0, 0, 255],
            [200, 120, 40],
            [10, 90, 240],
        ] {
            let frame: Vec<u8> = rgb.iter().copied().cycle().take(4 * 4 * 3).collect();
            let back = round_trip(&frame, (4, 4));
            for (a, b) in back.iter().zip(&frame) {
                assert!(a.abs_diff(*b) <= 3, "{rgb:?} came back as {:?}", &back[..3]);
            }
        }
    }

    type ToPlanes = fn(&[u8], (u32, u32), (&mut [u8], &mut [u8], &mut [u8]));

    #[test]
    // Without `simd-color` the two are one and the same, named twice.
    #[allow(unused_qualifications)]
    fn the_integer_loops_agree_with_the_simd_conversion() {
        use crate::video::color_scalar;
        let (w, h) = (7u32, 5u32);
        let rgb: Vec<u8> = (0..w * h * 3).map(|i| (i * 37 % 256) as u8).collect();
        let c = (w.div_ceil(2) * h.div_ceil(2)) as usize;
        let planes = |convert: ToPlanes| {
            let (mut y, mut u, mut v) = (vec![0; (w * h) as usize], vec![0; c], vec![0; c]);
            convert(&rgb, (w, h), (&mut y, &mut u, &mut v));
            (y, u, v)
        };
        let (y, u, v) = planes(rgb_to_planes420);
        let (sy, su, sv) = planes(color_scalar::rgb_to_planes420);
        for (a, b) in y
            .iter()
            .chain(&u)
            .chain(&v)
            .zip(sy.iter().chain(&su).chain(&sv))
        {
            assert!(a.abs_diff(*b) <= 2, "{a} against {b}");
        }
        let (mut fast, mut plain) = (vec![0; rgb.len()], vec![0; rgb.len()]);
        for chroma in [Chroma::C420, Chroma::Mono] {
            planes_to_rgb(chroma, (w, h), (&y, &u, &v), &mut fast);
            color_scalar::planes_to_rgb(chroma, (w, h), (&y, &u, &v), &mut plain);
            for (a, b) in fast.iter().zip(&plain) {
                assert!(a.abs_diff(*b) <= 2, "{chroma:?}: {a} against {b}");
            }
        }
    }

    #[test]
    fn odd_sizes_convert_the_last_row_and_column() {
        // 3x3: white, white, black in every row.
        let frame: Vec<u8> = [255u8, 255, 255, 255, 255, 255, 0, 0, 0].repeat(3);
        let back = round_trip(&frame, (3, 3));
        assert!(back[..6].iter().all(|&b| b > 200), "{back:?}");
        assert!(back[24..].iter().all(|&b| b < 140), "{back:?}");
    }
}
