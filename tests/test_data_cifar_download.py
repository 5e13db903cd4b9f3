"""CIFAR-10 end to end against a local HTTP server: download with progress,
checksum, safe extraction, loading, splitting, preprocessing — and every
failure leaving nothing a later call would trust."""

from __future__ import annotations

import os
import pickle
import re
import tarfile

import numpy as np
import pytest
from _cifar_fixtures import (
    Route,
    binary_archive,
    binary_members,
    closed_port_url,
    default_fixture,
    device_member,
    forged_pickle,
    hardlink_member,
    listing,
    md5,
    python_archive,
    python_members,
    serve,
    symlink_member,
    tar_gz,
)

from nndl_lab import data
from nndl_lab.data import (
    DataError,
    DownloadError,
    UnsafeArchiveError,
    download_cifar10,
    find_cifar10,
    get_cifar10_data,
)

BIN = "/cifar-10-binary.tar.gz"
PY = "/cifar-10-python.tar.gz"


@pytest.fixture
def cache(tmp_path, monkeypatch):
    """An empty cache directory; the real one (env, XDG, home) is off limits."""
    root = tmp_path / "cache"
    monkeypatch.setenv("NNDL_LAB_DATA_DIR", str(tmp_path / "must-not-be-used"))
    return root


def assert_nothing_trusted(root):
    """No archive, no extracted folder, no temporary leftovers; only the
    (possibly created) empty directory."""
    if root.exists():
        assert listing(root) == []
    assert find_cifar10(root) is None


def split_split(fx, num_training, num_validation, num_test):
    return (
        fx.X_train[:num_training],
        fx.y_train[:num_training],
        fx.X_train[num_training : num_training + num_validation],
        fx.y_train[num_training : num_training + num_validation],
        fx.X_test[:num_test],
        fx.y_test[:num_test],
    )


# --- the whole path ---------------------------------------------------------


def test_binary_download_extract_load_split_preprocess(cache, capsys):
    fx = default_fixture()
    archive = binary_archive()
    with serve({BIN: Route(archive)}) as server:
        folder = download_cifar10(cache, url=server.url(BIN), md5=md5(archive))
        assert server.requests == [BIN]
        # The progress bar went to stderr and reached the whole size.
        err = capsys.readouterr().err
        assert "cifar-10-binary.tar.gz" in err
        assert "100%" in err

        assert folder == cache / "cifar-10-batches-bin"
        assert (cache / "cifar-10-binary.tar.gz").read_bytes() == archive
        assert sorted(p.name for p in cache.iterdir()) == [
            "cifar-10-batches-bin",
            "cifar-10-binary.tar.gz",
        ]

        # Raw round trip: exactly the fixture's pixels and labels.
        X_train, y_train, X_test, y_test = data.load_cifar10(folder)
        assert X_train.dtype == np.uint8 and X_train.shape == (100, 3, 32, 32)
        np.testing.assert_array_equal(X_train, fx.X_train)
        np.testing.assert_array_equal(y_train, fx.y_train)
        np.testing.assert_array_equal(X_test, fx.X_test)
        np.testing.assert_array_equal(y_test, fx.y_test)

        # A second call finds it and touches no network.
        assert download_cifar10(cache, url=server.url(BIN), md5=md5(archive)) == folder
        got = get_cifar10_data(70, 25, 15, data_dir=cache, url=server.url(BIN), md5=md5(archive))
        assert server.requests == [BIN]

    X_tr, y_tr, X_va, y_va, X_te, y_te = split_split(fx, 70, 25, 15)
    mean = X_tr.astype(np.float64).mean(axis=0)
    assert list(got) == ["X_train", "y_train", "X_val", "y_val", "X_test", "y_test"]
    assert got.name == "cifar10"
    for key, expected in [("X_train", X_tr), ("X_val", X_va), ("X_test", X_te)]:
        assert got[key].dtype == np.float32
        assert got[key].shape == expected.shape
        np.testing.assert_allclose(got[key], expected - mean, atol=1e-4)
    for key, expected in [("y_train", y_tr), ("y_val", y_va), ("y_test", y_te)]:
        assert got[key].dtype == np.int64
        np.testing.assert_array_equal(got[key], expected)
        assert got[key].min() >= 0 and got[key].max() <= 9
    assert np.abs(got["X_train"].mean(axis=0)).max() < 1e-3


