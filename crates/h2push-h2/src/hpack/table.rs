//! The static and dynamic tables (RFC 7541 §2.3, §4, Appendix A).
//!
//! This module owns what an index means: the 61 static entries, and a dynamic table of
//! recent entries with its size accounting (32 octets plus name and value per entry,
//! §4.1), insertion at the front, eviction from the back (§4.4) and resizing (§4.3). The
//! encoder's lookups by name and value live beside it (`find`); when to insert is the
//! encoder's and decoder's.

use std::collections::{HashMap, VecDeque};

use bytes::Bytes;

/// The static table (Appendix A): index `i` is `STATIC[i - 1]`.
pub const STATIC: [(&str, &str); 61] = [
    (":authority", ""),
    (":method", "GET"),
    (":method", "POST"),
    (":path", "/"),
    (":path", "/index.html"),
    (":scheme", "http"),
    (":scheme", "https"),
    (":status", "200"),
    (":status", "204"),
    (":status", "206"),
    (":status", "304"),
    (":status", "400"),
    (":status", "404"),
    (":status", "500"),
    ("accept-charset", ""),
    ("accept-encoding", "gzip, deflate"),
    ("accept-language", ""),
    ("accept-ranges", ""),
    ("accept", ""),
    ("access-control-allow-origin", ""),
    ("age", ""),
    ("allow", ""),
    ("authorization", ""),
    ("cache-control", ""),
    ("content-disposition", ""),
    ("content-encoding", ""),
    ("content-language", ""),
    ("content-length", ""),
    ("content-location", ""),
    ("content-range", ""),
    ("content-type", ""),
    ("cookie", ""),
    ("date", ""),
    ("etag", ""),
    ("expect", ""),
    ("expires", ""),
    ("from", ""),
    ("host", ""),
    ("if-match", ""),
    ("if-modified-since", ""),
    ("if-none-match", ""),
    ("if-range", ""),
    ("if-unmodified-since", ""),
    ("last-modified", ""),
    ("link", ""),
    ("location", ""),
    ("max-forwards", ""),
    ("proxy-authenticate", ""),
    ("proxy-authorization", ""),
    ("range", ""),
    ("referer", ""),
    ("refresh", ""),
    ("retry-after", ""),
    ("server", ""),
    ("set-cookie", ""),
    ("strict-transport-security", ""),
    ("transfer-encoding", ""),
    ("user-agent", ""),
    ("vary", ""),
    ("via", ""),
    ("www-authenticate", ""),
];

/// The per-entry overhead of §4.1.
pub const ENTRY_OVERHEAD: usize = 32;

/// The static index of the first entry named `name`, and the index of the entry with both
/// `name` and `value` if there is one.
pub fn find_static(name: &[u8], value: &[u8]) -> Option<(usize, Option<usize>)> {
    let first = match name {
        b":authority" => 1,
        b":method" => 2,
        b":path" => 4,
        b":scheme" => 6,
        b":status" => 8,
        _ => {
            // Regular names are unique in the static table, from index 15 on.
            return STATIC[14..]
                .iter()
                .position(|(n, _)| n.as_bytes() == name)
                .map(|i| {
                    let index = i + 15;
                    let exact = (STATIC[index - 1].1.as_bytes() == value && !value.is_empty())
                        .then_some(index);
                    (index, exact)
                });
        }
    };
    let exact = STATIC[first - 1..]
        .iter()
        .take_while(|(n, _)| n.as_bytes() == name)
        .position(|(_, v)| v.as_bytes() == value)
        .map(|i| first + i);
    Some((first, exact))
}

/// One side's dynamic table.
#[derive(Debug)]
pub struct DynamicTable {
    entries: VecDeque<(Bytes, Bytes)>,
    size: usize,
    max_size: usize,
    /// Entries inserted so far: an entry's absolute number never changes, its index does.
    inserted: u64,
    /// For the encoder: by name, the newest absolute number with that name and with each
    /// value (looked up by slice, no allocation).
    by_name: Option<HashMap<Bytes, Named>>,
}

#[derive(Debug, Default)]
struct Named {
    newest: u64,
    values: HashMap<Bytes, u64>,
}

impl DynamicTable {
    /// An empty table of at most `max_size` octets; `searchable` keeps the encoder's maps.
    pub fn new(max_size: usize, searchable: bool) -> DynamicTable {
        DynamicTable {
            entries: VecDeque::new(),
            size: 0,
            max_size,
            inserted: 0,
            by_name: searchable.then(HashMap::new),
        }
    }

    /// The table's size by §4.1.
    pub fn size(&self) -> usize {
        self.size
    }

    /// Its maximum size.
    pub fn max_size(&self) -> usize {
        self.max_size
    }

