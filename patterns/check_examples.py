#!/usr/bin/env python3
"""Checks the detector files in this folder without building the Rust engine (stdlib only, Python 3.11+).

    python3 patterns/check_examples.py                 # every *.toml in patterns/
    python3 patterns/check_examples.py FILE.toml ...   # only these files
    python3 patterns/check_examples.py --scan PATH     # also print the findings for a file or folder

For every [[detector]] it checks:

* the fields, as dlp-core's loader does (required fields, no unknown fields, UPPER_SNAKE ids
  unique across files, categories, likelihoods, validators, hotword windows, require_hotword,
  min_entropy), and that there are at least 3 examples and 3 negative examples;
* each pattern: no syntax the Rust engine rejects or reads differently (backreferences,
  look-around, possessive or atomic groups, global inline flags, nested classes and class set
  operators), a bounded maximum length of at most 16 KiB, and no empty match;
* each example yields the detector at POSSIBLE or above, and no negative example does.

Findings are computed the way dlp-core's engine computes them (see dlp-core/src/engine.rs):
for each pattern independently, leftmost-first non-overlapping matches; the `value` group (or
the whole match) is the value; candidates are deduplicated by value span; then the validator,
min_entropy and exclusions drop candidates; a hotword in the window before/after the value
raises the likelihood one level (and is required when require_hotword is set); a validator pass
raises it one level; a known test value is VERY_UNLIKELY.

Python's `re` runs the patterns on bytes, where \\d \\w \\s \\b and (?i) are ASCII, as in the engine.
The one syntax difference that matters is `$`: in the Rust engine it is the end of the text only,
so it is translated to Python's `\\Z`.
"""

from __future__ import annotations

import base64
import binascii
import json
import math
import re
import sys
import tomllib
from pathlib import Path

try:  # Python 3.11+
    from re import _parser as sre_parse  # type: ignore[attr-defined]
except ImportError:  # pragma: no cover
    import sre_parse  # type: ignore[no-redef]

HERE = Path(__file__).resolve().parent
MAX_PATTERN_LEN = 16 * 1024
MAX_WINDOW = 1024
LEVELS = ["VERY_UNLIKELY", "UNLIKELY", "POSSIBLE", "LIKELY", "VERY_LIKELY"]
CATEGORIES = {"PII", "PCI", "PHI", "FINANCIAL", "GOVERNMENT_ID", "CREDENTIAL", "NETWORK"}
REQUIRED = {"id", "name", "category"}
KNOWN = REQUIRED | {
    "description", "validator", "min_entropy", "likelihood", "hotwords", "hotword_window_before",
    "hotword_window_after", "require_hotword", "exclusions", "test_values", "examples",
    "negative_examples", "column_patterns", "column_names", "dictionary", "dictionary_file", "patterns",
    "exclusions_before", "exclusions_after",
}

# ISO 13616 IBAN lengths, as in dlp-core/src/validate.rs.
IBAN_LENGTHS = {
    "AD": 24, "AE": 23, "AL": 28, "AT": 20, "AZ": 28, "BA": 20, "BE": 16, "BG": 22, "BH": 22,
    "BI": 27, "BR": 29, "BY": 28, "CH": 21, "CR": 22, "CY": 28, "CZ": 24, "DE": 22, "DJ": 27,
    "DK": 18, "DO": 28, "EE": 20, "EG": 29, "ES": 24, "FI": 18, "FK": 18, "FO": 18, "FR": 27,
    "GB": 22, "GE": 22, "GI": 23, "GL": 18, "GR": 27, "GT": 28, "HR": 21, "HU": 28, "IE": 22,
    "IL": 23, "IQ": 23, "IS": 26, "IT": 27, "JO": 30, "KW": 30, "KZ": 20, "LB": 28, "LC": 32,
    "LI": 21, "LT": 20, "LU": 20, "LV": 21, "LY": 25, "MC": 27, "MD": 24, "ME": 22, "MK": 19,
    "MN": 20, "MR": 27, "MT": 31, "MU": 30, "NI": 28, "NL": 18, "NO": 15, "OM": 23, "PK": 24,
    "PL": 28, "PS": 29, "PT": 25, "QA": 29, "RO": 24, "RS": 22, "RU": 33, "SA": 24, "SC": 31,
    "SD": 18, "SE": 24, "SI": 19, "SK": 24, "SM": 27, "SO": 23, "ST": 25, "SV": 28, "TL": 23,
    "TN": 24, "TR": 26, "UA": 29, "VA": 22, "VG": 24, "XK": 20, "YE": 30,
}

# Info types the starter library must define (Google Cloud DLP names where one exists).
REQUIRED_IDS = {
    "CREDIT_CARD_NUMBER", "US_SOCIAL_SECURITY_NUMBER", "IBAN_CODE", "EMAIL_ADDRESS", "PHONE_NUMBER",
    "IP_ADDRESS", "AWS_CREDENTIALS", "GCP_API_KEY", "GCP_CREDENTIALS", "GITHUB_TOKEN", "SLACK_TOKEN",
    "SLACK_WEBHOOK_URL", "STRIPE_API_KEY", "PRIVATE_KEY", "JSON_WEB_TOKEN", "AZURE_STORAGE_KEY",
    "PASSWORD",
}


# --- validators (dlp-core/src/validate.rs) -----------------------------------------------------

