//! Policies: which objects to act on, and how. A TOML file of rules, checked whole before
//! any object is touched; the first rule that matches an object decides its actions.
//!
//! ```toml
//! [quarantine]
//! location = "s3://dlp-quarantine/held"
//!
//! [alert]
//! jsonl = "alerts.jsonl"
//!
//! [[rules]]
//! name = "keys-in-deploy"
//! scope = ["s3://*/deploy/**"]
//! info_types = ["PRIVATE_KEY"]
//! actions = ["alert", "delete"]
//!
//! [[rules]]
//! name = "cards"
//! categories = ["PCI"]
//! min_likelihood = "LIKELY"
//! actions = ["alert", "quarantine"]
//! ```

use crate::config::parse_size;
use anyhow::{anyhow, bail, Context, Result};
use chrono::{DateTime, Utc};
use dlp_core::{Category, Likelihood};
use globset::GlobMatcher;
use serde::Deserialize;
use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, HashSet};
use std::path::Path;
use std::time::Duration;

/// What an action does to an object.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Action {
    /// Send an alert to every configured sink.
    Alert,
    /// Mark the object's classification in its tags (S3, Azure) or metadata (GCS).
    Tag,
    /// Write a copy with every finding replaced by `[INFO_TYPE]` (plain-text objects).
    Redact,
    /// Move to the quarantine location (copy, verify, delete if unchanged).
    Quarantine,
    /// Delete (only with `--allow-delete`; only if unchanged since the scan).
    Delete,
}

impl Action {
    pub fn name(self) -> &'static str {
        match self {
            Action::Alert => "alert",
            Action::Tag => "tag",
            Action::Redact => "redact",
            Action::Quarantine => "quarantine",
            Action::Delete => "delete",
        }
    }

    fn parse(s: &str) -> Option<Action> {
        [Action::Alert, Action::Tag, Action::Redact, Action::Quarantine, Action::Delete]
            .into_iter()
            .find(|a| a.name() == s)
    }
}

/// Where alerts go.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AlertConfig {
    /// A JSON Lines file alerts are appended to; `-` for stdout.
    pub jsonl: Option<String>,
    pub webhook: Option<WebhookConfig>,
    pub slack: Option<SlackConfig>,
    pub sqs: Option<SqsConfig>,
    pub sns: Option<SnsConfig>,
}

/// An SQS queue: each alert is one message (its body the alert's JSON). Credentials and
/// endpoint as for S3 (`AWS_*`, profiles; `AWS_ENDPOINT_URL_SQS`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SqsConfig {
    pub queue_url: String,
}

/// An SNS topic: each alert is published as one message. `AWS_ENDPOINT_URL_SNS` (or
/// `AWS_ENDPOINT_URL`) for another endpoint.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SnsConfig {
    pub topic_arn: String,
}

/// A webhook: each alert is POSTed as JSON, signed with HMAC-SHA256 of the body in the
/// `X-DLP-Signature: sha256=<hex>` header when a secret is set.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebhookConfig {
    pub url: String,
    /// The environment variable holding the signing secret (never the secret itself).
    pub secret_env: Option<String>,
    /// Seconds per attempt.
    #[serde(default = "default_timeout")]
    pub timeout: f64,
    /// Attempts after the first, with exponential backoff.
    #[serde(default = "default_retries")]
    pub retries: u32,
}

/// A Slack incoming webhook; its URL is a secret, so it is read from the environment.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SlackConfig {
    pub url_env: String,
    #[serde(default = "default_timeout")]
    pub timeout: f64,
    #[serde(default = "default_retries")]
    pub retries: u32,
}

fn default_timeout() -> f64 {
    10.0
}
fn default_retries() -> u32 {
    4
}

/// Where quarantined objects go.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QuarantineConfig {
    /// A bucket URL (`s3://b/prefix`, `az://c/prefix`, `gs://b/prefix`); an object
    /// `s3://src/a/b.txt` goes to `<location>/s3/src/a/b.txt`.
    pub location: String,
}

