//! 4:2:0 chroma brought to full resolution one row at a time, bilinearly and
//! where the stream says its chroma samples sit (y4m's `C420jpeg`,
//! `C420mpeg2`, `C420paldv`), instead of repeating each sample over its 2×2
//! pixels.
//!
//! Weights are quarters: a row of the output is `a × near + b × far` of two
//! chroma rows, then each output sample `a' × one + b' × other` of two
//! columns of that, with `a + b = a' + b' = 4`, rounded once at the end.

/// Where a 4:2:0 stream's chroma samples sit relative to the luma samples.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Siting {
    /// Between the four luma samples they cover (`C420jpeg`, and plain
    /// `C420`, which is what ffmpeg reads it as).
    #[default]
    Center,
    /// With the left column of luma, between the rows (`C420mpeg2`).
    Left,
    /// With the top-left luma sample (`C420paldv`; PAL DV's Cb and Cr sit on
    /// alternate lines, which is not modelled: both are taken as top-left).
    TopLeft,
}

impl Siting {
    /// Whether the chroma samples sit between two luma columns (`true`) or
    /// on the left one; the same question for rows.
    fn centered(self) -> (bool, bool) {
        match self {
            Siting::Center => (true, true),
            Siting::Left => (false, true),
            Siting::TopLeft => (false, false),
        }
    }
}

/// Scratch space for one output row of one chroma plane.
#[derive(Default)]
pub struct RowUpsampler {
    /// The two chroma rows blended, in sixteenths-to-be (0..=1020).
    blended: Vec<u16>,
}

impl RowUpsampler {
    /// Writes the chroma of output row `row` (of `width` pixels) into `out`,
    /// from `plane` (rows of `width.div_ceil(2)` samples, `rows` of them).
    pub fn row(&mut self, siting: Siting, plane: &[u8], rows: usize, row: usize, out: &mut [u8]) {
        let (across, down) = siting.centered();
        let chroma_width = out.len().div_ceil(2);
        let line = |k: usize| &plane[k * chroma_width..][..chroma_width];
        let k = row / 2;
        // Which other chroma row, and its weight in quarters.
        let (other, weight) = match (down, row.is_multiple_of(2)) {
            (true, true) => (k.saturating_sub(1), 1),
            (true, false) => ((k + 1).min(rows - 1), 1),
            (false, true) => (k, 0),
            (false, false) => ((k + 1).min(rows - 1), 2),
        };
        let (near, far) = (line(k), line(other));
        self.blended.clear();
        self.blended.extend(
            near.iter()
                .zip(far)
                .map(|(&n, &f)| u16::from(n) * (4 - weight) + u16::from(f) * weight),
        );
        if across {
            centered_columns(&self.blended, out);
        } else {
            left_columns(&self.blended, out);
        }
    }
}

fn finish(quarters_squared: u16) -> u8 {
    ((quarters_squared + 8) >> 4) as u8
}

/// Output column `2i` is ¾ of sample `i` and ¼ of `i - 1`; `2i + 1` is ¾ of
/// `i` and ¼ of `i + 1` (edges repeat the last sample).
fn centered_columns(t: &[u16], out: &mut [u8]) {
    let n = t.len();
    let last = n - 1;
    let pair = |i: usize| {
        let (left, right) = (t[i.saturating_sub(1)], t[(i + 1).min(last)]);
        [finish(3 * t[i] + left), finish(3 * t[i] + right)]
    };
    edges(n, out, pair);
    if n > 2 {
        for (w, o) in t.windows(3).zip(out[2..].chunks_exact_mut(2)) {
            let centre = 3 * w[1];
            o[0] = finish(centre + w[0]);
            o[1] = finish(centre + w[2]);
        }
    }
}

/// Output column `2i` is sample `i`; `2i + 1` is halfway to `i + 1`.
fn left_columns(t: &[u16], out: &mut [u8]) {
    let n = t.len();
    let last = n - 1;
    let pair = |i: usize| {
        [
            finish(4 * t[i]),
            finish(2 * t[i] + 2 * t[(i + 1).min(last)]),
        ]
    };
    edges(n, out, pair);
    if n > 2 {
        for (w, o) in t.windows(2).zip(out.chunks_exact_mut(2)).skip(1) {
            o[0] = finish(4 * w[0]);
            o[1] = finish(2 * w[0] + 2 * w[1]);
        }
    }
}

