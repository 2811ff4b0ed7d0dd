#!/usr/bin/env python3
# pip install python-docx openpyxl python-pptx reportlab odfpy pyarrow fastavro py7zr
# optional, for notes.txt.zst: pip install zstandard
"""Document-format corpus: one file per format, each carrying known fake sensitive values.

Dependencies (real writer libraries, so the PDF and Office files are what real tools produce):

    pip install python-docx openpyxl python-pptx reportlab odfpy pyarrow fastavro py7zr
    pip install zstandard        # optional: without it notes.txt.zst is not written

Tested with python-docx 1.2.0 (>= 1.2 is needed for the comment in report.docx; older versions
skip it and leave it out of expected.json), openpyxl 3.1.5, python-pptx 1.0.2 (which brings
XlsxWriter 3.3.1, used for shared.xlsx), reportlab 5.1.0, odfpy 1.4.1, pyarrow 26.0.1,
fastavro 1.13.1, zstandard 0.25.0. Everything else (zip, tar, gzip, bz2, xz, mail, mbox, JSON,
CSV, RTF, HTML, XML, text encodings) is written with the standard library or by hand.

Usage:

    python3 corpora/formats.py OUTDIR

writes the files into OUTDIR plus OUTDIR/expected.json, a list of

    {"file": ..., "info_type": ..., "path": ..., "page": ..., "row": ..., "column": ..., "line": ...}

entries, one per planted value, giving where a scan must report it (null = not asserted).
`path` is the member chain joined with "!", starting with the file's own name:

  * compressed single streams: the gzip FNAME header, else the name minus the suffix
    (logs.json.gz!logs.json, notes.txt.bz2!notes.txt, archive.tar.gz!archive.tar!a.txt);
  * archive members: the entry path as stored (archive.zip!nested.zip!deep/c.txt);
  * DOCX/PPTX/ODT: the package part (report.docx!word/header1.xml, doc.odt!content.xml);
  * XLSX/ODS: the sheet name, line = 1-based spreadsheet row, row = line - 1 under a header row,
    column = the header text of the value's column;
  * CSV/TSV: row = 1-based data row (header excluded), column = header name, line = line number;
  * JSON: column = the key the value is assigned to; Parquet/Avro: column = field, row = record;
  * PDF: page = 1-based page;
  * mail: mail.eml!headers, mail.eml!body.txt, mail.eml!body.html, attachments by file name;
    mbox: box.mbox!message-N!body.txt (1-based message index).

Every value is fake but valid (Luhn cards, mod-97 IBANs, SSA-rule SSNs, reserved example.*
domains, 555-01xx phone numbers, CRC-checked GitHub tokens); none is a well-known test value.
Each value is used once, so every finding can be traced to one entry. The values were checked to
be found in plain text at the default minimum likelihood by `dlp-worker scan`.

Output is deterministic: the same library versions give byte-identical files (also across
time zones). The libraries stamp the current time in several places, which are fixed here: zip
member timestamps of every package (rewritten after saving, members, order, bytes and
compression methods unchanged), the core-properties dates (openpyxl's dcterms:modified is
patched after saving, as openpyxl always writes the save time), the docx comment date, the
ODF meta dates; reportlab runs with invariant=1, the Avro sync marker is fixed, gzip mtime is
0, tar and zip entries have fixed metadata, and the MIME boundaries, Date and Message-ID headers
and mbox From_ lines are fixed. Other library versions may write different bytes.
"""

from __future__ import annotations

import bz2
import csv
import datetime as dt
import gzip
import io
import json
import lzma
import mailbox
import os
import random
import re
import sys
import tarfile
import zipfile
import zlib
from email.message import EmailMessage
from email.policy import SMTP

FIXED_ZIP_TIME = (2024, 6, 1, 12, 0, 0)
FIXED_EPOCH = 1717243200  # 2024-06-01T12:00:00Z
FIXED_DATETIME = dt.datetime(2024, 6, 1, 12, 0, 0)
SEED = 20250301

# --------------------------------------------------------------------------------------------
# Values. Generated once with corpora/generate.py's value generators, then checked one by one
# with `dlp-worker scan` in the sentences used below. Each is used exactly once (Pool.take).
# --------------------------------------------------------------------------------------------

