//! Engine throughput over the generated mixed corpus (code, JSON logs, CSV dense with
//! numbers, prose, base64, sparse PII and secrets), with a plain pass over the same bytes as
//! the baseline in the same run. Criterion reports bytes per second for one core.
//!
//! The corpus is made by `python3 corpora/generate.py mixed corpora/generated/mixed`
//! (seeded); this bench makes it if it is missing. `DLP_BENCH_CORPUS=DIR` scans another.

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use dlp_core::{Engine, Scanner};
use std::hint::black_box;
use std::time::Duration;

use dlp_benches::read_every_byte;

/// The 48 detectors of the first release (commit e7129fe), with today's definitions: the
/// "starter set" that the cost of the full library's breadth is measured against.
const STARTER_SET: [&str; 48] = [
    "EMAIL_ADDRESS",
    "PHONE_NUMBER",
    "DATE_OF_BIRTH",
    "AWS_CREDENTIALS",
    "AWS_SECRET_ACCESS_KEY",
    "GCP_API_KEY",
    "GCP_CREDENTIALS",
    "GOOGLE_OAUTH_CLIENT_SECRET",
    "AZURE_STORAGE_KEY",
    "AZURE_SAS_TOKEN",
    "AZURE_CLIENT_SECRET",
    "GITHUB_TOKEN",
    "GITLAB_TOKEN",
    "NPM_TOKEN",
    "PYPI_TOKEN",
    "DOCKERHUB_TOKEN",
    "SLACK_TOKEN",
    "SLACK_WEBHOOK_URL",
    "STRIPE_API_KEY",
    "STRIPE_TEST_API_KEY",
    "STRIPE_WEBHOOK_SECRET",
    "SENDGRID_API_KEY",
    "TWILIO_API_KEY",
    "MAILGUN_API_KEY",
    "HEROKU_API_KEY",
    "SHOPIFY_TOKEN",
    "OPENAI_API_KEY",
    "ANTHROPIC_API_KEY",
    "HASHICORP_VAULT_TOKEN",
    "JSON_WEB_TOKEN",
    "PASSWORD",
    "DATABASE_URL_WITH_PASSWORD",
    "BASIC_AUTH_URL",
    "US_SOCIAL_SECURITY_NUMBER",
    "US_INDIVIDUAL_TAXPAYER_IDENTIFICATION_NUMBER",
    "US_EMPLOYER_IDENTIFICATION_NUMBER",
    "PASSPORT",
    "CANADA_SOCIAL_INSURANCE_NUMBER",
    "UK_NATIONAL_INSURANCE_NUMBER",
    "PRIVATE_KEY",
    "AGE_SECRET_KEY",
    "IP_ADDRESS",
    "MAC_ADDRESS",
    "IMEI_HARDWARE_ID",
    "CREDIT_CARD_NUMBER",
    "CREDIT_CARD_TRACK_NUMBER",
    "IBAN_CODE",
    "SWIFT_CODE",
];

fn engine(c: &mut Criterion) {
    let files: Vec<Vec<u8>> = dlp_benches::mixed().into_iter().map(|(_, b)| b).collect();
    let total: usize = files.iter().map(Vec::len).sum();
    assert!(total >= 50 << 20, "corpus is only {total} bytes");
    let scanner = Scanner::builder().builtin().expect("builtin detectors").build().expect("compile");
    let starter = Scanner::builder()
        .builtin()
        .expect("builtin detectors")
        .retain(|id| STARTER_SET.contains(&id))
        .build()
        .expect("compile");
    assert_eq!(starter.detectors().len(), STARTER_SET.len(), "a starter-set id was renamed");
    let mut g = c.benchmark_group("mixed-corpus");
    g.throughput(Throughput::Bytes(total as u64));
    g.sample_size(10);
    g.measurement_time(Duration::from_secs(20));
    g.warm_up_time(Duration::from_secs(2));
    g.bench_function("baseline: read every byte (count newlines)", |b| {
        b.iter(|| files.iter().map(|f| read_every_byte(black_box(f))).sum::<usize>())
    });
    g.bench_function("dlp-core scan_bytes, starter set (48 detectors)", |b| {
        b.iter(|| files.iter().map(|f| starter.scan_bytes(black_box(f)).len()).sum::<usize>())
    });
    g.bench_function("dlp-core scan_bytes, all builtin detectors", |b| {
        b.iter(|| files.iter().map(|f| scanner.scan_bytes(black_box(f)).len()).sum::<usize>())
    });
    if let Some(hs) = hyperscan() {
        g.bench_function("dlp-core scan_bytes, all builtin detectors, hyperscan engine", |b| {
            b.iter(|| files.iter().map(|f| hs.scan_bytes(black_box(f)).len()).sum::<usize>())
        });
    }
    g.bench_function("dlp-core scan_reader (1 MiB chunks), all builtin detectors", |b| {
        b.iter(|| {
            let mut n = 0usize;
            for f in &files {
                scanner.scan_reader(black_box(&f[..]), |_| n += 1).expect("in-memory read");
            }
            n
        })
    });
    g.finish();
}

/// Each corpus kind alone (code, JSON logs, CSV, prose, base64, PII-dense): the plain pass
/// and the full library, so a table can give each kind's rate and its ratio to reading it.
fn kinds(c: &mut Criterion) {
    let scanner = Scanner::builder().builtin().expect("builtin detectors").build().expect("compile");
    let hs = hyperscan();
    for (kind, files) in dlp_benches::kinds() {
        let total: usize = files.iter().map(Vec::len).sum();
        let mut g = c.benchmark_group(format!("kind/{kind}"));
        g.throughput(Throughput::Bytes(total as u64));
        g.sample_size(10);
        g.measurement_time(Duration::from_secs(8));
        g.warm_up_time(Duration::from_secs(1));
        g.bench_function("baseline: read every byte", |b| {
            b.iter(|| files.iter().map(|f| read_every_byte(black_box(f))).sum::<usize>())
        });
        g.bench_function("all builtin detectors", |b| {
            b.iter(|| files.iter().map(|f| scanner.scan_bytes(black_box(f)).len()).sum::<usize>())
        });
        if let Some(hs) = &hs {
            g.bench_function("all builtin detectors, hyperscan engine", |b| {
                b.iter(|| files.iter().map(|f| hs.scan_bytes(black_box(f)).len()).sum::<usize>())
            });
        }
        g.finish();
    }
}

/// The full library on the Hyperscan engine, in builds with `--features hyperscan`.
fn hyperscan() -> Option<Scanner> {
    Engine::HYPERSCAN_BUILT.then(|| {
        Scanner::builder()
            .builtin()
            .expect("builtin detectors")
            .engine(Engine::Hyperscan)
            .build()
            .expect("compile")
    })
}

criterion_group!(benches, engine, kinds);
criterion_main!(benches);
