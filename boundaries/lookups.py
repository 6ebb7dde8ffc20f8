"""ONS lookups shipped with the package: LSOA → ward → LAD → CSP → PFA, parish → ward, unparished areas,
Census 2021 population and the GB railway-station list.

The files in ``boundaries/lookups/`` are ONS / Census 2021 tables (Open Government Licence v3.0) and the
davwheat/uk-railway-stations list (ODbL); see ``boundaries/LICENCE-DATA.md``. Each function returns a clean
frame with lower-case, vintage-free column names and says which vintage it is.
"""

from __future__ import annotations

import functools
from importlib import resources

import geopandas as gpd
import pandas as pd

from geo.errors import InputError

#: Ward vintages whose chain to LAD, CSP and PFA ships with the package.
WARD_VINTAGES = (2018, 2019)


def _read(name: str, **kw) -> pd.DataFrame:
    path = resources.files("boundaries") / "lookups" / name
    with resources.as_file(path) as p:
        return pd.read_csv(p, dtype=str, encoding="utf-8-sig", keep_default_na=False, na_values=[""], **kw)


def _check_vintage(vintage: int) -> int:
    if int(vintage) not in WARD_VINTAGES:
        raise InputError(
            f"ward vintage {vintage} has no ward→LAD→CSP→PFA lookup in this package; expected one of "
            f"{', '.join(map(str, WARD_VINTAGES))} (load December 2018 or 2019 ward boundaries)",
            param="vintage",
        )
    return int(vintage)


@functools.lru_cache(maxsize=4)
def lsoa11_to_ward(vintage: int = 2019) -> pd.DataFrame:
    """Best-fit LSOA (2011) → ward → LAD of a vintage: columns ``lsoa11, ward, ward_name, lad, lad_name``.

    Examples
    --------
    >>> lsoa11_to_ward(2019).set_index("lsoa11").loc["E01028702", "lad"]
    'E07000180'
    """
    v = _check_vintage(vintage)
    yy = str(v)[2:]
    d = _read(f"lsoa11_to_ward{yy}_lad{yy}_ew.csv.gz")
    d = d.rename(columns={"LSOA11CD": "lsoa11", f"WD{yy}CD": "ward", f"WD{yy}NM": "ward_name",
                          f"LAD{yy}CD": "lad", f"LAD{yy}NM": "lad_name"})
    return d[["lsoa11", "ward", "ward_name", "lad", "lad_name"]].drop_duplicates("lsoa11").reset_index(drop=True)


@functools.lru_cache(maxsize=4)
def ward_to_lad(vintage: int = 2019) -> pd.DataFrame:
    """Ward → LAD of a vintage: columns ``ward, ward_name, lad, lad_name``.

    Examples
    --------
    >>> ward_to_lad(2019).set_index("ward").loc["E05008942", "lad"][:3]
    'E06'
    """
    v = _check_vintage(vintage)
    if v == 2019:
        d = _read("ward19_to_lad19_uk.csv.gz").rename(
            columns={"WD19CD": "ward", "WD19NM": "ward_name", "LAD19CD": "lad", "LAD19NM": "lad_name"})
    else:
        d = lsoa11_to_ward(v)
    return d[["ward", "ward_name", "lad", "lad_name"]].drop_duplicates("ward").reset_index(drop=True)


@functools.lru_cache(maxsize=4)
def lad_to_csp_pfa(vintage: int = 2019) -> pd.DataFrame:
    """LAD → community safety partnership → police force area: ``lad, lad_name, csp, csp_name, pfa, pfa_name``.

    Examples
    --------
    >>> t = lad_to_csp_pfa(2019).set_index("lad")
    >>> t.loc["E07000237", ["csp", "pfa"]].tolist()
    ['E22000332', 'E23000016']
    """
    v = _check_vintage(vintage)
    yy = str(v)[2:]
    d = _read(f"lad{yy}_to_csp{yy}_pfa{yy}_ew.csv.gz")
    d = d.rename(columns={f"LAD{yy}CD": "lad", f"LAD{yy}NM": "lad_name", f"CSP{yy}CD": "csp",
                          f"CSP{yy}NM": "csp_name", f"PFA{yy}CD": "pfa", f"PFA{yy}NM": "pfa_name"})
    return d[["lad", "lad_name", "csp", "csp_name", "pfa", "pfa_name"]].drop_duplicates("lad").reset_index(drop=True)


@functools.lru_cache(maxsize=1)
def unparished_areas() -> pd.DataFrame:
    """England's non-civil-parished areas (E43, 2019): ``ncp, ncp_name, lad, lad_name``, one per LAD at most.

    Examples
    --------
    >>> unparished_areas().set_index("lad").loc["E07000237", "ncp"]
    'E43000153'
    """
    d = _read("ncp19_unparished_areas_to_lad19_england.csv.gz")
    d = d.rename(columns={"NCP19CD": "ncp", "NCP19NM": "ncp_name", "LAD19CD": "lad", "LAD19NM": "lad_name"})
    return d[["ncp", "ncp_name", "lad", "lad_name"]].reset_index(drop=True)