def luhn(value: bytes) -> bool:
    digits = [b - 48 for b in value if 48 <= b <= 57]
    total = 0
    for i, d in enumerate(reversed(digits)):
        if i % 2 == 1:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return len(digits) >= 2 and total % 10 == 0


def iban(value: bytes) -> bool:
    compact = bytes(b for b in value if b not in b" \t\n\r\x0c").upper()
    if len(compact) < 5 or not compact[:2].isalpha():
        return False
    if IBAN_LENGTHS.get(compact[:2].decode("ascii", "replace")) != len(compact):
        return False
    rem = 0
    for c in compact[4:] + compact[:4]:
        if 48 <= c <= 57:
            rem = (rem * 10 + (c - 48)) % 97
        elif 65 <= c <= 90:
            rem = (rem * 100 + (c - 55)) % 97
        else:
            return False
    return rem == 1


def us_ssn(value: bytes) -> bool:
    digits = bytes(b for b in value if 48 <= b <= 57).decode()
    if len(digits) != 9:
        return False
    area, group, serial = int(digits[:3]), int(digits[3:5]), int(digits[5:])
    return area != 0 and area != 666 and area < 900 and group != 0 and serial != 0


def _b64url_strict(part: bytes) -> bytes | None:
    """base64 URL_SAFE_NO_PAD decoding as the Rust base64 crate does it (canonical only)."""
    if not re.fullmatch(rb"[A-Za-z0-9_-]*", part) or len(part) % 4 == 1:
        return None
    try:
        raw = base64.urlsafe_b64decode(part + b"=" * (-len(part) % 4))
    except (binascii.Error, ValueError):
        return None
    if base64.urlsafe_b64encode(raw).rstrip(b"=") != part:
        return None  # non-zero trailing bits
    return raw


def jwt(value: bytes) -> bool:
    parts = value.split(b".")
    if len(parts) != 3 or not parts[1]:
        return False
    raw = _b64url_strict(parts[0].replace(b"=", b""))
    if raw is None:
        return False
    try:
        obj = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        return False
    return isinstance(obj, dict) and isinstance(obj.get("alg"), str)


# --- validators from the table in patterns/README.md --------------------------------------------
# Each follows the table: drop the separators (space, '-', '.', '/') unless the table says
# otherwise, then fail on anything of the wrong length or alphabet. Letters are compared
# case-insensitively (upper-cased first), as dlp-core/src/validate.rs does.

SEPARATORS = b" -./"


def _compact(value: bytes) -> bytes:
    return bytes(b for b in value if b not in SEPARATORS).upper()


def _digits(value: bytes, *lengths: int) -> list[int] | None:
    """The value's digits if, without separators, it is only digits and has one of `lengths`."""
    c = _compact(value)
    if not c.isdigit() or not c.isascii() or (lengths and len(c) not in lengths):
        return None
    return [b - 48 for b in c]


def aba_routing(value: bytes) -> bool:
    d = _digits(value, 9)
    if d is None:
        return False
    # All zeros is rejected too (as validate.rs does; the README table does not say so).
    return any(d) and (3 * (d[0] + d[3] + d[6]) + 7 * (d[1] + d[4] + d[7]) + (d[2] + d[5] + d[8])) % 10 == 0


def npi(value: bytes) -> bool:
    c = _compact(value)
    return _digits(value, 10) is not None and luhn(b"80840" + c)


def dea(value: bytes) -> bool:
    c = _compact(value)
    if len(c) != 9 or not c[:2].isalpha() or not c[:2].isascii() or not c[2:].isdigit():
        return False
    d = [b - 48 for b in c[2:]]
    return (d[0] + d[2] + d[4] + 2 * (d[1] + d[3] + d[5])) % 10 == d[6]


_VERHOEFF_D = [
    [0, 1, 2, 3, 4, 5, 6, 7, 8, 9], [1, 2, 3, 4, 0, 6, 7, 8, 9, 5], [2, 3, 4, 0, 1, 7, 8, 9, 5, 6],
    [3, 4, 0, 1, 2, 8, 9, 5, 6, 7], [4, 0, 1, 2, 3, 9, 5, 6, 7, 8], [5, 9, 8, 7, 6, 0, 4, 3, 2, 1],
    [6, 5, 9, 8, 7, 1, 0, 4, 3, 2], [7, 6, 5, 9, 8, 2, 1, 0, 4, 3], [8, 7, 6, 5, 9, 3, 2, 1, 0, 4],
    [9, 8, 7, 6, 5, 4, 3, 2, 1, 0],
]
_VERHOEFF_P = [
    [0, 1, 2, 3, 4, 5, 6, 7, 8, 9], [1, 5, 7, 6, 2, 8, 3, 0, 9, 4], [5, 8, 0, 3, 7, 9, 6, 1, 4, 2],
    [8, 9, 1, 6, 0, 4, 3, 5, 2, 7], [9, 4, 5, 3, 1, 2, 6, 8, 7, 0], [4, 2, 8, 6, 5, 7, 3, 9, 0, 1],
    [2, 7, 9, 3, 8, 0, 6, 4, 1, 5], [7, 0, 4, 6, 9, 1, 3, 2, 5, 8],
]


def verhoeff(value: bytes) -> bool:
    d = _digits(value)
    if d is None or len(d) < 2:
        return False
    c = 0
    for i, x in enumerate(reversed(d)):
        c = _VERHOEFF_D[c][_VERHOEFF_P[i % 8][x]]
    return c == 0


