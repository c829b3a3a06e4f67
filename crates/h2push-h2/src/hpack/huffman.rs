//! HPACK's static Huffman code (RFC 7541 §5.2, Appendix B).
//!
//! This module owns encoding a string with the code, measuring what that would cost (the
//! encoder uses the code only when it is shorter), and decoding with the §5.2 rules: the
//! padding is at most 7 bits, all ones (the start of EOS), and EOS itself never appears.
//! The codes are computed at compile time from the canonical code lengths in
//! `code_lengths.rs`; decoding looks up 9 bits at once for the short codes that carry nearly
//! all header text, and walks the canonical code for the rest.

use super::code_lengths::CODE_LENGTHS;

const EOS: usize = 256;
const MAX_LEN: usize = 30;
/// Codes this long or shorter are found by one table lookup.
const FAST_BITS: u32 = 9;

/// The code of each symbol, right-aligned, from the canonical lengths.
const CODES: [u32; 257] = codes();

/// Symbols in canonical order (by length, then value).
const SORTED: [u16; 257] = sorted();

/// Per length: the first code of that length, and the index in `SORTED` of its symbol.
const FIRST: [(u32, u16, u16); MAX_LEN + 1] = firsts();

/// For every 9-bit prefix: the symbol whose code it starts with and the code's length, if
/// that code is at most 9 bits long (length 0 otherwise).
const FAST: [(u16, u8); 1 << FAST_BITS] = fast();

const fn sorted() -> [u16; 257] {
    let mut out = [0u16; 257];
    let mut n = 0;
    let mut len = 1;
    while len <= MAX_LEN {
        let mut sym = 0;
        while sym < 257 {
            if CODE_LENGTHS[sym] as usize == len {
                out[n] = sym as u16;
                n += 1;
            }
            sym += 1;
        }
        len += 1;
    }
    assert!(n == 257, "every symbol has a length from 1 to 30");
    out
}

const fn codes() -> [u32; 257] {
    let order = sorted();
    let mut out = [0u32; 257];
    let mut code: u32 = 0;
    let mut prev = CODE_LENGTHS[order[0] as usize] as u32;
    let mut i = 0;
    while i < 257 {
        let sym = order[i] as usize;
        let len = CODE_LENGTHS[sym] as u32;
        if i > 0 {
            code = (code + 1) << (len - prev);
        }
        prev = len;
        out[sym] = code;
        i += 1;
    }
    // The last code (EOS) is all ones: the code is complete.
    assert!(out[EOS] == (1 << 30) - 1, "EOS is thirty 1 bits");
    out
}

const fn firsts() -> [(u32, u16, u16); MAX_LEN + 1] {
    let order = sorted();
    let codes = codes();
    let mut out = [(0u32, 0u16, 0u16); MAX_LEN + 1];
    let mut i = 0;
    while i < 257 {
        let sym = order[i] as usize;
        let len = CODE_LENGTHS[sym] as usize;
        if out[len].2 == 0 {
            out[len] = (codes[sym], i as u16, 0);
        }
        out[len].2 += 1;
        i += 1;
    }
    out
}

const fn fast() -> [(u16, u8); 1 << FAST_BITS] {
    let codes = codes();
    let mut out = [(0u16, 0u8); 1 << FAST_BITS];
    let mut sym = 0;
    while sym < 257 {
        let len = CODE_LENGTHS[sym] as u32;
        if len <= FAST_BITS {
            let shift = FAST_BITS - len;
            let base = (codes[sym] << shift) as usize;
            let mut k = 0;
            while k < (1 << shift) {
                out[base + k] = (sym as u16, len as u8);
                k += 1;
            }
        }
        sym += 1;
    }
    out
}

/// The length in octets of `s` Huffman-coded, padding included.
pub fn encoded_len(s: &[u8]) -> usize {
    let bits: usize = s.iter().map(|&b| CODE_LENGTHS[b as usize] as usize).sum();
    bits.div_ceil(8)
}

/// Appends `s` Huffman-coded, padded with the high bits of EOS (ones) to an octet boundary.
pub fn encode(s: &[u8], dst: &mut Vec<u8>) {
    let mut acc: u64 = 0;
    let mut bits: u32 = 0;
    for &b in s {
        let len = u32::from(CODE_LENGTHS[b as usize]);
        acc = (acc << len) | u64::from(CODES[b as usize]);
        bits += len;
        while bits >= 8 {
            bits -= 8;
            dst.push((acc >> bits) as u8);
        }
        acc &= (1 << bits) - 1;
    }
    if bits > 0 {
        let pad = 8 - bits;
        dst.push(((acc << pad) as u8) | ((1u8 << pad) - 1));
    }
}

/// Why a Huffman-coded string was refused (RFC 7541 §5.2).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HuffmanError {
    /// The string contains the EOS symbol.
    Eos,
    /// The padding is longer than 7 bits or not the high bits of EOS.
    Padding,
}

