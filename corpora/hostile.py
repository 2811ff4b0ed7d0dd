#!/usr/bin/env python3
# pip install msoffcrypto-tool reportlab   (optional: pypdf python-docx, for --verify)
"""Hostile-input corpus for the DLP scanner's safety limits: bombs, quines, deep nesting,
encryption, corruption and parser traps. See corpora/hostile.md for what a scan must do with each.

Usage:

    python3 corpora/hostile.py OUTDIR              # write every file into OUTDIR (about 4.4 MB)
    python3 corpora/hostile.py OUTDIR --verify     # ... then check each file's property
    python3 corpora/hostile.py --verify-only OUTDIR
    python3 corpora/hostile.py --sparse PATH       # a 4 GiB sparse file (no disk use)

Standard library only (Python >= 3.9), except three optional writers; a file whose writer is
missing is skipped with a note on stderr:

    pip install msoffcrypto-tool reportlab      # encrypted.docx, encrypted.pdf
    pip install pypdf python-docx               # optional, only used by --verify

Every file is deterministic: fixed seeds, fixed timestamps (1980-01-01 in zips, 0 in gzip),
and the randomness of msoffcrypto-tool and reportlab pinned, so the same command gives the
same bytes on the same zlib (the gzip/zip compressed bytes can differ across zlib builds).
No file written is larger than about 2.5 MB.
"""

from __future__ import annotations

import argparse
import base64
import gzip
import io
import os
import random
import struct
import sys
import zipfile
import zlib

KIB = 1024
MIB = 1024 * KIB
GIB = 1024 * MIB

# Fake planted values (the card passes Luhn, the key has the AKIA shape).
CARD = "4556737586899855"
AWS_LINE = "aws_access_key_id = AKIAQYLPMN5HHHFPZAM2"
EMAIL = "jane.doe@example.org"
EMAIL2 = "john.roe@example.com"
EMAIL3 = "ops.team@example.net"
PASSWORD = "password"

SEED = 0x5EED  # base seed; each generator derives its own random.Random from it

# DOS date/time for every zip entry: 1980-01-01 00:00:00.
DOS_TIME = 0
DOS_DATE = (0 << 9) | (1 << 5) | 1
ZIP_EPOCH = (1980, 1, 1, 0, 0, 0)


def rng(tag: str) -> random.Random:
    """A random.Random seeded from SEED and a per-file tag (stable across Python versions)."""
    return random.Random(SEED * 1_000_003 + zlib.crc32(tag.encode()))


# ----------------------------------------------------------------------------------------------
# Zip helpers
# ----------------------------------------------------------------------------------------------

def zip_info(name: str, compress_type: int = zipfile.ZIP_DEFLATED) -> zipfile.ZipInfo:
    """A ZipInfo with a fixed timestamp, host system and permissions (deterministic output)."""
    zi = zipfile.ZipInfo(name, date_time=ZIP_EPOCH)
    zi.compress_type = compress_type
    zi.create_system = 3
    zi.external_attr = 0o644 << 16
    return zi