VALUES = {
    "EMAIL_ADDRESS": [
        "brian.moore@example.com", "imartin@example.org", "richard.rodriguez@example.net",
        "wanderson@mail.example.com", "robert_jackson54@corp.example.net",
        "melissa_martin23@hr.example.org", "lmoore@hr.example.org", "mary_patel17@example.com",
        "aisha.carter@mail.example.com", "anthony_thomas18@example.net", "jmiller@hr.example.org",
        "kwalker@example.com", "nikolai_rodriguez47@example.net", "carol_green77@corp.example.net",
        "psmith@mail.example.com", "amara.harris@example.org", "aschmidt@example.org",
        "rgonzalez@corp.example.net", "steven_mensah95@example.org", "chall@example.org",
        "amara_nguyen76@example.org", "akowalski@hr.example.org", "nikolai_wright85@hr.example.org",
        "jwilson@hr.example.org", "pwhite@example.org", "melissa.green@example.net",
        "nhernandez@example.net", "wramirez@corp.example.net", "kwame_hill4@corp.example.net",
        "agarcia@example.com",
        "stanaka@mail.example.com", "lchen@example.com", "amara_harris18@example.com",
        "bschmidt@hr.example.org", "brian.novak@mail.example.com", "anthony.torres@hr.example.org",
        "christopher_patel62@mail.example.com", "michael_davis85@hr.example.org",
        "dflores@hr.example.org",
        "hwilson@corp.example.net", "ccarter@corp.example.net", "jennifer.roberts@example.net",
    ],
    "US_SOCIAL_SECURITY_NUMBER": [
        "575-14-7875", "890-67-9492", "153-95-9501", "558-59-5008", "634-93-9727", "830-76-6039",
        "818-28-4726", "708-47-4012", "663-41-3030", "280-79-5333", "891-79-0871", "691-42-7914",
        "761-17-7056", "283-35-1987", "578-52-6376", "207-72-2371", "769-56-8828", "376-51-2046",
        "698-87-6238", "005-16-5750", "742-56-9885", "753-01-9714", "013-25-3961", "506-81-8316",
        "335-77-4306", "263-26-8058",
        "177-30-7544", "497-72-9806", "692-17-5481", "750-49-3914", "662-02-6932", "531-06-4066",
        "830-90-4008", "388-49-5297", "255-18-8798", "861-73-8315", "818-64-4694", "002-15-5698",
    ],
    "CREDIT_CARD_NUMBER": [
        "4592080413445584", "6011976608552795", "5383016444240784", "4346766727859051",
        "6011445907543459", "5269911123582432", "5224003914662476", "5414498001484703",
        "4142353916383726", "6011958893990450", "5362780424555249", "5410848203311258",
        "5475028173990215", "4939744051571934", "4242322946913462", "5239872517023861",
        "5373666900558962", "4919097984680874", "4687758270486165", "4008380145034336",
        "5316741001954434", "6011345160938109", "5329594118493449", "4552767275994505",
        "4803490215506142", "6011881815486755",
        "4491899968241078", "5320598418804253", "5261231567761519", "4829927525547704",
        "4281230397596060", "6011042481446660",
    ],
    "IBAN_CODE": [
        "DE37434662288118039619", "DE03719186966417552611", "DE53381452423814494531",
        "DE27242037659344460516", "DE76355039786812124282", "GB67NWBK13584128605401",
        "GB76LOYD35487177408134", "GB16MIDL15932703174156", "NL14RABO2269233323",
        "NL70ABNA8661612942", "NL04INGB1357638429",
        "DE39164811161506442615", "DE50321207178122595137", "GB32NWBK33741888968822",
        "NL22RABO7694478390", "DE94543780074822130128", "GB72NWBK00954422261754",
    ],
    "PHONE_NUMBER": [
        "310-555-0198", "512-555-0171", "512-555-0153", "617-555-0176", "312-555-0110",
        "312-555-0194", "617-555-0104", "303-555-0124", "212-555-0100", "206-555-0173",
        "512-555-0125", "310-555-0191", "212-555-0166", "303-555-0117",
    ],
    "AWS_CREDENTIALS": [
        "AKIAKIH2P6X23NIOWEFA", "AKIAGIM53EWRRTCV5LKT", "AKIAY6EFQLCE4FE67FMF",
        "AKIAKFBQITURM7MCUYKG", "AKIA3OYC4GDMPVS3TJM5", "AKIAM7S2C3GD6MRKXTWR",
    ],
    "GITHUB_TOKEN": [
        "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", "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",
        "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",
    ],
}

EMAIL, SSN, CARD, IBAN, PHONE, AWS, GITHUB = (
    "EMAIL_ADDRESS", "US_SOCIAL_SECURITY_NUMBER", "CREDIT_CARD_NUMBER", "IBAN_CODE",
    "PHONE_NUMBER", "AWS_CREDENTIALS", "GITHUB_TOKEN",
)

KNOWN_TEST_VALUES = {
    "4111111111111111", "4242424242424242", "5555555555554444", "6011111111111117",
    "AKIAIOSFODNN7EXAMPLE", "AKIAI44QH8DHBEXAMPLE", "123-45-6789", "078-05-1120", "219-09-9999",
}


def _luhn_valid(number: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(number)):
        d = int(ch)
        if i % 2 == 1:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def _iban_valid(iban: str) -> bool:
    return int("".join(str(int(c, 36)) for c in iban[4:] + iban[:4])) % 97 == 1


def _ssn_valid(ssn: str) -> bool:
    area, group, serial = (int(p) for p in ssn.split("-"))
    return 0 < area < 900 and area != 666 and group > 0 and serial > 0


def _github_valid(token: str) -> bool:
    body, check = token[4:34], token[34:]
    alphabet = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
    n, out = zlib.crc32(body.encode()), ""
    while n:
        n, r = divmod(n, 62)
        out = alphabet[r] + out
    return out.rjust(6, "0") == check


def _check_values() -> None:
    checks = {CARD: _luhn_valid, IBAN: _iban_valid, SSN: _ssn_valid, GITHUB: _github_valid,
              AWS: lambda v: re.fullmatch(r"AKIA[A-Z2-7]{16}", v) is not None,
              EMAIL: lambda v: re.fullmatch(r"[a-z0-9._]+@([a-z]+\.)?example\.(com|org|net)", v)
              is not None,
              PHONE: lambda v: re.fullmatch(r"[2-9][0-9]{2}-555-01[0-9]{2}", v) is not None}
    seen: set[str] = set()
    for kind, values in VALUES.items():
        for v in values:
            assert checks[kind](v), (kind, v)
            assert v not in KNOWN_TEST_VALUES and v not in seen, v
            seen.add(v)


class Pool:
    """Hands out each value once, in a fixed order."""

    def __init__(self) -> None:
        self._next = {k: 0 for k in VALUES}

    def take(self, kind: str) -> str:
        i = self._next[kind]
        if i >= len(VALUES[kind]):
            raise RuntimeError(f"out of {kind} values: add more to VALUES")
        self._next[kind] = i + 1
        return VALUES[kind][i]


def spaced(value: str, sep: str = " ") -> str:
    """Print form of a card or IBAN: groups of four ('4592 0804 1344 5584')."""
    return sep.join(value[i:i + 4] for i in range(0, len(value), 4))


# --------------------------------------------------------------------------------------------
# Expected locations
# --------------------------------------------------------------------------------------------

class Expected:
    def __init__(self) -> None:
        self.entries: list[dict] = []

    def add(self, file: str, info_type: str, path: str | None = None, *, page: int | None = None,
            row: int | None = None, column: str | None = None, line: int | None = None) -> None:
        self.entries.append({"file": file, "info_type": info_type, "path": path or file,
                             "page": page, "row": row, "column": column, "line": line})


