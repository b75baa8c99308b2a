//! Conversion between Y'CbCr (BT.601, limited range, as ffmpeg's `yuv420p`
//! is by default) and interleaved 8-bit RGB. Fixed-point integer arithmetic,
//! written as plain loops over rows so that the compiler vectorises them.
//!
//! Every public function is compiled twice on x86-64: for the baseline CPU
//! and with AVX2, chosen at run time. The host is meant to run on the machine
//! that built it, but a home may move, so no `-C target-cpu=native`.
//!
//! Chroma is upsampled by repeating each sample over the pixels it covers,
//! and downsampled by averaging those pixels. The two are exact inverses, so
//! a frame that passes through unchanged keeps its chroma bit for bit, and
//! the result does not depend on the chroma siting tag.

const SHIFT: i32 = 14;
const HALF: i32 = 1 << (SHIFT - 1);
// 255/219 and the BT.601 chroma factors, scaled by 2^14.
const Y_GAIN: i32 = 19077;
const R_FROM_V: i32 = 26149;
const G_FROM_U: i32 = 6419;
const G_FROM_V: i32 = 13320;
const B_FROM_U: i32 = 33050;

/// Defines `pub fn $name` that runs `$imp` with AVX2 where the CPU has it.
macro_rules! simd_dispatch {
    ($(#[$doc:meta])* pub fn $name:ident($($arg:ident: $ty:ty),* $(,)?) => $imp:ident;) => {
        $(#[$doc])*
        pub fn $name($($arg: $ty),*) {
            #[cfg(target_arch = "x86_64")]
            {
                #[target_feature(enable = "avx2")]
                fn avx2($($arg: $ty),*) {
                    $imp($($arg),*)
                }
                if std::is_x86_feature_detected!("avx2") {
                    // SAFETY: the CPU has AVX2, checked on the line above.
                    #[allow(unsafe_code)]
                    return unsafe { avx2($($arg),*) };
                }
            }
            $imp($($arg),*)
        }
    };
}

#[inline(always)]
fn clamp_byte(v: i32) -> u8 {
    v.clamp(0, 255) as u8
}

simd_dispatch! {
    /// Converts one row: `y` has one sample per pixel, `u` and `v` one sample
    /// per `1 << chroma_shift` pixels.
    pub fn yuv_row_to_rgb(y: &[u8], u: &[u8], v: &[u8], chroma_shift: u32, rgb: &mut [u8]) => yuv_row_to_rgb_impl;
}

#[inline(always)]
fn yuv_row_to_rgb_impl(y: &[u8], u: &[u8], v: &[u8], chroma_shift: u32, rgb: &mut [u8]) {
    debug_assert_eq!(rgb.len(), y.len() * 3);
    if chroma_shift == 1 {
        // Two pixels share one chroma pair: the common case, kept branch-free.
        for ((ys, out), (&cu, &cv)) in y
            .chunks_exact(2)
            .zip(rgb.chunks_exact_mut(6))
            .zip(u.iter().zip(v))
        {
            let (r, g, b) = chroma_terms(cu, cv);
            for (k, &yy) in ys.iter().enumerate() {
                let l = (i32::from(yy) - 16) * Y_GAIN + HALF;
                out[k * 3] = clamp_byte((l + r) >> SHIFT);
                out[k * 3 + 1] = clamp_byte((l + g) >> SHIFT);
                out[k * 3 + 2] = clamp_byte((l + b) >> SHIFT);
            }
        }
        if y.len() % 2 == 1 {
            let last = y.len() - 1;
            pixel_to_rgb(y[last], u[last / 2], v[last / 2], &mut rgb[last * 3..]);
        }
    } else {
        for (x, out) in rgb.chunks_exact_mut(3).enumerate() {
            let c = x >> chroma_shift;
            pixel_to_rgb(y[x], u[c], v[c], out);
        }
    }
}

#[inline(always)]
fn chroma_terms(u: u8, v: u8) -> (i32, i32, i32) {
    let (u, v) = (i32::from(u) - 128, i32::from(v) - 128);
    (R_FROM_V * v, -G_FROM_U * u - G_FROM_V * v, B_FROM_U * u)
}

#[inline(always)]
fn pixel_to_rgb(y: u8, u: u8, v: u8, out: &mut [u8]) {
    let (r, g, b) = chroma_terms(u, v);
    let l = (i32::from(y) - 16) * Y_GAIN + HALF;
    out[0] = clamp_byte((l + r) >> SHIFT);
    out[1] = clamp_byte((l + g) >> SHIFT);
    out[2] = clamp_byte((l + b) >> SHIFT);
}

simd_dispatch! {
    /// Converts a row of luma only (a `mono` stream) to grey RGB.
    pub fn luma_row_to_rgb(y: &[u8], rgb: &mut [u8]) => luma_row_to_rgb_impl;
}

#[inline(always)]
fn luma_row_to_rgb_impl(y: &[u8], rgb: &mut [u8]) {
    for (&yy, out) in y.iter().zip(rgb.chunks_exact_mut(3)) {
        let l = clamp_byte(((i32::from(yy) - 16) * Y_GAIN + HALF) >> SHIFT);
        out.fill(l);
    }
}

// RGB → Y'CbCr, scaled by 2^16, with the limited-range offsets folded in.
const RGB_SHIFT: i32 = 16;
const Y_R: i32 = 16829;
const Y_G: i32 = 33039;
const Y_B: i32 = 6416;
const U_R: i32 = -9714;
const U_G: i32 = -19071;
const UV_MAX: i32 = 28784;
const V_G: i32 = -24103;
const V_B: i32 = -4681;
const Y_OFFSET: i32 = (16 << RGB_SHIFT) + (1 << (RGB_SHIFT - 1));
const C_OFFSET: i32 = (128 << RGB_SHIFT) + (1 << (RGB_SHIFT - 1));

simd_dispatch! {
    /// Converts one RGB row to luma.
    pub fn rgb_row_to_luma(rgb: &[u8], y: &mut [u8]) => rgb_row_to_luma_impl;
}

#[inline(always)]
fn rgb_row_to_luma_impl(rgb: &[u8], y: &mut [u8]) {
    for (px, out) in rgb.chunks_exact(3).zip(y.iter_mut()) {
        let (r, g, b) = (i32::from(px[0]), i32::from(px[1]), i32::from(px[2]));
        *out = ((Y_R * r + Y_G * g + Y_B * b + Y_OFFSET) >> RGB_SHIFT) as u8;
    }
}

simd_dispatch! {
    /// Computes one row of 4:2:0 chroma from one or two RGB rows (two, except
    /// for the last row of an odd height), averaging each 2×2 block.
    pub fn rgb_rows_to_chroma420(top: &[u8], bottom: Option<&[u8]>, u: &mut [u8], v: &mut [u8]) => rgb_rows_to_chroma420_impl;
}

#[inline(always)]
fn rgb_rows_to_chroma420_impl(top: &[u8], bottom: Option<&[u8]>, u: &mut [u8], v: &mut [u8]) {
    let bottom = bottom.unwrap_or(top);
    let width = top.len() / 3;
    let full_pairs = width / 2;
    // Blocks of CHUNK pixels: each row's channels are first separated into
    // planes (one pass of stride-3 loads, which vectorises), so that the
    // 2x2 sums and the products below run on whole vectors.
    const CHUNK: usize = 64;
    let chunked = full_pairs / (CHUNK / 2) * (CHUNK / 2);
    for ((a, b), (cu, cv)) in top[..chunked * 6]
        .chunks_exact(CHUNK * 3)
        .zip(bottom[..chunked * 6].chunks_exact(CHUNK * 3))
        .zip(
            u[..chunked]
                .chunks_exact_mut(CHUNK / 2)
                .zip(v[..chunked].chunks_exact_mut(CHUNK / 2)),
        )
    {
        let mut planes = [[0u16; CHUNK]; 3];
        for (k, (pa, pb)) in a.chunks_exact(3).zip(b.chunks_exact(3)).enumerate() {
            for c in 0..3 {
                planes[c][k] = u16::from(pa[c]) + u16::from(pb[c]);
            }
        }
        let sum = |c: usize, i: usize| i32::from(planes[c][2 * i] + planes[c][2 * i + 1]);
        for i in 0..CHUNK / 2 {
            let (r, g, bl) = (sum(0, i), sum(1, i), sum(2, i));
            cu[i] = ((U_R * r + U_G * g + UV_MAX * bl + 4 * C_OFFSET) >> (RGB_SHIFT + 2)) as u8;
            cv[i] = ((UV_MAX * r + V_G * g + V_B * bl + 4 * C_OFFSET) >> (RGB_SHIFT + 2)) as u8;
        }
    }
    for (i, (cu, cv)) in u
        .iter_mut()
        .zip(v.iter_mut())
        .enumerate()
        .take(full_pairs)
        .skip(chunked)
    {
        let a = &top[i * 6..i * 6 + 6];
        let b = &bottom[i * 6..i * 6 + 6];
        // Sum of four pixels; the shift below divides by four.
        let r = i32::from(a[0]) + i32::from(a[3]) + i32::from(b[0]) + i32::from(b[3]);
        let g = i32::from(a[1]) + i32::from(a[4]) + i32::from(b[1]) + i32::from(b[4]);
        let bl = i32::from(a[2]) + i32::from(a[5]) + i32::from(b[2]) + i32::from(b[5]);
        *cu = ((U_R * r + U_G * g + UV_MAX * bl + 4 * C_OFFSET) >> (RGB_SHIFT + 2)) as u8;
        *cv = ((UV_MAX * r + V_G * g + V_B * bl + 4 * C_OFFSET) >> (RGB_SHIFT + 2)) as u8;
    }
    if width % 2 == 1 {
        let x = width - 1;
        let a = &top[x * 3..x * 3 + 3];
        let b = &bottom[x * 3..x * 3 + 3];
        let r = i32::from(a[0]) + i32::from(b[0]);
        let g = i32::from(a[1]) + i32::from(b[1]);
        let bl = i32::from(a[2]) + i32::from(b[2]);
        u[full_pairs] = ((U_R * r + U_G * g + UV_MAX * bl + 2 * C_OFFSET) >> (RGB_SHIFT + 1)) as u8;
        v[full_pairs] = ((UV_MAX * r + V_G * g + V_B * bl + 2 * C_OFFSET) >> (RGB_SHIFT + 1)) as u8;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limited_range_extremes_map_to_rgb_extremes() {
        let mut rgb = [0u8; 6];
        yuv_row_to_rgb(&[16, 235], &[128], &[128], 1, &mut rgb);
        assert_eq!(rgb, [0, 0, 0, 255, 255, 255]);
    }

    #[test]
    fn grey_round_trips_exactly() {
        for level in [0u8, 1, 77, 128, 200, 254, 255] {
            let rgb = [level; 6];
            let (mut y, mut u, mut v) = ([0u8; 2], [0u8; 1], [0u8; 1]);
            rgb_row_to_luma(&rgb, &mut y);
            rgb_rows_to_chroma420(&rgb, None, &mut u, &mut v);
            assert_eq!((u[0], v[0]), (128, 128), "level {level}");
            let mut back = [0u8; 6];
            yuv_row_to_rgb(&y, &u, &v, 1, &mut back);
            for b in back {
                assert!(b.abs_diff(level) <= 1, "level {level} came back as {b}");
            }
        }
    }

    #[test]
    fn colours_round_trip_within_a_step() {
        // Saturated primaries and a few mid tones, as one 2x1 block each.
        for rgb in [
            [255, 0, 0],
            [0, 255, 0],
            [0, 0, 255],
            [200, 120, 40],
            [10, 90, 240],
        ] {
            let row: Vec<u8> = rgb.iter().chain(&rgb).copied().collect();
            let (mut y, mut u, mut v) = ([0u8; 2], [0u8; 1], [0u8; 1]);
            rgb_row_to_luma(&row, &mut y);
            rgb_rows_to_chroma420(&row, Some(&row), &mut u, &mut v);
            let mut back = [0u8; 6];
            yuv_row_to_rgb(&y, &u, &v, 1, &mut back);
            for (a, b) in back.iter().zip(&row) {
                assert!(a.abs_diff(*b) <= 2, "{rgb:?} came back as {back:?}");
            }
        }
    }

    /// Each 2x2 block on its own, as the chunked loop must compute it.
    fn chroma_of_block(a: &[u8], b: &[u8]) -> (u8, u8) {
        let sum = |c: usize| {
            i32::from(a[c]) + i32::from(a[c + 3]) + i32::from(b[c]) + i32::from(b[c + 3])
        };
        let (r, g, bl) = (sum(0), sum(1), sum(2));
        (
            ((U_R * r + U_G * g + UV_MAX * bl + 4 * C_OFFSET) >> (RGB_SHIFT + 2)) as u8,
            ((UV_MAX * r + V_G * g + V_B * bl + 4 * C_OFFSET) >> (RGB_SHIFT + 2)) as u8,
        )
    }

    #[test]
    fn chroma_in_chunks_is_bit_identical_to_block_by_block() {
        let mut seed = 0x9e37_79b9u32;
        let mut noise = || {
            seed ^= seed << 13;
            seed ^= seed >> 17;
            seed ^= seed << 5;
            (seed >> 24) as u8
        };
        for width in [2usize, 63, 64, 65, 127, 128, 130, 200, 1920] {
            let top: Vec<u8> = (0..width * 3).map(|_| noise()).collect();
            let bottom: Vec<u8> = (0..width * 3).map(|_| noise()).collect();
            let cw = width.div_ceil(2);
            let (mut u, mut v) = (vec![0u8; cw], vec![0u8; cw]);
            rgb_rows_to_chroma420(&top, Some(&bottom), &mut u, &mut v);
            for i in 0..width / 2 {
                let block = chroma_of_block(&top[i * 6..], &bottom[i * 6..]);
                assert_eq!((u[i], v[i]), block, "width {width}, block {i}");
            }
        }
    }

    #[test]
    fn odd_widths_convert_the_last_column() {
        let mut rgb = [0u8; 9];
        yuv_row_to_rgb(&[235, 235, 16], &[128, 128], &[128, 128], 1, &mut rgb);
        assert_eq!(rgb, [255, 255, 255, 255, 255, 255, 0, 0, 0]);
        let (mut u, mut v) = ([0u8; 2], [0u8; 2]);
        rgb_rows_to_chroma420(&[255, 0, 0, 255, 0, 0, 0, 0, 255], None, &mut u, &mut v);
        assert!(u[0] < 128 && v[0] > 200, "red: {u:?} {v:?}");
        assert!(u[1] > 200 && v[1] < 128, "blue: {u:?} {v:?}");
    }
}
