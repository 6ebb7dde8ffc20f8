"""Readers on the real police.uk files: every row accounted for, the canonical record, file-level faults."""

import gzip
import io
import zipfile

import pandas as pd
import pytest

from data.readers import LEGACY_HEADER, STREET_HEADER, expand_paths, read_crime_file
from geo.errors import InputError
from geo.record import COLUMNS, CRIME_TYPES

HEADER = ",".join(STREET_HEADER)


def _read(path):
    return read_crime_file(str(path), path.read_bytes())


def test_real_month_every_row_kept_with_canonical_columns(wm_month):
    r = _read(wm_month)
    raw = pd.read_csv(wm_month, encoding="utf-8-sig")
    assert r.rows == len(raw) == 10038
    assert len(r.offences) == len(raw) and len(r.rejects) == 0
    assert list(r.offences.columns[: len(COLUMNS)]) == COLUMNS
    assert r.offences.crs.to_epsg() == 4326
    # unlocated rows are kept, as unlocated
    assert int(r.offences.geometry.isna().sum()) == int(raw["Longitude"].isna().sum()) == 17
    assert set(r.offences["crime_type"].unique()) <= set(CRIME_TYPES)
    assert (r.offences["force"] == "west-mercia").all() and (r.offences["pfa_code"] == "E23000016").all()
    # ASB rows have no Crime ID: ids are sha256 of the row, distinct for identical rows
    asb = r.offences[r.offences["crime_type"] == "Anti-social behaviour"]
    assert len(asb) == int((raw["Crime type"] == "Anti-social behaviour").sum())
    assert asb["offence_id"].str.len().eq(64).all() and not asb["offence_id"].duplicated().any()


def test_identical_rows_are_separate_offences_and_ids_are_stable():
    row = ",2019-01,West Mercia Police,West Mercia Police,-2.45,52.68,On or near X,E01028702,n,Anti-social behaviour,,"
    text = "\n".join([HEADER, row, row, row]) + "\n"
    a = read_crime_file("a.csv", text.encode())
    b = read_crime_file("b.csv", text.encode())
    assert len(a.offences) == 3 and a.offences["offence_id"].nunique() == 3
    assert a.offences["offence_id"].tolist() == b.offences["offence_id"].tolist()


def test_row_faults_are_rejected_with_line_and_reason():
    good = "id1,2019-01,West Mercia Police,West Mercia Police,-2.45,52.68,On or near X,E01,n,Drugs,,"
    rows = [
        good,
        "id2,2019-1,West Mercia Police,West Mercia Police,-2.45,52.68,On or near X,E01,n,Drugs,,",
        "id3,2019-01,West Mercia Police,West Mercia Police,-2.45,52.68,On or near X,E01,n,Knife crime,,",
        "id4,2019-01,West Mercia Police,West Mercia Police,abc,52.68,On or near X,E01,n,Drugs,,",
        "id5,2019-01,West Mercia Police,West Mercia Police,-74.0,40.7,On or near X,E01,n,Drugs,,",
        "id6,2019-01,Gotham Police,Gotham Police,-2.45,52.68,On or near X,E01,n,Drugs,,",
        "id7,2019-01,West Mercia Police,West Mercia Police,,,No location,,,Drugs,,",
    ]
    r = read_crime_file("f.csv", ("\n".join([HEADER, *rows]) + "\n").encode())
    assert r.rows == 7 and len(r.offences) == 2 and len(r.rejects) == 5
    assert r.rejects["line"].tolist() == [3, 4, 5, 6, 7]
    reasons = " | ".join(r.rejects["reason"])
    for word in ("month", "crime type", "coordinates", "coordinates", "force"):
        assert word in reasons
    assert r.offences.geometry.isna().sum() == 1  # id7 is unlocated, not rejected


def test_legacy_2011_file_in_british_national_grid(shared_data):
    p = shared_data / "crime/legacy-format/2011-02-west-midlands-street.csv.gz"
    r = _read(p)
    assert r.fmt == "legacy-2011" and r.rows == 25558 and len(r.offences) + len(r.rejects) == 25558
    import pyproj

    raw = pd.read_csv(p)
    lon, lat = pyproj.Transformer.from_crs(27700, 4326, always_xy=True).transform(raw["Easting"][0], raw["Northing"][0])
    first = r.offences.geometry.iloc[0]
    assert abs(first.x - lon) < 1e-9 and abs(first.y - lat) < 1e-9  # spot-check against pyproj
    b = r.offences.total_bounds  # Birmingham / Black Country, in lon/lat after reprojection from EPSG:27700
    assert -2.3 < b[0] < b[2] < -1.4 and 52.3 < b[1] < b[3] < 52.7
    # "Violent crime" is not today's "Violence and sexual offences": kept, type null, source name kept
    vc = r.offences[r.offences["crime_type_source"] == "Violent crime"]
    assert len(vc) > 0 and vc["crime_type"].isna().all()
    assert (r.offences.loc[r.offences["crime_type_source"] == "Burglary", "crime_type"] == "Burglary").all()
    assert r.offences["offence_id"].nunique() == len(r.offences)


@pytest.mark.parametrize(
    "raw, words",
    [
        (b"", "empty"),
        (b"a,b,c\n1,2,3\n", "expected the 12-column"),
        (gzip.compress(HEADER.encode() + b"\n" * 50)[:-12], "gzip"),
        ((HEADER + "\n").encode("utf-16"), "UTF-8"),
        ((",".join(LEGACY_HEADER[:5]) + "\n").encode(), "8-column 2011"),
    ],
)
def test_file_level_faults_raise_one_line(raw, words):
    with pytest.raises(InputError) as e:
        read_crime_file("bad.csv", raw)
    assert words in str(e.value) and "\n" not in str(e.value)


