#!/usr/bin/env python3
"""Labeled accuracy corpus for the DLP scanner (stdlib only, Python >= 3.9).

    python3 corpora/labeled.py OUTDIR [--seed N]

Writes a few hundred realistic documents under OUTDIR (emails, CSV exports, JSON logs, config
files, chat transcripts, letters and forms, source code, and clean files full of look-alikes)
and, beside them:

* OUTDIR/labels.jsonl: one JSON object per planted sensitive value,
  {"file": "emails/hr_onboarding_003.eml", "byte_start": 412, "byte_end": 423,
   "info_type": "US_SOCIAL_SECURITY_NUMBER", "also": []}
  Offsets are bytes of the file as written (UTF-8); `also` lists other detector ids that are
  equally correct for that span (a card inside track data, a GitHub token used as the password
  of a URL). They are not required, and findings of those types on the span are not false
  positives.
* OUTDIR/negatives.jsonl: one JSON object per planted hard negative (a Luhn-failing 16-digit
  number, an SSN with area 666, an IBAN with bad check digits, a UUID, a published test value,
  a placeholder...), {"file", "byte_start", "byte_end", "kind"}. Nothing there may be reported.

Every planted value is fake but valid: each one whose detector has a validator is checked with
the independent re-implementation in patterns/check_examples.py, and every hard negative that
imitates a checksummed type is checked to fail it. The output depends only on the seed.

Documents under csv_column_context/ hold values that only a CSV column header identifies (a
9-digit SSN under an `ssn` header, far below it): a scanner needs structured-data context to
find them.
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
import shutil
import string
import sys
import types
import zlib
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent / "patterns"))
try:  # check_examples.py imports tomllib (3.11+) for loading TOML only, which we do not use.
    import tomllib  # noqa: F401
except ImportError:  # pragma: no cover
    sys.modules["tomllib"] = types.ModuleType("tomllib")

import check_examples as ce  # noqa: E402
import generate as gen  # noqa: E402

SEED = 20240917

DIGITS = string.digits
UPPER = string.ascii_uppercase
LOWER = string.ascii_lowercase
ALNUM = string.ascii_letters + string.digits
HEXL = "0123456789abcdef"
B64 = ALNUM + "+/"
B64URL = ALNUM + "-_"
BASE32U = UPPER + "234567"
BASE32L = LOWER + "234567"
CONSONANTS = "BCDFGHJKLMNPQRSTVWXZ"

# --------------------------------------------------------------------------------------------
# Labeled values and hard negatives, embedded in text through markers
# --------------------------------------------------------------------------------------------

_MARKS: list = []
_MARK_RE = re.compile(r"@@(\d+)@@")


class V(str):
    """A labeled sensitive value. Its str value is a marker that Doc.add replaces by the text,
    so it can go into f-strings, CSV cells and json.dumps output unchanged."""

    def __new__(cls, text: str, info_type: str, *also: str) -> "V":
        obj = super().__new__(cls, f"@@{len(_MARKS)}@@")
        obj.text, obj.info_type, obj.also = text, info_type, tuple(a for a in also if a != info_type)
        _MARKS.append(obj)
        check_value(info_type, text)
        return obj


class N(str):
    """A hard negative: something that looks like a sensitive value but is not one."""

    def __new__(cls, text: str, kind: str) -> "N":
        obj = super().__new__(cls, f"@@{len(_MARKS)}@@")
        obj.text, obj.kind = text, kind
        _MARKS.append(obj)
        check_negative(kind, text)
        return obj


# Validators of the detectors (patterns/*.toml), from the independent checker.
VALIDATED = {
    "CREDIT_CARD_NUMBER": ce.payment_card, "GITHUB_TOKEN": ce.token_crc32, "NPM_TOKEN": ce.token_crc32, "IBAN_CODE": ce.iban, "US_SOCIAL_SECURITY_NUMBER": ce.us_ssn,
    "JSON_WEB_TOKEN": ce.jwt, "US_BANK_ROUTING_MICR": ce.aba_routing, "US_HEALTHCARE_NPI": ce.npi,
    "US_DEA_NUMBER": ce.dea, "INDIA_AADHAAR_INDIVIDUAL": ce.verhoeff,
    "UK_NATIONAL_HEALTH_SERVICE_NUMBER": ce.uk_nhs, "NETHERLANDS_BSN_NUMBER": ce.nl_bsn,
    "BRAZIL_CPF_NUMBER": ce.br_cpf, "BRAZIL_CNPJ_NUMBER": ce.br_cnpj,
    "CHINA_RESIDENT_ID_NUMBER": ce.cn_resident_id, "SPAIN_DNI_NUMBER": ce.es_dni,
    "SPAIN_NIE_NUMBER": ce.es_dni, "FRANCE_NIR": ce.fr_nir,
    "GERMANY_TAXPAYER_IDENTIFICATION_NUMBER": ce.de_tax_id, "AUSTRALIA_TAX_FILE_NUMBER": ce.au_tfn,
    "AUSTRALIA_MEDICARE_NUMBER": ce.au_medicare,
    "SINGAPORE_NATIONAL_REGISTRATION_ID_NUMBER": ce.sg_nric, "KOREA_RRN": ce.kr_rrn,
    "JAPAN_INDIVIDUAL_NUMBER": ce.jp_my_number, "MEXICO_CURP_NUMBER": ce.mx_curp,
    "POLAND_PESEL_NUMBER": ce.pl_pesel, "NORWAY_NI_NUMBER": ce.no_fnr,
    "FINLAND_NATIONAL_ID_NUMBER": ce.fi_hetu, "BELGIUM_NATIONAL_ID_CARD_NUMBER": ce.be_nrn,
    "PORTUGAL_NIF_NUMBER": ce.pt_nif, "SWITZERLAND_SOCIAL_SECURITY_NUMBER": ce.ean13,
    "ISIN": ce.isin, "CUSIP": ce.cusip, "CANADA_SOCIAL_INSURANCE_NUMBER": ce.luhn,
    "IMEI_HARDWARE_ID": ce.luhn, "SWEDEN_NATIONAL_ID_NUMBER": ce.luhn,
    "ISRAEL_IDENTITY_CARD_NUMBER": ce.luhn, "SOUTH_AFRICA_ID_NUMBER": ce.luhn,
    "CROATIA_PERSONAL_ID_NUMBER": ce.de_tax_id, "CANADA_OHIP": ce.luhn,
}
try:  # the phone validator needs PyPI phonenumbers (tests/run.sh installs it); without it, skip
    import phonenumbers  # noqa: F401
    VALIDATED["PHONE_NUMBER"] = ce.phone
except ImportError:  # pragma: no cover
    pass

# Published test values the detectors know (reported VERY_UNLIKELY, below the default threshold).
KNOWN_TEST_VALUES = {
    "4111111111111111", "4242424242424242", "4012888888881881", "5555555555554444",
    "378282246310005", "6011111111111117", "3530111333300000", "078051120", "219099999",
    "123456789", "021000021", "011000015", "111000025",
}


def _digits_of(text: str) -> str:
    return "".join(c for c in text if c.isdigit())


def check_value(info_type: str, text: str) -> None:
    fn = VALIDATED.get(info_type)
    # A validator says True (passed), False (failed) or None (nothing to check for this shape).
    if fn is not None and fn(text.encode()) is False:
        raise AssertionError(f"planted {info_type} fails its validator: {text!r}")
    if info_type in ("CREDIT_CARD_NUMBER", "US_SOCIAL_SECURITY_NUMBER", "US_BANK_ROUTING_MICR") \
            and _digits_of(text) in KNOWN_TEST_VALUES:
        raise AssertionError(f"planted {info_type} is a published test value")


# Hard-negative kinds that imitate a checksummed type: the imitation must fail the check.
MUST_FAIL = {
    "luhn_fail_card": ce.luhn, "ssn_invalid": ce.us_ssn, "iban_bad_check": ce.iban,
    "aba_bad_check": ce.aba_routing, "npi_bad_check": ce.npi, "cpf_bad_check": ce.br_cpf,
    "nhs_bad_check": ce.uk_nhs, "cn_id_bad_check": ce.cn_resident_id,
}
NEGATIVE_KINDS = set(MUST_FAIL) | {
    "published_test_value", "placeholder", "uuid", "md5", "sha1", "sha256", "git_sha",
    "version", "timestamp", "order_number", "tracking_number", "invoice_number", "isbn",
    "masked_card", "phone_like_id", "hex_id", "base64_blob", "date", "amount", "zip_code",
    "public_key", "sku", "build_number", "bad_check_digit", "message_id", "ean_barcode", "user_agent", "masked_value",
}


def bad_check(rng: random.Random, label: V) -> N:
    """The label's value with its last digit changed so that its detector's validator fails."""
    fn = VALIDATED[label.info_type]
    text = label.text
    pos = max(i for i, ch in enumerate(text) if ch.isdigit())
    for step in rng.sample(range(1, 10), 9):
        bad = text[:pos] + str((int(text[pos]) + step) % 10) + text[pos + 1:]
        if fn(bad.encode()) is False:
            return N(bad, "bad_check_digit")
    raise AssertionError(f"cannot corrupt {label.info_type}")


def check_negative(kind: str, text: str) -> None:
    assert kind in NEGATIVE_KINDS, kind
    fn = MUST_FAIL.get(kind)
    if fn is not None and fn(text.encode()):
        raise AssertionError(f"hard negative {kind} passes the check it must fail: {text!r}")


class Doc:
    """One document: text pieces, with label and negative spans in bytes."""

    def __init__(self, rel: str) -> None:
        self.rel = rel
        self.chunks: list[bytes] = []
        self.size = 0
        self.labels: list[dict] = []
        self.negatives: list[dict] = []

    def add(self, *parts: str) -> "Doc":
        for part in parts:
            pos = 0
            for m in _MARK_RE.finditer(part):
                self._raw(part[pos:m.start()])
                mark = _MARKS[int(m.group(1))]
                start = self.size
                self._raw(mark.text)
                if isinstance(mark, V):
                    self.labels.append({"file": self.rel, "byte_start": start, "byte_end": self.size,
                                        "info_type": mark.info_type, "also": list(mark.also)})
                else:
                    self.negatives.append({"file": self.rel, "byte_start": start,
                                           "byte_end": self.size, "kind": mark.kind})
                pos = m.end()
            self._raw(part[pos:])
        return self

    def line(self, *parts: str) -> "Doc":
        return self.add(*parts, "\n")

    def _raw(self, text: str) -> None:
        if text:
            b = text.encode("utf-8")
            self.chunks.append(b)
            self.size += len(b)

    def data(self) -> bytes:
        return b"".join(self.chunks)


def jdump(obj, indent=None) -> str:
    """json.dumps that leaves markers (and non-ASCII text) as they are."""
    return json.dumps(obj, indent=indent, ensure_ascii=False)


# --------------------------------------------------------------------------------------------
# Value generators: fake but valid
# --------------------------------------------------------------------------------------------

CARD_BRANDS = {
    "visa": (["4"], 16),
    "mastercard": (["51", "52", "53", "54", "55"], 16),
    "mastercard2": ([str(x) for x in range(2221, 2721)], 16),
    "amex": (["34", "37"], 15),
    "discover": (["6011"] + [f"65{d:02d}" for d in range(100)] + [str(x) for x in range(644, 650)], 16),
    "jcb": ([str(x) for x in range(3528, 3590)], 16),
    "diners": (["300", "301", "302", "303", "304", "305", "36", "38", "39"], 14),
    "unionpay": (["62"], 16),
    "maestro": (["5018", "5020", "5038", "5893", "6304", "6759", "6761", "6762", "6763"], 0),
}
BRAND_NAMES = {"visa": "Visa", "mastercard": "Mastercard", "mastercard2": "Mastercard",
               "amex": "American Express", "discover": "Discover", "jcb": "JCB",
               "diners": "Diners Club", "unionpay": "UnionPay", "maestro": "Maestro"}

IBAN_BBAN = {  # country: BBAN shape, n = digit, a = upper letter, c = upper alphanumeric
    "DE": "nnnnnnnnnnnnnnnnnn", "GB": "aaaannnnnnnnnnnnnn", "NL": "aaaannnnnnnnnn",
    "FR": "nnnnnnnnnncccccccccccnn", "ES": "nnnnnnnnnnnnnnnnnnnn", "IT": "annnnnnnnnncccccccccccc",
    "BE": "nnnnnnnnnnnn", "CH": "nnnnncccccccccccc", "AT": "nnnnnnnnnnnnnnnn",
    "PL": "nnnnnnnnnnnnnnnnnnnnnnnn", "SE": "nnnnnnnnnnnnnnnnnnnn", "IE": "aaaannnnnnnnnnnnnn",
    "PT": "nnnnnnnnnnnnnnnnnnnnn", "DK": "nnnnnnnnnnnnnn", "NO": "nnnnnnnnnnn",
    "FI": "nnnnnnnnnnnnnn", "LU": "nnnccccccccccccc", "CZ": "nnnnnnnnnnnnnnnnnnnn",
}
IBAN_BANKS = {"GB": ("NWBK", "BARC", "LOYD", "MIDL", "HBUK"), "NL": ("ABNA", "INGB", "RABO", "TRIO"),
              "IE": ("AIBK", "BOFI", "IPBS")}

ICD10 = [("E11.9", "type 2 diabetes mellitus without complications"), ("I10", "essential hypertension"),
         ("J45.909", "unspecified asthma, uncomplicated"), ("M54.5", "low back pain"),
         ("F32.9", "major depressive disorder, single episode"), ("K21.9", "gastro-esophageal reflux disease"),
         ("N39.0", "urinary tract infection"), ("E78.5", "hyperlipidemia"), ("J06.9", "acute upper respiratory infection"),
         ("I25.10", "atherosclerotic heart disease"), ("G43.909", "migraine, unspecified"),
         ("L40.0", "psoriasis vulgaris"), ("F41.1", "generalized anxiety disorder"), ("S52.501A", "fracture of radius"),
         ("E03.9", "hypothyroidism"), ("J18.9", "pneumonia, unspecified organism"), ("I48.91", "atrial fibrillation"),
         ("N18.3", "chronic kidney disease, stage 3"), ("K57.30", "diverticulosis of large intestine"),
         ("C50.911", "malignant neoplasm of right breast")]
DRUGS = ("metformin 500 mg", "lisinopril 10 mg", "atorvastatin 20 mg", "levothyroxine 50 mcg",
         "amlodipine 5 mg", "sertraline 50 mg", "omeprazole 20 mg", "albuterol inhaler")
CITIES = (("Springfield", "IL", "62704"), ("Portland", "OR", "97205"), ("Austin", "TX", "78701"),
          ("Columbus", "OH", "43215"), ("Madison", "WI", "53703"), ("Raleigh", "NC", "27601"),
          ("Denver", "CO", "80202"), ("Boise", "ID", "83702"), ("Tucson", "AZ", "85701"),
          ("Albany", "NY", "12207"), ("Savannah", "GA", "31401"), ("Fresno", "CA", "93721"))
STREETS = ("Maple Ave", "Oak St", "Pine Rd", "Cedar Ln", "Elm St", "Lakeview Dr", "Hillcrest Blvd",
           "Washington St", "Park Ave", "Sunset Blvd", "River Rd", "Mill St")
COMPANIES = ("Acme Logistics", "Northwind Traders", "Globex Corporation", "Initech", "Umbrella Health",
             "Stark Components", "Wayne Analytics", "Hooli Cloud", "Vandelay Imports", "Contoso Retail",
             "Fabrikam Foods", "Tailspin Travel", "Wide World Importers", "Blue Yonder Airlines")
BANK_NAMES = ("First Example Bank", "Harbor Federal Credit Union", "Summit National Bank",
              "Prairie Savings", "Coastal Community Bank", "Metro Trust")


class G:
    """Seeded generators of fake-but-valid values."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng

    # -- helpers ---------------------------------------------------------------------------
    def s(self, alphabet: str, n: int) -> str:
        return "".join(self.rng.choice(alphabet) for _ in range(n))

    def d(self, n: int) -> str:
        return self.s(DIGITS, n)

    def pick(self, seq):
        return self.rng.choice(seq)

    def chance(self, p: float) -> bool:
        return self.rng.random() < p

    def first(self) -> str:
        return self.pick(gen.FIRST_NAMES)

    def last(self) -> str:
        return self.pick(gen.LAST_NAMES)

    def name(self) -> str:
        return f"{self.first()} {self.last()}"

    def company(self) -> str:
        return self.pick(COMPANIES)

    def street(self) -> str:
        return f"{self.rng.randint(10, 9899)} {self.pick(STREETS)}"

    def city(self):
        return self.pick(CITIES)

    def date(self, y0=2019, y1=2025) -> str:
        return f"{self.rng.randint(y0, y1)}-{self.rng.randint(1, 12):02d}-{self.rng.randint(1, 28):02d}"

    def birth(self):
        return self.rng.randint(1950, 2003), self.rng.randint(1, 12), self.rng.randint(1, 28)

    def amount(self, lo=5, hi=5000) -> str:
        return f"{self.rng.uniform(lo, hi):.2f}"

    def ts(self, base=1717200000, spread=20_000_000) -> str:
        return gen.iso_ts(self.rng, base + self.rng.randint(0, spread))

    def uuid(self) -> str:
        return gen.uuid4(self.rng)

    def hexs(self, n: int) -> str:
        return self.s(HEXL, n)

    # -- payment cards ---------------------------------------------------------------------
    def card(self, brand: str | None = None) -> tuple[str, str]:
        brand = brand or self.pick(list(CARD_BRANDS))
        prefixes, length = CARD_BRANDS[brand]
        if brand == "maestro":
            length = self.pick((12, 13, 16, 16, 16, 18, 19))
        while True:
            body = self.pick(prefixes)
            body += self.d(length - len(body) - 1)
            number = body + gen.luhn_check_digit(body)
            if number not in KNOWN_TEST_VALUES and not re.search(r"(\d)\1{4}", number):
                return brand, number

    def fmt_card(self, number: str, style: str | None = None) -> str:
        style = style or self.pick(("plain", "space", "space", "dash"))
        if style == "plain":
            return number
        sep = " " if style == "space" else "-"
        if len(number) == 15:
            return sep.join((number[:4], number[4:10], number[10:]))
        if len(number) == 14:
            return sep.join((number[:4], number[4:10], number[10:]))
        if len(number) not in (16, 19):
            return number
        return sep.join(number[i:i + 4] for i in range(0, len(number), 4))

    def bad_card(self, style: str | None = None) -> N:
        """A 16-digit number with a card prefix that fails Luhn."""
        prefix = self.pick(("4", "51", "53", "55", "6011", "35"))
        body = prefix + self.d(15 - len(prefix))
        good = int(gen.luhn_check_digit(body))
        number = body + str((good + self.rng.randint(1, 9)) % 10)
        return N(self.fmt_card(number, style or self.pick(("plain", "space", "dash"))), "luhn_fail_card")

    def exp(self) -> str:
        return f"{self.rng.randint(1, 12):02d}/{self.rng.randint(26, 31)}"

    def cvv(self, brand="visa") -> str:
        return self.d(4) if brand == "amex" else self.d(3)

    def track1(self, number: str, last: str, first: str) -> str:
        exp = f"{self.rng.randint(26, 30)}{self.rng.randint(1, 12):02d}"
        return f"%B{number}^{last.upper()}/{first.upper()}^{exp}101{self.d(13)}000{self.d(3)}000000?"

    def track2(self, number: str) -> str:
        exp = f"{self.rng.randint(26, 30)}{self.rng.randint(1, 12):02d}"
        return f";{number}={exp}101{self.d(12)}?"

    # -- banking -------------------------------------------------------------------------
    def iban(self, country: str | None = None) -> str:
        country = country or self.pick(list(IBAN_BBAN))
        shape = IBAN_BBAN[country]
        bban = ""
        i = 0
        if country in IBAN_BANKS:
            bban = self.pick(IBAN_BANKS[country])
            i = 4
        for ch in shape[i:]:
            bban += self.pick(DIGITS if ch == "n" else UPPER if ch == "a" else UPPER + DIGITS + DIGITS)
        value = country + gen._iban_check(country, bban) + bban
        assert len(value) == ce.IBAN_LENGTHS[country]
        return value

    @staticmethod
    def group4(value: str) -> str:
        return " ".join(value[i:i + 4] for i in range(0, len(value), 4))

    def iban_v(self, country: str | None = None, grouped: bool | None = None) -> V:
        value = self.iban(country)
        if grouped is None:
            grouped = self.chance(0.5)
        return V(self.group4(value) if grouped else value, "IBAN_CODE")

    def bad_iban(self, country: str | None = None) -> N:
        value = self.iban(country)
        check = int(value[2:4])
        bad = value[:2] + f"{(check + self.rng.randint(1, 90)) % 97 or 13:02d}" + value[4:]
        if ce.iban(bad.encode()):
            bad = value[:2] + f"{(check + 1) % 100:02d}" + value[4:]
        return N(self.group4(bad) if self.chance(0.5) else bad, "iban_bad_check")

    def swift(self, country: str = "DE") -> str:
        bank = self.s(UPPER, 4)
        loc = self.s(UPPER, 1) + self.s(UPPER + DIGITS, 1)
        return bank + country + loc + (self.pick(("", "XXX", self.s(UPPER + DIGITS, 3))))

    def aba(self) -> str:
        while True:
            first2 = self.pick(["%02d" % x for x in list(range(1, 13)) + list(range(21, 33)) + list(range(61, 73))] + ["80"])
            d = [int(c) for c in first2 + self.d(6)]
            s = 3 * (d[0] + d[3] + d[6]) + 7 * (d[1] + d[4] + d[7]) + d[2] + d[5]
            value = "".join(map(str, d)) + str((-s) % 10)
            if value not in KNOWN_TEST_VALUES and ce.aba_routing(value.encode()):
                return value

    def bad_aba(self) -> N:
        good = self.aba()
        return N(good[:8] + str((int(good[8]) + self.rng.randint(1, 9)) % 10), "aba_bad_check")

    def bank_account(self) -> str:
        while True:
            v = self.pick("123456789") + self.d(self.rng.randint(8, 11))
            if len(set(v)) > 2 and not re.match(r"^(?:19|20)[0-9]{2}(?:0[1-9]|1[0-2])(?:0[1-9]|[12][0-9]|3[01])$", v):
                return v

    def cusip(self) -> str:
        while True:
            body = self.d(6) + self.s(UPPER + DIGITS, 2)
            for c in DIGITS:
                if ce.cusip((body + c).encode()):
                    return body + c

    def isin(self) -> str:
        while True:
            body = self.pick(("US", "DE", "GB", "FR", "NL", "CH")) + self.s(UPPER + DIGITS, 9)
            for c in DIGITS:
                if ce.isin((body + c).encode()):
                    return body + c

    # -- US identifiers ---------------------------------------------------------------------
    def ssn(self, sep="-") -> str:
        while True:
            v = gen.ssn(self.rng)
            if v.replace("-", "") not in KNOWN_TEST_VALUES and not re.match(r"^(\d)\1\1-\1\1-\1{4}$", v):
                return v.replace("-", sep)

    def bad_ssn(self, sep="-") -> N:
        area = self.pick(("000", "666", f"9{self.d(2)}"))
        group = self.pick((f"{self.rng.randint(1, 49):02d}", "00")) if area[0] == "9" else f"{self.rng.randint(1, 99):02d}"
        serial = f"{self.rng.randint(1, 9999):04d}"
        if area not in ("000", "666") and group != "00" and self.chance(0.3):
            area = "666"
        return N(f"{area}{sep}{group}{sep}{serial}", "ssn_invalid")

    def itin(self) -> str:
        group = self.pick([str(x) for x in list(range(50, 66)) + list(range(70, 89)) + [90, 91, 92] + list(range(94, 100))])
        return f"9{self.d(2)}-{group}-{self.rng.randint(1, 9999):04d}"

    def ein(self) -> str:
        prefix = self.pick(("01", "04", "10", "12", "20", "23", "27", "30", "36", "41", "45", "52",
                            "56", "61", "65", "71", "74", "81", "84", "86", "91", "94", "95"))
        return f"{prefix}-{self.d(7)}"

    def us_dl(self) -> str:
        return self.pick((self.s(UPPER, 1) + self.d(7), self.s(UPPER, 1) + self.d(12),
                          f"{self.s(UPPER, 1)}{self.d(3)}-{self.d(3)}-{self.d(2)}-{self.d(3)}-{self.d(1)}",
                          self.d(9), self.s(UPPER, 2) + self.d(6)))

    # -- passports --------------------------------------------------------------------------
    def passport(self, country: str = "US") -> str:
        if country == "US":
            return self.pick((self.d(9), self.pick("ABDEMNPRSTUVWXYZ") + self.d(8)))
        if country == "UK":
            return self.pick("12345") + self.d(8)
        if country == "DE":
            return self.pick("CFGHJK") + self.s("0123456789CFGHJKLMNPRTVWXYZ", 8)
        if country == "FR":
            return self.d(2) + self.s(UPPER, 2) + self.d(5)
        if country == "JP":
            return self.pick(("TZ", "TR", "MU", "MZ", "TK")) + self.d(7)
        if country == "CA":
            return self.s(UPPER, 2) + self.d(6)
        if country == "IN":
            return self.pick("ABCDEFGHJKLMNPRSTUVWY") + self.pick("123456789") + self.d(5) + self.pick("123456789")
        raise ValueError(country)

    # -- UK / Commonwealth ------------------------------------------------------------------
    def nino(self, spaced: bool | None = None) -> str:
        while True:
            p = self.pick("ABCEGHJKLMNOPRSTWXYZ") + self.pick("ABCEGHJKLMNPRSTWXYZ")
            if p not in ("BG", "GB", "KN", "NK", "NT", "TN", "ZZ"):
                break
        n = self.d(6)
        suffix = self.pick("ABCD")
        if spaced if spaced is not None else self.chance(0.5):
            return f"{p} {n[:2]} {n[2:4]} {n[4:]} {suffix}"
        return f"{p}{n}{suffix}"

    def nhs(self) -> str:
        while True:
            d = [int(c) for c in self.pick("4679") + self.d(8)]
            c = 11 - sum(d[i] * (10 - i) for i in range(9)) % 11
            c = 0 if c == 11 else c
            if c != 10:
                v = "".join(map(str, d)) + str(c)
                if v != "9434765919":
                    return f"{v[:3]} {v[3:6]} {v[6:]}"

    def bad_nhs(self) -> N:
        good = self.nhs().replace(" ", "")
        bad = good[:9] + str((int(good[9]) + self.rng.randint(1, 9)) % 10)
        if ce.uk_nhs(bad.encode()):
            bad = good[:9] + str((int(good[9]) + 1) % 10)
        return N(f"{bad[:3]} {bad[3:6]} {bad[6:]}", "nhs_bad_check")

    def sin(self) -> str:
        body = self.pick("1234567") + self.d(7)
        v = body + gen.luhn_check_digit(body)
        return self.pick((f"{v[:3]} {v[3:6]} {v[6:]}", f"{v[:3]}-{v[3:6]}-{v[6:]}", v))

    def tfn(self) -> str:
        w = [1, 4, 3, 7, 5, 8, 6, 9, 10]
        while True:
            d = [int(c) for c in self.d(8)]
            for last in range(10):
                if sum(x * y for x, y in zip(d + [last], w)) % 11 == 0:
                    v = "".join(map(str, d)) + str(last)
                    if v not in ("123456782", "876543210"):
                        return f"{v[:3]} {v[3:6]} {v[6:]}"

    def au_medicare(self) -> str:
        d = [int(c) for c in self.pick("23456") + self.d(7)]
        c = sum(x * w for x, w in zip(d, [1, 3, 7, 9, 1, 3, 7, 9])) % 10
        v = "".join(map(str, d)) + str(c) + self.pick("123456789")
        return f"{v[:4]} {v[4:9]} {v[9]}"

    def utr(self) -> str:
        v = self.pick("123456789") + self.d(9)
        return self.pick((v, f"{v[:5]} {v[5:]}"))

    def uk_driving(self, last: str, first: str, year: int, month: int, day: int, female: bool) -> str:
        sur = (re.sub("[^A-Z]", "", last.upper()) + "99999")[:5]
        mm = month + (50 if female else 0)
        inits = (first[0].upper() + "9")
        return f"{sur}{str(year)[2]}{mm:02d}{day:02d}{str(year)[3]}{inits}{self.d(1)}{self.s(UPPER, 2)}"

    # -- Europe ------------------------------------------------------------------------------
    def aadhaar(self) -> str:
        while True:
            body = self.pick("23456789") + self.d(10)
            for c in DIGITS:
                if ce.verhoeff((body + c).encode()):
                    v = body + c
                    return self.pick((f"{v[:4]} {v[4:8]} {v[8:]}", f"{v[:4]} {v[4:8]} {v[8:]}", v))

    def pan(self, last: str) -> str:
        return self.s(UPPER, 3) + "P" + last[0].upper() + self.d(4) + self.s(UPPER, 1)

    def de_tax_id(self) -> str:
        while True:
            body = self.pick("123456789") + self.d(9)
            for c in DIGITS:
                if ce.de_tax_id((body + c).encode()):
                    v = body + c
                    return self.pick((v, f"{v[:2]} {v[2:5]} {v[5:8]} {v[8:]}"))

    def fr_nir(self, spaced: bool | None = None) -> str:
        while True:
            sex = self.pick("12")
            yy = self.d(2)
            mm = f"{self.rng.randint(1, 12):02d}"
            dept = f"{self.rng.randint(1, 95):02d}"
            commune, order = self.d(3), f"{self.rng.randint(1, 999):03d}"
            number = sex + yy + mm + dept + commune + order
            key = 97 - int(number) % 97
            v = number + f"{key:02d}"
            if ce.fr_nir(v.encode()):
                if spaced if spaced is not None else self.chance(0.5):
                    return f"{sex} {yy} {mm} {dept} {commune} {order} {key:02d}"
                return v

    def es_dni(self) -> str:
        n = self.rng.randint(10_000_000, 79_999_999)
        return f"{n:08d}{'TRWAGMYFPDXBNJZSQVHLCKE'[n % 23]}"

    def es_nie(self) -> str:
        p = self.pick("XYZ")
        n = self.d(7)
        return f"{p}{n}{'TRWAGMYFPDXBNJZSQVHLCKE'[int(str('XYZ'.index(p)) + n) % 23]}"

    def it_cf(self, female: bool = False) -> str:
        year = self.rng.randint(40, 99)
        day = self.rng.randint(1, 28) + (40 if female else 0)
        body = (self.s(CONSONANTS, 3) + self.s(UPPER, 3) + f"{year:02d}" + self.pick("ABCDEHLMPRST")
                + f"{day:02d}" + self.pick("ABCDEFGHLM") + self.d(3))
        odd = dict(zip("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ",
                       [1, 0, 5, 7, 9, 13, 15, 17, 19, 21, 1, 0, 5, 7, 9, 13, 15, 17, 19, 21, 2, 4, 18,
                        20, 11, 3, 6, 8, 12, 14, 16, 10, 22, 25, 24, 23]))
        even = {c: (int(c) if c.isdigit() else ord(c) - 65) for c in DIGITS + UPPER}
        s = sum(odd[c] if i % 2 == 0 else even[c] for i, c in enumerate(body))
        return body + chr(65 + s % 26)

    def nl_bsn(self) -> str:
        while True:
            d = [int(c) for c in self.pick("123456789") + self.d(7)]
            c = sum(d[i] * (9 - i) for i in range(8)) % 11
            if c <= 9:
                v = "".join(map(str, d)) + str(c)
                if v not in ("111222333", "123456782"):
                    return v

    def cpf(self) -> str:
        while True:
            d = [int(c) for c in self.d(9)]
            if len(set(d)) == 1:
                continue
            d.append(ce._mod11_br(d, range(10, 1, -1)))
            d.append(ce._mod11_br(d, range(11, 1, -1)))
            v = "".join(map(str, d))
            if v not in ("11144477735", "12345678909"):
                return f"{v[:3]}.{v[3:6]}.{v[6:9]}-{v[9:]}"

    def cnpj(self) -> str:
        while True:
            body = self.d(8) + "0001"
            for a in DIGITS:
                for b in DIGITS:
                    v = body + a + b
                    if ce.br_cnpj(v.encode()) and v != "11222333000181":
                        return f"{v[:2]}.{v[2:5]}.{v[5:8]}/{v[8:12]}-{v[12:]}"

    def curp(self, female: bool = False) -> str:
        states = ("AS", "BC", "CH", "CL", "DF", "GR", "JC", "MC", "MN", "NL", "OC", "PL", "QT", "SL", "VZ", "YN")
        while True:
            y, m, dd = self.birth()
            body = (self.pick(CONSONANTS) + self.pick("AEIOU") + self.s(UPPER, 2) + f"{y % 100:02d}{m:02d}{dd:02d}"
                    + ("M" if female else "H") + self.pick(states) + self.s("BCDFGHJKLMNPQRSTVWXZ", 3)
                    + (self.d(1) if y < 2000 else self.s(UPPER, 1)))
            for c in DIGITS:
                if ce.mx_curp((body + c).encode()):
                    return body + c

    def cn_id(self) -> str:
        region = self.pick(("110105", "310104", "440305", "330106", "510107", "420106", "320102", "610113"))
        y, m, dd = self.birth()
        body = f"{region}{y}{m:02d}{dd:02d}{self.d(3)}"
        s = sum(int(body[i]) * (2 ** (17 - i) % 11) for i in range(17))
        check = (12 - s % 11) % 11
        return body + ("X" if check == 10 else str(check))

    def bad_cn_id(self) -> N:
        good = self.cn_id()
        alts = [c for c in "0123456789X" if c != good[-1]]
        return N(good[:17] + self.pick(alts), "cn_id_bad_check")

    def jp_my_number(self) -> str:
        while True:
            body = self.d(11)
            for c in DIGITS:
                v = body + c
                if ce.jp_my_number(v.encode()) and v != "123456789018":
                    return self.pick((f"{v[:4]} {v[4:8]} {v[8:]}", v, f"{v[:4]}-{v[4:8]}-{v[8:]}"))

    def kr_rrn(self) -> str:
        y, m, dd = self.birth()
        sexd = self.pick("12") if y < 2000 else self.pick("34")
        body = f"{y % 100:02d}{m:02d}{dd:02d}{sexd}{self.d(5)}"
        w = [2, 3, 4, 5, 6, 7, 8, 9, 2, 3, 4, 5]
        c = (11 - sum(int(x) * y2 for x, y2 in zip(body, w)) % 11) % 10
        v = body + str(c)
        return f"{v[:6]}-{v[6:]}"

    def sg_nric(self) -> str:
        p = self.pick("ST")
        n = self.d(7)
        s = sum(int(c) * w for c, w in zip(n, [2, 7, 6, 5, 4, 3, 2])) + (4 if p == "T" else 0)
        v = p + n + "JZIHGFEDCBA"[s % 11]
        return v if v != "S1234567D" else self.sg_nric()

    def pesel(self) -> str:
        y, m, dd = self.birth()
        mm = m + (20 if y >= 2000 else 0)
        body = f"{y % 100:02d}{mm:02d}{dd:02d}{self.d(4)}"
        s = sum(int(x) * w for x, w in zip(body, [1, 3, 7, 9, 1, 3, 7, 9, 1, 3]))
        return body + str((10 - s % 10) % 10)

    def se_pnr(self) -> str:
        y, m, dd = self.birth()
        body = f"{y % 100:02d}{m:02d}{dd:02d}{self.d(3)}"
        return f"{body[:6]}-{body[6:]}{gen.luhn_check_digit(body)}"

    def no_fnr(self) -> str:
        while True:
            y, m, dd = self.birth()
            body = f"{dd:02d}{m:02d}{y % 100:02d}{self.d(3)}"
            for a in DIGITS:
                for b in DIGITS:
                    if ce.no_fnr((body + a + b).encode()):
                        return body + a + b

    def fi_hetu(self) -> str:
        y, m, dd = self.birth()
        sign = "-" if y < 2000 else "A"
        n = f"{self.rng.randint(2, 899):03d}"
        dob = f"{dd:02d}{m:02d}{y % 100:02d}"
        return dob + sign + n + "0123456789ABCDEFHJKLMNPRSTUVWXY"[int(dob + n) % 31]

    def dk_cpr(self) -> str:
        y, m, dd = self.birth()
        return f"{dd:02d}{m:02d}{y % 100:02d}-{self.d(4)}"

    def be_nrn(self) -> str:
        y, m, dd = self.birth()
        first9 = f"{y % 100:02d}{m:02d}{dd:02d}{self.rng.randint(1, 997):03d}"
        n = int(first9) if y < 2000 else int("2" + first9)
        c = 97 - n % 97
        return f"{first9[:2]}.{first9[2:4]}.{first9[4:6]}-{first9[6:]}.{c:02d}"

    def ch_ahv(self) -> str:
        body = "756" + self.d(9)
        s = sum(int(x) * (3 if i % 2 else 1) for i, x in enumerate(body))
        v = body + str((10 - s % 10) % 10)
        return f"{v[:3]}.{v[3:7]}.{v[7:11]}.{v[11:]}"

    def pt_nif(self) -> str:
        while True:
            body = self.pick("1235689") + self.d(7)
            r = 11 - sum(int(body[i]) * (9 - i) for i in range(8)) % 11
            v = body + str(0 if r >= 10 else r)
            if v != "123456789":
                return v

    def ie_ppsn(self) -> str:
        d = self.d(7)
        s = sum(int(x) * w for x, w in zip(d, [8, 7, 6, 5, 4, 3, 2]))
        return d + "WABCDEFGHIJKLMNOPQRSTUV"[s % 23]

    def hkid(self) -> str:
        letter = self.pick(UPPER)
        digits = self.d(6)
        s = 36 * 9 + (ord(letter) - 55) * 8 + sum(int(x) * w for x, w in zip(digits, [7, 6, 5, 4, 3, 2]))
        c = (11 - s % 11) % 11
        return f"{letter}{digits}({'A' if c == 10 else c})"

    def th_id(self) -> str:
        body = self.pick("12345678") + self.d(11)
        c = (11 - sum(int(x) * (13 - i) for i, x in enumerate(body)) % 11) % 10
        v = body + str(c)
        return f"{v[0]}-{v[1:5]}-{v[5:10]}-{v[10:12]}-{v[12]}"

    def il_id(self) -> str:
        body = self.d(8)
        return body + gen.luhn_check_digit(body)

    def za_id(self) -> str:
        y, m, dd = self.birth()
        body = f"{y % 100:02d}{m:02d}{dd:02d}{self.d(4)}0{self.pick('89')}"
        return body + gen.luhn_check_digit(body)

    def tr_id(self) -> str:
        d = [int(c) for c in self.pick("123456789") + self.d(8)]
        d10 = ((d[0] + d[2] + d[4] + d[6] + d[8]) * 7 - (d[1] + d[3] + d[5] + d[7])) % 10
        d.append(d10)
        d.append(sum(d) % 10)
        return "".join(map(str, d))

    def cl_rut(self) -> str:
        n = self.rng.randint(5_000_000, 25_999_999)
        s = sum(int(x) * w for x, w in zip(reversed(str(n)), [2, 3, 4, 5, 6, 7] * 2))
        c = 11 - s % 11
        dv = "0" if c == 11 else "K" if c == 10 else str(c)
        t = f"{n:,}".replace(",", ".")
        return f"{t}-{dv}"

    # -- health ------------------------------------------------------------------------------
    def npi(self) -> str:
        while True:
            body = self.pick("12") + self.d(8)
            for c in DIGITS:
                if ce.npi((body + c).encode()) and body + c != "1234567893":
                    return body + c

    def bad_npi(self) -> N:
        good = self.npi()
        bad = good[:9] + str((int(good[9]) + self.rng.randint(1, 9)) % 10)
        return N(bad, "npi_bad_check")

    def dea(self, last: str) -> str:
        while True:
            p = self.pick("ABFGM") + last[0].upper()
            d = [int(c) for c in self.d(6)]
            c = (d[0] + d[2] + d[4] + 2 * (d[1] + d[3] + d[5])) % 10
            v = p + "".join(map(str, d)) + str(c)
            if v != "AB1234563" and re.match(r"[ABCDEFGHJKLMPRSTUX][A-Z]", v):
                return v

    def mrn(self) -> str:
        return self.pick((self.d(8), self.d(7), "MR" + self.d(7), self.d(10)))

    def mbi(self) -> str:
        L = "ACDEFGHJKMNPQRTUVWXY"
        LN = L + DIGITS
        v = (self.pick("123456789") + self.pick(L) + self.pick(LN) + self.d(1) + self.pick(L) + self.pick(LN)
             + self.d(1) + self.pick(L) + self.pick(L) + self.d(2))
        return self.pick((v, f"{v[:4]}-{v[4:7]}-{v[7:]}"))

    def ndc(self) -> str:
        return self.pick((f"{self.d(5)}-{self.d(3)}-{self.d(2)}", f"{self.d(4)}-{self.d(4)}-{self.d(2)}",
                          f"{self.d(5)}-{self.d(4)}-{self.d(1)}"))

    def icd10(self):
        return self.pick(ICD10)

    # -- contact / network -------------------------------------------------------------------
    def email(self, first: str | None = None, last: str | None = None) -> str:
        return gen.email(self.rng, first, last)

    def phone(self) -> str:
        area = self.pick((212, 310, 415, 617, 312, 206, 512, 303, 404, 503, 702, 919))
        line = f"555-01{self.rng.randint(0, 99):02d}"
        n = line.replace("-", "")
        return self.pick((f"({area}) {line}", f"{area}-{line}", f"+1 {area} {n[:3]} {n[3:]}",
                          f"{area}.{n[:3]}.{n[3:]}", f"1-{area}-{line}"))

    def intl_phone(self, country: str | None = None) -> str:
        d = self.d
        by_country = {
            "UK": lambda: f"+44 20 7946 0{d(3)}", "IE": lambda: f"+353 1 {d(3)} {d(4)}",
            "FR": lambda: f"+33 1 {d(2)} {d(2)} {d(2)} {d(2)}", "DE": lambda: f"+49 30 {d(4)} {d(4)}",
            "ES": lambda: f"+34 91 {d(3)} {d(2)} {d(2)}", "IT": lambda: f"+39 06 {d(4)} {d(4)}",
            "NL": lambda: f"+31 20 {d(3)} {d(4)}", "BE": lambda: f"+32 2 {self.pick('2345678')}{d(2)} {d(2)} {d(2)}",
            "CH": lambda: f"+41 44 {d(3)} {d(2)} {d(2)}", "PT": lambda: f"+351 21 {d(3)} {d(4)}",
            "PL": lambda: f"+48 22 {d(3)} {d(2)} {d(2)}", "SE": lambda: f"+46 8 {d(3)} {d(3)} {d(2)}",
            "NO": lambda: f"+47 22 {d(2)} {d(2)} {d(2)}", "DK": lambda: f"+45 33 {self.pick('123456789')}{d(1)} {d(2)} {d(2)}",
            "FI": lambda: f"+358 9 {self.pick('12345678')}{d(3)} {d(3)}", "BR": lambda: f"+55 11 9{d(4)}-{d(4)}",
            "MX": lambda: f"+52 55 {d(4)} {d(4)}", "IN": lambda: f"+91 98{d(3)} {d(5)}",
            "JP": lambda: f"+81 3-{self.pick('123456789')}{d(3)}-{d(4)}", "KR": lambda: f"+82 2-{self.pick('23456789')}{d(3)}-{d(4)}",
            "SG": lambda: f"+65 6{self.pick('12345')}{d(2)} {d(4)}", "CN": lambda: f"+86 138 {d(4)} {d(4)}",
            "HK": lambda: f"+852 2{self.pick('3456789')}{d(2)} {d(4)}", "AU": lambda: f"+61 2 {self.pick('89')}{d(3)} {d(4)}",
            "ZA": lambda: f"+27 21 {d(3)} {d(4)}", "TR": lambda: f"+90 212 {d(3)} {d(2)} {d(2)}",
            "IL": lambda: f"+972 3-{d(3)}-{d(4)}", "TH": lambda: f"+66 2 {d(3)} {d(4)}",
            "CL": lambda: f"+56 2 2{d(3)} {d(4)}", "CA": lambda: f"+1 416 555 01{d(2)}",
        }
        return by_country[country if country in by_country else self.pick(sorted(by_country))]()

    def ipv4(self) -> str:
        net = self.pick(("192.0.2", "198.51.100", "203.0.113", "10.12", "172.16", "10.0", "192.168.1",
                         "172.20", "100.64"))
        if net.count(".") == 1:
            return f"{net}.{self.rng.randint(0, 255)}.{self.rng.randint(1, 254)}"
        return f"{net}.{self.rng.randint(1, 254)}"

    def ipv6(self) -> str:
        h = lambda: f"{self.rng.randint(1, 0xffff):x}"  # noqa: E731
        return self.pick((f"2001:db8:{h()}:{h()}::{h()}", f"2001:db8::{h()}:{h()}",
                          f"fe80::{h()}:{h()}:{h()}:{h()}", f"2001:db8:{h()}:{h()}:{h()}:{h()}:{h()}:{h()}"))

    def mac(self) -> str:
        b = [self.rng.randint(0, 255) for _ in range(6)]
        b[0] &= 0xFC
        style = self.rng.randint(0, 3)
        if style == 0:
            return ":".join(f"{x:02x}" for x in b)
        if style == 1:
            return ":".join(f"{x:02X}" for x in b)
        if style == 2:
            return "-".join(f"{x:02X}" for x in b)
        h = "".join(f"{x:02x}" for x in b)
        return f"{h[:4]}.{h[4:8]}.{h[8:]}"

    def imei(self) -> str:
        body = self.pick(("35", "86", "01", "49")) + self.d(12)
        return body + gen.luhn_check_digit(body)

    def dob(self) -> str:
        y, m, dd = self.birth()
        months = ("January", "February", "March", "April", "May", "June", "July", "August",
                  "September", "October", "November", "December")
        return self.pick((f"{y}-{m:02d}-{dd:02d}", f"{m:02d}/{dd:02d}/{y}", f"{dd} {months[m - 1]} {y}",
                          f"{months[m - 1]} {dd}, {y}", f"{dd:02d}.{m:02d}.{y}"))

    # -- credentials -------------------------------------------------------------------------
    def aws_key_id(self, prefix="AKIA") -> str:
        while True:
            v = prefix + self.s(BASE32U, 16)
            if ce.entropy(v.encode()) >= 3.0:
                return v

    def aws_secret(self) -> str:
        return self.s(B64, 40)

    def aws_session_token(self) -> str:
        return "IQoJb3JpZ2luX2Vj" + self.s(B64, self.rng.randint(280, 400))

    def gcp_api_key(self) -> str:
        return "AIza" + self.s(ALNUM + "-_", 35)

    def github(self, prefix="ghp") -> str:
        body = self.s(ALNUM, 30)
        return f"{prefix}_" + body + gen._base62(zlib.crc32(body.encode())).rjust(6, "0")

    def github_pat(self) -> str:
        return "github_pat_" + self.s(ALNUM, 22) + "_" + self.s(ALNUM, 59)

    def npm(self) -> str:
        return self.github("npm")

    def gitlab(self, prefix="glpat") -> str:
        return f"{prefix}-" + self.s(ALNUM + "_-", 20)

    def slack_bot(self) -> str:
        return f"xoxb-{self.d(12)}-{self.d(13)}-{self.s(ALNUM, 24)}"

    def slack_user(self) -> str:
        return f"xoxp-{self.d(12)}-{self.d(12)}-{self.d(13)}-{self.s(HEXL, 32)}"

    def slack_webhook(self) -> str:
        return (f"https://hooks.slack.com/services/T{self.s(UPPER + DIGITS, 8)}/B{self.s(UPPER + DIGITS, 10)}/"
                f"{self.s(ALNUM, 24)}")

    def stripe(self, kind="sk") -> str:
        return f"{kind}_live_" + self.s(ALNUM, self.pick((24, 99)))

    def pem(self, kind: str = "RSA") -> str:
        r = self.rng
        if kind == "RSA":
            return gen.pem_rsa_private_key(r, lines=r.randint(20, 25)).rstrip("\n")
        if kind == "PKCS8":
            der = bytes.fromhex("308204bd020100300d06092a864886f70d0101010500048204a7") + r.randbytes(1180)
            label = "PRIVATE KEY"
        elif kind == "EC":
            der = bytes.fromhex("30770201010420") + r.randbytes(32) + bytes.fromhex("a00a06082a8648ce3d030107a144034200") + r.randbytes(65)
            label = "EC PRIVATE KEY"
        elif kind == "OPENSSH":
            der = b"openssh-key-v1\x00\x00\x00\x00\x04none\x00\x00\x00\x04none\x00\x00\x00\x00\x00\x00\x00\x01\x00\x00\x003\x00\x00\x00\x0bssh-ed25519" + r.randbytes(300)
            b64 = base64.b64encode(der).decode()
            body = "\n".join(b64[i:i + 70] for i in range(0, len(b64), 70))
            return f"-----BEGIN OPENSSH PRIVATE KEY-----\n{body}\n-----END OPENSSH PRIVATE KEY-----"
        elif kind == "PGP":
            raw = bytes.fromhex("9503") + r.randbytes(900)
            b64 = base64.b64encode(raw).decode()
            body = "\n".join(b64[i:i + 64] for i in range(0, len(b64), 64))
            crc = base64.b64encode(zlib.crc32(raw).to_bytes(4, "big")[1:]).decode()
            return (f"-----BEGIN PGP PRIVATE KEY BLOCK-----\nVersion: GnuPG v2\n\n{body}\n={crc}\n"
                    f"-----END PGP PRIVATE KEY BLOCK-----")
        else:
            raise ValueError(kind)
        b64 = base64.b64encode(der).decode()
        body = "\n".join(b64[i:i + 64] for i in range(0, len(b64), 64))
        return f"-----BEGIN {label}-----\n{body}\n-----END {label}-----"

    def jwt(self) -> str:
        if self.chance(0.7):
            return gen.jwt(self.rng)
        header = {"alg": "RS256", "typ": "JWT", "kid": self.hexs(16)}
        payload = {"iss": "https://auth.example.com/", "sub": f"auth0|{self.hexs(24)}", "aud": "api.example.com",
                   "iat": 1717000000 + self.rng.randint(0, 9_000_000), "scope": "openid profile email"}
        payload["exp"] = payload["iat"] + 86400
        return (gen._b64url(json.dumps(header, separators=(",", ":")).encode()) + "."
                + gen._b64url(json.dumps(payload, separators=(",", ":")).encode()) + "."
                + gen._b64url(self.rng.randbytes(256)))

    def password(self) -> str:
        words = ("Winter", "Summer", "Falcon", "Harbor", "Copper", "Maple", "Orbit", "Velvet", "Granite", "Nimbus")
        return self.pick((
            f"{self.pick(words)}{self.rng.randint(10, 99)}{self.pick('!#$%&*?')}{self.s(ALNUM, 4)}",
            self.s(ALNUM, 16),
            f"{self.s(ALNUM, 6)}-{self.s(ALNUM, 6)}-{self.s(ALNUM, 4)}",
            f"{self.pick(words).lower()}.{self.pick(words).lower()}.{self.rng.randint(100, 999)}",
            self.s(ALNUM + "!@#%^*_+=", 20),
        ))

    def url_password(self) -> str:
        return self.pick((self.s(ALNUM, 18), f"{self.s(ALNUM, 8)}-{self.s(ALNUM, 8)}", self.s(ALNUM + "_", 24)))

    def sas_url(self):
        """A blob URL with a shared access signature; returns (text before sig, sig, text after)."""
        acct = f"st{self.s(LOWER, 8)}"
        se = f"{self.rng.randint(2025, 2027)}-{self.rng.randint(1, 12):02d}-{self.rng.randint(1, 28):02d}T00:00:00Z"
        sig = base64.b64encode(self.rng.randbytes(32)).decode().replace("+", "%2B").replace("/", "%2F").replace("=", "%3D")
        head = (f"https://{acct}.blob.core.windows.net/{self.pick(('backups', 'exports', 'invoices'))}/"
                f"{self.pick(('db.bak', 'q3.csv', 'archive.zip'))}?sv=2022-11-02&ss=b&srt=o&sp=r&se={se}&spr=https&sig=")
        return head, sig, ""

    def b64key(self, nbytes: int) -> str:
        return base64.b64encode(self.rng.randbytes(nbytes)).decode()