class Ctx:
    def __init__(self, outdir: str) -> None:
        self.outdir = outdir
        self.v = Pool()
        self.exp = Expected()
        # file -> [(part or page, text)] checked by self_check / by hand for PDFs
        self.planted: dict[str, list[tuple[object, str]]] = {}

    def p(self, name: str) -> str:
        return os.path.join(self.outdir, name)

    def write(self, name: str, data: bytes) -> None:
        with open(self.p(name), "wb") as f:
            f.write(data)


def lines_with(text_lines: list[str], needle: str) -> int:
    """1-based number of the only line containing needle."""
    hits = [i + 1 for i, t in enumerate(text_lines) if needle in t]
    assert len(hits) == 1, (needle, hits)
    return hits[0]


# --------------------------------------------------------------------------------------------
# Deterministic containers (stdlib)
# --------------------------------------------------------------------------------------------

def zip_bytes(members: list[tuple[str, bytes]], stored: tuple[str, ...] = ()) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        for name, data in members:
            info = zipfile.ZipInfo(name, date_time=FIXED_ZIP_TIME)
            info.compress_type = zipfile.ZIP_STORED if name in stored else zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            info.create_system = 3
            z.writestr(info, data)
    return buf.getvalue()


def normalize_zip(path: str, fix=None) -> None:
    """Rewrite a zip package written by a library with fixed member timestamps.

    Member order, names, bytes and compression method are kept as the library wrote them
    (ODF's uncompressed leading `mimetype` stays first and stored); only the date/time fields,
    which the libraries set to the current time, are fixed. `fix(name, data) -> data` may
    rewrite a member (used for a save-time date inside the XML).
    """
    with zipfile.ZipFile(path) as z:
        members = [(info, z.read(info.filename)) for info in z.infolist()]
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as out:
        for info, data in members:
            new = zipfile.ZipInfo(info.filename, date_time=FIXED_ZIP_TIME)
            new.compress_type = info.compress_type
            new.external_attr = info.external_attr
            new.create_system = info.create_system
            out.writestr(new, fix(info.filename, data) if fix else data)
    with open(path, "wb") as f:
        f.write(buf.getvalue())


def tar_bytes(members: list[tuple[str, bytes]]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.USTAR_FORMAT) as t:
        dirs_done: set[str] = set()
        for name, data in members:
            parts = name.split("/")[:-1]
            for i in range(len(parts)):
                d = "/".join(parts[:i + 1])
                if d not in dirs_done:
                    dirs_done.add(d)
                    info = tarfile.TarInfo(d)
                    info.type, info.mode, info.mtime = tarfile.DIRTYPE, 0o755, FIXED_EPOCH
                    info.uname = info.gname = "corpus"
                    t.addfile(info)
            info = tarfile.TarInfo(name)
            info.size, info.mode, info.mtime = len(data), 0o644, FIXED_EPOCH
            info.uname = info.gname = "corpus"
            t.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def gzip_bytes(data: bytes, fname: str) -> bytes:
    buf = io.BytesIO()
    with gzip.GzipFile(filename=fname, mode="wb", fileobj=buf, mtime=0) as g:
        g.write(data)
    return buf.getvalue()


def csv_text(rows: list[list[str]], delimiter: str = ",") -> str:
    buf = io.StringIO()
    csv.writer(buf, delimiter=delimiter, lineterminator="\n").writerows(rows)
    return buf.getvalue()


# --------------------------------------------------------------------------------------------
# Text files and encodings
# --------------------------------------------------------------------------------------------

def write_text_files(c: Ctx) -> None:
    e, s, k = c.v.take(EMAIL), c.v.take(SSN), c.v.take(CARD)
    lines = [
        "Kundennotizen / customer follow-up — Grüße aus Köln",
        "",
        f"Contact email {e} about the renewal.",
        "Nothing sensitive on this line.",
        f"Applicant SSN {s} was verified by HR.",
        "",
        f"Refund goes back to card {spaced(k)} next week.",
        "End of notes.",
    ]
    c.write("plain.txt", ("\n".join(lines) + "\n").encode("utf-8"))
    for needle, t in ((e, EMAIL), (s, SSN), (spaced(k), CARD)):
        c.exp.add("plain.txt", t, line=lines_with(lines, needle))

    e, i = c.v.take(EMAIL), c.v.take(IBAN)
    text = (f"Überweisung für Herrn Müller\r\nPlease email {e} once the wire is sent.\r\n"
            f"Wire transfer to IBAN {spaced(i)} (EUR 1.250 €).\r\n")
    c.write("utf16le-bom.txt", b"\xff\xfe" + text.encode("utf-16-le"))
    c.exp.add("utf16le-bom.txt", EMAIL)
    c.exp.add("utf16le-bom.txt", IBAN)

    s, ph = c.v.take(SSN), c.v.take(PHONE)
    text = (f"Personalakte – Zoë Ångström\nEmployee SSN {s} on file.\n"
            f"Call her on phone ({ph[:3]}) {ph[4:]} after 5 pm.\n")
    c.write("utf16be-bom.txt", b"\xfe\xff" + text.encode("utf-16-be"))
    c.exp.add("utf16be-bom.txt", SSN)
    c.exp.add("utf16be-bom.txt", PHONE)

    k, e = c.v.take(CARD), c.v.take(EMAIL)
    text = (f"Order 7731 payment details\r\nPaid with card {spaced(k, '-')} on 2024-05-30.\r\n"
            f"Receipt sent to email {e}.\r\n")
    assert text.isascii()
    c.write("utf16le-nobom.txt", text.encode("utf-16-le"))
    c.exp.add("utf16le-nobom.txt", CARD)
    c.exp.add("utf16le-nobom.txt", EMAIL)

    i, e = c.v.take(IBAN), c.v.take(EMAIL)
    text = (f"Sehr geehrter Herr Müller,\r\nbitte überweisen Sie 1.250,00 € – Konto IBAN {spaced(i)}.\r\n"
            f"Rückfragen per E-Mail an {e}. Grüße, Françoise\r\n")
    c.write("latin1.txt", text.encode("cp1252"))
    c.exp.add("latin1.txt", IBAN)
    c.exp.add("latin1.txt", EMAIL)

    a, e = c.v.take(AWS), c.v.take(EMAIL)
    rng = random.Random(SEED)
    blob = bytearray(b"\x7fELF\x02\x01\x01\x00" + bytes(8) + rng.randbytes(4080))
    run1 = b"\x00aws_access_key_id=" + a.encode() + b"\x00"
    run2 = b"\x00support contact: " + e.encode() + b"\x00"
    blob[1500:1500 + len(run1)] = run1
    blob[3000:3000 + len(run2)] = run2
    c.write("binary.bin", bytes(blob))
    c.exp.add("binary.bin", AWS)
    c.exp.add("binary.bin", EMAIL)


