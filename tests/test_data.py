"""The digits, loading CIFAR-10 folders (binary and Python), the restricted
unpickler, ``get_data`` and the cache directory."""

from __future__ import annotations

import io
import os
import pickle
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
from _cifar_fixtures import (
    binary_members,
    default_fixture,
    forged_pickle,
    python_batch_bytes,
    python_members,
    write_folder,
)

from nndl_lab import data
from nndl_lab.data import (
    DataError,
    Dataset,
    find_cifar10,
    get_CIFAR10_data,
    get_cifar10_data,
    get_data,
    load_cifar10,
    resolve_data_dir,
)

KEYS = ["X_train", "y_train", "X_val", "y_val", "X_test", "y_test"]


@pytest.fixture(autouse=True)
def no_real_cache(tmp_path, monkeypatch):
    """Never look at or write to the user's real cache directory."""
    monkeypatch.setenv("NNDL_LAB_DATA_DIR", str(tmp_path / "empty-cache"))


@pytest.fixture
def binary_cache(tmp_path):
    root = tmp_path / "cache-bin"
    write_folder(root, binary_members(default_fixture()))
    return root


@pytest.fixture
def python_cache(tmp_path):
    root = tmp_path / "cache-py"
    write_folder(root, python_members(default_fixture()))
    return root


# --- digits ---------------------------------------------------------------------


def test_digits_layout_dtypes_ranges():
    d = get_data("digits", verbose=False)
    assert isinstance(d, dict) and isinstance(d, Dataset)
    assert list(d) == KEYS
    assert d.name == "digits"
    assert "1197 train / 300 val / 300 test" in d.description
    assert d.classes == tuple("0123456789")
    for split, n in [("train", 1197), ("val", 300), ("test", 300)]:
        X, y = d[f"X_{split}"], d[f"y_{split}"]
        assert X.shape == (n, 1, 8, 8) and X.dtype == np.float32
        assert y.shape == (n,) and y.dtype == np.int64
        assert y.min() == 0 and y.max() == 9
    # Mean-subtracted with the training mean: train mean is zero per pixel.
    assert np.abs(d["X_train"].mean(axis=0)).max() < 1e-4


def test_digits_values_scaled_and_mean_subtracted():
    """Against the raw 0..16 file: pixels × 255/16, minus the training mean."""
    raw_images, raw_labels = data.load_digits_raw()
    order = np.random.default_rng(0).permutation(1797)
    train, val, test = order[:1197], order[1197:1497], order[1497:]
    plain = get_data("digits", subtract_mean=False, verbose=False)
    for key, idx in [("train", train), ("val", val), ("test", test)]:
        expected = raw_images[idx].astype(np.float64) * 255 / 16
        np.testing.assert_allclose(plain[f"X_{key}"][:, 0], expected, rtol=1e-6)
        np.testing.assert_array_equal(plain[f"y_{key}"], raw_labels[idx])
    assert plain["X_train"].min() == 0 and plain["X_train"].max() == 255

    centred = get_data("digits", verbose=False)
    mean = (raw_images[train].astype(np.float64) * 255 / 16).mean(axis=0)
    for key in ("train", "val", "test"):
        np.testing.assert_allclose(
            centred[f"X_{key}"][:, 0], plain[f"X_{key}"][:, 0] - mean, atol=1e-4
        )


def test_digits_file_matches_scikit_learn():
    """The shipped file is exactly scikit-learn's bundled copy."""
    sklearn_datasets = pytest.importorskip("sklearn.datasets")
    reference = sklearn_datasets.load_digits()
    images, labels = data.load_digits_raw()
    assert images.dtype == np.uint8 and labels.dtype == np.uint8
    np.testing.assert_array_equal(images, reference.images)
    np.testing.assert_array_equal(labels, reference.target)