def zip_bytes(members: list[tuple[str, bytes]], level: int = 9) -> bytes:
    """A deflated zip (deterministic) of (name, data) members, built with zipfile."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name, data in members:
            zf.writestr(zip_info(name), data, compresslevel=level)
    return buf.getvalue()


def raw_deflate(data: bytes, level: int = 9) -> bytes:
    """Raw DEFLATE (no zlib header), as stored in zip entries."""
    c = zlib.compressobj(level, zlib.DEFLATED, -15, 9)
    return c.compress(data) + c.flush()


def lfh(name: bytes, crc: int, csize: int, usize: int, method: int = 8, flags: int = 0) -> bytes:
    """A zip local file header (no extra field)."""
    return struct.pack("<IHHHHHIIIHH", 0x04034B50, 20, flags, method, DOS_TIME, DOS_DATE,
                       crc, csize, usize, len(name), 0) + name


def cdh(name: bytes, crc: int, csize: int, usize: int, offset: int, method: int = 8,
        flags: int = 0) -> bytes:
    """A zip central directory header (made by Unix, mode 0644, no extra, no comment)."""
    return struct.pack("<IHHHHHHIIIHHHHHII", 0x02014B50, (3 << 8) | 20, 20, flags, method,
                       DOS_TIME, DOS_DATE, crc, csize, usize, len(name), 0, 0, 0, 0,
                       (0o100644 << 16), offset) + name


def eocd(count: int, cd_size: int, cd_offset: int) -> bytes:
    """The end of central directory record (no zip64, no comment)."""
    return struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, count, count, cd_size, cd_offset, 0)


def crc32_combine(crc1: int, crc2: int, len2: int) -> int:
    """CRC-32 of A+B from crc(A), crc(B) and len(B) (zlib's crc32_combine, GF(2) matrices)."""
    def times(mat, vec):
        s, i = 0, 0
        while vec:
            if vec & 1:
                s ^= mat[i]
            vec >>= 1
            i += 1
        return s

    def square(mat):
        return [times(mat, mat[n]) for n in range(32)]

    if len2 <= 0:
        return crc1
    odd = [0xEDB88320] + [1 << n for n in range(31)]  # operator for one zero bit
    even = square(odd)  # two zero bits
    odd = square(even)  # four zero bits
    while True:
        even = square(odd)
        if len2 & 1:
            crc1 = times(even, crc1)
        len2 >>= 1
        if not len2:
            break
        odd = square(even)
        if len2 & 1:
            crc1 = times(odd, crc1)
        len2 >>= 1
        if not len2:
            break
    return crc1 ^ crc2


# ----------------------------------------------------------------------------------------------
# 1. Overlapping-entry zip bombs (David Fifield, "A better zip bomb", 2019)
# ----------------------------------------------------------------------------------------------

OVERLAP_KERNEL = 256 * MIB   # bytes one kernel inflates to
OVERLAP_ENTRIES = 64         # 64 x 256 MiB = 16 GiB declared


def overlap_kernel() -> tuple[bytes, int]:
    """Raw DEFLATE of OVERLAP_KERNEL bytes of 'a' (final block included), and its CRC-32."""
    c = zlib.compressobj(9, zlib.DEFLATED, -15, 9)
    chunk = b"a" * MIB
    parts, crc = [], 0
    for _ in range(OVERLAP_KERNEL // MIB):
        parts.append(c.compress(chunk))
        crc = zlib.crc32(chunk, crc)
    parts.append(c.flush())
    return b"".join(parts), crc


def gen_overlap(out: str, kernel: tuple[bytes, int]) -> None:
    """overlap.zip: the "full overlap" variant. One local header (name "0") and one kernel;
    OVERLAP_ENTRIES central directory entries with distinct names all point at offset 0.
    Entry 0's name matches the local header; the others do not (strict readers such as
    Python's zipfile reject them on open; lenient ones inflate the kernel again each time)."""
    data, crc = kernel
    names = [b"%d" % i for i in range(OVERLAP_ENTRIES)]
    head = lfh(names[0], crc, len(data), OVERLAP_KERNEL)
    body = head + data
    cd = b"".join(cdh(n, crc, len(data), OVERLAP_KERNEL, 0) for n in names)
    with open(out, "wb") as f:
        f.write(body + cd + eocd(len(names), len(cd), len(body)))


def gen_overlap_quoted(out: str, kernel: tuple[bytes, int]) -> None:
    """overlap-quoted.zip: Fifield's quoted-overlap construction. Local header i is followed by a
    non-final stored DEFLATE block that quotes local header i+1, so entry i's compressed data is
    [quote of LFH i+1] + entry i+1's compressed data + ... + the shared kernel. Every entry is
    self-consistent (names, CRCs and sizes match between local and central headers) and entry i
    inflates to LFH(i+1..N-1) + kernel output."""
    data, kcrc = kernel
    n = OVERLAP_ENTRIES
    names = [b"%02d.txt" % i for i in range(n)]
    heads: list[bytes] = [b""] * n
    crcs, usizes, csizes = [0] * n, [0] * n, [0] * n
    # Build back to front: entry i's header quotes entry i+1's header, which must be final.
    crcs[-1], usizes[-1], csizes[-1] = kcrc, OVERLAP_KERNEL, len(data)
    heads[-1] = lfh(names[-1], kcrc, len(data), OVERLAP_KERNEL)
    for i in range(n - 2, -1, -1):
        nxt = heads[i + 1]
        quote_len = 5 + len(nxt)
        usizes[i] = len(nxt) + usizes[i + 1]
        csizes[i] = quote_len + csizes[i + 1]
        crcs[i] = crc32_combine(zlib.crc32(nxt), crcs[i + 1], usizes[i + 1])
        heads[i] = lfh(names[i], crcs[i], csizes[i], usizes[i])
    body = bytearray()
    offsets = []
    for i in range(n):
        offsets.append(len(body))
        body += heads[i]
        if i + 1 < n:
            ln = len(heads[i + 1])
            body += struct.pack("<BHH", 0, ln, ln ^ 0xFFFF)  # stored, non-final: quotes LFH i+1
    body += data
    cd = b"".join(cdh(names[i], crcs[i], csizes[i], usizes[i], offsets[i]) for i in range(n))
    with open(out, "wb") as f:
        f.write(bytes(body) + cd + eocd(n, len(cd), len(body)))


# ----------------------------------------------------------------------------------------------
# 2. Nested zips
# ----------------------------------------------------------------------------------------------

NEST_LEVELS = 10


def gen_nested10(out: str) -> None:
    """nested10.zip: level10.zip > level9.zip > ... > level1.zip > secret.txt, i.e. the text
    file sits inside 10 zips (nested10.zip itself is level 10)."""
    data = zip_bytes([("secret.txt", (AWS_LINE + "\n").encode())])  # level1
    for level in range(2, NEST_LEVELS + 1):
        data = zip_bytes([("level%d.zip" % (level - 1), data)])
    with open(out, "wb") as f:
        f.write(data)


BOMB_COPIES = 10
BOMB_LEAF = 10 * MIB


def gen_nested10_bomb(out: str) -> None:
    """nested10-bomb.zip (42.zip style): level 1 holds 10 copies of a 10 MiB file of zeros,
    level k holds 10 copies of level k-1, 10 levels: 10**10 leaves, 100 PiB fully expanded.
    It stays small because deflating ten copies of a < 32 KiB blob back-references the first."""
    leaf = bytes(BOMB_LEAF)
    data = zip_bytes([("%d.bin" % i, leaf) for i in range(BOMB_COPIES)])
    for level in range(2, NEST_LEVELS + 1):
        data = zip_bytes([("l%d-%d.zip" % (level - 1, i), data) for i in range(BOMB_COPIES)])
    with open(out, "wb") as f:
        f.write(data)


# ----------------------------------------------------------------------------------------------
# 3. Quines: a gzip that decompresses to itself, a zip that contains itself
#    (Russ Cox, "Zip Files All The Way Down", 2010), rebuilt from first principles.
# ----------------------------------------------------------------------------------------------

_LEN_BASE = [3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 15, 17, 19, 23, 27, 31, 35, 43, 51, 59, 67, 83,
             99, 115, 131, 163, 195, 227, 258]
_LEN_EXTRA = [0] * 8 + [1] * 4 + [2] * 4 + [3] * 4 + [4] * 4 + [5] * 4 + [0]
_DIST_BASE = [1, 2, 3, 4, 5, 7, 9, 13, 17, 25, 33, 49, 65, 97, 129, 193, 257, 385, 513, 769,
              1025, 1537, 2049, 3073, 4097, 6145, 8193, 12289, 16385, 24577]
_DIST_EXTRA = [0, 0, 0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7, 8, 8, 9, 9, 10, 10, 11, 11,
               12, 12, 13, 13]


class BitWriter:
    """DEFLATE bit packing: fields LSB-first, Huffman codes MSB-first."""

    def __init__(self):
        self.out = bytearray()
        self.acc = 0
        self.n = 0

    def bits(self, value: int, count: int) -> None:
        self.acc |= value << self.n
        self.n += count
        while self.n >= 8:
            self.out.append(self.acc & 0xFF)
            self.acc >>= 8
            self.n -= 8

    def huff(self, code: int, count: int) -> None:
        self.bits(int(format(code, "0%db" % count)[::-1], 2), count)

    def align(self) -> None:
        if self.n:
            self.bits(0, 8 - self.n)

    def aligned(self) -> bool:
        return self.n == 0

    def getvalue(self) -> bytes:
        assert self.n == 0
        return bytes(self.out)

    # DEFLATE pieces ---------------------------------------------------------------------

    def litlen(self, sym: int) -> None:
        """A literal/length symbol in the fixed Huffman code."""
        if sym < 144:
            self.huff(0x30 + sym, 8)
        elif sym < 256:
            self.huff(0x190 + sym - 144, 9)
        elif sym < 280:
            self.huff(sym - 256, 7)
        else:
            self.huff(0xC0 + sym - 280, 8)

    def copy(self, length: int, dist: int) -> None:
        """A back-reference (3 <= length <= 258, 1 <= dist <= 32768), fixed Huffman code."""
        i = 28 if length == 258 else max(k for k in range(28) if _LEN_BASE[k] <= length)
        self.litlen(257 + i)
        self.bits(length - _LEN_BASE[i], _LEN_EXTRA[i])
        j = max(k for k in range(30) if _DIST_BASE[k] <= dist)
        self.huff(j, 5)
        self.bits(dist - _DIST_BASE[j], _DIST_EXTRA[j])

    def empty_fixed_block(self) -> None:
        """A non-final fixed-Huffman block holding only end-of-block (10 bits)."""
        self.bits(0, 1)
        self.bits(1, 2)
        self.litlen(256)

    def stored_header(self, length: int, final: bool = False) -> None:
        """A stored block header: 3 bits, pad to a byte, LEN, NLEN (the data must follow)."""
        self.bits(int(final), 1)
        self.bits(0, 2)
        self.align()
        self.bits(length, 16)
        self.bits(length ^ 0xFFFF, 16)


def _lit_op(n: int, width: int) -> bytes | None:
    """Cox's "Lit n" (the next n bytes are literal) as exactly `width` bytes, or None: empty
    fixed blocks used as padding, then a non-final stored block header."""
    for pad in range(8):
        w = BitWriter()
        for _ in range(pad):
            w.empty_fixed_block()
        w.stored_header(n)
        if len(w.out) == width:
            return w.getvalue()
    return None


def _copy_splits(n: int):
    """Ways to write "copy n bytes from distance n" as one or two back-references."""
    if 3 <= n <= 258:
        yield [n]
    for a in range(3, min(n - 3, 258) + 1):
        if 3 <= n - a <= 258:
            yield [a, n - a]


def _rep_op(n: int, width: int | None, final: bool = False) -> bytes | None:
    """Cox's "Rep n" (repeat the last n bytes of output) as exactly `width` bytes ending on a
    byte boundary with no block open; or, when final, one final block of any width (width None)
    or exactly `width`. Padding: empty fixed blocks and an empty stored block."""
    for split in _copy_splits(n):
        for pad in range(6):
            for tail in (False, True):
                if final and (pad or tail):
                    continue
                w = BitWriter()
                w.bits(int(final), 1)
                w.bits(1, 2)
                for length in split:
                    w.copy(length, n)
                w.litlen(256)
                for _ in range(pad):
                    w.empty_fixed_block()
                if tail:  # an empty stored block realigns to a byte boundary
                    w.bits(0, 3)
                    w.align()
                    w.bits(0, 16)
                    w.bits(0xFFFF, 16)
                if not w.aligned():
                    if not final:
                        continue
                    w.align()
                if width is None or len(w.out) == width:
                    return w.getvalue()
    return None


def deflate_quine(prefix_len: int, suffix_len: int):
    """Cox's self-reproducing DEFLATE program for a file P + C + S (|P| = prefix_len,
    |S| = suffix_len): returns assemble(P, S) -> whole file bytes, where the file's DEFLATE
    stream C inflates to the whole file P + C + S. All opcodes but the last take W bytes.

        Lit p+W [P Lit(p+W)]   Rep p+W
        Lit W [Rep(p+W)]       Lit W [Lit(W)]
        Lit 4W [Rep(p+W) Lit(W) Lit(W) Lit(4W)]            Rep 4W
        Lit 4W [Rep(4W) Lit(4W) Rep(4W) Lit(4W)]           Rep 4W
        Lit 4W [Rep(4W) Lit(0) Lit(0) Lit(s+F)]            Rep 4W
        Lit 0  Lit 0  Lit s+F [RepFinal(s+F) S]            RepFinal s+F (final block)  then S
    """
    p, s = prefix_len, suffix_len
    for width in range(5, 16):
        ops = {}
        ops["litP"] = _lit_op(p + width, width)
        ops["lit1"] = _lit_op(width, width)
        ops["lit4"] = _lit_op(4 * width, width)
        ops["lit0"] = _lit_op(0, width)
        ops["repP"] = _rep_op(p + width, width)
        ops["rep4"] = _rep_op(4 * width, width)
        if None in ops.values():
            continue
        final = None
        for fw in range(1, 16):
            cand = _rep_op(s + fw, None, final=True)
            if cand is not None and len(cand) == fw:
                final = cand
                break
        if final is None:
            continue
        lits = _lit_op(s + len(final), width)
        if lits is None:
            continue
        o = ops

        def assemble(prefix: bytes, suffix: bytes) -> bytes:
            assert len(prefix) == p and len(suffix) == s
            c = b"".join([
                o["litP"], prefix, o["litP"], o["repP"],
                o["lit1"], o["repP"], o["lit1"], o["lit1"],
                o["lit4"], o["repP"], o["lit1"], o["lit1"], o["lit4"], o["rep4"],
                o["lit4"], o["rep4"], o["lit4"], o["rep4"], o["lit4"], o["rep4"],
                o["lit4"], o["rep4"], o["lit0"], o["lit0"], lits, o["rep4"],
                o["lit0"], o["lit0"], lits, final, suffix, final,
            ])
            return prefix + c + suffix

        return assemble, width
    raise RuntimeError("no opcode width fits")


def solve_crc_fixed_point(build) -> bytes:
    """build(x) -> file bytes with the 32-bit value x embedded (anywhere, any number of times).
    Finds x with crc32(build(x)) == x. CRC-32 is affine in the message bits, so
    crc32(build(x)) = c0 ^ M.x over GF(2); solve (M + I).x = c0 by Gaussian elimination.
    Returns the file, or raises ValueError when no fixed point exists."""
    base = build(0)
    c0 = zlib.crc32(base)
    cols = [zlib.crc32(build(1 << i)) ^ c0 for i in range(32)]
    # Row r of (M + I): bit r of each column, plus the identity.
    rows = []
    for r in range(32):
        row = 0
        for i in range(32):
            if (cols[i] >> r) & 1:
                row |= 1 << i
        row ^= 1 << r
        rows.append([row, (c0 >> r) & 1])
    x, pivots, rank = 0, [], 0
    for col in range(32):
        piv = next((k for k in range(rank, 32) if (rows[k][0] >> col) & 1), None)
        if piv is None:
            continue
        rows[rank], rows[piv] = rows[piv], rows[rank]
        for k in range(32):
            if k != rank and (rows[k][0] >> col) & 1:
                rows[k][0] ^= rows[rank][0]
                rows[k][1] ^= rows[rank][1]
        pivots.append(col)
        rank += 1
    if any(rows[k][1] for k in range(rank, 32)):
        raise ValueError("no CRC fixed point")
    for k, col in enumerate(pivots):  # free variables = 0
        if rows[k][1]:
            x |= 1 << col
    data = build(x)
    assert zlib.crc32(data) == x
    return data


def gen_quine_gz(out: str) -> None:
    """quine.gz: gzip.decompress(file) == file. The 10-byte gzip header is P, CRC-32 and ISIZE
    are S; the CRC is the solved fixed point (the header's MTIME is bumped if none exists)."""
    assemble, _ = deflate_quine(10, 8)
    for mtime in range(1000):
        header = struct.pack("<BBBBIBB", 0x1F, 0x8B, 8, 0, mtime, 0, 255)
        size = len(assemble(header, bytes(8)))

        def build(x, header=header, size=size):
            return assemble(header, struct.pack("<II", x, size))
        try:
            data = solve_crc_fixed_point(build)
        except ValueError:
            continue
        with open(out, "wb") as f:
            f.write(data)
        return
    raise RuntimeError("no gzip quine found")


def gen_droste_zip(out: str) -> None:
    """droste.zip: a zip whose one member, droste.zip, is byte-for-byte the zip itself. The
    local header is P; the central directory and end record are S. Sizes are fixed first, then
    the CRC-32 (which appears in both headers) is solved as a fixed point."""
    name = b"droste.zip"
    p = 30 + len(name)
    s = 46 + len(name) + 22
    assemble, _ = deflate_quine(p, s)
    total = len(assemble(bytes(p), bytes(s)))
    csize = total - p - s
    for mtime in range(1000):
        def build(x, mtime=mtime):
            head = struct.pack("<IHHHHHIIIHH", 0x04034B50, 20, 0, 8, mtime, DOS_DATE, x,
                               csize, total, len(name), 0) + name
            cd = struct.pack("<IHHHHHHIIIHHHHHII", 0x02014B50, (3 << 8) | 20, 20, 0, 8, mtime,
                             DOS_DATE, x, csize, total, len(name), 0, 0, 0, 0,
                             0o100644 << 16, 0) + name
            return assemble(head, cd + eocd(1, len(cd), p + csize))
        try:
            data = solve_crc_fixed_point(build)
        except ValueError:
            continue
        with open(out, "wb") as f:
            f.write(data)
        return
    raise RuntimeError("no zip quine found")


# ----------------------------------------------------------------------------------------------
# 4-5. Compression ratio and truncation
# ----------------------------------------------------------------------------------------------

RATIO_SIZE = 1 * GIB


def gen_ratio_gz(out: str) -> None:
    """ratio.gz: 1 GiB of zeros, gzip level 9, streamed in 1 MiB chunks (~1 MB file)."""
    chunk = bytes(MIB)
    with open(out, "wb") as raw:
        with gzip.GzipFile(filename="", mode="wb", fileobj=raw, compresslevel=9, mtime=0) as gz:
            for _ in range(RATIO_SIZE // MIB):
                gz.write(chunk)


def truncated_text() -> bytes:
    """The text behind truncated.gz: the card on line 2, ~300 KB of seeded word salad, and an
    email on the last line (which the truncation cuts off)."""
    r = rng("truncated")
    words = ("alpha bravo charlie delta echo foxtrot golf hotel india juliet kilo lima mike "
             "november oscar papa quebec romeo sierra tango uniform victor whiskey xray yankee "
             "zulu invoice ledger quarterly revenue shipment warehouse customer").split()
    lines = ["Quarterly notes (synthetic)", "card %s" % CARD]
    for i in range(6000):
        lines.append("%05d %s" % (i, " ".join(r.choice(words) for _ in range(8))))
    lines.append("contact %s" % EMAIL3)
    return ("\n".join(lines) + "\n").encode()


def gen_truncated_gz(out: str) -> None:
    """truncated.gz: gzip (FNAME notes.txt, mtime 0) of truncated_text(), cut to half its
    length: a decompressor yields the first part (with the card), then hits end of stream."""
    buf = io.BytesIO()
    with gzip.GzipFile(filename="notes.txt", mode="wb", fileobj=buf, compresslevel=9,
                       mtime=0) as gz:
        gz.write(truncated_text())
    data = buf.getvalue()
    with open(out, "wb") as f:
        f.write(data[: len(data) // 2])


# ----------------------------------------------------------------------------------------------
# 6. Deep nesting
# ----------------------------------------------------------------------------------------------

JSON_DEPTH = 1_000_000
XML_DEPTH = 100_000


def gen_deep_json(out: str) -> None:
    """deep.json: 1,000,000 nested arrays around one string holding an email (~2 MB)."""
    with open(out, "wb") as f:
        f.write(b"[" * JSON_DEPTH)
        f.write(b'"contact %s"' % EMAIL.encode())
        f.write(b"]" * JSON_DEPTH)
        f.write(b"\n")


def gen_deep_xml(out: str) -> None:
    """deep.xml: 100,000 nested <a> elements, text with an email in the innermost (~700 KB)."""
    with open(out, "wb") as f:
        f.write(b'<?xml version="1.0" encoding="UTF-8"?>\n')
        f.write(b"<a>" * XML_DEPTH)
        f.write(b"contact %s" % EMAIL.encode())
        f.write(b"</a>" * XML_DEPTH)
        f.write(b"\n")


# ----------------------------------------------------------------------------------------------
# 7-8. Encryption
# ----------------------------------------------------------------------------------------------

_CRC_TABLE = []
for _n in range(256):
    _c = _n
    for _ in range(8):
        _c = (_c >> 1) ^ 0xEDB88320 if _c & 1 else _c >> 1
    _CRC_TABLE.append(_c)


class ZipCrypto:
    """Traditional PKWARE encryption (APPNOTE 6.1): three 32-bit keys updated per plaintext
    byte; each byte is XORed with a keystream byte derived from key 2."""

    def __init__(self, password: bytes):
        self.k0, self.k1, self.k2 = 0x12345678, 0x23456789, 0x34567890
        for b in password:
            self._update(b)

    @staticmethod
    def _crc(crc: int, b: int) -> int:
        return _CRC_TABLE[(crc ^ b) & 0xFF] ^ (crc >> 8)

    def _update(self, b: int) -> None:
        self.k0 = self._crc(self.k0, b)
        self.k1 = (self.k1 + (self.k0 & 0xFF)) & 0xFFFFFFFF
        self.k1 = (self.k1 * 134775813 + 1) & 0xFFFFFFFF
        self.k2 = self._crc(self.k2, self.k1 >> 24)

    def encrypt(self, data: bytes) -> bytes:
        out = bytearray()
        for b in data:
            t = (self.k2 | 2) & 0xFFFF
            out.append(b ^ (((t * (t ^ 1)) >> 8) & 0xFF))
            self._update(b)
        return bytes(out)


def gen_encrypted_zip(out: str) -> None:
    """encrypted.zip: secret.txt (deflated, then ZipCrypto with password "password"; its text
    holds a card and an AWS key) and plain.txt (deflated, not encrypted, holds an email)."""
    r = rng("encrypted.zip")
    secret = ("card %s\n%s\n" % (CARD, AWS_LINE)).encode()
    plain = ("contact %s\n" % EMAIL).encode()
    body, cd, count = bytearray(), bytearray(), 0
    for name, data, encrypt in ((b"secret.txt", secret, True), (b"plain.txt", plain, False)):
        crc = zlib.crc32(data)
        comp = raw_deflate(data)
        flags = 0
        if encrypt:
            # 12-byte header: 11 random bytes + the CRC's high byte (the password check byte).
            header = bytes(r.getrandbits(8) for _ in range(11)) + bytes([crc >> 24])
            comp = ZipCrypto(PASSWORD.encode()).encrypt(header + comp)
            flags = 1
        offset = len(body)
        body += lfh(name, crc, len(comp), len(data), flags=flags) + comp
        cd += cdh(name, crc, len(comp), len(data), offset, flags=flags)
        count += 1
    with open(out, "wb") as f:
        f.write(bytes(body) + bytes(cd) + eocd(count, len(cd), len(body)))


def minimal_docx(text_lines: list[str]) -> bytes:
    """A minimal, valid WordprocessingML package (3 parts), one paragraph per line."""
    ct = ('<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
          '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
          '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.'
          'relationships+xml"/><Default Extension="xml" ContentType="application/xml"/>'
          '<Override PartName="/word/document.xml" ContentType="application/vnd.'
          'openxmlformats-officedocument.wordprocessingml.document.main+xml"/></Types>')
    rels = ('<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
            '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
            '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/'
            '2006/relationships/officeDocument" Target="word/document.xml"/></Relationships>')
    paras = "".join('<w:p><w:r><w:t xml:space="preserve">%s</w:t></w:r></w:p>' % t
                    for t in text_lines)
    doc = ('<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
           '<w:document xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main">'
           '<w:body>%s</w:body></w:document>' % paras)
    return zip_bytes([("[Content_Types].xml", ct.encode()), ("_rels/.rels", rels.encode()),
                      ("word/document.xml", doc.encode())])


def docx_lines() -> list[str]:
    """Paragraphs of encrypted.docx: the card and the email, then seeded word salad that takes
    the package past 4096 bytes (msoffcrypto-tool 6.1 writes an EncryptedPackage below the OLE
    mini-stream cutoff that it cannot decrypt again)."""
    r = rng("encrypted.docx text")
    words = "payroll salary bonus review quarter budget audit team office report".split()
    filler = [" ".join(r.choice(words) for _ in range(12)) for _ in range(400)]
    return ["Payroll (synthetic)", "card %s" % CARD, "contact %s" % EMAIL] + filler


def gen_encrypted_docx(out: str) -> None:
    """encrypted.docx: a minimal docx encrypted by msoffcrypto-tool with password "password"
    (ECMA-376 Agile: AES-256 + SHA-512), i.e. an OLE2/CFB file with EncryptionInfo and
    EncryptedPackage streams. msoffcrypto's random salts/keys are pinned to a seeded RNG."""
    import datetime
    from msoffcrypto.format.ooxml import OOXMLFile
    import msoffcrypto.method.ecma376_agile as agile
    import msoffcrypto.method.container.ecma376_encrypted as container

    class FixedClock(datetime.datetime):
        """The OLE directory's creation/modification FILETIMEs come from datetime.now()."""
        @classmethod
        def now(cls, tz=None):
            return cls(2000, 1, 1)

    r = rng("encrypted.docx")
    saved = agile._random_buffer, container.datetime
    agile._random_buffer = lambda n: bytes(r.getrandbits(8) for _ in range(n))
    container.datetime = FixedClock
    try:
        buf = io.BytesIO()
        OOXMLFile(io.BytesIO(minimal_docx(docx_lines()))).encrypt(PASSWORD, buf)
    finally:
        agile._random_buffer, container.datetime = saved
    with open(out, "wb") as f:
        f.write(buf.getvalue())


ODT_MIME = b"application/vnd.oasis.opendocument.text"


def gen_encrypted_odt(out: str) -> None:
    """encrypted.odt: an ODF package that declares content.xml encrypted (AES-256-CBC, PBKDF2,
    as LibreOffice writes) in META-INF/manifest.xml; content.xml is 4 KiB of seeded random
    bytes (no real key exists). mimetype is first and stored, as ODF requires."""
    r = rng("encrypted.odt")
    content = bytes(r.getrandbits(8) for _ in range(4 * KIB))
    b64 = lambda n: base64.b64encode(bytes(r.getrandbits(8) for _ in range(n))).decode()
    manifest = (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<manifest:manifest xmlns:manifest="urn:oasis:names:tc:opendocument:xmlns:manifest:1.0"'
        ' manifest:version="1.2">\n'
        ' <manifest:file-entry manifest:full-path="/" manifest:version="1.2"'
        ' manifest:media-type="%s"/>\n'
        ' <manifest:file-entry manifest:full-path="content.xml" manifest:media-type="text/xml"'
        ' manifest:size="%d">\n'
        '  <manifest:encryption-data manifest:checksum-type="urn:oasis:names:tc:opendocument:'
        'xmlns:manifest:1.0#sha256-1k" manifest:checksum="%s">\n'
        '   <manifest:algorithm manifest:algorithm-name="http://www.w3.org/2001/04/xmlenc#'
        'aes256-cbc" manifest:initialisation-vector="%s"/>\n'
        '   <manifest:start-key-generation manifest:start-key-generation-name='
        '"http://www.w3.org/2000/09/xmldsig#sha256" manifest:key-size="32"/>\n'
        '   <manifest:key-derivation manifest:key-derivation-name="PBKDF2" manifest:key-size="32"'
        ' manifest:iteration-count="100000" manifest:salt="%s"/>\n'
        '  </manifest:encryption-data>\n'
        ' </manifest:file-entry>\n'
        ' <manifest:file-entry manifest:full-path="META-INF/manifest.xml"'
        ' manifest:media-type="text/xml"/>\n'
        '</manifest:manifest>\n'
    ) % (ODT_MIME.decode(), 3 * len(content), b64(32), b64(16), b64(16))
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr(zip_info("mimetype", zipfile.ZIP_STORED), ODT_MIME)
        zf.writestr(zip_info("content.xml", zipfile.ZIP_STORED), content)
        zf.writestr(zip_info("META-INF/manifest.xml"), manifest.encode(), compresslevel=9)
    with open(out, "wb") as f:
        f.write(buf.getvalue())


def gen_encrypted_pdf(out: str) -> None:
    """encrypted.pdf: reportlab page with a card and an email, encrypted with the standard
    security handler (RC4 128-bit, user password "userpw", owner "ownerpw"). reportlab's
    invariant mode pins the document ID and its "random" bytes."""
    from reportlab import rl_config
    rl_config.invariant = 1
    from reportlab.lib import pdfencrypt
    from reportlab.pdfgen import canvas

    if not getattr(pdfencrypt, "_os_random_b", None):  # module imported before invariant=1
        import importlib
        pdfencrypt = importlib.reload(pdfencrypt)
    enc = pdfencrypt.StandardEncryption("userpw", ownerPassword="ownerpw", strength=128)
    c = canvas.Canvas(out, encrypt=enc, invariant=1, pageCompression=1)
    c.setFont("Helvetica", 12)
    c.drawString(72, 720, "Card on file: %s" % CARD)
    c.drawString(72, 700, "Contact: %s" % EMAIL)
    c.showPage()
    c.save()


# ----------------------------------------------------------------------------------------------
# 9. Corruption
# ----------------------------------------------------------------------------------------------

def gen_corrupt_zip(out: str) -> None:
    """corrupt.zip: a.txt, b.txt, c.txt (deflated). b.txt's compressed bytes are replaced by
    garbage of the same length starting 0xFF (BFINAL=1, BTYPE=11: invalid block type), so
    inflating it fails at once; a.txt and c.txt are intact and hold one email each."""
    r = rng("corrupt.zip")
    members = [(b"a.txt", "first %s\n" % EMAIL),
               (b"b.txt", "middle card %s\n" % CARD + "filler line\n" * 200),
               (b"c.txt", "last %s\n" % EMAIL2)]
    body, cd = bytearray(), bytearray()
    for name, text in members:
        data = text.encode()
        crc, comp = zlib.crc32(data), raw_deflate(data)
        if name == b"b.txt":
            comp = b"\xff" + bytes(r.getrandbits(8) for _ in range(len(comp) - 1))
        offset = len(body)
        body += lfh(name, crc, len(comp), len(data)) + comp
        cd += cdh(name, crc, len(comp), len(data), offset)
    with open(out, "wb") as f:
        f.write(bytes(body) + bytes(cd) + eocd(len(members), len(cd), len(body)))


# ----------------------------------------------------------------------------------------------
# 10. PDFs that make parsers loop or work for a long time
# ----------------------------------------------------------------------------------------------

def pdf_bytes(objects: dict[int, bytes], root: int, extra_trailer: bytes = b"",
              prev_self: bool = False) -> bytes:
    """A classic PDF (xref table) from {number: body}. prev_self=True adds /Prev pointing at
    this same xref section."""
    out = bytearray(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets = {}
    for num in sorted(objects):
        offsets[num] = len(out)
        out += b"%d 0 obj\n" % num + objects[num] + b"\nendobj\n"
    size = max(objects) + 1
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % size
    for num in range(1, size):
        if num in offsets:
            out += b"%010d 00000 n \n" % offsets[num]
        else:
            out += b"0000000000 65535 f \n"
    trailer = b"/Size %d /Root %d 0 R" % (size, root) + extra_trailer
    if prev_self:
        trailer += b" /Prev %d" % xref
    out += b"trailer\n<< " + trailer + b" >>\nstartxref\n%d\n%%%%EOF\n" % xref
    return bytes(out)


def pdf_stream(data: bytes, compress: bool = False) -> bytes:
    """A stream object body (FlateDecode when compress)."""
    if compress:
        data = zlib.compress(data, 9)
        return b"<< /Length %d /Filter /FlateDecode >>\nstream\n" % len(data) + data + \
            b"\nendstream"
    return b"<< /Length %d >>\nstream\n" % len(data) + data + b"\nendstream"


PDF_FONT = b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>"
PDF_TEXT = b"BT /F1 12 Tf 72 720 Td (Card on file: " + CARD.encode() + b") Tj ET\n"


def _page(parent: int, contents: int, font: int) -> bytes:
    return (b"<< /Type /Page /Parent %d 0 R /MediaBox [0 0 612 792] /Contents %d 0 R "
            b"/Resources << /Font << /F1 %d 0 R >> >> >>" % (parent, contents, font))


def gen_loop_kids_pdf(out: str) -> None:
    """loop-kids.pdf: the page tree is cyclic. Root Pages (2) has Kids [3 (a real page with a
    card), 4]; Pages 4 has Kids [2 0 R, 4 0 R]: back to the root and to itself."""
    objs = {
        1: b"<< /Type /Catalog /Pages 2 0 R >>",
        2: b"<< /Type /Pages /Kids [3 0 R 4 0 R] /Count 2 >>",
        3: _page(2, 5, 6),
        4: b"<< /Type /Pages /Parent 2 0 R /Kids [2 0 R 4 0 R] /Count 1 >>",
        5: pdf_stream(PDF_TEXT),
        6: PDF_FONT,
    }
    with open(out, "wb") as f:
        f.write(pdf_bytes(objs, 1))


def gen_loop_prev_pdf(out: str) -> None:
    """loop-prev.pdf: a one-page PDF (with a card) whose trailer's /Prev points at its own
    xref section, so following the /Prev chain never ends."""
    objs = {
        1: b"<< /Type /Catalog /Pages 2 0 R >>",
        2: b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        3: _page(2, 4, 5),
        4: pdf_stream(PDF_TEXT),
        5: PDF_FONT,
    }
    with open(out, "wb") as f:
        f.write(pdf_bytes(objs, 1, prev_self=True))


HUGE_OPS_BYTES = 50 * 1000 * 1000


def gen_huge_ops_pdf(out: str) -> None:
    """huge-ops.pdf: one page whose FlateDecode content stream inflates to ~50 MB: a text
    object with a card first, then ~8.3 million "0 0 m" (moveto) operators."""
    op = b"0 0 m\n"
    content = PDF_TEXT + op * (HUGE_OPS_BYTES // len(op))
    objs = {
        1: b"<< /Type /Catalog /Pages 2 0 R >>",
        2: b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        3: _page(2, 4, 5),
        4: pdf_stream(content, compress=True),
        5: PDF_FONT,
    }
    with open(out, "wb") as f:
        f.write(pdf_bytes(objs, 1))


# ----------------------------------------------------------------------------------------------
# Sparse file (never written by default)
# ----------------------------------------------------------------------------------------------

SPARSE_SIZE = 4 * GIB


def make_sparse(path: str) -> None:
    """A 4 GiB sparse file: zeros (holes) with one line holding an AWS key in its last 64
    bytes. Takes no disk space beyond one block on file systems with holes."""
    tail = (AWS_LINE + "\n").encode().rjust(64, b"\n")
    with open(path, "wb") as f:
        os.truncate(f.fileno(), SPARSE_SIZE)
        f.seek(SPARSE_SIZE - len(tail))
        f.write(tail)


# ----------------------------------------------------------------------------------------------
# Verification (--verify): each check returns a one-line description or raises AssertionError
# ----------------------------------------------------------------------------------------------

MAX_FILE = 5 * 1000 * 1000


def _read_bounded(zf: zipfile.ZipFile, info, n: int) -> bytes:
    with zf.open(info) as f:
        return f.read(n)


def _entry_start(data: bytes, info) -> int:
    nlen, xlen = struct.unpack_from("<HH", data, info.header_offset + 26)
    return info.header_offset + 30 + nlen + xlen


def _inflate_entry(data: bytes, info, limit: int | None = None) -> tuple[bytes, int, int]:
    """Inflate an entry straight from its local header, ignoring names and the overlap check
    that CPython >= 3.11.8/3.12.2 zipfile applies. Returns (first `limit` bytes or b"", size
    inflated, CRC-32 of it); with a limit, stops once that many bytes are out."""
    d = zlib.decompressobj(-15)
    pos = _entry_start(data, info)
    end = pos + info.compress_size
    head, size, crc = bytearray(), 0, 0
    while not d.eof and (pos < end or d.unconsumed_tail):
        if d.unconsumed_tail:
            out = d.decompress(d.unconsumed_tail, 4 * MIB)
        else:
            out = d.decompress(data[pos:min(pos + 64 * KIB, end)], 4 * MIB)
            pos = min(pos + 64 * KIB, end)
        size += len(out)
        crc = zlib.crc32(out, crc)
        if limit is not None:
            head += out[:limit - len(head)]
            if len(head) >= limit:
                break
    return bytes(head), size, crc


def _zip_read_start(zf: zipfile.ZipFile, data: bytes, info, n: int) -> tuple[bytes, str]:
    """First n bytes of an entry through zipfile, or, when zipfile refuses it, raw."""
    try:
        return _read_bounded(zf, info, n), "zipfile reads it"
    except zipfile.BadZipFile as e:
        return _inflate_entry(data, info, n)[0], "zipfile refuses it (%s)" % str(e)[:60]


def check_overlap(path: str) -> str:
    data = open(path, "rb").read()
    zf = zipfile.ZipFile(path)
    infos = zf.infolist()
    total = sum(i.file_size for i in infos)
    assert len(infos) == OVERLAP_ENTRIES and total >= 10 * 10**9
    assert {i.header_offset for i in infos} == {0}
    first, how0 = _zip_read_start(zf, data, infos[0], MIB)
    assert first == b"a" * MIB
    last, how1 = _zip_read_start(zf, data, infos[-1], MIB)
    assert last == b"a" * MIB
    return ("%d entries, all at offset 0, declared %.1f GB; entry 0 inflates to 'a'*, %s; "
            "entry %d inflates to the same bytes, %s"
            % (len(infos), total / 1e9, how0, len(infos) - 1, how1))


def check_overlap_quoted(path: str) -> str:
    data = open(path, "rb").read()
    zf = zipfile.ZipFile(path)
    infos = zf.infolist()
    total = sum(i.file_size for i in infos)
    assert len(infos) == OVERLAP_ENTRIES and total >= 10 * 10**9
    offs = [i.header_offset for i in infos]
    assert offs == sorted(offs) and len(set(offs)) == len(offs)
    # Entry i's compressed data runs to the kernel's end, over every later local header.
    ends = [_entry_start(data, i) + i.compress_size for i in infos]
    assert len(set(ends)) == 1 and ends[0] > offs[-1]
    expect = b"".join(data[o:o + 30 + len(i.filename)] for o, i in zip(offs[1:], infos[1:]))
    got, how = _zip_read_start(zf, data, infos[0], len(expect) + 4096)
    assert got == expect + b"a" * 4096
    # Full inflates of the last two entries check sizes and CRC-32s (incl. crc32_combine).
    for info in infos[-2:]:
        _, size, crc = _inflate_entry(data, info)
        assert size == info.file_size and crc == info.CRC, info.filename
    return ("%d entries at distinct offsets, data overlapping, declared %.1f GB; entry 0 "
            "inflates to the quoted local headers then 'a'*, %s; the last 2 entries inflate "
            "fully with matching size and CRC" % (len(infos), total / 1e9, how))


def check_nested10(path: str) -> str:
    data, depth = open(path, "rb").read(), 0
    while True:
        zf = zipfile.ZipFile(io.BytesIO(data))
        depth += 1
        (name,) = zf.namelist()
        data = zf.read(name)
        if not name.endswith(".zip"):
            break
    assert depth == NEST_LEVELS and name == "secret.txt" and AWS_LINE.encode() in data
    return "secret.txt with the AWS key is inside %d nested zips" % depth


def check_nested10_bomb(path: str) -> str:
    data, depth, leaves = open(path, "rb").read(), 0, 1
    while True:
        zf = zipfile.ZipFile(io.BytesIO(data))
        infos = zf.infolist()
        assert len(infos) == BOMB_COPIES
        depth += 1
        leaves *= len(infos)
        if not infos[0].filename.endswith(".zip"):
            assert all(i.file_size == BOMB_LEAF for i in infos)
            assert _read_bounded(zf, infos[0], MIB) == bytes(MIB)
            break
        data = zf.read(infos[0])
    assert depth == NEST_LEVELS
    return ("%d levels x %d copies: %d leaves of 10 MiB = %.0f PiB expanded"
            % (depth, BOMB_COPIES, leaves, leaves * BOMB_LEAF / 2**50))


def check_quine_gz(path: str) -> str:
    data = open(path, "rb").read()
    assert gzip.decompress(data) == data
    return "gzip.decompress(file) == file (%d bytes)" % len(data)


def check_droste_zip(path: str) -> str:
    data = open(path, "rb").read()
    zf = zipfile.ZipFile(path)
    assert zf.namelist() == ["droste.zip"] and zf.read("droste.zip") == data
    assert zf.testzip() is None
    return "its only member droste.zip == the file (%d bytes), CRC ok" % len(data)


def check_ratio_gz(path: str) -> str:
    with gzip.open(path, "rb") as f:
        total, chunk = 0, f.read(4 * MIB)
        while chunk:
            assert not chunk.strip(b"\0")
            total += len(chunk)
            chunk = f.read(4 * MIB)
    assert total == RATIO_SIZE
    return "inflates to %d zero bytes (ratio %.0f:1)" % (total, total / os.path.getsize(path))


def check_truncated_gz(path: str) -> str:
    data = open(path, "rb").read()
    try:
        gzip.decompress(data)
        raise AssertionError("decompressed without error")
    except EOFError as e:
        err = str(e)
    partial = zlib.decompressobj(31).decompress(data)
    full = truncated_text()
    assert full.startswith(partial) and 0 < len(partial) < len(full)
    assert ("card " + CARD).encode() in partial and EMAIL3.encode() not in partial
    return ("gzip raises EOFError (%s) after %d of %d bytes; the card is in the partial "
            "output, the email at the end is not" % (err, len(partial), len(full)))


def check_deep_json(path: str) -> str:
    import json
    data = open(path, "rb").read()
    depth = len(data) - len(data.lstrip(b"["))
    assert depth == JSON_DEPTH and data.rstrip().endswith(b"]" * JSON_DEPTH)
    assert json.loads(data[depth:len(data) - depth - 1]) == "contact %s" % EMAIL
    try:
        json.loads(data)
        outcome = "json.loads parses it"
    except RecursionError:
        outcome = "json.loads raises RecursionError"
    return "%d nested arrays, email in the innermost string; %s" % (depth, outcome)


def check_deep_xml(path: str) -> str:
    import xml.etree.ElementTree as ET
    depth, text = 0, None
    for event, elem in ET.iterparse(path, events=("start", "end")):
        if event == "start":
            depth += 1
        elif text is None and elem.text:
            text = elem.text
    assert depth == XML_DEPTH and EMAIL in text
    return "%d nested <a> elements (expat iterparse ok), innermost text has the email" % depth


def check_encrypted_zip(path: str) -> str:
    zf = zipfile.ZipFile(path)
    sec, pl = zf.getinfo("secret.txt"), zf.getinfo("plain.txt")
    assert sec.flag_bits & 1 and not pl.flag_bits & 1
    try:
        zf.read("secret.txt")
        raise AssertionError("read without a password")
    except RuntimeError:
        pass
    assert CARD.encode() in zf.read("secret.txt", pwd=PASSWORD.encode())
    assert EMAIL.encode() in zf.read("plain.txt")
    raw = open(path, "rb").read()
    assert CARD.encode() not in raw and b"AKIA" not in raw
    return ("secret.txt is ZipCrypto (flag bit 0) and needs the password; with it, it holds "
            "the card; plain.txt holds the email")


def check_encrypted_docx(path: str) -> str:
    data = open(path, "rb").read()
    assert data[:8] == bytes.fromhex("d0cf11e0a1b11ae1")
    import olefile
    import msoffcrypto
    ole = olefile.OleFileIO(path)
    streams = {"/".join(s).replace("\x06", "") for s in ole.listdir()}
    assert {"EncryptionInfo", "EncryptedPackage"} <= streams
    off = msoffcrypto.OfficeFile(open(path, "rb"))
    assert off.is_encrypted()
    off.load_key(password=PASSWORD)
    plain = io.BytesIO()
    off.decrypt(plain)
    doc = zipfile.ZipFile(plain).read("word/document.xml")
    assert CARD.encode() in doc
    extra = ""
    if have("docx"):
        import docx
        text = "\n".join(p.text for p in docx.Document(plain).paragraphs)
        assert CARD in text and EMAIL in text
        extra = "; python-docx opens the decrypted file"
    return ("OLE2/CFB file with EncryptionInfo + EncryptedPackage (+ %d DataSpaces streams); "
            "decrypts with the password to a docx with the card%s"
            % (len(streams) - 2, extra))


def check_encrypted_odt(path: str) -> str:
    zf = zipfile.ZipFile(path)
    first = zf.infolist()[0]
    assert first.filename == "mimetype" and first.compress_type == zipfile.ZIP_STORED
    assert zf.read("mimetype") == ODT_MIME
    assert open(path, "rb").read()[30:38] == b"mimetype"
    man = zf.read("META-INF/manifest.xml").decode()
    assert "<manifest:encryption-data" in man and 'full-path="content.xml"' in man
    import xml.etree.ElementTree as ET
    ET.fromstring(man)
    try:
        ET.fromstring(zf.read("content.xml"))
        raise AssertionError("content.xml parses")
    except ET.ParseError:
        pass
    return "mimetype first and stored; manifest marks content.xml encrypted; content.xml is noise"


def check_encrypted_pdf(path: str) -> str:
    raw = open(path, "rb").read()
    assert b"/Encrypt" in raw and CARD.encode() not in raw
    if not have("pypdf"):
        return "has /Encrypt, card not in the raw bytes (pypdf not installed: no decrypt check)"
    import pypdf
    reader = pypdf.PdfReader(path)
    assert reader.is_encrypted
    try:
        reader.pages[0].extract_text()
        raise AssertionError("text extracted without a password")
    except Exception as e:  # pypdf.errors.FileNotDecryptedError
        assert "decrypt" in type(e).__name__.lower() + str(e).lower(), e
    assert reader.decrypt("userpw")
    text = reader.pages[0].extract_text()
    assert CARD in text and EMAIL in text
    return ("/Encrypt (%s); pypdf cannot read it without the password, with 'userpw' the page "
            "holds the card" % reader.trailer["/Encrypt"].get_object().get("/Filter"))


def check_corrupt_zip(path: str) -> str:
    zf = zipfile.ZipFile(path)
    assert zf.namelist() == ["a.txt", "b.txt", "c.txt"]
    assert EMAIL.encode() in zf.read("a.txt") and EMAIL2.encode() in zf.read("c.txt")
    try:
        zf.read("b.txt")
        raise AssertionError("b.txt read")
    except (zlib.error, zipfile.BadZipFile) as e:
        err = "%s: %s" % (type(e).__name__, e)
    return "a.txt and c.txt read (one email each); b.txt fails (%s)" % err


def _pdf_xref_ok(raw: bytes) -> int:
    """Checks every in-use xref entry points at 'N 0 obj'; returns the startxref value."""
    import re
    start = int(re.search(rb"startxref\s+(\d+)", raw).group(1))
    assert raw[start:start + 4] == b"xref"
    m = re.match(rb"xref\s+0 (\d+)\s+", raw[start:])
    pos = start + m.end()
    for num in range(int(m.group(1))):
        entry = raw[pos + 20 * num: pos + 20 * num + 20]
        if entry[17:18] == b"n":
            off = int(entry[:10])
            assert raw[off:].startswith(b"%d 0 obj" % num), num
    return start


def _pypdf_probe(path: str, seconds: float = 20) -> str:
    """What pypdf does with the file, in a child process with a time limit."""
    if not have("pypdf"):
        return "pypdf not installed"
    import subprocess
    code = ("import pypdf,sys; r=pypdf.PdfReader(sys.argv[1]); "
            "print('pages=%d text=%r' % (len(r.pages), r.pages[0].extract_text()[:40]))")
    try:
        p = subprocess.run([sys.executable, "-c", code, path], capture_output=True, text=True,
                           timeout=seconds)
    except subprocess.TimeoutExpired:
        return "pypdf did not finish in %gs" % seconds
    if p.returncode == 0:
        return "pypdf: " + p.stdout.strip()
    return "pypdf fails: " + (p.stderr.strip().splitlines() or ["?"])[-1][:100]


def check_loop_kids_pdf(path: str) -> str:
    raw = open(path, "rb").read()
    _pdf_xref_ok(raw)
    assert b"4 0 obj\n<< /Type /Pages /Parent 2 0 R /Kids [2 0 R 4 0 R]" in raw
    return "xref valid; Pages 4 has /Kids [2 0 R 4 0 R] (cycle); %s" % _pypdf_probe(path)


def check_loop_prev_pdf(path: str) -> str:
    raw = open(path, "rb").read()
    start = _pdf_xref_ok(raw)
    assert b"/Prev %d " % start in raw
    return "xref valid; trailer /Prev %d == startxref (self loop); %s" % (
        start, _pypdf_probe(path))


def check_huge_ops_pdf(path: str) -> str:
    import re
    raw = open(path, "rb").read()
    _pdf_xref_ok(raw)
    m = re.search(rb"/Length (\d+) /Filter /FlateDecode >>\nstream\n", raw)
    content = zlib.decompress(raw[m.end():m.end() + int(m.group(1))])
    ops = content.count(b" m\n")
    assert len(content) >= HUGE_OPS_BYTES - 10 and ops > 8_000_000
    assert content.startswith(PDF_TEXT)
    return "content stream inflates to %d bytes: the card text, then %d moveto operators" % (
        len(content), ops)


CHECKS = {
    "overlap.zip": check_overlap,
    "overlap-quoted.zip": check_overlap_quoted,
    "nested10.zip": check_nested10,
    "nested10-bomb.zip": check_nested10_bomb,
    "quine.gz": check_quine_gz,
    "droste.zip": check_droste_zip,
    "ratio.gz": check_ratio_gz,
    "truncated.gz": check_truncated_gz,
    "deep.json": check_deep_json,
    "deep.xml": check_deep_xml,
    "encrypted.zip": check_encrypted_zip,
    "encrypted.docx": check_encrypted_docx,
    "encrypted.odt": check_encrypted_odt,
    "encrypted.pdf": check_encrypted_pdf,
    "corrupt.zip": check_corrupt_zip,
    "loop-kids.pdf": check_loop_kids_pdf,
    "loop-prev.pdf": check_loop_prev_pdf,
    "huge-ops.pdf": check_huge_ops_pdf,
}


def verify(outdir: str) -> int:
    """Run every check on the files present in outdir; prints one line each, returns 1 on any
    failure (a missing optional file is reported, not failed)."""
    failed = 0
    for name, check in CHECKS.items():
        path = os.path.join(outdir, name)
        if not os.path.exists(path):
            print("MISSING %s" % name)
            continue
        size = os.path.getsize(path)
        try:
            assert size <= MAX_FILE, "%d bytes" % size
            print("ok      %-19s %9d  %s" % (name, size, check(path)))
        except Exception as e:  # report and go on
            failed = 1
            print("FAILED  %-19s %9d  %s: %s" % (name, size, type(e).__name__, e))
    return failed


def gen_encrypted_7z(path: str) -> None:
    """A 7z with an AES-encrypted member and encrypted headers (py7zr, password 'password')."""
    import py7zr
    with py7zr.SevenZipFile(path, "w", password="password", header_encryption=True) as z:
        z.writestr(b"card 4556737586899855\n", "secret.txt")


def check_encrypted_7z(path: str) -> str:
    import py7zr
    with py7zr.SevenZipFile(path, "r", password="password") as z:
        names = z.getnames()
    assert names == ["secret.txt"], names
    return "header-encrypted; opens with the password"


CHECKS["encrypted.7z"] = check_encrypted_7z


# ----------------------------------------------------------------------------------------------
# Driver
# ----------------------------------------------------------------------------------------------

def generators():
    """(file name, writer(path), optional module needed) in output order."""
    kernel = []

    def k():  # the overlap kernel is shared by both overlap bombs; build it once
        if not kernel:
            kernel.append(overlap_kernel())
        return kernel[0]

    return [
        ("overlap.zip", lambda p: gen_overlap(p, k()), None),
        ("overlap-quoted.zip", lambda p: gen_overlap_quoted(p, k()), None),
        ("nested10.zip", gen_nested10, None),
        ("nested10-bomb.zip", gen_nested10_bomb, None),
        ("quine.gz", gen_quine_gz, None),
        ("droste.zip", gen_droste_zip, None),
        ("ratio.gz", gen_ratio_gz, None),
        ("truncated.gz", gen_truncated_gz, None),
        ("deep.json", gen_deep_json, None),
        ("deep.xml", gen_deep_xml, None),
        ("encrypted.zip", gen_encrypted_zip, None),
        ("encrypted.docx", gen_encrypted_docx, "msoffcrypto"),
        ("encrypted.odt", gen_encrypted_odt, None),
        ("encrypted.pdf", gen_encrypted_pdf, "reportlab"),
        ("corrupt.zip", gen_corrupt_zip, None),
        ("loop-kids.pdf", gen_loop_kids_pdf, None),
        ("loop-prev.pdf", gen_loop_prev_pdf, None),
        ("huge-ops.pdf", gen_huge_ops_pdf, None),
        ("encrypted.7z", gen_encrypted_7z, "py7zr"),
    ]


def have(module: str | None) -> bool:
    if module is None:
        return True
    try:
        __import__(module)
        return True
    except ImportError:
        return False


def generate(outdir: str) -> list[str]:
    """Write every file whose writer is available into outdir; returns the names written."""
    os.makedirs(outdir, exist_ok=True)
    written = []
    for name, writer, module in generators():
        if not have(module):
            print("skipped %s: pip install %s" % (name, {"msoffcrypto": "msoffcrypto-tool"}
                                                 .get(module, module)), file=sys.stderr)
            continue
        path = os.path.join(outdir, name)
        writer(path)
        written.append(name)
        print("%-20s %10d bytes" % (name, os.path.getsize(path)))
    return written


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("outdir", nargs="?", help="directory to write the hostile files into")
    ap.add_argument("--verify", action="store_true", help="check every file after writing")
    ap.add_argument("--verify-only", action="store_true", help="check OUTDIR without writing")
    ap.add_argument("--sparse", metavar="PATH", help="create a 4 GiB sparse file at PATH")
    args = ap.parse_args(argv)
    if not args.outdir and not args.sparse:
        ap.error("give OUTDIR and/or --sparse PATH")
    if args.sparse:
        make_sparse(args.sparse)
        print("%s: %d bytes (sparse)" % (args.sparse, os.path.getsize(args.sparse)))
    if args.outdir:
        if not args.verify_only:
            generate(args.outdir)
        if args.verify or args.verify_only:
            return verify(args.outdir)
    return 0


if __name__ == "__main__":
    sys.exit(main())
