//! Conversion between Y'CbCr planes (BT.601, limited range, as ffmpeg's
//! `yuv420p` is by default) and interleaved 8-bit RGB, a row at a time, in
//! 16-bit integer arithmetic written so the compiler vectorizes it: each
//! row is split into planes (or joined from them) by one loop and
//! converted by another, neither with a branch or a bounds check inside,
//! and on x86-64 both are compiled a second time for AVX2 and picked at
//! run time. Within one step of the exact conversion. Each chroma sample
//! of 4:2:0 is the mean of its 2x2 pixels.
//!
//! Hosts used `yuvutils-rs`'s hand-written SIMD before: 0.41 and 0.51 ms
//! for a 1080p frame to RGB and back (one core), against 0.57–0.68 and
//! 0.52–0.58 ms here, but it cost 25 s of every host's first build on two
//! cores (`bench/frame-kernels.sh`; end to end in the README's benchmarks).

use super::y4m::Chroma;

/// A row's red, green and blue, each its own plane, reused from row to row.
struct Channels<T> {
    r: Vec<T>,
    g: Vec<T>,
    b: Vec<T>,
}

impl<T: Copy + Default> Channels<T> {
    fn new(width: usize) -> Channels<T> {
        Channels {
            r: vec![T::default(); width],
            g: vec![T::default(); width],
            b: vec![T::default(); width],
        }
    }
}

/// One row of pixels as three planes.
type Planes = Channels<u8>;

/// What a row of chroma adds to each channel, 6 fractional bits, at the
/// row's full width: made once for the luma rows that share it.
type Tints = Channels<i16>;

#[inline(always)]
fn clamp(value: i16) -> u8 {
    value.clamp(0, 255) as u8
}

/// The tints of chroma samples `u` and `v`, each covering `SPAN` pixels
/// (1 or 2) of `tints`; an odd last pixel takes the last sample.
#[inline(always)]
fn chroma_to_tints<const SPAN: usize>(u: &[u8], v: &[u8], tints: &mut Tints) {
    let tint = |i: usize| {
        let (d, e) = (i16::from(u[i]) - 128, i16::from(v[i]) - 128);
        (102 * e, -25 * d - 52 * e, 129 * d)
    };
    let whole = tints.r.len() / SPAN;
    let (red, green, blue) = (
        tints.r.chunks_exact_mut(SPAN),
        tints.g.chunks_exact_mut(SPAN),
        tints.b.chunks_exact_mut(SPAN),
    );
    for (i, ((r, g), b)) in red
        .zip(green)
        .zip(blue)
        .enumerate()
        .take(whole.min(u.len()).min(v.len()))
    {
        let (tr, tg, tb) = tint(i);
        for k in 0..SPAN {
            r[k] = tr;
            g[k] = tg;
            b[k] = tb;
        }
    }
    if !tints.r.len().is_multiple_of(SPAN) {
        let (tr, tg, tb) = tint(whole);
        let last = tints.r.len() - 1;
        (tints.r[last], tints.g[last], tints.b[last]) = (tr, tg, tb);
    }
}

/// One row to RGB planes, 6 fractional bits. Red and blue can pass
/// `i16::MAX` only where they clamp to 255 anyway, so their sums saturate.
#[inline(always)]
fn yuv_to_planes(y: &[u8], tints: &Tints, out: &mut Planes) {
    let n = y.len();
    let (tr, tg, tb) = (&tints.r[..n], &tints.g[..n], &tints.b[..n]);
    let (r, g, b) = (&mut out.r[..n], &mut out.g[..n], &mut out.b[..n]);
    for i in 0..n {
        // 1.164 × 64 = 74.5
        let luma = i16::from(y[i]) - 16;
        let c = 75 * luma - (luma >> 1) + 32;
        r[i] = clamp(c.saturating_add(tr[i]) >> 6);
        g[i] = clamp((c + tg[i]) >> 6);
        b[i] = clamp(c.saturating_add(tb[i]) >> 6);
    }
}

#[inline(always)]
fn interleave(planes: &Planes, rgb: &mut [u8]) {
    let pixels = planes.r.iter().zip(&planes.g).zip(&planes.b);
    for (out, ((&r, &g), &b)) in rgb.chunks_exact_mut(3).zip(pixels) {
        out[0] = r;
        out[1] = g;
        out[2] = b;
    }
}