def test_archive_zip_reads_street_members_and_reports_others(tmp_path, wm_month):
    z = tmp_path / "archive.zip"
    with zipfile.ZipFile(z, "w") as zf:
        zf.writestr("2019-01/2019-01-west-mercia-street.csv", gzip.decompress(wm_month.read_bytes()))
        zf.writestr("2019-01/2019-01-west-mercia-outcomes.csv", "Crime ID,Month\n")
    sources, ignored = expand_paths([z])
    assert [s.name.split("!")[1] for s in sources] == ["2019-01/2019-01-west-mercia-street.csv"]
    assert ignored == [f"{z}!2019-01/2019-01-west-mercia-outcomes.csv"]
    r = read_crime_file(sources[0].name, sources[0].read_bytes())
    assert len(r.offences) == 10038


def test_unreadable_zip_is_a_file_fault(tmp_path):
    z = tmp_path / "broken.zip"
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("2019-01/2019-01-x-street.csv", "x" * 1000)
    z.write_bytes(buf.getvalue()[:60])
    with pytest.raises(InputError, match="zip"):
        expand_paths([z])


@pytest.mark.parametrize(
    "raw, words",
    [
        ((HEADER + "\n").encode(), "no rows"),
        (b"a,b,c,d,e,f,g,h,i\n1,2,3,4,5,6,7,8,9\n", "has 9 columns"),
        ((HEADER + "\nx,2019-01,Caf\xe9 Police,Caf\xe9,1,2,3,4,5,6,7,8\n").encode("latin-1"), "not UTF-8"),
        (bytes(range(256)) * 8, "not UTF-8"),
        # a Latin-1 byte far past the head the reader checks itself: Arrow's check finds it
        ((HEADER + "\n" + "x,2019-01,West Mercia Police,West Mercia Police,-2.5,52.7,On or near X,E01,n,Drugs,,\n"
          * 2000 + "y,2019-01,West Mercia Police,West Mercia Police,-2.5,52.7,Caf\xe9,E01,n,Drugs,,\n"
          ).encode("latin-1"), "not UTF-8"),
    ],
)
def test_more_file_level_faults(raw, words):
    with pytest.raises(InputError) as e:
        read_crime_file("bad.csv", raw)
    assert words in str(e.value)


def test_zip_without_street_csv_is_a_file_fault(tmp_path):
    z = tmp_path / "archive.zip"
    with zipfile.ZipFile(z, "w") as zf:
        zf.writestr("2019-01/2019-01-west-mercia-outcomes.csv", "Crime ID,Month\n")
    with pytest.raises(InputError, match="no YYYY-MM/YYYY-MM-<force>-street.csv member"):
        expand_paths([z])


def test_row_level_corpus_swapped_huge_mixed_and_repeated():
    rows = [
        "a1,2019-01,West Mercia Police,West Mercia Police,52.68,-2.45,On or near X,E01,n,Drugs,,",  # swapped lon/lat
        "a2,2019-01,West Mercia Police,West Mercia Police,-2.45,52.68," + "Z" * 100_000 + ",E01,n,Drugs,,",  # huge
        "a3,2019-01,Staffordshire Police,Staffordshire Police,-2.1,52.8,On or near Y,E01,n,Burglary,,",  # other force
        "a4,2019-01,West Mercia Police,West Mercia Police,-2.45,52.68,On or near X,E01,n,Drugs,,",
        "a4,2019-01,West Mercia Police,West Mercia Police,-2.45,52.68,On or near X,E01,n,Drugs,,",  # repeated id
    ]
    r = read_crime_file("f.csv", ("\n".join([HEADER, *rows]) + "\n").encode())
    assert r.rows == 5 and r.rejects["line"].tolist() == [2]
    assert "outside Britain" in r.rejects["reason"].iloc[0]
    assert sorted(r.offences["force"].unique()) == ["staffordshire", "west-mercia"]
    assert len(r.offences["location"].iloc[0]) == 100_000  # kept whole, not truncated
    # the repeated Crime ID is read twice; ingest keeps the first and counts the second as a duplicate
    assert (r.offences["offence_id"] == "a4").sum() == 2


def test_carriage_return_in_a_field_and_an_enormous_field_beside_a_short_row_are_row_faults():
    """Both send the reader down its row-by-row path: a CR ends a row there as it does for Arrow, and a field
    beyond the csv module's default limit is read, so each file's good rows are kept and the equation holds."""
    good = "x{},2019-01,West Mercia Police,West Mercia Police,-2.5,52.7,On or near X,E01,n,Drugs,,\n"
    cr = (HEADER + "\n" + good.format(1) + good.format(2).replace("On or near", "On or\rnear") + "short,row\n").encode()
    r = read_crime_file("cr.csv", cr)
    assert len(r.offences) == 1 and r.rows == len(r.offences) + len(r.rejects)
    assert r.rejects["reason"].str.startswith("row has").all()
    huge = (HEADER + "\n" + good.format(1).replace("On or near X", "A" * 300_000) + "short,row\n").encode()
    r = read_crime_file("huge.csv", huge)
    assert len(r.offences) == 1 and len(r.offences["location"].iloc[0]) == 300_000
    assert r.rejects["line"].tolist() == [3]