def uk_nhs(value: bytes) -> bool:
    d = _digits(value, 10)
    if d is None:
        return False
    c = 11 - sum(d[i] * (10 - i) for i in range(9)) % 11
    c = 0 if c == 11 else c
    return c != 10 and c == d[9]


def nl_bsn(value: bytes) -> bool:
    d = _digits(value, 9)
    if d is None or not any(d):
        return False
    return (sum(d[i] * (9 - i) for i in range(8)) - d[8]) % 11 == 0


def _mod11_br(d: list[int], weights: range) -> int:
    r = 11 - sum(x * w for x, w in zip(d, weights)) % 11
    return 0 if r >= 10 else r


def br_cpf(value: bytes) -> bool:
    d = _digits(value, 11)
    if d is None or len(set(d)) == 1:
        return False
    return _mod11_br(d[:9], range(10, 1, -1)) == d[9] and _mod11_br(d[:10], range(11, 1, -1)) == d[10]


def br_cnpj(value: bytes) -> bool:
    d = _digits(value, 14)
    if d is None or len(set(d)) == 1:
        return False

    def check(ds: list[int], weights: list[int]) -> int:
        r = sum(x * w for x, w in zip(ds, weights)) % 11
        return 0 if r < 2 else 11 - r

    w1 = [5, 4, 3, 2, 9, 8, 7, 6, 5, 4, 3, 2]
    return check(d[:12], w1) == d[12] and check(d[:13], [6] + w1) == d[13]


def cn_resident_id(value: bytes) -> bool:
    c = _compact(value)
    if len(c) != 18 or not c[:17].isdigit() or c[17:] not in b"0123456789X" or not c.isascii():
        return False
    s = sum((c[i] - 48) * (2 ** (17 - i) % 11) for i in range(17))
    check = (12 - s % 11) % 11
    return c[17:] == (b"X" if check == 10 else bytes([48 + check]))


_ES_LETTERS = b"TRWAGMYFPDXBNJZSQVHLCKE"


def es_dni(value: bytes) -> bool:
    c = _compact(value)
    if len(c) != 9 or not c.isascii():
        return False
    if c[0] in b"XYZ":
        number = bytes([48 + b"XYZ".index(c[0])]) + c[1:8]
    else:
        number = c[:8]
    if not number.isdigit() or not c[8:].isalpha():
        return False
    return _ES_LETTERS[int(number) % 23] == c[8]


def fr_nir(value: bytes) -> bool:
    c = _compact(value)
    if len(c) != 15 or not c.isascii() or c[0] not in b"1278":
        return False
    dept = c[5:7]
    if dept in (b"2A", b"2B"):
        number = c[:5] + (b"19" if dept == b"2A" else b"18") + c[7:13]
    elif dept.isdigit():
        number = c[:13]
    else:
        return False
    if not number.isdigit() or not c[13:].isdigit():
        return False
    return 97 - int(number) % 97 == int(c[13:])


def de_tax_id(value: bytes) -> bool:
    d = _digits(value, 11)
    if d is None or d[0] == 0:
        return False
    p = 10
    for x in d[:10]:
        s = (x + p) % 10
        s = 10 if s == 0 else s
        p = (2 * s) % 11
    return (11 - p) % 10 == d[10]


def au_tfn(value: bytes) -> bool:
    d = _digits(value, 9)
    return d is not None and sum(x * w for x, w in zip(d, [1, 4, 3, 7, 5, 8, 6, 9, 10])) % 11 == 0


def au_medicare(value: bytes) -> bool:
    d = _digits(value, 10, 11)
    if d is None or not 2 <= d[0] <= 6:
        return False
    return sum(x * w for x, w in zip(d, [1, 3, 7, 9, 1, 3, 7, 9])) % 10 == d[8]


def sg_nric(value: bytes) -> bool:
    c = _compact(value)
    if len(c) != 9 or not c.isascii() or c[0] not in b"STFG" or not c[1:8].isdigit():
        return False
    s = sum((c[1 + i] - 48) * w for i, w in enumerate([2, 7, 6, 5, 4, 3, 2]))
    if c[0] in b"TG":
        s += 4
    table = b"JZIHGFEDCBA" if c[0] in b"ST" else b"XWUTRQPNMLK"
    return c[8] == table[s % 11]


def kr_rrn(value: bytes) -> bool:
    d = _digits(value, 13)
    if d is None:
        return False
    s = sum(x * w for x, w in zip(d, [2, 3, 4, 5, 6, 7, 8, 9, 2, 3, 4, 5]))
    return (11 - s % 11) % 10 == d[12]


def jp_my_number(value: bytes) -> bool:
    d = _digits(value, 12)
    if d is None:
        return False
    body = d[:11]
    s = sum(body[-n] * (n + 1 if n <= 6 else n - 5) for n in range(1, 12))
    r = s % 11
    return (0 if r <= 1 else 11 - r) == d[11]


_CURP_ALPHABET = "0123456789ABCDEFGHIJKLMNÑOPQRSTUVWXYZ"


def mx_curp(value: bytes) -> bool:
    try:
        text = _compact(value).decode("utf-8")
    except UnicodeDecodeError:
        return False
    if len(text) != 18 or any(ch not in _CURP_ALPHABET for ch in text) or not text[17].isdigit():
        return False
    s = sum(_CURP_ALPHABET.index(text[i]) * (18 - i) for i in range(17))
    return (10 - s % 10) % 10 == int(text[17])


