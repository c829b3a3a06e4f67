//! HPACK header compression (RFC 7541).
//!
//! This module owns header blocks: [`Decoder`] turns the client's blocks into fields with
//! the §4–§6 rules and decode limits, [`Encoder`] turns our responses and promised requests
//! into blocks (choosing what to index and when Huffman pays, and reusing the encoded block
//! of a header set it sent before). The parts: prefixed integers (`integer`), the Huffman
//! code (`huffman`, `code_lengths`), the tables (`table`). Where blocks go in frames is
//! `frame`'s; what the fields mean, `state::message`'s.

mod code_lengths;
mod decoder;
mod encoder;
pub mod huffman;
mod integer;
mod table;

#[cfg(test)]
mod tests;

pub use self::decoder::Decoder;
pub use self::encoder::{Encoder, MAX_TABLE_SIZE};
pub use self::table::STATIC;
