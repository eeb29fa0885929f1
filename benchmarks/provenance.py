"""Which figures are older than the code they describe (`make docs-check`).

Every benchmark writes the commit it ran on into its results file (`environment.commit`, with
`dirty` and the blob ids of the tracked files that differed from that commit; see
`benchmarks/common.code_version`). FIGURES below is the one table from each results file and
each doc that shows its numbers to the make target that writes it and the code its numbers
depend on. A results file is CURRENT when that code at HEAD is, file for file, the code that ran
(the recorded commit, with the recorded uncommitted changes laid over it), STALE otherwise; a
Python file whose two versions differ only in comments, docstrings and layout counts as the same
code (`code_only`: no number can depend on them), so mending a comment does not ask for hours of
reruns. A file written before commits were recorded falls back to the last commit that touched
the file itself, and says so. A doc is as current as the results files it is written from. Where a
results file's entries run different kinds of model (bench-tables: generator and forecaster
cases), each entry is checked against its own kind's code (`Figure.entry_exclude`), so a
forecaster change asks for the forecaster cases to be rerun, not the generator's; likewise each of
bench-generation's data sets is checked against its own config and data file (and not the doc
prose of benchmarks/generation.py), so a new version of one shipped generator does not ask for
the others to be retrained. bench-ablation's
rows likewise leave out benchmarks/ablation.py while the overrides a row recorded are still its
variant's (`_ablation_row`): a change to how the doc is written does not ask for hours of reruns.

    python -m benchmarks.provenance            # exit 1 when any figure is stale or unknown
    python -m benchmarks.provenance --repo DIR # another checkout (needs its full history)

It compares committed code (HEAD), not the working tree; CI clones the repository with its
history, which the recorded commits must be part of.
"""

from __future__ import annotations

import argparse
import ast
import json
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

CORE = ("rnngan/core/",)
# Files under the code folders that no code reads when it runs (generated documentation):
# no figure's numbers depend on them.
NOT_CODE = ("rnngan/core/manifest.schema.json",)
TRAINING = ("training/", *CORE)
SERVING = ("service/", *CORE, "tests/helpers/server.py")
# The CLI modules that `rnngan serve` runs (tests/helpers/server.py starts it) beyond service/;
# `rnngan generate` (offline generation) is in serving.py too.
SERVE_CLI = (
    "rnngan/cli/__init__.py",
    "rnngan/cli/__main__.py",
    "rnngan/cli/common.py",
    "rnngan/cli/serving.py",
    "rnngan/cli/drain.py",
)
# What `rnngan train / evaluate / export / inspect` never run of rnngan/cli/: the serving
# commands (the package imports serving.py to register them; tests/benchmarks/
# test_provenance_serve.py keeps this true). A figure that trains through the CLI leaves them out.
SERVE_ONLY = ("rnngan/cli/serving.py", "rnngan/cli/drain.py")