def pl_pesel(value: bytes) -> bool:
    d = _digits(value, 11)
    if d is None:
        return False
    s = sum(x * w for x, w in zip(d, [1, 3, 7, 9, 1, 3, 7, 9, 1, 3]))
    return (10 - s % 10) % 10 == d[10]


def no_fnr(value: bytes) -> bool:
    d = _digits(value, 11)
    if d is None:
        return False

    def k(ds: list[int], weights: list[int]) -> int | None:
        r = 11 - sum(x * w for x, w in zip(ds, weights)) % 11
        return 0 if r == 11 else (None if r == 10 else r)

    return (k(d[:9], [3, 7, 6, 1, 8, 9, 4, 5, 2]) == d[9]
            and k(d[:10], [5, 4, 3, 2, 7, 6, 5, 4, 3, 2]) == d[10])


_HETU_CHECK = b"0123456789ABCDEFHJKLMNPRSTUVWXY"


def fi_hetu(value: bytes) -> bool:
    # No separators dropped: the century sign is part of the value.
    value = value.upper()
    if len(value) != 11 or not value[:6].isdigit() or not value[7:10].isdigit():
        return False
    if value[6:7] not in (b"+", b"-", b"A", b"B", b"C", b"D", b"E", b"F", b"Y", b"X", b"W", b"V", b"U"):
        return False
    return _HETU_CHECK[(int(value[:6]) * 1000 + int(value[7:10])) % 31] == value[10]


def be_nrn(value: bytes) -> bool:
    d = _digits(value, 11)
    if d is None:
        return False
    c = _compact(value)
    first9, check = int(c[:9]), int(c[9:])
    return check == 97 - first9 % 97 or check == 97 - int(b"2" + c[:9]) % 97


def pt_nif(value: bytes) -> bool:
    d = _digits(value, 9)
    if d is None or d[0] == 0:
        return False
    r = 11 - sum(d[i] * (9 - i) for i in range(8)) % 11
    return (0 if r >= 10 else r) == d[8]


def ean13(value: bytes) -> bool:
    d = _digits(value, 13)
    if d is None:
        return False
    s = sum(x * (3 if i % 2 else 1) for i, x in enumerate(d[:12]))
    return (10 - s % 10) % 10 == d[12]


def _alnum_value(b: int) -> int | None:
    if 48 <= b <= 57:
        return b - 48
    if 65 <= b <= 90:
        return b - 55
    return None


def isin(value: bytes) -> bool:
    c = _compact(value)
    if (len(c) != 12 or not c.isascii() or not c[:2].isalpha() or not c[:2].isupper()
            or not c[11:].isdigit() or not all(_alnum_value(b) is not None for b in c[2:11])):
        return False
    return luhn("".join(str(_alnum_value(b)) for b in c).encode())


def cusip(value: bytes) -> bool:
    c = _compact(value)
    if len(c) != 9 or not c[8:].isdigit():
        return False
    s = 0
    for i, b in enumerate(c[:8], 1):
        v = {42: 36, 64: 37, 35: 38}.get(b, _alnum_value(b))  # '*' '@' '#'
        if v is None:
            return False
        if i % 2 == 0:
            v *= 2
        s += v // 10 + v % 10
    return (10 - s % 10) % 10 == c[8] - 48


def card_brand(d: bytes) -> str | None:
    """Brand of a card number (digits only) by issuer prefix and length."""
    n = len(d)
    p2, p3, p4 = int(d[:2] or 0), int(d[:3] or 0), int(d[:4] or 0)
    if p2 in (34, 37):
        return "AMEX" if n == 15 else None
    if 300 <= p3 <= 305 or p2 in (36, 38, 39):
        return "DINERS_CLUB" if 14 <= n <= 19 else None
    if 3528 <= p4 <= 3589:
        return "JCB" if 16 <= n <= 19 else None
    if d[:1] == b"4":
        return "VISA" if n in (13, 16, 19) else None
    if 51 <= p2 <= 55 or 2221 <= p4 <= 2720:
        return "MASTERCARD" if n == 16 else None
    if p4 in (5018, 5020, 5038, 5893, 6304, 6759, 6761, 6762, 6763):
        return "MAESTRO" if 12 <= n <= 19 else None
    if p4 == 6011 or 644 <= p3 <= 649 or p2 == 65:
        return "DISCOVER" if 16 <= n <= 19 else None
    if p2 == 62:
        return "UNIONPAY" if 16 <= n <= 19 else None
    return None


def payment_card(value: bytes) -> bool:
    d = bytes(b for b in value if 48 <= b <= 57)
    return card_brand(d) is not None and luhn(d)


_B62 = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"


def token_crc32(value: bytes) -> bool | None:
    """GitHub/npm 2021 tokens: CRC-32 of the 30 random characters, base62, 6 chars.
    None (not checked) for other shapes."""
    prefix, sep, body = value.rpartition(b"_")
    if not sep or prefix not in (b"ghp", b"gho", b"ghu", b"ghs", b"ghr", b"npm") \
            or len(body) != 36 or not body.isalnum() or not body.isascii():
        return None
    crc, out = binascii.crc32(body[:30]), b""
    for _ in range(6):
        crc, r = divmod(crc, 62)
        out = _B62[r:r + 1] + out
    return out == body[30:]