def test_downloads_into_env_dir_then_get_data_auto_uses_it(tmp_path, monkeypatch, capsys):
    archive = binary_archive()
    monkeypatch.setenv("NNDL_LAB_DATA_DIR", str(tmp_path / "env-cache"))
    with serve({BIN: Route(archive)}) as server:
        get = get_cifar10_data(80, 20, 20, url=server.url(BIN), md5=md5(archive), progress=False)
    assert (tmp_path / "env-cache" / "cifar-10-batches-bin").is_dir()
    assert get.name == "cifar10"
    assert capsys.readouterr().err == ""  # progress=False: no bar
    auto = data.get_data("auto", num_training=80, num_validation=20, num_test=20)
    assert auto.name == "cifar10"
    assert "Using the CIFAR-10 data set" in capsys.readouterr().out


def test_python_format_download_and_restricted_load(cache):
    fx = default_fixture()
    archive = python_archive()
    with serve({PY: Route(archive)}) as server:
        folder = download_cifar10(
            cache, archive_format="python", url=server.url(PY), md5=md5(archive), progress=False
        )
    assert folder == cache / "cifar-10-batches-py"
    assert find_cifar10(cache) == folder
    X_train, y_train, X_test, y_test = data.load_cifar10(folder)
    np.testing.assert_array_equal(X_train, fx.X_train)
    np.testing.assert_array_equal(y_train, fx.y_train)
    np.testing.assert_array_equal(X_test, fx.X_test)
    np.testing.assert_array_equal(y_test, fx.y_test)
    got = get_cifar10_data(99, 1, 20, data_dir=cache, download=False)
    assert got["X_train"].shape == (99, 3, 32, 32) and got["X_val"].shape == (1, 3, 32, 32)


def test_archive_placed_by_hand_is_used_without_network(cache):
    archive = binary_archive()
    cache.mkdir()
    (cache / "cifar-10-binary.tar.gz").write_bytes(archive)
    # Nothing listens at the URL: any network attempt would fail.
    folder = download_cifar10(cache, url=closed_port_url(), md5=md5(archive), progress=False)
    assert folder.is_dir()


def test_force_downloads_again(cache):
    archive = binary_archive()
    with serve({BIN: Route(archive)}) as server:
        download_cifar10(cache, url=server.url(BIN), md5=md5(archive), progress=False)
        download_cifar10(cache, url=server.url(BIN), md5=md5(archive), progress=False, force=True)
        assert server.requests == [BIN, BIN]
    assert sorted(p.name for p in cache.iterdir()) == [
        "cifar-10-batches-bin",
        "cifar-10-binary.tar.gz",
    ]


def test_corrupt_kept_archive_is_replaced(cache):
    archive = binary_archive()
    cache.mkdir()
    (cache / "cifar-10-binary.tar.gz").write_bytes(b"garbage")
    with serve({BIN: Route(archive)}) as server:
        with pytest.warns(UserWarning, match="does not match the expected MD5"):
            download_cifar10(cache, url=server.url(BIN), md5=md5(archive), progress=False)
    assert (cache / "cifar-10-binary.tar.gz").read_bytes() == archive


# --- network and checksum failures -------------------------------------------------


def test_wrong_checksum(cache):
    archive = binary_archive()
    with serve({BIN: Route(archive)}) as server, pytest.raises(DownloadError) as err:
        download_cifar10(cache, url=server.url(BIN), md5="0" * 32, progress=False)
    message = str(err.value)
    assert "checksum mismatch" in message
    assert "expected MD5 " + "0" * 32 in message and md5(archive) in message
    assert "nndl-lab data download cifar10" in message and str(cache) in message
    assert_nothing_trusted(cache)


def test_default_md5_is_the_official_one(cache):
    """Overriding only the URL still checks the publisher's MD5."""
    archive = binary_archive()
    with serve({BIN: Route(archive)}) as server, pytest.raises(DownloadError) as err:
        download_cifar10(cache, url=server.url(BIN), progress=False)
    assert data.CIFAR10_MD5 in str(err.value)
    assert data.CIFAR10_MD5 == "c32a1d4ab5d03f1284b67883e8d87530"
    assert data.CIFAR10_URL == "https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz"
    assert_nothing_trusted(cache)


