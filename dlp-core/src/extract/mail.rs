//! Mail: EML messages (headers, text and HTML bodies, attachments walked recursively,
//! attached messages) and MBOX mailboxes (split into messages as they stream).

use super::limits::Limit;
use super::{Flow, Kind, Reason, Status, Walk};
use std::io::{BufRead, BufReader, Read};

/// Most `message/rfc822` and `multipart/` content types in one message handed to the parser.
const MAX_NESTED_PARTS: usize = 1000;

/// Counts `message/rfc822` and `multipart/` (any case) in a message.
fn nested_parts(data: &[u8]) -> usize {
    let ac = aho_corasick::AhoCorasick::builder()
        .ascii_case_insensitive(true)
        .build(["message/rfc822", "multipart/"])
        .expect("two fixed patterns compile");
    ac.find_iter(data).count()
}

/// Longest line an mbox is read in (longer lines are read in pieces).
const MBOX_LINE: u64 = 1024 * 1024;

impl Walk<'_> {
    /// One message, read whole (up to the member limit).
    pub(super) fn eml(&mut self, r: &mut dyn Read, depth: u32) -> Flow {
        match self.read_bounded(r, "mail message") {
            Some(data) => self.eml_bytes(&data, depth),
            None => Flow::Continue,
        }
    }

    /// A Unix mailbox: each message (from a `From ` line to the next) is a member
    /// `message-N`, parsed as it completes.
    pub(super) fn mbox(&mut self, r: &mut dyn Read, depth: u32) -> Flow {
        let mut reader = BufReader::new(r);
        let cap = self.ex.limits.max_member_bytes;
        let mut message: Vec<u8> = Vec::new();
        let mut too_big = false;
        let mut number = 0u64;
        let mut line = Vec::new();
        let mut previous_blank = true;
        loop {
            line.clear();
            let n = match (&mut reader).take(MBOX_LINE).read_until(b'\n', &mut line) {
                Ok(n) => n,
                Err(e) => return self.fail(e, number > 0),
            };
            let starts = n == 0 || (previous_blank && line.starts_with(b"From "));
            if starts && (number > 0) {
                let flow = self.mbox_message(&message, number, too_big, depth);
                if flow == Flow::Stop {
                    return flow;
                }
            }
            if n == 0 {
                return Flow::Continue;
            }
            if starts {
                number += 1;
                if number > self.ex.limits.max_entries {
                    return self.entries_limit();
                }
                message.clear();
                too_big = false;
            } else if !too_big {
                if (message.len() + line.len()) as u64 > cap {
                    too_big = true;
                    message = Vec::new();
                } else {
                    message.extend_from_slice(&line);
                }
            }
            previous_blank = line == b"\n" || line == b"\r\n";
        }
    }

    fn mbox_message(&mut self, message: &[u8], number: u64, too_big: bool, depth: u32) -> Flow {
        self.path.push(format!("message-{number}"));
        let flow = if too_big {
            let cap = self.ex.limits.max_member_bytes;
            self.note(
                Status::Skipped,
                Reason::Limit(Limit::MemberBytes),
                format!("message larger than {cap} bytes"),
            );
            Flow::Continue
        } else if depth + 1 > self.ex.limits.max_depth {
            self.note(Status::Skipped, Reason::Limit(Limit::Depth), "nested too deep".into());
            Flow::Continue
        } else {
            self.eml_bytes(message, depth + 1)
        };
        self.path.pop();
        flow
    }

    /// Parses a message: its headers are the member `headers`; text bodies `body.txt`, HTML
    /// bodies `body.html` (numbered when there are several); attachments are members named
    /// by their file names and walked like any other stream.
    pub(super) fn eml_bytes(&mut self, data: &[u8], depth: u32) -> Flow {
        // mail-parser parses attached messages recursively (and drops them so): a message
        // nested thousands deep would overflow the stack, which no catch can contain.
        let nested = nested_parts(data);
        if nested > MAX_NESTED_PARTS {
            let detail = format!("{nested} nested MIME parts or messages (more than {MAX_NESTED_PARTS})");
            self.note(Status::Skipped, Reason::Limit(Limit::Depth), detail);
            return Flow::Continue;
        }
        let parsed = super::pdf::contain(|| mail_parser::MessageParser::default().parse(data));
        let message = match parsed {
            Ok(Some(m)) => m,
            Ok(None) => {
                self.note(Status::Skipped, Reason::Corrupt, "not a mail message".into());
                return Flow::Continue;
            }
            Err(panic) => {
                self.note(Status::Skipped, Reason::ParserCrash, format!("mail parser panicked: {panic}"));
                return Flow::Continue;
            }
        };
        let mut headers = Vec::new();
        if let Some(root) = message.parts.first() {
            for h in &root.headers {
                headers.extend_from_slice(h.name.as_str().as_bytes());
                headers.extend_from_slice(b": ");
                match &h.value {
                    mail_parser::HeaderValue::Text(t) => headers.extend_from_slice(t.as_bytes()),
                    mail_parser::HeaderValue::TextList(list) => {
                        headers.extend_from_slice(list.join(", ").as_bytes())
                    }
                    _ => {
                        let raw =
                            data.get(h.offset_start as usize..h.offset_end as usize).unwrap_or_default();
                        headers.extend(raw.iter().map(|&b| if b == b'\r' || b == b'\n' { b' ' } else { b }));
                    }
                }
                headers.push(b'\n');
            }
        }
        self.path.push("headers".into());
        let flow = self.text_bytes(&headers, Kind::Eml, None);
        self.path.pop();
        if flow == Flow::Stop {
            return flow;
        }
        let mut names: Vec<String> = Vec::new();
        let mut unique = |base: String| -> String {
            let mut name = base.clone();
            let mut i = 1;
            while names.contains(&name) {
                i += 1;
                name = match base.rsplit_once('.') {
                    Some((stem, ext)) => format!("{stem}-{i}.{ext}"),
                    None => format!("{base}-{i}"),
                };
            }
            names.push(name.clone());
            name
        };
        let mut count = 0u64;
        for (index, part) in message.parts.iter().enumerate() {
            use mail_parser::{MimeHeaders, PartType};
            if index == 0 && matches!(part.body, PartType::Multipart(_)) {
                continue;
            }
            let attachment =
                part.attachment_name().map(|n| n.rsplit(['/', '\\']).next().unwrap_or(n).to_string());
            let (name, bytes, html): (String, &[u8], bool) = match &part.body {
                PartType::Multipart(_) => continue,
                PartType::Text(t) => (attachment.unwrap_or_else(|| "body.txt".into()), t.as_bytes(), false),
                PartType::Html(t) => (attachment.unwrap_or_else(|| "body.html".into()), t.as_bytes(), true),
                PartType::Binary(b) | PartType::InlineBinary(b) => {
                    (attachment.unwrap_or_else(|| format!("attachment-{index}")), b.as_ref(), false)
                }
                PartType::Message(m) => {
                    (attachment.unwrap_or_else(|| format!("message-{index}.eml")), m.raw_message(), false)
                }
            };
            count += 1;
            if count > self.ex.limits.max_entries {
                return self.entries_limit();
            }
            let name = unique(name);
            let flow = if html {
                self.path.push(name);
                let mut filtered = super::decode::Filtered::new(bytes, super::markup::Html::default());
                let flow = self.text(&mut filtered, Kind::Html, None);
                self.path.pop();
                flow
            } else {
                self.member(&mut &bytes[..], name, depth + 1, None)
            };
            if flow == Flow::Stop {
                return flow;
            }
        }
        Flow::Continue
    }
}
