//! The built-in moving test pattern (`--input testsrc`).

use scope_plugin_api::Frame;

/// Frame `index` of the pattern: diagonal colour gradients that scroll, with
/// a white square bouncing across them, so motion and colour both show.
pub fn frame(width: u32, height: u32, index: u64) -> Frame {
    let (w, h) = (width as usize, height as usize);
    let t = index as usize;
    let side = (w.min(h) / 6).max(1);
    let span_x = w.saturating_sub(side).max(1);
    let span_y = h.saturating_sub(side).max(1);
    let bounce = |pos: usize, span: usize| {
        let p = pos % (2 * span);
        if p < span {
            p
        } else {
            2 * span - p
        }
    };
    let (sx, sy) = (bounce(t * 7, span_x), bounce(t * 5, span_y));
    let mut data = vec![0u8; w * h * 3];
    for (y, row) in data.chunks_exact_mut(w * 3).enumerate() {
        for (x, px) in row.chunks_exact_mut(3).enumerate() {
            let inside = (sx..sx + side).contains(&x) && (sy..sy + side).contains(&y);
            if inside {
                px.fill(255);
            } else {
                px[0] = ((x * 255 / w.max(1) + t * 3) % 256) as u8;
                px[1] = ((y * 255 / h.max(1) + t * 2) % 256) as u8;
                px[2] = (((x + y) * 128 / (w + h).max(1) + t) % 256) as u8;
            }
        }
    }
    Frame::from_rgb(width, height, data).expect("sized above")
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_pattern_moves() {
        let a = super::frame(64, 48, 0);
        let b = super::frame(64, 48, 1);
        assert_ne!(a, b);
        assert_eq!(a, super::frame(64, 48, 0));
        assert_eq!(super::frame(1, 1, 3).data().len(), 3);
    }
}
