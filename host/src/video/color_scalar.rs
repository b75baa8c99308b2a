//! The conversions of [`super::color`] in plain integer arithmetic, for a
//! build without `yuvutils-rs` (the `simd-color` feature off: scopectl,
//! which converts one frame now and then for a snapshot and should not
//! compile a SIMD library for it). BT.601, limited range, 8-bit fixed
//! point; each chroma sample of 4:2:0 is the mean of its 2x2 pixels.

use super::y4m::Chroma;

fn clamp(value: i32) -> u8 {
    value.clamp(0, 255) as u8
}

/// See [`super::color::planes_to_rgb`].
pub fn planes_to_rgb(
    chroma: Chroma,
    (width, height): (u32, u32),
    (y, u, v): (&[u8], &[u8], &[u8]),
    rgb: &mut [u8],
) {
    let (w, h) = (width as usize, height as usize);
    let cw = match chroma {
        Chroma::C444 => w,
        _ => w.div_ceil(2),
    };
    for row in 0..h {
        for col in 0..w {
            let c = 298 * (i32::from(y[row * w + col]) - 16);
            let (d, e) = match chroma {
                Chroma::Mono => (0, 0),
                _ => {
                    let at = match chroma {
                        Chroma::C420 => (row / 2) * cw + col / 2,
                        Chroma::C422 => row * cw + col / 2,
                        _ => row * cw + col,
                    };
                    (i32::from(u[at]) - 128, i32::from(v[at]) - 128)
                }
            };
            let out = &mut rgb[(row * w + col) * 3..][..3];
            out[0] = clamp((c + 409 * e + 128) >> 8);
            out[1] = clamp((c - 100 * d - 208 * e + 128) >> 8);
            out[2] = clamp((c + 516 * d + 128) >> 8);
        }
    }
}

/// See [`super::color::rgb_to_planes420`].
pub fn rgb_to_planes420(
    rgb: &[u8],
    (width, height): (u32, u32),
    (y, u, v): (&mut [u8], &mut [u8], &mut [u8]),
) {
    let (w, h) = (width as usize, height as usize);
    let pixel = |row: usize, col: usize| {
        let p = &rgb[(row * w + col) * 3..][..3];
        (i32::from(p[0]), i32::from(p[1]), i32::from(p[2]))
    };
    for row in 0..h {
        for col in 0..w {
            let (r, g, b) = pixel(row, col);
            y[row * w + col] = clamp(((66 * r + 129 * g + 25 * b + 128) >> 8) + 16);
        }
    }
    let cw = w.div_ceil(2);
    for crow in 0..h.div_ceil(2) {
        for ccol in 0..cw {
            let (mut sums, mut n) = ((0, 0, 0), 0);
            for row in crow * 2..(crow * 2 + 2).min(h) {
                for col in ccol * 2..(ccol * 2 + 2).min(w) {
                    let (r, g, b) = pixel(row, col);
                    sums = (sums.0 + r, sums.1 + g, sums.2 + b);
                    n += 1;
                }
            }
            let (r, g, b) = (sums.0 / n, sums.1 / n, sums.2 / n);
            u[crow * cw + ccol] = clamp(((-38 * r - 74 * g + 112 * b + 128) >> 8) + 128);
            v[crow * cw + ccol] = clamp(((112 * r - 94 * g - 18 * b + 128) >> 8) + 128);
        }
    }
}
