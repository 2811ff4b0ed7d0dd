//! Streaming text extraction from HTML and RTF, as [`Filter`]s: bounded state, any input.
//!
//! - HTML: text and attribute values, with character references decoded. Block-level tags
//!   break lines; inline tags (`<b>`, `<span>`, …) do not, so a value split by inline markup
//!   is still one value. Script, style and comment content is kept (secrets live there too).
//! - RTF: text, with `\'hh` bytes decoded in the document's code page (`\ansicpg`), `\uN`
//!   characters (and their `\ucN` fallbacks dropped), `\par`/`\line`/`\row` as line breaks
//!   and `\tab`/`\cell` as tabs; font, colour and style tables, pictures, binary data and
//!   other `\*` destinations are dropped.

use super::decode::Filter;

const BLOCK_TAGS: &[&[u8]] = &[
    b"address",
    b"article",
    b"aside",
    b"blockquote",
    b"body",
    b"br",
    b"button",
    b"caption",
    b"dd",
    b"div",
    b"dl",
    b"dt",
    b"fieldset",
    b"figcaption",
    b"figure",
    b"footer",
    b"form",
    b"h1",
    b"h2",
    b"h3",
    b"h4",
    b"h5",
    b"h6",
    b"head",
    b"header",
    b"hr",
    b"html",
    b"img",
    b"input",
    b"label",
    b"li",
    b"link",
    b"main",
    b"meta",
    b"nav",
    b"noscript",
    b"ol",
    b"option",
    b"p",
    b"pre",
    b"script",
    b"section",
    b"select",
    b"style",
    b"table",
    b"tbody",
    b"td",
    b"textarea",
    b"tfoot",
    b"th",
    b"thead",
    b"title",
    b"tr",
    b"ul",
];

const MAX_TAG_NAME: usize = 16;
const MAX_ENTITY: usize = 12;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum HtmlState {
    Text,
    /// After `<`.
    Open,
    /// Reading a tag name.
    Name,
    /// Inside a tag, between attributes.
    Tag,
    /// Inside an attribute value, with its quote (0 when unquoted).
    Value(u8),
    /// `<!` or `<?` other than a comment: skipped to `>`.
    Decl,
    /// `<!--` … `-->`; kept.
    Comment,
    /// Script or style content, up to the matching end tag.
    Raw,
}

/// HTML to text.
pub struct Html {
    state: HtmlState,
    name: Vec<u8>,
    closing: bool,
    /// The raw-text element being read (`script` or `style`).
    raw_end: &'static [u8],
    /// Bytes that may be the start of the raw-text end tag, or of `-->`, or of `<!--`.
    held: Vec<u8>,
    entity: Vec<u8>,
    in_entity: bool,
}

impl Default for Html {
    fn default() -> Self {
        Html {
            state: HtmlState::Text,
            name: Vec::new(),
            closing: false,
            raw_end: b"",
            held: Vec::new(),
            entity: Vec::new(),
            in_entity: false,
        }
    }
}

impl Html {
    fn text_byte(&mut self, b: u8, out: &mut Vec<u8>) {
        if self.in_entity {
            if (b.is_ascii_alphanumeric() || b == b'#') && self.entity.len() < MAX_ENTITY {
                self.entity.push(b);
                return;
            }
            self.in_entity = false;
            let done = b == b';';
            match decode_entity(&self.entity) {
                Some(s) => out.extend_from_slice(s.as_bytes()),
                None => {
                    out.push(b'&');
                    out.extend_from_slice(&self.entity);
                    if done {
                        out.push(b';');
                    }
                }
            }
            self.entity.clear();
            if done {
                return;
            }
        }
        if b == b'&' {
            self.in_entity = true;
        } else {
            out.push(b);
        }
    }

    fn flush_entity(&mut self, out: &mut Vec<u8>) {
        if self.in_entity {
            self.in_entity = false;
            match decode_entity(&self.entity) {
                Some(s) => out.extend_from_slice(s.as_bytes()),
                None => {
                    out.push(b'&');
                    out.extend_from_slice(&self.entity);
                }
            }
            self.entity.clear();
        }
    }