/// Appends the decoding of `src` to `dst`.
pub fn decode(src: &[u8], dst: &mut Vec<u8>) -> Result<(), HuffmanError> {
    let mut acc: u64 = 0;
    let mut bits: u32 = 0;
    let mut input = src.iter();
    loop {
        while bits <= 56 {
            match input.next() {
                Some(&b) => {
                    acc = (acc << 8) | u64::from(b);
                    bits += 8;
                }
                None => break,
            }
        }
        if bits == 0 {
            return Ok(());
        }
        if bits >= FAST_BITS {
            let prefix = ((acc >> (bits - FAST_BITS)) & ((1 << FAST_BITS) - 1)) as usize;
            let (sym, len) = FAST[prefix];
            if len != 0 {
                dst.push(sym as u8);
                bits -= u32::from(len);
                acc &= (1u64 << bits) - 1;
                continue;
            }
        }
        match slow(acc, bits) {
            Some((sym, _)) if sym == EOS => return Err(HuffmanError::Eos),
            Some((sym, len)) => {
                dst.push(sym as u8);
                bits -= len;
                acc &= (1u64 << bits) - 1;
            }
            None => {
                // What is left must be padding: fewer than 8 bits, all ones (§5.2).
                let ones = (1u64 << bits) - 1;
                if bits > 7 || acc != ones {
                    return Err(HuffmanError::Padding);
                }
                return Ok(());
            }
        }
    }
}

/// The symbol whose code starts the `bits` low bits of `acc`, by walking the canonical
/// code, or `None` if no complete code fits.
fn slow(acc: u64, bits: u32) -> Option<(usize, u32)> {
    let mut len = 1;
    while len as usize <= MAX_LEN && len <= bits {
        let code = ((acc >> (bits - len)) & ((1 << len) - 1)) as u32;
        let (first, start, count) = FIRST[len as usize];
        if count > 0 && code >= first && code - first < u32::from(count) {
            let sym = SORTED[(start as u32 + code - first) as usize];
            return Some((sym as usize, len));
        }
        len += 1;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(s: &str) -> Vec<u8> {
        let s: String = s.split_whitespace().collect();
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }

    /// RFC 7541 Appendix C.4 and C.6: the Huffman-coded strings of the examples.
    const EXAMPLES: [(&str, &str); 8] = [
        ("www.example.com", "f1e3 c2e5 f23a 6ba0 ab90 f4ff"),
        ("no-cache", "a8eb 1064 9cbf"),
        ("custom-key", "25a8 49e9 5ba9 7d7f"),
        ("custom-value", "25a8 49e9 5bb8 e8b4 bf"),
        ("302", "6402"),
        ("private", "aec3 771a 4b"),
        (
            "Mon, 21 Oct 2013 20:13:21 GMT",
            "d07a be94 1054 d444 a820 0595 040b 8166 e082 a62d 1bff",
        ),
        (
            "https://www.example.com",
            "9d29 ad17 1863 c78f 0b97 c8e9 ae82 ae43 d3",
        ),
    ];

    #[test]
    fn encodes_the_examples_of_appendix_c4_c6() {
        for (text, coded) in EXAMPLES {
            let mut out = Vec::new();
            encode(text.as_bytes(), &mut out);
            assert_eq!(out, hex(coded), "{text}");
            assert_eq!(encoded_len(text.as_bytes()), out.len(), "{text}");
        }
    }

    #[test]
    fn decodes_the_examples_of_appendix_c4_c6() {
        for (text, coded) in EXAMPLES {
            let mut out = Vec::new();
            decode(&hex(coded), &mut out).unwrap();
            assert_eq!(out, text.as_bytes());
        }
    }

    #[test]
    fn every_octet_round_trips() {
        let all: Vec<u8> = (0..=255).collect();
        let mut coded = Vec::new();
        encode(&all, &mut coded);
        let mut out = Vec::new();
        decode(&coded, &mut out).unwrap();
        assert_eq!(out, all);
    }

    #[test]
    fn padding_longer_than_seven_bits_is_an_error_5_2() {
        // "0" is 00000 (5 bits); then 11 bits of ones: more than 7 bits of padding.
        assert_eq!(
            decode(&[0x07, 0xff], &mut Vec::new()),
            Err(HuffmanError::Padding)
        );
        // A whole octet of ones after complete symbols.
        let mut coded = Vec::new();
        encode(b"ab", &mut coded);
        coded.push(0xff);
        assert_eq!(decode(&coded, &mut Vec::new()), Err(HuffmanError::Padding));
    }

    #[test]
    fn padding_not_ones_is_an_error_5_2() {
        // "a" is 00011 (5 bits), padded with 000 instead of 111.
        assert_eq!(decode(&[0x18], &mut Vec::new()), Err(HuffmanError::Padding));
    }

    #[test]
    fn eos_in_the_string_is_an_error_5_2() {
        // EOS (thirty ones) followed by two padding ones: 32 bits of ones.
        assert_eq!(
            decode(&[0xff, 0xff, 0xff, 0xff], &mut Vec::new()),
            Err(HuffmanError::Eos)
        );
    }

    proptest::proptest! {
        #[test]
        fn any_string_round_trips(s in proptest::collection::vec(proptest::num::u8::ANY, 0..200)) {
            let mut coded = Vec::new();
            encode(&s, &mut coded);
            proptest::prop_assert_eq!(coded.len(), encoded_len(&s));
            let mut out = Vec::new();
            decode(&coded, &mut out).unwrap();
            proptest::prop_assert_eq!(out, s);
        }

        #[test]
        fn random_input_never_panics(s in proptest::collection::vec(proptest::num::u8::ANY, 0..64)) {
            let _ = decode(&s, &mut Vec::new());
        }
    }
}