# Detectors that only a key/column name identifies in structured data are exercised in
# csv_column_context/; everything else appears with the context a real document gives it.
SECRET_ALSO = ("GENERIC_API_KEY", "PASSWORD")
PASSPORT_TYPES = {
    "PASSPORT": r"[A-Z]{1,2}[0-9]{6,8}|[0-9]{9}",
    "GERMANY_PASSPORT": r"[CFGHJK][0-9CFGHJKLMNPRTVWXYZ]{8}",
    "FRANCE_PASSPORT": r"[0-9]{2}[A-Z]{2}[0-9]{5}",
    "JAPAN_PASSPORT": r"[A-Z]{2}[0-9]{7}",
    "CANADA_PASSPORT": r"[A-Z]{2}[0-9]{6}",
    "INDIA_PASSPORT": r"[A-PR-WY][1-9][0-9]{5}[1-9]",
}


def passport_v(value: str, info_type: str = "PASSPORT", *also: str) -> V:
    """A passport number. The generic and the country passport detectors all key on the word
    "passport"; a number in a country's format is as much a passport number to them as to the
    primary type, so those types are listed in `also`."""
    fits = [t for t, rx in PASSPORT_TYPES.items() if re.fullmatch(rx, value)]
    return V(value, info_type, *fits, *also)


