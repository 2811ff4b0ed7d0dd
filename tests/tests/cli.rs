//! End-to-end tests of `dlp-worker scan` and `dlp-worker detectors` on local data.

use dlp_tests::{jsonl, root, run, TempDir};
use serde_json::Value;
use std::collections::BTreeSet;
use std::fs;

fn code(out: &std::process::Output) -> i32 {
    out.status.code().expect("exited normally, not by a signal")
}

fn stderr(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// (file, line, info type) rows from the `### \`file\`` tables of corpora/demo/EXPECTED.md.
fn expected_demo() -> BTreeSet<(String, u64, String)> {
    let text = fs::read_to_string(root().join("corpora/demo/EXPECTED.md")).unwrap();
    let mut file = None;
    let mut rows = BTreeSet::new();
    for line in text.lines() {
        if let Some(f) = line.strip_prefix("### `").and_then(|l| l.strip_suffix('`')) {
            file = Some(f.to_string());
        } else if let (Some(f), Some(row)) = (&file, line.strip_prefix("| ")) {
            // "| 7 | TYPE | ..." or a range of lines "| 2-25 | TYPE | ..."
            let cells: Vec<&str> = row.split(" | ").collect();
            let (a, b) = cells[0].trim().split_once('-').unwrap_or((cells[0].trim(), cells[0].trim()));
            if let (Ok(a), Ok(b)) = (a.parse::<u64>(), b.parse::<u64>()) {
                for n in a..=b {
                    rows.insert((f.clone(), n, cells[1].trim().to_string()));
                }
            }
        }
    }
    rows
}

#[test]
fn demo_scan_reports_exactly_the_labelled_values() {
    let home = TempDir::new("demo");
    let out = run(home.path(), &["scan", "corpora/demo", "--format", "jsonl"], b"");
    assert_eq!(code(&out), 1, "{}", stderr(&out));
    let got: BTreeSet<(String, u64, String)> = jsonl(&out)
        .iter()
        .map(|f| {
            let obj = f["object"].as_str().unwrap().strip_prefix("corpora/demo/").unwrap().to_string();
            (obj, f["location"]["line"].as_u64().unwrap(), f["info_type"].as_str().unwrap().to_string())
        })
        .collect();
    let want = expected_demo();
    assert!(want.len() > 100, "EXPECTED.md parsed to {} rows", want.len());
    assert_eq!(got, want);
    assert!(stderr(&out).contains("scanned 8 objects"), "{}", stderr(&out));
    // stderr is a pipe here: no progress bar, only the coverage summary.
    assert!(stderr(&out).lines().all(|l| l.starts_with("dlp-worker: ")), "{}", stderr(&out));
}

#[test]
fn findings_follow_the_schema_and_hold_no_raw_values_by_default() {
    let home = TempDir::new("schema");
    let plain = run(home.path(), &["scan", "corpora/demo"], b"");
    let quoted = run(home.path(), &["scan", "corpora/demo", "--include-quote"], b"");
    assert_eq!((code(&plain), code(&quoted)), (1, 1));
    let plain_text = String::from_utf8_lossy(&plain.stdout).into_owned() + &stderr(&plain);
    let keys = [
        "category",
        "fingerprint",
        "info_type",
        "likelihood",
        "location",
        "object",
        "redacted",
        "subtype",
        "test_value",
        "version",
    ];
    let loc_keys = ["byte_end", "byte_start", "column", "line", "page", "path", "row"];
    for f in jsonl(&plain) {
        let mut k: Vec<&str> = f.as_object().unwrap().keys().map(|s| s.as_str()).collect();
        k.sort();
        assert_eq!(k, keys);
        let mut k: Vec<&str> = f["location"].as_object().unwrap().keys().map(|s| s.as_str()).collect();
        k.sort();
        assert_eq!(k, loc_keys);
        assert_eq!(f["fingerprint"].as_str().unwrap().len(), 64);
        // Validators that tell a kind name it: card brands, phone regions; others say null.
        let subtype = f["subtype"].as_str();
        match f["info_type"].as_str().unwrap() {
            "CREDIT_CARD_NUMBER" => {
                assert!(matches!(subtype, Some("VISA" | "MASTERCARD" | "AMEX" | "DISCOVER")))
            }
            "PHONE_NUMBER" => assert_eq!(subtype, Some("US")),
            _ => assert_eq!(subtype, None),
        }
    }
    let quoted = jsonl(&quoted);
    assert_eq!(quoted.len(), jsonl(&plain).len());
    for f in &quoted {
        let q = f["quote"].as_str().expect("quote with --include-quote");
        // The quote is exactly the bytes at the reported offsets.
        let bytes = fs::read(root().join(f["object"].as_str().unwrap())).unwrap();
        let (s, e) =
            (f["location"]["byte_start"].as_u64().unwrap(), f["location"]["byte_end"].as_u64().unwrap());
        assert_eq!(q.as_bytes(), &bytes[s as usize..e as usize]);
        if q.len() >= 6 {
            assert!(
                !plain_text.contains(q),
                "raw value of {} leaked without --include-quote",
                f["info_type"]
            );
        }
    }
}

#[test]
fn fingerprints_are_stable_per_installation_key() {
    let home = TempDir::new("fp");
    let a = jsonl(&run(home.path(), &["scan", "corpora/demo/app"], b""));
    let b = jsonl(&run(home.path(), &["scan", "corpora/demo/app"], b""));
    let other = TempDir::new("fp-other");
    let c = jsonl(&run(other.path(), &["scan", "corpora/demo/app"], b""));
    let fps = |v: &[Value]| {
        v.iter().map(|f| f["fingerprint"].as_str().unwrap().to_string()).collect::<BTreeSet<_>>()
    };
    assert_eq!(fps(&a), fps(&b));
    assert!(fps(&a).is_disjoint(&fps(&c)));
    let key = fs::read_to_string(home.path().join("dlp-worker/fingerprint.key")).unwrap();
    assert_eq!(key.trim().len(), 64);
}

#[test]
fn stdin_is_scanned_and_named() {
    let home = TempDir::new("stdin");
    let out = run(home.path(), &["scan", "-"], b"ssn 536-22-8726\nnothing else\n");
    assert_eq!(code(&out), 1);
    let f = jsonl(&out);
    assert_eq!(f.len(), 1);
    assert_eq!(f[0]["object"], "stdin");
    assert_eq!(f[0]["info_type"], "US_SOCIAL_SECURITY_NUMBER");
    assert_eq!(f[0]["redacted"], "***-**-8726");
    assert_eq!(f[0]["location"]["line"], 1);
}

#[test]
fn clean_input_exits_zero() {
    let home = TempDir::new("clean");
    let out = run(home.path(), &["scan", "corpora/demo/README.txt"], b"");
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert!(out.stdout.is_empty());
    let out = run(home.path(), &["scan", "-"], b"");
    assert_eq!(code(&out), 0);
}

#[test]
fn min_likelihood_filters() {
    let home = TempDir::new("minlk");
    let all = jsonl(&run(home.path(), &["scan", "corpora/demo"], b""));
    let high = jsonl(&run(home.path(), &["scan", "corpora/demo", "--min-likelihood", "VERY_LIKELY"], b""));
    assert!(!high.is_empty() && high.len() < all.len());
    assert!(high.iter().all(|f| f["likelihood"] == "VERY_LIKELY"));
    let out = run(home.path(), &["scan", "corpora/demo", "--min-likelihood", "SURE"], b"");
    assert_eq!(code(&out), 2);
    assert!(stderr(&out).contains("SURE"));
}

#[test]
fn test_values_are_marked_and_hidden_by_default() {
    let home = TempDir::new("testvalue");
    let text = b"card 4111 1111 1111 1111\n";
    assert_eq!(code(&run(home.path(), &["scan", "-"], text)), 0);
    let out = run(home.path(), &["scan", "-", "--min-likelihood", "VERY_UNLIKELY"], text);
    let f = jsonl(&out);
    assert_eq!(f.len(), 1);
    assert_eq!(
        (&f[0]["likelihood"], &f[0]["test_value"]),
        (&Value::from("VERY_UNLIKELY"), &Value::from(true))
    );
}

#[test]
fn thread_count_does_not_change_findings() {
    let home = TempDir::new("threads");
    let set = |threads: &str| {
        let out = run(home.path(), &["scan", "corpora/demo", "--threads", threads], b"");
        jsonl(&out).into_iter().map(|f| f.to_string()).collect::<BTreeSet<_>>()
    };
    assert_eq!(set("1"), set("4"));
}

#[test]
fn hyperscan_engine_reports_what_the_rust_engine_reports() {
    // The test script builds dlp-worker with the `hyperscan` feature where Hyperscan exists
    // (x86-64); a build without it must refuse `--engine hyperscan` and say how to get it.
    let home = TempDir::new("engines");
    let scan = |engine: &str| run(home.path(), &["scan", "corpora/demo", "--engine", engine], b"");
    let rust = scan("rust");
    assert_eq!(code(&rust), 1, "{}", stderr(&rust));
    let hs = scan("hyperscan");
    let expect_built = std::env::var_os("CI").is_some() && cfg!(target_arch = "x86_64");
    if code(&hs) == 2 && !expect_built {
        assert!(stderr(&hs).contains("rebuild with `--features hyperscan`"), "{}", stderr(&hs));
        return;
    }
    assert_eq!(code(&hs), 1, "{}", stderr(&hs));
    let set = |out| jsonl(out).into_iter().map(|f| f.to_string()).collect::<BTreeSet<_>>();
    let want = set(&rust);
    assert!(want.len() > 100);
    assert_eq!(set(&hs), want);
    let bad = scan("pcre");
    assert_eq!(code(&bad), 2);
    assert!(stderr(&bad).contains("use rust or hyperscan"), "{}", stderr(&bad));
}

#[test]
fn json_format_carries_coverage() {
    let home = TempDir::new("json");
    let out = run(home.path(), &["scan", "corpora/demo", "--format", "json"], b"");
    assert_eq!(code(&out), 1);
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
    let cov = &doc["coverage"];
    assert_eq!(cov["objects_scanned"], 8);
    assert_eq!(cov["objects_with_findings"], 6);
    assert_eq!(cov["findings"].as_u64().unwrap() as usize, doc["findings"].as_array().unwrap().len());
    let total: u64 = walk_sizes(&root().join("corpora/demo"));
    assert_eq!(cov["bytes_scanned"].as_u64().unwrap(), total);
    assert_eq!(cov["errors"], Value::Array(vec![]));
}

fn walk_sizes(dir: &std::path::Path) -> u64 {
    fs::read_dir(dir)
        .unwrap()
        .map(|e| {
            let p = e.unwrap().path();
            if p.is_dir() {
                walk_sizes(&p)
            } else {
                fs::metadata(&p).unwrap().len()
            }
        })
        .sum()
}

#[test]
fn output_file_and_table_format() {
    let home = TempDir::new("outfile");
    let dest = home.path().join("findings.txt");
    let out = run(
        home.path(),
        &["scan", "corpora/demo/notes", "--format", "table", "-o", dest.to_str().unwrap()],
        b"",
    );
    assert_eq!(code(&out), 1);
    assert!(out.stdout.is_empty());
    let table = fs::read_to_string(&dest).unwrap();
    let lines: Vec<&str> = table.lines().collect();
    assert!(lines[0].starts_with("LOCATION") && lines[0].contains("INFO_TYPE"));
    assert!(lines.iter().any(|l| l.contains("CREDIT_CARD_NUMBER") && l.contains("**** **** ****")));
    assert_eq!(lines.len(), 4);
}

#[test]
fn sarif_validates_against_the_official_schema() {
    let home = TempDir::new("sarif");
    let dest = home.path().join("out.sarif");
    let out = run(
        home.path(),
        &["scan", "corpora/demo", "tests/no-such-dir", "--format", "sarif", "-o", dest.to_str().unwrap()],
        b"",
    );
    assert_eq!(code(&out), 2, "{}", stderr(&out));
    let doc: Value = serde_json::from_slice(&fs::read(&dest).unwrap()).unwrap();
    let run0 = &doc["runs"][0];
    assert_eq!(run0["results"].as_array().unwrap().len(), expected_demo().len());
    assert_eq!(run0["invocations"][0]["executionSuccessful"], false);
    let result = &run0["results"][0];
    let idx = result["ruleIndex"].as_u64().unwrap() as usize;
    assert_eq!(run0["tool"]["driver"]["rules"][idx]["id"], result["ruleId"]);
    let check = std::process::Command::new("python3")
        .arg(root().join("tests/validate_json_schema.py"))
        .arg(root().join("tests/schemas/sarif-schema-2.1.0.json"))
        .arg(&dest)
        .output()
        .expect("python3 runs (the README's test command installs it and jsonschema)");
    assert!(
        check.status.success(),
        "SARIF output does not validate:\n{}{}",
        String::from_utf8_lossy(&check.stdout),
        String::from_utf8_lossy(&check.stderr)
    );
}

#[test]
fn missing_path_is_an_error_with_exit_2() {
    let home = TempDir::new("missing");
    let out = run(home.path(), &["scan", "no/such/path"], b"");
    assert_eq!(code(&out), 2);
    assert!(stderr(&out).contains("error: no/such/path: no such file or directory"), "{}", stderr(&out));
}

#[test]
fn broken_symlink_is_reported_and_the_rest_is_scanned() {
    let home = TempDir::new("symlink");
    let dir = home.path().join("data");
    fs::create_dir_all(&dir).unwrap();
    fs::write(dir.join("a.txt"), "ssn 536-22-8726\n").unwrap();
    std::os::unix::fs::symlink(dir.join("gone.txt"), dir.join("link.txt")).unwrap();
    let out = run(home.path(), &["scan", dir.to_str().unwrap()], b"");
    assert_eq!(code(&out), 2);
    assert!(stderr(&out).contains("link.txt: broken symbolic link to"), "{}", stderr(&out));
    assert_eq!(jsonl(&out).len(), 1, "the readable file is still scanned");
}

#[test]
fn unreadable_files_are_errors() {
    let home = TempDir::new("unreadable");
    // /proc/self/mem is a regular file whose first page cannot be read (EIO), even by root.
    let out = run(home.path(), &["scan", "/proc/self/mem"], b"");
    assert_eq!(code(&out), 2);
    assert!(stderr(&out).contains("/proc/self/mem: read failed"), "{}", stderr(&out));
    let is_root =
        std::process::Command::new("id").arg("-u").output().map(|o| o.stdout == b"0\n").unwrap_or(true);
    if !is_root {
        use std::os::unix::fs::PermissionsExt;
        let f = home.path().join("secret.txt");
        fs::write(&f, "x").unwrap();
        fs::set_permissions(&f, fs::Permissions::from_mode(0o000)).unwrap();
        let out = run(home.path(), &["scan", f.to_str().unwrap()], b"");
        assert_eq!(code(&out), 2);
        assert!(stderr(&out).contains("permission denied"), "{}", stderr(&out));
    }
}

#[test]
fn invalid_utf8_content_and_names_are_scanned() {
    use std::os::unix::ffi::OsStrExt;
    let home = TempDir::new("utf8");
    let dir = home.path().join("data");
    fs::create_dir_all(&dir).unwrap();
    let mut content = vec![0xff, 0xfe, 0x00, b'\n', 0xc3, 0x28];
    content.extend_from_slice(b" token 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 \x80\x81\n");
    let name = std::ffi::OsStr::from_bytes(b"bad-\xffname.bin");
    fs::write(dir.join(name), &content).unwrap();
    let out = run(home.path(), &["scan", dir.to_str().unwrap()], b"");
    assert_eq!(code(&out), 1, "{}", stderr(&out));
    let f = jsonl(&out);
    assert_eq!(f.len(), 1);
    assert_eq!(f[0]["info_type"], "GITHUB_TOKEN");
    assert_eq!(f[0]["location"]["line"], 2);
    assert!(f[0]["object"].as_str().unwrap().ends_with("bad-\u{fffd}name.bin"));
}

#[test]
fn malformed_detector_files_are_rejected_clearly() {
    let home = TempDir::new("baddet");
    let f = home.path().join("mine.toml");
    fs::write(&f, "[[detector]]\nid = \"MY_ID\"\nname = \"Mine\"\ncategory = \"PII\"\npatterns = ['x+']\n")
        .unwrap();
    let out = run(home.path(), &["scan", "--detectors", f.to_str().unwrap(), "corpora/demo"], b"");
    assert_eq!(code(&out), 2);
    let err = stderr(&out);
    assert!(err.contains("mine.toml: detector MY_ID: pattern 1 \"x+\": has no maximum length"), "{err}");
    assert!(out.stdout.is_empty(), "nothing is scanned with a bad detector file");

    fs::write(&f, "[[detector]]\nid = \"MY_ID\"\nname = \"Mine\"\ncategory = \"PII\"\npatterns = ['x']\nhotword = ['y']\n").unwrap();
    let err = stderr(&run(home.path(), &["detectors", "list", "--detectors", f.to_str().unwrap()], b""));
    assert!(err.contains("mine.toml: detector MY_ID: line 6, column 1: unknown field `hotword`"), "{err}");

    fs::write(&f, b"[[detector]]\nid = \"\xff\"\n").unwrap();
    let out = run(home.path(), &["detectors", "list", "--detectors", f.to_str().unwrap()], b"");
    assert_eq!(code(&out), 2);
    assert!(stderr(&out).contains("mine.toml: not valid UTF-8"), "{}", stderr(&out));
}

#[test]
fn user_detectors_are_loaded_and_tested() {
    let home = TempDir::new("userdet");
    let f = home.path().join("employee.toml");
    fs::write(
        &f,
        r#"[[detector]]
id = "EMPLOYEE_ID"
name = "Employee id"
category = "PII"
patterns = ['\bEMP-[0-9]{6}\b']
examples = ["EMP-123456", "id EMP-000001.", "(EMP-999999)"]
negative_examples = ["EMP-12345", "EMP-1234567", "XEMP-123456"]
"#,
    )
    .unwrap();
    let out = run(
        home.path(),
        &["scan", "--detectors", f.to_str().unwrap(), "--no-builtin", "-"],
        b"by EMP-424242 and 536-22-8726",
    );
    let found = jsonl(&out);
    assert_eq!(found.len(), 1, "only the user detector is loaded");
    assert_eq!(found[0]["info_type"], "EMPLOYEE_ID");
    let test = run(home.path(), &["detectors", "test", "--detectors", f.to_str().unwrap()], b"");
    assert_eq!(code(&test), 0, "{}", String::from_utf8_lossy(&test.stdout));
    // `detectors test FILE` tests just that file.
    let only = run(home.path(), &["detectors", "test", f.to_str().unwrap()], b"");
    assert_eq!(code(&only), 0);
    assert!(String::from_utf8_lossy(&only.stdout).contains("1 detectors, 6 examples: 6 passed, 0 failed"));
    fs::write(&f, fs::read_to_string(&f).unwrap().replace("\"XEMP-123456\"", "\"x EMP-222222\"")).unwrap();
    let test = run(home.path(), &["detectors", "test", "--detectors", f.to_str().unwrap()], b"");
    assert_eq!(code(&test), 1);
    assert!(String::from_utf8_lossy(&test.stdout).contains("FAIL EMPLOYEE_ID"));
}

#[test]
fn dictionary_detectors_find_listed_terms_as_whole_words() {
    let home = TempDir::new("dictionary");
    let f = home.path().join("codenames.toml");
    fs::write(
        &f,
        r#"[[detector]]
id = "PROJECT_CODENAME"
name = "Internal project code name"
category = "PII"
dictionary = ["Blue Falcon"]
dictionary_file = "codenames.txt"
likelihood = "LIKELY"
examples = ["the Blue  Falcon launch", "BLUE FALCON", "status of project ironwood?"]
negative_examples = ["bluefalcon", "ironwoods", "blue falconry"]
"#,
    )
    .unwrap();
    fs::write(home.path().join("codenames.txt"), "# code names\nIronwood\n\nSilver Lake\n").unwrap();
    let only = run(home.path(), &["detectors", "test", f.to_str().unwrap()], b"");
    assert_eq!(code(&only), 0, "{}", String::from_utf8_lossy(&only.stdout));
    let out = run(
        home.path(),
        &["scan", "--detectors", f.to_str().unwrap(), "--no-builtin", "--include-quote", "-"],
        b"Ironwood ships; silver\n  lake slips; ironwoods and # code names are not terms; blue falcon.",
    );
    let quotes: Vec<String> = jsonl(&out).iter().map(|f| f["quote"].as_str().unwrap().to_string()).collect();
    assert_eq!(quotes, ["Ironwood", "silver\n  lake", "blue falcon"]);
    // A dictionary file that is not there is named in the error.
    fs::remove_file(home.path().join("codenames.txt")).unwrap();
    let missing = run(home.path(), &["scan", "--detectors", f.to_str().unwrap(), "-"], b"x");
    assert_eq!(code(&missing), 2);
    assert!(stderr(&missing).contains("codenames.txt"), "{}", stderr(&missing));
    assert!(stderr(&missing).contains("PROJECT_CODENAME"), "{}", stderr(&missing));
}

#[test]
fn detectors_list_json_describes_every_builtin() {
    let home = TempDir::new("list");
    let out = run(home.path(), &["detectors", "list", "--format", "json"], b"");
    assert_eq!(code(&out), 0);
    let list: Vec<Value> = serde_json::from_slice(&out.stdout).unwrap();
    assert!(list.len() >= 25);
    let ids: BTreeSet<&str> = list.iter().map(|d| d["id"].as_str().unwrap()).collect();
    for id in [
        "CREDIT_CARD_NUMBER",
        "US_SOCIAL_SECURITY_NUMBER",
        "IBAN_CODE",
        "EMAIL_ADDRESS",
        "PHONE_NUMBER",
        "IP_ADDRESS",
        "AWS_CREDENTIALS",
        "GCP_API_KEY",
        "GCP_CREDENTIALS",
        "GITHUB_TOKEN",
        "SLACK_TOKEN",
        "STRIPE_API_KEY",
        "PRIVATE_KEY",
        "JSON_WEB_TOKEN",
        "AZURE_STORAGE_KEY",
        "PASSWORD",
    ] {
        assert!(ids.contains(id), "{id} missing");
    }
    let card = list.iter().find(|d| d["id"] == "CREDIT_CARD_NUMBER").unwrap();
    assert_eq!((&card["category"], &card["validator"]), (&Value::from("PCI"), &Value::from("payment_card")));
    let table = run(home.path(), &["detectors", "list"], b"");
    assert!(String::from_utf8_lossy(&table.stdout).lines().count() > list.len());
    let test = run(home.path(), &["detectors", "test"], b"");
    assert_eq!(code(&test), 0, "{}", String::from_utf8_lossy(&test.stdout));
}

#[test]
fn unknown_url_schemes_are_refused_clearly() {
    let home = TempDir::new("scheme");
    let out = run(home.path(), &["scan", "ftp://host/prefix"], b"");
    assert_eq!(code(&out), 2);
    assert!(stderr(&out).contains("ftp:// is not a known URL scheme"), "{}", stderr(&out));
}

#[test]
fn memory_stays_bounded_on_a_large_stream() {
    // 256 MiB through stdin, with findings sprinkled in; peak RSS must stay far below the
    // data size (benches/memory.sh does the 2 GiB run on a release build).
    let home = TempDir::new("memory");
    let mut block = String::new();
    for i in 0..2000 {
        block.push_str(&format!("{i:06} GET /api/v1/items?id={} 200 0.{i:03}s ok\n", i * 7919));
    }
    block.push_str("contact jane.doe@example.org ssn 536-22-8726\n");
    let block = block.into_bytes();
    let total: usize = 256 << 20;
    let mut child = std::process::Command::new("/usr/bin/time")
        .args(["-f", "%M"])
        .arg(dlp_tests::bin())
        .args(["scan", "-", "--format", "jsonl", "-o", "/dev/null"])
        .env("XDG_CONFIG_HOME", home.path())
        .stdin(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("/usr/bin/time runs (Debian package `time`; the README's test command installs it)");
    let mut stdin = child.stdin.take().unwrap();
    let feeder = std::thread::spawn(move || {
        use std::io::Write;
        let mut sent = 0;
        while sent < total {
            stdin.write_all(&block).unwrap();
            sent += block.len();
        }
        sent
    });
    let out = child.wait_with_output().unwrap();
    let sent = feeder.join().unwrap();
    let err = stderr(&out);
    assert_eq!(code(&out), 1, "{err}");
    let expected_objects = "scanned 1 objects";
    assert!(err.contains(expected_objects), "{err}");
    let peak_kib: u64 = err.lines().last().unwrap().trim().parse().unwrap();
    assert!(sent >= total);
    assert!(peak_kib < 100 * 1024, "peak RSS {peak_kib} KiB for a {} MiB stream", total >> 20);
}

#[test]
fn allow_list_file_suppresses_accepted_values() {
    let home = TempDir::new("allow");
    let f = home.path().join("allow.toml");
    fs::write(&f, "[[allow]]\nname = \"QA SSN\"\ninfo_types = [\"US_SOCIAL_SECURITY_NUMBER\"]\nvalues = [\"536-22-8726\"]\n")
        .unwrap();
    let text = b"ssn 536-22-8726 and ssn 536-22-8727\n";
    let out = run(home.path(), &["scan", "--detectors", f.to_str().unwrap(), "-"], text);
    let found = jsonl(&out);
    assert_eq!(found.len(), 1, "{}", String::from_utf8_lossy(&out.stdout));
    assert_eq!(found[0]["redacted"], "***-**-8727");
}

#[test]
fn logs_can_be_json_lines() {
    let tmp = TempDir::new("json-logs");
    let missing = tmp.path().join("no-such-dir");
    let scan = |env: Option<&str>, flag: Option<&str>| {
        let mut c = dlp_tests::cmd(tmp.path());
        if let Some(f) = env {
            c.env("DLP_LOG_FORMAT", f);
        }
        if let Some(f) = flag {
            c.args(["--log-format", f]);
        }
        c.args(["scan", "--no-state"]).arg(&missing).output().unwrap()
    };
    // DLP_LOG_FORMAT=json: every stderr line is a JSON object with time, level and message.
    let out = scan(Some("json"), None);
    assert_eq!(code(&out), 2);
    let lines: Vec<Value> = stderr(&out)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not a JSON line ({e}): {l}")))
        .collect();
    assert_eq!(lines.len(), 2, "{lines:?}");
    for l in &lines {
        assert!(l["timestamp"].as_str().is_some_and(|t| t.starts_with("20")), "{l}");
        assert!(l["threadName"].is_string(), "{l}");
    }
    assert_eq!(lines[0]["level"], "ERROR");
    let message = lines[0]["message"].as_str().unwrap();
    assert!(
        message.contains("no-such-dir: no such file or directory") && !message.starts_with("error:"),
        "{message}"
    );
    assert_eq!(lines[1]["level"], "INFO");
    assert!(lines[1]["message"].as_str().unwrap().starts_with("scanned 0 objects"));
    // The flag wins over the variable; text is the default.
    for out in [scan(Some("json"), Some("text")), scan(None, None)] {
        assert!(stderr(&out).starts_with("dlp-worker: error: "), "{}", stderr(&out));
    }
    let out = scan(None, Some("xml"));
    assert_eq!(code(&out), 2);
    assert!(stderr(&out).contains("give text or json"), "{}", stderr(&out));
}
