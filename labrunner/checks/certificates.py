"""What an X.509 certificate says: its subject's CN and O values and its validity.

A small DER reader for the few fields the identity checks need, so labrunner
needs no crypto library. The layout is RFC 5280 section 4.1: Certificate ::=
SEQUENCE { tbsCertificate SEQUENCE { [0] version?, serialNumber, signature,
issuer Name, validity SEQUENCE { notBefore, notAfter }, subject Name, ... } }.
"""

from __future__ import annotations

import base64
import binascii
import re
from datetime import datetime, timedelta, timezone
from typing import NamedTuple

_CN = bytes([0x55, 0x04, 0x03])  # 2.5.4.3 commonName
_O = bytes([0x55, 0x04, 0x0A])  # 2.5.4.10 organizationName
_PEM = re.compile(rb"-----BEGIN CERTIFICATE-----(.+?)-----END CERTIFICATE-----", re.S)


class Certificate(NamedTuple):
    """The subject and validity of one certificate; times are timezone-aware UTC."""

    common_name: str
    organizations: tuple[str, ...]
    not_before: datetime
    not_after: datetime

    @property
    def lifetime(self) -> timedelta:
        return self.not_after - self.not_before


def parse_pem_certificate(pem: bytes) -> Certificate:
    """The first certificate in PEM text; ValueError when there is none or it is not X.509 DER."""
    found = _PEM.search(pem)
    if not found:
        raise ValueError("no PEM certificate (-----BEGIN CERTIFICATE-----) in it")
    try:
        der = base64.b64decode(b"".join(found.group(1).split()), validate=True)
    except (binascii.Error, ValueError):
        raise ValueError("the PEM certificate is not valid base64") from None
    return parse_der_certificate(der)


def parse_der_certificate(der: bytes) -> Certificate:
    """Subject CN/O and validity of a DER certificate; ValueError when it is malformed."""
    try:
        _, start, _ = _tlv(der, 0, 0x30)
        _, pos, end = _tlv(der, start, 0x30)  # tbsCertificate
        fields = []
        while pos < end:
            tag, body, pos = _tlv(der, pos)
            fields.append((tag, body, pos))
        if fields and fields[0][0] == 0xA0:  # explicit version
            fields = fields[1:]
        (_, validity, validity_end), (_, subject, subject_end) = fields[3], fields[4]
        _, _, after_first = _tlv(der, validity)
        not_before = _time(der, validity)
        not_after = _time(der, after_first)
        cn, orgs = _name(der, subject, subject_end)
    except (IndexError, ValueError) as exc:
        raise ValueError(f"not an X.509 certificate ({exc})") from None
    return Certificate(cn, tuple(orgs), not_before, not_after)


def _tlv(der: bytes, pos: int, want: int | None = None) -> tuple[int, int, int]:
    """(tag, start of contents, end of contents) of the element at `pos`."""
    tag = der[pos]
    if want is not None and tag != want:
        raise ValueError(f"expected tag {want:#x} at byte {pos}, found {tag:#x}")
    length = der[pos + 1]
    pos += 2
    if length & 0x80:
        count = length & 0x7F
        if not 0 < count <= 4:
            raise ValueError("bad length")
        length = int.from_bytes(der[pos:pos + count], "big")
        pos += count
    if pos + length > len(der):
        raise ValueError("truncated")
    return tag, pos, pos + length


def _time(der: bytes, pos: int) -> datetime:
    tag, start, end = _tlv(der, pos)
    text = der[start:end].decode("ascii")
    if tag == 0x17:  # UTCTime: YYMMDDHHMMSSZ, years 1950-2049 (RFC 5280 4.1.2.5.1)
        value = datetime.strptime(text, "%y%m%d%H%M%SZ")
    elif tag == 0x18:  # GeneralizedTime: YYYYMMDDHHMMSSZ
        value = datetime.strptime(text, "%Y%m%d%H%M%SZ")
    else:
        raise ValueError(f"expected a time, found tag {tag:#x}")
    return value.replace(tzinfo=timezone.utc)


def _name(der: bytes, pos: int, end: int) -> tuple[str, list[str]]:
    """The CN and every O of a Name (a SEQUENCE of SETs of (OID, value))."""
    cn, orgs = "", []
    while pos < end:
        _, attr, set_end = _tlv(der, pos, 0x31)
        pos = set_end
        while attr < set_end:  # a SET may hold several attributes (a multi-valued RDN)
            _, body, attr = _tlv(der, attr, 0x30)
            _, oid_start, oid_end = _tlv(der, body, 0x06)
            tag, value_start, value_end = _tlv(der, oid_end)
            raw = der[value_start:value_end]
            value = raw.decode("utf-16-be") if tag == 0x1E else raw.decode("utf-8", "replace")
            oid = der[oid_start:oid_end]
            if oid == _CN:
                cn = value
            elif oid == _O:
                orgs.append(value)
    return cn, orgs