def secret(value: str, info_type: str, *also: str) -> V:
    """A credential: a generic api-key or password finding on it is as correct as the specific one."""
    return V(value, info_type, *also, *SECRET_ALSO)


# --------------------------------------------------------------------------------------------
# The corpus
# --------------------------------------------------------------------------------------------

EMAIL = "EMAIL_ADDRESS"
PHONE = "PHONE_NUMBER"
IP = "IP_ADDRESS"


class Corpus:
    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)
        self.g = G(self.rng)
        self.docs: list[Doc] = []
        self.counters: dict[str, int] = {}

    def doc(self, folder: str, stem: str, ext: str) -> Doc:
        key = f"{folder}/{stem}"
        n = self.counters.get(key, 0) + 1
        self.counters[key] = n
        # ext "/NAME": a file with a fixed name (.env, id_rsa) in its own folder stem_NNN/
        d = Doc(f"{folder}/{stem}_{n:03d}.{ext}" if not ext.startswith("/") else f"{folder}/{stem}_{n:03d}{ext}")
        self.docs.append(d)
        return d

    def person(self):
        g = self.g
        first, last = g.first(), g.last()
        return types.SimpleNamespace(first=first, last=last, name=f"{first} {last}", email=g.email(first, last))


def rfc2822(rng: random.Random) -> str:
    import time
    t = time.gmtime(1704067200 + rng.randint(0, 40_000_000))
    return time.strftime("%a, %d %b %Y %H:%M:%S +0000", t)


def mail_headers(c: Corpus, d: Doc, sender, recipients, subject: str, cc=()) -> None:
    g = c.g
    date = rfc2822(c.rng)
    relay = f"mail{g.rng.randint(1, 40)}.example.net"
    d.line(f"Return-Path: <{V(sender.email, EMAIL)}>")
    d.line(f"Received: from {relay} ({relay} [{V(g.ipv4(), IP)}])")
    d.line(f"        by mx{g.rng.randint(1, 4)}.example.com with ESMTPS id {g.s(ALNUM, 12)}; {date}")
    msgid = g.pick((f"{g.d(14)}.{g.s(UPPER + DIGITS, 10)}@{relay}", f"{g.uuid()}@mail.example.com",
                    f"CA{g.s(ALNUM, 40)}@mail.example.org"))
    d.line(f"Message-ID: <{N(msgid, 'message_id')}>")
    d.line(f"Date: {date}")
    d.line(f"From: {sender.name} <{V(sender.email, EMAIL)}>")
    d.line("To: " + ", ".join(f"{r.name} <{V(r.email, EMAIL)}>" for r in recipients))
    if cc:
        d.line("Cc: " + ", ".join(f"{V(r.email, EMAIL)}" for r in cc))
    d.line(f"Subject: {subject}")
    d.line("MIME-Version: 1.0")
    d.line('Content-Type: text/plain; charset="utf-8"')
    d.line("Content-Transfer-Encoding: 8bit")
    d.line()


def signature(c: Corpus, d: Doc, p, title: str, company: str | None = None, phone: bool = True) -> None:
    g = c.g
    d.line()
    d.line("--")
    d.line(p.name)
    d.line(f"{title} | {company or g.company()}")
    if phone:
        d.line(f"{g.pick(('Tel', 'Phone', 'Direct', 'Mobile', 'T:'))} {V(g.phone(), PHONE)}")


# --- emails ---------------------------------------------------------------------------------

def em_hr_onboarding(c: Corpus) -> None:
    g = c.g
    emp, hr = c.person(), c.person()
    d = c.doc("emails", "hr_onboarding", "eml")
    mail_headers(c, d, emp, [hr], g.pick(("Payroll and benefits forms", "Re: onboarding paperwork",
                                            "My details for payroll", "Direct deposit setup")))
    city, st, zipc = g.city()
    d.line(f"Hi {hr.first},")
    d.line()
    d.line(g.pick(("Here are my details for payroll and the background check, as requested:",
                   "As discussed on the call, these are the details you need to finish my onboarding:",
                   "Sorry for the delay. Everything for the payroll setup is below.")))
    d.line()
    d.line(f"Full legal name: {emp.name}")
    style = g.rng.randint(0, 3)
    if style == 0:
        d.line(f"Social Security Number: {V(g.ssn(), 'US_SOCIAL_SECURITY_NUMBER')}")
    elif style == 1:
        d.line(f"SSN: {V(g.ssn('').replace('-', ''), 'US_SOCIAL_SECURITY_NUMBER')}")
    elif style == 2:
        d.line(f"Soc. Sec. No.: {V(g.ssn(' '), 'US_SOCIAL_SECURITY_NUMBER')}")
    else:
        d.line(f"SSN {V(g.ssn(), 'US_SOCIAL_SECURITY_NUMBER')} (the card is in the mail to you as well)")
    d.line(f"Date of birth: {V(g.dob(), 'DATE_OF_BIRTH')}")
    d.line(f"Home address: {g.street()}, {city}, {st} {N(zipc, 'zip_code')}")
    d.line(f"Mobile: {V(g.phone(), PHONE)}")
    d.line()
    d.line("Direct deposit:")
    d.line(f"  Bank: {g.pick(BANK_NAMES)}")
    d.line(f"  Routing number: {V(g.aba(), 'US_BANK_ROUTING_MICR')}")
    d.line(f"  Account number: {V(g.bank_account(), 'US_BANK_ACCOUNT_NUMBER')} ({g.pick(('checking', 'savings'))})")
    d.line()
    if g.chance(0.6):
        st2 = g.pick(("CA", "TX", "NY", "WA", "IL"))
        d.line(f"For the I-9 I will bring my passport; my driver's license is {V(g.us_dl(), 'US_DRIVERS_LICENSE_NUMBER')} ({st2}).")
    if g.chance(0.4):
        d.line(f"My spouse does not have an SSN yet; her ITIN is {V(g.itin(), 'US_INDIVIDUAL_TAXPAYER_IDENTIFICATION_NUMBER')}.")
    d.line(f"Employee ID on the offer letter was {N('E' + g.d(6), 'order_number')}, start date {N(g.date(2024, 2025), 'date')}.")
    d.line()
    d.line("Let me know if anything else is missing.")
    d.line()
    d.line("Thanks,")
    d.line(emp.first)


def em_payment_dispute(c: Corpus) -> None:
    g = c.g
    cust, agent = c.person(), c.person()
    agent.email = f"support@{g.pick(('shop.example.com', 'store.example.net', 'billing.example.org'))}"
    agent.name = "Customer Support"
    d = c.doc("emails", "payment_dispute", "eml")
    mail_headers(c, d, cust, [agent], g.pick(("Charged twice?", "Refund request", "Wrong amount on my card",
                                              "Order cancelled but still charged")))
    brand, number = g.card()
    order = f"ORD-{g.rng.randint(2023, 2025)}-{g.d(6)}"
    d.line("Hello,")
    d.line()
    d.line(f"I was charged twice for order {N(order, 'order_number')} on {N(g.date(2024, 2025), 'date')}, "
           f"${N(g.amount(20, 900), 'amount')} each time.")
    d.line(f"The {BRAND_NAMES[brand]} card I used is {V(g.fmt_card(number), 'CREDIT_CARD_NUMBER')}"
           + (f", expiration: {V(g.exp(), 'CREDIT_CARD_EXPIRATION_DATE')}" if g.chance(0.6) else "") + ".")
    if g.chance(0.4):
        d.line(f"If you need it to process the refund, the CVV: {V(g.cvv(brand), 'CREDIT_CARD_CVV')}.")
    d.line(f"Your confirmation email said transaction {N(g.uuid(), 'uuid')}.")
    if g.chance(0.5):
        d.line(f"The bank's reference for the second charge is {g.bad_card('plain')}, in case that helps.")
    if g.chance(0.5):
        d.line(f"You can reach me at {V(g.phone(), PHONE)} during the day.")
    d.line()
    d.line("Regards,")
    d.line(cust.name)


def em_wire(c: Corpus) -> None:
    g = c.g
    vendor, ap = c.person(), c.person()
    country = g.pick(["DE", "GB", "NL", "FR", "ES", "IT", "BE", "CH", "AT", "IE", "PL", "SE", "PT", "DK", "FI", "NO", "LU", "CZ"])
    d = c.doc("emails", "wire_instructions", "eml")
    mail_headers(c, d, vendor, [ap], g.pick(("Updated bank details", "Payment instructions for invoice",
                                             "Remittance details", "Re: overdue invoice")))
    inv = f"INV-{g.rng.randint(2023, 2025)}-{g.d(4)}"
    d.line(f"Dear {ap.first},")
    d.line()
    d.line(f"Please remit payment for invoice {N(inv, 'invoice_number')} (EUR {N(g.amount(800, 40000), 'amount')}) "
           "to the account below.")
    d.line()
    d.line(f"Beneficiary: {g.company()} {g.pick(('GmbH', 'Ltd', 'B.V.', 'SARL', 'S.L.', 'S.p.A.'))}")
    d.line(f"IBAN: {g.iban_v(country)}")
    d.line(f"BIC/SWIFT: {V(g.swift(country), 'SWIFT_CODE')}")
    d.line(f"Reference: {N(inv, 'invoice_number')}")
    d.line()
    if g.chance(0.5):
        d.line(f"Note that the IBAN on your vendor record, {g.bad_iban(country)}, has a typo in the check digits; "
               "please update it.")
    if g.chance(0.4):
        d.line(f"Our US entity can also receive ACH: routing {V(g.aba(), 'US_BANK_ROUTING_MICR')}, "
               f"account no. {V(g.bank_account(), 'US_BANK_ACCOUNT_NUMBER')}.")
    signature(c, d, vendor, "Accounts Receivable")


def em_it_support(c: Corpus) -> None:
    g = c.g
    dev, ops = c.person(), c.person()
    d = c.doc("emails", "it_support", "eml")
    mail_headers(c, d, dev, [ops], g.pick(("Staging deploy broken", "Can't connect to the reporting DB",
                                           "Re: [INC] pipeline failing", "Access for the new contractor")))
    d.line(f"Hi {ops.first},")
    d.line()
    d.line(f"Ticket {N('INC' + g.d(7), 'order_number')}. The {g.pick(('staging', 'reporting', 'billing'))} job has been failing "
           f"since build {N(str(g.rng.randint(1000, 9999)), 'build_number')}. This is what's in the env file on the box:")
    d.line()
    kind = g.rng.randint(0, 3)
    host = f"{g.pick(('db', 'pg', 'mysql', 'reports-db'))}.internal.example.net"
    if kind == 0:
        d.line(f"    AWS_ACCESS_KEY_ID={secret(g.aws_key_id(), 'AWS_CREDENTIALS')}")
        d.line(f"    AWS_SECRET_ACCESS_KEY={secret(g.aws_secret(), 'AWS_SECRET_ACCESS_KEY')}")
    elif kind == 1:
        d.line(f"    DATABASE_URL=postgres://{g.pick(('app', 'reporter', 'etl'))}:{secret(g.url_password(), 'DATABASE_URL_WITH_PASSWORD')}@{host}:5432/{g.pick(('orders', 'reports', 'billing'))}")
    elif kind == 2:
        d.line(f"    DB_HOST={host}")
        d.line(f"    DB_PASSWORD={secret(g.password(), 'PASSWORD')}")
    else:
        d.line(f"    GITHUB_TOKEN={secret(g.github(), 'GITHUB_TOKEN')}")
        d.line(f"    SLACK_BOT_TOKEN={secret(g.slack_bot(), 'SLACK_TOKEN')}")
    d.line()
    d.line(f"The runner is on {V(g.ipv4(), IP)}; the error is a timeout after 30s. Version {N(f'{g.rng.randint(1, 4)}.{g.rng.randint(0, 20)}.{g.rng.randint(0, 9)}', 'version')} "
           f"of the client, commit {N(g.hexs(40), 'git_sha')}.")
    d.line("I know I shouldn't paste credentials in email - I'll rotate them once it's fixed.")
    signature(c, d, dev, "Software Engineer")


def em_travel(c: Corpus) -> None:
    g = c.g
    trav, agent = c.person(), c.person()
    d = c.doc("emails", "travel_booking", "eml")
    mail_headers(c, d, agent, [trav], g.pick(("Your itinerary and visa checklist", "Booking confirmation",
                                              "Re: passport details for the Tokyo trip")))
    country = g.pick(("US", "US", "UK", "DE", "FR", "JP", "CA", "IN"))
    pp = g.passport(country)
    d.line(f"Dear {trav.name},")
    d.line()
    d.line(f"Your booking reference is {N(g.s(UPPER + DIGITS, 6), 'order_number')}. We have the following on file:")
    d.line()
    d.line(f"  Traveller: {trav.last.upper()}/{trav.first.upper()}")
    d.line(f"  Date of birth: {V(g.dob(), 'DATE_OF_BIRTH')}")
    if country == "US":
        d.line(f"  US passport number: {passport_v(pp, 'US_PASSPORT', 'PASSPORT')}")
    elif country == "UK":
        d.line(f"  UK passport no. {passport_v(pp, 'UK_PASSPORT', 'PASSPORT')}")
    elif country == "DE":
        d.line(f"  Reisepass / passport: {passport_v(pp, 'GERMANY_PASSPORT')}")
    elif country == "FR":
        d.line(f"  Passeport: {passport_v(pp, 'FRANCE_PASSPORT')}")
    elif country == "JP":
        d.line(f"  Passport: {passport_v(pp, 'JAPAN_PASSPORT')}")
    elif country == "CA":
        d.line(f"  Passport No: {passport_v(pp, 'CANADA_PASSPORT')}")
    else:
        d.line(f"  Passport No. {passport_v(pp, 'INDIA_PASSPORT')}")
    d.line(f"  Frequent flyer: {N(g.s(UPPER, 2) + g.d(7), 'order_number')}")
    d.line(f"  Mobile: {V(g.intl_phone() if g.chance(0.5) else g.phone(), PHONE)}")
    d.line()
    d.line(f"Flight {g.s(UPPER, 2)}{g.rng.randint(10, 999)} departs {N(g.date(2025, 2025), 'date')} at 10:45. "
           f"E-ticket {N(g.pick(('016', '001', '006', '125', '176', '074', '057', '220')) + g.d(10), 'order_number')}.")
    d.line("Please check that the passport is valid for six months after the return date.")
    signature(c, d, agent, "Travel Coordinator", "Tailspin Travel")


def em_medical_referral(c: Corpus) -> None:
    g = c.g
    doc1, doc2, pat = c.person(), c.person(), c.person()
    d = c.doc("emails", "medical_referral", "eml")
    mail_headers(c, d, doc1, [doc2], g.pick(("Referral", "Patient referral - cardiology", "Consult request")))
    code, desc = g.icd10()
    d.line(f"Dr. {doc2.last},")
    d.line()
    d.line(f"I am referring {pat.name} (DOB {V(g.dob(), 'DATE_OF_BIRTH')}, MRN: {V(g.mrn(), 'MEDICAL_RECORD_NUMBER')}) for further evaluation.")
    d.line(f"Diagnosis: {desc} ({V(code, 'ICD10_CODE')}).")
    if g.chance(0.5):
        code2, desc2 = g.icd10()
        d.line(f"Secondary diagnosis: {V(code2, 'ICD10_CODE')} {desc2}.")
    d.line(f"Current medication: {g.pick(DRUGS)} daily, {g.pick(DRUGS)} as needed.")
    d.line(f"Medicare MBI: {V(g.mbi(), 'US_MEDICARE_BENEFICIARY_ID_NUMBER')}")
    d.line(f"Patient phone: {V(g.phone(), PHONE)}")
    d.line()
    d.line(f"Referring physician: Dr. {doc1.name}, NPI {V(g.npi(), 'US_HEALTHCARE_NPI')}")
    d.line(f"Last labs on {N(g.date(2024, 2025), 'date')}: HbA1c 7.2%, LDL 131 mg/dL.")
    signature(c, d, doc1, "MD, Internal Medicine", "Umbrella Health")


INTL = ("UK", "FR", "DE", "ES", "IT", "NL", "BR", "IN", "JP", "KR", "SG", "CN", "CA", "AU", "IE", "PL",
        "SE", "MX", "BE", "CH", "PT", "FI", "NO", "DK", "HK", "ZA", "TR", "IL", "TH", "CL")