def test_digits_split_fixed_when_training_shrinks():
    full = get_data("digits", verbose=False, subtract_mean=False)
    small = get_data("digits", num_training=50, verbose=False, subtract_mean=False)
    assert small["X_train"].shape == (50, 1, 8, 8)
    np.testing.assert_array_equal(small["X_train"], full["X_train"][:50])
    for key in ("X_val", "y_val", "X_test", "y_test"):
        np.testing.assert_array_equal(small[key], full[key])
    # Disjoint splits covering all 1797 images.
    train, val, test = data._digits.digits_split_indices(1197, 300, 300)
    assert sorted(np.concatenate([train, val, test]).tolist()) == list(range(1797))
    again = get_data("digits", verbose=False, subtract_mean=False)
    for key in KEYS:
        np.testing.assert_array_equal(again[key], full[key])


def test_digits_can_use_every_image():
    d = get_data("digits", num_training=1797, num_validation=0, num_test=0, verbose=False)
    assert d["X_train"].shape == (1797, 1, 8, 8)
    assert d["X_val"].shape == (0, 1, 8, 8) and d["X_test"].shape == (0, 1, 8, 8)


@pytest.mark.parametrize(
    ("kwargs", "exc", "fragment"),
    [
        ({"num_training": 1500}, ValueError, "num_training + num_validation + num_test = 2100"),
        ({"num_validation": -3}, ValueError, "num_validation must be >= 0"),
        ({"num_training": 0}, ValueError, "num_training must be >= 1"),
        ({"num_test": 2.5}, TypeError, "num_test must be an int"),
        ({"num_training": np.int64(10)}, None, None),
        ({"subtract_mean": 1}, TypeError, "subtract_mean"),
        ({"verbose": "no"}, TypeError, "verbose"),
    ],
)
def test_digits_argument_checks(kwargs, exc, fragment):
    if exc is None:
        assert get_data("digits", verbose=False, **kwargs)["X_train"].shape[0] == 10
        return
    with pytest.raises(exc) as err:
        get_data("digits", **{"verbose": False, **kwargs})
    assert fragment in str(err.value)


def test_digits_without_network_or_scikit_learn(tmp_path):
    """In a fresh interpreter where importing scikit-learn fails and every
    socket raises, the digits still load."""
    script = textwrap.dedent(
        """
        import socket, sys
        sys.modules["sklearn"] = None  # import sklearn -> ImportError

        class NoNetwork(socket.socket):
            def __init__(self, *args, **kwargs):
                raise OSError("network disabled in this test")

        socket.socket = NoNetwork
        socket.create_connection = lambda *a, **k: NoNetwork()

        from nndl_lab.data import get_data

        d = get_data("auto")
        assert d.name == "digits", d.name
        assert d["X_train"].shape == (1197, 1, 8, 8)
        d = get_data("digits", verbose=False)
        assert "sklearn" not in sys.modules or sys.modules["sklearn"] is None
        print("ok")
        """
    )
    env = {**os.environ, "NNDL_LAB_DATA_DIR": str(tmp_path / "nothing-here")}
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, env=env, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert "Using the digits data set (offline default)" in result.stdout
    assert result.stdout.strip().endswith("ok")


def test_corrupt_digits_file_is_reported(tmp_path):
    bad = tmp_path / "digits.npz"
    images, labels = data.load_digits_raw()
    images = images.copy()
    images[0, 0, 0] += 1
    np.savez_compressed(bad, images=images, labels=labels)
    with pytest.raises(DataError, match="checksum"):
        data.load_digits_raw(bad)
    bad.write_bytes(b"not a zip")
    with pytest.raises(DataError, match="cannot be read"):
        data.load_digits_raw(bad)


# --- get_data ------------------------------------------------------------------------


def test_get_data_auto_uses_digits_without_cache(tmp_path, capsys):
    d = get_data("auto", data_dir=tmp_path / "nothing")
    assert d.name == "digits"
    out = capsys.readouterr().out
    assert out == (
        "Using the digits data set (offline default): 1197 train / 300 val / 300 test, "
        "1×8×8 images. Run `nndl-lab data download cifar10` for CIFAR-10.\n"
    )
    # The default name is "auto", and the cache directory comes from the env.
    assert get_data(verbose=False).name == "digits"