@functools.lru_cache(maxsize=1)
def parish_to_ward() -> pd.DataFrame:
    """Parish (2019) → ward → LAD; a parish appears once per ward it overlaps: ``parish, parish_name, ward, lad``.

    Examples
    --------
    >>> bool(parish_to_ward()["parish"].str[:3].isin(["E04", "W04"]).all())
    True
    """
    d = _read("parish19_to_ward19_lad19_ew.csv.gz").rename(
        columns={"PAR19CD": "parish", "PAR19NM": "parish_name", "WD19CD": "ward", "WD19NM": "ward_name",
                 "LAD19CD": "lad", "LAD19NM": "lad_name"})
    return d[["parish", "parish_name", "ward", "ward_name", "lad", "lad_name"]]


@functools.lru_cache(maxsize=1)
def lsoa11_to_lsoa21() -> pd.DataFrame:
    """LSOA 2011 → 2021 with ONS change codes (U unchanged, S split, M merged, X complex).

    Examples
    --------
    >>> sorted(lsoa11_to_lsoa21()["change_code"].unique())
    ['M', 'S', 'U', 'X']
    """
    d = _read("lsoa11_to_lsoa21_lad22_ew.csv.gz").rename(columns={"lsoa11_code": "lsoa11", "lsoa21_code": "lsoa21"})
    return d[["lsoa11", "lsoa21", "change_code"]]


@functools.lru_cache(maxsize=1)
def population_lsoa21() -> pd.DataFrame:
    """Census 2021 usual residents by LSOA 2021: ``lsoa21, population``.

    Examples
    --------
    >>> int(population_lsoa21()["population"].sum())
    59597114
    """
    d = _read("census2021_lsoa21_usual_residents.csv.gz")
    return pd.DataFrame({"lsoa21": d["lsoa21_code"], "population": pd.to_numeric(d["total_usual_residents"])})


#: vintage label of the population denominators, shown in every output that has rates
POPULATION_VINTAGE = "Census 2021 usual residents (LSOA 2021)"


@functools.lru_cache(maxsize=1)
def area_names() -> dict[str, str]:
    """Names of every GSS code the shipped lookups know (LSOA11, ward 2018/19, parish, E43, LAD, CSP, PFA).

    Examples
    --------
    >>> area_names()["E23000016"]
    'West Mercia'
    """
    names: dict[str, str] = {}
    for v in WARD_VINTAGES:
        w = lsoa11_to_ward(v)
        names.update(zip(w["ward"], w["ward_name"], strict=True))
        names.update(zip(w["lad"], w["lad_name"], strict=True))
        c = lad_to_csp_pfa(v)
        for code, name in (("lad", "lad_name"), ("csp", "csp_name"), ("pfa", "pfa_name")):
            names.update(zip(c[code], c[name], strict=True))
    w = ward_to_lad(2019)
    names.update(zip(w["ward"], w["ward_name"], strict=True))
    p = parish_to_ward()
    names.update(zip(p["parish"], p["parish_name"], strict=True))
    u = unparished_areas()
    names.update(zip(u["ncp"], u["ncp_name"], strict=True))
    lsoa = _read("lsoa11_to_ward19_lad19_ew.csv.gz")
    names.update(zip(lsoa["LSOA11CD"], lsoa["LSOA11NM"], strict=True))
    return {k: v for k, v in names.items() if isinstance(k, str) and isinstance(v, str)}


def code_level(code: str) -> str | None:
    """The level a GSS code belongs to (``lsoa``, ``ward``, ``parish``, ``lad``, ``csp``, ``pfa``) or None.

    Examples
    --------
    >>> code_level("E22000332"), code_level("E06000020"), code_level("X99")
    ('csp', 'lad', None)
    """
    prefix = str(code)[:3]
    return {
        "E01": "lsoa", "W01": "lsoa", "E05": "ward", "W05": "ward", "E04": "parish", "W04": "parish",
        "E43": "parish", "E06": "lad", "E07": "lad", "E08": "lad", "E09": "lad", "W06": "lad",
        "E22": "csp", "W22": "csp", "E23": "pfa", "W15": "pfa",
    }.get(prefix)


def known_code(code: str) -> bool:
    """Whether a GSS code is in the shipped lookups.

    Examples
    --------
    >>> known_code("E06000020"), known_code("E06999999")
    (True, False)
    """
    return str(code) in area_names()


@functools.lru_cache(maxsize=1)
def rail_stations() -> gpd.GeoDataFrame:
    """GB National Rail stations (EPSG:4326): ``crs_code, name, geometry``. Licence: ODbL (see attribution).

    Examples
    --------
    >>> s = rail_stations().set_index("crs_code")
    >>> s.loc["SHR", "name"]
    'Shrewsbury'
    """
    d = _read("uk_railway_stations.csv.gz")
    return gpd.GeoDataFrame(
        {"crs_code": d["crsCode"], "name": d["stationName"]},
        geometry=gpd.points_from_xy(pd.to_numeric(d["long"]), pd.to_numeric(d["lat"])),
        crs="EPSG:4326",
    )