def intl_id_lines(c: Corpus, country: str) -> list[str]:
    """Lines stating a person's national identifiers the way a document from that country does."""
    g = c.g
    y, m, dd = g.birth()
    if country == "UK":
        return [f"National Insurance number: {V(g.nino(), 'UK_NATIONAL_INSURANCE_NUMBER')}",
                f"NHS number: {V(g.nhs(), 'UK_NATIONAL_HEALTH_SERVICE_NUMBER')}",
                f"UTR: {V(g.utr(), 'UK_TAXPAYER_REFERENCE')}"]
    if country == "FR":
        return [f"Numéro de sécurité sociale : {V(g.fr_nir(), 'FRANCE_NIR')}",
                f"IBAN : {g.iban_v('FR')}"]
    if country == "DE":
        return [f"Steuer-ID: {V(g.de_tax_id(), 'GERMANY_TAXPAYER_IDENTIFICATION_NUMBER')}",
                f"IBAN: {g.iban_v('DE')}"]
    if country == "ES":
        if g.chance(0.5):
            return [f"DNI: {V(g.es_dni(), 'SPAIN_DNI_NUMBER')}"]
        return [f"NIE: {V(g.es_nie(), 'SPAIN_NIE_NUMBER')}"]
    if country == "IT":
        return [f"Codice fiscale: {V(g.it_cf(g.chance(0.5)), 'ITALY_FISCAL_CODE')}"]
    if country == "NL":
        return [f"BSN: {V(g.nl_bsn(), 'NETHERLANDS_BSN_NUMBER')}", f"IBAN: {g.iban_v('NL')}"]
    if country == "BR":
        return [f"CPF: {V(g.cpf(), 'BRAZIL_CPF_NUMBER')}", f"CNPJ do empregador: {V(g.cnpj(), 'BRAZIL_CNPJ_NUMBER')}"]
    if country == "IN":
        return [f"PAN: {V(g.pan(g.last()), 'INDIA_PAN_INDIVIDUAL')}",
                f"Aadhaar: {V(g.aadhaar(), 'INDIA_AADHAAR_INDIVIDUAL')}"]
    if country == "JP":
        return [f"My Number (個人番号): {V(g.jp_my_number(), 'JAPAN_INDIVIDUAL_NUMBER')}"]
    if country == "KR":
        return [f"주민등록번호: {V(g.kr_rrn(), 'KOREA_RRN')}"]
    if country == "SG":
        return [f"NRIC: {V(g.sg_nric(), 'SINGAPORE_NATIONAL_REGISTRATION_ID_NUMBER')}"]
    if country == "CN":
        return [f"身份证号码: {V(g.cn_id(), 'CHINA_RESIDENT_ID_NUMBER')}"]
    if country == "CA":
        return [f"SIN: {V(g.sin(), 'CANADA_SOCIAL_INSURANCE_NUMBER')}"]
    if country == "AU":
        return [f"TFN: {V(g.tfn(), 'AUSTRALIA_TAX_FILE_NUMBER')}",
                f"Medicare: {V(g.au_medicare(), 'AUSTRALIA_MEDICARE_NUMBER')}"]
    if country == "IE":
        return [f"PPSN: {V(g.ie_ppsn(), 'IRELAND_PPSN')}", f"IBAN: {g.iban_v('IE')}"]
    if country == "PL":
        return [f"PESEL: {V(g.pesel(), 'POLAND_PESEL_NUMBER')}", f"IBAN: {g.iban_v('PL')}"]
    if country == "SE":
        return [f"Personnummer: {V(g.se_pnr(), 'SWEDEN_NATIONAL_ID_NUMBER')}"]
    if country == "MX":
        return [f"CURP: {V(g.curp(g.chance(0.5)), 'MEXICO_CURP_NUMBER')}"]
    if country == "BE":
        return [f"Rijksregisternummer: {V(g.be_nrn(), 'BELGIUM_NATIONAL_ID_CARD_NUMBER')}"]
    if country == "CH":
        return [f"AHV-Nr.: {V(g.ch_ahv(), 'SWITZERLAND_SOCIAL_SECURITY_NUMBER')}"]
    if country == "PT":
        return [f"NIF: {V(g.pt_nif(), 'PORTUGAL_NIF_NUMBER')}", f"IBAN: {g.iban_v('PT')}"]
    if country == "FI":
        return [f"Henkilötunnus: {V(g.fi_hetu(), 'FINLAND_NATIONAL_ID_NUMBER')}"]
    if country == "NO":
        return [f"Fødselsnummer: {V(g.no_fnr(), 'NORWAY_NI_NUMBER')}"]
    if country == "DK":
        return [f"CPR-nummer: {V(g.dk_cpr(), 'DENMARK_CPR_NUMBER')}"]
    if country == "HK":
        return [f"HKID: {V(g.hkid(), 'HONG_KONG_ID_NUMBER')}"]
    if country == "ZA":
        return [f"ID Number: {V(g.za_id(), 'SOUTH_AFRICA_ID_NUMBER')}"]
    if country == "TR":
        return [f"T.C. Kimlik No: {V(g.tr_id(), 'TURKEY_ID_NUMBER')}"]
    if country == "IL":
        return [f"Teudat zehut: {V(g.il_id(), 'ISRAEL_IDENTITY_CARD_NUMBER')}"]
    if country == "TH":
        return [f"Thai ID: {V(g.th_id(), 'THAILAND_NATIONAL_ID_NUMBER')}"]
    if country == "CL":
        return [f"RUT: {V(g.cl_rut(), 'CHILE_CDI_NUMBER')}"]
    raise ValueError(country)


def em_intl_hr(c: Corpus) -> None:
    g = c.g
    emp, hr = c.person(), c.person()
    country = g.pick(INTL)
    d = c.doc("emails", "intl_hr", "eml")
    mail_headers(c, d, hr, [emp], g.pick(("Relocation paperwork", "Payroll setup in your new country",
                                          "Employment contract - personal data check", "Re: your onboarding documents")))
    d.line(f"Hi {emp.first},")
    d.line()
    d.line(f"Welcome to the {country} team! Before the first payroll run on {N(g.date(2025, 2025), 'date')}, please "
           "confirm the details we received from the relocation agency:")
    d.line()
    for line in intl_id_lines(c, country):
        d.line(f"  {line}")
    d.line(f"  Phone: {V(g.intl_phone(country), PHONE)}")
    d.line()
    if country == "UK" and g.chance(0.5):
        d.line(f"The agency's form had NHS number {g.bad_nhs()}, which fails the check digit; we assumed a typo.")
        d.line()
    if country == "CN" and g.chance(0.5):
        d.line(f"注意：旧表格上的号码 {g.bad_cn_id()} 校验位错误，已按上面的号码更正。")
        d.line()
    d.line("If anything is wrong, reply to this email and we will correct it before the contract is signed.")
    signature(c, d, hr, "People Operations", phone=False)


def em_shipping(c: Corpus) -> None:
    g = c.g
    cust = c.person()
    shop = types.SimpleNamespace(name="Order Updates", email=f"orders@{g.pick(('shop.example.com', 'store.example.net'))}")
    d = c.doc("emails", "shipping_notice", "eml")
    mail_headers(c, d, shop, [cust], g.pick(("Your order has shipped", "Delivery update", "Out for delivery")))
    d.line(f"Hi {cust.first},")
    d.line()
    d.line(f"Good news: order {N('#' + g.d(10), 'order_number')} placed on {N(g.date(2025, 2025), 'date')} is on its way.")
    carrier = g.rng.randint(0, 2)
    if carrier == 0:
        d.line(f"UPS tracking number: {N('1Z' + g.s(UPPER + DIGITS, 6) + g.d(10), 'tracking_number')}")
    elif carrier == 1:
        d.line(f"FedEx tracking: {N(g.d(12), 'tracking_number')}")
    else:
        trk = "9400" + g.d(18)
        d.line(f"USPS tracking: {N(' '.join(trk[i:i + 4] for i in range(0, 22, 4)), 'tracking_number')}")
    d.line()
    for _ in range(g.rng.randint(1, 4)):
        d.line(f"  {g.rng.randint(1, 3)} x {g.pick(('USB-C cable', 'Desk lamp', 'Notebook (A5)', 'Coffee beans 1kg', 'Phone case'))}"
               f"  SKU {N(g.s(UPPER, 3) + '-' + g.d(5), 'sku')}  ${N(g.amount(5, 120), 'amount')}")
    d.line()
    d.line(f"Paid with Visa ending in {N(g.d(4), 'masked_card')} (card number {N('**** **** **** ' + g.d(4), 'masked_card')}).")
    d.line(f"Questions? Reply to this email or call {V(g.phone(), PHONE)}.")


def em_release(c: Corpus) -> None:
    g = c.g
    a, lst = c.person(), c.person()
    lst.name, lst.email = "Engineering", "eng-announce@lists.example.com"
    d = c.doc("emails", "release_announcement", "eml")
    ver = f"{g.rng.randint(1, 9)}.{g.rng.randint(0, 30)}.{g.rng.randint(0, 12)}"
    mail_headers(c, d, a, [lst], f"[ANN] release {ver}")
    d.line(f"Release {N(ver, 'version')} is out ({N(g.date(2025, 2025), 'date')}).")
    d.line()
    d.line("Highlights:")
    for _ in range(g.rng.randint(3, 6)):
        d.line(f"  * {g.pick(('faster startup', 'new export format', 'fixed a crash on empty input', 'dependency updates', 'better error messages', 'smaller binaries'))} "
               f"({N(g.hexs(g.pick((7, 8, 12))), 'git_sha')})")
    d.line()
    d.line("Checksums:")
    for arch in ("linux-x86_64", "linux-aarch64", "darwin-arm64"):
        d.line(f"  {N(g.hexs(64), 'sha256')}  tool-{ver}-{arch}.tar.gz")
    d.line()
    d.line(f"Upgrade from {N(f'{g.rng.randint(1, 9)}.{g.rng.randint(0, 30)}.{g.rng.randint(0, 12)}', 'version')} is drop-in. "
           f"Build {N(g.uuid(), 'uuid')} passed all {N(str(g.rng.randint(1200, 4800)), 'build_number')} tests.")
    signature(c, d, a, "Release Manager", phone=False)


def em_security_alert(c: Corpus) -> None:
    g = c.g
    user = c.person()
    sec = types.SimpleNamespace(name="Security", email="no-reply@accounts.example.com")
    d = c.doc("emails", "security_alert", "eml")
    mail_headers(c, d, sec, [user], g.pick(("New sign-in to your account", "Password changed", "Unusual activity")))
    d.line(f"Hi {user.first},")
    d.line()
    ip = V(g.ipv4() if g.chance(0.7) else g.ipv6(), IP)
    d.line(f"We noticed a new sign-in to your account {V(user.email, EMAIL)} from IP address {ip} "
           f"({g.pick(('Chrome on Windows', 'Safari on iPhone', 'Firefox on Linux'))}) at {N(g.ts(), 'timestamp')}.")
    d.line()
    d.line("If this was you, you can ignore this message. If not, reset your password:")
    d.line(f"  https://accounts.example.com/reset?request={N(g.uuid(), 'uuid')}")
    d.line()
    d.line(f"We will never ask for your password. Your temporary code was {N('******', 'placeholder')} (hidden).")
    d.line(f"Event id {N(g.hexs(32), 'hex_id')}.")


# --- CSV exports ----------------------------------------------------------------------------

def csv_row(d: Doc, cells, sep=",") -> None:
    out = []
    for cell in cells:
        cell = str(cell) if not isinstance(cell, str) else cell
        if sep in cell or '"' in cell:
            cell = '"' + cell.replace('"', '""') + '"'
        out.append(cell)
    d.line(sep.join(out))


def ex_customers(c: Corpus) -> None:
    g = c.g
    d = c.doc("exports", "customers", "csv")
    csv_row(d, ["customer_id", "first_name", "last_name", "email", "phone", "street", "city", "state", "zip",
                "signup_date", "lifetime_value"])
    for i in range(g.rng.randint(30, 70)):
        p = c.person()
        city, st, zipc = g.city()
        phone = V(g.phone(), PHONE) if g.chance(0.85) else ""
        csv_row(d, [f"C{100000 + i * 7 + g.rng.randint(0, 6)}", p.first, p.last, V(p.email, EMAIL), phone, g.street(),
                    city, st, zipc, g.date(2018, 2025), g.amount(0, 9000)])


def ex_payments(c: Corpus) -> None:
    g = c.g
    d = c.doc("exports", "payments", "csv")
    csv_row(d, ["txn_id", "created_at", "customer_email", "card_brand", "card_number", "amount", "currency",
                "status", "auth_code", "processor_ref"])
    for _ in range(g.rng.randint(25, 50)):
        brand, number = g.card()
        r = g.rng.random()
        if r < 0.55:
            card = V(g.fmt_card(number), "CREDIT_CARD_NUMBER")
        elif r < 0.8:
            card = N(number[:6] + "*" * (len(number) - 10) + number[-4:], "masked_card")
        else:
            card = N("*" * (len(number) - 4) + number[-4:], "masked_card")
        ref = g.bad_card("plain") if g.chance(0.5) else N(g.uuid(), "uuid")
        csv_row(d, [N(g.uuid(), "uuid"), N(g.ts(), "timestamp"), V(g.email(), EMAIL), BRAND_NAMES[brand], card,
                    g.amount(3, 2500), g.pick(("USD", "USD", "EUR", "GBP")),
                    g.pick(("captured", "captured", "refunded", "declined")), g.s(UPPER + DIGITS, 6), ref])


def ex_employees(c: Corpus) -> None:
    g = c.g
    d = c.doc("exports", "employees", "csv")
    csv_row(d, ["employee_id", "first_name", "last_name", "work_email", "ssn", "phone", "department", "title",
                "hire_date", "salary_usd"])
    for i in range(g.rng.randint(25, 60)):
        p = c.person()
        r = g.rng.random()
        if r < 0.88:
            s = V(g.ssn(), "US_SOCIAL_SECURITY_NUMBER")
        elif r < 0.93:  # fillers for contractors without an SSN on file
            s = N(g.pick(("000-00-0000", "999-99-9999")), "ssn_invalid")
        elif r < 0.96:
            s = N("123-45-6789", "published_test_value")
        else:  # data-entry errors: area 000, 666 or 9xx
            s = g.bad_ssn()
        csv_row(d, [f"E{1000 + i}", p.first, p.last, V(p.email, EMAIL), s, V(g.phone(), PHONE),
                    g.pick(gen.DEPARTMENTS), g.pick(("Analyst", "Engineer", "Manager", "Associate", "Director")),
                    g.date(2010, 2025), g.rng.randint(45, 240) * 1000])


SELF_EVIDENT_IDS = ("FR", "ES", "IT", "BR", "MX", "CN", "KR", "SG", "UK", "BE", "CH", "FI", "ZA")


def self_evident_id(c: Corpus, country: str) -> V:
    """A national id in a format the detectors accept without a keyword nearby."""
    g = c.g
    return {
        "FR": lambda: V(g.fr_nir(), "FRANCE_NIR"),
        "ES": lambda: V(g.es_dni(), "SPAIN_DNI_NUMBER") if g.chance(0.6) else V(g.es_nie(), "SPAIN_NIE_NUMBER"),
        "IT": lambda: V(g.it_cf(g.chance(0.5)), "ITALY_FISCAL_CODE"),
        "BR": lambda: V(g.cpf(), "BRAZIL_CPF_NUMBER"),
        "MX": lambda: V(g.curp(g.chance(0.5)), "MEXICO_CURP_NUMBER"),
        "CN": lambda: V(g.cn_id(), "CHINA_RESIDENT_ID_NUMBER"),
        "KR": lambda: V(g.kr_rrn(), "KOREA_RRN"),
        "SG": lambda: V(g.sg_nric(), "SINGAPORE_NATIONAL_REGISTRATION_ID_NUMBER"),
        "UK": lambda: V(g.nino(), "UK_NATIONAL_INSURANCE_NUMBER"),
        "BE": lambda: V(g.be_nrn(), "BELGIUM_NATIONAL_ID_CARD_NUMBER"),
        "CH": lambda: V(g.ch_ahv(), "SWITZERLAND_SOCIAL_SECURITY_NUMBER"),
        "FI": lambda: V(g.fi_hetu(), "FINLAND_NATIONAL_ID_NUMBER"),
        "ZA": lambda: V(g.za_id(), "SOUTH_AFRICA_ID_NUMBER"),
    }[country]()


def ex_intl_employees(c: Corpus) -> None:
    g = c.g
    d = c.doc("exports", "intl_employees", "csv")
    csv_row(d, ["employee_id", "full_name", "country", "national_id", "iban", "email", "phone"])
    iban_country = {"FR": "FR", "ES": "ES", "IT": "IT", "BE": "BE", "CH": "CH", "FI": "FI", "UK": "GB"}
    for i in range(g.rng.randint(20, 45)):
        p = c.person()
        country = g.pick(SELF_EVIDENT_IDS)
        iban = ""
        if country in iban_country:  # a few mistyped ones, as in any hand-keyed export
            iban = g.iban_v(iban_country[country], grouped=False) if g.chance(0.9) else g.bad_iban(iban_country[country])
        csv_row(d, [f"W{20000 + i}", p.name, country, self_evident_id(c, country), iban, V(p.email, EMAIL),
                    V(g.intl_phone(country), PHONE)])


def ex_orders(c: Corpus) -> None:
    g = c.g
    d = c.doc("exports", "orders", "csv")
    csv_row(d, ["order_id", "order_date", "customer_email", "sku", "isbn", "qty", "unit_price", "total",
                "tracking_number", "warehouse_ref"])
    for _ in range(g.rng.randint(30, 60)):
        isbn = "978" + g.d(9)
        s = sum(int(x) * (3 if i % 2 else 1) for i, x in enumerate(isbn))
        isbn += str((10 - s % 10) % 10)
        isbn_f = f"{isbn[:3]}-{isbn[3]}-{isbn[4:7]}-{isbn[7:12]}-{isbn[12]}" if g.chance(0.5) else isbn
        trk = g.pick(("1Z" + g.s(UPPER + DIGITS, 6) + g.d(10), g.d(12), "9400" + g.d(18), g.d(20)))
        qty = g.rng.randint(1, 5)
        price = g.rng.uniform(4, 80)
        csv_row(d, [N(f"SO-{g.d(8)}", "order_number"), g.date(2024, 2025), V(g.email(), EMAIL),
                    N(f"{g.s(UPPER, 3)}-{g.d(4)}-{g.s(UPPER, 2)}", "sku"), N(isbn_f, "isbn"), qty,
                    f"{price:.2f}", f"{qty * price:.2f}", N(trk, "tracking_number"),
                    g.bad_card("plain") if g.chance(0.3) else N(g.d(10), "order_number")])


def ex_network(c: Corpus) -> None:
    g = c.g
    d = c.doc("exports", "network_inventory", "csv")
    csv_row(d, ["hostname", "ip_address", "mac_address", "ipv6_address", "os", "os_version", "serial", "last_seen"])
    for i in range(g.rng.randint(20, 50)):
        os_name, ver = g.pick((("Ubuntu", f"22.04.{g.rng.randint(1, 5)}"), ("Windows", f"10.0.{g.rng.randint(17000, 22631)}"),
                               ("macOS", f"14.{g.rng.randint(0, 6)}.{g.rng.randint(0, 2)}"), ("RHEL", f"9.{g.rng.randint(0, 4)}"),
                               ("FortiOS", f"7.{g.rng.randint(0, 4)}.{g.rng.randint(0, 14)}")))
        csv_row(d, [f"{g.pick(('ws', 'srv', 'lab', 'kiosk'))}-{i:03d}", V(g.ipv4(), IP), V(g.mac(), "MAC_ADDRESS"),
                    V(g.ipv6(), IP) if g.chance(0.4) else "", os_name, N(ver, "version"),
                    N(g.s(UPPER + DIGITS, 10), "sku"), N(g.ts(), "timestamp")])


def ex_bank_statement(c: Corpus) -> None:
    g = c.g
    d = c.doc("exports", "bank_statement", "csv")
    csv_row(d, ["posted_date", "description", "amount", "balance", "reference"])
    bal = g.rng.uniform(1000, 20000)
    for _ in range(g.rng.randint(25, 60)):
        amt = -g.rng.uniform(3, 400) if g.chance(0.8) else g.rng.uniform(200, 4000)
        bal += amt
        desc = g.pick((f"CARD PURCHASE {g.company().upper()} XXXX{g.d(4)}", "ACH DEPOSIT PAYROLL",
                       f"CHECK #{g.d(4)}", f"ONLINE TRANSFER TO SAV ...{g.d(4)}", f"POS {g.pick(('GROCERY', 'FUEL', 'PHARMACY'))} {g.d(6)}"))
        ref = g.pick((g.bad_card("plain"), N(g.d(12), "order_number"), N(g.s(UPPER + DIGITS, 16), "hex_id")))
        csv_row(d, [g.date(2025, 2025), desc, f"{amt:.2f}", f"{bal:.2f}", ref])


# --- CSV exports whose columns only the header identifies -------------------------------------
# Values that a detector only reports with a keyword nearby, under a header row far above them.

def cc_hr_payroll(c: Corpus) -> None:
    g = c.g
    d = c.doc("csv_column_context", "hr_payroll", "csv")
    csv_row(d, ["emp_id", "name", "ssn", "dob", "bank_routing", "bank_account", "pay_rate"])
    for i in range(g.rng.randint(10, 14)):
        p = c.person()
        y, m, dd = g.birth()
        csv_row(d, [f"{3000 + i}", p.name, V(g.ssn("").replace("-", ""), "US_SOCIAL_SECURITY_NUMBER"),
                    V(f"{y}-{m:02d}-{dd:02d}", "DATE_OF_BIRTH"), V(g.aba(), "US_BANK_ROUTING_MICR"),
                    V(g.bank_account(), "US_BANK_ACCOUNT_NUMBER"), f"{g.rng.uniform(18, 95):.2f}"])


def cc_travelers(c: Corpus) -> None:
    g = c.g
    d = c.doc("csv_column_context", "travelers", "csv")
    csv_row(d, ["traveler_id", "surname", "given_names", "passport_no", "nationality", "birth_date", "passport_expiry"])
    for i in range(g.rng.randint(10, 14)):
        p = c.person()
        nat = g.pick(("USA", "USA", "GBR", "DEU", "FRA", "JPN", "CAN", "IND"))
        pp = g.passport({"USA": "US", "GBR": "UK", "DEU": "DE", "FRA": "FR", "JPN": "JP", "CAN": "CA", "IND": "IN"}[nat])
        primary = {"USA": "US_PASSPORT", "GBR": "UK_PASSPORT", "DEU": "GERMANY_PASSPORT", "FRA": "FRANCE_PASSPORT",
                   "JPN": "JAPAN_PASSPORT", "CAN": "CANADA_PASSPORT", "IND": "INDIA_PASSPORT"}[nat]
        y, m, dd = g.birth()
        csv_row(d, [f"T{i + 1:04d}", p.last.upper(), p.first.upper(), passport_v(pp, "PASSPORT", primary), nat,
                    V(f"{dd:02d}/{m:02d}/{y}", "DATE_OF_BIRTH"), g.date(2026, 2034)])


def cc_patients(c: Corpus) -> None:
    g = c.g
    d = c.doc("csv_column_context", "patients", "csv")
    csv_row(d, ["mrn", "last_name", "first_name", "dob", "primary_dx", "attending_npi", "phone"])
    for _ in range(g.rng.randint(10, 14)):
        p = c.person()
        y, m, dd = g.birth()
        csv_row(d, [V(g.mrn(), "MEDICAL_RECORD_NUMBER"), p.last, p.first, V(f"{m:02d}/{dd:02d}/{y}", "DATE_OF_BIRTH"),
                    V(g.icd10()[0], "ICD10_CODE"), V(g.npi(), "US_HEALTHCARE_NPI"), V(g.phone(), PHONE)])


