"""``crimemap serve`` and ``crimemap demo``: run the web service on a store, or build the bundled demo store
(real West Mercia months, 2019 wards, approximate parishes, synthetic county lines) and serve it."""

from __future__ import annotations

import secrets
from importlib import resources
from pathlib import Path

import typer

from api.cli import StoreOption, app
from api.console import err, out

DEMO_MONTHS = ("2018-10", "2018-11", "2018-12", "2019-01")
DEMO_LAYERS = {"ward": "wards_dec2019_west_mercia.geojson.gz", "parish": "par_oa_dissolved_west_mercia.geojson.gz"}
DEMO_FORCE = "west-mercia"
TOKENS_NAME = "demo-tokens.toml"
#: what the demo's neighbourhood token may see: Telford & Wrekin
DEMO_SCOPE = ["E06000020"]
#: what each demo worker computes in the background as it starts, so the first visitors do not wait
DEMO_WARM = ["/areas/ward", "/areas/parish", "/tiles/h3/12/2017/1356.mvt", "/tiles/h3/8/125/84.mvt",
             "/tiles/parish/12/2017/1356.mvt", "/tiles/ward/12/2017/1356.mvt"]


def demo_dir() -> Path:
    """The bundled demo files (package data)."""
    return Path(str(resources.files("data") / "demo"))


def default_demo_store() -> str:
    """The demo's own store: a directory under the user data dir, never the user's store."""
    import platformdirs

    return str(Path(platformdirs.user_data_dir("crimemap")) / "demo-store")


def build_demo(store) -> list[str]:
    """Load whatever of the demo is not in ``store`` yet (idempotent); returns what was done."""
    from boundaries.layers import read_boundary_file
    from data.ingest import ingest, reassign_all

    done = []
    src = demo_dir()
    cov = store.coverage()
    have = {(f, m.strftime("%Y-%m")) for f, m in zip(cov["force"], cov["month"], strict=True)} if len(cov) else set()
    missing = [m for m in DEMO_MONTHS if (DEMO_FORCE, m) not in have]
    if missing:
        files = [src / f"{m}-{DEMO_FORCE}-street.csv.gz" for m in missing]
        rep = ingest(store, [str(f) for f in files])
        done.append(f"ingested {rep.total('stored')} offences ({', '.join(missing)})")
    layers = store.layers()
    for level, name in DEMO_LAYERS.items():
        if layers.get(level, {}).get("source") == name:
            continue
        layer, meta = read_boundary_file(src / name, level)
        store.save_layer(level, layer, meta, reassign_all(store, (level, layer, meta)))
        done.append(f"loaded {meta['features']} {level} boundaries")
    try:
        from data.countylines import stored_records
        from data.demo_lines import load_demo_lines
    except ImportError:  # county-lines modules not installed: the demo still serves crime data
        return done
    if stored_records(store) is None:
        recs = load_demo_lines(store)
        done.append(f"loaded {len(recs.lines)} synthetic county lines")
    return done


def serve_warm_paths(store) -> list[str]:
    """What ``crimemap serve`` requests of itself as each worker starts (the demo's list, for any store): the
    public GeoJSON of every loaded polygon level and LADs, and public tiles (h3 at both public resolutions, the
    loaded polygon levels) around one stored offence. Building the suppressed public cubes takes seconds the
    first time; afterwards tiles and areas come from memory.

    Examples
    --------
    >>> from data.store import open_store
    >>> serve_warm_paths(open_store("/nonexistent-crimemap-store"))
    []
    """
    import morecantile

    loaded = store.layers()
    paths = [f"/areas/{lv}" for lv in ("ward", "parish") if lv in loaded]
    cov = store.coverage()
    if not len(cov):
        return paths
    paths.append("/areas/lad")
    last = cov.sort_values(["located", "month"]).iloc[-1]  # the force-month with the most located offences
    month = last["month"].date()
    pts = store.read_offences(months=(month, month), forces=[last["force"]], columns=["geometry"]).geometry
    pts = pts[pts.notna() & ~pts.is_empty]
    if not len(pts):
        return paths
    x, y = float(pts.x.median()), float(pts.y.median())
    for z, layers in ((8, ("h3",)), (12, ("h3", *(lv for lv in ("parish", "ward") if lv in loaded)))):
        t = morecantile.tms.get("WebMercatorQuad").tile(x, y, z)
        paths += [f"/tiles/{layer}/{z}/{t.x}/{t.y}.mvt" for layer in layers]
    return paths


#: the Gi* runs the demo caches so /maps/hotspots has hot spots out of the box (all crime, every loaded month,
#: the permutations and seed the web layer looks up: ``api.routes_hotspots.DEFAULTS``)
DEMO_HOTSPOT_LEVELS = ("h3:8", "h3:9")