    /// How many entries it holds.
    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether it holds none.
    #[cfg(test)]
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The entry at dynamic index `i` (0 is the newest: HPACK index 62).
    pub fn get(&self, i: usize) -> Option<&(Bytes, Bytes)> {
        self.entries.get(i)
    }

    /// Sets the maximum size, evicting as needed (§4.3).
    pub fn set_max_size(&mut self, max: usize) {
        self.max_size = max;
        self.evict_to(max);
    }

    /// Inserts an entry at the front, evicting from the back to make room; an entry larger
    /// than the table empties it and is not kept (§4.4).
    pub fn insert(&mut self, name: Bytes, value: Bytes) {
        let size = ENTRY_OVERHEAD + name.len() + value.len();
        if size > self.max_size {
            self.evict_to(0);
            return;
        }
        self.evict_to(self.max_size - size);
        self.inserted += 1;
        let abs = self.inserted;
        if let Some(m) = &mut self.by_name {
            let named = m.entry(name.clone()).or_default();
            named.newest = abs;
            named.values.insert(value.clone(), abs);
        }
        self.size += size;
        self.entries.push_front((name, value));
    }

    /// For the encoder: the HPACK index of an entry with this name and value, and of one
    /// with this name.
    pub fn find(&self, name: &[u8], value: &[u8]) -> (Option<usize>, Option<usize>) {
        let index = |abs: u64| 62 + (self.inserted - abs) as usize;
        let Some(named) = self.by_name.as_ref().and_then(|m| m.get(name)) else {
            return (None, None);
        };
        let field = named.values.get(value).map(|&a| index(a));
        (field, Some(index(named.newest)))
    }

    fn evict_to(&mut self, target: usize) {
        while self.size > target {
            let Some((name, value)) = self.entries.pop_back() else {
                break;
            };
            self.size -= ENTRY_OVERHEAD + name.len() + value.len();
            let abs = self.inserted - self.entries.len() as u64;
            if let Some(m) = &mut self.by_name {
                // The oldest entry goes first: if it was its name's newest, it was the last.
                if let Some(named) = m.get_mut(&name) {
                    if named.newest == abs {
                        m.remove(&name);
                    } else if named.values.get(&value) == Some(&abs) {
                        named.values.remove(&value);
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn static_lookups_find_names_and_exact_entries_appendix_a() {
        assert_eq!(find_static(b":method", b"GET"), Some((2, Some(2))));
        assert_eq!(find_static(b":method", b"PUT"), Some((2, None)));
        assert_eq!(find_static(b":status", b"404"), Some((8, Some(13))));
        assert_eq!(
            find_static(b"accept-encoding", b"gzip, deflate"),
            Some((16, Some(16)))
        );
        assert_eq!(find_static(b"content-type", b"text/css"), Some((31, None)));
        assert_eq!(find_static(b"www-authenticate", b""), Some((61, None)));
        assert_eq!(find_static(b"x-custom", b""), None);
    }

    #[test]
    fn entries_cost_32_plus_name_and_value_4_1() {
        let mut t = DynamicTable::new(4096, false);
        t.insert(
            Bytes::from_static(b"custom-key"),
            Bytes::from_static(b"custom-header"),
        );
        assert_eq!(t.size(), 55);
    }

    #[test]
    fn insertion_evicts_the_oldest_4_4() {
        let mut t = DynamicTable::new(100, true);
        t.insert(Bytes::from_static(b"a"), Bytes::from_static(b"1")); // 34
        t.insert(Bytes::from_static(b"b"), Bytes::from_static(b"2")); // 68
        t.insert(Bytes::from_static(b"c"), Bytes::from_static(b"3")); // 102 > 100: evict a
        assert_eq!(t.len(), 2);
        assert_eq!(t.get(1).unwrap().0, "b");
        assert_eq!(t.find(b"a", b"1"), (None, None));
        assert_eq!(t.find(b"b", b"2"), (Some(63), Some(63)));
        assert_eq!(t.find(b"c", b"9"), (None, Some(62)));
    }

    #[test]
    fn an_entry_larger_than_the_table_empties_it_4_4() {
        let mut t = DynamicTable::new(40, false);
        t.insert(Bytes::from_static(b"a"), Bytes::from_static(b"1"));
        t.insert(
            Bytes::from_static(b"name"),
            Bytes::from_static(b"a long value"),
        );
        assert!(t.is_empty());
        assert_eq!(t.size(), 0);
    }

    #[test]
    fn lowering_the_maximum_evicts_4_3() {
        let mut t = DynamicTable::new(4096, false);
        t.insert(Bytes::from_static(b"a"), Bytes::from_static(b"1"));
        t.insert(Bytes::from_static(b"b"), Bytes::from_static(b"2"));
        t.set_max_size(34);
        assert_eq!(t.len(), 1);
        t.set_max_size(0);
        assert!(t.is_empty());
    }
}