#[inline(always)]
fn deinterleave(rgb: &[u8], planes: &mut Planes) {
    let pixels = planes.r.iter_mut().zip(&mut planes.g).zip(&mut planes.b);
    for (p, ((r, g), b)) in rgb.chunks_exact(3).zip(pixels) {
        *r = p[0];
        *g = p[1];
        *b = p[2];
    }
}

/// Luma of a row of planes; every term is positive, so it fits `u16`.
#[inline(always)]
fn planes_to_luma(planes: &Planes, y: &mut [u8]) {
    let n = y.len();
    let (r, g, b) = (&planes.r[..n], &planes.g[..n], &planes.b[..n]);
    for i in 0..n {
        let sum = 66 * u16::from(r[i]) + 129 * u16::from(g[i]) + 25 * u16::from(b[i]) + 128;
        y[i] = (sum >> 8) as u8 + 16;
    }
}

/// Chroma of two rows of planes, whole 2x2 blocks (`u.len()` of them).
#[inline(always)]
fn planes_to_chroma(top: &Planes, bottom: &Planes, u: &mut [u8], v: &mut [u8]) {
    let n = u.len();
    let v = &mut v[..n];
    let mean = |top: &[u8], bottom: &[u8], i: usize| {
        let sum = u16::from(top[2 * i])
            + u16::from(top[2 * i + 1])
            + u16::from(bottom[2 * i])
            + u16::from(bottom[2 * i + 1]);
        ((sum + 2) >> 2) as i16
    };
    let (tr, tg, tb) = (&top.r[..2 * n], &top.g[..2 * n], &top.b[..2 * n]);
    let (br, bg, bb) = (&bottom.r[..2 * n], &bottom.g[..2 * n], &bottom.b[..2 * n]);
    for i in 0..n {
        let (r, g, b) = (mean(tr, br, i), mean(tg, bg, i), mean(tb, bb, i));
        u[i] = chroma_u(r, g, b);
        v[i] = chroma_v(r, g, b);
    }
}

#[inline(always)]
fn chroma_u(r: i16, g: i16, b: i16) -> u8 {
    clamp(((-38 * r - 74 * g + 112 * b + 128) >> 8) + 128)
}

#[inline(always)]
fn chroma_v(r: i16, g: i16, b: i16) -> u8 {
    clamp(((112 * r - 94 * g - 18 * b + 128) >> 8) + 128)
}

/// Defines `$name`, which runs `$body` compiled for AVX2 where the CPU
/// has it, else compiled for the baseline.
macro_rules! dispatch {
    ($name:ident($($arg:ident: $ty:ty),*) => $body:path) => {
        fn $name($($arg: $ty),*) {
            #[cfg(target_arch = "x86_64")]
            {
                #[target_feature(enable = "avx2")]
                fn wide($($arg: $ty),*) {
                    $body($($arg),*)
                }
                if std::is_x86_feature_detected!("avx2") {
                    // SAFETY: the CPU was just found to have AVX2, which is
                    // all `wide` was compiled to assume.
                    #[allow(unsafe_code)]
                    unsafe {
                        return wide($($arg),*);
                    }
                }
            }
            $body($($arg),*)
        }
    };
}

dispatch!(row_to_rgb(y: &[u8], tints: &Tints, planes: &mut Planes, rgb: &mut [u8]) => yuv_to_rgb);
dispatch!(rows_to_yuv(top: &[u8], bottom: &[u8], planes: &mut [Planes; 2], y: (&mut [u8], &mut [u8]), u: &mut [u8], v: &mut [u8]) => rgb_to_yuv);
dispatch!(tint_row(u: &[u8], v: &[u8], tints: &mut Tints) => chroma_to_tints::<1>);
dispatch!(tint_half_row(u: &[u8], v: &[u8], tints: &mut Tints) => chroma_to_tints::<2>);

#[inline(always)]
fn yuv_to_rgb(y: &[u8], tints: &Tints, planes: &mut Planes, rgb: &mut [u8]) {
    yuv_to_planes(y, tints, planes);
    interleave(planes, rgb);
}