# The modules of training/ that one kind of model alone runs. A figure about another kind leaves
# them out of its code: a new generator loss term does not stale the forecast figures. What
# keeps this true (tests/benchmarks/test_provenance_kinds.py): none of these modules imports
# another kind's, no shared module imports any of them but the family table
# (training/families/__init__.py), and a run of another kind calls none of their functions
# beyond the table's dispatch (`accepts`).
GENERATOR_ONLY = (
    "training/networks_timegan.py",
    "training/families/timegan.py",
    "training/families/rcgan.py",
)
# The own-table generator (`rnngan train --data`) is a kind of its own, so that its recipe does
# not stale the figures of the benchmark sets' generators, nor theirs its figures.
# Its sampling (rnngan/core/tables/sample.py: seed -> decoded series, and stamps.py under it)
# is run by the table generator's evaluation and by the service for a table model alone: the
# own-table forecaster encodes tables (codec.py, shared) but draws no series.
TABLE_SAMPLING = ("rnngan/core/tables/sample.py", "rnngan/core/tables/stamps.py")
TABLE_ONLY = (
    "training/networks_tables.py",
    "training/families/table_gan.py",
    *TABLE_SAMPLING,
)
FORECAST_ONLY = (
    "training/networks_forecast.py",
    "training/families/forgan.py",
    "training/families/panel_forecast.py",
    "training/families/panel_selection.py",
    "training/families/table_forecast.py",
    "training/evaluate/forecast.py",
    "training/evaluate/panel_baselines.py",
    "training/evaluate/scores.py",
    "training/evaluate/versus.py",
    "training/data/forecast_covariates.py",
    "training/data/forecast_calendar.py",
    "training/data/forecast_panel.py",
    "training/data/table_forecast.py",
)
IMAGE_ONLY = (
    "training/networks_images.py",
    "training/families/images.py",
    "training/evaluate/images.py",
    "training/data/digits.py",
)
# The window terms (each channel's roughness, autocorrelation, spread and the channels'
# correlations as generator losses) are run by both generators and by nothing else: a part of
# its own that both kinds NEED, owning no family, so a figure about either covers it.
WINDOW_TERMS = ("training/window_terms.py",)
KINDS = {
    "generation": GENERATOR_ONLY,
    "table": TABLE_ONLY,
    "forecast": FORECAST_ONLY,
    "image": IMAGE_ONLY,
    "window terms": WINDOW_TERMS,
}
# The kinds whose modules a kind's own modules may import and run.
NEEDS = {"generation": ("window terms",), "table": ("window terms",)}
# The kinds that are parts other kinds NEED, with no model family of their own.
PARTS = frozenset(k for needed in NEEDS.values() for k in needed)


@dataclass(frozen=True)
class Figure:
    """A results file or doc, the make target that writes it and what its numbers depend on.

    `code` holds paths relative to the repository root (a trailing `/` is a folder). A doc has
    `sources` (the results files it is written from) instead of code of its own.
    """

    path: str
    target: str
    code: tuple[str, ...] = ()
    sources: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()  # files under `code` that its numbers do not depend on
    # A results file whose entries run different kinds of model: the entry (the dict that holds
    # a recorded code version) -> more files that entry's numbers do not depend on
    entry_exclude: Callable[[dict[str, Any]], tuple[str, ...]] | None = None

    def narrowed(self, entry: dict[str, Any]) -> Figure:
        """This figure as one entry's numbers depend on it (`entry_exclude`)."""
        extra = self.entry_exclude(entry) if self.entry_exclude is not None else ()
        if not extra:
            return self
        return replace(self, exclude=tuple(sorted({*self.exclude, *extra})))

    @property
    def pathspec(self) -> tuple[str, ...]:
        """`code` less `exclude`, as git pathspecs."""
        return (*self.code, *(f":(exclude){p}" for p in (*self.exclude, *NOT_CODE)))

    def covers(self, path: str) -> bool:
        return _under(path, self.code) and not _under(path, (*self.exclude, *NOT_CODE))


def _other_kinds(name: str, kinds: tuple[str, ...]) -> tuple[str, ...]:
    """The kind-specific modules that `kinds` (with what they NEED) do not run (none when
    `kinds` is empty)."""
    unknown = set(kinds) - KINDS.keys()
    if unknown:
        raise ValueError(f"{name}: unknown kinds {sorted(unknown)}; kinds: {sorted(KINDS)}")
    kinds = tuple({k: None for kind in kinds for k in (kind, *NEEDS.get(kind, ()))})
    return tuple(p for kind, only in KINDS.items() if kinds and kind not in kinds for p in only)


def _kept_by_service(excluded: tuple[str, ...], code: tuple[str, ...]) -> tuple[str, ...]:
    """A figure that runs the service keeps the modules of rnngan/core it imports whatever
    models it trains (the service loads any model of models/; no test holds which of its
    modules a request for one kind calls)."""
    if "service/" not in code:
        return excluded
    return tuple(p for p in excluded if not p.startswith(CORE))


