//! Encoding header blocks for a server (RFC 7541 §6, §4.2).
//!
//! This module owns what a response (or a promised request) costs on the wire: exact
//! matches as one-octet indexes, fields worth remembering added to the dynamic table,
//! fields that change every time (`date`) as literals that leave the table alone, secrets
//! (`set-cookie`, `authorization`, `cookie`) never indexed (§7.1.3), each string Huffman-coded
//! only when that is shorter, and the table-size updates the client's
//! SETTINGS_HEADER_TABLE_SIZE calls for at the start of the next block (§4.2).
//!
//! Reuse of encoded blocks: a block whose encoding inserted nothing is a pure function of
//! its fields and of the table, and the table only changes by insertion or resizing. Each
//! change bumps a generation; the last few such blocks are kept with the generation they
//! were made in, and a response with the same status and fields in the same generation is
//! the kept bytes, copied, with no lookups. On a server answering the same kinds of
//! responses, the table settles after the first few and the block is reused from then on.

use bytes::{Bytes, BytesMut};
use http::{HeaderMap, HeaderName, Request, StatusCode};

use super::huffman;
use super::integer;
use super::table::{find_static, DynamicTable, ENTRY_OVERHEAD};

/// The most dynamic table we keep, whatever the client allows: 4096 is everyone's default.
pub const MAX_TABLE_SIZE: usize = 4096;

/// How many encoded blocks are kept for reuse.
const KEPT_BLOCKS: usize = 8;

/// Values longer than this are sent as literals, not added to the table (they would push
/// out several entries that are more likely to repeat).
const MAX_INDEXED_VALUE: usize = 512;

/// How a field is represented.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Indexing {
    /// Added to the dynamic table (§6.2.1).
    Incremental,
    /// Left out of it (§6.2.2).
    Without,
    /// Never indexed, by any intermediary either (§6.2.3).
    Never,
}

#[derive(Debug)]
struct KeptBlock {
    generation: u64,
    status: Option<StatusCode>,
    fields: HeaderMap,
    bytes: Bytes,
}

/// A connection's HPACK encoder.
///
/// ```
/// use bytes::BytesMut;
/// use h2push_h2::hpack::{Decoder, Encoder};
///
/// let mut enc = Encoder::new();
/// let mut fields = http::HeaderMap::new();
/// fields.insert("content-type", "text/css".parse().unwrap());
/// let mut first = BytesMut::new();
/// enc.encode_response(http::StatusCode::OK, &fields, &mut first);
/// let mut second = BytesMut::new();
/// enc.encode_response(http::StatusCode::OK, &fields, &mut second);
/// assert_eq!(&second[..], [0x88, 0xbe]); // both from the tables now
///
/// let mut dec = Decoder::new(4096);
/// let mut out = Vec::new();
/// dec.decode(&first.freeze(), 1 << 16, |n, v| out.push((n, v))).unwrap();
/// assert_eq!(out[1].1, "text/css");
/// ```
#[derive(Debug)]
pub struct Encoder {
    table: DynamicTable,
    /// Table-size updates owed at the next block start: the smallest since the last block,
    /// then the final size (§4.2).
    pending: Option<(usize, usize)>,
    generation: u64,
    kept: Vec<KeptBlock>,
    next_kept: usize,
    buf: Vec<u8>,
}

impl Default for Encoder {
    fn default() -> Encoder {
        Encoder::new()
    }
}

impl Encoder {
    /// An encoder with the default 4096-octet table.
    pub fn new() -> Encoder {
        Encoder {
            table: DynamicTable::new(MAX_TABLE_SIZE, true),
            pending: None,
            generation: 0,
            kept: Vec::new(),
            next_kept: 0,
            buf: Vec::new(),
        }
    }

    /// The client's SETTINGS_HEADER_TABLE_SIZE: our table uses at most that (and at most
    /// [`MAX_TABLE_SIZE`]); the change is announced at the start of the next block.
    pub fn set_peer_max_table_size(&mut self, n: usize) {
        let size = n.min(MAX_TABLE_SIZE);
        let smallest = self.pending.map_or(size, |(s, _)| s.min(size));
        if size == self.table.max_size() && self.pending.is_none() {
            return;
        }
        self.pending = Some((smallest, size));
        self.table.set_max_size(size);
        self.generation += 1;
    }

    /// Encodes a response head: `:status`, then `fields`.
    pub fn encode_response(&mut self, status: StatusCode, fields: &HeaderMap, dst: &mut BytesMut) {
        self.encode_block(Some(status), fields, dst, |enc| {
            enc.field(
                b":status",
                status.as_str().as_bytes(),
                Indexing::Incremental,
            );
        });
    }

    /// Encodes trailers: `fields` alone.
    pub fn encode_trailers(&mut self, fields: &HeaderMap, dst: &mut BytesMut) {
        self.encode_block(None, fields, dst, |_| {});
    }

    /// Encodes a promised request: `:method`, `:scheme`, `:authority`, `:path`, then its
    /// fields. A URI without scheme is `https`; without authority, none is sent.
    pub fn encode_request(&mut self, request: &Request<()>, dst: &mut BytesMut) {
        self.start_block();
        let uri = request.uri();
        self.field(
            b":method",
            request.method().as_str().as_bytes(),
            Indexing::Incremental,
        );
        self.field(
            b":scheme",
            uri.scheme_str().unwrap_or("https").as_bytes(),
            Indexing::Incremental,
        );
        if let Some(a) = uri.authority() {
            self.field(b":authority", a.as_str().as_bytes(), Indexing::Incremental);
        }
        let path = uri.path_and_query().map_or("/", |p| p.as_str());
        self.field(b":path", path.as_bytes(), Indexing::Incremental);
        self.fields(request.headers());
        dst.extend_from_slice(&self.buf);
    }

