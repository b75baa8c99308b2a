//! A 256-entry byte table applied to a frame's bytes: the work behind
//! [`Frame::map_float`](crate::Frame::map_float), at close to memory speed.
//!
//! Three ways, each giving exactly `table[b]` for every byte `b`:
//! - a table that flips a fixed set of bits (`table[b] == b ^ k`: inversion,
//!   identity) is one XOR per byte, which the compiler turns into vector code;
//! - on x86-64 CPUs with AVX-512 VBMI, 64 lookups per instruction pair
//!   (`vpermi2b` over both 128-entry halves of the table), chosen at run time;
//! - anywhere else, eight independent lookups per word.

/// Replaces every byte `b` of `data` by `table[b]`.
pub(crate) fn apply(table: &[u8; 256], data: &mut [u8]) {
    if let Some(mask) = xor_mask(table) {
        if mask != 0 {
            data.iter_mut().for_each(|b| *b ^= mask);
        }
        return;
    }
    #[cfg(target_arch = "x86_64")]
    if vbmi::try_apply(table, data) {
        return;
    }
    by_words(table, data);
}

/// Writes `table[b]` for every byte `b` of `src` into `dst` (of the same
/// length), leaving `src` as it is: the same three ways, reading one buffer
/// and writing another instead of a pass over one.
pub(crate) fn apply_into(table: &[u8; 256], src: &[u8], dst: &mut [u8]) {
    assert_eq!(
        src.len(),
        dst.len(),
        "a table maps a frame onto its own size"
    );
    if let Some(mask) = xor_mask(table) {
        dst.iter_mut().zip(src).for_each(|(d, s)| *d = s ^ mask);
        return;
    }
    #[cfg(target_arch = "x86_64")]
    if vbmi::try_apply_into(table, src, dst) {
        return;
    }
    by_words_into(table, src, dst);
}

/// [`by_words`] from one buffer into another.
fn by_words_into(table: &[u8; 256], src: &[u8], dst: &mut [u8]) {
    let mut out = dst.chunks_exact_mut(8);
    let mut words = src.chunks_exact(8);
    for (d, word) in (&mut out).zip(&mut words) {
        let bytes: [u8; 8] = std::array::from_fn(|i| table[usize::from(word[i])]);
        d.copy_from_slice(&bytes);
    }
    for (d, s) in out.into_remainder().iter_mut().zip(words.remainder()) {
        *d = table[usize::from(*s)];
    }
}

/// `Some(k)` when the table is `b ^ k` for every `b`.
fn xor_mask(table: &[u8; 256]) -> Option<u8> {
    let mask = table[0];
    (0..=255u8)
        .all(|b| table[usize::from(b)] == b ^ mask)
        .then_some(mask)
}

/// Eight bytes at a time: the eight lookups of a word do not wait on each
/// other, so the CPU runs them in parallel (a byte-at-a-time loop is bound
/// by its loads).
fn by_words(table: &[u8; 256], data: &mut [u8]) {
    let mut words = data.chunks_exact_mut(8);
    for word in &mut words {
        let bytes: [u8; 8] = std::array::from_fn(|i| table[usize::from(word[i])]);
        word.copy_from_slice(&bytes);
    }
    for b in words.into_remainder() {
        *b = table[usize::from(*b)];
    }
}

#[cfg(target_arch = "x86_64")]
#[allow(unsafe_code)]
mod vbmi {
    use std::arch::x86_64::{
        __m512i, _mm512_loadu_si512, _mm512_mask_blend_epi8, _mm512_movepi8_mask,
        _mm512_permutex2var_epi8, _mm512_storeu_si512,
    };

    /// Applies the table when this CPU has AVX-512 VBMI; `false` (and
    /// nothing done) when it has not.
    pub(super) fn try_apply(table: &[u8; 256], data: &mut [u8]) -> bool {
        let available = std::arch::is_x86_feature_detected!("avx512f")
            && std::arch::is_x86_feature_detected!("avx512bw")
            && std::arch::is_x86_feature_detected!("avx512vbmi");
        if available {
            // SAFETY: the CPU has the features `lookup` is compiled for
            // (checked just above).
            unsafe { lookup(table, data) }
        }
        available
    }

    /// [`try_apply`] from `src` into `dst` (of the same length).
    pub(super) fn try_apply_into(table: &[u8; 256], src: &[u8], dst: &mut [u8]) -> bool {
        let available = std::arch::is_x86_feature_detected!("avx512f")
            && std::arch::is_x86_feature_detected!("avx512bw")
            && std::arch::is_x86_feature_detected!("avx512vbmi");
        if available {
            // SAFETY: the CPU has the features `lookup_into` is compiled
            // for (checked just above).
            unsafe { lookup_into(table, src, dst) }
        }
        available
    }