    fn end_tag(&mut self, out: &mut Vec<u8>) {
        let name = self.name.to_ascii_lowercase();
        if BLOCK_TAGS.contains(&name.as_slice()) {
            out.push(b'\n');
        }
        self.state = HtmlState::Text;
        if !self.closing {
            if name == b"script" {
                self.raw_end = b"</script";
                self.state = HtmlState::Raw;
            } else if name == b"style" {
                self.raw_end = b"</style";
                self.state = HtmlState::Raw;
            }
        }
    }
}

impl Filter for Html {
    fn feed(&mut self, input: &[u8], out: &mut Vec<u8>) {
        for &b in input {
            match self.state {
                HtmlState::Text => {
                    if b == b'<' {
                        self.flush_entity(out);
                        self.state = HtmlState::Open;
                    } else {
                        self.text_byte(b, out);
                    }
                }
                HtmlState::Open => {
                    self.name.clear();
                    self.closing = false;
                    match b {
                        b'/' => {
                            self.closing = true;
                            self.state = HtmlState::Name;
                        }
                        b'!' | b'?' => {
                            self.held.clear();
                            self.held.push(b);
                            self.state = HtmlState::Decl;
                        }
                        _ if b.is_ascii_alphabetic() => {
                            self.name.push(b);
                            self.state = HtmlState::Name;
                        }
                        _ => {
                            out.push(b'<');
                            self.state = HtmlState::Text;
                            self.text_byte(b, out);
                        }
                    }
                }
                HtmlState::Name => {
                    if b == b'>' {
                        self.end_tag(out);
                    } else if b.is_ascii_whitespace() || b == b'/' {
                        self.state = HtmlState::Tag;
                    } else if self.name.len() < MAX_TAG_NAME {
                        self.name.push(b);
                    }
                }
                HtmlState::Tag => match b {
                    b'>' => self.end_tag(out),
                    b'=' => {
                        self.state = HtmlState::Value(0);
                        out.push(b'\n');
                        self.held.clear();
                        self.held.push(0); // value not started yet
                    }
                    _ => {}
                },
                HtmlState::Value(q) => {
                    let starting = self.held.first() == Some(&0);
                    if starting {
                        if b.is_ascii_whitespace() {
                            continue;
                        }
                        self.held.clear();
                        if b == b'"' || b == b'\'' {
                            self.state = HtmlState::Value(b);
                            continue;
                        }
                    }
                    let end = if q == 0 { b.is_ascii_whitespace() || b == b'>' } else { b == q };
                    if end {
                        self.flush_entity(out);
                        out.push(b'\n');
                        if b == b'>' {
                            self.end_tag(out);
                        } else {
                            self.state = HtmlState::Tag;
                        }
                    } else {
                        self.text_byte(b, out);
                    }
                }
                HtmlState::Decl => {
                    if self.held.len() < 3 {
                        self.held.push(b);
                        if self.held == b"!--" {
                            self.held.clear();
                            self.state = HtmlState::Comment;
                            out.push(b'\n');
                            continue;
                        }
                    }
                    if b == b'>' {
                        self.state = HtmlState::Text;
                    }
                }
                HtmlState::Comment => {
                    // Hold `-` bytes that may start `-->`.
                    if b == b'-' {
                        self.held.push(b);
                    } else if b == b'>' && self.held.len() >= 2 {
                        let keep = self.held.len() - 2;
                        out.extend(std::iter::repeat_n(b'-', keep));
                        self.held.clear();
                        out.push(b'\n');
                        self.state = HtmlState::Text;
                    } else {
                        out.append(&mut self.held);
                        out.push(b);
                    }
                }
                HtmlState::Raw => {
                    let end = self.raw_end;
                    self.held.push(b);
                    let n = self.held.len();
                    if n <= end.len() && self.held.eq_ignore_ascii_case(&end[..n]) {
                        if n == end.len() {
                            self.held.clear();
                            self.name = end[2..].to_vec();
                            self.closing = true;
                            self.state = HtmlState::Tag;
                        }
                    } else {
                        // Not the end tag: emit what was held, except a new `<`.
                        let last = self.held.pop();
                        out.append(&mut self.held);
                        if last == Some(b'<') {
                            self.held.push(b'<');
                        } else if let Some(l) = last {
                            out.push(l);
                        }
                    }
                }
            }
        }
    }