def phone(value: bytes) -> bool:
    """Valid in libphonenumber's plans (PyPI phonenumbers); without '+', a US number."""
    try:
        import phonenumbers
    except ImportError:
        sys.exit("check_examples.py needs the phonenumbers package: python3 -m pip install phonenumbers")
    text = value.decode("utf-8", "replace")
    try:
        number = phonenumbers.parse(text, None if text.startswith("+") else "US")
    except phonenumbers.NumberParseException:
        return False
    return phonenumbers.is_valid_number(number)


VALIDATE = {
    "luhn": luhn, "iban": iban, "us_ssn": us_ssn, "jwt": jwt, "aba_routing": aba_routing,
    "npi": npi, "dea": dea, "verhoeff": verhoeff, "uk_nhs": uk_nhs, "nl_bsn": nl_bsn,
    "br_cpf": br_cpf, "br_cnpj": br_cnpj, "cn_resident_id": cn_resident_id, "es_dni": es_dni,
    "fr_nir": fr_nir, "de_tax_id": de_tax_id, "au_tfn": au_tfn, "au_medicare": au_medicare,
    "sg_nric": sg_nric, "kr_rrn": kr_rrn, "jp_my_number": jp_my_number, "mx_curp": mx_curp,
    "pl_pesel": pl_pesel, "no_fnr": no_fnr, "fi_hetu": fi_hetu, "be_nrn": be_nrn,
    "pt_nif": pt_nif, "ean13": ean13, "isin": isin, "cusip": cusip,
    "payment_card": payment_card, "token_crc32": token_crc32, "phone": phone,
}
VALIDATORS = set(VALIDATE)


def entropy(value: bytes) -> float:
    if not value:
        return 0.0
    counts: dict[int, int] = {}
    for b in value:
        counts[b] = counts.get(b, 0) + 1
    n = len(value)
    return -sum(c / n * math.log2(c / n) for c in counts.values())


def test_key(value: bytes) -> bytes:
    return bytes(b for b in value if chr(b).isascii() and chr(b).isalnum()).lower()


# --- pattern checks ----------------------------------------------------------------------------

def rust_syntax_problems(pat: str) -> list[str]:
    """Constructs that the Rust regex syntax rejects or reads differently from Python."""
    problems = []
    i, in_class, class_start = 0, False, 0
    while i < len(pat):
        c = pat[i]
        if c == "\\":
            nxt = pat[i + 1] if i + 1 < len(pat) else ""
            if not in_class and nxt.isdigit() and nxt != "0":
                problems.append(f"backreference \\{nxt} at {i}")
            if nxt in "AZzG" and not in_class:
                problems.append(f"\\{nxt} at {i} differs between Python and Rust; use ^ or $")
            i += 2
            continue
        if in_class:
            if c == "[" and i > class_start:
                problems.append(f"unescaped [ inside a class at {i} (a nested class in Rust)")
            if pat.startswith(("&&", "--", "~~"), i) and i > class_start:
                problems.append(f"{pat[i:i+2]!r} inside a class at {i} (a set operation in Rust)")
            if c == "]" and i > class_start:
                in_class = False
        elif c == "[":
            in_class = True
            class_start = i + 1
            if pat.startswith("^", class_start):
                class_start += 1
            if pat.startswith("]", class_start):
                class_start += 1  # a leading ] is literal
                i = class_start
                continue
        elif c == "(" and pat.startswith("(?", i):
            rest = pat[i + 2:]
            if rest.startswith(("=", "!", "<=", "<!")):
                problems.append(f"look-around at {i}")
            elif rest.startswith((">",)):
                problems.append(f"atomic group at {i}")
            elif rest.startswith("P="):
                problems.append(f"named backreference at {i}")
            else:
                m = re.match(r"[a-zA-Z-]*([:)])", rest)
                if m and m.group(1) == ")" and (i != 0):
                    problems.append(f"inline flag group {pat[i:i+2+m.end()]} not at the start: use (?flags:...)")
        elif c in "*+":
            problems.append(f"unbounded {c} at {i}: use a bounded repeat such as {{1,64}}")
        i += 1
    return problems


def to_python(pat: str) -> bytes:
    """Rust `$` (end of text) -> Python `\\Z`; everything else is read the same way on bytes."""
    out, i, in_class = [], 0, False
    while i < len(pat):
        c = pat[i]
        if c == "\\":
            out.append(pat[i:i + 2])
            i += 2
            continue
        if in_class:
            if c == "]":
                in_class = False
        elif c == "[":
            in_class = True
            out.append(c)
            i += 1
            for lead in "^]":
                if i < len(pat) and pat[i] == lead:
                    out.append(lead)
                    i += 1
            continue
        elif c == "$":
            out.append(r"\Z")
            i += 1
            continue
        out.append(c)
        i += 1
    return "".join(out).encode("latin-1")


def width(pat: str) -> tuple[int, int]:
    return sre_parse.parse(pat).getwidth()


# --- structured context: table columns and keys (dlp-core/src/context.rs) -------------------------

NAME_OK = re.compile(rb"[A-Za-z_\x80-\xff][A-Za-z0-9 _\-./#()\x80-\xff]{0,63}")


def split_fields(line: bytes, delim: int) -> list[bytes]:
    out, cur, quoted = [], bytearray(), False
    for b in line:
        if b == 34:
            quoted = not quoted
        if b == delim and not quoted:
            out.append(bytes(cur))
            cur = bytearray()
        else:
            cur.append(b)
    out.append(bytes(cur))
    return out