/// Two rows of RGB (the same row twice for an odd last one) to their luma
/// rows and one row of chroma.
#[inline(always)]
fn rgb_to_yuv(
    top: &[u8],
    bottom: &[u8],
    planes: &mut [Planes; 2],
    (y_top, y_bottom): (&mut [u8], &mut [u8]),
    u: &mut [u8],
    v: &mut [u8],
) {
    let [upper, lower] = planes;
    deinterleave(top, upper);
    deinterleave(bottom, lower);
    planes_to_luma(upper, y_top);
    planes_to_luma(lower, y_bottom);
    let whole = y_top.len() / 2;
    planes_to_chroma(upper, lower, &mut u[..whole], &mut v[..whole]);
    if y_top.len() % 2 == 1 {
        // The odd last column: a 1x2 block.
        let last = y_top.len() - 1;
        let mean = |a: &[u8], b: &[u8]| ((u16::from(a[last]) + u16::from(b[last]) + 1) >> 1) as i16;
        let (r, g, b) = (
            mean(&upper.r, &lower.r),
            mean(&upper.g, &lower.g),
            mean(&upper.b, &lower.b),
        );
        u[whole] = chroma_u(r, g, b);
        v[whole] = chroma_v(r, g, b);
    }
}

/// Converts a frame's planes (`y`, then `u` and `v` of `chroma`'s size; none
/// for mono) to interleaved RGB in `rgb` (`width * height * 3` bytes).
pub fn planes_to_rgb(
    chroma: Chroma,
    (width, height): (u32, u32),
    (y, u, v): (&[u8], &[u8], &[u8]),
    rgb: &mut [u8],
) {
    let (w, h) = (width as usize, height as usize);
    if w == 0 || h == 0 {
        return;
    }
    let cw = match chroma {
        Chroma::C444 => w,
        _ => w.div_ceil(2),
    };
    let mut planes = Planes::new(w);
    // Mono's tints stay 0 (grey).
    let mut tints = Tints::new(w);
    let mut tinted = None;
    let rows = y.chunks_exact(w).zip(rgb.chunks_exact_mut(w * 3));
    for (row, (y, rgb)) in rows.take(h).enumerate() {
        let chroma_row = match chroma {
            Chroma::Mono => None,
            Chroma::C420 => Some(row / 2),
            Chroma::C422 | Chroma::C444 => Some(row),
        };
        if let Some(at) = chroma_row.filter(|&at| tinted != Some(at)) {
            let (u, v) = (&u[at * cw..][..cw], &v[at * cw..][..cw]);
            if cw == w {
                tint_row(u, v, &mut tints);
            } else {
                tint_half_row(u, v, &mut tints);
            }
            tinted = Some(at);
        }
        row_to_rgb(y, &tints, &mut planes, rgb);
    }
}

