//! Bencode (BEP 3): the encoding of `.torrent` files.
//!
//! Four types: integers `i42e`, byte strings `4:spam`, lists `l…e` and dictionaries `d…e` whose
//! keys are byte strings in sorted order. [`Value::encode`] always writes canonical bencode (keys
//! sorted, no leading zeros), so the same value gives the same bytes. [`decode`] is strict about
//! syntax (leading zeros, `-0`, trailing bytes, duplicate keys, nesting deeper than
//! [`MAX_DEPTH`]) and reports where the input went wrong; it also returns the byte span of every
//! value of the top-level dictionary, because a torrent's info hash is the SHA-1 of the `info`
//! value exactly as it appears in the file, not of a re-encoding.
//!
//! Byte strings stay bytes: names that are not UTF-8 survive a round trip unchanged.

use std::collections::BTreeMap;
use std::fmt;
use std::ops::Range;

/// Nesting deeper than this is refused (a torrent needs 4 levels).
pub const MAX_DEPTH: usize = 64;

/// One bencoded value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Value {
    Int(i64),
    Bytes(Vec<u8>),
    List(Vec<Value>),
    Dict(BTreeMap<Vec<u8>, Value>),
}

impl Value {
    /// A byte string from text.
    pub fn str(s: &str) -> Value {
        Value::Bytes(s.as_bytes().to_vec())
    }

    /// Appends the canonical encoding to `out`.
    pub fn encode_into(&self, out: &mut Vec<u8>) {
        match self {
            Value::Int(n) => {
                out.push(b'i');
                out.extend_from_slice(n.to_string().as_bytes());
                out.push(b'e');
            }
            Value::Bytes(b) => encode_bytes(b, out),
            Value::List(items) => {
                out.push(b'l');
                for item in items {
                    item.encode_into(out);
                }
                out.push(b'e');
            }
            Value::Dict(map) => {
                out.push(b'd');
                for (k, v) in map {
                    encode_bytes(k, out);
                    v.encode_into(out);
                }
                out.push(b'e');
            }
        }
    }

    /// The canonical encoding.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::new();
        self.encode_into(&mut out);
        out
    }

    /// The dictionary's value under `key`, if this is a dictionary.
    pub fn get(&self, key: &str) -> Option<&Value> {
        match self {
            Value::Dict(map) => map.get(key.as_bytes()),
            _ => None,
        }
    }

    pub fn as_int(&self) -> Option<i64> {
        match self {
            Value::Int(n) => Some(*n),
            _ => None,
        }
    }

    pub fn as_bytes(&self) -> Option<&[u8]> {
        match self {
            Value::Bytes(b) => Some(b),
            _ => None,
        }
    }

    pub fn as_list(&self) -> Option<&[Value]> {
        match self {
            Value::List(l) => Some(l),
            _ => None,
        }
    }

    /// The string value as UTF-8 text (lossy for invalid bytes).
    pub fn as_text(&self) -> Option<String> {
        self.as_bytes()
            .map(|b| String::from_utf8_lossy(b).into_owned())
    }
}

fn encode_bytes(b: &[u8], out: &mut Vec<u8>) {
    out.extend_from_slice(b.len().to_string().as_bytes());
    out.push(b':');
    out.extend_from_slice(b);
}

/// Why input is not valid bencode: what was wrong and at which byte offset.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecodeError {
    pub offset: usize,
    pub what: &'static str,
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} at byte {}", self.what, self.offset)
    }
}

impl std::error::Error for DecodeError {}

/// A decoded document: the value, and for a top-level dictionary the byte span of each value.
#[derive(Debug, Clone)]
pub struct Document {
    pub value: Value,
    pub spans: BTreeMap<Vec<u8>, Range<usize>>,
}

/// Decodes a complete bencoded document (nothing may follow the value).
pub fn decode(input: &[u8]) -> Result<Document, DecodeError> {
    let mut p = Parser {
        input,
        pos: 0,
        spans: BTreeMap::new(),
    };
    let value = p.value(0)?;
    if p.pos != input.len() {
        return Err(p.err("trailing bytes after the value"));
    }
    Ok(Document {
        value,
        spans: p.spans,
    })
}

struct Parser<'a> {
    input: &'a [u8],
    pos: usize,
    spans: BTreeMap<Vec<u8>, Range<usize>>,
}