def _results(
    name: str,
    target: str,
    *code: str,
    kinds: tuple[str, ...] = (),
    entry_exclude: Callable[[dict[str, Any]], tuple[str, ...]] | None = None,
    exclude: tuple[str, ...] = (),
) -> Figure:
    """A benchmark's results file; `kinds`: the kinds of model it trains or runs (generation,
    table, forecast, image), whose code alone (with what they NEED) counts among training/'s
    kind-specific modules (all of them when empty); `exclude`: more files under `code` that it
    does not run."""
    return Figure(
        f"benchmarks/results/{name}.json",
        target,
        (f"benchmarks/{name}.py", *code),
        (),
        (*_kept_by_service(_other_kinds(name, kinds), code), *exclude),
        entry_exclude,
    )


def _table_case(entry: dict[str, Any]) -> tuple[str, ...]:
    """bench-tables' cases each run one kind: `rnngan train --data … --task forecast` the
    forecaster, any other command the own-table generator. Entries without a command (the
    file's environment) depend on both."""
    command = entry.get("command")
    if not isinstance(command, str):
        return ()
    return _other_kinds("tables", ("forecast",) if "--task forecast" in command else ("table",))


def _ablation_row(entry: dict[str, Any]) -> tuple[str, ...]:
    """bench-ablation's rows each record their variant's description (`changes`) and the
    overrides they trained with; the rest of benchmarks/ablation.py runs them the same way for
    every variant and writes the doc (which compares rows by this rule too: `code_files`, "this
    module aside"). A row whose recorded overrides are what today's variant of that
    description sets does not depend on the module's other changes; a row whose variant has
    changed or gone, and the file's environment, depend on the whole module. Not caught: a
    change to how every variant is run (`run_variant`); rerun the ablation after one."""
    changes, recorded = entry.get("changes"), entry.get("overrides")
    if not isinstance(changes, str) or not isinstance(recorded, dict):
        return ()
    from benchmarks.ablation import VARIANTS

    ran = {k: v for k, v in recorded.items() if k != "steps"}  # `--steps`: its own column
    if any(text == changes and ran == overrides for text, overrides in VARIANTS.values()):
        return ("benchmarks/ablation.py",)
    return ()


# bench-generation's data sets: each one's config and data file (None: generated in code).
GENERATION_CASES = {
    "sines": ("configs/sines.toml", None),
    "stocks": ("configs/stocks.toml", "data/stock_data.csv"),
    "energy": ("configs/energy.toml", "data/energy_data.csv"),
    "etth1": ("configs/etth1.toml", "data/ETTh1.csv"),
}


def _generation_name(entry: dict[str, Any]) -> str | None:
    """The data set of an entry that records one shipped generator (`model`:
    "<name>/<version>", `name` one of GENERATION_CASES); None for any other entry."""
    model = entry.get("model")
    name = model.split("/", 1)[0] if isinstance(model, str) else None
    return name if name in GENERATION_CASES else None


def _generation_case(entry: dict[str, Any]) -> tuple[str, ...]:
    """bench-generation's entries each train one data set (`model`: "<name>/<version>") from its
    own config and data file: another data set's config or file does not reach them. Nor does
    benchmarks/generation.py beyond handing the config to `benchmarks.common.run_one` (which
    counts): the rest of it is the published figures and the prose of the doc it writes. Not
    caught: a change to how main() runs a data set; rerun them all after one. Entries without a
    model (the file's environment) depend on all of it."""
    name = _generation_name(entry)
    if name is None:
        return ()
    own = set(GENERATION_CASES[name])
    others = {p for case in GENERATION_CASES.values() for p in case if p and p not in own}
    return tuple(sorted({*others, "benchmarks/generation.py"}))


def _classifier_case(entry: dict[str, Any]) -> tuple[str, ...]:
    """bench-classifier's entries each score one shipped generator (`model`: "<name>/<version>"):
    another data set's config, data file and exported model do not reach them."""
    name = _generation_name(entry)
    if name is None:
        return ()
    return tuple(
        sorted(
            p
            for other, case in GENERATION_CASES.items()
            if other != name
            for p in (*case, f"models/{other}/")
            if p
        )
    )


