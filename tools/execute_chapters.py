"""Execute the book's chapters, one per core at a time, into Jupyter Book's execution cache.

``make book`` runs this before ``jupyter-book build``: the chapters whose code
is not in ``_build/.jupyter_cache`` are executed by jupyter-cache's parallel
executor (one process per core, each with its own kernel), and myst-nb then
finds every chapter in the cache. A chapter that fails here is left out of the
cache, so ``jupyter-book build`` executes it again and reports the error the
usual way (``_build/html/reports``).

In a fresh cache the longest chapters of the last build start first, so the
processes end close together (the times are kept in ``_build/chapter-seconds.json``,
a hint only: an unreadable file is ignored). Prints each chapter's execution
time and the wall time.

Usage: ``python tools/execute_chapters.py [--cache _build/.jupyter_cache]``
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import tempfile
import time
from pathlib import Path

import yaml
from jupyter_cache import get_cache
from jupyter_cache.executors import load_executor

ROOT = Path(__file__).resolve().parent.parent
TIMES_FILE = "chapter-seconds.json"


def chapters() -> list[Path]:
    """The notebooks of the table of contents, in its order."""
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    files = [toc["root"]]
    for part in toc.get("parts", []):
        files += [chapter["file"] for chapter in part.get("chapters", [])]
    return [ROOT / f"{f}.ipynb" for f in files if (ROOT / f"{f}.ipynb").is_file()]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cache", default=str(ROOT / "_build" / ".jupyter_cache"))
    args = parser.parse_args(argv)
    config = yaml.safe_load((ROOT / "_config.yml").read_text())["execute"]
    cache_dir = Path(args.cache)
    times_path = cache_dir.parent / TIMES_FILE
    last_times = _read_times(times_path)

    cache = get_cache(str(cache_dir))
    paths = sorted(chapters(), key=lambda p: -last_times.get(p.stem, 0.0))
    for path in paths:
        cache.add_nb_to_project(str(path))
    outdated = cache.list_unexecuted()
    if not outdated:
        print("book: every chapter is in the execution cache")
        return 0

    logger = logging.getLogger("execute_chapters")
    logger.addHandler(logging.StreamHandler(sys.stdout))
    logger.setLevel(logging.WARNING)
    executor = load_executor("local-parallel", cache=cache, logger=logger)
    start = time.perf_counter()
    result = executor.run_and_cache(
        filter_pks=[r.pk for r in outdated],
        timeout=config["timeout"],
        allow_errors=config["allow_errors"],
    )
    wall = time.perf_counter() - start

    seconds = {}
    for record in cache.list_project_records():
        cached = cache.get_cached_project_nb(record.pk)
        if cached is not None and record.uri in result.succeeded:
            seconds[Path(record.uri).stem] = cached.data.get("execution_seconds", 0.0)
    for stem in sorted(seconds):
        print(f"book: {stem:<22} {seconds[stem]:6.1f} s")
    print(
        f"book: executed {len(seconds)} chapter(s) in {wall:.0f} s, {os.cpu_count()} at a time "
        f"(one after the other: {sum(seconds.values()):.0f} s)"
    )
    for uri in result.excepted + result.errored:
        print(f"book: {Path(uri).name} FAILED here; jupyter-book executes it again and reports")
    _write_times(times_path, {**last_times, **seconds})
    return 0


def _read_times(path: Path) -> dict:
    """The chapter times of the last build, or {} when there are none to trust."""
    try:
        times = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    if not isinstance(times, dict):
        return {}
    return {k: v for k, v in times.items() if isinstance(v, (int, float))}


def _write_times(path: Path, times: dict) -> None:
    """Write ``times`` to a temporary file beside ``path`` and rename it into place."""
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".part", dir=path.parent)
    try:
        with os.fdopen(handle, "w") as stream:
            json.dump(times, stream, indent=1, sort_keys=True)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


if __name__ == "__main__":
    sys.exit(main())
