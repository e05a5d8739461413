//! The fuzz tests' shared harness (issue 16): how many cases to run and how a shipped file is
//! mutated. The fuzz targets live in each crate's `tests/fuzz.rs` and draw their edits with
//! proptest; the property everywhere is "no panic, and either `Ok` or a typed error".

/// Cases per fuzz target: `SUPERPOSE_FUZZ_CASES` (default 64, a few seconds in CI).
pub fn cases() -> u32 {
    std::env::var("SUPERPOSE_FUZZ_CASES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(64)
}

/// Apply `edits` to `base`, each `(kind, position, byte)`: replace a byte, insert a byte,
/// delete a run (up to 15 bytes), duplicate a run (up to 31 bytes), or truncate.
pub fn mutate_bytes(base: &[u8], edits: &[(u8, usize, u8)]) -> Vec<u8> {
    let mut b = base.to_vec();
    for &(kind, at, byte) in edits {
        let at = if b.is_empty() { 0 } else { at % b.len() };
        match kind % 5 {
            0 if !b.is_empty() => b[at] = byte,
            1 => b.insert(at, byte),
            2 => {
                let end = (at + byte as usize % 16).min(b.len());
                b.drain(at..end);
            }
            3 => {
                let end = (at + byte as usize % 32).min(b.len());
                let run = b[at..end].to_vec();
                b.splice(at..at, run);
            }
            _ => b.truncate(at),
        }
    }
    b
}

/// [`mutate_bytes`] on text (invalid UTF-8 replaced).
pub fn mutate(base: &str, edits: &[(u8, usize, u8)]) -> String {
    String::from_utf8_lossy(&mutate_bytes(base.as_bytes(), edits)).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_edit_kind() {
        assert_eq!(mutate("abcd", &[(0, 1, b'x')]), "axcd");
        assert_eq!(mutate("abcd", &[(1, 1, b'x')]), "axbcd");
        assert_eq!(mutate("abcd", &[(2, 1, 2)]), "ad");
        assert_eq!(mutate("abcd", &[(3, 1, 2)]), "abcbcd");
        assert_eq!(mutate("abcd", &[(4, 2, 0)]), "ab");
        assert_eq!(mutate("", &[(0, 5, b'x'), (1, 5, b'y')]), "y");
    }
}
