"""The synthetic county-lines data set of the demo, generated deterministically from published aggregate facts.

Real line intelligence is never public. What is public (West Mercia PCC serious-violence reports, Herefordshire
CSP minutes; see ../shared/seeds): 76 county lines active in West Mercia, over 95 % of them from the West
Midlands force area and the rest from Merseyside and the Metropolitan Police; knife-crime hot spots in
Telford, Worcester and Redditch; dealers arriving by rail. This module invents lines that match those totals
and nothing else: names, dates, wards, addresses and stations are made up from a seeded generator
(``numpy.random.default_rng(seed)``), and every record and output carries ``synthetic=true``.

Used only by ``crimemap demo``, which loads it into the demo's own store.
"""

from __future__ import annotations

import datetime as dt
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd

from boundaries.lookups import ward_to_lad
from data.countylines import HEADERS, CountyLines, load_records
from data.store import Store

#: the published split: 76 lines, > 95 % West Midlands (E23000014), the rest Merseyside and Metropolitan
DEFAULT_SPLIT = {"E23000014": 73, "E23000004": 2, "E23000001": 1}
DEFAULT_SEED = 2019
#: origin areas (LADs) per origin force, with weights
ORIGIN_AREAS = {
    "E23000014": {"E08000025": 0.55, "E08000031": 0.12, "E08000028": 0.10, "E08000030": 0.08,
                  "E08000027": 0.07, "E08000026": 0.05, "E08000029": 0.03},
    "E23000004": {"E08000012": 1.0},
    "E23000001": {"E09000030": 0.3, "E09000022": 0.25, "E09000012": 0.25, "E09000028": 0.2},
}
#: the terminus a line's runners leave from, per origin force
ORIGIN_STATIONS = {"E23000014": ["BHM", "WVH", "BHM", "COV"], "E23000004": ["LIV"], "E23000001": ["EUS"]}
#: destination towns: (LAD, wards of the town (None = every ward of the LAD but the ones excluded), weight,
#: stations near the town)
TOWNS = {
    "Telford": ("E06000020", {"exclude": ["Newport North & West", "Newport South & East", "Edgmond & Ercall Magna",
                                          "Church Aston & Lilleshall", "Wrockwardine"]}, 0.22, ["TFC", "OKN", "WLN"]),
    "Worcester": ("E07000237", {"exclude": []}, 0.18, ["WOF", "WOS"]),
    "Redditch": ("E07000236", {"exclude": ["Astwood Bank and Feckenham"]}, 0.16, ["RDC"]),
    "Hereford": ("E06000019", {"only": ["Aylestone Hill", "Central", "Widemarsh", "Tupsley", "Newton Farm",
                                        "Hinton & Hunderton", "Bobblestock", "Greyfriars", "Whitecross", "Eign Hill",
                                        "College", "Kings Acre", "Red Hill", "Saxon Gate"]}, 0.13, ["HFD"]),
    "Shrewsbury": ("E06000051", {"only": ["Abbey", "Bagley", "Battlefield", "Belle Vue",
                                          "Castlefields and Ditherington", "Copthorne", "Harlescott", "Meole",
                                          "Monkmoor", "Porthill", "Quarry and Coton Hill", "Radbrook", "Sundorne",
                                          "Underdale"]}, 0.13, ["SHR"]),
    "Kidderminster": ("E07000239", {"only": ["Aggborough & Spennells", "Blakebrook & Habberley South",
                                             "Broadwaters", "Foley Park & Hoobrook", "Franche & Habberley North",
                                             "Offmore & Comberton"]}, 0.10, ["KID"]),
    "Malvern": ("E07000235", {"exclude": []}, 0.03, ["GMV"]),
    "Evesham and Droitwich": ("E07000238", {"exclude": []}, 0.03, ["EVE", "DTW"]),
    "Bromsgrove": ("E07000234", {"exclude": []}, 0.02, ["BMV"]),
}
_BRANDS = ["Ace", "Benz", "Blade", "Bobby", "Boss", "Bravo", "Chase", "Dolla", "Drako", "Eddie", "Flash", "Frosty",
           "Ghost", "Gucci", "Jay", "Jet", "Jimmy", "Kenny", "King", "Kash", "Lucky", "Max", "Milo", "Nines",
           "Pablo", "Pepsi", "Rambo", "Ricky", "Rolex", "Sammy", "Scar", "Shadow", "Silk", "Smokey", "Snoopy",
           "Sonic", "Spider", "Stallion", "Tank", "Tiny", "Tommy", "Turbo", "Vinnie", "Viper", "Zac", "Zeus"]
_START, _END = dt.date(2016, 9, 1), dt.date(2018, 12, 31)
_LAST_SEEN = (dt.date(2019, 1, 1), dt.date(2019, 1, 31))


def _town_wards() -> dict[str, list[str]]:
    w = ward_to_lad(2019)
    out = {}
    for town, (lad, sel, _, _) in TOWNS.items():
        wards = w[w["lad"] == lad]
        if "only" in sel:
            wards = wards[wards["ward_name"].isin(sel["only"])]
        else:
            wards = wards[~wards["ward_name"].isin(sel["exclude"])]
        out[town] = sorted(wards["ward"])
    return out