def cc_vendors(c: Corpus) -> None:
    g = c.g
    d = c.doc("csv_column_context", "vendors", "csv")
    csv_row(d, ["vendor_id", "vendor_name", "country", "iban", "bic", "contact_email"])
    for i in range(g.rng.randint(10, 14)):
        country = g.pick(("DE", "FR", "NL", "ES", "IT", "BE", "AT", "GB"))
        csv_row(d, [f"V{500 + i}", f"{g.company()} {g.pick(('GmbH', 'SAS', 'B.V.', 'S.L.', 'S.r.l.', 'Ltd'))}", country,
                    g.iban_v(country, grouped=False), V(g.swift(country), "SWIFT_CODE"), V(g.email(), EMAIL)])


def cc_devices(c: Corpus) -> None:
    g = c.g
    d = c.doc("csv_column_context", "mobile_devices", "tsv")
    csv_row(d, ["asset_tag", "assigned_to", "model", "imei", "serial", "enrolled"], sep="\t")
    for i in range(g.rng.randint(10, 14)):
        csv_row(d, [f"MD-{4000 + i}", g.name(), g.pick(("iPhone 15", "Pixel 8", "Galaxy S24", "iPhone 13")),
                    V(g.imei(), "IMEI_HARDWARE_ID"), N(g.s(UPPER + DIGITS, 12), "sku"), g.date(2023, 2025)], sep="\t")


def cc_au_payroll(c: Corpus) -> None:
    g = c.g
    d = c.doc("csv_column_context", "au_payroll", "csv")
    csv_row(d, ["employee", "tfn", "bsb", "account_number", "super_fund"])
    for _ in range(g.rng.randint(10, 14)):
        bsb = f"{g.pick(('062', '063', '082', '033', '012', '733'))}-{g.d(3)}"
        csv_row(d, [g.name(), V(g.tfn().replace(" ", ""), "AUSTRALIA_TAX_FILE_NUMBER"), V(bsb, "AUSTRALIA_BSB"),
                    V(g.bank_account(), "US_BANK_ACCOUNT_NUMBER"), g.pick(("AustralianSuper", "REST", "HESTA", "Aware Super"))])


def cc_card_vault(c: Corpus) -> None:
    g = c.g
    d = c.doc("csv_column_context", "card_export", "csv")
    csv_row(d, ["customer", "card_number", "exp", "cvv", "billing_zip"])
    for _ in range(g.rng.randint(10, 14)):
        brand, number = g.card()
        csv_row(d, [g.name(), V(number, "CREDIT_CARD_NUMBER"), V(g.exp(), "CREDIT_CARD_EXPIRATION_DATE"),
                    V(g.cvv(brand), "CREDIT_CARD_CVV"), g.city()[2]])


# --- logs -----------------------------------------------------------------------------------

def lg_api_gateway(c: Corpus) -> None:
    g = c.g
    d = c.doc("logs", "api_gateway", "jsonl")
    t = 1717200000 + g.rng.randint(0, 20_000_000)
    for _ in range(g.rng.randint(40, 90)):
        t += g.rng.randint(0, 3)
        e = {"ts": N(gen.iso_ts(g.rng, t), "timestamp"), "level": g.pick(gen.LEVELS), "service": g.pick(gen.SERVICES),
             "method": g.pick(("GET", "GET", "POST", "PUT", "DELETE")), "path": g.pick(gen.HTTP_PATHS),
             "status": g.pick((200, 200, 200, 201, 204, 304, 401, 404, 500)),
             "duration_ms": round(g.rng.uniform(0.3, 900), 3),
             "client_ip": V(g.ipv4() if g.chance(0.85) else g.ipv6(), IP),
             "user_agent": N(g.pick(gen.USER_AGENTS), "user_agent"), "request_id": N(g.uuid(), "uuid"),
             "trace_id": N(g.hexs(32), "hex_id")}
        r = g.rng.random()
        if r < 0.12:
            e["user"] = V(g.email(), EMAIL)
        elif r < 0.16:
            e["msg"] = "auth header rejected"
            e["authorization"] = "Bearer " + secret(g.jwt(), "JSON_WEB_TOKEN")
        elif r < 0.19:
            e["msg"] = "upstream call"
            e["upstream"] = f"http://{V(g.ipv4(), IP)}:8080/internal"
        d.line(jdump(e))


def lg_auth(c: Corpus) -> None:
    g = c.g
    d = c.doc("logs", "auth_service", "jsonl")
    t = 1717200000 + g.rng.randint(0, 20_000_000)
    for _ in range(g.rng.randint(30, 70)):
        t += g.rng.randint(0, 30)
        ev = g.pick(("login_succeeded", "login_succeeded", "login_failed", "token_refreshed", "mfa_challenge", "logout"))
        e = {"time": N(gen.iso_ts(g.rng, t), "timestamp"), "event": ev, "username": V(g.email(), EMAIL),
             "src_ip": V(g.ipv4(), IP), "session": N(g.hexs(40), "sha1")}
        if ev == "login_failed":
            e["reason"] = g.pick(("bad_password", "locked", "mfa_timeout"))
            if g.chance(0.2):
                e["debug_body"] = {"username": e["username"], "password": secret(g.password(), "PASSWORD")}
        if ev == "token_refreshed" and g.chance(0.4):
            e["cookie"] = "session=" + secret(g.jwt(), "JSON_WEB_TOKEN")
        d.line(jdump(e))


def lg_payments(c: Corpus) -> None:
    g = c.g
    d = c.doc("logs", "payment_service", "jsonl")
    t = 1717200000 + g.rng.randint(0, 20_000_000)
    for _ in range(g.rng.randint(30, 60)):
        t += g.rng.randint(0, 20)
        brand, number = g.card()
        e = {"ts": N(gen.iso_ts(g.rng, t), "timestamp"), "level": "INFO", "msg": "payment authorized",
             "order_id": N(f"ORD-{g.d(8)}", "order_number"), "amount_cents": g.rng.randint(300, 250000),
             "currency": "USD", "card": {"brand": BRAND_NAMES[brand], "bin": number[:6], "last4": number[-4:]},
             "idempotency_key": N(g.uuid(), "uuid")}
        r = g.rng.random()
        if r < 0.08:
            e["level"], e["msg"] = "ERROR", "gateway rejected request"
            e["raw_request"] = f"amount={e['amount_cents']}&card_number={V(number, 'CREDIT_CARD_NUMBER')}&exp_month={g.rng.randint(1, 12)}"
        elif r < 0.14:
            e["level"], e["msg"] = "DEBUG", "sandbox replay"
            e["test_card"] = N(g.pick(("4111 1111 1111 1111", "4242424242424242", "5555555555554444")), "published_test_value")
        elif r < 0.2:
            e["gateway_ref"] = g.bad_card("plain")
        d.line(jdump(e))


def lg_pos_terminal(c: Corpus) -> None:
    g = c.g
    d = c.doc("logs", "pos_terminal", "log")
    import time
    t = 1717200000 + g.rng.randint(0, 20_000_000)
    term = f"T{g.d(4)}"
    for _ in range(g.rng.randint(25, 50)):
        t += g.rng.randint(5, 600)
        stamp = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(t))
        r = g.rng.random()
        brand, number = g.card(g.pick(("visa", "mastercard", "mastercard2", "amex", "discover")))
        if r < 0.08:
            p = c.person()
            d.line(f"{stamp} {term} DEBUG swipe raw={V(g.track1(number, p.last, p.first), 'CREDIT_CARD_TRACK_NUMBER', 'CREDIT_CARD_NUMBER')}")
        elif r < 0.16:
            d.line(f"{stamp} {term} DEBUG track2={V(g.track2(number), 'CREDIT_CARD_TRACK_NUMBER', 'CREDIT_CARD_NUMBER')}")
        elif r < 0.75:
            d.line(f"{stamp} {term} INFO auth approved amount={g.amount(1, 300)} brand={BRAND_NAMES[brand]} "
                   f"pan={N(number[:6] + '******' + number[-4:], 'masked_card')} stan={g.d(6)} rrn={N(g.d(12), 'order_number')}")
        elif r < 0.9:
            d.line(f"{stamp} {term} INFO batch {g.d(3)} settled, {g.rng.randint(5, 90)} items, ref {g.bad_card('plain')}")
        else:
            d.line(f"{stamp} {term} WARN firmware {N(f'{g.rng.randint(1, 9)}.{g.rng.randint(0, 20)}.{g.rng.randint(0, 99)}', 'version')} "
                   f"update pending, terminal id {N(g.uuid(), 'uuid')}")


def lg_dhcp_syslog(c: Corpus) -> None:
    g = c.g
    d = c.doc("logs", "syslog", "log")
    import time
    t = 1717200000 + g.rng.randint(0, 20_000_000)
    for _ in range(g.rng.randint(40, 90)):
        t += g.rng.randint(1, 40)
        stamp = time.strftime("%b %d %H:%M:%S", time.gmtime(t))
        host = g.pick(("gw01", "fw-edge", "dhcp01", "bastion"))
        r = g.rng.random()
        if r < 0.35:
            d.line(f"{stamp} {host} dhcpd[{g.rng.randint(300, 9999)}]: DHCPACK on {V(g.ipv4(), IP)} to {V(g.mac(), 'MAC_ADDRESS')} "
                   f"({g.pick(('laptop', 'printer', 'phone', 'iot-cam'))}-{g.rng.randint(1, 99)}) via eth{g.rng.randint(0, 3)}")
        elif r < 0.6:
            d.line(f"{stamp} {host} sshd[{g.rng.randint(300, 99999)}]: Accepted publickey for {g.pick(('deploy', 'ops', 'ubuntu'))} "
                   f"from {V(g.ipv4(), IP)} port {g.rng.randint(1025, 65000)} ssh2: ED25519 SHA256:{N(base64.b64encode(g.rng.randbytes(32)).decode().rstrip('='), 'base64_blob')}")
        elif r < 0.7:
            # netfilter's MAC= field: destination MAC, source MAC and EtherType, colon-joined
            dst, src = (":".join(g.hexs(2) for _ in range(6)) for _ in range(2))
            d.line(f"{stamp} {host} kernel: [{g.rng.randint(1000, 99999)}.{g.d(6)}] IN=eth0 OUT= "
                   f"MAC={V(dst, 'MAC_ADDRESS')}:{V(src, 'MAC_ADDRESS')}:08:00 "
                   f"SRC={V(g.ipv4(), IP)} DST={V(g.ipv4(), IP)} LEN={g.rng.randint(40, 1500)} PROTO=TCP DPT={g.pick((22, 443, 3389, 5432))}")
        elif r < 0.85:
            d.line(f"{stamp} {host} systemd[1]: Started {g.pick(('nginx', 'postgresql', 'docker'))}.service - version {N(f'{g.rng.randint(1, 16)}.{g.rng.randint(0, 30)}.{g.rng.randint(0, 9)}', 'version')}")
        else:
            d.line(f"{stamp} {host} CRON[{g.rng.randint(300, 99999)}]: (root) CMD (/usr/local/bin/backup.sh --id {N(g.uuid(), 'uuid')})")


def lg_nginx(c: Corpus) -> None:
    g = c.g
    d = c.doc("logs", "nginx_access", "log")
    import time
    t = 1717200000 + g.rng.randint(0, 20_000_000)
    for _ in range(g.rng.randint(40, 90)):
        t += g.rng.randint(0, 5)
        stamp = time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(t))
        path = g.pick(gen.HTTP_PATHS)
        if g.chance(0.1):
            path += f"?email={V(g.email(), EMAIL)}"
        elif g.chance(0.08):
            path = f"/static/app.{N(g.hexs(20), 'hex_id')}.js"
        d.line(f'{V(g.ipv4(), IP)} - - [{stamp}] "{g.pick(("GET", "POST"))} {path} HTTP/1.1" {g.pick((200, 200, 301, 404, 502))} '
               f'{g.rng.randint(100, 90000)} "-" "{N(g.pick(gen.USER_AGENTS), "user_agent")}" rt={g.rng.uniform(0, 2):.3f}')


def lg_app_errors(c: Corpus) -> None:
    g = c.g
    d = c.doc("logs", "worker_errors", "log")
    for _ in range(g.rng.randint(6, 14)):
        ts = N(g.ts(), "timestamp")
        kind = g.rng.randint(0, 4)
        if kind == 0:
            user, host = g.pick(("etl", "app", "svc_reports")), f"pg-{g.rng.randint(1, 9)}.internal.example.net"
            d.line(f"{ts} ERROR worker: could not connect to postgresql://{user}:{secret(g.url_password(), 'DATABASE_URL_WITH_PASSWORD')}@{host}:5432/warehouse")
            d.line("Traceback (most recent call last):")
            d.line('  File "/app/worker/db.py", line 88, in connect')
            d.line("    conn = psycopg2.connect(dsn)")
            d.line("psycopg2.OperationalError: connection to server failed: timeout expired")
        elif kind == 1:
            d.line(f"{ts} WARN worker: retrying job {N(g.uuid(), 'uuid')} (attempt {g.rng.randint(2, 5)}/5) on {V(g.ipv4(), IP)}")
        elif kind == 2:
            d.line(f"{ts} ERROR mailer: SMTP auth failed for {V(g.email(), EMAIL)}; smtp_password={secret(g.password(), 'PASSWORD')}")
        elif kind == 3:
            d.line(f"{ts} INFO cache: evicted {g.rng.randint(10, 9999)} keys, digest md5={N(g.hexs(32), 'md5')}")
        else:
            d.line(f"{ts} ERROR queue: amqp://{g.pick(('worker', 'app'))}:{secret(g.url_password(), 'DATABASE_URL_WITH_PASSWORD')}@rabbitmq.internal.example.net:5672/jobs unreachable")


# --- configuration files --------------------------------------------------------------------

def _atlassian(g: G) -> str:
    return "ATATT3xFfGF0" + g.s(ALNUM + "_-", 171) + "=" + g.s("0123456789ABCDEF", 8)


def _openai(g: G) -> str:
    return "sk-proj-" + g.s(ALNUM + "_-", 74) + "T3BlbkFJ" + g.s(ALNUM + "_-", 74)


def _anthropic(g: G) -> str:
    return "sk-ant-api03-" + g.s(ALNUM + "_-", 93) + "AA"


def service_entries(c: Corpus, name: str):
    """(ENV_KEY, yaml section, yaml key, value) rows for one service's credentials."""
    g = c.g
    S = secret
    host = f"{g.pick(('db', 'pg-main', 'mysql-01', 'orders-db'))}.internal.example.net"
    if name == "aws":
        return [("AWS_ACCESS_KEY_ID", "aws", "access_key_id", S(g.aws_key_id(), "AWS_CREDENTIALS")),
                ("AWS_SECRET_ACCESS_KEY", "aws", "secret_access_key", S(g.aws_secret(), "AWS_SECRET_ACCESS_KEY")),
                ("AWS_REGION", "aws", "region", g.pick(("us-east-1", "eu-west-1", "us-west-2")))]
    if name == "aws_sts":
        return [("AWS_ACCESS_KEY_ID", "aws", "access_key_id", S(g.aws_key_id("ASIA"), "AWS_CREDENTIALS")),
                ("AWS_SECRET_ACCESS_KEY", "aws", "secret_access_key", S(g.aws_secret(), "AWS_SECRET_ACCESS_KEY")),
                ("AWS_SESSION_TOKEN", "aws", "session_token", S(g.aws_session_token(), "AWS_SESSION_TOKEN"))]
    if name == "db":
        user, db = g.pick(("app", "orders_app", "svc_api", "reporter")), g.pick(("orders", "app", "billing", "crm"))
        scheme, port = g.pick((("postgres", 5432), ("postgresql", 5432), ("mysql", 3306), ("mongodb", 27017)))
        url = f"{scheme}://{user}:{S(g.url_password(), 'DATABASE_URL_WITH_PASSWORD')}@{host}:{port}/{db}"
        return [("DATABASE_URL", "database", "url", url)]
    if name == "db_parts":
        return [("DB_HOST", "database", "host", host), ("DB_PORT", "database", "port", "5432"),
                ("DB_USER", "database", "user", g.pick(("app", "admin", "api"))),
                ("DB_PASSWORD", "database", "password", S(g.password(), "PASSWORD"))]
    if name == "redis":
        url = f"redis://:{S(g.url_password(), 'DATABASE_URL_WITH_PASSWORD')}@redis.internal.example.net:6379/0"
        return [("REDIS_URL", "redis", "url", url)]
    if name == "smtp":
        return [("SMTP_HOST", "smtp", "host", "smtp.example.com"), ("SMTP_USER", "smtp", "user", V("mailer@example.com", EMAIL)),
                ("SMTP_PASSWORD", "smtp", "password", S(g.password(), "PASSWORD"))]
    if name == "stripe":
        rows = [("STRIPE_SECRET_KEY", "stripe", "secret_key", S(g.stripe(), "STRIPE_API_KEY"))]
        if g.chance(0.6):
            rows.append(("STRIPE_WEBHOOK_SECRET", "stripe", "webhook_secret", S("whsec_" + g.s(ALNUM, 32), "STRIPE_WEBHOOK_SECRET")))
        return rows
    if name == "stripe_test":
        return [("STRIPE_SECRET_KEY", "stripe", "secret_key", S("sk_test_" + g.s(ALNUM, 24), "STRIPE_TEST_API_KEY"))]
    if name == "sendgrid":
        return [("SENDGRID_API_KEY", "sendgrid", "api_key", S(f"SG.{g.s(ALNUM + '_-', 22)}.{g.s(ALNUM + '_-', 43)}", "SENDGRID_API_KEY"))]
    if name == "twilio":
        return [("TWILIO_ACCOUNT_SID", "twilio", "account_sid", "AC" + g.hexs(32)),
                ("TWILIO_AUTH_TOKEN", "twilio", "auth_token", S(g.hexs(32), "GENERIC_API_KEY")),
                ("TWILIO_API_KEY", "twilio", "api_key", S("SK" + g.hexs(32), "TWILIO_API_KEY"))]
    if name == "mailgun":
        return [("MAILGUN_DOMAIN", "mailgun", "domain", "mg.example.com"),
                ("MAILGUN_API_KEY", "mailgun", "api_key", S("key-" + g.hexs(32), "MAILGUN_API_KEY"))]
    if name == "slack":
        return [("SLACK_BOT_TOKEN", "slack", "bot_token", S(g.slack_bot(), "SLACK_TOKEN")),
                ("SLACK_WEBHOOK_URL", "slack", "webhook_url", S(g.slack_webhook(), "SLACK_WEBHOOK_URL"))]
    if name == "github":
        if g.chance(0.6):
            return [("GITHUB_TOKEN", "github", "token", S(g.github(), "GITHUB_TOKEN"))]
        return [("GH_PAT", "github", "pat", S(g.github_pat(), "GITHUB_TOKEN"))]
    if name == "gitlab":
        return [("GITLAB_TOKEN", "gitlab", "token", S(g.gitlab(), "GITLAB_TOKEN"))]
    if name == "openai":
        return [("OPENAI_API_KEY", "openai", "api_key", S(_openai(g), "OPENAI_API_KEY"))]
    if name == "anthropic":
        return [("ANTHROPIC_API_KEY", "anthropic", "api_key", S(_anthropic(g), "ANTHROPIC_API_KEY"))]
    if name == "sentry":
        dsn = f"https://{g.hexs(32)}@o{g.d(6)}.ingest.us.sentry.io/{g.d(7)}"
        return [("SENTRY_DSN", "sentry", "dsn", S(dsn, "SENTRY_DSN"))]
    if name == "datadog":
        return [("DD_API_KEY", "datadog", "api_key", S(g.hexs(32), "DATADOG_API_KEY")),
                ("DD_SITE", "datadog", "site", "datadoghq.eu")]
    if name == "newrelic":
        return [("NEW_RELIC_API_KEY", "new_relic", "api_key", S("NRAK-" + g.s(UPPER + DIGITS, 27), "NEW_RELIC_KEY"))]
    if name == "heroku":
        rows = [("HEROKU_API_KEY", "heroku", "api_key", S(g.uuid(), "HEROKU_API_KEY"))]
        if g.chance(0.5):  # dyno metadata: the app id is a UUID as well, but not a secret
            rows.append(("HEROKU_APP_ID", "heroku", "app_id", N(g.uuid(), "uuid")))
        return rows
    if name == "shopify":
        return [("SHOPIFY_ACCESS_TOKEN", "shopify", "access_token", S("shpat_" + g.hexs(32), "SHOPIFY_TOKEN"))]
    if name == "google":
        return [("GOOGLE_MAPS_API_KEY", "google", "maps_api_key", S(g.gcp_api_key(), "GCP_API_KEY")),
                ("GOOGLE_CLIENT_SECRET", "google", "client_secret", S("GOCSPX-" + g.s(ALNUM + "_-", 28), "GOOGLE_OAUTH_CLIENT_SECRET"))]
    if name == "huggingface":
        return [("HF_TOKEN", "huggingface", "token", S("hf_" + g.s(string.ascii_letters, 34), "HUGGINGFACE_TOKEN"))]
    if name == "npm":
        return [("NPM_TOKEN", "npm", "token", S(g.npm(), "NPM_TOKEN"))]
    if name == "vault":
        return [("VAULT_ADDR", "vault", "addr", "https://vault.internal.example.net:8200"),
                ("VAULT_TOKEN", "vault", "token", S("hvs." + g.s(ALNUM + "_-", 91), "HASHICORP_VAULT_TOKEN"))]
    if name == "digitalocean":
        return [("DIGITALOCEAN_TOKEN", "digitalocean", "token", S("dop_v1_" + g.hexs(64), "DIGITALOCEAN_TOKEN"))]
    if name == "databricks":
        return [("DATABRICKS_HOST", "databricks", "host", f"https://adb-{g.d(16)}.7.azuredatabricks.net"),
                ("DATABRICKS_TOKEN", "databricks", "token", S("dapi" + g.hexs(32), "DATABRICKS_TOKEN"))]
    if name == "atlassian":
        return [("JIRA_API_TOKEN", "jira", "api_token", S(_atlassian(g), "ATLASSIAN_API_TOKEN"))]
    if name == "telegram":
        return [("TELEGRAM_BOT_TOKEN", "telegram", "bot_token", S(f"{g.d(10)}:AA{g.s(ALNUM + '_-', 33)}", "TELEGRAM_BOT_TOKEN"))]
    if name == "discord":
        url = f"https://discord.com/api/webhooks/{g.d(19)}/{g.s(ALNUM + '_-', 68)}"
        return [("DISCORD_WEBHOOK_URL", "discord", "webhook_url", S(url, "DISCORD_WEBHOOK_URL"))]
    if name == "docker":
        return [("DOCKERHUB_USERNAME", "dockerhub", "username", "ci-bot"),
                ("DOCKERHUB_TOKEN", "dockerhub", "token", S("dckr_pat_" + g.s(ALNUM + "_-", 27), "DOCKERHUB_TOKEN"))]
    if name == "pypi":
        return [("TWINE_USERNAME", "twine", "username", "__token__"),
                ("TWINE_PASSWORD", "twine", "password", S("pypi-AgEIcHlwaS5vcmc" + g.s(ALNUM + "_-", 120), "PYPI_TOKEN"))]
    if name == "azure":
        acct = f"st{g.s(LOWER, 8)}"
        conn = (f"DefaultEndpointsProtocol=https;AccountName={acct};AccountKey="
                f"{S(g.b64key(64), 'AZURE_STORAGE_KEY')};EndpointSuffix=core.windows.net")
        return [("AZURE_STORAGE_CONNECTION_STRING", "azure", "storage_connection_string", conn),
                ("AZURE_TENANT_ID", "azure", "tenant_id", g.uuid()),
                ("AZURE_CLIENT_ID", "azure", "client_id", g.uuid()),
                ("AZURE_CLIENT_SECRET", "azure", "client_secret",
                 S(g.s(ALNUM, 3) + g.d(1) + "Q~" + g.s(ALNUM + "_~.-", 34), "AZURE_CLIENT_SECRET"))]
    if name == "servicebus":
        conn = (f"Endpoint=sb://{g.s(LOWER, 6)}-bus.servicebus.windows.net/;SharedAccessKeyName=RootManageSharedAccessKey;"
                f"SharedAccessKey={S(g.b64key(32), 'AZURE_CONNECTION_STRING')}")
        return [("SERVICEBUS_CONNECTION_STRING", "servicebus", "connection_string", conn)]
    if name == "azure_sas":
        head, sig, tail = g.sas_url()
        return [("BACKUP_CONTAINER_SAS_URL", "backup", "container_sas_url", head + S(sig, "AZURE_SAS_TOKEN") + tail)]
    if name == "algolia":
        return [("ALGOLIA_APP_ID", "algolia", "app_id", g.s(UPPER + DIGITS, 10)),
                ("ALGOLIA_ADMIN_API_KEY", "algolia", "admin_api_key", S(g.hexs(32), "ALGOLIA_API_KEY"))]
    if name == "mailchimp":
        return [("MAILCHIMP_API_KEY", "mailchimp", "api_key", S(f"{g.hexs(32)}-us{g.rng.randint(1, 21)}", "MAILCHIMP_API_KEY"))]
    if name == "linear":
        return [("LINEAR_API_KEY", "linear", "api_key", S("lin_api_" + g.s(ALNUM, 40), "LINEAR_API_KEY"))]
    if name == "notion":
        return [("NOTION_TOKEN", "notion", "token", S("ntn_" + g.d(11) + g.s(ALNUM, 35), "NOTION_TOKEN"))]
    if name == "groq":
        return [("GROQ_API_KEY", "groq", "api_key", S("gsk_" + g.s(ALNUM, 52), "GROQ_API_KEY"))]
    if name == "sonar":
        return [("SONAR_TOKEN", "sonar", "token", S("squ_" + g.hexs(40), "SONARQUBE_TOKEN"))]
    if name == "pulumi":
        return [("PULUMI_ACCESS_TOKEN", "pulumi", "access_token", S("pul-" + g.hexs(40), "PULUMI_TOKEN"))]
    if name == "doppler":
        return [("DOPPLER_TOKEN", "doppler", "token", S("dp.pt." + g.s(ALNUM, 43), "DOPPLER_TOKEN"))]
    raise ValueError(name)


