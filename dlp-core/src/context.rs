//! Structured-data context: the CSV/TSV column or the key a value sits under.
//!
//! As in Cloud DLP and Macie, the name of a value's column (from a delimited file's header row)
//! or of the key it is assigned to (`"ssn": "…"`, `ssn: …`, `SSN=…`, `<ssn>…</ssn>`) acts as a
//! hotword for the value, and names the finding's `column`. Everything here works on the bytes
//! of one line before the value, so it needs no parser and cannot be led into unbounded work.

/// Longest header line read (bytes, without its line break).
pub const MAX_HEADER_LINE: usize = 64 * 1024;
/// Bytes a stream must have read (or hit its end) before its header is judged: enough for a
/// header line and the first data line at their longest.
pub const HEADER_PROBE: usize = 2 * MAX_HEADER_LINE + 2;
/// How far back from a value its line start is looked for. Values further into a line than
/// this have no column. Streams keep at least this much context between rounds.
pub const LINE_CONTEXT: usize = 4096;
/// How far back from a value its key is looked for.
pub const KEY_CONTEXT: usize = 128;
/// Longest key or column name taken into account.
const MAX_NAME: usize = 64;
/// Most columns a header may have.
const MAX_COLUMNS: usize = 1024;
/// Delimiters a header row may use.
const DELIMITERS: [u8; 4] = [b',', b'\t', b';', b'|'];

/// A delimited table's header: its delimiter and column names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Table {
    delim: u8,
    columns: Vec<String>,
}

impl Table {
    /// Recognises a header row at the start of a stream. `data` holds the stream's first bytes:
    /// at least [`HEADER_PROBE`] of them, or all of them when `complete`. The first line is a
    /// header when it splits on one delimiter (`,` tab `;` `|`) into 2 to 1024 names (each
    /// starting with a letter or `_`, at most 64 bytes, no digits-only or empty name) and the
    /// second line splits into as many fields.
    pub fn detect(data: &[u8], complete: bool) -> Option<Table> {
        let data = data.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(data);
        let (header, rest) = line(data, complete)?;
        let (first_row, _) = line(rest, complete)?;
        let delim = DELIMITERS.into_iter().max_by_key(|&d| fields(header, d).count())?;
        let names: Vec<&[u8]> = fields(header, delim).collect();
        if !(2..=MAX_COLUMNS).contains(&names.len()) || fields(first_row, delim).count() != names.len() {
            return None;
        }
        let columns = names
            .into_iter()
            .map(|f| {
                let name = trim(f);
                let ok = !name.is_empty()
                    && name.len() <= MAX_NAME
                    && (name[0].is_ascii_alphabetic() || name[0] == b'_' || name[0] >= 0x80)
                    && name
                        .iter()
                        .all(|&b| b.is_ascii_alphanumeric() || b" _-./#()".contains(&b) || b >= 0x80);
                ok.then(|| String::from_utf8_lossy(name).into_owned())
            })
            .collect::<Option<Vec<_>>>()?;
        Some(Table { delim, columns })
    }

    /// The column names, in order.
    pub fn columns(&self) -> &[String] {
        &self.columns
    }

    /// The name of the column a value is in, given the bytes of its line before it.
    pub fn column(&self, line_before: &[u8]) -> Option<&str> {
        let mut quoted = false;
        let mut index = 0;
        for &b in line_before {
            if b == b'"' {
                quoted = !quoted;
            } else if b == self.delim && !quoted {
                index += 1;
            }
        }
        self.columns.get(index).map(String::as_str)
    }
}

/// The first line of `data` (without `\r\n` / `\n`) and what follows it. A last line without a
/// break counts only when `data` is the whole stream.
fn line(data: &[u8], complete: bool) -> Option<(&[u8], &[u8])> {
    let (line, rest) = match memchr::memchr(b'\n', data) {
        Some(i) => (&data[..i], &data[i + 1..]),
        None if complete && !data.is_empty() => (data, &data[data.len()..]),
        None => return None,
    };
    (line.len() <= MAX_HEADER_LINE).then(|| (line.strip_suffix(b"\r").unwrap_or(line), rest))
}

