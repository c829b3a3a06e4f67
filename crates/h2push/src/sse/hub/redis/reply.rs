//! Reading Redis replies: stream entries and `XREAD` results into positions and fields.
//!
//! This file owns the shape of what Redis answers; what the entries mean is the backend's.

use redis::Value;

use super::super::id::Pos;

/// Stream entries: (id, field/value pairs).
pub(super) type Entries = Vec<(Pos, Vec<(String, String)>)>;

pub(super) fn text(v: &Value) -> Option<String> {
    match v {
        Value::BulkString(b) => String::from_utf8(b.clone()).ok(),
        Value::SimpleString(s) => Some(s.clone()),
        Value::Int(n) => Some(n.to_string()),
        Value::Okay => Some("OK".into()),
        _ => None,
    }
}

/// `[[id, [field, value, …]], …]` → entries.
pub(super) fn parse_entries(v: &Value) -> Option<Entries> {
    let Value::Array(entries) = v else {
        return matches!(v, Value::Nil).then(Vec::new);
    };
    let mut out = Vec::with_capacity(entries.len());
    for entry in entries {
        let Value::Array(pair) = entry else {
            return None;
        };
        let pos = Pos::parse(&text(pair.first()?)?)?;
        let mut fields = Vec::new();
        if let Some(Value::Array(kv)) = pair.get(1) {
            for chunk in kv.chunks(2) {
                if let [k, v] = chunk {
                    fields.push((text(k)?, text(v)?));
                }
            }
        }
        out.push((pos, fields));
    }
    Some(out)
}

/// `XREAD` reply → (stream key, entries) per stream.
pub(super) fn parse_xread(v: &Value) -> Option<Vec<(String, Entries)>> {
    match v {
        Value::Nil => Some(Vec::new()),
        Value::Array(streams) => streams
            .iter()
            .map(|s| {
                let Value::Array(pair) = s else { return None };
                Some((text(pair.first()?)?, parse_entries(pair.get(1)?)?))
            })
            .collect(),
        Value::Map(streams) => streams
            .iter()
            .map(|(k, v)| Some((text(k)?, parse_entries(v)?)))
            .collect(),
        _ => None,
    }
}
