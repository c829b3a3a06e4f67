//! Prefixed integers (RFC 7541 §5.1).
//!
//! This module owns the integer representation every HPACK instruction starts with: a
//! value in the low N bits of the first octet, or, when it does not fit, those bits all
//! ones followed by 7-bit groups, least significant first. Decoding refuses truncated
//! input and values beyond what a header block can mean (more than 2^32 - 1, or more
//! continuation octets than that takes).

/// Why an integer could not be read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IntegerError {
    /// The block ended inside the integer.
    Truncated,
    /// The value does not fit in 32 bits.
    Overflow,
}

/// Appends `value` with an `prefix`-bit prefix; `flags` fills the first octet's high bits.
pub fn encode(value: usize, prefix: u8, flags: u8, dst: &mut Vec<u8>) {
    let max = (1usize << prefix) - 1;
    if value < max {
        dst.push(flags | value as u8);
        return;
    }
    dst.push(flags | max as u8);
    let mut rest = value - max;
    while rest >= 128 {
        dst.push((rest % 128) as u8 | 0x80);
        rest /= 128;
    }
    dst.push(rest as u8);
}

/// Reads an integer with a `prefix`-bit prefix from `src` at `*pos`, moving `*pos` past it.
pub fn decode(src: &[u8], pos: &mut usize, prefix: u8) -> Result<usize, IntegerError> {
    let first = *src.get(*pos).ok_or(IntegerError::Truncated)?;
    *pos += 1;
    let max = (1usize << prefix) - 1;
    let mut value = usize::from(first) & max;
    if value < max {
        return Ok(value);
    }
    let mut shift = 0u32;
    loop {
        let b = *src.get(*pos).ok_or(IntegerError::Truncated)?;
        *pos += 1;
        // Five groups of 7 bits cover 32 bits; more is an overflow.
        if shift > 28 {
            return Err(IntegerError::Overflow);
        }
        value += usize::from(b & 0x7f) << shift;
        if value > u32::MAX as usize {
            return Err(IntegerError::Overflow);
        }
        if b & 0x80 == 0 {
            return Ok(value);
        }
        shift += 7;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ten_in_a_five_bit_prefix_c_1_1() {
        let mut out = Vec::new();
        encode(10, 5, 0, &mut out);
        assert_eq!(out, [0b01010]);
        assert_eq!(decode(&out, &mut 0, 5), Ok(10));
    }

    #[test]
    fn one_thousand_three_hundred_thirty_seven_in_five_bits_c_1_2() {
        let mut out = Vec::new();
        encode(1337, 5, 0, &mut out);
        assert_eq!(out, [0b11111, 0b10011010, 0b00001010]);
        let mut pos = 0;
        assert_eq!(decode(&out, &mut pos, 5), Ok(1337));
        assert_eq!(pos, 3);
    }

    #[test]
    fn forty_two_at_an_octet_boundary_c_1_3() {
        let mut out = Vec::new();
        encode(42, 8, 0, &mut out);
        assert_eq!(out, [42]);
        assert_eq!(decode(&out, &mut 0, 8), Ok(42));
    }

    #[test]
    fn truncated_integers_are_refused_5_1() {
        assert_eq!(decode(&[], &mut 0, 5), Err(IntegerError::Truncated));
        assert_eq!(
            decode(&[0x1f, 0x9a], &mut 0, 5),
            Err(IntegerError::Truncated)
        );
    }

    #[test]
    fn integers_beyond_32_bits_are_refused_5_1() {
        let too_big = [0x1f, 0xff, 0xff, 0xff, 0xff, 0x0f];
        assert_eq!(decode(&too_big, &mut 0, 5), Err(IntegerError::Overflow));
        let too_long = [0x1f, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01];
        assert_eq!(decode(&too_long, &mut 0, 5), Err(IntegerError::Overflow));
    }

    proptest::proptest! {
        #[test]
        fn round_trips(value in 0usize..=u32::MAX as usize, prefix in 1u8..=8) {
            let mut out = Vec::new();
            encode(value, prefix, 0, &mut out);
            let mut pos = 0;
            proptest::prop_assert_eq!(decode(&out, &mut pos, prefix), Ok(value));
            proptest::prop_assert_eq!(pos, out.len());
        }
    }
}
