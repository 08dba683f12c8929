"""What an IP address says about where a request came from: the country, the network
(ASN) and the kind of network, looked up in a table of address blocks (CIDR).

kabuguard calls no GeoIP service. It ships a small sample table on the address blocks
reserved for documentation (RFC 5737, RFC 3849; AS numbers of RFC 5398), so the demo
and the tests have something to show; a firm sets ``KABUGUARD_IP_RANGES`` to its own
export of the same columns (``cidr,country,asn,kind``) from its GeoIP/ASN provider.
Loopback and private addresses are ``local``. The login notice shows the country, and
the risk engine reads the same answer (EVENTS.md ``ip_country``, ``ip_asn``,
``ip_kind``).

>>> ranges = IpRanges.packaged()
>>> ranges.lookup("192.0.2.10")
NetInfo(country='JP', asn=64500, kind='residential')
>>> ranges.lookup("127.0.0.1"), ranges.lookup("10.1.2.3").kind
(NetInfo(country=None, asn=None, kind='local'), 'local')
>>> ranges.lookup("not an address")
NetInfo(country=None, asn=None, kind=None)
"""

from __future__ import annotations

import csv
import io
import ipaddress
from collections.abc import Iterable
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

KINDS = frozenset({"residential", "mobile", "hosting", "vpn", "tor", "local"})
COLUMNS = ("cidr", "country", "asn", "kind")


@dataclass(frozen=True, slots=True)
class NetInfo:
    """``country``: ISO 3166 alpha-2; ``asn``: the origin AS; ``kind``: one of KINDS.
    Each is None when the table does not know it (a local address has no country)."""

    country: str | None
    asn: int | None
    kind: str | None


UNKNOWN = NetInfo(None, None, None)
LOCAL = NetInfo(None, None, "local")
Network = ipaddress.IPv4Network | ipaddress.IPv6Network


class IpRanges:
    """Longest-prefix match over a table of CIDR blocks.

    The blocks are kept in one dictionary per prefix length, so a lookup costs one
    dictionary probe per distinct prefix length (at most 33 for IPv4, 129 for IPv6)
    whatever the size of a firm's table.

    >>> r = IpRanges([("198.51.100.0/24", NetInfo("US", 64502, "hosting")),
    ...               ("198.51.100.128/25", NetInfo("SG", 64503, "vpn"))])
    >>> r.lookup("198.51.100.1").country, r.lookup("198.51.100.200").country
    ('US', 'SG')
    >>> len(r)
    2
    """

    def __init__(self, rows: Iterable[tuple[str | Network, NetInfo]]) -> None:
        self._tables: dict[int, dict[int, dict[int, NetInfo]]] = {4: {}, 6: {}}
        self._size = 0
        for cidr, info in rows:
            net = cidr if not isinstance(cidr, str) else ipaddress.ip_network(cidr, strict=False)
            by_length = self._tables[net.version].setdefault(net.prefixlen, {})
            by_length[int(net.network_address)] = info
            self._size += 1
        # Longest prefix first.
        self._lengths = {v: sorted(t, reverse=True) for v, t in self._tables.items()}

    def __len__(self) -> int:
        return self._size

    @classmethod
    def from_csv_text(cls, text: str, *, source: str = "ip ranges") -> IpRanges:
        """Parse ``cidr,country,asn,kind`` lines (a header line and ``#`` comments are
        skipped; empty country, asn or kind mean unknown). Raises ValueError naming the
        line of the first bad row.

        >>> IpRanges.from_csv_text("cidr,country,asn,kind\\n192.0.2.0/24,JP,,mobile\\n"
        ...                        ).lookup("192.0.2.9")
        NetInfo(country='JP', asn=None, kind='mobile')
        >>> IpRanges.from_csv_text("192.0.2.0/24,Japan,1,mobile", source="x.csv")
        Traceback (most recent call last):
        ...
        ValueError: x.csv line 1: country must be an ISO 3166 alpha-2 code such as JP
        """
        rows = []
        for number, line in enumerate(text.splitlines(), 1):
            stripped = line.strip()
            if not stripped or stripped.startswith("#"):
                continue
            fields = [f.strip() for f in next(csv.reader(io.StringIO(stripped)))]
            if tuple(f.lower() for f in fields) == COLUMNS:
                continue
            try:
                rows.append(_parse_row(fields))
            except ValueError as exc:
                msg = f"{source} line {number}: {exc}"
                raise ValueError(msg) from None
        return cls(rows)

    @classmethod
    def from_csv(cls, path: Path) -> IpRanges:
        return cls.from_csv_text(path.read_text(encoding="utf-8"), source=str(path))

    @classmethod
    def packaged(cls) -> IpRanges:
        """The sample table shipped with kabuguard (documentation address blocks)."""
        text = resources.files("kabuguard.domain").joinpath("data/ip_ranges.csv").read_text(
            encoding="utf-8")
        return cls.from_csv_text(text, source="ip_ranges.csv")

    def lookup(self, ip: str | None) -> NetInfo:
        """The table's answer for ``ip``; loopback, link-local and private addresses
        not in the table are ``local``; anything else unknown is UNKNOWN.

        >>> r = IpRanges.packaged()
        >>> r.lookup("2001:db8::1").country, r.lookup("::ffff:192.0.2.200").kind
        ('JP', 'mobile')
        >>> r.lookup("::1").kind, r.lookup("8.8.8.8")
        ('local', NetInfo(country=None, asn=None, kind=None))
        """
        try:
            address = ipaddress.ip_address((ip or "").strip())
        except ValueError:
            return UNKNOWN
        if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
            address = address.ipv4_mapped
        value, bits = int(address), address.max_prefixlen
        tables = self._tables[address.version]
        for length in self._lengths[address.version]:
            network = (value >> (bits - length)) << (bits - length) if length else 0
            found = tables[length].get(network)
            if found is not None:
                return found
        if address.is_loopback or address.is_private or address.is_link_local:
            return LOCAL
        return UNKNOWN


def _parse_row(fields: list[str]) -> tuple[Network, NetInfo]:
    if len(fields) != len(COLUMNS):
        msg = "expected 4 columns: cidr,country,asn,kind"
        raise ValueError(msg)
    cidr, country, asn, kind = fields
    try:
        net = ipaddress.ip_network(cidr, strict=False)
    except ValueError:
        msg = f"not a CIDR block: {cidr[:60]!r}"
        raise ValueError(msg) from None
    country = country.upper()
    if country and not (len(country) == 2 and country.isascii() and country.isalpha()):
        msg = "country must be an ISO 3166 alpha-2 code such as JP"
        raise ValueError(msg)
    if asn and not (asn.isdigit() and int(asn) < 2**32):
        msg = "asn must be a whole number"
        raise ValueError(msg)
    kind = kind.lower()
    if kind and kind not in KINDS:
        msg = f"kind must be one of {', '.join(sorted(KINDS))}"
        raise ValueError(msg)
    return net, NetInfo(country or None, int(asn) if asn else None, kind or None)
