"""The ``nndl-lab`` command.

Each command group lives in one ``_add_<group>_commands(subparsers)``
function that registers its subparsers and sets ``func`` to a handler
``handler(args) -> int`` (the exit code). To add a command, write such a
function and call it from :func:`build_parser`.

Exit codes: 0 success, 1 failure (one-line message on stderr, no traceback),
2 usage error (argparse), 130 interrupted.
"""

from __future__ import annotations

import argparse
import os
import pickle
import sys

PROG = "nndl-lab"


def _error(message: str) -> int:
    print(f"{PROG}: error: {message}", file=sys.stderr)
    return 1


def _human_size(n: int | None) -> str:
    if n is None:
        return "size unknown"
    units = ("B", "kB", "MB", "GB")
    size, index = float(n), 0
    while size >= 1000 and index < len(units) - 1:
        size /= 1000
        index += 1
    return f"{n} B" if index == 0 else f"{size:.1f} {units[index]}"


# --------------------------------------------------------------------------
# nndl-lab data ...
# --------------------------------------------------------------------------


def _cmd_data_download(args: argparse.Namespace) -> int:
    from nndl_lab import data

    try:
        folder = data.download_cifar10(
            args.data_dir,
            archive_format=args.format,
            url=args.url,
            md5=args.md5,
            progress=not args.no_progress,
            force=args.force,
        )
    except (data.DataError, pickle.UnpicklingError, OSError, ValueError, TypeError) as exc:
        return _error(str(exc))
    print(f"CIFAR-10 is ready in {folder}; get_data('auto') will use it.")
    return 0


def _cmd_data_info(args: argparse.Namespace) -> int:
    from nndl_lab import data

    try:
        info = data.cache_info(args.data_dir)
    except (OSError, TypeError, ValueError) as exc:
        return _error(str(exc))
    source = {
        "argument": "from --data-dir",
        data.DATA_DIR_ENV: f"from ${data.DATA_DIR_ENV}",
        "XDG_CACHE_HOME": "from $XDG_CACHE_HOME",
        "default": f"default; set ${data.DATA_DIR_ENV} or pass --data-dir to change",
    }[info["data_dir_source"]]
    exists = "" if info["data_dir"].is_dir() else ", does not exist yet"
    print(f"cache directory: {info['data_dir']} ({source}{exists})")

    digits = info["digits"]
    if digits["ok"]:
        print(
            f"digits:  shipped with nndl-lab, {digits['path']} ({_human_size(digits['size'])}), "
            "1797 images 1×8×8, checksum OK"
        )
    else:
        print(f"digits:  PROBLEM: {digits['problem']}")

    cifar = info["cifar10"]
    if cifar["found"] is not None:
        print(f"cifar10: ready, {cifar['found']} (get_data('auto') will use it)")
    elif cifar["folders"] or cifar["archives"]:
        print("cifar10: not ready (get_data('auto') will use the digits)")
    else:
        print(
            "cifar10: not downloaded (get_data('auto') will use the digits); "
            "run `nndl-lab data download cifar10` (about 170 MB)"
        )
    for folder in cifar["folders"]:
        state = (
            "complete, every batch read back"
            if folder["complete"]
            else f"DAMAGED: {folder['problem']} (delete it and download again)"
        )
        print(
            f"  folder:  {folder['path']} ({folder['format']} format, "
            f"{_human_size(folder['size'])}), {state}"
        )
    for archive in cifar["archives"]:
        if archive["ok"]:
            check = f"MD5 {archive['md5']} OK"
        else:
            check = (
                f"MD5 MISMATCH: {archive['md5']}, expected {archive['expected_md5']} "
                "(delete it, or fetch it again with `nndl-lab data download cifar10 --force`)"
            )
        print(
            f"  archive: {archive['path']} ({archive['format']} format, "
            f"{_human_size(archive['size'])}), {check}"
        )
    for leftover in info["leftovers"]:
        print(f"  leftover from an interrupted run (safe to delete): {leftover}")
    return 0


def _add_data_commands(subparsers) -> None:
    """Register ``nndl-lab data download`` and ``nndl-lab data info``."""
    data_parser = subparsers.add_parser(
        "data",
        help="download or inspect the data sets",
        description="Download CIFAR-10 or show what is cached.",
    )
    data_sub = data_parser.add_subparsers(dest="data_command", metavar="COMMAND", required=True)

    download = data_sub.add_parser(
        "download",
        help="download, verify and extract a data set into the cache directory",
        description=(
            "Download the official CIFAR-10 archive once, check its MD5, extract it safely "
            "and read it back. The digits ship with nndl-lab and need no download."
        ),
    )
    download.add_argument("dataset", choices=["cifar10"], help="the data set to download")
    download.add_argument(
        "--data-dir", help="cache directory (default: $NNDL_LAB_DATA_DIR or ~/.cache/nndl-lab)"
    )
    download.add_argument(
        "--format",
        choices=["binary", "python"],
        default="binary",
        help="which official archive (default: binary, read without unpickling)",
    )
    download.add_argument("--url", help="download from this URL instead of the official one")
    download.add_argument("--md5", help="expected MD5 of the archive (default: the official one)")
    download.add_argument("--force", action="store_true", help="download again even if present")
    download.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    download.set_defaults(func=_cmd_data_download)

    info = data_sub.add_parser(
        "info",
        help="show the cache directory, what is cached and whether checksums match",
        description="Show the cache directory, each data set's status and checksum checks.",
    )
    info.add_argument("--data-dir", help="cache directory to inspect")
    info.set_defaults(func=_cmd_data_info)


# --------------------------------------------------------------------------
# Entry point
# --------------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    """The ``nndl-lab`` argument parser with every command group registered."""
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="nndl-lab: an interactive textbook on training fully connected networks.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {_version()}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    _add_data_commands(subparsers)
    # Further command groups register here, e.g. _add_reproduce_commands(subparsers).
    from nndl_lab.experiments.reproduce import add_reproduce_command

    add_reproduce_command(subparsers)
    return parser


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("nndl-lab")
    except PackageNotFoundError:
        return "unknown"


def main(argv: list[str] | None = None) -> int:
    """Run the ``nndl-lab`` command and return its exit code.

    Parameters
    ----------
    argv : list of str, optional
        Arguments without the program name; ``sys.argv[1:]`` if omitted.

    Returns
    -------
    int
        0 on success, 1 on failure, 2 on a usage error, 130 if interrupted.
    """
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:
        # argparse exits 2 on usage errors and 0 for --help/--version.
        return exc.code if isinstance(exc.code, int) else 0
    try:
        code = args.func(args)
        # Inside the try: a reader that went away (`nndl-lab data info | head -c 10`)
        # shows up here, when the buffered output is written.
        sys.stdout.flush()
        return code
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted; nothing half-written was kept.", file=sys.stderr)
        return 130
    except BrokenPipeError:
        _discard_stdout()
        return _error("the output was closed before it was complete (broken pipe)")
    except Exception as exc:  # the promise: one line and exit code 1, never a traceback
        return _error(f"{type(exc).__name__}: {exc}")


def _discard_stdout() -> None:
    """Point stdout at /dev/null, so that the interpreter's final flush of what is still
    buffered does not fail again (the recipe of the ``signal`` module's documentation)."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError, AttributeError):
        pass  # stdout is not a file (captured, or already closed)


if __name__ == "__main__":
    raise SystemExit(main())
