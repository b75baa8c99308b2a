//! Comparing frames: PSNR, as video people measure closeness, and golden
//! files that `UPDATE_GOLDEN=1` rewrites.

use std::path::Path;

use scope_plugin_api::Frame;

use crate::frames::{from_y4m, to_y4m};

/// The peak signal-to-noise ratio of `b` against `a`, in dB (infinite when
/// they are equal). Frames of different sizes are 0 dB apart.
pub fn psnr(a: &Frame, b: &Frame) -> f64 {
    if (a.width(), a.height()) != (b.width(), b.height()) {
        return 0.0;
    }
    let squared: f64 = a
        .data()
        .iter()
        .zip(b.data())
        .map(|(x, y)| (f64::from(*x) - f64::from(*y)).powi(2))
        .sum();
    let mse = squared / a.data().len().max(1) as f64;
    if mse == 0.0 {
        return f64::INFINITY;
    }
    10.0 * (255.0 * 255.0 / mse).log10()
}

/// Fails unless `actual` has as many frames as `expected`, each at least
/// `min_db` dB PSNR from its counterpart; names the first that is not.
#[track_caller]
pub fn assert_frames_close(actual: &[Frame], expected: &[Frame], min_db: f64) {
    assert_eq!(
        actual.len(),
        expected.len(),
        "{} frames, expected {}",
        actual.len(),
        expected.len()
    );
    for (i, (a, e)) in actual.iter().zip(expected).enumerate() {
        let db = psnr(e, a);
        assert!(
            db >= min_db,
            "frame {i} is {db:.1} dB from the expected one, below {min_db} dB ({}x{} against {}x{})",
            a.width(),
            a.height(),
            e.width(),
            e.height()
        );
    }
}

/// Compares `frames` with the golden file at `path` (a y4m stream), within
/// `min_db` dB PSNR (y4m is 4:2:0, so allow for its rounding: 35 dB is a
/// good floor). With `UPDATE_GOLDEN=1`, or when the file does not exist
/// yet, writes it instead; review it and commit it.
#[track_caller]
#[allow(clippy::disallowed_methods)] // UPDATE_GOLDEN is the test's own switch
pub fn golden(path: impl AsRef<Path>, frames: &[Frame], min_db: f64) {
    let path = path.as_ref();
    if std::env::var_os("UPDATE_GOLDEN").is_some() || !path.exists() {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).expect("the golden file's directory");
        }
        std::fs::write(path, to_y4m(frames)).expect("the golden file is written");
        return;
    }
    let bytes = std::fs::read(path).expect("the golden file is read");
    let expected = from_y4m(&bytes).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    // Both sides through y4m: the golden file went through it once.
    let actual = from_y4m(&to_y4m(frames)).expect("our own y4m reads back");
    assert_frames_close(&actual, &expected, min_db);
}