# models/<name>/ is listed where a benchmark reads the shipped models; bench-generation and
# bench-forecast write theirs (train → export), so the models are their output, not their input.
FIGURES: tuple[Figure, ...] = (
    _results(
        "generation", "bench-generation", "benchmarks/common.py", *TRAINING,
        *(p for case in GENERATION_CASES.values() for p in case if p), kinds=("generation",),
        entry_exclude=_generation_case,
    ),
    _results(
        "forecast", "bench-forecast", "benchmarks/common.py", *TRAINING,
        "configs/etth1_ot.toml", "configs/traffic_a5m.toml",
        "data/ETTh1.csv", "data/internet_traffic_a5m.csv", kinds=("forecast",),
    ),
    _results(
        "panel", "bench-panel", *TRAINING,
        "data/ETTh1.csv", "data/energy_data.csv", "data/internet_traffic_a5m.csv",
        kinds=("forecast",),
    ),
    _results(
        "panel_scale", "bench-panel-scale", "benchmarks/panel.py", *TRAINING, "rnngan/cli/",
        "data/ETTh1.csv", "data/energy_data.csv", "data/internet_traffic_a5m.csv",
        kinds=("forecast",), exclude=SERVE_ONLY,
    ),
    _results(
        "covariates", "bench-covariates", *TRAINING, "rnngan/cli/", "examples/tables.py",
        kinds=("forecast",), exclude=SERVE_ONLY,
    ),
    _results(
        "statics", "bench-static", *TRAINING, "rnngan/cli/", "examples/tables.py",
        kinds=("forecast",), exclude=SERVE_ONLY,
    ),
    _results(
        "short", "bench-short", "benchmarks/panel.py", *TRAINING, "data/energy_data.csv",
        kinds=("forecast",),
    ),
    _results(
        "tables", "bench-tables", *TRAINING, "examples/tables.py", "data/ETTh1.csv",
        kinds=("table", "forecast"), entry_exclude=_table_case,
    ),
    _results(
        "ablation", "bench-ablation", "benchmarks/tables.py", *TRAINING, "examples/tables.py",
        kinds=("table",), entry_exclude=_ablation_row,
    ),
    _results(
        "images", "bench-images", *TRAINING, "models/digits/", "models/digits_text/",
        kinds=("image",),
    ),
    _results(
        "batch_cost", "bench-batch-cost", *TRAINING, "configs/etth1_ot.toml",
        "models/sines/", "models/etth1_ot/", kinds=("generation", "forecast"),
    ),
    _results(
        "classifier", "bench-classifier", "benchmarks/common.py", *TRAINING,
        *(p for case in GENERATION_CASES.values() for p in case if p),
        *(f"models/{name}/" for name in GENERATION_CASES), kinds=("generation",),
        entry_exclude=_classifier_case,
    ),
    _results("load", "bench-load", *SERVING, *SERVE_CLI, "models/"),
    _results(
        "serving", "bench-serving", "benchmarks/torch_server.py", *SERVING, "training/",
        "configs/sines.toml", "configs/etth1_ot.toml", "models/sines/", "models/etth1_ot/",
        kinds=("generation", "forecast"),
    ),
    _results("datasets", "bench-datasets", *SERVING, "models/sines/"),
    _results("memory", "bench-memory", *SERVING, *SERVE_CLI, "models/"),
    _results("gpu", "bench-gpu", *SERVING, *SERVE_CLI, "configs/sines.toml", "models/"),
    Figure(
        "benchmarks/results/ray.json", "bench-ray",
        ("benchmarks/ray_generate.py", "rnngan/", "service/", "models/sines/"),
    ),
    _results(
        "ddp", "bench-ddp", *TRAINING, "rnngan/cli/", "configs/sines.toml", kinds=("generation",),
        exclude=SERVE_ONLY,
    ),
    Figure(
        "benchmarks/results/client.json", "bench-client",
        ("benchmarks/client_download.py", "rnngan/client/", *SERVING, *SERVE_CLI,
         "tests/helpers/faults.py", "models/sines/"),
    ),
    _results(
        "heavy_panel", "bench-heavy-panel", *TRAINING, "rnngan/cli/", "service/",
        "data/internet_traffic_a5m.csv", kinds=("table",),
    ),
    Figure(
        "docs/generation.md", "bench-generation",
        sources=("benchmarks/results/generation.json",),
    ),
    Figure(
        "docs/forecast.md",
        "bench-forecast, bench-panel, bench-panel-scale, bench-covariates, bench-static, "
        "bench-short",
        sources=(
            "benchmarks/results/forecast.json",
            "benchmarks/results/panel.json",
            "benchmarks/results/panel_scale.json",
            "benchmarks/results/covariates.json",
            "benchmarks/results/statics.json",
            "benchmarks/results/short.json",
        ),
    ),
    Figure("docs/tables.md", "bench-tables", sources=("benchmarks/results/tables.json",)),
    Figure("docs/ablation.md", "bench-ablation", sources=("benchmarks/results/ablation.json",)),
    Figure("docs/quality.md", "bench-classifier", sources=("benchmarks/results/classifier.json",)),
    Figure("docs/images.md", "bench-images", sources=("benchmarks/results/images.json",)),
    Figure("docs/serving.md", "bench-serving", sources=("benchmarks/results/serving.json",)),
    Figure("docs/datasets.md", "bench-datasets", sources=("benchmarks/results/datasets.json",)),
    Figure("docs/memory.md", "bench-memory", sources=("benchmarks/results/memory.json",)),
    Figure(
        "docs/scaling.md", "bench-ray, bench-gpu, bench-ddp",
        sources=(
            "benchmarks/results/ray.json",
            "benchmarks/results/gpu.json",
            "benchmarks/results/ddp.json",
        ),
    ),
    Figure("README.md", "bench-client", sources=("benchmarks/results/client.json",)),
)  # fmt: skip