SERVICES_ALL = ("aws", "aws_sts", "db", "db_parts", "redis", "smtp", "stripe", "stripe_test", "sendgrid", "twilio",
                "mailgun", "slack", "github", "gitlab", "openai", "anthropic", "sentry", "datadog", "newrelic",
                "heroku", "shopify", "google", "huggingface", "npm", "vault", "digitalocean", "databricks",
                "atlassian", "telegram", "discord", "docker", "pypi", "azure", "servicebus", "algolia",
                "mailchimp", "linear", "notion", "groq", "sonar", "pulumi", "doppler", "azure_sas")


def plain_settings(c: Corpus):
    g = c.g
    return [("APP_ENV", "app", "env", g.pick(("production", "staging", "prod"))),
            ("PORT", "app", "port", str(g.pick((8080, 3000, 8000, 5000)))),
            ("LOG_LEVEL", "app", "log_level", g.pick(("info", "warn", "debug"))),
            ("APP_VERSION", "app", "version", N(f"{g.rng.randint(1, 6)}.{g.rng.randint(0, 40)}.{g.rng.randint(0, 20)}", "version")),
            ("BUILD_SHA", "app", "build_sha", N(g.hexs(40), "git_sha")),
            ("INSTANCE_ID", "app", "instance_id", N(g.uuid(), "uuid")),
            ("REQUEST_TIMEOUT_MS", "app", "request_timeout_ms", str(g.pick((5000, 30000, 15000))))]


def placeholder_settings(c: Corpus):
    g = c.g
    opts = [("SMTP_PASSWORD", "smtp", "password", N("${SMTP_PASSWORD}", "placeholder")),
            ("PAYPAL_CLIENT_SECRET", "paypal", "client_secret", N("<your-client-secret>", "placeholder")),
            ("API_KEY", "api", "key", N("changeme", "placeholder")),
            ("SECRET_TOKEN", "app", "secret_token", N("xxxxxxxxxxxxxxxxxxxxxxxx", "placeholder")),
            ("ADMIN_PASSWORD", "admin", "password", N("********", "placeholder")),
            ("AWS_ACCESS_KEY_ID", "aws_example", "access_key_id", N("AKIAIOSFODNN7EXAMPLE", "published_test_value")),
            ("AWS_SECRET_ACCESS_KEY", "aws_example", "secret_access_key", N("wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", "published_test_value")),
            ("STRIPE_TEST_KEY", "stripe_docs", "test_key", N("sk_test_4eC39HqLyjWDarjtT1zdp7dc", "published_test_value")),
            ("GITHUB_TOKEN", "ci", "github_token", N("${{ secrets.GITHUB_TOKEN }}", "placeholder")),
            ("OPENAI_API_KEY", "openai_example", "api_key", N("sk-...your key here", "placeholder")),
            ("DB_PASSWORD", "database_example", "password", N("<db-password>", "placeholder")),
            ("JWT_SECRET", "auth", "jwt_secret", N("%(JWT_SECRET)s", "placeholder"))]
    return g.rng.sample(opts, g.rng.randint(1, 3))


def config_rows(c: Corpus, n_services: tuple[int, int] = (3, 8)):
    g = c.g
    rows = plain_settings(c)[: g.rng.randint(3, 7)]
    for name in g.rng.sample(SERVICES_ALL, g.rng.randint(*n_services)):
        rows += service_entries(c, name)
    rows += placeholder_settings(c)
    return rows


def cf_dotenv(c: Corpus) -> None:
    g = c.g
    d = c.doc("configs", g.pick(("app", "api", "worker", "web", "billing")), "/.env" if g.chance(0.5) else "/.env.production")
    d.line(f"# {g.pick(('Production', 'Staging', 'Local'))} settings - generated {N(g.date(2024, 2025), 'date')}")
    last = None
    quote = g.chance(0.3)
    for key, section, _, value in config_rows(c):
        if section != last:
            d.line()
            d.line(f"# {section}")
            last = section
        d.line(f'{key}="{value}"' if quote else f"{key}={value}")


def _mark_text(v: str) -> str:
    m = _MARK_RE.fullmatch(v)
    return _MARKS[int(m.group(1))].text if m else v


def cf_yaml(c: Corpus) -> None:
    g = c.g
    d = c.doc("configs", g.pick(("settings", "application", "config", "values")), "yaml")
    sections: dict[str, list] = {}
    for _, section, key, value in config_rows(c):
        sections.setdefault(section, []).append((key, value))
    d.line(f"# deployed by ci, build {N(str(g.rng.randint(1000, 99999)), 'build_number')}")
    for section, items in sections.items():
        d.line(f"{section}:")
        for key, value in items:
            v = value if "://" not in _mark_text(value) and not _mark_text(value).startswith(("%", "$", "<", "*")) else f'"{value}"'
            d.line(f"  {key}: {v}")


def cf_json(c: Corpus) -> None:
    g = c.g
    d = c.doc("configs", "appsettings", "json")
    obj: dict = {"Logging": {"LogLevel": {"Default": "Information", "Microsoft.AspNetCore": "Warning"}}}
    for _, section, key, value in config_rows(c):
        sec = "".join(p.capitalize() for p in section.split("_"))
        k = "".join(p.capitalize() for p in key.split("_"))
        obj.setdefault(sec, {})[k] = value
    d.line(jdump(obj, indent=2))


def cf_k8s_secret(c: Corpus) -> None:
    g = c.g
    app = g.pick(("orders", "billing", "search", "notifier", "gateway"))
    d = c.doc("configs", f"k8s_{app}_secret", "yaml")
    d.line("apiVersion: v1")
    d.line("kind: Secret")
    d.line("metadata:")
    d.line(f"  name: {app}-env")
    d.line(f"  namespace: {g.pick(('prod', 'default', 'payments'))}")
    d.line("  annotations:")
    d.line(f"    checksum/config: {N(g.hexs(64), 'sha256')}")
    d.line("type: Opaque")
    d.line("stringData:")
    for key, _, _, value in config_rows(c, (2, 5)):
        d.line(f'  {key}: "{value}"')


def cf_compose(c: Corpus) -> None:
    g = c.g
    d = c.doc("configs", "docker-compose", "yml")
    pg_pw = secret(g.password(), "PASSWORD")
    d.line('version: "3.9"')
    d.line("services:")
    d.line("  db:")
    d.line(f"    image: postgres:{N(f'{g.rng.randint(13, 16)}.{g.rng.randint(1, 9)}', 'version')}")
    d.line("    environment:")
    d.line("      POSTGRES_USER: app")
    d.line(f"      POSTGRES_PASSWORD: {pg_pw}")
    d.line("    volumes:")
    d.line("      - pgdata:/var/lib/postgresql/data")
    d.line("  api:")
    d.line(f"    image: registry.example.com/api@sha256:{N(g.hexs(64), 'sha256')}")
    d.line("    environment:")
    for key, _, _, value in config_rows(c, (2, 5)):
        d.line(f"      - {key}={value}")
    d.line("    ports:")
    d.line('      - "8080:8080"')
    d.line("volumes:")
    d.line("  pgdata: {}")


def cf_properties(c: Corpus) -> None:
    g = c.g
    d = c.doc("configs", "application", "properties")
    db = g.pick(("mysql", "postgresql"))
    d.line("# Spring Boot")
    d.line(f"spring.application.name={g.pick(('orders', 'inventory', 'catalog'))}")
    d.line(f"spring.datasource.url=jdbc:{db}://db.internal.example.net:{3306 if db == 'mysql' else 5432}/app?useSSL=true")
    d.line("spring.datasource.username=app")
    d.line(f"spring.datasource.password={secret(g.password(), 'PASSWORD')}")
    d.line("spring.mail.host=smtp.example.com")
    d.line(f"spring.mail.username={V(g.email(), EMAIL)}")
    d.line(f"spring.mail.password={secret(g.password(), 'PASSWORD')}")
    d.line(f"management.endpoints.web.exposure.include=health,info")
    d.line(f"app.build.version={N(f'{g.rng.randint(1, 5)}.{g.rng.randint(0, 20)}.{g.rng.randint(0, 9)}-SNAPSHOT', 'version')}")
    for key, section, sub, value in config_rows(c, (1, 3)):
        d.line(f"{section}.{sub.replace('_', '-')}={value}")


def cf_ini(c: Corpus) -> None:
    g = c.g
    d = c.doc("configs", g.pick(("config", "settings", "service")), "ini")
    sections: dict[str, list] = {}
    for _, section, key, value in config_rows(c):
        sections.setdefault(section, []).append((key, value))
    for section, items in sections.items():
        d.line(f"[{section}]")
        for key, value in items:
            d.line(f"{key} = {value}")
        d.line()


def cf_tfvars(c: Corpus) -> None:
    g = c.g
    d = c.doc("configs", "terraform", "tfvars")
    d.line(f'project = "{g.pick(("acme-data", "orders-prod", "analytics"))}"')
    d.line(f'region  = "{g.pick(("us-east-1", "europe-west1", "westeurope"))}"')
    for _, section, key, value in config_rows(c, (2, 5)):
        d.line(f'{section}_{key} = "{value}"')


def cf_aws_credentials(c: Corpus) -> None:
    g = c.g
    d = c.doc("configs", "aws_credentials", "ini")
    for profile in g.rng.sample(("default", "prod", "staging", "backup", "ci"), g.rng.randint(1, 3)):
        d.line(f"[{profile}]")
        sts = g.chance(0.25)
        d.line(f"aws_access_key_id = {secret(g.aws_key_id('ASIA' if sts else 'AKIA'), 'AWS_CREDENTIALS')}")
        d.line(f"aws_secret_access_key = {secret(g.aws_secret(), 'AWS_SECRET_ACCESS_KEY')}")
        if sts:
            d.line(f"aws_session_token = {secret(g.aws_session_token(), 'AWS_SESSION_TOKEN')}")
        d.line()
    if g.chance(0.5):
        d.line("[example]")
        d.line(f"aws_access_key_id = {N('AKIAIOSFODNN7EXAMPLE', 'published_test_value')}")
        d.line(f"aws_secret_access_key = {N('wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY', 'published_test_value')}")


def cf_gcp_service_account(c: Corpus) -> None:
    g = c.g
    project = f"{g.pick(('acme', 'orders', 'data', 'ml'))}-{g.pick(('prod', 'etl', 'platform'))}-{g.d(3)}"
    d = c.doc("configs", "gcp_service_account", "json")
    key = g.pem("PKCS8").replace("\n", "\\n") + "\\n"
    sa = f"{g.pick(('loader', 'ci-deployer', 'bq-reader'))}@{project}.iam.gserviceaccount.com"
    d.line("{")
    d.line('  "type": "service_account",')
    d.line(f'  "project_id": "{project}",')
    d.line(f'  "private_key_id": "{V(g.hexs(40), "GCP_CREDENTIALS", "PRIVATE_KEY")}",')
    d.line(f'  "private_key": "{V(key, "PRIVATE_KEY", "GCP_CREDENTIALS")}",')
    d.line(f'  "client_email": "{V(sa, EMAIL)}",')
    d.line(f'  "client_id": "{g.d(21)}",')
    d.line('  "auth_uri": "https://accounts.google.com/o/oauth2/auth",')
    d.line('  "token_uri": "https://oauth2.googleapis.com/token",')
    d.line('  "auth_provider_x509_cert_url": "https://www.googleapis.com/oauth2/v1/certs",')
    d.line(f'  "client_x509_cert_url": "https://www.googleapis.com/robot/v1/metadata/x509/{sa.replace("@", "%40")}",')
    d.line('  "universe_domain": "googleapis.com"')
    d.line("}")


def cf_npmrc(c: Corpus) -> None:
    g = c.g
    d = c.doc("configs", "node_project", "/.npmrc")
    d.line("registry=https://registry.npmjs.org/")
    d.line(f"//registry.npmjs.org/:_authToken={secret(g.npm(), 'NPM_TOKEN')}")
    if g.chance(0.5):
        d.line("@acme:registry=https://npm.pkg.github.com/")
        d.line(f"//npm.pkg.github.com/:_authToken={secret(g.github(), 'GITHUB_TOKEN', 'NPM_TOKEN')}")
    d.line("save-exact=true")


def cf_pypirc(c: Corpus) -> None:
    g = c.g
    d = c.doc("configs", "home", "/.pypirc")
    d.line("[distutils]")
    d.line("index-servers =")
    d.line("    pypi")
    d.line()
    d.line("[pypi]")
    d.line("username = __token__")
    d.line(f"password = {secret('pypi-AgEIcHlwaS5vcmc' + g.s(ALNUM + '_-', 140), 'PYPI_TOKEN')}")


def cf_git_credentials(c: Corpus) -> None:
    g = c.g
    d = c.doc("configs", "home", "/.git-credentials")
    for _ in range(g.rng.randint(1, 3)):
        user = g.pick(("jdoe", "ci-bot", "deploy", "mlopez"))
        r = g.rng.random()
        if r < 0.4:
            d.line(f"https://{user}:{secret(g.github(), 'GITHUB_TOKEN', 'BASIC_AUTH_URL')}@github.com")
        elif r < 0.7:
            d.line(f"https://oauth2:{secret(g.gitlab(), 'GITLAB_TOKEN', 'BASIC_AUTH_URL')}@gitlab.example.com")
        else:
            d.line(f"https://{user}:{secret(g.url_password(), 'BASIC_AUTH_URL')}@git.internal.example.net")


def cf_wp_config(c: Corpus) -> None:
    g = c.g
    d = c.doc("configs", "wp-config", "php")
    d.line("<?php")
    d.line("/** The base configuration for WordPress */")
    d.line("define( 'DB_NAME', 'wordpress' );")
    d.line("define( 'DB_USER', 'wp_user' );")
    d.line(f"define( 'DB_PASSWORD', '{secret(g.password(), 'PASSWORD')}' );")
    d.line("define( 'DB_HOST', 'localhost' );")
    d.line("define( 'DB_CHARSET', 'utf8mb4' );")
    for k in ("AUTH_KEY", "SECURE_AUTH_KEY", "LOGGED_IN_KEY"):
        d.line(f"define( '{k}', '{N('put your unique phrase here', 'placeholder')}' );")
    d.line("$table_prefix = 'wp_';")
    d.line("define( 'WP_DEBUG', false );")


def cf_kubeconfig(c: Corpus) -> None:
    g = c.g
    d = c.doc("configs", "kubeconfig", "yaml")
    cluster = g.pick(("prod-eu", "staging", "data-platform"))
    d.line("apiVersion: v1")
    d.line("kind: Config")
    d.line("clusters:")
    d.line("- cluster:")
    d.line(f"    certificate-authority-data: {N(base64.b64encode(g.rng.randbytes(96)).decode(), 'base64_blob')}")
    d.line(f"    server: https://{V(g.ipv4(), IP)}:6443")
    d.line(f"  name: {cluster}")
    d.line("users:")
    d.line("- name: ci-deployer")
    d.line("  user:")
    d.line(f"    token: {secret(g.jwt(), 'JSON_WEB_TOKEN')}")
    d.line("contexts:")
    d.line(f"- context: {{cluster: {cluster}, user: ci-deployer}}")
    d.line(f"  name: {cluster}")
    d.line(f"current-context: {cluster}")


def cf_private_key(c: Corpus) -> None:
    g = c.g
    kind = g.pick(("RSA", "RSA", "PKCS8", "EC", "OPENSSH", "OPENSSH", "PGP"))
    name = {"RSA": "id_rsa", "PKCS8": "server.key", "EC": "tls-ec.key", "OPENSSH": "id_ed25519", "PGP": "secring.asc"}[kind]
    d = c.doc("keys", g.pick(("deploy", "build", "backup", "admin", "web")), "/" + name)
    if kind == "PGP":
        d.line(f"# exported {N(g.date(2023, 2025), 'date')} for the release signing key")
    d.line(V(g.pem(kind), "PRIVATE_KEY"))
    if kind == "OPENSSH" and g.chance(0.5):
        d.line()
        pub = base64.b64encode(b"\x00\x00\x00\x0bssh-ed25519\x00\x00\x00 " + g.rng.randbytes(32)).decode()
        d.line(f"# public half: ssh-ed25519 {N(pub, 'public_key')} deploy@build")


def cf_ci(c: Corpus) -> None:
    g = c.g
    if g.chance(0.5):
        d = c.doc("configs", "gitlab-ci", "yml")
        d.line("stages: [build, test, deploy]")
        d.line("variables:")
        d.line(f'  DOCKER_IMAGE: "registry.example.com/app:{N(g.hexs(8), "git_sha")}"')
        for key, _, _, value in config_rows(c, (1, 3)):
            d.line(f'  {key}: "{value}"')
        d.line("deploy:")
        d.line("  stage: deploy")
        d.line("  script:")
        d.line(f"    - curl -sf -H \"PRIVATE-TOKEN: {secret(g.gitlab(), 'GITLAB_TOKEN')}\" https://gitlab.example.com/api/v4/projects/{g.d(4)}/releases")
        d.line("    - ./deploy.sh")
    else:
        d = c.doc("configs", "github-workflow", "yml")
        d.line("name: release")
        d.line("on: { push: { tags: ['v*'] } }")
        d.line("jobs:")
        d.line("  publish:")
        d.line("    runs-on: ubuntu-22.04")
        d.line("    env:")
        for key, _, _, value in config_rows(c, (1, 3)):
            d.line(f'      {key}: "{value}"')
        d.line("    steps:")
        d.line(f"      - uses: actions/checkout@{N(g.hexs(40), 'git_sha')}  # v4.1.7")
        d.line(f"      - run: echo {secret('dckr_pat_' + g.s(ALNUM + '_-', 27), 'DOCKERHUB_TOKEN')} | docker login -u ci-bot --password-stdin")


# --- chat transcripts -----------------------------------------------------------------------

def ch_support(c: Corpus) -> None:
    g = c.g
    cust, agent = c.person(), c.person()
    d = c.doc("chats", "support_chat", "txt")
    import time
    t = 1717200000 + g.rng.randint(0, 20_000_000)

    def say(who: str, *parts: str) -> None:
        nonlocal t
        t += g.rng.randint(5, 90)
        d.line(f"[{time.strftime('%H:%M:%S', time.gmtime(t))}] {who}: ", *parts)

    d.line(f"Chat transcript - {g.company()} support")
    d.line(f"Started: {N(gen.iso_ts(g.rng, t), 'timestamp')}   Session: {N(g.uuid(), 'uuid')}")
    d.line(f"Visitor: {cust.name} <{V(cust.email, EMAIL)}>   IP: {V(g.ipv4(), IP)}")
    d.line()
    say(f"Agent {agent.first}", f"Hi {cust.first}, thanks for reaching out. How can I help today?")
    topic = g.rng.randint(0, 2)
    if topic == 0:
        brand, number = g.card()
        say(cust.first, g.pick(("my card keeps getting declined at checkout", "payment failed again??", "I can't pay my invoice")))
        say(f"Agent {agent.first}", "Sorry about that! Can you tell me the last four digits of the card?")
        say(cust.first, g.pick(("here's the whole thing ", "it's ", "")), V(g.fmt_card(number), "CREDIT_CARD_NUMBER"),
            g.pick((f" exp {V(g.exp(), 'CREDIT_CARD_EXPIRATION_DATE')}", "", f" cvv {V(g.cvv(brand), 'CREDIT_CARD_CVV')}")))
        say(f"Agent {agent.first}", "Please don't post full card numbers in chat - I've asked for this message to be redacted.")
        if g.chance(0.5):
            say(cust.first, "sorry. the order number is ", N(f"{g.d(3)}-{g.d(7)}-{g.d(7)}", "order_number"))
    elif topic == 1:
        say(cust.first, "I need to update the phone number on my account")
        say(f"Agent {agent.first}", "Sure. What's the new number?")
        say(cust.first, V(g.phone(), PHONE))
        say(f"Agent {agent.first}", "Done. For verification, what's your date of birth?")
        say(cust.first, "dob ", V(g.dob(), "DATE_OF_BIRTH"))
    else:
        say(cust.first, "the refund should go to my bank account instead of the card")
        say(f"Agent {agent.first}", "I can set that up. Which account should we use?")
        if g.chance(0.5):
            say(cust.first, "IBAN ", g.iban_v(g.pick(("DE", "FR", "NL", "ES", "GB"))))
        else:
            if g.chance(0.4):
                say(cust.first, "routing number ", g.bad_aba())
                say(f"Agent {agent.first}", "Hmm, that routing number doesn't validate. Could you double-check it?")
                say(cust.first, "sorry, typo. routing number ", V(g.aba(), "US_BANK_ROUTING_MICR"))
                say(cust.first, "account number ", V(g.bank_account(), "US_BANK_ACCOUNT_NUMBER"))
            else:
                say(cust.first, "routing number ", V(g.aba(), "US_BANK_ROUTING_MICR"), ", account number ",
                    V(g.bank_account(), "US_BANK_ACCOUNT_NUMBER"))
    say(f"Agent {agent.first}", f"Thanks! Your case number is {N('CS' + g.d(8), 'order_number')}. Anything else?")
    say(cust.first, "no that's all, thanks")
    d.line(f"Chat ended: {N(gen.iso_ts(g.rng, t + 20), 'timestamp')}")