/// Converts interleaved RGB (`width * height * 3` bytes) to 4:2:0 planes:
/// `y` of `width * height` bytes, `u` and `v` of a quarter (rounded up).
pub fn rgb_to_planes420(
    rgb: &[u8],
    (width, height): (u32, u32),
    (y, u, v): (&mut [u8], &mut [u8], &mut [u8]),
) {
    let (w, h) = (width as usize, height as usize);
    if w == 0 || h == 0 {
        return;
    }
    let cw = w.div_ceil(2);
    let mut planes = [Planes::new(w), Planes::new(w)];
    let mut luma = y[..w * h].chunks_exact_mut(w);
    let chroma = u.chunks_exact_mut(cw).zip(v.chunks_exact_mut(cw));
    let mut odd = vec![0; w];
    for (pair, (u, v)) in chroma.take(h.div_ceil(2)).enumerate() {
        let top = &rgb[pair * 2 * w * 3..][..w * 3];
        let y_top = luma.next().expect("a luma row for each pair");
        let (bottom, y_bottom) = match luma.next() {
            Some(y_bottom) => (&rgb[(pair * 2 + 1) * w * 3..][..w * 3], y_bottom),
            // An odd last row is its own pair (its luma made twice).
            None => (top, &mut odd[..]),
        };
        rows_to_yuv(top, bottom, &mut planes, (y_top, y_bottom), u, v);
    }
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

    /// The exact BT.601 limited-range conversion, in floating point.
    fn exact_rgb(y: u8, u: u8, v: u8) -> [u8; 3] {
        let (c, d, e) = (
            f64::from(y) - 16.0,
            f64::from(u) - 128.0,
            f64::from(v) - 128.0,
        );
        let channel = |x: f64| x.round().clamp(0.0, 255.0) as u8;
        [
            channel(1.164_383 * c + 1.596_027 * e),
            channel(1.164_383 * c - 0.391_762 * d - 0.812_968 * e),
            channel(1.164_383 * c + 2.017_232 * d),
        ]
    }

    #[test]
    fn every_chroma_layout_is_within_one_step_of_the_exact_conversion() {
        // Odd sizes, and wide enough for the vector loops' bodies and tails.
        let (w, h) = (37u32, 5u32);
        let (wu, hu) = (w as usize, h as usize);
        let y: Vec<u8> = (0..wu * hu).map(|i| (i * 37 % 256) as u8).collect();
        for chroma in [Chroma::C420, Chroma::C422, Chroma::C444, Chroma::Mono] {
            let (cw, ch) = match chroma {
                Chroma::C420 => (wu.div_ceil(2), hu.div_ceil(2)),
                Chroma::C422 => (wu.div_ceil(2), hu),
                Chroma::C444 => (wu, hu),
                Chroma::Mono => (0, 0),
            };
            let u: Vec<u8> = (0..cw * ch).map(|i| (i * 91 % 256) as u8).collect();
            let v: Vec<u8> = (0..cw * ch).map(|i| (i * 53 % 256) as u8).collect();
            let mut rgb = vec![0; wu * hu * 3];
            planes_to_rgb(chroma, (w, h), (&y, &u, &v), &mut rgb);
            for (i, pixel) in rgb.chunks_exact(3).enumerate() {
                let (row, col) = (i / wu, i % wu);
                let at = match chroma {
                    Chroma::C420 => (row / 2) * cw + col / 2,
                    Chroma::C422 => row * cw + col / 2,
                    _ => row * cw + col,
                };
                let (cu, cv) = if chroma == Chroma::Mono {
                    (128, 128)
                } else {
                    (u[at], v[at])
                };
                let exact = exact_rgb(y[i], cu, cv);
                for (got, want) in pixel.iter().zip(exact) {
                    assert!(
                        got.abs_diff(want) <= 1,
                        "{chroma:?} pixel {i}: {pixel:?} against {exact:?}"
                    );
                }
            }
        }
    }

    #[test]
    fn luma_and_chroma_from_rgb_are_within_one_step_of_the_exact_conversion() {
        let (w, h) = (37u32, 5u32);
        let (wu, hu) = (w as usize, h as usize);
        let rgb: Vec<u8> = (0..wu * hu * 3).map(|i| (i * 37 % 256) as u8).collect();
        let c = wu.div_ceil(2) * hu.div_ceil(2);
        let (mut y, mut u, mut v) = (vec![0; wu * hu], vec![0; c], vec![0; c]);
        rgb_to_planes420(&rgb, (w, h), (&mut y, &mut u, &mut v));
        let channel = |x: f64| x.round().clamp(0.0, 255.0) as u8;
        for (i, p) in rgb.chunks_exact(3).enumerate() {
            let (r, g, b) = (f64::from(p[0]), f64::from(p[1]), f64::from(p[2]));
            let exact = channel(16.0 + 0.256_788 * r + 0.504_129 * g + 0.097_906 * b);
            assert!(
                y[i].abs_diff(exact) <= 1,
                "luma {i}: {} against {exact}",
                y[i]
            );
        }
        let cw = wu.div_ceil(2);
        for (at, (&got_u, &got_v)) in u.iter().zip(&v).enumerate() {
            let (crow, ccol) = (at / cw, at % cw);
            let mut sums = [0.0; 3];
            let mut n = 0.0;
            for row in crow * 2..(crow * 2 + 2).min(hu) {
                for col in ccol * 2..(ccol * 2 + 2).min(wu) {
                    for (sum, &byte) in sums.iter_mut().zip(&rgb[(row * wu + col) * 3..][..3]) {
                        *sum += f64::from(byte);
                    }
                    n += 1.0;
                }
            }
            let [r, g, b] = sums.map(|s| s / n);
            let exact_u = channel(128.0 - 0.148_223 * r - 0.290_993 * g + 0.439_216 * b);
            let exact_v = channel(128.0 + 0.439_216 * r - 0.367_788 * g - 0.071_427 * b);
            assert!(
                got_u.abs_diff(exact_u) <= 1,
                "u {at}: {got_u} against {exact_u}"
            );
            assert!(
                got_v.abs_diff(exact_v) <= 1,
                "v {at}: {got_v} against {exact_v}"
            );
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