def test_get_data_auto_uses_cached_cifar(binary_cache, capsys):
    d = get_data("auto", num_training=80, num_validation=20, num_test=20, data_dir=binary_cache)
    assert d.name == "cifar10"
    assert d["X_train"].shape == (80, 3, 32, 32)
    out = capsys.readouterr().out
    assert out.startswith("Using the CIFAR-10 data set (from ")
    assert "80 train / 20 val / 20 test, 3×32×32 images." in out
    assert str(binary_cache / "cifar-10-batches-bin") in d.description


def test_get_data_auto_ignores_incomplete_cache(binary_cache, capsys):
    (binary_cache / "cifar-10-batches-bin" / "data_batch_4.bin").unlink()
    assert get_data("auto", data_dir=binary_cache, verbose=False).name == "digits"


def test_get_data_auto_never_downloads(tmp_path, monkeypatch):
    import urllib.request

    def refuse(*args, **kwargs):
        raise AssertionError("get_data('auto') must not touch the network")

    monkeypatch.setattr(urllib.request, "urlopen", refuse)
    assert get_data("auto", data_dir=tmp_path, verbose=False).name == "digits"
    assert list(tmp_path.iterdir()) == []


def test_get_data_cifar10_explicit(python_cache, capsys):
    d = get_data("cifar10", num_training=90, num_validation=10, num_test=5, data_dir=python_cache)
    assert d.name == "cifar10" and d["X_test"].shape == (5, 3, 32, 32)


def test_get_data_rejects_unknown_name():
    with pytest.raises(ValueError, match="name must be one of 'auto', 'cifar10', 'digits'"):
        get_data("mnist")
    with pytest.raises(ValueError, match="name must be one of"):
        get_data(None)


def test_get_data_rejects_bad_data_dir():
    with pytest.raises(TypeError, match="data_dir"):
        get_data("digits", data_dir=3, verbose=False)


def test_dataset_repr_pickle_and_items():
    d = get_data("digits", num_training=10, verbose=False)
    assert repr(d).startswith("Dataset(name='digits', X_train=float32(10, 1, 8, 8)")
    clone = pickle.loads(pickle.dumps(d))
    assert clone.name == "digits" and clone.description == d.description
    assert list(clone) == KEYS
    shapes = {k: v.shape for k, v in d.items()}
    assert shapes["y_val"] == (300,)
    with pytest.raises(ValueError, match="exactly the keys"):
        Dataset({"X_train": 1}, name="x", description="x", classes=())


# --- CIFAR-10 folders ---------------------------------------------------------------------


@pytest.mark.parametrize("layout", ["binary", "python"])
def test_load_cifar10_folder_round_trip(binary_cache, python_cache, layout):
    fx = default_fixture()
    root = binary_cache if layout == "binary" else python_cache
    folder = find_cifar10(root)
    assert folder == root / (
        "cifar-10-batches-bin" if layout == "binary" else "cifar-10-batches-py"
    )
    X_train, y_train, X_test, y_test = load_cifar10(folder)
    assert X_train.dtype == np.uint8 and y_train.dtype == np.int64
    np.testing.assert_array_equal(X_train, fx.X_train)
    np.testing.assert_array_equal(y_train, fx.y_train)
    np.testing.assert_array_equal(X_test, fx.X_test)
    np.testing.assert_array_equal(y_test, fx.y_test)