# --------------------------------------------------------------------------------------------
# Structured text: CSV, TSV, JSON, HTML, XML, RTF
# --------------------------------------------------------------------------------------------

def write_structured(c: Ctx) -> None:
    header = ["name", "email", "ssn", "card"]
    people = ["Brian Moore", "Martin, Isabel", "Richard Rodriguez"]
    rows = [header]
    for n in people:
        rows.append([n, c.v.take(EMAIL), c.v.take(SSN), c.v.take(CARD)])
    c.write("data.csv", csv_text(rows).encode())
    for r in range(1, len(rows)):
        for col, t in ((1, EMAIL), (2, SSN), (3, CARD)):
            c.exp.add("data.csv", t, row=r, column=header[col], line=r + 1)

    header = ["name", "email", "ssn", "phone"]
    rows = [header]
    for n in ("Aisha Carter", "Anthony Thomas"):
        rows.append([n, c.v.take(EMAIL), c.v.take(SSN), c.v.take(PHONE)])
    c.write("data.tsv", csv_text(rows, "\t").encode())
    for r in range(1, len(rows)):
        for col, t in ((1, EMAIL), (2, SSN), (3, PHONE)):
            c.exp.add("data.tsv", t, row=r, column=header[col], line=r + 1)

    doc = {
        "customers": [
            {"id": 1, "name": "Jane Miller", "email": c.v.take(EMAIL), "ssn": c.v.take(SSN)},
            {"id": 2, "name": "Kevin Walker", "email": c.v.take(EMAIL), "card": c.v.take(CARD)},
        ],
        "generated": "2024-06-01",
    }
    c.write("data.json", (json.dumps(doc, indent=2) + "\n").encode())
    for key, t in (("email", EMAIL), ("ssn", SSN), ("email", EMAIL), ("card", CARD)):
        c.exp.add("data.json", t, column=key)

    deep = {"data": {"account": {"owner": {"profile": {"contact": {"primary": {
        "email": c.v.take(EMAIL)}}}}},
        "billing": {"accounts": [{"currency": "EUR", "iban": c.v.take(IBAN)},
                                 {"currency": "USD", "routing": "n/a"}]}}}
    c.write("deep.json", json.dumps(deep, separators=(",", ":")).encode())
    c.exp.add("deep.json", EMAIL, column="email")
    c.exp.add("deep.json", IBAN, column="iban")

    e, k, s = c.v.take(EMAIL), c.v.take(CARD), c.v.take(SSN)
    html = f"""<!DOCTYPE html>
<html lang="en">
<head><meta charset="utf-8"><title>Billing &amp; account settings</title></head>
<body>
<h1>Billing &amp; account</h1>
<p>Questions? Contact email {e} &ndash; we answer within a day.</p>
<form action="/save" method="post">
  <label for="card">Card on file</label>
  <input type="text" id="card" name="card" value="{spaced(k)}">
</form>
<p>Tom &amp; Jerry&#39;s file: applicant SSN {s} &mdash; do not share.</p>
<script>var x = 1 &lt; 2;</script>
</body>
</html>
"""
    c.write("page.html", html.encode())
    c.exp.add("page.html", EMAIL)
    c.exp.add("page.html", CARD)
    c.exp.add("page.html", SSN)

    e, i, s = c.v.take(EMAIL), c.v.take(IBAN), c.v.take(SSN)
    xml = f"""<?xml version="1.0" encoding="UTF-8"?>
<customers>
  <customer id="c-1001">
    <name>Carol Green &amp; partners</name>
    <email>{e}</email>
    <account currency="GBP" iban="{i}"/>
    <note><![CDATA[Verified applicant SSN {s} <by HR>]]></note>
  </customer>
</customers>
"""
    c.write("data.xml", xml.encode())
    c.exp.add("data.xml", EMAIL)
    c.exp.add("data.xml", IBAN)
    c.exp.add("data.xml", SSN)

    e, k, i = c.v.take(EMAIL), c.v.take(CARD), c.v.take(IBAN)
    rtf = (
        "{\\rtf1\\ansi\\ansicpg1252\\deff0\\nouicompat{\\fonttbl{\\f0\\fswiss\\fcharset0 Helvetica;}}\n"
        "{\\*\\generator Hand-written;}\\viewkind4\\uc1\n"
        "\\pard\\f0\\fs24 Caf\\'e9 meeting notes\\par\n"
        f"Send the contract to email {e} before Friday.\\par\n"
        f"Deposit of 120 \\u8364? was paid by card {spaced(k)} yesterday.\\par\n"
        f"{{\\b Wire the balance}} to IBAN {spaced(i)} this month.\\par\n"
        "}\n"
    )
    c.write("doc.rtf", rtf.encode("ascii"))
    c.exp.add("doc.rtf", EMAIL)
    c.exp.add("doc.rtf", CARD)
    c.exp.add("doc.rtf", IBAN)


# --------------------------------------------------------------------------------------------
# Office Open XML
# --------------------------------------------------------------------------------------------