def ch_team_slack(c: Corpus) -> None:
    g = c.g
    d = c.doc("chats", "slack_export", "json")
    people = [c.person() for _ in range(4)]
    for p in people:
        p.uid = "U0" + g.s(UPPER + DIGITS, 8)
    ts = 1717200000 + g.rng.randint(0, 20_000_000)
    msgs = []

    def msg(p, text: str) -> None:
        nonlocal ts
        ts += g.rng.randint(10, 600)
        msgs.append({"type": "message", "user": p.uid, "user_name": p.first.lower(),
                     "text": text, "ts": f"{ts}.{g.d(6)}"})

    a, b, cc, dd = people
    msg(a, f"deploy of {N(g.hexs(7), 'git_sha')} is stuck again :(")
    msg(b, "which env?")
    msg(a, "staging. logs say auth failed talking to the db")
    topic = g.rng.randint(0, 6)
    if topic == 0:
        msg(b, f"try this, I rotated it yesterday: `DATABASE_URL=postgres://app:{secret(g.url_password(), 'DATABASE_URL_WITH_PASSWORD')}@pg-staging.internal.example.net:5432/app`")
    elif topic == 1:
        msg(b, f"the new key is `AWS_ACCESS_KEY_ID={secret(g.aws_key_id(), 'AWS_CREDENTIALS')}` / `AWS_SECRET_ACCESS_KEY={secret(g.aws_secret(), 'AWS_SECRET_ACCESS_KEY')}`")
    elif topic == 2:
        msg(b, f"use my token for now: {secret(g.github(), 'GITHUB_TOKEN')}")
    elif topic == 3:
        msg(b, f"slack bot token for the alerts channel is {secret(g.slack_bot(), 'SLACK_TOKEN')}")
    elif topic == 4:
        msg(b, f"webhook for #deploys: {secret(g.slack_webhook(), 'SLACK_WEBHOOK_URL')}")
    elif topic == 5:
        msg(b, f"my user token works for the export script: {secret(g.slack_user(), 'SLACK_TOKEN')}")
    else:
        head, sig, tail = g.sas_url()
        msg(b, f"the dump is here, link valid for a week: {head}{secret(sig, 'AZURE_SAS_TOKEN')}{tail}")
    msg(cc, "please don't paste secrets in here, use the vault :lock:")
    msg(a, f"fixed, build {N(str(g.rng.randint(1000, 99999)), 'build_number')} is green. run id {N(g.uuid(), 'uuid')}")
    if g.chance(0.5):
        msg(dd, f"unrelated: can someone send me the on-call number? mine is {V(g.phone(), PHONE)}")
    if g.chance(0.4):
        msg(dd, f"fyi the staging box moved to {V(g.ipv4(), IP)}")
    d.line(jdump(msgs, indent=2))


def ch_hr_dm(c: Corpus) -> None:
    g = c.g
    emp, hr = c.person(), c.person()
    d = c.doc("chats", "hr_direct_messages", "txt")
    d.line(f"Conversation with {hr.name} (HR) - exported {N(g.date(2025, 2025), 'date')}")
    d.line()
    d.line(f"{hr.first}: Hi {emp.first}, the benefits portal still shows your SSN as missing.")
    if g.chance(0.5):
        d.line(f"{emp.first}: oh sorry, it's {V(g.ssn(), 'US_SOCIAL_SECURITY_NUMBER')}")
    else:
        d.line(f"{emp.first}: my ssn is {V(g.ssn(''), 'US_SOCIAL_SECURITY_NUMBER')}")
    d.line(f"{hr.first}: Thanks. And your date of birth? The insurer needs it.")
    d.line(f"{emp.first}: DOB {V(g.dob(), 'DATE_OF_BIRTH')}")
    d.line(f"{hr.first}: Perfect. I'll also need your personal email for the COBRA letters.")
    d.line(f"{emp.first}: {V(g.email(emp.first, emp.last), EMAIL)}")
    if g.chance(0.5):
        d.line(f"{hr.first}: Last thing - the payroll form has the employee number {N(g.d(6), 'order_number')}, can you confirm?")
        d.line(f"{emp.first}: yes that's right")


# --- letters and forms ----------------------------------------------------------------------

def lt_w9(c: Corpus) -> None:
    g = c.g
    p = c.person()
    city, st, zipc = g.city()
    d = c.doc("letters", "form_w9", "txt")
    d.line("Form W-9 (Rev. March 2024)  Request for Taxpayer Identification Number and Certification")
    d.line()
    d.line(f"1 Name (as shown on your income tax return): {p.name}")
    biz = g.chance(0.5)
    d.line(f"2 Business name/disregarded entity name: {g.company() + ' LLC' if biz else ''}")
    d.line(f"3a Federal tax classification: {'Limited liability company' if biz else 'Individual/sole proprietor'}")
    d.line(f"5 Address: {g.street()}")
    d.line(f"6 City, state, and ZIP code: {city}, {st} {zipc}")
    d.line()
    d.line("Part I  Taxpayer Identification Number (TIN)")
    if biz:
        d.line("  Social security number: ___-__-____")
        d.line(f"  Employer identification number (EIN): {V(g.ein(), 'US_EMPLOYER_IDENTIFICATION_NUMBER')}")
    else:
        d.line(f"  Social security number: {V(g.ssn(), 'US_SOCIAL_SECURITY_NUMBER')}")
        d.line("  Employer identification number: __-_______")
    d.line()
    d.line("Part II  Certification")
    d.line(f"Signature of U.S. person: {p.name}      Date: {N(g.date(2024, 2025), 'date')}")


def lt_loan_application(c: Corpus) -> None:
    g = c.g
    p = c.person()
    city, st, zipc = g.city()
    d = c.doc("letters", "loan_application", "txt")
    d.line(f"{g.pick(BANK_NAMES).upper()} - PERSONAL LOAN APPLICATION")
    d.line(f"Application no. {N('LA-' + g.d(9), 'order_number')}    Received {N(g.date(2025, 2025), 'date')}")
    d.line()
    d.line("SECTION 1 - APPLICANT")
    d.line(f"Name: {p.name}")
    d.line(f"Date of birth: {V(g.dob(), 'DATE_OF_BIRTH')}")
    d.line(f"SSN: {V(g.ssn(), 'US_SOCIAL_SECURITY_NUMBER')}")
    if g.chance(0.5):
        d.line(f"Co-applicant SSN: {N('XXX-XX-' + g.d(4), 'masked_value')} (on file)")
    d.line(f"Driver's license no.: {V(g.us_dl(), 'US_DRIVERS_LICENSE_NUMBER')}  State: {st}")
    d.line(f"Address: {g.street()}, {city}, {st} {zipc}")
    d.line(f"Phone: {V(g.phone(), PHONE)}    Email: {V(p.email, EMAIL)}")
    d.line()
    d.line("SECTION 2 - EMPLOYMENT")
    d.line(f"Employer: {g.company()}   Employer EIN: {V(g.ein(), 'US_EMPLOYER_IDENTIFICATION_NUMBER')}")
    d.line(f"Annual income: ${N(f'{g.rng.randint(38, 260)},{g.d(3)}', 'amount')}   Years employed: {g.rng.randint(1, 25)}")
    d.line()
    d.line("SECTION 3 - DISBURSEMENT ACCOUNT")
    d.line(f"Bank routing number: {V(g.aba(), 'US_BANK_ROUTING_MICR')}")
    d.line(f"Checking account number: {V(g.bank_account(), 'US_BANK_ACCOUNT_NUMBER')}")
    d.line()
    d.line(f"Requested amount: ${N(g.amount(2000, 50000), 'amount')}   Term: {g.pick((24, 36, 48, 60))} months")
    d.line("I certify that the information above is true and complete.")


def lt_bank_letter(c: Corpus) -> None:
    g = c.g
    p = c.person()
    d = c.doc("letters", "account_verification", "txt")
    bank = g.pick(BANK_NAMES)
    d.line(bank)
    d.line(f"{g.street()}, {' '.join(g.city()[:2])}")
    d.line()
    d.line(N(g.date(2025, 2025), "date"))
    d.line()
    d.line("To whom it may concern,")
    d.line()
    d.line(f"This letter confirms that {p.name} has held a {g.pick(('checking', 'savings'))} account with {bank} since "
           f"{g.rng.randint(2005, 2022)}.")
    d.line()
    d.line(f"  Account number: {V(g.bank_account(), 'US_BANK_ACCOUNT_NUMBER')}")
    d.line(f"  ABA routing number: {V(g.aba(), 'US_BANK_ROUTING_MICR')}")
    d.line(f"  SWIFT code (international wires): {V(g.swift('US'), 'SWIFT_CODE')}")
    d.line()
    d.line("The account is in good standing. For questions, contact our verification desk at "
           f"{V(g.phone(), PHONE)} and quote reference {N(g.s(UPPER + DIGITS, 10), 'order_number')}.")
    d.line()
    d.line("Sincerely,")
    d.line(f"{g.name()}, Branch Manager")


def lt_discharge(c: Corpus) -> None:
    g = c.g
    pat, doc1 = c.person(), c.person()
    d = c.doc("letters", "discharge_summary", "txt")
    code, desc = g.icd10()
    d.line("UMBRELLA HEALTH - DISCHARGE SUMMARY")
    d.line()
    d.line(f"Patient: {pat.last.upper()}, {pat.first}    MRN: {V(g.mrn(), 'MEDICAL_RECORD_NUMBER')}")
    d.line(f"DOB: {V(g.dob(), 'DATE_OF_BIRTH')}    Sex: {g.pick('MF')}")
    adm = f"2025-{g.rng.randint(1, 12):02d}-{g.rng.randint(1, 20):02d}"
    dis = adm[:8] + f"{int(adm[8:]) + g.rng.randint(1, 8):02d}"
    d.line(f"Admitted: {N(adm, 'date')}    Discharged: {N(dis, 'date')}")
    d.line(f"Attending physician: {doc1.name}, MD (NPI: {V(g.npi(), 'US_HEALTHCARE_NPI')})")
    d.line()
    d.line(f"Admitting diagnosis: {desc} - ICD-10 {V(code, 'ICD10_CODE')}")
    d.line("Discharge diagnoses:")
    for i in range(g.rng.randint(1, 3)):
        code2, desc2 = g.icd10()
        d.line(f"  {i + 1}. {desc2} ({V(code2, 'ICD10_CODE')})")
    d.line()
    d.line("Hospital course: uneventful. Vitals stable at discharge: BP 128/82, HR 74, SpO2 97%.")
    d.line()
    d.line("Discharge medications:")
    for drug in g.rng.sample(DRUGS, g.rng.randint(1, 3)):
        d.line(f"  - {drug}, NDC {V(g.ndc(), 'US_NATIONAL_DRUG_CODE')}")
    d.line(f"Prescriber DEA#: {V(g.dea(doc1.last), 'US_DEA_NUMBER')}")
    d.line()
    d.line(f"Follow-up with primary care in 2 weeks. Questions: call the clinic at {V(g.phone(), PHONE)}.")


def lt_insurance_claim(c: Corpus) -> None:
    g = c.g
    p = c.person()
    d = c.doc("letters", "insurance_claim", "txt")
    d.line("CLAIM FOR MEDICAL BENEFITS")
    d.line(f"Claim received: {N(g.date(2025, 2025), 'date')}   Internal ref: {N(g.uuid(), 'uuid')}")
    d.line(f"Insured: {p.name}   DOB: {V(g.dob(), 'DATE_OF_BIRTH')}")
    if g.chance(0.5):
        hic = g.ssn("").replace("-", "")
        d.line(f"Medicare claim number: {V(hic[:3] + '-' + hic[3:5] + '-' + hic[5:] + g.pick('ABCD'), 'US_HEALTH_INSURANCE_CLAIM_NUMBER')}")
    else:
        d.line(f"Medicare beneficiary id (MBI): {V(g.mbi(), 'US_MEDICARE_BENEFICIARY_ID_NUMBER')}")
    code, desc = g.icd10()
    d.line(f"Diagnosis code: {V(code, 'ICD10_CODE')} ({desc})")
    d.line(f"Rendering provider NPI: {V(g.npi(), 'US_HEALTHCARE_NPI')}")
    if g.chance(0.4):
        d.line(f"Referring provider NPI: {g.bad_npi()} - REJECTED (invalid check digit), resubmit")
    d.line(f"Billed amount: ${N(g.amount(80, 9000), 'amount')}")
    d.line(f"Contact phone: {V(g.phone(), PHONE)}")


INTL_LETTER_HEAD = {
    "UK": "Dear {name},\n\nPlease find below the details we hold for your payroll record.",
    "FR": "Madame, Monsieur {last},\n\nVeuillez trouver ci-dessous les informations de votre dossier administratif.",
    "DE": "Sehr geehrte/r {name},\n\nanbei die Angaben für Ihre Lohnabrechnung.",
    "ES": "Estimado/a {name}:\n\nA continuación le indicamos los datos de su expediente.",
    "IT": "Gentile {name},\n\ndi seguito i dati registrati per il Suo contratto.",
    "NL": "Beste {name},\n\nHieronder vindt u de gegevens voor de salarisadministratie.",
    "BR": "Prezado(a) {name},\n\nSeguem abaixo os dados cadastrais para a folha de pagamento.",
    "IN": "Dear {name},\n\nPlease verify the KYC details submitted for your salary account.",
    "JP": "{last} 様\n\n給与手続きのため、以下の情報をご確認ください。",
    "KR": "{name} 님께,\n\n급여 처리를 위해 아래 정보를 확인해 주십시오.",
    "SG": "Dear {name},\n\nPlease confirm the particulars below for CPF contributions.",
    "CN": "尊敬的 {name}：\n\n请核对以下入职资料。",
    "CA": "Dear {name},\n\nPlease review the information on your T4 slip.",
    "AU": "Dear {name},\n\nThank you for completing your tax file number declaration.",
    "IE": "Dear {name},\n\nPlease confirm your details for Revenue payroll reporting.",
    "PL": "Szanowny Panie / Szanowna Pani {last},\n\nponiżej dane do umowy o pracę.",
    "SE": "Hej {first},\n\nHär är uppgifterna vi har registrerat för lönen.",
    "MX": "Estimado/a {name}:\n\nLe pedimos confirmar los datos de su alta en nómina.",
    "BE": "Beste {name},\n\nHierbij de gegevens voor uw personeelsdossier.",
    "CH": "Sehr geehrte/r {name},\n\nfür die Anmeldung bei der Ausgleichskasse benötigen wir:",
    "PT": "Caro(a) {name},\n\nseguem os dados fiscais registados.",
    "FI": "Hei {first},\n\nalla palkanmaksua varten tallennetut tiedot.",
    "NO": "Hei {first},\n\nher er opplysningene vi har registrert for lønn.",
    "DK": "Kære {first},\n\nher er oplysningerne til lønsystemet.",
    "HK": "Dear {name},\n\nPlease confirm the personal particulars for your MPF enrolment.",
    "ZA": "Dear {name},\n\nPlease verify the details below for your employment contract.",
    "TR": "Sayın {name},\n\nbordro kaydınız için bilgileriniz aşağıdadır.",
    "IL": "Dear {name},\n\nPlease confirm the details for the Israeli payroll provider.",
    "TH": "Dear {name},\n\nPlease confirm the details for your work permit application.",
    "CL": "Estimado/a {name}:\n\nLe solicitamos confirmar sus datos personales.",
}


def lt_intl(c: Corpus) -> None:
    g = c.g
    p = c.person()
    country = g.pick(INTL)
    d = c.doc("letters", f"personnel_{country.lower()}", "txt")
    d.line(f"{g.company()} - {country}")
    d.line(N(g.date(2024, 2025), "date"))
    d.line()
    d.line(INTL_LETTER_HEAD[country].format(name=p.name, first=p.first, last=p.last))
    d.line()
    lines = intl_id_lines(c, country)
    for line in lines:
        d.line(f"    {line}")
    d.line(f"    Tel: {V(g.intl_phone(country), PHONE)}")
    d.line(f"    E-mail: {V(p.email, EMAIL)}")
    first = _MARKS[int(_MARK_RE.search(lines[0]).group(1))]
    if first.info_type in VALIDATED and g.chance(0.4):
        bad = bad_check(g.rng, first)
        d.line()
        d.line({"FR": f"NB : le numéro indiqué sur votre formulaire ({bad}) comporte une erreur de clé.",
                "DE": f"Hinweis: Die Nummer auf Ihrem Formular ({bad}) hat eine falsche Prüfziffer.",
                "ES": f"Nota: el número de su formulario ({bad}) tiene la letra de control incorrecta.",
                "BR": f"Obs.: o número informado no formulário ({bad}) tem dígito verificador inválido.",
                "CN": f"注意：原表格上的号码 {bad} 校验位错误，以上面的号码为准。",
                }.get(country, f"Note: the number on your original form ({bad}) has a wrong check digit; "
                               "we use the one above."))
    d.line()
    d.line(f"Ref. {N(g.s(UPPER, 2) + '/' + g.d(6), 'order_number')}")


def lt_uk_payslip(c: Corpus) -> None:
    g = c.g
    p = c.person()
    y, m, dd = g.birth()
    d = c.doc("letters", "uk_payslip", "txt")
    d.line(f"{g.company()} Ltd - PAYSLIP  Period {g.rng.randint(1, 12):02d}/2025")
    d.line(f"Employee: {p.name}   Payroll no: {N(g.d(6), 'order_number')}")
    d.line(f"NI number: {V(g.nino(), 'UK_NATIONAL_INSURANCE_NUMBER')}   Tax code: 1257L")
    d.line(f"Gross pay: £{N(g.amount(1800, 7000), 'amount')}   Net pay: £{N(g.amount(1500, 5000), 'amount')}")
    d.line(f"Paid to sort code {V(f'{g.d(2)}-{g.d(2)}-{g.d(2)}', 'UK_BANK_SORT_CODE')}, account number {V(g.d(8), 'US_BANK_ACCOUNT_NUMBER')}")
    if g.chance(0.5):
        d.line(f"Driving licence (company car): {V(g.uk_driving(p.last, p.first, y, m, dd, g.chance(0.5)), 'UK_DRIVERS_LICENSE_NUMBER')}")


def lt_ca_direct_deposit(c: Corpus) -> None:
    g = c.g
    p = c.person()
    d = c.doc("letters", "ca_direct_deposit", "txt")
    d.line("DIRECT DEPOSIT ENROLMENT / ADHÉSION AU DÉPÔT DIRECT")
    d.line(f"Employee: {p.name}")
    d.line(f"Social insurance number (SIN): {V(g.sin(), 'CANADA_SOCIAL_INSURANCE_NUMBER')}")
    acct = g.d(7)
    d.line(f"Transit number: {g.d(5)}, Institution number: {g.pick(('001', '002', '003', '004', '006', '815'))}, "
           f"Account number: {V(acct, 'CANADA_BANK_ACCOUNT', 'US_BANK_ACCOUNT_NUMBER')}")
    d.line(f"Void cheque attached. Phone: {V(g.phone(), PHONE)}")


def lt_au_tfn(c: Corpus) -> None:
    g = c.g
    p = c.person()
    d = c.doc("letters", "au_new_starter", "txt")
    d.line("NEW STARTER FORM")
    d.line(f"Name: {p.name}")
    d.line(f"Tax file number (TFN): {V(g.tfn(), 'AUSTRALIA_TAX_FILE_NUMBER')}")
    d.line(f"Medicare card: {V(g.au_medicare(), 'AUSTRALIA_MEDICARE_NUMBER')}")
    bsb = g.pick(("062", "063", "082", "033")) + "-" + g.d(3)
    d.line(f"Bank: BSB {V(bsb, 'AUSTRALIA_BSB')}  Account {N('see attached', 'placeholder')}")
    d.line(f"Mobile: {V(g.intl_phone('AU'), PHONE)}")


def lt_securities(c: Corpus) -> None:
    g = c.g
    p = c.person()
    d = c.doc("letters", "portfolio_statement", "txt")
    d.line("QUARTERLY PORTFOLIO STATEMENT")
    d.line(f"Client: {p.name}   Statement date: {N(g.date(2025, 2025), 'date')}")
    d.line()
    d.line("Holding                          ISIN            CUSIP       Units     Value")
    for _ in range(g.rng.randint(3, 6)):
        d.line(f"{g.pick(('Global Equity Fund', 'US Treasury 2031', 'Tech Index ETF', 'Corp Bond Fund', 'Dividend Growth')):<32} "
               f"{V(g.isin(), 'ISIN')}  {V(g.cusip(), 'CUSIP')}  {g.rng.randint(10, 900):>6}  {N(g.amount(1000, 90000), 'amount'):>9}")


def lt_device_repair(c: Corpus) -> None:
    g = c.g
    p = c.person()
    d = c.doc("letters", "device_repair", "txt")
    d.line("DEVICE REPAIR INTAKE")
    d.line(f"Customer: {p.name}  Phone: {V(g.phone(), PHONE)}")
    d.line(f"Model: {g.pick(('iPhone 14', 'Pixel 7a', 'Galaxy A54'))}   IMEI: {V(g.imei(), 'IMEI_HARDWARE_ID')}")
    d.line(f"Serial: {N(g.s(UPPER + DIGITS, 12), 'sku')}   Firmware: {N(f'{g.rng.randint(14, 17)}.{g.rng.randint(0, 6)}.{g.rng.randint(0, 3)}', 'version')}")
    d.line(f"Wi-Fi MAC: {V(g.mac(), 'MAC_ADDRESS')}")
    d.line(f"Ticket {N(g.uuid(), 'uuid')} - screen replacement, est. ${N(g.amount(90, 350), 'amount')}")


# --- source code ----------------------------------------------------------------------------