CURRENT, STALE, UNKNOWN = "CURRENT", "STALE", "UNKNOWN"


@dataclass(frozen=True)
class Verdict:
    path: str
    target: str
    status: str  # CURRENT, STALE or UNKNOWN
    recorded: str  # what the file says it ran on, or the fallback and that it is one
    code_changed: str  # the last commit that touched the code paths
    reason: str = ""


class Git:
    def __init__(self, repo: Path) -> None:
        self.repo = repo

    def __call__(self, *args: str, check: bool = True) -> str:
        done = subprocess.run(
            ["git", *args], cwd=self.repo, capture_output=True, text=True, timeout=120
        )
        if check and done.returncode != 0:
            raise RuntimeError(f"git {' '.join(args)}: {done.stderr.strip()}")
        return done.stdout.strip() if done.returncode == 0 else ""

    def has_commit(self, commit: str) -> bool:
        done = subprocess.run(
            ["git", "cat-file", "-e", f"{commit}^{{commit}}"],
            cwd=self.repo,
            capture_output=True,
            timeout=60,
        )
        return done.returncode == 0

    def tree(self, commit: str, figure: Figure) -> dict[str, str]:
        """path -> blob id of every file of `figure`'s code at `commit`."""
        out = self("ls-tree", "-r", "-z", "--full-tree", commit, "--", *figure.code)
        files = {}
        for entry in filter(None, out.split("\0")):
            meta, path = entry.split("\t", 1)
            if figure.covers(path):
                files[path] = meta.split()[2]
        return files

    def ran(self, version: dict[str, Any], figure: Figure) -> dict[str, str]:
        """path -> blob id of `figure`'s code as a recorded code version ran it: its commit's
        files with the uncommitted changes it recorded laid over them (None: deleted)."""
        files = self.tree(version["commit"], figure)
        for path, blob in (version.get("dirty_files") or {}).items():
            if figure.covers(path):
                if blob is None:
                    files.pop(path, None)
                else:
                    files[path] = blob
        return files

    def blob(self, blob: str) -> str | None:
        """A blob's text, or None where this clone does not hold it (an uncommitted change's)."""
        done = subprocess.run(
            ["git", "cat-file", "blob", blob], cwd=self.repo, capture_output=True, timeout=60
        )
        return done.stdout.decode("utf-8", "replace") if done.returncode == 0 else None

    def same_code(self, path: str, a: str | None, b: str | None) -> bool:
        """Two versions of a Python file that differ only in comments, docstrings and layout:
        nothing a figure's numbers can depend on (`code_only`)."""
        if a is None or b is None or not path.endswith(".py"):
            return False
        texts = self.blob(a), self.blob(b)
        if texts[0] is None or texts[1] is None:
            return False
        first, second = code_only(texts[0]), code_only(texts[1])
        return first is not None and first == second

    def last(self, *paths: str, since: str | None = None) -> str:
        """'<short sha> <date>' of the last commit touching `paths` (after `since`), or ''."""
        span = [f"{since}..HEAD"] if since else ["HEAD"]
        return self("log", "-1", "--format=%h %cs", *span, "--", *paths)


