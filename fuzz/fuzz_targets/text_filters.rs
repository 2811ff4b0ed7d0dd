//! Text decoding, HTML and RTF filters: no panic on any input, and the same output however
//! the input is split into reads (the first byte picks the split size).
#![no_main]
use dlp_core::extract::decode::{Filter, TextEncoding};
use dlp_core::extract::markup::{Html, Rtf};
use libfuzzer_sys::fuzz_target;

fn run(mut f: impl Filter, input: &[u8], split: usize) -> Vec<u8> {
    let mut out = Vec::new();
    for part in input.chunks(split.max(1)) {
        f.feed(part, &mut out);
    }
    f.finish(&mut out);
    out
}

fuzz_target!(|data: &[u8]| {
    let Some((&first, input)) = data.split_first() else { return };
    let split = usize::from(first % 17) + 1;
    let enc = TextEncoding::detect(input);
    let whole = run(enc.filter(), input, input.len());
    assert_eq!(whole, run(enc.filter(), input, split), "{enc:?} depends on read sizes");
    if enc == TextEncoding::Binary {
        assert_eq!(whole.len(), input.len(), "printable runs keep offsets");
    }
    assert_eq!(run(Html::default(), input, input.len()), run(Html::default(), input, split), "HTML");
    assert_eq!(run(Rtf::default(), input, input.len()), run(Rtf::default(), input, split), "RTF");
});