def unquote(field: bytes) -> bytes:
    f = field.strip()
    if len(f) >= 2 and f[:1] == b'"' and f[-1:] == b'"':
        f = f[1:-1]
    return f.strip()


def table_header(data: bytes) -> tuple[int, list[bytes]] | None:
    """(delimiter, column names) when the first line is a header row and the second line has
    as many fields; None otherwise. `data` is a whole example."""
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    lines = data.split(b"\n")
    if len(lines) < 2 or (len(lines) == 2 and not lines[1]):
        return None
    header, row = lines[0].removesuffix(b"\r"), lines[1].removesuffix(b"\r")
    if len(lines[0]) > 65536 or len(lines[1]) > 65536:
        return None
    counts = [(len(split_fields(header, d)), i, d) for i, d in enumerate(b",\t;|")]
    delim = max(counts)[2]
    names = [unquote(f) for f in split_fields(header, delim)]
    if not 2 <= len(names) <= 1024 or len(split_fields(row, delim)) != len(names):
        return None
    if not all(NAME_OK.fullmatch(n) for n in names):
        return None
    return delim, names


def table_column(data: bytes, table, start: int) -> bytes | None:
    line_no_start = data.rfind(b"\n", 0, start)
    if line_no_start < 0 or start - (line_no_start + 1) >= 4096:
        return None  # the header line itself, or too far into a line
    index, quoted = 0, False
    for b in data[line_no_start + 1:start]:
        if b == 34:
            quoted = not quoted
        elif b == table[0] and not quoted:
            index += 1
    return table[1][index] if index < len(table[1]) else None


KEY_NAME = re.compile(rb"[A-Za-z0-9_.\-]{1,64}$")


def key_before(before: bytes) -> bytes | None:
    before = before[-128:].rsplit(b"\n", 1)[-1]
    s = before[:-1] if before[-1:] in (b'"', b"'") else before
    s = s.rstrip()
    key = None
    for sep in (b"=>", b":=", b":", b"="):
        if s.endswith(sep):
            rest = s[:-len(sep)].rstrip()
            rest = rest[:-1] if rest[-1:] in (b'"', b"'") else rest
            m = re.search(rb"[A-Za-z0-9_.\-]*$", rest)
            key = m.group() if m and 1 <= len(m.group()) <= 64 else None
            break
    else:
        if s.endswith(b">") and b"<" in s:
            tag = s[s.rfind(b"<") + 1:-1].split()[0] if s[s.rfind(b"<") + 1:-1].split() else b""
            key = tag if KEY_NAME.fullmatch(tag) else None
    return key if key and re.search(rb"[A-Za-z]", key) else None


def spaced(name: bytes) -> bytes:
    out = re.sub(rb"(?<=[a-z])(?=[A-Z])", b" ", name)
    return re.sub(rb"[_\-.]", b" ", out)


def name_key(name: bytes) -> bytes:
    return b" ".join(w for w in spaced(name).lower().split(b" ") if w)


def word_start_hit(hotword: bytes, hay: bytes, start: int, end: int) -> bool:
    """A (lowercased) hotword within hay[start:end] where a word starts: one beginning with a
    letter must not follow a letter."""
    i = hay.find(hotword, start, end)
    while i >= 0:
        if not hay[i:i + 1].isalpha() or i == 0 or not hay[i - 1:i].isalpha():
            return True
        i = hay.find(hotword, i + 1, end)
    return False


def dictionary_regex(terms: list[str]) -> re.Pattern:
    """Whole terms, ASCII case-insensitive, inner whitespace matching 1-4 whitespace bytes."""
    alts = []
    for t in terms:
        t = t.strip()
        inner = rb"\s{1,4}".join(re.escape(w.encode()) for w in t.split())
        start = rb"\b" if re.match(r"\w", t[0], re.ASCII) else b""
        end = rb"\b" if re.match(r"\w", t[-1], re.ASCII) else b""
        alts.append(start + inner + end)
    return re.compile(rb"(?i:" + b"|".join(alts) + rb")")


# --- the engine, in Python ---------------------------------------------------------------------

