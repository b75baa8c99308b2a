//! The frame path's kernels on one 1080p frame, each timed alone: YUV→RGB,
//! RGB→YUV 4:2:0 and the SDK's `map_float` (invert, and `v * v`). Prints
//! the median of 50 runs in milliseconds; `bench/frame-kernels.sh` runs it.

use std::time::{Duration, Instant};

use scope_host::video::color;
use scope_host::video::y4m::Chroma;
use scope_plugin_api::Frame;

const W: usize = 1920;
const H: usize = 1080;

fn median(mut work: impl FnMut()) -> Duration {
    let mut times: Vec<Duration> = (0..50)
        .map(|_| {
            let started = Instant::now();
            work();
            started.elapsed()
        })
        .collect();
    times.sort();
    times[times.len() / 2]
}

fn main() {
    let mut seed = 0x2545_f491u32;
    let mut noise = || {
        seed ^= seed << 13;
        seed ^= seed >> 17;
        seed ^= seed << 5;
        (seed >> 24) as u8
    };
    let y: Vec<u8> = (0..W * H).map(|_| noise()).collect();
    let u: Vec<u8> = (0..W * H / 4).map(|_| noise()).collect();
    let v: Vec<u8> = (0..W * H / 4).map(|_| noise()).collect();
    let mut rgb = vec![0u8; W * H * 3];
    let (mut out_y, mut out_u, mut out_v) =
        (vec![0u8; W * H], vec![0u8; W * H / 4], vec![0u8; W * H / 4]);
    let size = (W as u32, H as u32);
    let to_rgb = median(|| color::planes_to_rgb(Chroma::C420, size, (&y, &u, &v), &mut rgb));
    let to_yuv =
        median(|| color::rgb_to_planes420(&rgb, size, (&mut out_y, &mut out_u, &mut out_v)));
    let mut frame = Some(Frame::from_rgb(W as u32, H as u32, rgb.clone()).unwrap());
    let invert = median(|| {
        let f = frame.take().unwrap();
        frame = Some(f.map_float(|v| 1.0 - v));
    });
    // A table that is not a bit flip: the general lookup.
    let gamma = median(|| {
        let f = frame.take().unwrap();
        frame = Some(f.map_float(|v| v * v));
    });
    // A frame whose bytes a clone shares (the host keeps each call's input
    // so): `map_float` writes beside them, into a buffer the host lends.
    let kept = frame.clone().unwrap();
    let mut spare = Some(vec![0u8; W * H * 3]);
    let shared = median(|| {
        let mut f = kept.clone();
        f.lend_spare(spare.take().unwrap());
        let mapped = f.map_float(|v| 1.0 - v);
        spare = Some(mapped.into_data());
    });
    // The same kind of table applied a byte at a time, as `map_float` did first.
    let table: [u8; 256] = std::array::from_fn(|i| (i * i / 255) as u8);
    let mut plain = rgb.clone();
    let bytewise = median(|| plain.iter_mut().for_each(|b| *b = table[usize::from(*b)]));
    let mut bytes = rgb.clone();
    let copy = median(|| bytes.copy_from_slice(&rgb));
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    println!("1920x1080, median of 50, one core (ms per frame)");
    println!("  YUV 4:2:0 -> RGB   {:6.2}", ms(to_rgb));
    println!("  RGB -> YUV 4:2:0   {:6.2}", ms(to_yuv));
    println!("  map_float (invert) {:6.2}", ms(invert));
    println!("  map_float (v * v)  {:6.2}", ms(gamma));
    println!(
        "  map_float (invert) of a shared frame, into a lent buffer {:6.2}",
        ms(shared)
    );
    println!("  (v * v's table a byte at a time: {:.2})", ms(bytewise));
    println!("  (a copy of the frame: {:.2})", ms(copy));
    println!("  total              {:6.2}", ms(to_rgb + to_yuv + invert));
}