def test_truncated_transfer(cache):
    archive = binary_archive()
    half = archive[: len(archive) // 2]
    route = Route(half, content_length=len(archive))
    with serve({BIN: route}) as server, pytest.raises(DownloadError) as err:
        download_cifar10(cache, url=server.url(BIN), md5=md5(archive), progress=False)
    message = str(err.value)
    assert "truncated" in message
    assert f"{len(half):,} bytes of {len(archive):,} bytes" in message
    assert "nndl-lab data download cifar10" in message
    assert_nothing_trusted(cache)


@pytest.mark.parametrize(("status", "reason"), [(404, "Not Found"), (500, "Internal Server Error")])
def test_http_error_status(cache, status, reason):
    with serve({BIN: Route(b"oops", status=status)}) as server, pytest.raises(DownloadError) as e:
        download_cifar10(cache, url=server.url(BIN), md5=md5(binary_archive()), progress=False)
    assert f"HTTP {status} {reason}" in str(e.value)
    assert "Retry with `nndl-lab data download cifar10`" in str(e.value)
    assert_nothing_trusted(cache)


def test_unreachable_server(cache):
    url = closed_port_url()
    with pytest.raises(DownloadError, match=re.escape(f"could not download {url}")) as err:
        download_cifar10(cache, url=url, progress=False, timeout=5)
    assert "nndl-lab data download cifar10" in str(err.value)
    assert_nothing_trusted(cache)


def test_interrupted_download_leaves_nothing(cache, monkeypatch):
    """Ctrl-C in the middle of the transfer: the .part file is removed."""
    import nndl_lab.data._fetch as fetch

    class Interrupting:
        def __init__(self, **kwargs):
            self.calls = 0

        def update(self, n):
            self.calls += 1
            if self.calls == 2:
                raise KeyboardInterrupt

        def close(self):
            pass

    monkeypatch.setattr(fetch, "_CHUNK_SIZE", 1024)
    monkeypatch.setattr(fetch, "_progress_bar", Interrupting)
    archive = binary_archive()
    with serve({BIN: Route(archive)}) as server, pytest.raises(KeyboardInterrupt):
        download_cifar10(cache, url=server.url(BIN), md5=md5(archive))
    assert_nothing_trusted(cache)


# --- unsafe or broken archives --------------------------------------------------------


def forged(extra):
    return tar_gz([*binary_members(default_fixture()), *extra])


@pytest.mark.parametrize(
    ("extra", "fragment"),
    [
        ([("../evil", b"escaped")], "'../evil'"),
        ([("cifar-10-batches-bin/../../evil", b"escaped")], "evil"),
        ([symlink_member("cifar-10-batches-bin/link", "/etc/passwd")], "link"),
        ([symlink_member("cifar-10-batches-bin/inner", "data_batch_1.bin")], "inner"),
        (
            [hardlink_member("cifar-10-batches-bin/hard", "cifar-10-batches-bin/test_batch.bin")],
            "hard",
        ),
        ([device_member("cifar-10-batches-bin/null")], "null"),
    ],
    ids=["dotdot", "nested-dotdot", "symlink-out", "symlink-in", "hardlink", "device"],
)
def test_unsafe_archive_member_refused(tmp_path, extra, fragment):
    cache = tmp_path / "deep" / "cache"
    archive = forged(extra)
    with serve({BIN: Route(archive)}) as server, pytest.raises(UnsafeArchiveError) as err:
        download_cifar10(cache, url=server.url(BIN), md5=md5(archive), progress=False)
    assert "refused to extract cifar-10-binary.tar.gz" in str(err.value)
    assert fragment in str(err.value)
    assert_nothing_trusted(cache)
    # Nothing landed outside the cache directory either.
    assert listing(tmp_path) == ["deep", "deep/cache"]


def test_no_tar_filter_support_refuses_to_extract(cache, monkeypatch):
    monkeypatch.delattr(tarfile, "data_filter")
    archive = binary_archive()
    with serve({BIN: Route(archive)}) as server, pytest.raises(UnsafeArchiveError) as err:
        download_cifar10(cache, url=server.url(BIN), md5=md5(archive), progress=False)
    assert "cannot be extracted safely" in str(err.value)
    assert_nothing_trusted(cache)


def test_not_a_tar_archive(cache):
    blob = os.urandom(4096)
    with serve({BIN: Route(blob)}) as server, pytest.raises(DataError) as err:
        download_cifar10(cache, url=server.url(BIN), md5=md5(blob), progress=False)
    assert "not a readable tar.gz archive" in str(err.value)
    assert_nothing_trusted(cache)


def test_archive_without_the_batches(cache):
    blob = tar_gz([("something/else.txt", b"hi")])
    with serve({BIN: Route(blob)}) as server, pytest.raises(DataError) as err:
        download_cifar10(cache, url=server.url(BIN), md5=md5(blob), progress=False)
    assert "does not hold a complete cifar-10-batches-bin/ folder" in str(err.value)
    assert_nothing_trusted(cache)


def test_corrupt_batch_size(cache):
    members = binary_members(default_fixture())
    members = [(n, d[:-1] if n.endswith("data_batch_3.bin") else d) for n, d in members]
    blob = tar_gz(members)
    with serve({BIN: Route(blob)}) as server, pytest.raises(DataError) as err:
        download_cifar10(cache, url=server.url(BIN), md5=md5(blob), progress=False)
    assert "data_batch_3.bin is not a CIFAR-10 binary batch" in str(err.value)
    assert_nothing_trusted(cache)


def test_forged_pickle_in_downloaded_archive(cache, tmp_path):
    sentinel = tmp_path / "pwned"
    members = python_members(default_fixture())
    members = [
        (n, forged_pickle(sentinel) if n.endswith("data_batch_2") else d) for n, d in members
    ]
    blob = tar_gz(members)
    with serve({PY: Route(blob)}) as server, pytest.raises(pickle.UnpicklingError) as err:
        download_cifar10(
            cache, archive_format="python", url=server.url(PY), md5=md5(blob), progress=False
        )
    assert "refusing to load global builtins.exec" in str(err.value)
    assert "data_batch_2" in str(err.value)
    assert not sentinel.exists()
    assert_nothing_trusted(cache)


# --- argument checks happen before any network ---------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "exc", "name"),
    [
        ({"num_training": 49001}, ValueError, "num_training + num_validation"),
        ({"num_validation": -1}, ValueError, "num_validation"),
        ({"num_test": 10001}, ValueError, "num_test"),
        ({"num_training": 0}, ValueError, "num_training"),
        ({"num_training": 10.0}, TypeError, "num_training"),
        ({"num_test": True}, TypeError, "num_test"),
        ({"subtract_mean": "yes"}, TypeError, "subtract_mean"),
        ({"md5": "xyz"}, ValueError, "md5"),
    ],
)
def test_bad_arguments_fail_before_download(cache, kwargs, exc, name):
    with serve({}) as server:
        with pytest.raises(exc, match=re.escape(name)):
            get_cifar10_data(**{"data_dir": cache, "url": server.url(BIN), **kwargs})
        assert server.requests == []
    assert not cache.exists() or listing(cache) == []


def test_counts_checked_against_the_files_found(cache):
    archive = binary_archive()
    with serve({BIN: Route(archive)}) as server:
        with pytest.raises(
            ValueError, match=r"num_training \+ num_validation = 101 exceeds the 100"
        ):
            get_cifar10_data(
                100, 1, 5, data_dir=cache, url=server.url(BIN), md5=md5(archive), progress=False
            )
    with pytest.raises(ValueError, match="num_test = 21 exceeds the 20 test images"):
        get_cifar10_data(10, 1, 21, data_dir=cache)


def test_download_argument_checks(cache):
    with pytest.raises(ValueError, match="archive_format"):
        download_cifar10(cache, archive_format="zip")
    with pytest.raises(TypeError, match="data_dir"):
        download_cifar10(42)
    with pytest.raises(TypeError, match="md5"):
        download_cifar10(cache, md5=123)