@pytest.mark.parametrize("layout", ["binary", "python"])
def test_get_cifar10_data_split_and_preprocess(binary_cache, python_cache, layout):
    """The homework's get_CIFAR10_data: first N train, next M val, first K test,
    minus the mean of the kept training images; (N, 3, 32, 32) float32."""
    fx = default_fixture()
    root = binary_cache if layout == "binary" else python_cache
    # The batches folder itself works as data_dir too (cs231n's layout).
    folder = root / ("cifar-10-batches-bin" if layout == "binary" else "cifar-10-batches-py")
    for data_dir in (root, folder):
        d = get_cifar10_data(37, 41, 13, data_dir=data_dir, download=False)
        Xtr = fx.X_train.astype(np.float64)
        mean = Xtr[:37].mean(axis=0)
        np.testing.assert_allclose(d["X_train"], Xtr[:37] - mean, atol=1e-4)
        np.testing.assert_allclose(d["X_val"], Xtr[37:78] - mean, atol=1e-4)
        np.testing.assert_allclose(d["X_test"], fx.X_test[:13].astype(np.float64) - mean, atol=1e-4)
        np.testing.assert_array_equal(d["y_train"], fx.y_train[:37])
        np.testing.assert_array_equal(d["y_val"], fx.y_train[37:78])
        np.testing.assert_array_equal(d["y_test"], fx.y_test[:13])
        for key in KEYS:
            assert d[key].dtype == (np.float32 if key[0] == "X" else np.int64)
        assert np.abs(d["X_train"].mean(axis=0)).max() < 1e-3

    raw = get_CIFAR10_data(100, 0, 20, subtract_mean=False, data_dir=root, download=False)
    np.testing.assert_array_equal(raw["X_train"], fx.X_train.astype(np.float32))
    assert raw["X_val"].shape == (0, 3, 32, 32)


def test_get_cifar10_alias():
    assert get_CIFAR10_data is get_cifar10_data


def test_get_cifar10_data_without_download(tmp_path):
    with pytest.raises(FileNotFoundError, match="nndl-lab data download cifar10"):
        get_cifar10_data(data_dir=tmp_path, download=False)


def test_binary_batch_with_bad_label(binary_cache):
    path = binary_cache / "cifar-10-batches-bin" / "test_batch.bin"
    raw = bytearray(path.read_bytes())
    raw[3073] = 10  # the second record's label byte
    path.write_bytes(bytes(raw))
    with pytest.raises(DataError, match="label 10 outside 0..9"):
        load_cifar10(binary_cache / "cifar-10-batches-bin")


def test_load_cifar10_missing_files(tmp_path):
    with pytest.raises(FileNotFoundError, match="is not a CIFAR-10 folder"):
        load_cifar10(tmp_path)


# --- the restricted unpickler ----------------------------------------------------------------


def test_forged_pickle_in_user_folder_is_refused_and_never_runs(python_cache, tmp_path):
    sentinel = tmp_path / "pwned"
    payload = forged_pickle(sentinel)
    # The payload really does run code with a plain unpickler...
    pickle.loads(payload)
    assert sentinel.read_text() == "pwned"
    sentinel.unlink()
    # ...but not through the loader.
    (python_cache / "cifar-10-batches-py" / "data_batch_1").write_bytes(payload)
    with pytest.raises(pickle.UnpicklingError) as err:
        get_cifar10_data(10, 1, 1, data_dir=python_cache, download=False)
    assert "refusing to load global builtins.exec" in str(err.value)
    assert "data_batch_1" in str(err.value)
    assert not sentinel.exists()
    # The user's folder is theirs: it is refused, not deleted.
    assert (python_cache / "cifar-10-batches-py" / "data_batch_1").exists()


@pytest.mark.parametrize(
    "payload",
    [
        b"\x80\x02cos\nsystem\nU\x04trueq\x85R.",  # GLOBAL os.system
        # STACK_GLOBAL (protocol 4)
        b"\x80\x04\x95\x00\x00\x00\x00\x00\x00\x00\x00\x8c\x02os\x8c\x06system\x93.",
        b"(S'true'\nios\nsystem\n.",  # INST
        b"\x80\x02cnumpy\nload\n.",  # a numpy global that is not allowed
        b"\x80\x02cnumpy.core.multiarray\nscalar\n.",
        b"\x80\x02cbuiltins\ngetattr\n.",
        b"\x80\x02P1\n.",  # persistent id
    ],
    ids=["global", "stack-global", "inst", "numpy-load", "numpy-scalar", "getattr", "persid"],
)
def test_restricted_unpickler_refuses(payload):
    from nndl_lab.data._cifar10 import restricted_load

    with pytest.raises(pickle.UnpicklingError, match="refusing"):
        restricted_load(io.BytesIO(payload))