/// Where `redact` writes.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RedactConfig {
    /// `beside` (default): the copy is `<key><suffix>` next to the original; `replace`: the
    /// original is overwritten, only if unchanged since the scan.
    #[serde(default = "default_redact_mode")]
    pub mode: String,
    #[serde(default = "default_redact_suffix")]
    pub suffix: String,
    /// Largest object redacted (it is read into memory); larger ones are skipped.
    #[serde(default = "default_redact_max")]
    pub max_size: String,
}

impl Default for RedactConfig {
    fn default() -> Self {
        RedactConfig {
            mode: default_redact_mode(),
            suffix: default_redact_suffix(),
            max_size: default_redact_max(),
        }
    }
}

fn default_redact_mode() -> String {
    "beside".into()
}
fn default_redact_suffix() -> String {
    ".redacted".into()
}
fn default_redact_max() -> String {
    "64M".into()
}

/// Names of the tags written by `tag`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TagConfig {
    #[serde(default = "default_class_key")]
    pub classification_key: String,
    #[serde(default = "default_types_key")]
    pub info_types_key: String,
}

impl Default for TagConfig {
    fn default() -> Self {
        TagConfig { classification_key: default_class_key(), info_types_key: default_types_key() }
    }
}

fn default_class_key() -> String {
    "dlp-classification".into()
}
fn default_types_key() -> String {
    "dlp-info-types".into()
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct PolicyFile {
    #[serde(default)]
    alert: Option<AlertConfig>,
    #[serde(default)]
    quarantine: Option<QuarantineConfig>,
    #[serde(default)]
    tag: Option<TagConfig>,
    #[serde(default)]
    redact: Option<RedactConfig>,
    #[serde(default)]
    rules: Vec<toml::Spanned<RuleFile>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RuleFile {
    name: String,
    #[serde(default)]
    scope: Vec<String>,
    #[serde(default)]
    info_types: Vec<String>,
    #[serde(default)]
    categories: Vec<String>,
    min_likelihood: Option<String>,
    min_count: Option<u64>,
    min_size: Option<String>,
    max_size: Option<String>,
    #[serde(default)]
    content_types: Vec<String>,
    min_age: Option<String>,
    max_age: Option<String>,
    classification: Option<String>,
    actions: Vec<String>,
}

/// One rule, validated.
#[derive(Debug)]
pub struct Rule {
    pub name: String,
    scope: Vec<GlobMatcher>,
    info_types: HashSet<String>,
    categories: HashSet<Category>,
    min_likelihood: Likelihood,
    min_count: u64,
    min_size: Option<u64>,
    max_size: Option<u64>,
    content_types: Vec<GlobMatcher>,
    min_age: Option<Duration>,
    max_age: Option<Duration>,
    /// The `dlp-classification` tag value.
    pub classification: String,
    pub actions: Vec<Action>,
}

/// A validated policy.
#[derive(Debug)]
pub struct Policy {
    pub rules: Vec<Rule>,
    pub alert: AlertConfig,
    pub quarantine: Option<QuarantineConfig>,
    pub tag: TagConfig,
    pub redact: RedactConfig,
    /// Largest object `redact` reads, from `[redact] max_size`.
    pub redact_max: u64,
    /// SHA-256 of the file, recorded with each run.
    pub hash: String,
}

/// What is known of a scanned object when the policy is applied.
#[derive(Debug, Default)]
pub struct ObjectFacts {
    /// The object's URL or path (what `scope` globs match).
    pub url: String,
    pub size: Option<u64>,
    pub content_type: Option<String>,
    pub last_modified: Option<DateTime<Utc>>,
    /// Findings per info type: its category and the count at each likelihood level.
    pub counts: BTreeMap<String, (Category, [u64; 5])>,
}

/// A rule's decision for one object.
#[derive(Debug, Clone)]
pub struct Decision<'p> {
    pub rule: &'p Rule,
    /// What matched, for the audit log: `CREDIT_CARD_NUMBER x3, EMAIL_ADDRESS x1 (>= LIKELY)`.
    pub reason: String,
    /// Info types that matched, sorted.
    pub info_types: Vec<String>,
}

fn line_of(text: &str, offset: usize) -> usize {
    text[..offset.min(text.len())].bytes().filter(|&b| b == b'\n').count() + 1
}

fn glob(pattern: &str) -> Result<GlobMatcher> {
    Ok(globset::GlobBuilder::new(pattern).literal_separator(true).build()?.compile_matcher())
}

fn parse_age(s: &str) -> Result<Duration> {
    let (num, unit) = s.split_at(s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len()));
    let n: u64 = num.parse().map_err(|_| anyhow!("{s:?} is not an age like 36h, 7d or 2w"))?;
    let secs = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        "w" => 7 * 86_400,
        _ => bail!("{s:?} is not an age like 36h, 7d or 2w"),
    };
    Ok(Duration::from_secs(n.saturating_mul(secs)))
}