    fn finish(&mut self, out: &mut Vec<u8>) {
        self.flush_entity(out);
        if matches!(self.state, HtmlState::Raw | HtmlState::Comment) {
            out.append(&mut self.held);
        }
    }
}

/// Decodes a character reference's name (`amp`, `#38`, `#x26`).
fn decode_entity(name: &[u8]) -> Option<String> {
    if let Some(num) = name.strip_prefix(b"#") {
        let (digits, radix) = match num.first() {
            Some(b'x' | b'X') => (&num[1..], 16),
            _ => (num, 10),
        };
        let n = u32::from_str_radix(std::str::from_utf8(digits).ok()?, radix).ok()?;
        return char::from_u32(n).map(String::from);
    }
    let s = match name {
        b"amp" => "&",
        b"lt" => "<",
        b"gt" => ">",
        b"quot" => "\"",
        b"apos" => "'",
        b"nbsp" | b"ensp" | b"emsp" | b"thinsp" => " ",
        b"shy" | b"zwj" | b"zwnj" => "",
        b"ndash" | b"mdash" | b"minus" | b"hyphen" => "-",
        b"commat" => "@",
        b"period" => ".",
        b"lowbar" => "_",
        b"copy" => "©",
        b"reg" => "®",
        b"euro" => "€",
        b"pound" => "£",
        b"laquo" => "«",
        b"raquo" => "»",
        b"hellip" => "…",
        _ => return None,
    };
    Some(s.to_string())
}

/// RTF destinations whose content is not text.
const RTF_SKIP: &[&[u8]] = &[
    b"fonttbl",
    b"colortbl",
    b"stylesheet",
    b"pict",
    b"themedata",
    b"colorschememapping",
    b"datastore",
    b"latentstyles",
    b"listtable",
    b"listoverridetable",
    b"rsidtbl",
    b"generator",
    b"xmlnstbl",
    b"filetbl",
    b"revtbl",
    b"objdata",
    b"mmathPr",
    b"pgdsctbl",
    b"wgrffmtfilter",
];

/// Deepest group nesting tracked; deeper groups share the state of this level.
const RTF_MAX_DEPTH: usize = 4096;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum RtfState {
    Text,
    /// After `\`.
    Escape,
    /// In a control word's letters.
    Word,
    /// In a control word's numeric parameter.
    Param,
    /// In `\'h`, waiting for hex digits.
    Hex,
    /// Skipping `\bin` data.
    Bin,
}

#[derive(Debug, Clone, Copy)]
struct Group {
    skip: bool,
    uc: u32,
}

/// RTF to text.
pub struct Rtf {
    state: RtfState,
    stack: Vec<Group>,
    cur: Group,
    word: Vec<u8>,
    param: Vec<u8>,
    hex: Vec<u8>,
    /// Consecutive `\'hh` bytes, decoded together (multi-byte code pages).
    bytes: Vec<u8>,
    /// Fallback characters still to drop after a `\uN`.
    drop: u32,
    /// `\bin` bytes still to skip.
    bin: u64,
    codepage: &'static encoding_rs::Encoding,
    /// The next group is a `\*` destination.
    star: bool,
    /// The current group has had no control word yet (so a word now names a destination).
    fresh: bool,
}

impl Default for Rtf {
    fn default() -> Self {
        Rtf {
            state: RtfState::Text,
            stack: Vec::new(),
            cur: Group { skip: false, uc: 1 },
            word: Vec::new(),
            param: Vec::new(),
            hex: Vec::new(),
            bytes: Vec::new(),
            drop: 0,
            bin: 0,
            codepage: encoding_rs::WINDOWS_1252,
            star: false,
            fresh: false,
        }
    }
}

impl Rtf {
    fn emit(&mut self, out: &mut Vec<u8>, s: &[u8]) {
        self.flush_bytes(out);
        if !self.cur.skip {
            out.extend_from_slice(s);
        }
    }

    fn flush_bytes(&mut self, out: &mut Vec<u8>) {
        if self.bytes.is_empty() {
            return;
        }
        if !self.cur.skip {
            let (text, _) = self.codepage.decode_without_bom_handling(&self.bytes);
            out.extend_from_slice(text.as_bytes());
        }
        self.bytes.clear();
    }