def test_restricted_unpickler_refuses_object_dtype():
    from nndl_lab.data._cifar10 import restricted_load

    payload = b"\x80\x02cnumpy\ndtype\nU\x02O8K\x00K\x01\x87R."
    with pytest.raises(pickle.UnpicklingError, match="object dtype"):
        restricted_load(io.BytesIO(payload))


def test_restricted_unpickler_loads_a_real_batch():
    from nndl_lab.data._cifar10 import restricted_load

    fx = default_fixture()
    batch = restricted_load(io.BytesIO(python_batch_bytes(*fx.test_batch, "testing batch")))
    assert set(batch) == {b"batch_label", b"labels", b"data", b"filenames"}
    assert batch[b"batch_label"] == b"testing batch"
    np.testing.assert_array_equal(batch[b"data"], fx.X_test.reshape(20, 3072))
    assert batch[b"labels"] == [int(v) for v in fx.y_test]


def test_python_batch_with_wrong_contents(python_cache):
    folder = python_cache / "cifar-10-batches-py"
    fx = default_fixture()
    images, labels = fx.test_batch
    bad_labels = labels.copy()
    bad_labels[0] = 12
    (folder / "test_batch").write_bytes(python_batch_bytes(images, bad_labels, "t"))
    with pytest.raises(DataError, match="label outside 0..9"):
        load_cifar10(folder)
    (folder / "test_batch").write_bytes(b"\x80\x02]q\x00.")  # an empty list
    with pytest.raises(DataError, match="not a CIFAR-10 python batch"):
        load_cifar10(folder)
    (folder / "test_batch").write_bytes(b"\x80\x02}(U\x04data")  # truncated
    with pytest.raises(DataError, match="not a readable CIFAR-10 python batch"):
        load_cifar10(folder)


# --- cache directory -------------------------------------------------------------------------


def test_cache_dir_resolution(tmp_path, monkeypatch):
    monkeypatch.setenv("NNDL_LAB_DATA_DIR", str(tmp_path / "env"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert resolve_data_dir(tmp_path / "arg") == tmp_path / "arg"
    assert resolve_data_dir(str(tmp_path / "arg")) == tmp_path / "arg"
    assert resolve_data_dir() == tmp_path / "env"
    monkeypatch.delenv("NNDL_LAB_DATA_DIR")
    assert resolve_data_dir() == tmp_path / "xdg" / "nndl-lab"
    monkeypatch.setenv("XDG_CACHE_HOME", "relative/ignored")
    assert resolve_data_dir() == Path.home() / ".cache" / "nndl-lab"
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert resolve_data_dir() == tmp_path / "home" / ".cache" / "nndl-lab"
    monkeypatch.setenv("NNDL_LAB_DATA_DIR", "~/mine")
    assert resolve_data_dir() == tmp_path / "home" / "mine"


def test_cache_info(binary_cache):
    info = data.cache_info(binary_cache)
    assert info["data_dir"] == binary_cache and info["data_dir_source"] == "argument"
    assert info["digits"]["ok"] is True
    assert info["cifar10"]["found"] == binary_cache / "cifar-10-batches-bin"
    (folder,) = info["cifar10"]["folders"]
    assert folder["format"] == "binary" and folder["complete"] is True
    assert folder["size"] == 6 * 20 * 3073 + len("\n".join(data.CIFAR10_CLASSES)) + 2 + 21
    assert info["cifar10"]["archives"] == [] and info["leftovers"] == []
