#!/usr/bin/env python3
"""Deterministic test/benchmark corpus generator for the DLP scanner (stdlib only, Python >= 3.9).

Subcommands (see corpora/README.md):

  demo  OUTDIR                    small realistic demo folder + EXPECTED.md (committed as corpora/demo)
  mixed OUTDIR [--size-mb 64]     mixed benchmark corpus, several files, sparse PII/secrets,
                                  plus a manifest OUTDIR.manifest.jsonl of every planted value
  big   OUTFILE [--size-mb 2048]  one large file streamed with bounded memory ('-' = stdout)
  pii   OUTFILE [--size-mb 8]     PII-dense customer records (CSV): every row holds ~8 values

Every value is fake but passes the checks a real one would (Luhn for cards, mod-97 for IBANs,
SSA area/group/serial rules for SSNs, a real HMAC-SHA256 signature for JWTs). Output depends only
on the seed (default per subcommand, override with --seed) and the arguments.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import hmac
import json
import os
import random
import re
import string
import sys
import time
import zlib

MIB = 1024 * 1024

DEMO_SEED = 20240601
MIXED_SEED = 64064
BIG_SEED = 2048
PII_SEED = 7070

# One planted value per this many bytes (on average) in the mixed and big corpora.
SECRET_EVERY_BYTES = 50 * 1024

UPPER_DIGITS = string.ascii_uppercase + string.digits
ALNUM = string.ascii_letters + string.digits
BASE32_UPPER = string.ascii_uppercase + "234567"
B64_CHARS = string.ascii_letters + string.digits + "+/"
HEX = "0123456789abcdef"

# Widely published test values: never emit them (scanners report them as test values).
KNOWN_TEST_CARDS = {
    "4111111111111111", "4242424242424242", "4012888888881881", "4000056655665556",
    "5555555555554444", "5105105105105100", "5200828282828210", "378282246310005",
    "371449635398431", "6011111111111117", "6011000990139424", "3530111333300000",
}
KNOWN_TEST_SSNS = {"078-05-1120", "219-09-9999", "123-45-6789", "111-11-1111"}

FIRST_NAMES = (
    "James Mary Robert Patricia John Jennifer Michael Linda David Elizabeth William Barbara "
    "Richard Susan Joseph Jessica Thomas Sarah Charles Karen Christopher Lisa Daniel Nancy "
    "Matthew Betty Anthony Margaret Mark Sandra Donald Ashley Steven Kimberly Paul Emily Andrew "
    "Donna Joshua Michelle Kenneth Carol Kevin Amanda Brian Melissa George Deborah Priya Wei "
    "Carlos Sofia Hiroshi Amara Lars Ingrid Mateo Chloe Omar Fatima Nikolai Elena Kwame Aisha"
).split()
LAST_NAMES = (
    "Smith Johnson Williams Brown Jones Garcia Miller Davis Rodriguez Martinez Hernandez Lopez "
    "Gonzalez Wilson Anderson Thomas Taylor Moore Jackson Martin Lee Perez Thompson White Harris "
    "Sanchez Clark Ramirez Lewis Robinson Walker Young Allen King Wright Scott Torres Nguyen Hill "
    "Flores Green Adams Nelson Baker Hall Rivera Campbell Mitchell Carter Roberts Patel Chen "
    "Kowalski Okafor Johansson Tanaka Novak Moreau Schmidt Rossi Haddad Mensah Ivanova Silva"
).split()
EMAIL_DOMAINS = ("example.com", "example.org", "example.net", "mail.example.com",
                 "corp.example.net", "hr.example.org")
DEPARTMENTS = ("Engineering", "Finance", "Sales", "Marketing", "Support", "Legal",
               "Operations", "People", "Security", "Research")

WORDS = (
    "the of and to in a is that for it as was with be by on not he this are or his from at "
    "which but have an they you were her all she there would their we him been has when who "
    "will more no if out so said what up its about into than them can only other new some "
    "could time these two may then do first any my now such like our over man me even most "
    "made after also did many before must through back years where much your way well down "
    "should because each just those people how too little state good very make world still "
    "own see men work long get here between both life being under never day same another "
    "know while last might us great old year off come since against go came right used take "
    "three himself few house use during without again place around however home small found "
    "thought went say part once general high upon school every does got united left number "
    "course war until always away something fact though water less public put think almost "
    "hand enough far took head yet government system better set told nothing night end why "
    "called didn eyes find going look asked later knew point next program city business give "
    "group toward young days let room president side social given present several order "
    "national possible rather second face per among form important often things looked early "
    "white case john become large big need four within felt along children saw best church "
    "ever least power development light thing seemed family interest want members mind "
    "country area others done turned although open problem quarterly budget review meeting "
    "customer account invoice shipment release deadline roadmap vendor contract renewal "
    "migration cluster backlog incident retrospective compliance audit policy training"
).split()

RUST_TYPES = ("Config", "Scanner", "Matcher", "Buffer", "Chunk", "Finding", "Detector", "Report",
              "Reader", "Engine", "Span", "Offset", "State", "Cache", "Error", "Options")
IDENTS = ("buf", "len", "offset", "pos", "start", "end", "count", "idx", "value", "key", "cfg",
          "input", "output", "chunk", "state", "result", "bytes", "line", "col", "width", "limit",
          "hash", "seed", "table", "entry", "node", "path", "name", "size", "cap", "prefix",
          "suffix", "window", "matches", "pattern", "score", "weight", "total", "flags", "mask")
METHODS = ("len", "push", "extend_from_slice", "get", "insert", "remove", "iter", "map",
           "unwrap_or", "checked_add", "saturating_sub", "to_vec", "clone", "as_ref", "min", "max")
USER_AGENTS = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_4) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Safari/605.1.15",
    "Mozilla/5.0 (X11; Linux x86_64; rv:125.0) Gecko/20100101 Firefox/125.0",
    "curl/8.5.0", "python-requests/2.31.0", "Go-http-client/2.0", "okhttp/4.12.0",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 Mobile/15E148",
)
HTTP_PATHS = ("/api/v1/orders", "/api/v1/users", "/api/v2/search", "/healthz", "/login",
              "/api/v1/invoices", "/static/app.js", "/api/v1/cart/items", "/metrics", "/graphql")
SERVICES = ("checkout", "auth", "search", "billing", "inventory", "gateway", "notifier")
LEVELS = ("INFO", "INFO", "INFO", "INFO", "DEBUG", "DEBUG", "WARN", "ERROR")
MESSAGES = ("request completed", "cache miss", "upstream timeout, retrying", "user session refreshed",
            "order state changed", "rate limit applied", "db query slow", "payment authorized",
            "feature flag evaluated", "connection pool exhausted")
CSV_STATUSES = ("shipped", "pending", "delivered", "cancelled", "refunded", "processing")
CSV_NOTES = ("", "", "", "", "gift wrap", "leave at door", "expedite", "backorder", "call on arrival",
             "fragile", "partial refund issued", "address verified")


# --------------------------------------------------------------------------------------------
# Fake-but-valid value generators
# --------------------------------------------------------------------------------------------

def luhn_check_digit(digits: str) -> str:
    """Check digit that makes digits + check pass Luhn."""
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch)
        if i % 2 == 0:  # these get doubled once the check digit is appended
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return str((10 - total % 10) % 10)


def luhn_valid(number: str) -> bool:
    digits = [int(c) for c in number if c.isdigit()]
    total = 0
    for i, d in enumerate(reversed(digits)):
        if i % 2 == 1:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return total % 10 == 0


def card_number(rng: random.Random) -> str:
    while True:
        brand = rng.choice(("visa", "visa", "mc", "mc", "amex", "discover"))
        if brand == "visa":
            prefix, length = "4", 16
        elif brand == "mc":
            prefix, length = str(rng.randint(51, 55)), 16
        elif brand == "amex":
            prefix, length = rng.choice(("34", "37")), 15
        else:
            prefix, length = "6011", 16
        body = prefix + "".join(rng.choice(string.digits) for _ in range(length - len(prefix) - 1))
        number = body + luhn_check_digit(body)
        if number not in KNOWN_TEST_CARDS and not re.search(r"(\d)\1{5}", number):
            return number


def format_card(rng: random.Random, number: str) -> str:
    style = rng.choice(("plain", "space", "dash"))
    if style == "plain":
        return number
    sep = " " if style == "space" else "-"
    if len(number) == 15:  # Amex 4-6-5
        return sep.join((number[:4], number[4:10], number[10:]))
    return sep.join(number[i:i + 4] for i in range(0, len(number), 4))


def luhn_invalid_digits(rng: random.Random, length: int) -> str:
    """Random digit string that deliberately fails Luhn (e.g. account refs, tracking numbers)."""
    body = rng.choice("123456789") + "".join(rng.choice(string.digits) for _ in range(length - 2))
    good = luhn_check_digit(body)
    return body + str((int(good) + rng.randint(1, 9)) % 10)


def ssn(rng: random.Random) -> str:
    """US SSN satisfying SSA rules: area 001-899 except 666, group 01-99, serial 0001-9999."""
    while True:
        area = rng.randint(1, 899)
        if area == 666:
            continue
        value = f"{area:03d}-{rng.randint(1, 99):02d}-{rng.randint(1, 9999):04d}"
        if value not in KNOWN_TEST_SSNS:
            return value


def _iban_check(country: str, bban: str) -> str:
    rearranged = bban + country + "00"
    numeric = "".join(str(int(c, 36)) for c in rearranged)
    return f"{98 - int(numeric) % 97:02d}"


def iban_valid(iban: str) -> bool:
    s = iban.replace(" ", "")
    numeric = "".join(str(int(c, 36)) for c in s[4:] + s[:4])
    return int(numeric) % 97 == 1


def iban(rng: random.Random, country: str | None = None) -> str:
    country = country or rng.choice(("DE", "DE", "GB", "NL"))
    digits = lambda n: "".join(rng.choice(string.digits) for _ in range(n))  # noqa: E731
    if country == "DE":  # 8-digit bank code + 10-digit account
        bban = digits(8) + digits(10)
    elif country == "GB":  # 4-letter bank + 6-digit sort code + 8-digit account
        bban = rng.choice(("NWBK", "BARC", "LOYD", "MIDL")) + digits(6) + digits(8)
    else:  # NL: 4-letter bank + 10-digit account
        bban = rng.choice(("ABNA", "INGB", "RABO")) + digits(10)
    return country + _iban_check(country, bban) + bban


def format_iban(rng: random.Random, value: str) -> str:
    if rng.random() < 0.5:
        return value
    return " ".join(value[i:i + 4] for i in range(0, len(value), 4))


def email(rng: random.Random, first: str | None = None, last: str | None = None) -> str:
    first = first or rng.choice(FIRST_NAMES)
    last = last or rng.choice(LAST_NAMES)
    local = rng.choice((f"{first}.{last}", f"{first[0]}{last}", f"{first}_{last}{rng.randint(1, 99)}"))
    return f"{local.lower()}@{rng.choice(EMAIL_DOMAINS)}"


def us_phone(rng: random.Random) -> str:
    # 555-0100..555-0199 are reserved for fiction.
    area = rng.choice((212, 310, 415, 617, 312, 206, 512, 303))
    line = rng.randint(100, 199)
    return rng.choice((f"({area}) 555-{line:04d}", f"{area}-555-{line:04d}", f"+1 {area} 555 {line:04d}"))


def rand_str(rng: random.Random, alphabet: str, n: int) -> str:
    return "".join(rng.choice(alphabet) for _ in range(n))


def aws_access_key_id(rng: random.Random) -> str:
    return "AKIA" + rand_str(rng, BASE32_UPPER, 16)


def aws_secret_key(rng: random.Random) -> str:
    return rand_str(rng, B64_CHARS, 40)


def _base62(n: int) -> str:
    out = ""
    while n:
        n, r = divmod(n, 62)
        out = (string.digits + string.ascii_uppercase + string.ascii_lowercase)[r] + out
    return out or "0"


def github_token(rng: random.Random) -> str:
    """ghp_ + 30 random alnum + 6-char base62 CRC32 of the random part (36 chars after ghp_)."""
    body = rand_str(rng, ALNUM, 30)
    return "ghp_" + body + _base62(zlib.crc32(body.encode())).rjust(6, "0")


def slack_bot_token(rng: random.Random) -> str:
    return f"xoxb-{rand_str(rng, string.digits, 12)}-{rand_str(rng, string.digits, 13)}-{rand_str(rng, ALNUM, 24)}"


def stripe_live_key(rng: random.Random) -> str:
    return "sk_live_" + rand_str(rng, ALNUM, 24)


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def jwt(rng: random.Random) -> str:
    header = {"alg": "HS256", "typ": "JWT"}
    first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
    iat = 1700000000 + rng.randint(0, 30_000_000)
    payload = {"sub": str(rng.randint(10_000, 99_999_999)), "name": f"{first} {last}",
               "role": rng.choice(("user", "admin", "billing")), "iat": iat, "exp": iat + 3600}
    signing_input = (_b64url(json.dumps(header, separators=(",", ":")).encode()) + "."
                     + _b64url(json.dumps(payload, separators=(",", ":")).encode()))
    key = rng.randbytes(32)
    sig = hmac.new(key, signing_input.encode(), hashlib.sha256).digest()
    return signing_input + "." + _b64url(sig)


def pem_rsa_private_key(rng: random.Random, lines: int = 25) -> str:
    # Starts like a DER RSAPrivateKey (SEQUENCE, version 0, 2048-bit modulus); the rest is random.
    der = bytes.fromhex("308204a40201000282010100") + rng.randbytes(lines * 48 - 12 - 17)
    b64 = base64.b64encode(der).decode()
    body = "\n".join(b64[i:i + 64] for i in range(0, len(b64), 64))
    return f"-----BEGIN RSA PRIVATE KEY-----\n{body}\n-----END RSA PRIVATE KEY-----\n"


def ipv4(rng: random.Random) -> str:
    net = rng.choice(("192.0.2", "198.51.100", "203.0.113", "10.12", "172.16", "10.0"))
    if net.count(".") == 1:
        return f"{net}.{rng.randint(0, 255)}.{rng.randint(1, 254)}"
    return f"{net}.{rng.randint(1, 254)}"


def uuid4(rng: random.Random) -> str:
    h = "%032x" % rng.getrandbits(128)
    return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-{'89ab'[rng.randint(0, 3)]}{h[17:20]}-{h[20:32]}"


def iso_ts(rng: random.Random, base: int) -> str:
    t = time.gmtime(base)
    return time.strftime("%Y-%m-%dT%H:%M:%S", t) + f".{rng.randint(0, 999):03d}Z"


# --------------------------------------------------------------------------------------------
# demo
# --------------------------------------------------------------------------------------------

class Recorder:
    """Collects what was planted where, for EXPECTED.md."""

    def __init__(self) -> None:
        self.items: dict[str, list[tuple[int, str, str]]] = {}

    def add(self, path: str, line: int, info_type: str, value: str) -> None:
        self.items.setdefault(path, []).append((line, info_type, value))


def _mask(value: str) -> str:
    """Hint at a value without reproducing it (EXPECTED.md itself must stay clean)."""
    v = value.strip()
    keep = 4 if len(v) > 10 else 2
    return f"{v[:keep]}…({len(v)} chars)"


def write_demo(outdir: str, seed: int) -> None:
    rng = random.Random(seed)
    rec = Recorder()
    files: dict[str, str] = {}

    # hr/employees.csv ------------------------------------------------------------------------
    rows = ["employee_id,first_name,last_name,email,ssn,phone,department,hire_date,salary_usd"]
    for i in range(24):
        first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
        e, s, p = email(rng, first, last), ssn(rng), us_phone(rng)
        if "," in p:
            p = f'"{p}"'
        hire = f"{rng.randint(2012, 2024)}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}"
        rows.append(f"E{1001 + i},{first},{last},{e},{s},{p},{rng.choice(DEPARTMENTS)},{hire},"
                    f"{rng.randint(55, 240) * 1000}")
        line = len(rows)
        rec.add("hr/employees.csv", line, "EMAIL_ADDRESS", e)
        rec.add("hr/employees.csv", line, "US_SOCIAL_SECURITY_NUMBER", s)
        rec.add("hr/employees.csv", line, "PHONE_NUMBER", p)
    files["hr/employees.csv"] = "\n".join(rows) + "\n"

    # app/config.env ----------------------------------------------------------------------------
    akid, asecret = aws_access_key_id(rng), aws_secret_key(rng)
    ghp, slack, stripe = github_token(rng), slack_bot_token(rng), stripe_live_key(rng)
    db_pw = "Wint3r-" + rand_str(rng, ALNUM, 10) + "!"
    env = [
        "# Production settings for the order service. DO NOT COMMIT (oops).",
        "APP_ENV=production",
        "APP_PORT=8080",
        "LOG_LEVEL=info",
        "",
        "# AWS",
        f"AWS_ACCESS_KEY_ID={akid}",
        f"AWS_SECRET_ACCESS_KEY={asecret}",
        "AWS_DEFAULT_REGION=us-east-1",
        "",
        "# Third-party integrations",
        f"GITHUB_TOKEN={ghp}",
        f"SLACK_BOT_TOKEN={slack}",
        f"STRIPE_SECRET_KEY={stripe}",
        "",
        "# Database",
        "DB_HOST=db.internal.example.net",
        "DB_USER=orders_app",
        f"DB_PASSWORD={db_pw}",
    ]
    for i, line in enumerate(env, 1):
        for needle, kind in ((akid, "AWS_CREDENTIALS"), (asecret, "AWS_SECRET_ACCESS_KEY"),
                             (ghp, "GITHUB_TOKEN"), (slack, "SLACK_TOKEN"),
                             (stripe, "STRIPE_API_KEY"), (db_pw, "PASSWORD")):
            if needle in line:
                rec.add("app/config.env", i, kind, needle)
    files["app/config.env"] = "\n".join(env) + "\n"

    # app/settings.yaml -------------------------------------------------------------------------
    akid2, asecret2 = aws_access_key_id(rng), aws_secret_key(rng)
    yaml_pw = rand_str(rng, ALNUM, 14)
    yml = [
        "service:",
        "  name: reporting",
        "  replicas: 3",
        "storage:",
        "  bucket: reports-archive",
        f"  aws_access_key_id: {akid2}",
        f"  aws_secret_access_key = {asecret2}   # legacy format, kept for the old loader",
        "database:",
        "  host: pg.internal.example.net",
        "  port: 5432",
        "  user: reporter",
        f'  password: "{yaml_pw}"',
        "features:",
        "  export_csv: true",
    ]
    for i, line in enumerate(yml, 1):
        for needle, kind in ((akid2, "AWS_CREDENTIALS"), (asecret2, "AWS_SECRET_ACCESS_KEY"),
                             (yaml_pw, "PASSWORD")):
            if needle in line:
                rec.add("app/settings.yaml", i, kind, needle)
    files["app/settings.yaml"] = "\n".join(yml) + "\n"

    # notes/meeting.txt -------------------------------------------------------------------------
    card = card_number(rng)
    card_fmt = " ".join(card[i:i + 4] for i in range(0, len(card), 4)) if len(card) == 16 else card
    iban_de = iban(rng, "DE")
    iban_fmt = " ".join(iban_de[i:i + 4] for i in range(0, len(iban_de), 4))
    vendor_email = email(rng)
    notes = [
        "Weekly finance sync - notes",
        "",
        "Attendees: Maria (finance), Tom (ops), Priya (engineering).",
        "",
        "1. The vendor invoice for the warehouse scanners is still unpaid. Maria will wire the",
        f"   balance to their account, IBAN {iban_fmt}, before the end of the month.",
        "2. Tom used the corporate card for the conference booking. For the expense report the",
        f"   card number is {card_fmt}, expiry 09/27; he will ask for a replacement card afterwards.",
        f"3. Questions about the contract go to {vendor_email}.",
        "4. Engineering asked everyone to stop pasting credentials into the team chat.",
        "",
        "Action items: Maria - wire transfer; Tom - replace card; Priya - rotate the chat bot token.",
    ]
    rec.add("notes/meeting.txt", 6, "IBAN_CODE", iban_fmt)
    rec.add("notes/meeting.txt", 8, "CREDIT_CARD_NUMBER", card_fmt)
    rec.add("notes/meeting.txt", 9, "EMAIL_ADDRESS", vendor_email)
    files["notes/meeting.txt"] = "\n".join(notes) + "\n"

    # keys/id_rsa -------------------------------------------------------------------------------
    files["keys/id_rsa"] = pem_rsa_private_key(rng, lines=22)
    rec.add("keys/id_rsa", 1, "PRIVATE_KEY", "PEM RSA private key block (lines 1-24)")

    # logs/app.log ------------------------------------------------------------------------------
    token = jwt(rng)
    user_email = email(rng)
    log_lines = []
    t = 1717200000
    jwt_line = rng.randint(10, 20)
    email_line = rng.randint(25, 35)
    for i in range(1, 49):
        t += rng.randint(0, 4)
        ip = ipv4(rng)
        entry = {"ts": iso_ts(rng, t), "level": rng.choice(LEVELS), "service": rng.choice(SERVICES),
                 "msg": rng.choice(MESSAGES), "method": rng.choice(("GET", "GET", "POST", "PUT")),
                 "path": rng.choice(HTTP_PATHS), "status": rng.choice((200, 200, 200, 201, 304, 404, 500)),
                 "duration_ms": round(rng.uniform(0.3, 900), 3), "client_ip": ip,
                 "request_id": uuid4(rng)}
        if i == jwt_line:
            entry["msg"] = "auth header rejected"
            entry["authorization"] = f"Bearer {token}"
            rec.add("logs/app.log", i, "JSON_WEB_TOKEN", token)
        if i == email_line:
            entry["msg"] = "password reset requested"
            entry["user"] = user_email
            rec.add("logs/app.log", i, "EMAIL_ADDRESS", user_email)
        rec.add("logs/app.log", i, "IP_ADDRESS", ip)
        log_lines.append(json.dumps(entry, separators=(",", ":")))
    files["logs/app.log"] = "\n".join(log_lines) + "\n"

    # README.txt (clean) ------------------------------------------------------------------------
    files["README.txt"] = (
        "Demo folder for the DLP scanner\n"
        "===============================\n\n"
        "This folder holds a handful of small, made-up files that look like what people leave\n"
        "lying around on shared drives: an HR export, application configuration, meeting notes,\n"
        "a private key, and a service log. Every value in them is fake. They exist so that a new\n"
        "user can run the scanner once and see what a report looks like.\n\n"
        "This file itself contains nothing sensitive, so the scanner should report nothing here.\n"
        "See EXPECTED.md for what each of the other files contains.\n"
    )

    for rel, text in files.items():
        path = os.path.join(outdir, rel)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w", encoding="utf-8", newline="\n") as fh:
            fh.write(text)

    expected = _expected_md(rec, seed)
    with open(os.path.join(outdir, "EXPECTED.md"), "w", encoding="utf-8", newline="\n") as fh:
        fh.write(expected)

    total = 0
    for rel in sorted(list(files) + ["EXPECTED.md"]):
        size = os.path.getsize(os.path.join(outdir, rel))
        total += size
        print(f"{os.path.join(outdir, rel)}\t{size}")
    print(f"total\t{total} bytes")


_TYPE_NOTES = {
    "EMAIL_ADDRESS": "email address",
    "US_SOCIAL_SECURITY_NUMBER": "US SSN (valid SSA area/group/serial)",
    "PHONE_NUMBER": "US phone number (555-01xx fictional range)",
    "AWS_CREDENTIALS": "AWS access key id (AKIA + 16)",
    "AWS_SECRET_ACCESS_KEY": "AWS secret access key (40 chars, next to its key name)",
    "GITHUB_TOKEN": "GitHub personal access token (ghp_ + 36)",
    "SLACK_TOKEN": "Slack bot token (xoxb-)",
    "STRIPE_API_KEY": "Stripe live secret key (sk_live_)",
    "PASSWORD": "password assignment",
    "IBAN_CODE": "IBAN (German, valid mod-97)",
    "CREDIT_CARD_NUMBER": "payment card number (Luhn-valid)",
    "PRIVATE_KEY": "PEM RSA private key block (the whole file)",
    "JSON_WEB_TOKEN": "JWT (HS256, real signature over fake claims)",
    "IP_ADDRESS": "IPv4 address (documentation / private ranges)",
}


def _expected_md(rec: Recorder, seed: int) -> str:
    out = [
        "# What the demo folder contains",
        "",
        f"Generated by `python3 corpora/generate.py demo corpora/demo` (seed {seed}). Every value is",
        "fake, but checksummed types pass their checks (Luhn for the card, mod-97 for the IBAN, SSA",
        "rules for the SSNs), so a scan should report them. Info type names follow Google Cloud DLP",
        "where one exists; they are the ids `dlp-worker scan corpora/demo` reports.",
        "",
        "Values below are deliberately truncated so that this file itself should produce no findings.",
        "",
        "## Summary",
        "",
        "| file | info types (count) |",
        "|---|---|",
    ]
    for path in sorted(rec.items):
        counts: dict[str, int] = {}
        for _, kind, _ in rec.items[path]:
            counts[kind] = counts.get(kind, 0) + 1
        out.append(f"| `{path}` | " + ", ".join(f"{k} ({v})" for k, v in counts.items()) + " |")
    out.append("| `README.txt` | none: a clean file, should produce no findings |")
    out += ["", "## Details", ""]
    for path in sorted(rec.items):
        out += [f"### `{path}`", "", "| line | info type | what | value (truncated) |", "|---|---|---|---|"]
        by_kind: dict[str, list[tuple[int, str]]] = {}
        for line, kind, value in rec.items[path]:
            by_kind.setdefault(kind, []).append((line, value))
        rows = []
        for kind, vals in by_kind.items():
            if len(vals) > 3:  # one row per file line would be noise: summarise
                lines = [ln for ln, _ in vals]
                rows.append((lines[0], f"| {lines[0]}-{lines[-1]} | {kind} | {_TYPE_NOTES[kind]}: "
                                       f"{len(vals)} values, one per line | - |"))
                continue
            for line, value in vals:
                shown = "-" if kind == "PRIVATE_KEY" else f"`{_mask(value)}`"
                rows.append((line, f"| {line} | {kind} | {_TYPE_NOTES[kind]} | {shown} |"))
        out += [row for _, row in sorted(rows, key=lambda r: r[0])]
        out.append("")
    return "\n".join(out)


# --------------------------------------------------------------------------------------------
# mixed / big: template blocks
# --------------------------------------------------------------------------------------------

def _rust_block(rng: random.Random, nbytes: int) -> list[str]:
    lines: list[str] = []
    size = 0
    ri, rt, rm = rng.choice, rng.choice, rng.choice
    while size < nbytes:
        ty = rt(RUST_TYPES)
        fn = f"{ri(IDENTS)}_{ri(IDENTS)}"
        chunk = [
            f"/// {' '.join(rng.choices(WORDS, k=rng.randint(5, 12)))}.",
            f"pub fn {fn}(&mut self, {ri(IDENTS)}: &[u8], {ri(IDENTS)}: usize) -> Result<{ty}, Error> {{",
        ]
        for _ in range(rng.randint(3, 14)):
            k = rng.random()
            a, b = ri(IDENTS), ri(IDENTS)
            if k < 0.25:
                chunk.append(f"    let {a} = {b}.{rm(METHODS)}({rng.randint(0, 4096)});")
            elif k < 0.4:
                chunk.append(f"    const {a.upper()}_{b.upper()}: u64 = 0x{rng.getrandbits(64):016x};")
            elif k < 0.55:
                chunk.append(f"    if {a} >= {b} + {rng.randint(1, 255)} {{ return Err(Error::{rt(RUST_TYPES)}({a})); }}")
            elif k < 0.7:
                chunk.append(f"    // {' '.join(rng.choices(WORDS, k=rng.randint(4, 10)))}")
            elif k < 0.8:
                chunk.append(f"    for {a} in 0..{b}.len() {{ self.{b}[{a}] ^= 0x{rng.getrandbits(8):02x}; }}")
            elif k < 0.9:
                chunk.append(f"    let {a}: [u8; 8] = [{', '.join(str(rng.randint(0, 255)) for _ in range(8))}];")
            else:
                chunk.append(f"    self.{a} = {b}.wrapping_mul({rng.getrandbits(32)}).rotate_left({rng.randint(1, 31)});")
        chunk += [f"    Ok({ty}::new({ri(IDENTS)}))", "}", ""]
        if rng.random() < 0.1:
            chunk += ["#[derive(Debug, Clone, Default)]", f"pub struct {rt(RUST_TYPES)}{rt(RUST_TYPES)} {{"]
            chunk += [f"    pub {ri(IDENTS)}: {rng.choice(('u32', 'u64', 'usize', 'Vec<u8>', 'String', 'bool'))}," for _ in range(rng.randint(2, 6))]
            chunk += ["}", ""]
        lines += chunk
        size += sum(len(x) + 1 for x in chunk)
    return lines


def _python_block(rng: random.Random, nbytes: int) -> list[str]:
    lines: list[str] = []
    size = 0
    ri = rng.choice
    while size < nbytes:
        chunk = [f"def {ri(IDENTS)}_{ri(IDENTS)}({ri(IDENTS)}, {ri(IDENTS)}=None, *, {ri(IDENTS)}={rng.randint(0, 100)}):",
                 f'    """{" ".join(rng.choices(WORDS, k=rng.randint(5, 14))).capitalize()}."""']
        for _ in range(rng.randint(3, 12)):
            k = rng.random()
            a, b = ri(IDENTS), ri(IDENTS)
            if k < 0.25:
                chunk.append(f"    {a} = {b}.get(\"{ri(IDENTS)}\", {rng.randint(0, 9999)})")
            elif k < 0.4:
                chunk.append(f"    {a.upper()}_MASK = 0x{rng.getrandbits(32):08x}")
            elif k < 0.55:
                chunk.append(f"    if {a} > {rng.uniform(0, 1000):.3f}:")
                chunk.append(f"        {b} = {a} // {rng.randint(2, 64)}")
            elif k < 0.7:
                chunk.append(f"    # {' '.join(rng.choices(WORDS, k=rng.randint(4, 10)))}")
            elif k < 0.85:
                chunk.append(f"    {a} = [{b}[i] for i in range({rng.randint(1, 512)}) if i % {rng.randint(2, 9)}]")
            else:
                chunk.append(f"    self.{a} = hashlib.sha256({b}).hexdigest()[:{rng.randint(4, 32)}]")
        chunk += [f"    return {ri(IDENTS)}", "", ""]
        lines += chunk
        size += sum(len(x) + 1 for x in chunk)
    return lines


def _log_block(rng: random.Random, nbytes: int) -> list[str]:
    lines: list[str] = []
    size = 0
    t = 1717200000 + rng.randint(0, 10_000_000)
    while size < nbytes:
        t += rng.randint(0, 2)
        line = (f'{{"ts":"{iso_ts(rng, t)}","level":"{rng.choice(LEVELS)}","service":"{rng.choice(SERVICES)}",'
                f'"msg":"{rng.choice(MESSAGES)}","method":"{rng.choice(("GET", "GET", "POST", "PUT", "DELETE"))}",'
                f'"path":"{rng.choice(HTTP_PATHS)}/{rng.randint(1, 999999)}","status":{rng.choice((200, 200, 200, 201, 204, 304, 400, 404, 500, 503))},'
                f'"duration_ms":{rng.uniform(0.05, 2500):.3f},"bytes":{rng.randint(0, 250000)},'
                f'"client_ip":"{ipv4(rng)}","request_id":"{uuid4(rng)}","trace_id":"{rng.getrandbits(128):032x}",'
                f'"user_agent":"{rng.choice(USER_AGENTS)}"}}')
        lines.append(line)
        size += len(line) + 1
    return lines


CSV_HEADER = ("order_id,customer_id,order_date,amount,currency,qty,sku,contact_phone,"
              "account_ref,tracking_number,status,note")


def _csv_row(rng: random.Random, note: str | None = None) -> str:
    phone = f"{rng.randint(200, 989)}-{rng.randint(200, 999)}-{rng.randint(0, 9999):04d}"
    tracking = (f"1Z{rand_str(rng, UPPER_DIGITS, 16)}" if rng.random() < 0.5
                else "".join(rng.choice(string.digits) for _ in range(rng.choice((12, 20, 22)))))
    if note is None:
        note = rng.choice(CSV_NOTES)
    return (f"{rng.randint(10_000_000, 99_999_999)},C{rng.randint(100000, 999999)},"
            f"20{rng.randint(18, 24)}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d},"
            f"{rng.randint(1, 500000) / 100:.2f},{rng.choice(('USD', 'EUR', 'GBP', 'USD'))},"
            f"{rng.randint(1, 40)},SKU-{rng.randint(1000, 99999)}-{rng.choice('ABCDEFGH')},{phone},"
            f"{luhn_invalid_digits(rng, 16)},{tracking},{rng.choice(CSV_STATUSES)},{note}")


def _csv_block(rng: random.Random, nbytes: int) -> list[str]:
    lines: list[str] = []
    size = 0
    while size < nbytes:
        line = _csv_row(rng)
        lines.append(line)
        size += len(line) + 1
    return lines


def _prose_block(rng: random.Random, nbytes: int) -> list[str]:
    lines: list[str] = []
    size = 0
    while size < nbytes:
        words: list[str] = []
        for _ in range(rng.randint(3, 8)):  # sentences per paragraph
            sent = rng.choices(WORDS, k=rng.randint(6, 22))
            sent[0] = sent[0].capitalize()
            if len(sent) > 8 and rng.random() < 0.4:
                sent[len(sent) // 2] += ","
            sent[-1] += rng.choice((".", ".", ".", "?", "!"))
            words += sent
        cur = ""
        for w in words:  # wrap at ~76 columns
            if len(cur) + len(w) + 1 > 76:
                lines.append(cur)
                size += len(cur) + 1
                cur = w
            else:
                cur = f"{cur} {w}" if cur else w
        lines += [cur, ""]
        size += len(cur) + 2
    return lines


def _base64_block(rng: random.Random, nbytes: int) -> list[str]:
    lines: list[str] = []
    size = 0
    while size < nbytes:
        boundary = f"----=_Part_{rng.randint(0, 10**9)}_{rng.getrandbits(40):010x}"
        if rng.random() < 0.3:
            # JSON with a single long base64 value (an inline image), one long line.
            blob = base64.b64encode(rng.randbytes(rng.randint(1500, 12000))).decode()
            part = [f'{{"id":"{uuid4(rng)}","filename":"img_{rng.randint(1, 99999)}.png",'
                    f'"thumbnail":"data:image/png;base64,{blob}"}}']
        else:
            name = f"{rng.choice(('report', 'scan', 'invoice', 'photo', 'backup'))}-{rng.randint(1, 9999)}"
            raw = base64.b64encode(rng.randbytes(rng.randint(2000, 40000))).decode()
            part = [f"--{boundary}",
                    f"Content-Type: application/octet-stream; name=\"{name}.bin\"",
                    "Content-Transfer-Encoding: base64",
                    f"Content-Disposition: attachment; filename=\"{name}.bin\"",
                    ""]
            part += [raw[i:i + 76] for i in range(0, len(raw), 76)]
            part += [f"--{boundary}--", ""]
        lines += part
        size += sum(len(x) + 1 for x in part)
    return lines


# name: (file stem, extension, share of total bytes, template builder)
CATEGORIES = {
    "rust": ("src", "rs", 0.15, _rust_block),
    "python": ("tools", "py", 0.10, _python_block),
    "logs": ("app", "jsonl", 0.25, _log_block),
    "csv": ("orders", "csv", 0.20, _csv_block),
    "prose": ("notes", "txt", 0.15, _prose_block),
    "base64": ("mail", "eml", 0.15, _base64_block),
}
MIXED_FILE_RE = re.compile(r"^(src|tools|app|orders|notes|mail)_\d{2}\.(rs|py|jsonl|csv|txt|eml)$")

SECRET_KINDS = ("CREDIT_CARD_NUMBER", "US_SOCIAL_SECURITY_NUMBER", "EMAIL_ADDRESS",
                "AWS_ACCESS_KEY_ID", "GITHUB_TOKEN", "JSON_WEB_TOKEN", "IBAN_CODE")


def _secret(rng: random.Random, kind: str) -> str:
    if kind == "CREDIT_CARD_NUMBER":
        return format_card(rng, card_number(rng))
    if kind == "US_SOCIAL_SECURITY_NUMBER":
        return ssn(rng)
    if kind == "EMAIL_ADDRESS":
        return email(rng)
    if kind == "AWS_ACCESS_KEY_ID":
        return aws_access_key_id(rng)
    if kind == "GITHUB_TOKEN":
        return github_token(rng)
    if kind == "JSON_WEB_TOKEN":
        return jwt(rng)
    return format_iban(rng, iban(rng))


_FIELD = {"CREDIT_CARD_NUMBER": "card_number", "US_SOCIAL_SECURITY_NUMBER": "ssn",
          "EMAIL_ADDRESS": "user_email", "AWS_ACCESS_KEY_ID": "aws_access_key_id",
          "GITHUB_TOKEN": "github_token", "JSON_WEB_TOKEN": "authorization", "IBAN_CODE": "iban"}
_PROSE = {"CREDIT_CARD_NUMBER": "For the refund please use the card ending the usual way: {v}, same expiry as before.",
          "US_SOCIAL_SECURITY_NUMBER": "The applicant wrote her social security number as {v} on the form.",
          "EMAIL_ADDRESS": "Send the signed copy to {v} before the review.",
          "AWS_ACCESS_KEY_ID": "Somebody pasted the deploy key {v} into the wiki page again.",
          "GITHUB_TOKEN": "The CI token {v} was found in an old build log.",
          "JSON_WEB_TOKEN": "The session cookie was {v} when the error happened.",
          "IBAN_CODE": "Wire the deposit to IBAN {v} by Friday."}


def _secret_line(rng: random.Random, category: str, kind: str, value: str) -> str:
    field = _FIELD[kind]
    if category == "rust":
        return f'    let {field} = "{value}"; // TODO: remove before release'
    if category == "python":
        return f'    {field.upper()} = "{value}"  # FIXME hardcoded'
    if category == "logs":
        v = f"Bearer {value}" if kind == "JSON_WEB_TOKEN" else value
        return (f'{{"ts":"{iso_ts(rng, 1717200000 + rng.randint(0, 10_000_000))}","level":"WARN",'
                f'"service":"{rng.choice(SERVICES)}","msg":"request payload logged","{field}":"{v}",'
                f'"client_ip":"{ipv4(rng)}","request_id":"{uuid4(rng)}"}}')
    if category == "csv":
        label = {"CREDIT_CARD_NUMBER": "card", "US_SOCIAL_SECURITY_NUMBER": "SSN",
                 "EMAIL_ADDRESS": "email", "AWS_ACCESS_KEY_ID": "key", "GITHUB_TOKEN": "token",
                 "JSON_WEB_TOKEN": "session", "IBAN_CODE": "IBAN"}[kind]
        return _csv_row(rng, note=f"customer {label} {value}")
    if category == "prose":
        return _PROSE[kind].format(v=value)
    # base64 / mail
    header = {"JSON_WEB_TOKEN": f"Authorization: Bearer {value}", "EMAIL_ADDRESS": f"Reply-To: {value}"}
    return header.get(kind, f"X-{field.replace('_', '-').title()}: {value}")


class MixedSource:
    """Builds ~1 MiB chunks per category from a few pre-generated template variants."""

    VARIANTS = 2
    TEMPLATE_BYTES = MIB

    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)
        self.templates: dict[str, list[list[str]]] = {}
        for cat, (_, _, _, build) in CATEGORIES.items():
            self.templates[cat] = [build(random.Random(f"{seed}:{cat}:{v}"), self.TEMPLATE_BYTES)
                                   for v in range(self.VARIANTS)]

    def chunk(self, category: str) -> tuple[list[str], list[tuple[int, str, str]]]:
        """Returns (lines, planted) where planted holds (1-based line in chunk, kind, value)."""
        rng = self.rng
        base = rng.choice(self.templates[category])
        off = rng.randrange(len(base))
        lines = base[off:] + base[:off]
        nbytes = self.TEMPLATE_BYTES
        expected = nbytes / SECRET_EVERY_BYTES
        k = int(expected) + (1 if rng.random() < expected - int(expected) else 0)
        points = sorted(rng.randrange(len(lines) + 1) for _ in range(k))
        out: list[str] = []
        planted: list[tuple[int, str, str]] = []
        prev = 0
        for p in points:
            out.extend(lines[prev:p])
            prev = p
            kind = rng.choice(SECRET_KINDS)
            value = _secret(rng, kind)
            out.append(_secret_line(rng, category, kind, value))
            planted.append((len(out), kind, value))
        out.extend(lines[prev:])
        return out, planted


def write_mixed(outdir: str, size_mb: float, seed: int, manifest_path: str | None) -> None:
    start = time.perf_counter()
    os.makedirs(outdir, exist_ok=True)
    for name in os.listdir(outdir):  # stale files from an earlier run with another size
        if MIXED_FILE_RE.match(name):
            os.remove(os.path.join(outdir, name))
    src = MixedSource(seed)
    total_target = int(size_mb * MIB)
    max_file = 8 * MIB
    manifest: list[dict] = []
    written: list[tuple[str, int]] = []
    for cat, (stem, ext, share, _) in CATEGORIES.items():
        cat_bytes = int(total_target * share)
        if cat_bytes <= 0:
            continue
        nfiles = max(1, -(-cat_bytes // max_file))
        for fi in range(nfiles):
            target = cat_bytes // nfiles + (cat_bytes % nfiles if fi == nfiles - 1 else 0)
            name = f"{stem}_{fi:02d}.{ext}"
            path = os.path.join(outdir, name)
            size = 0
            line_base = 0
            with open(path, "wb") as fh:
                if cat == "csv":
                    header = (CSV_HEADER + "\n").encode()
                    fh.write(header)
                    size += len(header)
                    line_base = 1
                while size < target:
                    lines, planted = src.chunk(cat)
                    data = ("\n".join(lines) + "\n").encode()
                    nlines = len(lines)
                    if size + len(data) > target:  # cut the last chunk at a line boundary
                        cut = data.rfind(b"\n", 0, target - size)
                        data = data[:cut + 1] if cut >= 0 else b""
                        nlines = data.count(b"\n")
                    fh.write(data)
                    size += len(data)
                    for ln, kind, value in planted:
                        if ln <= nlines:
                            manifest.append({"file": name, "line": line_base + ln, "type": kind, "value": value})
                    line_base += nlines
                    if not data:
                        break
            written.append((path, size))
    if manifest_path is None:
        manifest_path = outdir.rstrip("/\\") + ".manifest.jsonl"
    with open(manifest_path, "w", encoding="utf-8") as fh:
        for m in manifest:
            fh.write(json.dumps(m) + "\n")
    total = 0
    for path, size in written:
        total += size
        print(f"{path}\t{size}")
    counts: dict[str, int] = {}
    for m in manifest:
        counts[m["type"]] = counts.get(m["type"], 0) + 1
    print(f"manifest\t{manifest_path}\t{len(manifest)} planted values: "
          + ", ".join(f"{k}={counts[k]}" for k in sorted(counts)))
    print(f"total\t{total} bytes in {len(written)} files ({total / MIB:.1f} MiB) "
          f"in {time.perf_counter() - start:.1f}s")


def write_big(outfile: str, size_mb: float, seed: int) -> None:
    start = time.perf_counter()
    src = MixedSource(seed)
    order = ("rust", "logs", "csv", "prose", "logs", "python", "base64", "csv")
    parts = []
    for cat in order:  # ~8 MiB mixed block, built once
        lines, _ = src.chunk(cat)
        parts.append("\n".join(lines) + "\n")
    block = "".join(parts).encode()
    del parts
    target = int(size_mb * MIB)
    to_stdout = outfile == "-"
    fh = sys.stdout.buffer if to_stdout else open(outfile, "wb")
    written = 0
    i = 0
    try:
        while written < target:
            data = f"=== dlp corpus block {i:06d} seed {seed} ===\n".encode() + block
            if written + len(data) >= target:
                data = data[:target - written]
                if data:
                    data = data[:-1] + b"\n"
            fh.write(data)
            written += len(data)
            i += 1
        fh.flush()
    except BrokenPipeError:
        try:
            sys.stdout = None  # type: ignore[assignment]
        finally:
            os._exit(0)
    finally:
        if not to_stdout:
            fh.close()
    msg = (f"{outfile}\t{written} bytes ({written / MIB:.1f} MiB, {i} blocks) "
           f"in {time.perf_counter() - start:.1f}s")
    print(msg, file=sys.stderr if to_stdout else sys.stdout)


PII_HEADER = "customer_id,first_name,last_name,email,phone,ssn,date_of_birth,card_number,iban,ip,notes"


def write_pii(outfile: str, size_mb: float, seed: int) -> None:
    """A customer-records export in which every row holds about eight PII values: the
    worst case for the engine (every row yields findings to validate, score and report)."""
    rng = random.Random(seed)
    target = int(size_mb * MIB)
    rows = [PII_HEADER]
    size = len(PII_HEADER) + 1
    while size < target:
        first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
        row = (f"{rng.randint(100000, 999999)},{first},{last},{email(rng, first, last)},{us_phone(rng)},"
               f"{ssn(rng)},19{rng.randint(40, 99)}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d},"
               f"{format_card(rng, card_number(rng))},{format_iban(rng, iban(rng))},{ipv4(rng)},"
               f"{rng.choice(CSV_NOTES)}")
        rows.append(row)
        size += len(row) + 1
    data = ("\n".join(rows) + "\n").encode()
    cut = data.rfind(b"\n", 0, target)
    data = data[:cut + 1]
    os.makedirs(os.path.dirname(outfile) or ".", exist_ok=True)
    with open(outfile, "wb") as fh:
        fh.write(data)
    records = data.count(b"\n") - 1
    print(f"{outfile}\t{len(data)} bytes, {records} records")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("demo", help="small realistic demo folder with EXPECTED.md")
    p.add_argument("outdir")
    p.add_argument("--seed", type=int, default=DEMO_SEED)
    p = sub.add_parser("mixed", help="mixed benchmark corpus (several files, sparse secrets)")
    p.add_argument("outdir")
    p.add_argument("--size-mb", type=float, default=64, help="total size in MiB (default 64)")
    p.add_argument("--seed", type=int, default=MIXED_SEED)
    p.add_argument("--manifest", help="where to write the planted-value manifest "
                   "(default: OUTDIR.manifest.jsonl, beside OUTDIR so scans of OUTDIR don't see it)")
    p = sub.add_parser("big", help="one large file, streamed with bounded memory")
    p.add_argument("outfile", help="output file, or - for stdout")
    p.add_argument("--size-mb", type=float, default=2048, help="size in MiB (default 2048)")
    p.add_argument("--seed", type=int, default=BIG_SEED)
    p = sub.add_parser("pii", help="PII-dense customer records (CSV), the engine's worst case")
    p.add_argument("outfile")
    p.add_argument("--size-mb", type=float, default=8, help="size in MiB (default 8)")
    p.add_argument("--seed", type=int, default=PII_SEED)
    args = ap.parse_args(argv)
    if args.cmd == "demo":
        write_demo(args.outdir, args.seed)
    elif args.cmd == "mixed":
        write_mixed(args.outdir, args.size_mb, args.seed, args.manifest)
    elif args.cmd == "pii":
        write_pii(args.outfile, args.size_mb, args.seed)
    else:
        write_big(args.outfile, args.size_mb, args.seed)
    return 0


if __name__ == "__main__":
    sys.exit(main())