    #[target_feature(enable = "avx512f,avx512bw,avx512vbmi")]
    fn lookup_into(table: &[u8; 256], src: &[u8], dst: &mut [u8]) {
        // SAFETY (every load and store below): each pointer is to 64 bytes
        // inside `table`, or inside one 64-byte chunk of `src` or `dst`;
        // the unaligned forms need no alignment.
        let quarter =
            |i: usize| unsafe { _mm512_loadu_si512(table[i * 64..].as_ptr().cast::<__m512i>()) };
        let (t0, t1, t2, t3) = (quarter(0), quarter(1), quarter(2), quarter(3));
        let mut out = dst.chunks_exact_mut(64);
        let mut chunks = src.chunks_exact(64);
        for (d, chunk) in (&mut out).zip(&mut chunks) {
            let bytes = unsafe { _mm512_loadu_si512(chunk.as_ptr().cast::<__m512i>()) };
            let low = _mm512_permutex2var_epi8(t0, bytes, t1);
            let high = _mm512_permutex2var_epi8(t2, bytes, t3);
            let mapped = _mm512_mask_blend_epi8(_mm512_movepi8_mask(bytes), low, high);
            unsafe { _mm512_storeu_si512(d.as_mut_ptr().cast::<__m512i>(), mapped) };
        }
        super::by_words_into(table, chunks.remainder(), out.into_remainder());
    }

    #[target_feature(enable = "avx512f,avx512bw,avx512vbmi")]
    fn lookup(table: &[u8; 256], data: &mut [u8]) {
        // SAFETY (every load and store below): each pointer is to 64 bytes
        // inside `table` or inside one 64-byte chunk of `data`; the
        // unaligned forms need no alignment.
        let quarter =
            |i: usize| unsafe { _mm512_loadu_si512(table[i * 64..].as_ptr().cast::<__m512i>()) };
        let (t0, t1, t2, t3) = (quarter(0), quarter(1), quarter(2), quarter(3));
        let mut chunks = data.chunks_exact_mut(64);
        for chunk in &mut chunks {
            let ptr = chunk.as_mut_ptr().cast::<__m512i>();
            let bytes = unsafe { _mm512_loadu_si512(ptr) };
            // Bit 6 of each byte picks the first or second quarter of a
            // half; bit 7 picks the half.
            let low = _mm512_permutex2var_epi8(t0, bytes, t1);
            let high = _mm512_permutex2var_epi8(t2, bytes, t3);
            let mapped = _mm512_mask_blend_epi8(_mm512_movepi8_mask(bytes), low, high);
            unsafe { _mm512_storeu_si512(ptr, mapped) };
        }
        super::by_words(table, chunks.into_remainder());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every byte value at every offset of a 64-byte chunk, then a tail the
    /// vector code leaves to the word code, and one the word code leaves to
    /// the byte loop.
    fn every_byte() -> Vec<u8> {
        (0..=255u8).cycle().take(256 * 65 + 64 + 13).collect()
    }

    fn by_bytes(table: &[u8; 256], data: &[u8]) -> Vec<u8> {
        data.iter().map(|&b| table[usize::from(b)]).collect()
    }

    #[test]
    fn every_way_gives_the_table_entry_for_every_byte() {
        let mut seed = 0x9e37_79b9u32;
        let random: [u8; 256] = std::array::from_fn(|_| {
            seed ^= seed << 13;
            seed ^= seed >> 17;
            seed ^= seed << 5;
            (seed >> 24) as u8
        });
        let tables: [[u8; 256]; 5] = [
            std::array::from_fn(|b| 255 - b as u8),
            std::array::from_fn(|b| b as u8),
            std::array::from_fn(|b| b as u8 ^ 0x5a),
            std::array::from_fn(|b| (b as u8).saturating_mul(2)),
            random,
        ];
        let data = every_byte();
        for (n, table) in tables.iter().enumerate() {
            let expected = by_bytes(table, &data);
            let mut applied = data.clone();
            apply(table, &mut applied);
            assert_eq!(applied, expected, "table {n}");
            let mut words = data.clone();
            by_words(table, &mut words);
            assert_eq!(words, expected, "table {n} by words");
            let mut beside = vec![0; data.len()];
            apply_into(table, &data, &mut beside);
            assert_eq!(beside, expected, "table {n} into another buffer");
            let mut words_beside = vec![0; data.len()];
            by_words_into(table, &data, &mut words_beside);
            assert_eq!(
                words_beside, expected,
                "table {n} by words into another buffer"
            );
            #[cfg(target_arch = "x86_64")]
            {
                let mut vector = data.clone();
                if vbmi::try_apply(table, &mut vector) {
                    assert_eq!(vector, expected, "table {n} with AVX-512 VBMI");
                }
                let mut vector_beside = vec![0; data.len()];
                if vbmi::try_apply_into(table, &data, &mut vector_beside) {
                    assert_eq!(
                        vector_beside, expected,
                        "table {n} with AVX-512 VBMI, beside"
                    );
                }
            }
        }
    }

    #[test]
    fn only_bit_flipping_tables_are_taken_for_xor() {
        assert_eq!(
            xor_mask(&std::array::from_fn(|b| 255 - b as u8)),
            Some(0xff)
        );
        assert_eq!(xor_mask(&std::array::from_fn(|b| b as u8)), Some(0));
        let mut almost: [u8; 256] = std::array::from_fn(|b| 255 - b as u8);
        almost[200] = 0;
        assert_eq!(xor_mask(&almost), None);
        assert_eq!(xor_mask(&std::array::from_fn(|b| (b as u8) / 2)), None);
    }
}