def write_docx(c: Ctx) -> None:
    import docx

    d = docx.Document()
    d.core_properties.author = "corpus"
    d.core_properties.created = FIXED_DATETIME
    d.core_properties.modified = FIXED_DATETIME
    d.core_properties.last_modified_by = "corpus"
    d.core_properties.revision = 1
    section = d.sections[0]
    k = c.v.take(CARD)
    section.header.paragraphs[0].text = f"Confidential - corporate card {spaced(k)}"
    ph = c.v.take(PHONE)
    section.footer.paragraphs[0].text = f"Questions: call phone {ph}"

    d.add_heading("Quarterly HR report", level=1)
    s = c.v.take(SSN)
    d.add_paragraph(f"The new hire's SSN {s} was verified on 2024-05-28.")
    table = d.add_table(rows=2, cols=2)
    table.cell(0, 0).text, table.cell(0, 1).text = "name", "email"
    e = c.v.take(EMAIL)
    table.cell(1, 0).text, table.cell(1, 1).text = "Jane Wilson", e
    para = d.add_paragraph("Payroll setup is pending.")
    i = None
    if hasattr(d, "add_comment"):  # python-docx >= 1.2
        i = c.v.take(IBAN)
        comment = d.add_comment(para.runs, text=f"Salary goes to IBAN {spaced(i)}",
                                author="Reviewer", initials="RV")
        # python-docx stamps the current time as w:date; fix it.
        from docx.oxml.ns import qn
        comment._comment_elm.set(qn("w:date"), "2024-06-01T12:00:00Z")
    d.save(c.p("report.docx"))
    normalize_zip(c.p("report.docx"))
    c.exp.add("report.docx", SSN, "report.docx!word/document.xml")
    c.exp.add("report.docx", EMAIL, "report.docx!word/document.xml")
    c.exp.add("report.docx", CARD, "report.docx!word/header1.xml")
    c.exp.add("report.docx", PHONE, "report.docx!word/footer1.xml")
    if i is not None:
        c.exp.add("report.docx", IBAN, "report.docx!word/comments.xml")
    c.planted["report.docx"] = [("word/header1.xml", spaced(k)), ("word/footer1.xml", ph),
                                ("word/document.xml", s), ("word/document.xml", e)]
    if i is not None:
        c.planted["report.docx"].append(("word/comments.xml", spaced(i)))


def write_pptx(c: Ctx) -> None:
    import pptx
    from pptx.util import Inches

    prs = pptx.Presentation()
    prs.core_properties.author = "corpus"
    prs.core_properties.created = FIXED_DATETIME
    prs.core_properties.modified = FIXED_DATETIME
    prs.core_properties.last_modified_by = "corpus"
    prs.core_properties.revision = 1
    blank = prs.slide_layouts[6]
    s1 = prs.slides.add_slide(blank)
    e = c.v.take(EMAIL)
    box = s1.shapes.add_textbox(Inches(1), Inches(1), Inches(8), Inches(1))
    box.text_frame.text = f"Escalations: email {e}"
    s = c.v.take(SSN)
    s1.notes_slide.notes_text_frame.text = f"Speaker note: the customer's SSN {s} is on file."
    s2 = prs.slides.add_slide(blank)
    k = c.v.take(CARD)
    box = s2.shapes.add_textbox(Inches(1), Inches(1), Inches(8), Inches(1))
    box.text_frame.text = f"Refund to card {spaced(k)}"
    prs.save(c.p("deck.pptx"))
    normalize_zip(c.p("deck.pptx"))
    c.exp.add("deck.pptx", EMAIL, "deck.pptx!ppt/slides/slide1.xml")
    c.exp.add("deck.pptx", SSN, "deck.pptx!ppt/notesSlides/notesSlide1.xml")
    c.exp.add("deck.pptx", CARD, "deck.pptx!ppt/slides/slide2.xml")
    c.planted["deck.pptx"] = [("ppt/slides/slide1.xml", e), ("ppt/notesSlides/notesSlide1.xml", s),
                              ("ppt/slides/slide2.xml", spaced(k))]


def write_xlsx(c: Ctx) -> None:
    import openpyxl

    wb = openpyxl.Workbook()
    wb.properties.creator = "corpus"
    wb.properties.created = FIXED_DATETIME
    wb.properties.modified = FIXED_DATETIME
    ws = wb.active
    ws.title = "Customers"
    header = ["name", "email", "ssn", "card"]
    ws.append(header)
    rows = [["Steven Mensah", c.v.take(EMAIL), c.v.take(SSN), c.v.take(CARD)],
            ["Carla Hall", c.v.take(EMAIL), c.v.take(SSN), c.v.take(CARD)]]
    # First data row: the card as a number cell (exact: below 2**53); second: as a string cell.
    ws.append([rows[0][0], rows[0][1], rows[0][2], int(rows[0][3])])
    ws.append(rows[1])
    for r in (1, 2):
        for col, t in ((1, EMAIL), (2, SSN), (3, CARD)):
            c.exp.add("book.xlsx", t, "book.xlsx!Customers", row=r, column=header[col], line=r + 1)
    notes = wb.create_sheet("Notes")
    notes["A1"] = "Internal notes"
    i = c.v.take(IBAN)
    notes["B3"] = f"Refunds are wired to IBAN {spaced(i)}"
    c.exp.add("book.xlsx", IBAN, "book.xlsx!Notes", line=3)
    wb.save(c.p("book.xlsx"))
    normalize_zip(c.p("book.xlsx"), _fix_xlsx_modified)
    c.planted["book.xlsx"] = (
        [("xl/worksheets/sheet1.xml", rows[r][col]) for r in (0, 1) for col in (1, 2, 3)]
        + [("xl/worksheets/sheet2.xml", spaced(i))])

    # openpyxl writes every string inline in the sheet (t="inlineStr"); Excel and most other
    # writers put them in xl/sharedStrings.xml. XlsxWriter (installed with python-pptx) writes
    # shared strings, so shared.xlsx covers that layout.
    import xlsxwriter

    wb2 = xlsxwriter.Workbook(c.p("shared.xlsx"))
    wb2.set_properties({"author": "corpus", "created": FIXED_DATETIME})
    ws2 = wb2.add_worksheet("Staff")
    header = ["name", "email", "phone"]
    rows2 = [["Lara Chen", c.v.take(EMAIL), c.v.take(PHONE)],
             ["Ben Novak", c.v.take(EMAIL), c.v.take(PHONE)]]
    for r, row in enumerate([header] + rows2):
        for col, v in enumerate(row):
            ws2.write_string(r, col, v)
    wb2.close()
    normalize_zip(c.p("shared.xlsx"))
    for r in (1, 2):
        for col, t in ((1, EMAIL), (2, PHONE)):
            c.exp.add("shared.xlsx", t, "shared.xlsx!Staff", row=r, column=header[col], line=r + 1)
    c.planted["shared.xlsx"] = [("xl/sharedStrings.xml", rows2[r][col]) for r in (0, 1)
                                for col in (1, 2)]