class Detector:
    def __init__(self, spec: dict, source: str):
        self.spec = spec
        self.source = source
        self.id = spec["id"]
        self.patterns = [re.compile(to_python(p)) for p in spec.get("patterns", [])]
        self.column_patterns = [re.compile(to_python(p)) for p in spec.get("column_patterns", [])]
        if spec.get("dictionary"):
            self.patterns.append(dictionary_regex(spec["dictionary"]))
        self.column_names = {name_key(n.encode()) for n in spec.get("column_names", [])}
        self.exclusions = [re.compile(to_python(x)) for x in spec.get("exclusions", [])]
        self.exclusions_before = [re.compile(to_python(x)) for x in spec.get("exclusions_before", [])]
        self.exclusions_after = [re.compile(to_python(x)) for x in spec.get("exclusions_after", [])]
        self.validator = spec.get("validator")
        self.min_entropy = spec.get("min_entropy")
        self.base = LEVELS.index(spec.get("likelihood", "POSSIBLE"))
        self.hotwords = [h.lower().encode() for h in spec.get("hotwords", [])]
        self.before = spec.get("hotword_window_before", 50)
        self.after = spec.get("hotword_window_after", 0)
        self.require = spec.get("require_hotword", False)
        self.tests = {test_key(t.encode()) for t in spec.get("test_values", [])}

    def names_hotword(self, name: bytes | None) -> bool:
        if name is None:
            return False
        forms = (name.lower(), spaced(name).lower())
        return any(word_start_hit(h, f, 0, len(f)) for h in self.hotwords for f in forms)

    def names_table_column(self, name: bytes | None) -> bool:
        return name is not None and name_key(name) in self.column_names or self.names_hotword(name)

    def column_pattern_applies(self, name: bytes | None) -> bool:
        if not self.column_names:
            return self.names_hotword(name)
        return name is not None and name_key(name) in self.column_names

    def candidates(self, data: bytes) -> list[tuple[int, int, bool]]:
        """(start, end, found by a column pattern)."""
        spans = set()
        table = table_header(data)
        column_rxs = []
        if table and any(self.column_pattern_applies(n) for n in table[1]):
            column_rxs = self.column_patterns
        for column_only, rxs in ((False, self.patterns), (True, column_rxs)):
            for rx in rxs:
                has_value = "value" in rx.groupindex
                for m in rx.finditer(data):
                    if has_value and m.start("value") >= 0:
                        spans.add((*m.span("value"), column_only))
                    else:
                        spans.add((*m.span(), column_only))
        return sorted(spans)

    def evaluate(self, data: bytes, start: int, end: int, column_only: bool = False) -> tuple[str | None, str]:
        """(likelihood or None if dropped, reason)."""
        value = data[start:end]
        if not value:
            return None, "empty value"
        # A validator says True (passed), False (failed) or None (nothing to check).
        verdict = VALIDATE[self.validator](value) if self.validator else None
        if verdict is False:
            return None, f"validator {self.validator} failed"
        if self.min_entropy is not None and entropy(value) < self.min_entropy:
            return None, f"entropy {entropy(value):.2f} < {self.min_entropy}"
        for x in self.exclusions:
            if x.search(value):
                return None, f"exclusion {x.pattern!r}"
        context_before = data[max(0, start - 32):start].rsplit(b"\n", 1)[-1]
        context_after = data[end:end + 32].split(b"\n", 1)[0]
        for x in self.exclusions_before:
            if x.search(context_before):
                return None, f"exclusion before {x.pattern!r}"
        for x in self.exclusions_after:
            if x.search(context_after):
                return None, f"exclusion after {x.pattern!r}"
        lower = data.lower()
        table = table_header(data)
        column = table_column(data, table, start) if table else None
        name = column if column is not None else key_before(data[:start])
        if column_only:
            hot = self.column_pattern_applies(column)
            if not hot:
                return None, "column pattern outside a hotword column"
        else:
            hot = any(word_start_hit(h, lower, max(0, start - self.before), start)
                      or word_start_hit(h, lower, end, end + self.after) for h in self.hotwords) or (
                self.names_table_column(column) if column is not None else self.names_hotword(name))
        if self.require and not hot:
            return None, "no hotword"
        if self.tests and test_key(value) in self.tests:
            return "VERY_UNLIKELY", "test value"
        level = min(self.base + (1 if verdict else 0) + (1 if hot else 0), len(LEVELS) - 1)
        return LEVELS[level], ("hotword" if hot else "no hotword")

    def findings(self, data: bytes) -> list[tuple[int, int, str | None, str]]:
        return [(s, e, *self.evaluate(data, s, e, c)) for s, e, c in self.candidates(data)]


def reported(level: str | None) -> bool:
    return level is not None and LEVELS.index(level) >= LEVELS.index("POSSIBLE")


# --- checks --------------------------------------------------------------------------------------

def check_spec(spec: dict, where: str) -> list[str]:
    errs = []
    for k in sorted(REQUIRED - spec.keys()):
        errs.append(f"{where}: missing required field {k}")
    for k in sorted(spec.keys() - KNOWN):
        errs.append(f"{where}: unknown field {k}")
    ident = spec.get("id", "")
    if not re.fullmatch(r"[A-Z][A-Z0-9_]*", ident):
        errs.append(f"{where}: id {ident!r} is not UPPER_SNAKE_CASE")
    if not str(spec.get("name", "")).strip():
        errs.append(f"{where}: name is empty")
    if spec.get("category") not in CATEGORIES:
        errs.append(f"{where}: category {spec.get('category')!r} unknown")
    if spec.get("likelihood", "POSSIBLE") not in LEVELS:
        errs.append(f"{where}: likelihood {spec.get('likelihood')!r} unknown")
    if spec.get("validator") is not None and spec["validator"] not in VALIDATORS:
        errs.append(f"{where}: validator {spec['validator']!r} unknown")
    for w in ("hotword_window_before", "hotword_window_after"):
        if not 0 <= spec.get(w, 0) <= MAX_WINDOW:
            errs.append(f"{where}: {w} out of range")
    if any(not h for h in spec.get("hotwords", [])):
        errs.append(f"{where}: empty hotword")
    if spec.get("require_hotword"):
        if not spec.get("hotwords"):
            errs.append(f"{where}: require_hotword without hotwords")
        if spec.get("hotword_window_before", 50) == 0 and spec.get("hotword_window_after", 0) == 0:
            errs.append(f"{where}: require_hotword with both windows 0")
    if "min_entropy" in spec and not 0 <= spec["min_entropy"] <= 8:
        errs.append(f"{where}: min_entropy out of range")
    if not spec.get("patterns") and not spec.get("dictionary"):
        errs.append(f"{where}: no patterns and no dictionary")
    for t in spec.get("dictionary", []):
        if not t.strip() or len(t.encode()) > 256:
            errs.append(f"{where}: dictionary term {t!r} empty or over 256 bytes")
    if len(spec.get("examples", [])) < 3:
        errs.append(f"{where}: fewer than 3 examples")
    if len(spec.get("negative_examples", [])) < 3:
        errs.append(f"{where}: fewer than 3 negative examples")
    if spec.get("column_patterns") and not spec.get("hotwords") and not spec.get("column_names"):
        errs.append(f"{where}: column_patterns without column_names or hotwords")
    for i, p in enumerate(spec.get("patterns", []) + spec.get("column_patterns", []), 1):
        for prob in rust_syntax_problems(p):
            errs.append(f"{where}: pattern {i}: {prob}")
        try:
            lo, hi = width(p)
            re.compile(to_python(p))
        except re.error as e:
            errs.append(f"{where}: pattern {i} does not compile: {e}")
            continue
        if lo == 0:
            errs.append(f"{where}: pattern {i} can match the empty string")
        if hi > MAX_PATTERN_LEN:
            errs.append(f"{where}: pattern {i} has no bounded length <= {MAX_PATTERN_LEN} (max {hi})")
    for i, x in enumerate(spec.get("exclusions", []) + spec.get("exclusions_before", []) + spec.get("exclusions_after", []), 1):
        for prob in rust_syntax_problems(x):
            errs.append(f"{where}: exclusion {i}: {prob}")
        try:
            re.compile(to_python(x))
        except re.error as e:
            errs.append(f"{where}: exclusion {i} does not compile: {e}")
    return errs