impl Policy {
    /// Reads and checks a policy file. `known_info_types`: the loaded detectors' ids.
    pub fn load(path: &Path, known_info_types: &HashSet<String>) -> Result<Policy> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("reading the policy {}", path.display()))?;
        Policy::parse(&text, known_info_types).with_context(|| format!("policy {}", path.display()))
    }

    /// Checks a policy's text; errors name the line.
    pub fn parse(text: &str, known_info_types: &HashSet<String>) -> Result<Policy> {
        let file: PolicyFile = toml::from_str(text).map_err(|e| anyhow!("{}", e.to_string().trim_end()))?;
        if file.rules.is_empty() {
            bail!("no [[rules]]: a policy needs at least one rule");
        }
        let mut rules = Vec::new();
        let mut names = HashSet::new();
        for spanned in file.rules {
            let line = line_of(text, spanned.span().start);
            let r = spanned.into_inner();
            let rule = Policy::rule(r, known_info_types).with_context(|| format!("line {line}: rule"))?;
            if !names.insert(rule.name.clone()) {
                bail!("line {line}: a second rule is named {:?}; rule names must be unique", rule.name);
            }
            for a in &rule.actions {
                let missing = match a {
                    Action::Quarantine if file.quarantine.is_none() => {
                        Some("[quarantine] table with its location")
                    }
                    Action::Alert
                        if file.alert.as_ref().is_none_or(|a| {
                            a.jsonl.is_none()
                                && a.webhook.is_none()
                                && a.slack.is_none()
                                && a.sqs.is_none()
                                && a.sns.is_none()
                        }) =>
                    {
                        Some("[alert] table with jsonl, webhook, slack, sqs or sns")
                    }
                    _ => None,
                };
                if let Some(m) = missing {
                    bail!("line {line}: rule {:?} uses {} but the policy has no {m}", rule.name, a.name());
                }
            }
            rules.push(rule);
        }
        if let Some(q) = &file.quarantine {
            match crate::source::remote::Target::parse(&q.location) {
                Some(Ok(_)) => {}
                Some(Err(e)) => bail!("[quarantine] location: {e}"),
                None => bail!(
                    "[quarantine] location {:?} is not a bucket URL (s3://, gs:// or az://)",
                    q.location
                ),
            }
        }
        let redact = file.redact.unwrap_or_default();
        if redact.mode != "beside" && redact.mode != "replace" {
            bail!("[redact] mode {:?}: expected \"beside\" or \"replace\"", redact.mode);
        }
        if redact.mode == "beside" && redact.suffix.is_empty() {
            bail!("[redact] suffix is empty: the copy would overwrite the original; use mode = \"replace\" for that");
        }
        let redact_max = parse_size(&redact.max_size).map_err(|e| anyhow!("[redact] max_size: {e}"))?;
        if redact.mode == "replace" {
            if let Some(r) = rules.iter().find(|r| {
                r.actions.contains(&Action::Redact)
                    && r.actions.iter().any(|a| matches!(a, Action::Quarantine | Action::Delete))
            }) {
                bail!(
                    "rule {:?} redacts in place (mode = \"replace\") and also removes the object; choose one",
                    r.name
                );
            }
        }
        if let Some(w) = file.alert.as_ref().and_then(|a| a.webhook.as_ref()) {
            if !(w.url.starts_with("http://") || w.url.starts_with("https://")) {
                bail!("[alert.webhook] url {:?} is not an http(s) URL", w.url);
            }
            if !(w.timeout.is_finite() && w.timeout > 0.0 && w.timeout <= 3600.0) {
                bail!("[alert.webhook] timeout must be a number of seconds between 0 and 3600");
            }
        }
        if let Some(w) = file.alert.as_ref().and_then(|a| a.slack.as_ref()) {
            if !(w.timeout.is_finite() && w.timeout > 0.0 && w.timeout <= 3600.0) {
                bail!("[alert.slack] timeout must be a number of seconds between 0 and 3600");
            }
        }
        if let Some(q) = file.alert.as_ref().and_then(|a| a.sqs.as_ref()) {
            if !(q.queue_url.starts_with("http://") || q.queue_url.starts_with("https://")) {
                bail!("[alert.sqs] queue_url {:?} is not a queue URL (https://sqs.REGION.amazonaws.com/ACCOUNT/NAME)", q.queue_url);
            }
        }
        if let Some(t) = file.alert.as_ref().and_then(|a| a.sns.as_ref()) {
            if t.topic_arn.split(':').count() != 6 || !t.topic_arn.starts_with("arn:") {
                bail!(
                    "[alert.sns] topic_arn {:?} is not a topic ARN (arn:aws:sns:REGION:ACCOUNT:NAME)",
                    t.topic_arn
                );
            }
        }
        Ok(Policy {
            rules,
            alert: file.alert.unwrap_or_default(),
            quarantine: file.quarantine,
            tag: file.tag.unwrap_or_default(),
            redact,
            redact_max,
            hash: hex::encode(Sha256::digest(text.as_bytes())),
        })
    }

    fn rule(r: RuleFile, known: &HashSet<String>) -> Result<Rule> {
        let name = r.name;
        if name.trim().is_empty() {
            bail!("name is empty");
        }
        let ctx = |what: &str| format!("{name:?}: {what}");
        let scope =
            r.scope.iter().map(|g| glob(g)).collect::<Result<Vec<_>>>().with_context(|| ctx("scope"))?;
        for t in &r.info_types {
            if !known.contains(t) {
                bail!("{}", ctx(&format!("unknown info type {t:?} (see `dlp-worker detectors list`)")));
            }
        }
        let categories = r
            .categories
            .iter()
            .map(|c| {
                serde_json::from_value::<Category>(serde_json::Value::String(c.to_ascii_uppercase())).map_err(|_| {
                    anyhow!(ctx(&format!(
                        "unknown category {c:?}; expected PII, PCI, PHI, FINANCIAL, GOVERNMENT_ID, CREDENTIAL or NETWORK"
                    )))
                })
            })
            .collect::<Result<HashSet<_>>>()?;
        let min_likelihood = match &r.min_likelihood {
            Some(l) => l.parse::<Likelihood>().map_err(|e| anyhow!(ctx(&e)))?,
            None => Likelihood::Possible,
        };
        let size = |s: &Option<String>, what: &str| -> Result<Option<u64>> {
            s.as_deref().map(|v| parse_size(v).map_err(|e| anyhow!(ctx(&format!("{what}: {e}"))))).transpose()
        };
        let age = |s: &Option<String>, what: &str| -> Result<Option<Duration>> {
            s.as_deref().map(|v| parse_age(v).with_context(|| ctx(what))).transpose()
        };
        if r.actions.is_empty() {
            bail!("{}", ctx("actions is empty: list at least one of alert, tag, redact, quarantine, delete"));
        }
        let mut actions = Vec::new();
        for a in &r.actions {
            match Action::parse(a) {
                Some(a) if !actions.contains(&a) => actions.push(a),
                Some(_) => {}
                None => bail!(
                    "{}",
                    ctx(&format!("unknown action {a:?}; expected alert, tag, redact, quarantine or delete"))
                ),
            }
        }
        let moves = actions.iter().filter(|a| matches!(a, Action::Quarantine | Action::Delete)).count();
        if moves > 1 {
            bail!("{}", ctx("quarantine and delete both remove the object; choose one"));
        }
        // Alerts and tags first, then a redacted copy, then what removes the original.
        actions.sort();
        let content_types = r
            .content_types
            .iter()
            .map(|g| glob(g))
            .collect::<Result<Vec<_>>>()
            .with_context(|| ctx("content_types"))?;
        Ok(Rule {
            scope,
            info_types: r.info_types.into_iter().collect(),
            categories,
            min_likelihood,
            min_count: r.min_count.unwrap_or(1).max(1),
            min_size: size(&r.min_size, "min_size")?,
            max_size: size(&r.max_size, "max_size")?,
            content_types,
            min_age: age(&r.min_age, "min_age")?,
            max_age: age(&r.max_age, "max_age")?,
            classification: r.classification.unwrap_or_else(|| "CONFIDENTIAL".into()),
            actions,
            name,
        })
    }

    /// The first rule that matches the object, if any.
    pub fn decide(&self, facts: &ObjectFacts, now: DateTime<Utc>) -> Option<Decision<'_>> {
        self.rules.iter().find_map(|r| r.decide(facts, now))
    }
}

