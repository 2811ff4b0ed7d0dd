//! Redaction: a form of a value that people can recognise but that does not disclose it.

use crate::detector::Category;

/// Masks a value for display.
///
/// Credentials keep at most their first four bytes (the public prefix such as `AKIA` or
/// `ghp_`) when the value is at least 16 bytes long, followed by `****`; nothing of the
/// secret's length is shown. Other values keep their separators and at most the last four
/// alphanumeric bytes when they have at least eight (`***-**-6789`), and are fully masked
/// otherwise. Non-ASCII bytes are masked.
pub fn redact(category: Category, value: &[u8]) -> String {
    if category == Category::Credential {
        let keep = if value.len() >= 16 { 4 } else { 0 };
        let prefix: String =
            value[..keep].iter().map(|&b| if b.is_ascii_graphic() { char::from(b) } else { '*' }).collect();
        return format!("{prefix}****");
    }
    let alnum = value.iter().filter(|b| b.is_ascii_alphanumeric()).count();
    let show = if alnum >= 8 { 4 } else { 0 };
    let mut seen = 0;
    value
        .iter()
        .map(|&b| {
            if b.is_ascii_alphanumeric() {
                seen += 1;
                if seen > alnum - show {
                    char::from(b)
                } else {
                    '*'
                }
            } else if b.is_ascii_punctuation() || b == b' ' {
                char::from(b)
            } else {
                '*'
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identifiers_keep_separators_and_last_four() {
        assert_eq!(redact(Category::GovernmentId, b"123-45-6789"), "***-**-6789");
        assert_eq!(redact(Category::Pci, b"4539 1488 0343 6467"), "**** **** **** 6467");
        assert_eq!(redact(Category::Pii, b"jo@ex.io"), "**@**.**");
        assert_eq!(redact(Category::Pii, b"jane@example.org"), "****@******e.org");
        assert_eq!(redact(Category::Pii, b"a@b.c"), "*@*.*");
    }

    #[test]
    fn credentials_keep_only_a_short_prefix() {
        assert_eq!(redact(Category::Credential, b"AKIAQWERTYUIOPASDFGH"), "AKIA****");
        assert_eq!(redact(Category::Credential, b"hunter2"), "****");
    }

    #[test]
    fn non_ascii_is_masked() {
        assert_eq!(redact(Category::Pii, "é1234567890".as_bytes()), "********7890");
    }
}
