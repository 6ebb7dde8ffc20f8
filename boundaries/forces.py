"""The force table: every police.uk force name and slug mapped to its force-area (PFA) GSS code.

police.uk names a force three ways: the archive slug (``west-mercia``), the "Reported by" / "Falls within"
name (``West Mercia Police``) and the ONS force-area name (``West Mercia``). All of them resolve here to one
:class:`Force`. British Transport Police polices the railway across Great Britain and has no force area;
Northern Ireland's PSNI has no E23/W15 code (ONS lists it under the pseudo code N99999999), so both carry
``pfa_code=None``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from geo.errors import InputError


@dataclass(frozen=True)
class Force:
    """One police force as police.uk publishes it."""

    slug: str
    name: str
    pfa_code: str | None
    pfa_name: str | None


# slug, police.uk "Falls within" name, PFA code (ONS PFA Dec 2019), PFA name
_TABLE = [
    ("avon-and-somerset", "Avon and Somerset Constabulary", "E23000036", "Avon and Somerset"),
    ("bedfordshire", "Bedfordshire Police", "E23000026", "Bedfordshire"),
    ("cambridgeshire", "Cambridgeshire Constabulary", "E23000023", "Cambridgeshire"),
    ("cheshire", "Cheshire Constabulary", "E23000006", "Cheshire"),
    ("city-of-london", "City of London Police", "E23000034", "City of London"),
    ("cleveland", "Cleveland Police", "E23000013", "Cleveland"),
    ("cumbria", "Cumbria Constabulary", "E23000002", "Cumbria"),
    ("derbyshire", "Derbyshire Constabulary", "E23000018", "Derbyshire"),
    ("devon-and-cornwall", "Devon & Cornwall Police", "E23000035", "Devon and Cornwall"),
    ("dorset", "Dorset Police", "E23000039", "Dorset"),
    ("durham", "Durham Constabulary", "E23000008", "Durham"),
    ("dyfed-powys", "Dyfed-Powys Police", "W15000004", "Dyfed-Powys"),
    ("essex", "Essex Police", "E23000028", "Essex"),
    ("gloucestershire", "Gloucestershire Constabulary", "E23000037", "Gloucestershire"),
    ("greater-manchester", "Greater Manchester Police", "E23000005", "Greater Manchester"),
    ("gwent", "Gwent Police", "W15000002", "Gwent"),
    ("hampshire", "Hampshire Constabulary", "E23000030", "Hampshire"),
    ("hertfordshire", "Hertfordshire Constabulary", "E23000027", "Hertfordshire"),
    ("humberside", "Humberside Police", "E23000012", "Humberside"),
    ("kent", "Kent Police", "E23000032", "Kent"),
    ("lancashire", "Lancashire Constabulary", "E23000003", "Lancashire"),
    ("leicestershire", "Leicestershire Police", "E23000021", "Leicestershire"),
    ("lincolnshire", "Lincolnshire Police", "E23000020", "Lincolnshire"),
    ("merseyside", "Merseyside Police", "E23000004", "Merseyside"),
    ("metropolitan", "Metropolitan Police Service", "E23000001", "Metropolitan Police"),
    ("norfolk", "Norfolk Constabulary", "E23000024", "Norfolk"),
    ("north-wales", "North Wales Police", "W15000001", "North Wales"),
    ("north-yorkshire", "North Yorkshire Police", "E23000009", "North Yorkshire"),
    ("northamptonshire", "Northamptonshire Police", "E23000022", "Northamptonshire"),
    ("northumbria", "Northumbria Police", "E23000007", "Northumbria"),
    ("nottinghamshire", "Nottinghamshire Police", "E23000019", "Nottinghamshire"),
    ("south-wales", "South Wales Police", "W15000003", "South Wales"),
    ("south-yorkshire", "South Yorkshire Police", "E23000011", "South Yorkshire"),
    ("staffordshire", "Staffordshire Police", "E23000015", "Staffordshire"),
    ("suffolk", "Suffolk Constabulary", "E23000025", "Suffolk"),
    ("surrey", "Surrey Police", "E23000031", "Surrey"),
    ("sussex", "Sussex Police", "E23000033", "Sussex"),
    ("thames-valley", "Thames Valley Police", "E23000029", "Thames Valley"),
    ("warwickshire", "Warwickshire Police", "E23000017", "Warwickshire"),
    ("west-mercia", "West Mercia Police", "E23000016", "West Mercia"),
    ("west-midlands", "West Midlands Police", "E23000014", "West Midlands"),
    ("west-yorkshire", "West Yorkshire Police", "E23000010", "West Yorkshire"),
    ("wiltshire", "Wiltshire Police", "E23000038", "Wiltshire"),
    ("btp", "British Transport Police", None, None),
    ("northern-ireland", "Police Service of Northern Ireland", None, None),
]

FORCES: tuple[Force, ...] = tuple(Force(*row) for row in _TABLE)

_EXTRA_ALIASES = {
    "metropolitan police": "metropolitan",
    "met": "metropolitan",
    "british transport": "btp",
    "psni": "northern-ireland",
    "northern ireland": "northern-ireland",
}


def _normalise(name: str) -> str:
    s = name.strip().lower().replace("&", " and ")
    s = re.sub(r"[^a-z0-9]+", " ", s)
    s = re.sub(r"\b(police|constabulary|service|of the|force)\b", " ", s)
    return " ".join(s.split())


def _index() -> dict[str, Force]:
    idx: dict[str, Force] = {}
    for f in FORCES:
        for key in (f.slug, f.name, f.pfa_name or "", f.pfa_code or "", f.slug.replace("-", " ")):
            if key:
                idx[key.lower()] = f
                idx[_normalise(key)] = f
    for alias, slug in _EXTRA_ALIASES.items():
        idx[alias] = idx[slug]
    return idx


_INDEX = _index()
_BY_PFA = {f.pfa_code: f for f in FORCES if f.pfa_code}


def find_force(name: str) -> Force | None:
    """Return the force a police.uk name, slug or PFA code refers to, or None.

    Examples
    --------
    >>> find_force("West Mercia Police").pfa_code
    'E23000016'
    >>> find_force("devon & cornwall police").slug
    'devon-and-cornwall'
    >>> find_force("E23000014").name
    'West Midlands Police'
    >>> find_force("British Transport Police").pfa_code is None
    True
    >>> find_force("Gotham City Police") is None
    True
    """
    if name is None:
        return None
    key = str(name).strip()
    return _INDEX.get(key.lower()) or _INDEX.get(_normalise(key))


def force(name: str) -> Force:
    """Like :func:`find_force` but raise :class:`InputError` for an unknown force.

    Examples
    --------
    >>> force("merseyside").name
    'Merseyside Police'
    """
    f = find_force(name)
    if f is None:
        raise InputError(
            f"force {name!r} is not in the force table; expected a police.uk force name, slug "
            f"(e.g. 'west-mercia') or PFA code (E23…/W15…)",
            param="force",
        )
    return f


def force_by_pfa(code: str) -> Force | None:
    """Return the force whose force area has GSS ``code`` (E23…/W15…).

    Examples
    --------
    >>> force_by_pfa("E23000004").slug
    'merseyside'
    """
    return _BY_PFA.get(code)