def short(text: str, n: int = 70) -> str:
    t = text.replace("\n", "\\n")
    return t if len(t) <= n else t[: n - 3] + "..."


def check_examples(d: Detector) -> list[str]:
    errs = []
    where = f"{d.source}: {d.id}"
    for ex in d.spec.get("examples", []):
        data = ex.encode()
        found = d.findings(data)
        if not any(reported(level) for _, _, level, _ in found):
            why = "; ".join(f"{data[s:e][:40]!r}: {level or 'dropped'} ({r})" for s, e, level, r in found)
            errs.append(f"{where}: example not found at POSSIBLE+: {short(ex)!r} [{why or 'no match'}]")
    for ex in d.spec.get("negative_examples", []):
        data = ex.encode()
        hits = [(s, e, level) for s, e, level, _ in d.findings(data) if reported(level)]
        if hits:
            s, e, level = hits[0]
            errs.append(f"{where}: negative example reported ({level}, {data[s:e][:50]!r}): {short(ex)!r}")
    return errs


def load(files: list[Path]) -> tuple[list[Detector], list[str]]:
    errs: list[str] = []
    detectors: list[Detector] = []
    seen: dict[str, str] = {}
    for f in files:
        try:
            doc = tomllib.loads(f.read_text(encoding="utf-8"))
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as e:
            errs.append(f"{f.name}: {e}")
            continue
        if set(doc) - {"detector"}:
            errs.append(f"{f.name}: unknown top-level keys {sorted(set(doc) - {'detector'})}")
        specs = doc.get("detector", [])
        if not specs:
            errs.append(f"{f.name}: no [[detector]] tables")
        for n, spec in enumerate(specs, 1):
            where = f"{f.name}: {spec.get('id') or '#' + str(n)}"
            if spec.get("dictionary_file"):
                lines = (f.parent / spec["dictionary_file"]).read_text(encoding="utf-8").splitlines()
                spec = dict(spec, dictionary=spec.get("dictionary", []) + [
                    t.strip() for t in lines if t.strip() and not t.strip().startswith("#")])
            problems = check_spec(spec, where)
            errs.extend(problems)
            ident = spec.get("id", "")
            if ident in seen:
                errs.append(f"{where}: id already defined in {seen[ident]}")
            seen[ident] = f.name
            if not problems:
                detectors.append(Detector(spec, f.name))
    return detectors, errs


def scan(detectors: list[Detector], path: Path) -> None:
    files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
    for f in files:
        data = f.read_bytes()
        for d in detectors:
            for s, e, level, _ in d.findings(data):
                if reported(level):
                    line = data.count(b"\n", 0, s) + 1
                    val = data[s:e].decode("utf-8", "replace")
                    print(f"{f}:{line}: {d.id} {level} {short(val, 40)!r}")


def main(argv: list[str]) -> int:
    scan_paths = []
    args = []
    it = iter(argv)
    for a in it:
        if a == "--scan":
            scan_paths.append(Path(next(it)))
        else:
            args.append(a)
    files = [Path(a) for a in args] or sorted(HERE.glob("*.toml"))
    detectors, errs = load(files)
    for d in detectors:
        errs.extend(check_examples(d))
    if not args:
        missing = REQUIRED_IDS - {d.id for d in detectors}
        if missing:
            errs.append(f"required detector ids missing: {sorted(missing)}")
    for p in scan_paths:
        scan(detectors, p)
    n_ex = sum(len(d.spec.get("examples", [])) for d in detectors)
    n_neg = sum(len(d.spec.get("negative_examples", [])) for d in detectors)
    for e in errs:
        print(e)
    print(f"{len(files)} files, {len(detectors)} detectors, {n_ex} examples, {n_neg} negative examples: "
          f"{'OK' if not errs else str(len(errs)) + ' problems'}")
    return 1 if errs else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