    fn text(&mut self, b: u8, out: &mut Vec<u8>) {
        if self.drop > 0 {
            self.drop -= 1;
            return;
        }
        if b == b'\r' || b == b'\n' {
            return;
        }
        self.fresh = false;
        self.emit(out, &[b]);
    }

    fn control_word(&mut self, out: &mut Vec<u8>) {
        let param: Option<i64> = std::str::from_utf8(&self.param).ok().and_then(|p| p.parse().ok());
        let word = std::mem::take(&mut self.word);
        self.param.clear();
        let destination = std::mem::replace(&mut self.fresh, false);
        if destination && (self.star || RTF_SKIP.contains(&word.as_slice())) {
            self.flush_bytes(out);
            self.cur.skip = true;
        }
        self.star = false;
        match word.as_slice() {
            b"par" | b"line" | b"sect" | b"page" | b"row" => self.emit(out, b"\n"),
            b"tab" | b"cell" => self.emit(out, b"\t"),
            b"emdash" | b"endash" => self.emit(out, b"-"),
            b"lquote" | b"rquote" => self.emit(out, b"'"),
            b"ldblquote" | b"rdblquote" => self.emit(out, b"\""),
            b"u" => {
                if let Some(n) = param {
                    let n = if n < 0 { n + 65536 } else { n };
                    let c = u32::try_from(n).ok().and_then(char::from_u32).unwrap_or('\u{fffd}');
                    let mut buf = [0u8; 4];
                    self.emit(out, c.encode_utf8(&mut buf).as_bytes());
                    self.drop = self.cur.uc;
                }
            }
            b"uc" => self.cur.uc = param.unwrap_or(1).clamp(0, 16) as u32,
            b"ansicpg" => {
                if let Some(enc) = param.and_then(codepage) {
                    self.codepage = enc;
                }
            }
            b"bin" => {
                self.bin = param.unwrap_or(0).max(0) as u64;
                if self.bin > 0 {
                    self.state = RtfState::Bin;
                }
            }
            _ => {}
        }
    }
}

fn codepage(cp: i64) -> Option<&'static encoding_rs::Encoding> {
    let label = match cp {
        874 => "windows-874".to_string(),
        932 => "shift_jis".into(),
        936 => "gbk".into(),
        949 => "euc-kr".into(),
        950 => "big5".into(),
        866 => "ibm866".into(),
        10000 => "macintosh".into(),
        1250..=1258 => format!("windows-{cp}"),
        _ => return None,
    };
    encoding_rs::Encoding::for_label(label.as_bytes())
}

impl Filter for Rtf {
    fn feed(&mut self, input: &[u8], out: &mut Vec<u8>) {
        let mut i = 0;
        while i < input.len() {
            let b = input[i];
            i += 1;
            match self.state {
                RtfState::Bin => {
                    let n = (self.bin as usize).min(input.len() - i + 1);
                    i += n - 1;
                    self.bin -= n as u64;
                    if self.bin == 0 {
                        self.state = RtfState::Text;
                    }
                }
                RtfState::Text => match b {
                    b'{' => {
                        self.flush_bytes(out);
                        if self.stack.len() < RTF_MAX_DEPTH {
                            self.stack.push(self.cur);
                        }
                        self.fresh = true;
                    }
                    b'}' => {
                        self.flush_bytes(out);
                        if let Some(g) = self.stack.pop() {
                            self.cur = g;
                        }
                        self.fresh = false;
                        self.star = false;
                    }
                    b'\\' => self.state = RtfState::Escape,
                    _ => self.text(b, out),
                },
                RtfState::Escape => {
                    self.state = RtfState::Text;
                    match b {
                        b'a'..=b'z' | b'A'..=b'Z' => {
                            self.word.clear();
                            self.word.push(b);
                            self.state = RtfState::Word;
                        }
                        b'\'' => {
                            self.hex.clear();
                            self.state = RtfState::Hex;
                        }
                        b'*' => self.star = true,
                        b'~' => self.text(b' ', out),
                        b'_' => self.text(b'-', out),
                        b'-' => {}
                        b'\r' | b'\n' => self.emit(out, b"\n"),
                        _ => self.text(b, out),
                    }
                }
                RtfState::Word => {
                    if b.is_ascii_alphabetic() && self.word.len() < 32 {
                        self.word.push(b);
                    } else if b.is_ascii_digit() || (b == b'-' && self.param.is_empty()) {
                        self.param.push(b);
                        self.state = RtfState::Param;
                    } else {
                        self.state = RtfState::Text;
                        self.control_word(out);
                        if b != b' ' {
                            i -= 1; // the delimiter is ordinary input
                        }
                    }
                }
                RtfState::Param => {
                    if b.is_ascii_digit() && self.param.len() < 10 {
                        self.param.push(b);
                    } else {
                        self.state = RtfState::Text;
                        self.control_word(out);
                        if b != b' ' && self.state != RtfState::Bin {
                            i -= 1;
                        }
                    }
                }
                RtfState::Hex => {
                    if b.is_ascii_hexdigit() {
                        self.hex.push(b);
                    }
                    if self.hex.len() == 2 || !b.is_ascii_hexdigit() {
                        self.state = RtfState::Text;
                        let value =
                            std::str::from_utf8(&self.hex).ok().and_then(|h| u8::from_str_radix(h, 16).ok());
                        if let Some(v) = value {
                            if self.drop > 0 {
                                self.drop -= 1;
                            } else {
                                self.fresh = false;
                                self.bytes.push(v);
                            }
                        }
                    }
                }
            }
        }
    }