def _fix_xlsx_modified(name: str, data: bytes) -> bytes:
    """openpyxl stamps the save time as dcterms:modified whatever the workbook says."""
    if name != "docProps/core.xml":
        return data
    fixed = FIXED_DATETIME.strftime("%Y-%m-%dT%H:%M:%SZ").encode()
    return re.sub(rb"(<dcterms:modified[^>]*>)[^<]*(</dcterms:modified>)",
                  rb"\g<1>" + fixed + rb"\g<2>", data)


# --------------------------------------------------------------------------------------------
# OpenDocument (odfpy)
# --------------------------------------------------------------------------------------------

def _odf_fix_meta(doc) -> None:
    from odf import dc, meta
    doc.meta.addElement(meta.CreationDate(text="2024-06-01T12:00:00"))
    doc.meta.addElement(dc.Date(text="2024-06-01T12:00:00"))


def write_odt(c: Ctx) -> None:
    from odf.opendocument import OpenDocumentText
    from odf.style import (Footer, Header, MasterPage, PageLayout, PageLayoutProperties,
                           Style, TextProperties)
    from odf.table import Table, TableCell, TableColumn, TableRow
    from odf.text import H, P

    doc = OpenDocumentText()
    _odf_fix_meta(doc)
    layout = PageLayout(name="pm1")
    layout.addElement(PageLayoutProperties(pagewidth="21cm", pageheight="29.7cm"))
    doc.automaticstyles.addElement(layout)
    master = MasterPage(name="Standard", pagelayoutname=layout)
    ph = c.v.take(PHONE)
    hdr = Header()
    hdr.addElement(P(text=f"Switchboard phone {ph}"))
    master.addElement(hdr)
    ftr = Footer()
    ftr.addElement(P(text="Page footer without data"))
    master.addElement(ftr)
    doc.masterstyles.addElement(master)
    bold = Style(name="Bold", family="text")
    bold.addElement(TextProperties(fontweight="bold"))
    doc.styles.addElement(bold)

    doc.text.addElement(H(outlinelevel=1, text="Vendor onboarding"))
    e = c.v.take(EMAIL)
    doc.text.addElement(P(text=f"Send invoices to email {e} from now on."))
    t = Table(name="Vendors")
    t.addElement(TableColumn(numbercolumnsrepeated=2))
    s = c.v.take(SSN)
    for a, b in (("name", "ssn"), ("Nikolai Wright", s)):
        tr = TableRow()
        for v in (a, b):
            cell = TableCell()
            cell.addElement(P(text=v))
            tr.addElement(cell)
        t.addElement(tr)
    doc.text.addElement(t)
    doc.save(c.p("doc.odt"))
    normalize_zip(c.p("doc.odt"))
    c.exp.add("doc.odt", EMAIL, "doc.odt!content.xml")
    c.exp.add("doc.odt", SSN, "doc.odt!content.xml")
    c.exp.add("doc.odt", PHONE, "doc.odt!styles.xml")
    c.planted["doc.odt"] = [("content.xml", e), ("content.xml", s), ("styles.xml", ph)]


def write_ods(c: Ctx) -> None:
    from odf.opendocument import OpenDocumentSpreadsheet
    from odf.table import Table, TableCell, TableRow
    from odf.text import P

    doc = OpenDocumentSpreadsheet()
    _odf_fix_meta(doc)
    header = ["name", "email", "ssn", "iban"]
    rows = [header,
            ["Jay Wilson", c.v.take(EMAIL), c.v.take(SSN), c.v.take(IBAN)],
            ["Paula White", c.v.take(EMAIL), c.v.take(SSN), c.v.take(IBAN)]]
    t = Table(name="Customers")
    for row in rows:
        tr = TableRow()
        for v in row:
            cell = TableCell(valuetype="string")
            cell.addElement(P(text=v))
            tr.addElement(cell)
        t.addElement(tr)
    doc.spreadsheet.addElement(t)
    doc.save(c.p("sheet.ods"))
    normalize_zip(c.p("sheet.ods"))
    for r in (1, 2):
        for col, ty in ((1, EMAIL), (2, SSN), (3, IBAN)):
            c.exp.add("sheet.ods", ty, "sheet.ods!Customers", row=r, column=header[col], line=r + 1)
    c.planted["sheet.ods"] = [("content.xml", rows[r][col]) for r in (1, 2) for col in (1, 2, 3)]


# --------------------------------------------------------------------------------------------
# PDF (reportlab)
# --------------------------------------------------------------------------------------------

def write_pdfs(c: Ctx) -> None:
    from reportlab.lib.pagesizes import A4
    from reportlab.pdfgen import canvas

    cv = canvas.Canvas(c.p("letter.pdf"), pagesize=A4, invariant=1)
    cv.setTitle("Letter")
    cv.setAuthor("corpus")
    s, e = c.v.take(SSN), c.v.take(EMAIL)
    k, i = c.v.take(CARD), c.v.take(IBAN)
    pages = [
        ["Dear Ms. Patel,", "", f"Your SSN {s} has been verified.",
         f"Please reply to email {e} with questions."],
        ["Payment details", "", f"The refund goes to card {spaced(k)}.",
         f"Or wire it to IBAN {spaced(i)}."],
    ]
    for lines in pages:
        cv.setFont("Helvetica", 12)
        y = 780
        for ln in lines:
            cv.drawString(72, y, ln)
            y -= 18
        cv.showPage()
    cv.save()
    c.exp.add("letter.pdf", SSN, page=1)
    c.exp.add("letter.pdf", EMAIL, page=1)
    c.exp.add("letter.pdf", CARD, page=2)
    c.exp.add("letter.pdf", IBAN, page=2)
    c.planted["letter.pdf"] = [(1, s), (1, e), (2, spaced(k)), (2, spaced(i))]

    cv = canvas.Canvas(c.p("form.pdf"), pagesize=A4, invariant=1)
    cv.setTitle("Form")
    ph = c.v.take(PHONE)
    cv.setFont("Helvetica", 12)
    cv.drawString(72, 780, "Customer form")
    cv.drawString(72, 750, f"Office phone {ph}")
    cv.drawString(72, 710, "Contact email:")
    e = c.v.take(EMAIL)
    cv.acroForm.textfield(name="contact_email", tooltip="Contact email", value=e,
                          x=180, y=700, width=300, height=20, borderStyle="inset",
                          forceBorder=True, fontName="Helvetica", fontSize=11)
    cv.showPage()
    cv.save()
    c.exp.add("form.pdf", PHONE, page=1)
    # The field's value is in the field dictionary (/V) and its appearance stream; which page a
    # form-field extractor reports is not asserted.
    c.exp.add("form.pdf", EMAIL)
    c.planted["form.pdf"] = [(1, ph)]


