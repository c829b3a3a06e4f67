//! Decoding header blocks (RFC 7541 §3, §6).
//!
//! This module owns reading one complete header block into fields, keeping the dynamic
//! table in step with the client's encoder, and refusing what §6 and §4.2 forbid, each a
//! connection COMPRESSION_ERROR naming the rule: index 0 or past the tables, a table-size
//! update after the first field or above what we allowed, truncated integers and strings,
//! bad Huffman. A list longer than the caller's bound (SETTINGS_MAX_HEADER_LIST_SIZE) is
//! decoded to its end — the table must stay in step — without handing out the rest of its
//! fields; the work is linear in the block's size (an entry referenced many times is
//! shared, not copied). What the fields mean is `state::message`'s.

use bytes::Bytes;

use super::huffman;
use super::integer::{self, IntegerError};
use super::table::{DynamicTable, ENTRY_OVERHEAD, STATIC};
use crate::error::{ConnectionError, Reason};

/// A connection's HPACK decoder.
///
/// ```
/// use bytes::Bytes;
/// use h2push_h2::hpack::Decoder;
///
/// let mut d = Decoder::new(4096);
/// // RFC 7541 C.2.1: a literal with indexing, "custom-key: custom-header".
/// let block = Bytes::from_static(b"\x40\x0acustom-key\x0dcustom-header");
/// let mut fields = Vec::new();
/// let within = d.decode(&block, 16 * 1024, |n, v| fields.push((n, v))).unwrap();
/// assert!(within);
/// assert_eq!(fields, [(Bytes::from("custom-key"), Bytes::from("custom-header"))]);
/// assert_eq!(d.table_size(), 55);
/// ```
#[derive(Debug)]
pub struct Decoder {
    table: DynamicTable,
    /// The most our SETTINGS_HEADER_TABLE_SIZE allows the client's updates to ask for.
    allowed: usize,
    scratch: Vec<u8>,
}

fn error(detail: &'static str) -> ConnectionError {
    ConnectionError::new(Reason::COMPRESSION_ERROR, detail)
}

fn int_error(e: IntegerError) -> ConnectionError {
    match e {
        IntegerError::Truncated => error("header block ends inside an integer (RFC 7541 §5.1)"),
        IntegerError::Overflow => error("integer too large in header block (RFC 7541 §5.1)"),
    }
}

impl Decoder {
    /// A decoder whose table may grow to `max_table_size` (our SETTINGS_HEADER_TABLE_SIZE).
    pub fn new(max_table_size: usize) -> Decoder {
        Decoder {
            table: DynamicTable::new(max_table_size, false),
            allowed: max_table_size,
            scratch: Vec::new(),
        }
    }

    /// A new SETTINGS_HEADER_TABLE_SIZE of ours, once the client acknowledged it.
    pub fn set_max_allowed_table_size(&mut self, n: usize) {
        self.allowed = n;
        if self.table.max_size() > n {
            self.table.set_max_size(n);
        }
    }

    /// The dynamic table's current size (§4.1).
    pub fn table_size(&self) -> usize {
        self.table.size()
    }

    /// Decodes a complete block, calling `sink` with each field in order while the list's
    /// size (32 + name + value per field) stays within `max_list_size`. Returns whether it
    /// did (`false`: the list was longer, and its later fields were not handed out).
    pub fn decode(
        &mut self,
        block: &Bytes,
        max_list_size: usize,
        mut sink: impl FnMut(Bytes, Bytes),
    ) -> Result<bool, ConnectionError> {
        let src = &block[..];
        let mut pos = 0;
        let mut list = 0usize;
        let mut within = true;
        let mut first = true;
        while pos < src.len() {
            let b = src[pos];
            let (name, value) = if b & 0x80 != 0 {
                // §6.1 indexed field.
                let index = integer::decode(src, &mut pos, 7).map_err(int_error)?;
                self.entry(index)?
            } else if b & 0xc0 == 0x40 {
                // §6.2.1 literal with incremental indexing. The table keeps copies of what
                // came from the block (a slice would keep the whole block alive as long as
                // the entry); a name from the tables is shared as it is.
                let (name, value, literal_name) = self.literal(block, &mut pos, 6)?;
                let kept_name = if literal_name {
                    Bytes::copy_from_slice(&name)
                } else {
                    name.clone()
                };
                self.table.insert(kept_name, Bytes::copy_from_slice(&value));
                (name, value)
            } else if b & 0xe0 == 0x20 {
                // §6.3 dynamic table size update: only at the start of a block (§4.2).
                if !first {
                    return Err(error(
                        "dynamic table size update after the first field (RFC 7541 §4.2)",
                    ));
                }
                let size = integer::decode(src, &mut pos, 5).map_err(int_error)?;
                if size > self.allowed {
                    return Err(error(
                        "dynamic table size update above SETTINGS_HEADER_TABLE_SIZE (RFC 7541 §6.3)",
                    ));
                }
                self.table.set_max_size(size);
                continue;
            } else {
                // §6.2.2 without indexing (0000), §6.2.3 never indexed (0001).
                let (name, value, _) = self.literal(block, &mut pos, 4)?;
                (name, value)
            };
            first = false;
            if within {
                list += ENTRY_OVERHEAD + name.len() + value.len();
                if list > max_list_size {
                    within = false;
                } else {
                    sink(name, value);
                }
            }
        }
        Ok(within)
    }

    fn entry(&self, index: usize) -> Result<(Bytes, Bytes), ConnectionError> {
        match index {
            0 => Err(error("index 0 in header block (RFC 7541 §6.1)")),
            1..=61 => {
                let (n, v) = STATIC[index - 1];
                Ok((
                    Bytes::from_static(n.as_bytes()),
                    Bytes::from_static(v.as_bytes()),
                ))
            }
            _ => self
                .table
                .get(index - 62)
                .cloned()
                .ok_or_else(|| error("index past the dynamic table (RFC 7541 §2.3.3)")),
        }
    }

    fn literal(
        &mut self,
        block: &Bytes,
        pos: &mut usize,
        prefix: u8,
    ) -> Result<(Bytes, Bytes, bool), ConnectionError> {
        let index = integer::decode(block, pos, prefix).map_err(int_error)?;
        let name = if index == 0 {
            self.string(block, pos)?
        } else {
            self.entry(index)?.0
        };
        let value = self.string(block, pos)?;
        Ok((name, value, index == 0))
    }

    /// A §5.2 string literal: a slice of the block, or its Huffman decoding.
    fn string(&mut self, block: &Bytes, pos: &mut usize) -> Result<Bytes, ConnectionError> {
        let huffman = block.get(*pos).is_some_and(|b| b & 0x80 != 0);
        let len = integer::decode(block, pos, 7).map_err(int_error)?;
        let end = pos
            .checked_add(len)
            .filter(|&e| e <= block.len())
            .ok_or_else(|| error("header block ends inside a string (RFC 7541 §5.2)"))?;
        let raw = block.slice(*pos..end);
        *pos = end;
        if !huffman {
            return Ok(raw);
        }
        self.scratch.clear();
        huffman::decode(&raw, &mut self.scratch).map_err(|e| match e {
            huffman::HuffmanError::Eos => error("EOS in a Huffman-coded string (RFC 7541 §5.2)"),
            huffman::HuffmanError::Padding => {
                error("Huffman padding longer than 7 bits or not ones (RFC 7541 §5.2)")
            }
        })?;
        Ok(Bytes::copy_from_slice(&self.scratch))
    }
}