    fn finish(&mut self, out: &mut Vec<u8>) {
        if matches!(self.state, RtfState::Word | RtfState::Param) {
            self.control_word(out);
        }
        self.flush_bytes(out);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(mut f: impl Filter, input: &[u8], split: usize) -> String {
        let mut out = Vec::new();
        for part in input.chunks(split.max(1)) {
            f.feed(part, &mut out);
        }
        f.finish(&mut out);
        String::from_utf8_lossy(&out).into_owned()
    }

    #[test]
    fn html_text_attributes_entities() {
        let html = b"<html><head><title>T</title><style>p{}</style></head><body><p>Card <b>4556</b>737586899855 &amp; more&#33;</p>\
<input name=\"ssn\" value=\"536-22-8726\"><a href='mailto:jane@example.org'>mail</a><!-- key AKIAQYLPMN5HHHFPZAM2 --><script>var s = \"a<b\";</script>x&unknown;y &#x41;</body></html>";
        for split in [1, 2, 3, 5, 1000] {
            let text = run(Html::default(), html, split);
            assert!(text.contains("Card 4556737586899855 & more!"), "{split}: {text:?}");
            assert!(text.contains("\n536-22-8726\n"), "{text:?}");
            assert!(text.contains("\nmailto:jane@example.org\n"), "{text:?}");
            assert!(text.contains(" key AKIAQYLPMN5HHHFPZAM2 "), "{text:?}");
            assert!(text.contains("var s = \"a<b\";"), "{text:?}");
            assert!(text.contains("x&unknown;y A"), "{text:?}");
            assert!(text.contains("\nT\n"), "{text:?}");
            assert!(!text.contains("<b>") && !text.contains("title"), "{text:?}");
        }
    }

    #[test]
    fn rtf_text() {
        let rtf = br"{\rtf1\ansi\ansicpg1252{\fonttbl{\f0 Arial;}}{\colortbl;\red0;}{\*\generator Foo;}\f0 SSN 536-22-8726\par Caf\'e9 \u8364?5 {\b card} 4556\~7375\par{\pict 0123abcd}tab\tab end}";
        for split in [1, 2, 3, 1000] {
            let text = run(Rtf::default(), rtf, split);
            assert_eq!(text, "SSN 536-22-8726\nCafé €5 card 4556 7375\ntab\tend", "split {split}");
        }
        // Code page 1251.
        assert_eq!(run(Rtf::default(), br"{\rtf1\ansi\ansicpg1251 \'cf\'f0\'e8}", 1), "При");
    }

    #[test]
    fn rtf_hostile() {
        let deep: Vec<u8> = std::iter::repeat_n(b'{', 100_000)
            .chain(*b"x")
            .chain(std::iter::repeat_n(b'}', 100_000))
            .collect();
        assert_eq!(run(Rtf::default(), &deep, 4096), "x");
        assert_eq!(run(Rtf::default(), br"{\rtf1 a\bin5 {{{{{b\u-3 c\'", 3), "ab\u{fffd}");
    }
}