def sc_python(c: Corpus) -> None:
    g = c.g
    kind = g.rng.randint(0, 3)
    if kind == 0:
        d = c.doc("src", "billing", "py")
        d.line('"""Billing helpers. TODO: move the key to the secret store before release."""')
        d.line("import os")
        d.line("import stripe")
        d.line()
        d.line(f'stripe.api_key = "{secret(g.stripe(), "STRIPE_API_KEY")}"')
        d.line('WEBHOOK_SECRET = os.environ["STRIPE_WEBHOOK_SECRET"]')
        d.line(f'PLAN_IDS = {{"basic": "{N(g.uuid(), "uuid")}", "pro": "{N(g.uuid(), "uuid")}"}}')
        d.line()
        d.line("def charge(customer_id, amount_cents):")
        d.line('    return stripe.PaymentIntent.create(customer=customer_id, amount=amount_cents, currency="usd")')
    elif kind == 1:
        d = c.doc("src", "s3_sync", "py")
        d.line("import boto3")
        d.line()
        d.line("# quick hack for the migration; delete after")
        d.line('s3 = boto3.client("s3",')
        d.line(f'    aws_access_key_id="{secret(g.aws_key_id(), "AWS_CREDENTIALS")}",')
        d.line(f'    aws_secret_access_key="{secret(g.aws_secret(), "AWS_SECRET_ACCESS_KEY")}",')
        d.line('    region_name="us-east-1")')
        d.line()
        d.line(f'EXPECTED_ETAG = "{N(g.hexs(32), "md5")}"')
        d.line(f'MANIFEST_SHA256 = "{N(g.hexs(64), "sha256")}"')
    elif kind == 2:
        d = c.doc("src", "settings", "py")
        d.line("DATABASES = {")
        d.line('    "default": {')
        d.line('        "ENGINE": "django.db.backends.postgresql",')
        d.line('        "NAME": "shop",')
        d.line('        "USER": "shop",')
        d.line(f'        "PASSWORD": "{secret(g.password(), "PASSWORD")}",')
        d.line('        "HOST": "db.internal.example.net",')
        d.line("    }")
        d.line("}")
        d.line(f'EMAIL_HOST_USER = "{V(g.email(), EMAIL)}"')
        d.line('EMAIL_HOST_PASSWORD = os.environ.get("EMAIL_HOST_PASSWORD")')
        d.line(f'SENTRY_DSN = "{secret(f"https://{g.hexs(32)}@o{g.d(6)}.ingest.sentry.io/{g.d(7)}", "SENTRY_DSN")}"')
        d.line(f'VERSION = "{N(f"{g.rng.randint(1, 5)}.{g.rng.randint(0, 20)}.{g.rng.randint(0, 9)}", "version")}"')
    else:
        d = c.doc("src", "llm_client", "py")
        d.line("from openai import OpenAI")
        d.line("import anthropic")
        d.line()
        d.line(f'client = OpenAI(api_key="{secret(_openai(g), "OPENAI_API_KEY")}")')
        d.line(f'claude = anthropic.Anthropic(api_key="{secret(_anthropic(g), "ANTHROPIC_API_KEY")}")')
        d.line('MODEL = "gpt-4o-2024-08-06"')
        d.line(f'CACHE_KEY = "{N(g.hexs(40), "sha1")}"')


def sc_tests(c: Corpus) -> None:
    g = c.g
    d = c.doc("src", "test_validation", "py")
    d.line('"""Unit tests for the checkout form validators (published test numbers only)."""')
    d.line("import pytest")
    d.line()
    d.line("VALID_TEST_CARDS = [")
    for v in g.rng.sample(["4111 1111 1111 1111", "4242424242424242", "5555555555554444", "378282246310005",
                           "6011111111111117", "4012888888881881"], 3):
        d.line(f'    "{N(v, "published_test_value")}",')
    d.line("]")
    d.line("INVALID_CARDS = [")
    for _ in range(3):
        d.line(f'    "{g.bad_card()}",')
    d.line("]")
    d.line(f'EXAMPLE_SSN = "{N("123-45-6789", "published_test_value")}"')
    d.line(f'INVALID_SSNS = ["{g.bad_ssn()}", "{g.bad_ssn()}", "{g.bad_ssn()}"]')
    d.line(f'BAD_IBAN = "{g.bad_iban()}"')
    d.line(f'SAMPLE_AWS_KEY = "{N("AKIAIOSFODNN7EXAMPLE", "published_test_value")}"')
    d.line(f'SAMPLE_JWT = "{N("eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4gRG9lIiwiaWF0IjoxNTE2MjM5MDIyfQ.SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c", "published_test_value")}"')
    d.line(f'FIXTURE_ID = "{N(g.uuid(), "uuid")}"')
    d.line()
    d.line('@pytest.mark.parametrize("number", VALID_TEST_CARDS)')
    d.line("def test_luhn_accepts(number):")
    d.line("    assert luhn(number)")
    d.line()
    d.line('@pytest.mark.parametrize("number", INVALID_CARDS)')
    d.line("def test_luhn_rejects(number):")
    d.line("    assert not luhn(number)")


def sc_js(c: Corpus) -> None:
    g = c.g
    d = c.doc("src", "firebase_config", "js")
    project = f"{g.pick(('acme', 'shop', 'chat'))}-{g.pick(('web', 'app', 'prod'))}-{g.d(4)}"
    d.line("// Firebase web config")
    d.line("export const firebaseConfig = {")
    d.line(f'  apiKey: "{secret(g.gcp_api_key(), "GCP_API_KEY")}",')
    d.line(f'  authDomain: "{project}.firebaseapp.com",')
    d.line(f'  projectId: "{project}",')
    d.line(f'  messagingSenderId: "{g.d(12)}",')
    d.line(f'  appId: "1:{g.d(12)}:web:{N(g.hexs(22), "hex_id")}",')
    d.line("};")
    d.line()
    if g.chance(0.6):
        d.line("const sgMail = require('@sendgrid/mail');")
        d.line(f"sgMail.setApiKey('{secret(f'SG.{g.s(ALNUM + chr(95), 22)}.{g.s(ALNUM + chr(95), 43)}', 'SENDGRID_API_KEY')}');")
    d.line(f"export const BUILD = '{N(g.hexs(12), 'git_sha')}';")
    d.line("export const API_KEY = process.env.API_KEY;")


def sc_go(c: Corpus) -> None:
    g = c.g
    d = c.doc("src", "notifier", "go")
    d.line("package main")
    d.line()
    d.line("const (")
    d.line(f'\tslackWebhook = "{secret(g.slack_webhook(), "SLACK_WEBHOOK_URL")}"')
    d.line(f'\tdsn          = "postgres://notifier:{secret(g.url_password(), "DATABASE_URL_WITH_PASSWORD")}@pg.internal.example.net:5432/notify?sslmode=require"')
    d.line(f'\tschemaHash   = "{N(g.hexs(64), "sha256")}"')
    d.line(f'\tversion      = "v{N(f"{g.rng.randint(0, 3)}.{g.rng.randint(0, 30)}.{g.rng.randint(0, 9)}", "version")}"')
    d.line(")")
    d.line()
    d.line("func main() {")
    d.line("\tcfg := loadConfig()")
    d.line(f'\tlog.Printf("starting notifier %s instance=%s", version, "{N(g.uuid(), "uuid")}")')
    d.line("\trun(cfg)")
    d.line("}")


def sc_java(c: Corpus) -> None:
    g = c.g
    d = c.doc("src", "DbConfig", "java")
    d.line("package com.example.orders.config;")
    d.line()
    d.line("public final class DbConfig {")
    d.line('    static final String URL = "jdbc:mysql://mysql.internal.example.net:3306/orders";')
    d.line('    static final String USER = "orders";')
    d.line(f'    static final String password = "{secret(g.password(), "PASSWORD")}";')
    d.line(f'    static final long SERIAL_VERSION = {N(g.d(18), "hex_id")}L;')
    d.line(f'    static final String BUILD_ID = "{N(g.uuid(), "uuid")}";')
    d.line("}")


def sc_shell(c: Corpus) -> None:
    g = c.g
    d = c.doc("src", "deploy", "sh")
    d.line("#!/usr/bin/env bash")
    d.line("set -euo pipefail")
    d.line(f"export GITHUB_TOKEN={secret(g.github(), 'GITHUB_TOKEN')}")
    if g.chance(0.5):
        d.line(f"curl -fsSL https://deploy:{secret(g.url_password(), 'BASIC_AUTH_URL')}@artifacts.example.com/releases/app-{N(f'{g.rng.randint(1, 4)}.{g.rng.randint(0, 9)}.{g.rng.randint(0, 9)}', 'version')}.tar.gz -o app.tgz")
    else:
        d.line(f"git clone https://ci:{secret(g.gitlab(), 'GITLAB_TOKEN', 'BASIC_AUTH_URL')}@gitlab.example.com/platform/app.git")
    d.line(f"echo \"{N(g.hexs(64), 'sha256')}  app.tgz\" | sha256sum -c -")
    d.line(f"echo {secret('dckr_pat_' + g.s(ALNUM + '_-', 27), 'DOCKERHUB_TOKEN')} | docker login -u ci-bot --password-stdin")
    d.line(f"docker push registry.example.com/app:{N(g.hexs(8), 'git_sha')}")
    d.line('ssh deploy@"${DEPLOY_HOST}" "sudo systemctl restart app"')


def sc_ruby(c: Corpus) -> None:
    g = c.g
    d = c.doc("src", "mailer", "rb")
    d.line("require 'mailgun-ruby'")
    d.line()
    d.line(f"mg_client = Mailgun::Client.new('{secret('key-' + g.hexs(32), 'MAILGUN_API_KEY')}')")
    d.line(f"message = {{ from: '{V('noreply@example.com', EMAIL)}', to: user.email, subject: 'Welcome', text: body }}")
    d.line("mg_client.send_message('mg.example.com', message)")
    d.line(f"# template version {N(g.hexs(40), 'sha1')}")


def sc_terraform(c: Corpus) -> None:
    g = c.g
    d = c.doc("src", "main", "tf")
    d.line('provider "aws" {')
    d.line('  region     = "us-east-1"')
    d.line(f'  access_key = "{secret(g.aws_key_id(), "AWS_CREDENTIALS")}"')
    d.line(f'  secret_key = "{secret(g.aws_secret(), "AWS_SECRET_ACCESS_KEY")}"')
    d.line("}")
    d.line()
    d.line('resource "aws_db_instance" "main" {')
    d.line('  engine         = "postgres"')
    d.line(f'  engine_version = "{N(f"{g.rng.randint(13, 16)}.{g.rng.randint(1, 9)}", "version")}"')
    d.line('  username       = "dbadmin"')
    d.line(f'  password       = "{secret(g.password(), "PASSWORD")}"')
    d.line("}")


# --- clean files full of look-alikes --------------------------------------------------------

def ms_changelog(c: Corpus) -> None:
    g = c.g
    d = c.doc("misc", "CHANGELOG", "md")
    d.line("# Changelog")
    major, minor = g.rng.randint(1, 5), g.rng.randint(5, 30)
    for _ in range(g.rng.randint(5, 10)):
        minor -= 1
        d.line()
        d.line(f"## {N(f'{major}.{minor}.{g.rng.randint(0, 5)}', 'version')} - {N(g.date(2023, 2025), 'date')}")
        for _ in range(g.rng.randint(2, 5)):
            d.line(f"- {g.pick(('Fix', 'Add', 'Improve', 'Remove', 'Bump'))} {g.pick(('retry logic', 'CSV export', 'login page', 'dependency', 'metrics endpoint', 'docs'))} "
                   f"({N(g.hexs(7), 'git_sha')}, #{g.rng.randint(100, 4000)})")
        if g.chance(0.3):
            d.line(f"- Bump openssl to {N(f'3.{g.rng.randint(0, 3)}.{g.rng.randint(0, 14)}', 'version')}; build {N(g.uuid(), 'uuid')}")


def ms_requirements(c: Corpus) -> None:
    g = c.g
    d = c.doc("misc", "requirements", "txt")
    for pkg in g.rng.sample(("requests", "urllib3", "idna", "certifi", "charset-normalizer", "boto3", "botocore",
                             "jmespath", "pyyaml", "click", "jinja2", "markupsafe"), g.rng.randint(4, 9)):
        d.line(f"{pkg}=={N(f'{g.rng.randint(0, 4)}.{g.rng.randint(0, 40)}.{g.rng.randint(0, 20)}', 'version')} \\")
        d.line(f"    --hash=sha256:{N(g.hexs(64), 'sha256')}")


def ms_package_lock(c: Corpus) -> None:
    g = c.g
    d = c.doc("misc", "package-lock", "json")
    pkgs = {}
    for name in g.rng.sample(("lodash", "react", "react-dom", "express", "debug", "ms", "semver", "chalk", "commander"), 5):
        ver = f"{g.rng.randint(0, 18)}.{g.rng.randint(0, 20)}.{g.rng.randint(0, 9)}"
        pkgs[f"node_modules/{name}"] = {"version": N(ver, "version"),
                                        "resolved": f"https://registry.npmjs.org/{name}/-/{name}-{ver}.tgz",
                                        "integrity": "sha512-" + N(base64.b64encode(g.rng.randbytes(64)).decode(), "base64_blob")}
    d.line(jdump({"name": "web", "lockfileVersion": 3, "requires": True, "packages": pkgs}, indent=2))


def ms_bibliography(c: Corpus) -> None:
    g = c.g
    d = c.doc("misc", "reading_list", "txt")
    d.line("Team reading list")
    for _ in range(g.rng.randint(5, 10)):
        isbn = g.pick(("978", "979")) + g.d(9)
        s = sum(int(x) * (3 if i % 2 else 1) for i, x in enumerate(isbn))
        isbn += str((10 - s % 10) % 10)
        shown = f"{isbn[:3]}-{isbn[3]}-{isbn[4:8]}-{isbn[8:12]}-{isbn[12]}" if g.chance(0.5) else isbn
        d.line(f"- {g.pick(('Designing Data-Intensive Applications', 'The Pragmatic Programmer', 'Site Reliability Engineering', 'Refactoring', 'Clean Architecture', 'Accelerate'))}, "
               f"{g.rng.randint(1999, 2024)}. ISBN {N(shown, 'isbn')}")


def ms_checksums(c: Corpus) -> None:
    g = c.g
    d = c.doc("misc", "SHA256SUMS", "txt")
    ver = f"{g.rng.randint(1, 3)}.{g.rng.randint(0, 20)}.{g.rng.randint(0, 9)}"
    for arch in ("amd64", "arm64", "armhf", "ppc64le", "s390x"):
        d.line(f"{N(g.hexs(64), 'sha256')}  agent_{ver}_linux_{arch}.deb")
    d.line(f"{N(g.hexs(40), 'sha1')}  agent_{ver}_source.tar.gz.sha1")
    d.line(f"{N(g.hexs(32), 'md5')}  agent_{ver}_windows_amd64.msi.md5")


def ms_sensor(c: Corpus) -> None:
    g = c.g
    d = c.doc("misc", "sensor_readings", "csv")
    d.line("device_id,ts_epoch_ms,temperature_c,humidity_pct,pressure_hpa,battery_mv")
    dev = N(g.uuid(), "uuid")
    t = 1717200000000 + g.rng.randint(0, 10 ** 10)
    for _ in range(g.rng.randint(40, 80)):
        t += g.rng.randint(59000, 61000)
        d.line(f"{dev},{N(str(t), 'timestamp')},{g.rng.uniform(15, 30):.2f},{g.rng.uniform(20, 80):.1f},"
               f"{g.rng.uniform(990, 1030):.1f},{g.rng.randint(2900, 4200)}")


def ms_inventory(c: Corpus) -> None:
    g = c.g
    d = c.doc("misc", "inventory", "csv")
    d.line("sku,ean,description,qty_on_hand,bin")
    for _ in range(g.rng.randint(30, 60)):
        body = g.pick(("400", "401", "50", "00", "03", "87", "76", "590")) 
        body += g.d(12 - len(body))
        s = sum(int(x) * (3 if i % 2 else 1) for i, x in enumerate(body))
        ean = body + str((10 - s % 10) % 10)
        d.line(f"{N(g.s(UPPER, 2) + '-' + g.d(5), 'sku')},{N(ean, 'ean_barcode')},{g.pick(('Cable', 'Adapter', 'Charger', 'Case', 'Stand'))} "
               f"{g.pick(('black', 'white', 'USB-C', '2m'))},{g.rng.randint(0, 500)},{g.s(UPPER, 1)}{g.rng.randint(1, 40):02d}")


def ms_testing_doc(c: Corpus) -> None:
    g = c.g
    d = c.doc("misc", "TESTING", "md")
    d.line("# Testing payments and integrations")
    d.line()
    d.line("Use only the processor's published test data in staging:")
    d.line()
    d.line(f"- Visa: `{N('4111 1111 1111 1111', 'published_test_value')}`, any future expiry, any CVC")
    d.line(f"- Mastercard: `{N('5555 5555 5555 4444', 'published_test_value')}`")
    d.line(f"- Amex: `{N('3782 822463 10005', 'published_test_value')}`")
    d.line(f"- Test SSN for the KYC sandbox: `{N('078-05-1120', 'published_test_value')}`")
    d.line(f"- Sample routing number: `{N('021000021', 'published_test_value')}`")
    d.line()
    d.line("Configure your local `.env` like this (never commit real values):")
    d.line()
    d.line("```")
    d.line(f"AWS_ACCESS_KEY_ID={N('AKIAIOSFODNN7EXAMPLE', 'published_test_value')}")
    d.line(f"AWS_SECRET_ACCESS_KEY={N('wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY', 'published_test_value')}")
    d.line(f"STRIPE_SECRET_KEY={N('sk_test_4eC39HqLyjWDarjtT1zdp7dc', 'published_test_value')}")
    d.line(f"GITHUB_TOKEN={N('<your-token-here>', 'placeholder')}")
    d.line(f"DATABASE_URL=postgres://app:{N('${DB_PASSWORD}', 'placeholder')}@localhost:5432/app")
    d.line(f"SLACK_WEBHOOK_URL={N('https://hooks.slack.com/services/T00000000/B00000000/XXXXXXXXXXXXXXXXXXXXXXXX', 'published_test_value')}")
    d.line(f"DB_PASSWORD={N('changeme', 'placeholder')}")
    d.line(f"API_TOKEN={N('xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx', 'placeholder')}")
    d.line("```")
    d.line()
    d.line(f"The IBAN validator must reject `{g.bad_iban('DE')}` (bad check digits) and accept the published "
           f"example `{N('DE89 3704 0044 0532 0130 00', 'published_test_value')}`.")
    d.line(f"SSNs like `{g.bad_ssn()}` are invalid by SSA rules and must be rejected too.")


def ms_meeting_notes(c: Corpus) -> None:
    g = c.g
    d = c.doc("misc", "meeting_notes", "txt")
    d.line(f"Weekly ops sync - {N(g.date(2025, 2025), 'date')}")
    d.line()
    d.line(f"1. Incident {N('INC' + g.d(7), 'order_number')}: {g.pick(('disk full on the log host', 'expired TLS cert', 'queue backlog'))}. "
           f"Root cause fixed in {N(g.hexs(7), 'git_sha')}; postmortem doc id {N(g.uuid(), 'uuid')}.")
    d.line(f"2. Upgrade the cluster to {N(f'1.{g.rng.randint(26, 31)}.{g.rng.randint(0, 9)}', 'version')} next sprint.")
    d.line(f"3. Budget: ${N(g.amount(1000, 90000), 'amount')} approved for the Q3 hardware refresh, PO {N(g.d(10), 'order_number')}.")
    d.line(f"4. Reminder: rotate credentials every 90 days. Last rotation {N(g.ts(), 'timestamp')}.")
    d.line(f"5. The vendor's support line is {V(g.phone(), PHONE)}; account manager {V(g.email(), EMAIL)}.")


# --------------------------------------------------------------------------------------------
# Assembly
# --------------------------------------------------------------------------------------------

PLAN = [
    # emails
    (em_hr_onboarding, 14), (em_payment_dispute, 14), (em_wire, 14), (em_it_support, 12), (em_travel, 12),
    (em_medical_referral, 10), (em_intl_hr, 24), (em_shipping, 8), (em_release, 6), (em_security_alert, 8),
    # CSV exports
    (ex_customers, 6), (ex_payments, 6), (ex_employees, 5), (ex_intl_employees, 4), (ex_orders, 5),
    (ex_network, 4), (ex_bank_statement, 4),
    (cc_hr_payroll, 1), (cc_travelers, 1), (cc_patients, 1), (cc_vendors, 1), (cc_devices, 1),
    (cc_au_payroll, 1), (cc_card_vault, 1),
    # logs
    (lg_api_gateway, 8), (lg_auth, 6), (lg_payments, 6), (lg_dhcp_syslog, 5), (lg_pos_terminal, 5), (lg_nginx, 5), (lg_app_errors, 8),
    # configs and keys
    (cf_dotenv, 16), (cf_yaml, 12), (cf_json, 8), (cf_k8s_secret, 8), (cf_compose, 6), (cf_properties, 6),
    (cf_ini, 6), (cf_tfvars, 4), (cf_aws_credentials, 6), (cf_gcp_service_account, 5), (cf_npmrc, 4),
    (cf_pypirc, 3), (cf_git_credentials, 4), (cf_wp_config, 3), (cf_kubeconfig, 4), (cf_private_key, 12),
    (cf_ci, 8),
    # chats
    (ch_support, 18), (ch_team_slack, 14), (ch_hr_dm, 8),
    # letters and forms
    (lt_w9, 8), (lt_loan_application, 8), (lt_bank_letter, 8), (lt_discharge, 10), (lt_insurance_claim, 8),
    (lt_intl, 40), (lt_uk_payslip, 6), (lt_ca_direct_deposit, 5), (lt_au_tfn, 5), (lt_securities, 5),
    (lt_device_repair, 5),
    # source code
    (sc_python, 14), (sc_tests, 5), (sc_js, 6), (sc_go, 5), (sc_java, 5), (sc_shell, 6), (sc_ruby, 3),
    (sc_terraform, 4),
    # clean files
    (ms_changelog, 5), (ms_requirements, 4), (ms_package_lock, 3), (ms_bibliography, 3), (ms_checksums, 4),
    (ms_sensor, 3), (ms_inventory, 3), (ms_testing_doc, 3), (ms_meeting_notes, 6),
]

KNOWN_IDS_RE = re.compile(r'^id\s*=\s*"([A-Z0-9_]+)"', re.M)


def detector_ids() -> set[str]:
    ids: set[str] = set()
    for f in sorted((HERE.parent / "patterns").glob("*.toml")):
        ids.update(KNOWN_IDS_RE.findall(f.read_text(encoding="utf-8")))
    return ids


def build(seed: int) -> Corpus:
    c = Corpus(seed)
    for fn, count in PLAN:
        for _ in range(count):
            fn(c)
    return c


def write(c: Corpus, outdir: Path) -> tuple[list[dict], list[dict]]:
    known = detector_ids()
    labels: list[dict] = []
    negatives: list[dict] = []
    for d in sorted(c.docs, key=lambda d: d.rel):
        data = d.data()
        path = outdir / d.rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        for lab in d.labels:
            for t in [lab["info_type"], *lab["also"]]:
                if t not in known:
                    raise AssertionError(f"{d.rel}: unknown info type {t}")
        labels += sorted(d.labels, key=lambda x: x["byte_start"])
        negatives += sorted(d.negatives, key=lambda x: x["byte_start"])
    with open(outdir / "labels.jsonl", "w", encoding="utf-8", newline="\n") as fh:
        for lab in labels:
            fh.write(json.dumps(lab) + "\n")
    with open(outdir / "negatives.jsonl", "w", encoding="utf-8", newline="\n") as fh:
        for neg in negatives:
            fh.write(json.dumps(neg) + "\n")
    return labels, negatives


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("outdir")
    ap.add_argument("--seed", type=int, default=SEED)
    args = ap.parse_args(argv)
    outdir = Path(args.outdir)
    if outdir.exists():
        shutil.rmtree(outdir)
    outdir.mkdir(parents=True)
    c = build(args.seed)
    labels, negatives = write(c, outdir)
    size = sum(len(d.data()) for d in c.docs)
    kinds: dict[str, int] = {}
    for d in c.docs:
        kinds[d.rel.split("/")[0]] = kinds.get(d.rel.split("/")[0], 0) + 1
    types_ = {lab["info_type"] for lab in labels}
    print(f"{outdir}: {len(c.docs)} documents ({', '.join(f'{k} {v}' for k, v in sorted(kinds.items()))}), "
          f"{size} bytes, {len(labels)} labels of {len(types_)} info types, {len(negatives)} hard negatives "
          f"(seed {args.seed})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
