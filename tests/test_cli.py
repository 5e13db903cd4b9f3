"""The ``nndl-lab`` command: ``data download cifar10`` and ``data info``."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from _cifar_fixtures import Route, binary_archive, closed_port_url, listing, md5, serve

from nndl_lab.cli import build_parser, main

BIN = "/cifar-10-binary.tar.gz"


@pytest.fixture(autouse=True)
def no_real_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("NNDL_LAB_DATA_DIR", str(tmp_path / "env-cache"))


def test_download_then_info(tmp_path, capsys):
    cache = tmp_path / "cache"
    archive = binary_archive()
    with serve({BIN: Route(archive)}) as server:
        argv = ["data", "download", "cifar10", "--data-dir", str(cache)]
        argv += ["--url", server.url(BIN), "--md5", md5(archive)]
        assert main(argv) == 0
    captured = capsys.readouterr()
    assert f"CIFAR-10 is ready in {cache / 'cifar-10-batches-bin'}" in captured.out
    assert "100%" in captured.err  # the progress bar

    assert main(["data", "info", "--data-dir", str(cache)]) == 0
    out = capsys.readouterr().out
    assert f"cache directory: {cache} (from --data-dir)" in out
    assert "digits:  shipped with nndl-lab" in out and "checksum OK" in out
    assert f"cifar10: ready, {cache / 'cifar-10-batches-bin'}" in out
    assert "binary format" in out and "complete" in out
    # The kept fixture archive is checked against the official MD5.
    assert f"MD5 MISMATCH: {md5(archive)}, expected c32a1d4ab5d03f1284b67883e8d87530" in out


def test_download_failure_exit_code_and_message(tmp_path, capsys):
    cache = tmp_path / "cache"
    with serve({}) as server:  # every path is a 404
        code = main(
            ["data", "download", "cifar10", "--data-dir", str(cache)]
            + ["--url", server.url(BIN), "--no-progress"]
        )
    assert code == 1
    captured = capsys.readouterr()
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1, captured.err
    assert lines[0].startswith("nndl-lab: error: download of ")
    assert "HTTP 404 Not Found" in lines[0]
    assert "Traceback" not in captured.err and captured.out == ""
    assert listing(cache) == []


def test_download_bad_md5_argument(tmp_path, capsys):
    code = main(["data", "download", "cifar10", "--data-dir", str(tmp_path), "--md5", "nope"])
    assert code == 1
    assert "md5 must be 32 hex digits" in capsys.readouterr().err


def test_download_unreachable(tmp_path, capsys):
    argv = ["data", "download", "cifar10", "--data-dir", str(tmp_path / "c")]
    assert main(argv + ["--url", closed_port_url(), "--no-progress"]) == 1
    assert "could not download" in capsys.readouterr().err


@pytest.mark.parametrize(
    "argv",
    [
        [],
        ["data"],
        ["data", "download"],
        ["data", "download", "mnist"],
        ["data", "download", "digits"],
        ["data", "info", "--bogus"],
        ["nonsense"],
    ],
)
def test_usage_errors_exit_2(argv, capsys):
    assert main(argv) == 2
    assert "usage: nndl-lab" in capsys.readouterr().err


def test_help_and_version_exit_0(capsys):
    assert main(["--help"]) == 0
    assert "data" in capsys.readouterr().out
    assert main(["--version"]) == 0
    assert capsys.readouterr().out.startswith("nndl-lab ")


def test_info_empty_cache_uses_env(tmp_path, capsys):
    assert main(["data", "info"]) == 0
    out = capsys.readouterr().out
    assert f"cache directory: {tmp_path / 'env-cache'} (from $NNDL_LAB_DATA_DIR" in out
    assert "does not exist yet" in out
    assert "cifar10: not downloaded" in out and "nndl-lab data download cifar10" in out


def test_info_reports_leftovers_and_incomplete(tmp_path, capsys):
    cache = tmp_path / "c"
    (cache / "cifar-10-batches-bin").mkdir(parents=True)
    (cache / ".cifar-10-binary.tar.gz.abc.part").write_bytes(b"partial")
    assert main(["data", "info", "--data-dir", str(cache)]) == 0
    out = capsys.readouterr().out
    assert "cifar10: not ready" in out
    assert "DAMAGED" in out
    assert "leftover from an interrupted run" in out and ".abc.part" in out


def test_parser_is_extensible():
    """Another command group registers on the same subparsers object."""
    parser = build_parser()
    (subparsers,) = [a for a in parser._actions if a.dest == "command"]
    assert set(subparsers.choices) >= {"data"}


def test_module_entry_point_subprocess(tmp_path):
    env = {**os.environ, "NNDL_LAB_DATA_DIR": str(tmp_path / "sub")}
    result = subprocess.run(
        [sys.executable, "-m", "nndl_lab.cli", "data", "info"],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert f"cache directory: {tmp_path / 'sub'}" in result.stdout
    assert "digits:" in result.stdout and "cifar10:" in result.stdout

    usage = subprocess.run(
        [sys.executable, "-m", "nndl_lab.cli", "data", "download"],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert usage.returncode == 2
    assert "usage:" in usage.stderr