# --------------------------------------------------------------------------------------------
# Mail
# --------------------------------------------------------------------------------------------

def _fix_boundaries(msg: EmailMessage, tag: str) -> None:
    n = 0
    for part in msg.walk():
        if part.is_multipart():
            n += 1
            part.set_boundary(f"=={tag}-boundary-{n}==")


def write_mail(c: Ctx) -> None:
    i, s, e = c.v.take(IBAN), c.v.take(SSN), c.v.take(EMAIL)
    a, k = c.v.take(AWS), c.v.take(CARD)
    msg = EmailMessage()
    msg["From"] = "Payroll Team <payroll@example.com>"
    msg["To"] = "Finance <finance@example.com>"
    msg["Subject"] = f"Wire to IBAN {spaced(i)}"
    msg["Date"] = "Sat, 01 Jun 2024 12:00:00 +0000"
    msg["Message-ID"] = "<formats-corpus-1@example.com>"
    msg.set_content(f"Hello,\n\nthe contractor's SSN {s} is needed for the 1099.\n\nThanks\n")
    msg.add_alternative(
        "<html><body><p style=\"color:#333\">Hello,</p>"
        f"<p>Questions go to email {e} &mdash; thanks.</p></body></html>\n",
        subtype="html", cte="quoted-printable")
    msg.add_attachment(f"Rotate the AWS access key {a} today.\n".encode(), maintype="text",
                       subtype="plain", filename="notes.txt")
    inner = zip_bytes([("secret.txt", f"Backup card {spaced(k)} for emergencies.\n".encode())])
    msg.add_attachment(inner, maintype="application", subtype="zip", filename="inner.zip")
    _fix_boundaries(msg, "mail")
    c.write("mail.eml", msg.as_bytes(policy=SMTP))
    c.exp.add("mail.eml", IBAN, "mail.eml!headers")
    c.exp.add("mail.eml", SSN, "mail.eml!body.txt")
    c.exp.add("mail.eml", EMAIL, "mail.eml!body.html")
    c.exp.add("mail.eml", AWS, "mail.eml!notes.txt")
    c.exp.add("mail.eml", CARD, "mail.eml!inner.zip!secret.txt")

    path = c.p("box.mbox")
    if os.path.exists(path):
        os.remove(path)
    box = mailbox.mbox(path, create=True)
    bodies = [
        "Lunch is at noon on Friday. No sensitive data here.\n",
        f"Hi,\n\nmy SSN {c.v.take(SSN)} for the background check.\n",
        f"Please charge card {spaced(c.v.take(CARD))} for the renewal.\n",
    ]
    for n, body in enumerate(bodies, 1):
        m = EmailMessage()
        m["From"] = f"sender{n}@example.com"
        m["To"] = "inbox@example.com"
        m["Subject"] = f"Message {n}"
        m["Date"] = f"Sat, 01 Jun 2024 12:0{n}:00 +0000"
        m["Message-ID"] = f"<formats-mbox-{n}@example.com>"
        m.set_content(body)
        mm = mailbox.mboxMessage(m)
        mm.set_from(f"sender{n}@example.com", (2024, 6, 1, 12, n, 0, 5, 153, 0))
        box.add(mm)
    box.flush()
    box.close()
    c.exp.add("box.mbox", SSN, "box.mbox!message-2!body.txt")
    c.exp.add("box.mbox", CARD, "box.mbox!message-3!body.txt")


# --------------------------------------------------------------------------------------------
# Archives and compressed streams
# --------------------------------------------------------------------------------------------