def warm_hotspots(location: str, levels=DEMO_HOTSPOT_LEVELS) -> list[str]:
    """Run ``crimemap hotspots run --method gistar`` at each level (a cache hit when already done).

    Goes through the command itself, so the cache key is exactly the one the command writes and the web layer
    reads; its CSV goes in the demo store's folder. A failure is one line and the demo carries on without it.
    """
    from typer.main import get_command

    from api.routes_hotspots import DEFAULTS

    done = []
    cmd = get_command(app)
    base = Path(location) if "://" not in location else Path(default_demo_store()).parent
    for level in levels:
        out_file = base / f"demo-hotspots-{level.replace(':', '')}.csv"
        args = ["hotspots", "run", "--method", "gistar", "--level", level, "--out", str(out_file),
                "--permutations", str(DEFAULTS["permutations"]), "--seed", str(DEFAULTS["seed"]),
                "--k", str(DEFAULTS["k"]), "--store", location]
        try:
            cmd.main(args=args, prog_name="crimemap", standalone_mode=False)
            done.append(f"Gi* hot spots cached at {level}")
        except Exception as e:  # noqa: BLE001 - the demo still serves crime maps without hot spots
            done.append(f"Gi* hot spots at {level} not cached ({type(e).__name__}: {str(e)[:160]}); "
                        f"the hot-spot map will say how to make them")
    return done


def demo_tokens(store_location: str) -> tuple[Path, dict[str, str]]:
    """Fresh demo tokens, one per role (only their hashes are written), beside the demo store."""
    from api.auth import ROLES, write_tokens

    base = Path(store_location) if "://" not in store_location else Path(default_demo_store()).parent
    tokens = {role: secrets.token_urlsafe(18) for role in ROLES}
    path = write_tokens(base / TOKENS_NAME, {t: (role, DEMO_SCOPE if role == "neighbourhood" else None)
                                             for role, t in tokens.items()})
    return path, tokens


def _serve(settings, workers: int = 1) -> None:
    from api.server import serve

    serve(settings, workers)


WorkersOption = typer.Option(1, "--workers", min=1, max=64, help="Server processes (uvicorn workers); each uses "
                             "one core and keeps its own caches.", envvar="CRIMEMAP_WORKERS")


@app.command("serve")
def serve_cmd(
    host: str = typer.Option("127.0.0.1", "--host", help="Address to listen on."),
    port: int = typer.Option(8000, "--port", help="Port to listen on."),
    tokens: Path | None = typer.Option(None, "--tokens", help="TOML/JSON file of hashed tokens (role, scope).",
                                       envvar="CRIMEMAP_TOKENS_FILE"),
    store: str | None = StoreOption,
    workers: int = WorkersOption,
) -> None:
    """Serve a store over HTTP: GeoJSON, vector tiles, maps, briefings, exports (OpenAPI at /docs)."""
    from api.settings import Settings
    from data.store import default_store_location, open_store

    location = store or default_store_location()
    try:
        warm = serve_warm_paths(open_store(location))
    except Exception as e:  # noqa: BLE001 - warming is an optimisation: serve a store it cannot look into anyway
        err.print(f"not warming caches ({type(e).__name__}: {str(e)[:160]})", markup=False)
        warm = []
    settings = Settings(store=location, host=host, port=port, tokens_file=tokens, warm=warm)
    err.print(f"serving {settings.store} on http://{host}:{port}/ with {workers} worker(s) (API docs at /docs)",
              markup=False)
    _serve(settings, workers)


@app.command("demo")
def demo_cmd(
    port: int = typer.Option(8000, "--port", help="Port to listen on."),
    host: str = typer.Option("127.0.0.1", "--host", help="Address to listen on."),
    no_serve: bool = typer.Option(False, "--no-serve", help="Build the demo store and stop."),
    store: str | None = typer.Option(None, "--store", help="Store to build the demo in (default: the demo's own "
                                     "store under the user data dir, not $CRIMEMAP_STORE)."),
    workers: int = WorkersOption,
) -> None:
    """Build the bundled demo (real West Mercia data, synthetic county lines) in its own store, then serve it."""
    from api.settings import Settings
    from data.store import open_store

    location = store or default_demo_store()
    st = open_store(location)
    for line in (build_demo(st) or ["demo store already complete"]) + warm_hotspots(str(st.location)):
        err.print(f"demo: {line}", markup=False)
    err.print(f"demo store: {st.location}", markup=False)
    if no_serve:
        return
    path, tokens = demo_tokens(location)
    base = f"http://{host}:{port}"
    out.print(f"crimemap demo on {base}/  (API docs {base}/docs)", markup=False)
    out.print(f"  public parish search  {base}/?q=Wellington", markup=False)
    out.print(f"  public parish page    {base}/maps/parish/E04000947", markup=False)
    out.print(f"  analyst hot spots     {base}/maps/hotspots", markup=False)
    out.print(f"  neighbourhood page    {base}/maps/area/ward/E05009967", markup=False)
    out.print(f"tokens (hashed in {path}; send as 'Authorization: Bearer TOKEN'):", markup=False)
    for role, t in tokens.items():
        out.print(f"  {role:<14} {t}", markup=False)
    settings = Settings(store=location, host=host, port=port, tokens_file=path, demo=True, warm=DEMO_WARM)
    _serve(settings, workers)


from api import cli_briefing  # noqa: E402,F401 - registers `crimemap briefing` (api.cli imports this module)