/// The first and last pair of output columns (the last may be one column,
/// for an odd width), which the loops over whole windows leave out.
fn edges(n: usize, out: &mut [u8], pair: impl Fn(usize) -> [u8; 2]) {
    let width = out.len();
    for i in [0, n - 1] {
        let [even, odd] = pair(i);
        out[2 * i] = even;
        if 2 * i + 1 < width {
            out[2 * i + 1] = odd;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The same upsampling in floating point, straight from the sample
    /// positions: a chroma sample `i` sits at luma column `2i + ½` when
    /// centred, `2i` when not; edges repeat.
    fn reference(siting: Siting, plane: &[u8], (w, h): (usize, usize)) -> Vec<u8> {
        let (cw, ch) = (w.div_ceil(2), h.div_ceil(2));
        let (across, down) = siting.centered();
        let position = |x: usize, centred: bool, n: usize| {
            let p = if centred {
                (x as f64 - 0.5) / 2.0
            } else {
                x as f64 / 2.0
            };
            let p = p.clamp(0.0, (n - 1) as f64);
            let i = p.floor() as usize;
            (i, (i + 1).min(n - 1), p - i as f64)
        };
        let mut out = Vec::new();
        for y in 0..h {
            let (r0, r1, fy) = position(y, down, ch);
            for x in 0..w {
                let (c0, c1, fx) = position(x, across, cw);
                let at = |r: usize, c: usize| f64::from(plane[r * cw + c]);
                let top = at(r0, c0) * (1.0 - fx) + at(r0, c1) * fx;
                let bottom = at(r1, c0) * (1.0 - fx) + at(r1, c1) * fx;
                out.push((top * (1.0 - fy) + bottom * fy).round() as u8);
            }
        }
        out
    }

    fn upsample(siting: Siting, plane: &[u8], (w, h): (usize, usize)) -> Vec<u8> {
        let mut upsampler = RowUpsampler::default();
        let mut out = vec![0; w * h];
        for (y, row) in out.chunks_exact_mut(w).enumerate() {
            upsampler.row(siting, plane, h.div_ceil(2), y, row);
        }
        out
    }

    #[test]
    fn every_siting_matches_bilinear_interpolation_at_the_sample_positions() {
        for siting in [Siting::Center, Siting::Left, Siting::TopLeft] {
            for (w, h) in [(1usize, 1usize), (2, 2), (3, 3), (4, 2), (5, 7), (16, 6), (33, 9)] {
                let (cw, ch) = (w.div_ceil(2), h.div_ceil(2));
                let plane: Vec<u8> = (0..cw * ch).map(|i| (i * 97 % 256) as u8).collect();
                let ours = upsample(siting, &plane, (w, h));
                let exact = reference(siting, &plane, (w, h));
                for (i, (a, b)) in ours.iter().zip(&exact).enumerate() {
                    // Rounding once in integers against once in floats:
                    // a .5 may go either way.
                    assert!(a.abs_diff(*b) <= 1, "{siting:?} {w}x{h} at {i}: {a} vs {b}");
                }
            }
        }
    }

    #[test]
    fn a_flat_plane_stays_flat_and_a_step_is_softened_not_moved() {
        let flat = upsample(Siting::Center, &[77; 6], (6, 4));
        assert!(flat.iter().all(|&v| v == 77));
        // One row of chroma: 0, 0, 200, 200 (8 pixels wide).
        let step = upsample(Siting::Center, &[0, 0, 200, 200], (8, 1));
        assert_eq!(step, [0, 0, 0, 50, 150, 200, 200, 200]);
        let step = upsample(Siting::Left, &[0, 0, 200, 200], (8, 1));
        assert_eq!(step, [0, 0, 0, 100, 200, 200, 200, 200]);
    }
}