/// Splits a line on `delim` outside double quotes.
fn fields(line: &[u8], delim: u8) -> impl Iterator<Item = &[u8]> {
    let mut quoted = false;
    line.split(move |&b| {
        if b == b'"' {
            quoted = !quoted;
        }
        b == delim && !quoted
    })
}

/// A field without surrounding spaces and quotes.
fn trim(field: &[u8]) -> &[u8] {
    let f = field.trim_ascii();
    let f = f.strip_prefix(b"\"").and_then(|f| f.strip_suffix(b"\"")).unwrap_or(f);
    f.trim_ascii()
}

/// The start of the line holding the byte at `at`, looking back at most [`LINE_CONTEXT`]
/// bytes. `buf_is_stream_start` says whether `buf[0]` is the stream's first byte.
pub fn line_start(buf: &[u8], at: usize, buf_is_stream_start: bool) -> Option<usize> {
    let from = at.saturating_sub(LINE_CONTEXT);
    match memchr::memrchr(b'\n', &buf[from..at]) {
        Some(i) => Some(from + i + 1),
        None if from == 0 && buf_is_stream_start => Some(0),
        None => None,
    }
}

/// The key a value is assigned to, from the bytes just before it (on its line): `"key": "`,
/// `key: `, `key = `, `KEY=`, `'key' => '`, `<key>` or `key="` (XML attribute). The key must
/// hold a letter; at most 64 bytes of letters, digits, `_`, `-` and `.` are taken.
pub fn key_before(before: &[u8]) -> Option<&[u8]> {
    let start = before.len().saturating_sub(KEY_CONTEXT);
    let before = match memchr::memrchr(b'\n', &before[start..]) {
        Some(i) => &before[start + i + 1..],
        None => &before[start..],
    };
    let mut s = before;
    if let Some(rest) = s.strip_suffix(b"\"").or_else(|| s.strip_suffix(b"'")) {
        s = rest;
    }
    s = s.trim_ascii_end();
    let key = if let Some(rest) = s.strip_suffix(b"=>").or_else(|| s.strip_suffix(b":=")) {
        name_before(rest)
    } else if let Some(rest) = s.strip_suffix(b":").or_else(|| s.strip_suffix(b"=")) {
        name_before(rest)
    } else if let Some(rest) = s.strip_suffix(b">") {
        // An XML element's text: `<name attr="…">`.
        let open = memchr::memrchr(b'<', rest)?;
        let tag = &rest[open + 1..];
        let end = tag.iter().position(|b| b.is_ascii_whitespace()).unwrap_or(tag.len());
        let tag = &tag[..end];
        (tag.len() <= MAX_NAME && tag.iter().all(|&b| is_name_byte(b))).then_some(tag)
    } else {
        None
    }?;
    key.iter().any(u8::is_ascii_alphabetic).then_some(key)
}

/// The name ending `s` (after trailing spaces and one closing quote).
fn name_before(s: &[u8]) -> Option<&[u8]> {
    let s = s.trim_ascii_end();
    let s = s.strip_suffix(b"\"").or_else(|| s.strip_suffix(b"'")).unwrap_or(s);
    let len = s.iter().rev().take_while(|&&b| is_name_byte(b)).count();
    (1..=MAX_NAME).contains(&len).then(|| &s[s.len() - len..])
}

/// A column or key name spelled as words, so that hotwords written with spaces match it:
/// `_`, `-` and `.` become spaces and camelCase is split (`bank_account`, `bankAccount` →
/// `bank account`).
pub fn spaced(name: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(name.len() + 4);
    for (i, &b) in name.iter().enumerate() {
        if matches!(b, b'_' | b'-' | b'.') {
            out.push(b' ');
            continue;
        }
        if b.is_ascii_uppercase() && i > 0 && name[i - 1].is_ascii_lowercase() {
            out.push(b' ');
        }
        out.push(b);
    }
    out
}