    /// Encodes any header list in order, pseudo-headers included, with the same choices as
    /// the other methods (what to index, when Huffman pays); no block reuse.
    pub fn encode_fields<'a>(
        &mut self,
        fields: impl IntoIterator<Item = (&'a [u8], &'a [u8])>,
        dst: &mut BytesMut,
    ) {
        self.start_block();
        for (name, value) in fields {
            let indexing = match HeaderName::from_bytes(name) {
                Ok(n) if is_secret(&n) => Indexing::Never,
                Ok(n) if is_volatile(&n) => Indexing::Without,
                _ if value.len() > MAX_INDEXED_VALUE => Indexing::Without,
                _ => Indexing::Incremental,
            };
            self.field(name, value, indexing);
        }
        dst.extend_from_slice(&self.buf);
    }

    /// The dynamic table's current size (§4.1).
    pub fn table_size(&self) -> usize {
        self.table.size()
    }

    fn encode_block(
        &mut self,
        status: Option<StatusCode>,
        fields: &HeaderMap,
        dst: &mut BytesMut,
        pseudo: impl FnOnce(&mut Encoder),
    ) {
        if self.pending.is_none() {
            let hit = self.kept.iter().find(|k| {
                k.generation == self.generation && k.status == status && k.fields == *fields
            });
            if let Some(k) = hit {
                dst.extend_from_slice(&k.bytes);
                return;
            }
        }
        self.start_block();
        let before = self.generation;
        pseudo(self);
        self.fields(fields);
        dst.extend_from_slice(&self.buf);
        if self.generation == before {
            let kept = KeptBlock {
                generation: before,
                status,
                fields: fields.clone(),
                bytes: Bytes::copy_from_slice(&self.buf),
            };
            if self.kept.len() < KEPT_BLOCKS {
                self.kept.push(kept);
            } else {
                self.kept[self.next_kept] = kept;
                self.next_kept = (self.next_kept + 1) % KEPT_BLOCKS;
            }
        }
    }

    fn start_block(&mut self) {
        self.buf.clear();
        if let Some((smallest, last)) = self.pending.take() {
            if smallest != last {
                integer::encode(smallest, 5, 0x20, &mut self.buf);
            }
            integer::encode(last, 5, 0x20, &mut self.buf);
        }
    }

    fn fields(&mut self, fields: &HeaderMap) {
        for (name, value) in fields {
            let indexing = if value.is_sensitive() || is_secret(name) {
                Indexing::Never
            } else if is_volatile(name) || value.len() > MAX_INDEXED_VALUE {
                Indexing::Without
            } else {
                Indexing::Incremental
            };
            self.field(name.as_str().as_bytes(), value.as_bytes(), indexing);
        }
    }

    fn field(&mut self, name: &[u8], value: &[u8], indexing: Indexing) {
        // An entry larger than the table would empty it (§4.4): send it without indexing.
        let fits = ENTRY_OVERHEAD + name.len() + value.len() <= self.table.max_size();
        let indexing = match indexing {
            Indexing::Incremental if !fits => Indexing::Without,
            other => other,
        };
        let stat = find_static(name, value);
        if indexing != Indexing::Never {
            let exact = stat
                .and_then(|(_, e)| e)
                .or_else(|| self.table.find(name, value).0);
            if let Some(index) = exact {
                integer::encode(index, 7, 0x80, &mut self.buf);
                return;
            }
        }
        let name_index = stat
            .map(|(i, _)| i)
            .or_else(|| self.table.find(name, value).1);
        let (prefix, flags) = match indexing {
            Indexing::Incremental => (6, 0x40),
            Indexing::Without => (4, 0x00),
            Indexing::Never => (4, 0x10),
        };
        match name_index {
            Some(i) => integer::encode(i, prefix, flags, &mut self.buf),
            None => {
                self.buf.push(flags);
                string(name, &mut self.buf);
            }
        }
        string(value, &mut self.buf);
        if indexing == Indexing::Incremental {
            self.table
                .insert(Bytes::copy_from_slice(name), Bytes::copy_from_slice(value));
            self.generation += 1;
        }
    }
}

/// Fields whose values are secrets: never indexed (RFC 7541 §7.1.3).
fn is_secret(name: &HeaderName) -> bool {
    matches!(
        name.as_str(),
        "authorization" | "proxy-authorization" | "cookie" | "set-cookie"
    )
}

/// Fields whose values change from one response to the next.
fn is_volatile(name: &HeaderName) -> bool {
    matches!(
        name.as_str(),
        "date" | "age" | "expires" | "content-range" | "x-request-id"
    )
}

/// A §5.2 string literal, Huffman-coded when that is shorter.
fn string(s: &[u8], dst: &mut Vec<u8>) {
    let coded = huffman::encoded_len(s);
    if coded < s.len() {
        integer::encode(coded, 7, 0x80, dst);
        huffman::encode(s, dst);
    } else {
        integer::encode(s.len(), 7, 0x00, dst);
        dst.extend_from_slice(s);
    }
}