def _day(rng: np.random.Generator, start: dt.date, end: dt.date) -> dt.date:
    return start + dt.timedelta(days=int(rng.integers(0, max((end - start).days, 0) + 1)))


def generate_demo_lines(seed: int = DEFAULT_SEED, split: dict[str, int] | None = None) -> dict[str, pd.DataFrame]:
    """The synthetic records as four frames shaped like lines.csv, destinations.csv, links.csv, stations.csv.

    Deterministic: the same seed gives the same records. ``split`` maps origin force code → number of lines
    (default: 73 West Midlands, 2 Merseyside, 1 Metropolitan = 76 lines, 96 % West Midlands).
    """
    split = dict(DEFAULT_SPLIT if split is None else split)
    rng = np.random.default_rng(seed)
    wards = _town_wards()
    towns = list(TOWNS)
    weights = np.array([TOWNS[t][2] for t in towns])
    weights = weights / weights.sum()
    # each town has a few wards where most lines end up (where the cuckooed addresses cluster)
    hot = {t: sorted(rng.choice(wards[t], size=min(3, len(wards[t])), replace=False)) for t in towns}
    forces = [f for f, n in split.items() for _ in range(n)]
    forces = [forces[i] for i in rng.permutation(len(forces))]
    brands = list(rng.permutation(_BRANDS))
    lines, dests, stations = [], [], []
    for i, force_code in enumerate(forces):
        lid = f"SYN{i + 1:03d}"
        brand = brands[i % len(brands)] + ("" if i < len(brands) else f" {i // len(brands) + 1}")
        areas = ORIGIN_AREAS[force_code]
        origin_area = str(rng.choice(list(areas), p=np.array(list(areas.values())) / sum(areas.values())))
        first = _day(rng, _START, _END)
        last = max(_day(rng, *_LAST_SEEN), first)
        lines.append(dict(line_id=lid, name=f"{brand} line", origin_force=force_code, origin_area=origin_area,
                          first_seen=first.isoformat(), last_seen=last.isoformat(), status="active", synthetic=True))
        home = towns[int(rng.choice(len(towns), p=weights))]
        n_dest = 1 + min(int(rng.poisson(1.0)), 3)
        chosen: list[tuple[str, str]] = []
        for k in range(n_dest):
            town = home if k == 0 or rng.random() < 0.7 else towns[int(rng.choice(len(towns), p=weights))]
            pool = hot[town] if rng.random() < 0.75 else wards[town]
            ward = str(rng.choice(pool))
            if (town, ward) in chosen:
                continue
            chosen.append((town, ward))
            d_first = min(first + dt.timedelta(days=int(rng.integers(0, 120))), last)
            dests.append(dict(line_id=lid, area_code=ward, cuckooed_addresses=int(rng.poisson(1.2)),
                              first_seen=d_first.isoformat(), last_seen=last.isoformat(), synthetic=True))
        used = []
        for town in dict.fromkeys(t for t, _ in chosen):
            used.append(str(rng.choice(TOWNS[town][3])))
        if rng.random() < 0.5:
            used.append(str(rng.choice(ORIGIN_STATIONS[force_code])))
        for crs in dict.fromkeys(used):
            stations.append(dict(line_id=lid, crs_code=crs, synthetic=True))
    frames = {
        "lines": pd.DataFrame(lines, columns=HEADERS["lines"] + ["synthetic"]),
        "destinations": pd.DataFrame(dests, columns=HEADERS["destinations"] + ["synthetic"]),
        "links": pd.DataFrame(columns=HEADERS["links"] + ["synthetic"]),
        "stations": pd.DataFrame(stations, columns=HEADERS["stations"] + ["synthetic"]),
    }
    return frames


def write_demo_lines(directory: str | Path, seed: int = DEFAULT_SEED,
                     split: dict[str, int] | None = None) -> list[Path]:
    """Write the synthetic records as lines.csv, destinations.csv, links.csv, stations.csv; return the paths."""
    d = Path(directory)
    d.mkdir(parents=True, exist_ok=True)
    paths = []
    for kind, frame in generate_demo_lines(seed, split).items():
        p = d / f"{kind}.csv"
        frame.to_csv(p, index=False)
        paths.append(p)
    return paths


def load_demo_lines(store: Store, seed: int = DEFAULT_SEED, split: dict[str, int] | None = None) -> CountyLines:
    """Generate the synthetic records and load them into ``store`` through the same validation as user files.

    Only ever call this with the demo's own store.
    """
    with tempfile.TemporaryDirectory(prefix="crimemap-demo-lines-") as tmp:
        recs = load_records(store, write_demo_lines(tmp, seed, split))
    if len(recs.rejects):
        raise RuntimeError(f"the synthetic county lines failed their own validation: {recs.rejects.iloc[0].to_dict()}")
    return recs