/// A name as compared with `column_names`: [`spaced`], lowercased, runs of spaces made one,
/// without leading or trailing spaces.
pub fn name_key(name: &[u8]) -> Vec<u8> {
    let spaced = spaced(name);
    let mut out = Vec::with_capacity(spaced.len());
    for word in spaced.split(|&b| b == b' ').filter(|w| !w.is_empty()) {
        if !out.is_empty() {
            out.push(b' ');
        }
        out.extend(word.iter().map(u8::to_ascii_lowercase));
    }
    out
}

fn is_name_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers() {
        let t = Table::detect(b"id,name,ssn\n1,Ann,123456789\n", true).unwrap();
        assert_eq!(t.columns(), ["id", "name", "ssn"]);
        assert_eq!(t.column(b"2,Bob,"), Some("ssn"));
        assert_eq!(t.column(b"2,\"Smith, Bob\","), Some("ssn"));
        assert_eq!(t.column(b"2,Bob,x,y,"), None);
        let t = Table::detect(b"\xEF\xBB\xBF\"Card Number\"\t\"Exp\"\r\n4111\t09/27\r\n", true).unwrap();
        assert_eq!(t.columns(), ["Card Number", "Exp"]);
        assert_eq!(t.column(b"4111\t"), Some("Exp"));
        for not_a_header in [
            &b"hello, world\nthis is prose, not a table, really\n"[..],
            b"1,2,3\n4,5,6\n",
            b"id,name\n",
            b"id,name,ssn\n1,Ann\n",
            b"id,,ssn\n1,2,3\n",
            b"just one line without a break",
        ] {
            assert_eq!(Table::detect(not_a_header, true), None, "{}", String::from_utf8_lossy(not_a_header));
        }
        // A header is judged only when its first data line is complete.
        assert_eq!(Table::detect(b"id,name,ssn\n1,Ann,1234", false), None);
        assert!(Table::detect(b"id,name,ssn\n1,Ann,1234", true).is_some());
    }

    #[test]
    fn keys() {
        let key = |s: &str| key_before(s.as_bytes()).map(|k| String::from_utf8_lossy(k).into_owned());
        for (before, want) in [
            (r#"{"user": {"ssn": ""#, Some("ssn")),
            (r#"{"card_number":"#, Some("card_number")),
            ("ssn: ", Some("ssn")),
            ("export DB_PASSWORD=\"", Some("DB_PASSWORD")),
            ("customer.iban = ", Some("customer.iban")),
            ("'passport' => '", Some("passport")),
            ("token := \"", Some("token")),
            ("<Account type=\"checking\">", Some("Account")),
            ("<ssn>", Some("ssn")),
            ("<a href=\"x\" ssn=\"", Some("ssn")),
            ("call me at ", None),
            ("\"note\": \"call ", None),
            ("</b>", None),
            ("2024-06-01: ", None),
            ("ssn:\n", None),
        ] {
            assert_eq!(key(before), want.map(String::from), "{before:?}");
        }
    }

    #[test]
    fn spaced_names() {
        assert_eq!(spaced(b"bank_account"), b"bank account");
        assert_eq!(spaced(b"bankAccountNumber"), b"bank Account Number");
        assert_eq!(spaced(b"customer.SSN"), b"customer SSN");
        assert_eq!(name_key(b" Card_Security__Code "), b"card security code");
        assert_eq!(name_key(b"cardCVV2"), b"card cvv2");
    }

    #[test]
    fn line_starts() {
        let buf = b"ab\ncd";
        assert_eq!(line_start(buf, 4, true), Some(3));
        assert_eq!(line_start(buf, 1, true), Some(0));
        assert_eq!(line_start(buf, 1, false), None);
        let long = vec![b'x'; LINE_CONTEXT + 10];
        assert_eq!(line_start(&long, LINE_CONTEXT + 5, true), None);
    }
}