impl Parser<'_> {
    fn err(&self, what: &'static str) -> DecodeError {
        DecodeError {
            offset: self.pos,
            what,
        }
    }

    fn peek(&self) -> Result<u8, DecodeError> {
        self.input
            .get(self.pos)
            .copied()
            .ok_or_else(|| self.err("unexpected end of input"))
    }

    fn value(&mut self, depth: usize) -> Result<Value, DecodeError> {
        if depth > MAX_DEPTH {
            return Err(self.err("nesting too deep"));
        }
        match self.peek()? {
            b'i' => {
                self.pos += 1;
                let n = self.integer(b'e')?;
                Ok(Value::Int(n))
            }
            b'0'..=b'9' => Ok(Value::Bytes(self.bytes()?)),
            b'l' => {
                self.pos += 1;
                let mut items = Vec::new();
                while self.peek()? != b'e' {
                    items.push(self.value(depth + 1)?);
                }
                self.pos += 1;
                Ok(Value::List(items))
            }
            b'd' => {
                self.pos += 1;
                let mut map = BTreeMap::new();
                while self.peek()? != b'e' {
                    if !self.peek()?.is_ascii_digit() {
                        return Err(self.err("dictionary key is not a string"));
                    }
                    let key = self.bytes()?;
                    if map.contains_key(&key) {
                        return Err(self.err("duplicate dictionary key"));
                    }
                    let start = self.pos;
                    let v = self.value(depth + 1)?;
                    if depth == 0 {
                        self.spans.insert(key.clone(), start..self.pos);
                    }
                    map.insert(key, v);
                }
                self.pos += 1;
                Ok(Value::Dict(map))
            }
            _ => Err(self.err("not a bencode value")),
        }
    }

    /// Digits (optionally negative) up to `end`; canonical form only.
    fn integer(&mut self, end: u8) -> Result<i64, DecodeError> {
        let start = self.pos;
        let rest = &self.input[start..];
        let len = rest
            .iter()
            .position(|&c| c == end)
            .ok_or_else(|| self.err("unterminated number"))?;
        let text = &rest[..len];
        let digits = text.strip_prefix(b"-").unwrap_or(text);
        let canonical = !digits.is_empty()
            && digits.iter().all(u8::is_ascii_digit)
            && (digits == b"0" || digits[0] != b'0')
            && !(text[0] == b'-' && digits == b"0");
        if !canonical {
            return Err(self.err("malformed number"));
        }
        let n = std::str::from_utf8(text)
            .ok()
            .and_then(|s| s.parse::<i64>().ok())
            .ok_or_else(|| self.err("number out of range"))?;
        self.pos = start + len + 1;
        Ok(n)
    }

    fn bytes(&mut self) -> Result<Vec<u8>, DecodeError> {
        let at = self.pos;
        let len = self.integer(b':')?;
        let len = usize::try_from(len).map_err(|_| DecodeError {
            offset: at,
            what: "negative string length",
        })?;
        let end = self
            .pos
            .checked_add(len)
            .filter(|&e| e <= self.input.len())
            .ok_or(DecodeError {
                offset: at,
                what: "string runs past the end of input",
            })?;
        let b = self.input[self.pos..end].to_vec();
        self.pos = end;
        Ok(b)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dict(pairs: &[(&str, Value)]) -> Value {
        Value::Dict(
            pairs
                .iter()
                .map(|(k, v)| (k.as_bytes().to_vec(), v.clone()))
                .collect(),
        )
    }

    #[test]
    fn encodes_canonically_with_sorted_keys() {
        let v = dict(&[
            ("zeta", Value::Int(-3)),
            (
                "alpha",
                Value::List(vec![Value::str("spam"), Value::Int(0)]),
            ),
        ]);
        assert_eq!(v.encode(), b"d5:alphal4:spami0ee4:zetai-3ee");
    }

    #[test]
    fn round_trips_and_keeps_spans() {
        let input = b"d8:announce3:url4:infod4:name1:xee";
        let doc = decode(input).unwrap();
        assert_eq!(doc.value.encode(), input);
        let span = doc.spans[&b"info".to_vec()].clone();
        assert_eq!(&input[span], b"d4:name1:xe");
        assert_eq!(doc.value.get("announce").unwrap().as_text().unwrap(), "url");
    }

    #[test]
    fn keeps_non_utf8_bytes() {
        let v = Value::Bytes(vec![0xff, 0x00, b'a']);
        let doc = decode(&v.encode()).unwrap();
        assert_eq!(doc.value, v);
    }

    #[test]
    fn rejects_malformed_input() {
        for bad in [
            &b""[..],
            b"i01e",
            b"i-0e",
            b"ie",
            b"i12",
            b"5:abc",
            b"l",
            b"d1:ai1e1:ai2ee",
            b"di1ei2ee",
            b"i1ei2e",
            b"x",
            b"-1:a",
            b"99999999999999999999:a",
        ] {
            assert!(decode(bad).is_err(), "accepted {:?}", bad);
        }
        let deep = format!("{}{}", "l".repeat(100), "e".repeat(100));
        assert_eq!(
            decode(deep.as_bytes()).unwrap_err().what,
            "nesting too deep"
        );
    }

    #[test]
    fn error_names_the_offset() {
        let e = decode(b"d4:infoi1xe").unwrap_err();
        assert_eq!(e.what, "malformed number");
        assert!(e.to_string().contains("at byte"));
    }
}