def write_archives(c: Ctx) -> None:
    def members():
        e, s, k = c.v.take(EMAIL), c.v.take(SSN), c.v.take(CARD)
        a = f"Archived note: contact email {e} for access.\n".encode()
        b = csv_text([["name", "ssn"], ["Kwame Hill", s]]).encode()
        return e, s, k, a, b

    e, s, k, a, b = members()
    nested = zip_bytes([("deep/c.txt", f"Old card {spaced(k)} was cancelled.\n".encode())])
    c.write("archive.zip", zip_bytes([("a.txt", a), ("dir/b.csv", b), ("nested.zip", nested)],
                                     stored=("a.txt",)))
    c.exp.add("archive.zip", EMAIL, "archive.zip!a.txt")
    c.exp.add("archive.zip", SSN, "archive.zip!dir/b.csv", row=1, column="ssn", line=2)
    c.exp.add("archive.zip", CARD, "archive.zip!nested.zip!deep/c.txt")

    for name, compressed in (("archive.tar", False), ("archive.tar.gz", True)):
        e, s, k, a, b = members()
        c3 = f"Replacement card {spaced(k)} issued.\n".encode()
        tar = tar_bytes([("a.txt", a), ("dir/b.csv", b), ("dir/c.txt", c3)])
        base = name
        if compressed:
            c.write(name, gzip_bytes(tar, "archive.tar"))
            base = f"{name}!archive.tar"
        else:
            c.write(name, tar)
        c.exp.add(name, EMAIL, f"{base}!a.txt")
        c.exp.add(name, SSN, f"{base}!dir/b.csv", row=1, column="ssn", line=2)
        c.exp.add(name, CARD, f"{base}!dir/c.txt")

    logs = [
        {"ts": "2024-06-01T12:00:00Z", "level": "INFO", "msg": "login", "email": c.v.take(EMAIL)},
        {"ts": "2024-06-01T12:00:05Z", "level": "WARN", "msg": "kyc check", "ssn": c.v.take(SSN)},
    ]
    c.write("logs.json.gz", gzip_bytes((json.dumps(logs, indent=1) + "\n").encode(), "logs.json"))
    c.exp.add("logs.json.gz", EMAIL, "logs.json.gz!logs.json", column="email")
    c.exp.add("logs.json.gz", SSN, "logs.json.gz!logs.json", column="ssn")

    i, ph = c.v.take(IBAN), c.v.take(PHONE)
    text = (f"Supplier notes\nWire transfer to IBAN {spaced(i)} approved.\n"
            f"Their phone {ph} is answered 9-5.\n").encode()
    c.write("notes.txt.bz2", bz2.compress(text, 9))
    c.exp.add("notes.txt.bz2", IBAN, "notes.txt.bz2!notes.txt")
    c.exp.add("notes.txt.bz2", PHONE, "notes.txt.bz2!notes.txt")

    a, e = c.v.take(AWS), c.v.take(EMAIL)
    text = f"Deploy notes\naws_access_key_id = {a}\nowner email {e}\n".encode()
    c.write("notes.txt.xz", lzma.compress(text, format=lzma.FORMAT_XZ, preset=6))
    c.exp.add("notes.txt.xz", AWS, "notes.txt.xz!notes.txt")
    c.exp.add("notes.txt.xz", EMAIL, "notes.txt.xz!notes.txt")

    try:
        import zstandard
    except ImportError:
        print("zstandard not installed: notes.txt.zst skipped", file=sys.stderr)
        return
    g, s = c.v.take(GITHUB), c.v.take(SSN)
    text = f"CI notes\nGITHUB_TOKEN={g}\nApplicant SSN {s} verified.\n".encode()
    cctx = zstandard.ZstdCompressor(level=3, write_content_size=True, write_checksum=True)
    c.write("notes.txt.zst", cctx.compress(text))
    c.exp.add("notes.txt.zst", GITHUB, "notes.txt.zst!notes.txt")
    c.exp.add("notes.txt.zst", SSN, "notes.txt.zst!notes.txt")


# --------------------------------------------------------------------------------------------
# Columnar: Parquet, Avro
# --------------------------------------------------------------------------------------------

def write_sevenz(c: Ctx) -> None:
    """archive.7z written by py7zr (LZMA2, one solid block): two members in a folder."""
    import py7zr
    e, s = c.v.take(EMAIL), c.v.take(SSN)
    with py7zr.SevenZipFile(c.p("archive.7z"), "w") as z:
        z.writestr(f"Contact: {e}\n".encode(), "docs/contact.txt")
        z.writestr(f"Applicant SSN {s} verified.\n".encode(), "docs/ssn.txt")
    c.exp.add("archive.7z", EMAIL, "archive.7z!docs/contact.txt")
    c.exp.add("archive.7z", SSN, "archive.7z!docs/ssn.txt")


def write_columnar(c: Ctx) -> None:
    import fastavro
    import pyarrow as pa
    import pyarrow.parquet as pq

    recs = [{"id": n, "email": c.v.take(EMAIL), "ssn": c.v.take(SSN)} for n in (1, 2, 3)]
    table = pa.table({"id": pa.array([r["id"] for r in recs], pa.int64()),
                      "email": [r["email"] for r in recs], "ssn": [r["ssn"] for r in recs]})
    pq.write_table(table, c.p("data.parquet"))
    for r in (1, 2, 3):
        c.exp.add("data.parquet", EMAIL, row=r, column="email")
        c.exp.add("data.parquet", SSN, row=r, column="ssn")

    recs = [{"id": n, "email": c.v.take(EMAIL), "ssn": c.v.take(SSN)} for n in (1, 2)]
    schema = fastavro.parse_schema({
        "type": "record", "name": "Customer", "namespace": "corpus",
        "fields": [{"name": "id", "type": "long"}, {"name": "email", "type": "string"},
                   {"name": "ssn", "type": "string"}]})
    with open(c.p("data.avro"), "wb") as f:
        fastavro.writer(f, schema, recs, codec="null", sync_marker=b"formats.py-sync!")
    for r in (1, 2):
        c.exp.add("data.avro", EMAIL, row=r, column="email")
        c.exp.add("data.avro", SSN, row=r, column="ssn")


# --------------------------------------------------------------------------------------------
# Self-check: every value really is in the stated part
# --------------------------------------------------------------------------------------------

def self_check(c: Ctx) -> None:
    """Open the zip-based packages and confirm each planted value is in the stated part (and in
    no other part), so expected.json never names the wrong part."""
    for name, planted in c.planted.items():
        if name.endswith(".pdf"):
            continue  # checked with pdftotext by hand, see corpora/README.md
        with zipfile.ZipFile(c.p(name)) as z:
            parts = {n: z.read(n).decode("utf-8", "replace") for n in z.namelist()}
        for part, value in planted:
            where = [n for n, text in parts.items() if value in text]
            assert where == [part], (name, value, part, where)


def main(argv: list[str]) -> int:
    if len(argv) != 2 or argv[1].startswith("-"):
        print(__doc__.split("\n\n")[0] + "\n\nusage: python3 corpora/formats.py OUTDIR", file=sys.stderr)
        return 2
    _check_values()
    outdir = argv[1]
    os.makedirs(outdir, exist_ok=True)
    c = Ctx(outdir)
    write_text_files(c)
    write_structured(c)
    write_docx(c)
    write_pptx(c)
    write_xlsx(c)
    write_odt(c)
    write_ods(c)
    write_pdfs(c)
    write_mail(c)
    write_archives(c)
    write_sevenz(c)
    write_columnar(c)
    self_check(c)
    with open(c.p("expected.json"), "w") as f:
        json.dump(c.exp.entries, f, indent=1)
        f.write("\n")
    files = sorted({e["file"] for e in c.exp.entries})
    print(f"{outdir}: {len(files)} files, {len(c.exp.entries)} expected findings")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