def code_only(source: str) -> str | None:
    """The syntax tree of a Python module without its docstrings (module, class and function),
    comments and layout, as text; None when it does not parse."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return None
    for node in ast.walk(tree):
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
            body = node.body
            if (
                body
                and isinstance(body[0], ast.Expr)
                and isinstance(body[0].value, ast.Constant)
                and isinstance(body[0].value.value, str)
            ):
                node.body = body[1:] or [ast.Pass()]
    return ast.dump(tree, include_attributes=False)


def _under(path: str, code: tuple[str, ...]) -> bool:
    return any(path == c or (c.endswith("/") and path.startswith(c)) for c in code)


def recorded_versions(
    data: Any, holder: dict[str, Any] | None = None
) -> list[tuple[dict[str, Any], dict[str, Any]]]:
    """Every code version in a results file (a dict with `commit` and `utc`), outermost first,
    each with the entry that holds it (the dict one level up; the version itself at the top)."""
    found: list[tuple[dict[str, Any], dict[str, Any]]] = []
    if isinstance(data, dict):
        if "commit" in data and "utc" in data:
            found.append((data, holder if holder is not None else data))
        for value in data.values():
            found += recorded_versions(value, data)
    elif isinstance(data, list):
        for value in data:
            found += recorded_versions(value, holder)
    return found


def check_results(git: Git, figure: Figure) -> Verdict:
    code_changed = git.last(*figure.pathspec) or "never committed"
    file = git.repo / figure.path
    if not file.is_file():
        return Verdict(figure.path, figure.target, UNKNOWN, "missing", code_changed, "no file")
    # (code version, the figure as the entry holding it depends on it)
    pairs: list[tuple[dict[str, Any], Figure]] = []
    seen = set()
    for version, entry in recorded_versions(json.loads(file.read_text(encoding="utf-8"))):
        narrowed = figure.narrowed(entry)
        key = json.dumps(
            [version.get("commit"), version.get("dirty_files"), narrowed.exclude], sort_keys=True
        )
        if key not in seen:  # the same code recorded per result and for the whole run
            seen.add(key)
            pairs.append((version, narrowed))
    versions = [v for v, _ in pairs]
    unrecorded = [v for v in versions if v.get("commit") is None]
    recorded = [v for v in versions if v.get("commit")]
    if unrecorded and recorded:
        # Some results (a data set not rerun) were measured before commits were recorded: the
        # file's commit says nothing about them, so they cannot be called current.
        return Verdict(
            figure.path, figure.target, STALE,
            "; ".join(f"{v['commit'][:7]} at {v.get('utc')}" for v in recorded)
            + " and results recording no commit",
            code_changed, "some results record no commit: measured before the others, rerun them",
        )  # fmt: skip
    if not versions or unrecorded:
        last = git("log", "-1", "--format=%H", "--", figure.path)
        if not last:
            return Verdict(
                figure.path, figure.target, UNKNOWN, "none recorded, file not committed",
                code_changed, "no commit to compare with",
            )  # fmt: skip
        pairs = [p for p in pairs if p[0].get("commit")]
        pairs.append(({"commit": last, "fallback": True}, figure))
    heads: dict[tuple[str, ...], dict[str, str]] = {}
    labels, problems = [], []
    for version, fig in pairs:
        head = heads.get(fig.exclude)
        if head is None:
            head = heads[fig.exclude] = git.tree("HEAD", fig)
        commit = version["commit"]
        short = commit[:7]
        if version.get("fallback"):
            edited = git("diff", "--name-only", "HEAD", "--", figure.path)
            note = " (the file has uncommitted changes)" if edited else ""
            labels.append(f"none recorded; file last committed in {git.last(figure.path)}{note}")
        else:
            dirty = " + uncommitted changes" if version.get("dirty") else ""
            labels.append(f"{short}{dirty} at {version.get('utc')}")
        if not git.has_commit(commit):
            problems.append(f"{short} is not in this clone's history (a shallow clone?)")
            continue
        ran = git.ran(version, fig)
        changed = sorted(
            p
            for p in ran.keys() | head.keys()
            if ran.get(p) != head.get(p) and not git.same_code(p, ran.get(p), head.get(p))
        )
        if changed:
            more = f" and {len(changed) - 3} more" if len(changed) > 3 else ""
            since = git.last(*fig.pathspec, since=commit) or "uncommitted changes then"
            problems.append(
                f"changed since {short} (last: {since}): {', '.join(changed[:3])}{more}"
            )
    status = CURRENT
    if problems:
        status = UNKNOWN if all("not in this clone" in p for p in problems) else STALE
    return Verdict(
        figure.path, figure.target, status, "; ".join(labels), code_changed, "; ".join(problems)
    )


def check(repo: Path, figures: tuple[Figure, ...] = FIGURES) -> list[Verdict]:
    git = Git(repo)
    if git("rev-parse", "--is-shallow-repository") == "true":
        raise SystemExit("a shallow clone: the recorded commits need the full history")
    results = {f.path: f for f in figures if not f.sources}
    by_path = {path: check_results(git, f) for path, f in results.items()}
    verdicts = list(by_path.values())
    for figure in (f for f in figures if f.sources):
        parts = [by_path[s] for s in figure.sources]
        code = {c for s in figure.sources for c in results[s].code}
        left_out = set.intersection(*(set(results[s].exclude) for s in figure.sources))
        spec = Figure(figure.path, figure.target, tuple(sorted(code)), (), tuple(sorted(left_out)))
        status = next((s for s in (STALE, UNKNOWN) if any(p.status == s for p in parts)), CURRENT)
        stale = [p.path.rsplit("/", 1)[-1] for p in parts if p.status != CURRENT]
        verdicts.append(
            Verdict(
                figure.path,
                figure.target,
                status,
                "from " + ", ".join(figure.sources),
                git.last(*spec.pathspec) or "never committed",
                f"{', '.join(stale)} not current" if stale else "",
            )
        )
    return verdicts


def unregistered(repo: Path, figures: tuple[Figure, ...] = FIGURES) -> list[str]:
    """Results files that no entry of the table describes."""
    known = {f.path for f in figures}
    found = sorted(p.relative_to(repo).as_posix() for p in repo.glob("benchmarks/results/*.json"))
    return [p for p in found if p not in known]


def report(verdicts: list[Verdict], extra: list[str]) -> str:
    lines = []
    for v in verdicts:
        lines.append(f"{v.status:<8} {v.path}  (make {v.target})")
        lines.append(f"         recorded: {v.recorded}")
        lines.append(f"         code last changed: {v.code_changed}")
        if v.reason:
            lines.append(f"         {v.reason}")
    for path in extra:
        lines.append(f"UNKNOWN  {path}: not in benchmarks/provenance.py's FIGURES")
    counts = {s: sum(v.status == s for v in verdicts) for s in (CURRENT, STALE, UNKNOWN)}
    counts[UNKNOWN] += len(extra)
    lines.append(", ".join(f"{n} {s.lower()}" for s, n in counts.items()))
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repo", type=Path, default=Path(__file__).resolve().parents[1])
    args = parser.parse_args()
    verdicts = check(args.repo)
    extra = unregistered(args.repo)
    print(report(verdicts, extra))
    sys.exit(1 if extra or any(v.status != CURRENT for v in verdicts) else 0)


if __name__ == "__main__":
    main()
