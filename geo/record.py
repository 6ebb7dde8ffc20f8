"""The canonical offence record: its columns, the police.uk crime types, months and levels.

Every reader in ``data/`` produces these columns; every computation in ``geo/`` consumes them.
"""

from __future__ import annotations

import datetime  # noqa: F401  (doctests)
import datetime as dt
import re

from geo.errors import InputError

#: Columns of the canonical offence record, in order (plus ``geometry``).
COLUMNS = [
    "offence_id",
    "month",
    "force",
    "pfa_code",
    "crime_type",
    "crime_type_source",
    "lsoa11",
    "location",
    "outcome",
]

#: police.uk's 14 current crime categories.
CRIME_TYPES = (
    "Anti-social behaviour",
    "Bicycle theft",
    "Burglary",
    "Criminal damage and arson",
    "Drugs",
    "Other crime",
    "Other theft",
    "Possession of weapons",
    "Public order",
    "Robbery",
    "Shoplifting",
    "Theft from the person",
    "Vehicle crime",
    "Violence and sexual offences",
)
ASB = "Anti-social behaviour"
#: "All crime" is every type but anti-social behaviour (DESIGN.md).
ALL_CRIME = "All crime (excl. ASB)"
ALL_CRIME_TYPES = tuple(t for t in CRIME_TYPES if t != ASB)
KNIFE_CRIME_NOTE = (
    "police.uk has no 'knife crime' category: the nearest are Possession of weapons and Violence and sexual offences."
)

#: Polygon levels, in nesting order from fine to coarse, and the H3 levels.
POLYGON_LEVELS = ("parish", "ward", "lsoa", "lad", "csp", "pfa")
H3_LEVELS = ("h3:7", "h3:8", "h3:9", "h3:10")
LEVELS = POLYGON_LEVELS + H3_LEVELS
#: Levels the parish / public audience may see.
PUBLIC_LEVELS = ("parish", "ward", "lsoa", "lad", "csp", "pfa", "h3:7", "h3:8")

_MONTH = re.compile(r"^(\d{4})-(\d{2})$")


def parse_month(text: str, *, param: str = "months") -> dt.date:
    """Parse ``YYYY-MM`` into the first day of that month.

    Examples
    --------
    >>> parse_month("2019-01")
    datetime.date(2019, 1, 1)
    """
    m = _MONTH.match(str(text).strip())
    if not m or not 1 <= int(m.group(2)) <= 12:
        raise InputError(f"month {text!r} is not a month; expected YYYY-MM (e.g. 2019-01)", param=param)
    return dt.date(int(m.group(1)), int(m.group(2)), 1)


def parse_months(text: str | None, *, param: str = "months") -> tuple[dt.date, dt.date] | None:
    """Parse ``YYYY-MM`` or ``YYYY-MM..YYYY-MM`` (both ends included) into a (first, last) pair.

    Examples
    --------
    >>> parse_months("2018-10..2019-01")
    (datetime.date(2018, 10, 1), datetime.date(2019, 1, 1))
    >>> parse_months("2019-01")
    (datetime.date(2019, 1, 1), datetime.date(2019, 1, 1))
    >>> parse_months(None) is None
    True
    """
    if text is None or str(text).strip() == "":
        return None
    parts = str(text).split("..")
    if len(parts) > 2:
        raise InputError(f"months {text!r} is not a month range; expected YYYY-MM or YYYY-MM..YYYY-MM", param=param)
    first = parse_month(parts[0], param=param)
    last = parse_month(parts[-1], param=param)
    if last < first:
        raise InputError(f"months {text!r} ends before it starts; expected YYYY-MM..YYYY-MM, earliest first",
                         param=param)
    return first, last


def month_label(d) -> str:
    """Format a month as ``YYYY-MM``.

    Examples
    --------
    >>> month_label(datetime.date(2019, 1, 1))
    '2019-01'
    """
    return f"{d.year:04d}-{d.month:02d}"


def parse_level(text: str, *, allowed: tuple[str, ...] = LEVELS, param: str = "level") -> str:
    """Check a level name (``parish``, ``ward``, ``lsoa``, ``lad``, ``csp``, ``pfa``, ``h3:7`` … ``h3:10``).

    Examples
    --------
    >>> parse_level("h3:9")
    'h3:9'
    >>> parse_level("county")
    Traceback (most recent call last):
    ...
    geo.errors.InputError: level 'county' is not one of parish, ward, lsoa, lad, csp, pfa, h3:7, h3:8, h3:9, h3:10
    """
    t = str(text).strip().lower()
    if t not in allowed:
        shown = str(text)[:40]
        raise InputError(f"level {shown!r} is not one of {', '.join(allowed)}", param=param)
    return t


def h3_resolution(level: str) -> int | None:
    """Return the H3 resolution of an ``h3:N`` level, or None for a polygon level.

    Examples
    --------
    >>> h3_resolution("h3:8"), h3_resolution("ward")
    (8, None)
    """
    return int(level.split(":")[1]) if level.startswith("h3:") else None


def parse_crime_types(types: list[str] | None, *, param: str = "crime_type") -> tuple[str, ...]:
    """Resolve crime-type names (case-insensitive; ``all`` = all crime excluding ASB) to police.uk categories.

    Examples
    --------
    >>> parse_crime_types(["drugs", "Possession of weapons"])
    ('Drugs', 'Possession of weapons')
    >>> len(parse_crime_types(None))
    13
    """
    if not types:
        return ALL_CRIME_TYPES
    lookup = {t.lower(): t for t in CRIME_TYPES}
    out: list[str] = []
    for t in types:
        key = str(t).strip().lower()
        if key in ("all", "all crime", ALL_CRIME.lower()):
            out.extend(ALL_CRIME_TYPES)
        elif key in lookup:
            out.append(lookup[key])
        elif key in ("knife crime", "knife"):
            raise InputError(f"crime type {t!r} does not exist in police.uk data. {KNIFE_CRIME_NOTE}", param=param)
        else:
            raise InputError(
                f"crime type {str(t)[:60]!r} is not a police.uk category; expected one of "
                f"{', '.join(CRIME_TYPES)} or 'all'",
                param=param,
            )
    return tuple(dict.fromkeys(out))


def crime_types_label(types: tuple[str, ...]) -> str:
    """Name a selection of crime types the way outputs state it.

    Examples
    --------
    >>> crime_types_label(ALL_CRIME_TYPES)
    'All crime (excl. ASB)'
    >>> crime_types_label(("Drugs",))
    'Drugs'
    """
    if set(types) == set(ALL_CRIME_TYPES):
        return ALL_CRIME
    if set(types) == set(CRIME_TYPES):
        return "All crime and ASB"
    return "; ".join(types)