impl Rule {
    fn decide(&self, o: &ObjectFacts, now: DateTime<Utc>) -> Option<Decision<'_>> {
        if !self.scope.is_empty() && !self.scope.iter().any(|g| g.is_match(&o.url)) {
            return None;
        }
        let size_ok = |limit: Option<u64>, ok: fn(u64, u64) -> bool| match (limit, o.size) {
            (None, _) => true,
            (Some(l), Some(s)) => ok(s, l),
            (Some(_), None) => false,
        };
        if !size_ok(self.min_size, |s, l| s >= l) || !size_ok(self.max_size, |s, l| s <= l) {
            return None;
        }
        if !self.content_types.is_empty() {
            let ct = o.content_type.as_deref().map(|c| c.split(';').next().unwrap_or(c).trim());
            if !ct.is_some_and(|ct| self.content_types.iter().any(|g| g.is_match(ct))) {
                return None;
            }
        }
        if self.min_age.is_some() || self.max_age.is_some() {
            let age = o.last_modified.map(|t| (now - t).to_std().unwrap_or_default())?;
            if self.min_age.is_some_and(|m| age < m) || self.max_age.is_some_and(|m| age > m) {
                return None;
            }
        }
        let any_type = self.info_types.is_empty() && self.categories.is_empty();
        let mut total = 0;
        let mut parts = Vec::new();
        let mut types = Vec::new();
        for (t, (cat, by_level)) in &o.counts {
            if !(any_type || self.info_types.contains(t) || self.categories.contains(cat)) {
                continue;
            }
            let n: u64 = by_level[self.min_likelihood as usize..].iter().sum();
            if n > 0 {
                total += n;
                parts.push(format!("{t} x{n}"));
                types.push(t.clone());
            }
        }
        if total < self.min_count || total == 0 {
            return None;
        }
        Some(Decision {
            rule: self,
            reason: format!("{} (>= {})", parts.join(", "), self.min_likelihood),
            info_types: types,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn known() -> HashSet<String> {
        ["CREDIT_CARD_NUMBER", "EMAIL_ADDRESS", "PRIVATE_KEY"].iter().map(|s| s.to_string()).collect()
    }

    fn facts(url: &str, types: &[(&str, Category, Likelihood, u64)]) -> ObjectFacts {
        let mut counts = BTreeMap::new();
        for &(t, c, l, n) in types {
            let e = counts.entry(t.to_string()).or_insert((c, [0; 5]));
            e.1[l as usize] += n;
        }
        ObjectFacts { url: url.into(), size: Some(100), counts, ..Default::default() }
    }

    const POLICY: &str = r#"
[quarantine]
location = "s3://quar/held"
[alert]
jsonl = "a.jsonl"

[[rules]]
name = "keys"
scope = ["s3://*/deploy/**"]
info_types = ["PRIVATE_KEY"]
actions = ["delete", "alert"]

[[rules]]
name = "cards"
categories = ["PCI"]
min_likelihood = "LIKELY"
actions = ["quarantine"]

[[rules]]
name = "emails"
info_types = ["EMAIL_ADDRESS"]
min_count = 2
actions = ["tag"]
"#;

    #[test]
    fn first_matching_rule_wins() {
        let p = Policy::parse(POLICY, &known()).unwrap();
        let now = Utc::now();
        let key = facts(
            "s3://b/deploy/id_rsa",
            &[("PRIVATE_KEY", Category::Credential, Likelihood::VeryLikely, 1)],
        );
        let d = p.decide(&key, now).unwrap();
        assert_eq!(d.rule.name, "keys");
        assert_eq!(d.rule.actions, vec![Action::Alert, Action::Delete]);
        // Outside the scope the key rule does not apply, and no other rule matches.
        let key =
            facts("s3://b/other/id_rsa", &[("PRIVATE_KEY", Category::Credential, Likelihood::VeryLikely, 1)]);
        assert!(p.decide(&key, now).is_none());
        // A card below LIKELY does not count; with an email pair the third rule applies.
        let mixed = facts(
            "s3://b/x.csv",
            &[
                ("CREDIT_CARD_NUMBER", Category::Pci, Likelihood::Possible, 5),
                ("EMAIL_ADDRESS", Category::Pii, Likelihood::Likely, 2),
            ],
        );
        let d = p.decide(&mixed, now).unwrap();
        assert_eq!(d.rule.name, "emails");
        assert_eq!(d.reason, "EMAIL_ADDRESS x2 (>= POSSIBLE)");
        let card = facts("s3://b/x.csv", &[("CREDIT_CARD_NUMBER", Category::Pci, Likelihood::VeryLikely, 1)]);
        assert_eq!(p.decide(&card, now).unwrap().rule.name, "cards");
        let one_email = facts("s3://b/x.csv", &[("EMAIL_ADDRESS", Category::Pii, Likelihood::Likely, 1)]);
        assert!(p.decide(&one_email, now).is_none());
    }

    #[test]
    fn attributes_restrict_rules() {
        let text = r#"
[alert]
jsonl = "-"
[[rules]]
name = "old-big-text"
min_size = "1K"
content_types = ["text/*"]
min_age = "7d"
actions = ["alert"]
"#;
        let p = Policy::parse(text, &known()).unwrap();
        let now = Utc::now();
        let mut f = facts("s3://b/k", &[("EMAIL_ADDRESS", Category::Pii, Likelihood::Likely, 1)]);
        f.size = Some(4096);
        f.content_type = Some("text/csv; charset=utf-8".into());
        f.last_modified = Some(now - chrono::Duration::days(8));
        assert!(p.decide(&f, now).is_some());
        f.last_modified = Some(now - chrono::Duration::days(6));
        assert!(p.decide(&f, now).is_none());
        f.last_modified = Some(now - chrono::Duration::days(8));
        f.content_type = Some("application/pdf".into());
        assert!(p.decide(&f, now).is_none());
        f.content_type = Some("text/plain".into());
        f.size = Some(10);
        assert!(p.decide(&f, now).is_none());
    }

    #[test]
    fn errors_name_the_line_and_the_problem() {
        let err = |text: &str| format!("{:#}", Policy::parse(text, &known()).unwrap_err());
        let e = err("[[rules]]\nname = \"a\"\nactions = [\"tag\"]\n\n[[rules]]\nname = \"b\"\ninfo_types = [\"NOPE\"]\nactions = [\"tag\"]\n");
        assert!(e.contains("line 5") && e.contains("unknown info type \"NOPE\""), "{e}");
        let e = err("[[rules]]\nname = \"a\"\nactions = [\"alert\"]\n");
        assert!(e.contains("line 1") && e.contains("[alert] table"), "{e}");
        let e = err("[[rules]]\nname = \"a\"\nactoins = [\"tag\"]\n");
        assert!(e.contains("line 3") && e.contains("actoins"), "{e}");
        let e = err("[[rules]]\nname = \"a\"\nactions = [\"quarantine\"]\n");
        assert!(e.contains("[quarantine]"), "{e}");
        let e = err("[[rules]]\nname = \"a\"\nactions = [\"quarantine\", \"delete\"]\n[quarantine]\nlocation = \"s3://quar\"\n");
        assert!(e.contains("choose one"), "{e}");
        let e = err("[[rules]]\nname = \"a\"\nmin_likelihood = \"SURE\"\nactions = [\"tag\"]\n");
        assert!(e.contains("unknown likelihood"), "{e}");
        let e = err("[[rules]]\nname = \"a\"\nscope = [\"s3://[\"]\nactions = [\"tag\"]\n");
        assert!(e.contains("scope"), "{e}");
        let e =
            err("[quarantine]\nlocation = \"/tmp/q\"\n[[rules]]\nname = \"a\"\nactions = [\"quarantine\"]\n");
        assert!(e.contains("not a bucket URL"), "{e}");
        assert!(err("").contains("no [[rules]]"));
    }
}
