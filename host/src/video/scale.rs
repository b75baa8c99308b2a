//! Nearest-neighbour scaling, for the frames a pipeline that declared
//! another output size passes through unprocessed once it failed: the rest
//! of the chain was loaded for the declared size.

use scope_plugin_api::Frame;

/// `frame` at `size`, its timing kept; the frame itself when it already
/// has that size.
pub fn fit(frame: Frame, (width, height): (u32, u32)) -> Frame {
    if (frame.width(), frame.height()) == (width, height) {
        return frame;
    }
    let (from_w, from_h) = (frame.width() as usize, frame.height() as usize);
    let (to_w, to_h) = (width as usize, height as usize);
    let source = frame.data();
    let mut data = Vec::with_capacity(to_w * to_h * 3);
    for y in 0..to_h {
        let row = (y * from_h / to_h) * from_w;
        for x in 0..to_w {
            let i = (row + x * from_w / to_w) * 3;
            data.extend_from_slice(&source[i..i + 3]);
        }
    }
    Frame::from_rgb(width, height, data)
        .expect("sized above")
        .with_timing(frame.index(), frame.time())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn halving_takes_every_other_pixel_and_keeps_the_timing() {
        let data: Vec<u8> = (0..4 * 2).flat_map(|i| [i as u8; 3]).collect();
        let frame = Frame::from_rgb(4, 2, data)
            .unwrap()
            .with_timing(7, std::time::Duration::from_millis(70));
        let half = fit(frame, (2, 1));
        assert_eq!((half.width(), half.height()), (2, 1));
        assert_eq!(half.data(), &[0, 0, 0, 2, 2, 2]);
        assert_eq!(half.index(), 7);
    }

    #[test]
    fn doubling_repeats_pixels() {
        let frame = Frame::from_rgb(1, 1, vec![9, 8, 7]).unwrap();
        assert_eq!(fit(frame, (2, 2)).data(), &[9, 8, 7].repeat(4)[..]);
    }
}
