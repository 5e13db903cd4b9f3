"""Issue 14: the package's promises kept under a hostile and careless user.

One section per defect of the issue (numbered as there). Every test failed
before the fix: a clear error naming the argument before any work, nothing
half-written trusted or left behind, same seed same numbers.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import pickle
import re
import stat
import struct
import subprocess
import sys
import time
import zipfile

import numpy as np
import pytest
from _cifar_fixtures import (
    Route,
    binary_archive,
    binary_members,
    default_fixture,
    listing,
    md5,
    python_members,
    serve,
    tar_gz,
    write_folder,
)

import nndl_lab.data._fetch as fetch
from nndl_lab import FullyConnectedNet, Solver, cli, layers
from nndl_lab import experiments as ex
from nndl_lab.data import (
    DataError,
    DownloadError,
    UnsafeArchiveError,
    cache_info,
    download_cifar10,
    find_cifar10,
    get_cifar10_data,
    get_data,
    load_cifar10,
)
from nndl_lab.data._cifar10 import restricted_load
from nndl_lab.gradient_check import (
    eval_numerical_gradient,
    eval_numerical_gradient_array,
    rel_error,
)

BIN = "/cifar-10-binary.tar.gz"
PY = "/cifar-10-python.tar.gz"


@pytest.fixture(autouse=True)
def no_real_cache(tmp_path, monkeypatch):
    """Never look at or write to the user's real cache directory."""
    monkeypatch.setenv("NNDL_LAB_DATA_DIR", str(tmp_path / "must-not-be-used"))


@pytest.fixture(scope="module")
def digits():
    return get_data("digits", verbose=False)


@pytest.fixture
def no_training(monkeypatch):
    """Any training step fails the test: errors must come before any work."""

    def fail(*args, **kwargs):
        raise AssertionError("training started before the bad argument was reported")

    monkeypatch.setattr(Solver, "_step", fail)
    monkeypatch.setattr(ex.batched, "_train", fail)


def small_solver(data, model, **kwargs):
    options = dict(num_epochs=2, batch_size=50, verbose=False, seed=0)
    options.update(kwargs)
    return Solver(model, data, **options)


# --- 1. resuming with dropout is exact ----------------------------------------------------------


def test_1_resume_with_dropout_continues_exactly(digits, tmp_path):
    def net():
        return FullyConnectedNet([30], input_dim=64, dropout_keep_ratio=0.5, seed=0)

    full = small_solver(digits, net(), checkpoint_name=tmp_path / "run")
    full.train()
    resumed = small_solver(digits, net())
    resumed.load_checkpoint(tmp_path / "run_epoch_1.npz")
    resumed.train()
    assert len(full.loss_history) == len(resumed.loss_history)
    assert resumed.loss_history == full.loss_history
    assert resumed.val_acc_history == full.val_acc_history
    for name, value in full.model.params.items():
        np.testing.assert_array_equal(resumed.model.params[name], value)


# --- 2. concurrent installs into one directory ----------------------------------------------------


def _install(root, url, digest, force, rounds, results):
    try:
        for _ in range(rounds):
            folder = download_cifar10(root, url=url, md5=digest, progress=False, force=force)
            X_train, _, _, _ = load_cifar10(folder)
        results.put(("ok", int(X_train.shape[0])))
    except BaseException as exc:  # report everything to the parent
        results.put(("error", repr(exc)))


def _read_while_installing(root, stop, results):
    """Load CIFAR-10 whenever it is there: every load must be complete and exact."""
    expected = default_fixture()
    loads = 0
    try:
        while not stop.is_set():
            if find_cifar10(root) is None:
                continue
            got = get_cifar10_data(100, 0, 20, data_dir=root, download=False, subtract_mean=False)
            np.testing.assert_array_equal(got["y_train"], expected.y_train)
            np.testing.assert_array_equal(got["X_test"], expected.X_test.astype(np.float32))
            loads += 1
        results.put(("reader", loads))
    except BaseException as exc:
        results.put(("error", f"reader: {exc!r}"))


@pytest.mark.parametrize(
    ("force", "exchange"), [(False, True), (True, True), (True, False)], ids=str
)
def test_2_concurrent_installs_take_turns_and_readers_never_see_a_partial_folder(
    tmp_path, monkeypatch, force, exchange
):
    """Two installers and a reader in three processes; with ``force`` the folder is
    replaced while the reader reads, by an atomic exchange or (``exchange`` False, as
    where the system has none) by two renames."""
    if not exchange:
        import nndl_lab.data._cifar10 as cifar10

        monkeypatch.setattr(cifar10, "_exchange", lambda a, b: False)
    ctx = multiprocessing.get_context("fork")
    root = tmp_path / "cache"
    archive = binary_archive()
    results, stop = ctx.Queue(), ctx.Event()
    rounds = 4 if force else 1  # forced re-installs race with the reader: several rounds
    with serve({BIN: Route(archive)}) as server:
        if force:  # a first copy for the readers, then two forced re-installs at once
            download_cifar10(root, url=server.url(BIN), md5=md5(archive), progress=False)
        reader = ctx.Process(target=_read_while_installing, args=(root, stop, results))
        reader.start()
        installers = [
            ctx.Process(
                target=_install, args=(root, server.url(BIN), md5(archive), force, rounds, results)
            )
            for _ in range(2)
        ]
        for process in installers:
            process.start()
        for process in installers:
            process.join(60)
        stop.set()
        reader.join(60)
        outcomes = [results.get(timeout=10) for _ in range(3)]
        requests = list(server.requests)
    errors = [detail for kind, detail in outcomes if kind == "error"]
    assert errors == []
    assert sorted(outcomes)[:2] == [("ok", 100), ("ok", 100)]
    # Without force the second installer waited for the first and used its folder.
    assert len(requests) == (1 + 2 * rounds if force else 1)
    # One folder, one archive, no temporary leftovers.
    members = [name for name, _ in binary_members(default_fixture())]
    assert listing(root) == sorted(["cifar-10-binary.tar.gz", *members])


def test_2_without_fcntl_a_lock_directory_serializes_installs(tmp_path, monkeypatch):
    import nndl_lab.data._cifar10 as cifar10

    monkeypatch.setattr(cifar10, "fcntl", None)
    root = tmp_path / "cache"
    archive = binary_archive()
    with serve({BIN: Route(archive)}) as server:
        download_cifar10(root, url=server.url(BIN), md5=md5(archive), progress=False)
        assert sorted(p.name for p in root.iterdir()) == [
            "cifar-10-batches-bin",
            "cifar-10-binary.tar.gz",
        ]
        # A lock held by someone else: the install waits, then says what to do.
        (root / ".cifar-10-install.lock").mkdir()
        monkeypatch.setattr(cifar10, "_LOCK_WAIT", 0.3)
        with pytest.raises(DataError, match="holds .*cifar-10-install.lock; if none is running"):
            download_cifar10(
                root, url=server.url(BIN), md5=md5(archive), progress=False, force=True
            )
        assert server.requests == [BIN]


# --- 3. batchnorm with batch size 1 ---------------------------------------------------------------


def test_3_batchnorm_with_batches_of_one_is_refused_before_training(digits, no_training):
    model = FullyConnectedNet([10], input_dim=64, use_batchnorm=True, seed=0)
    with pytest.raises(ValueError, match="batch_size must be >= 2"):
        Solver(model, digits, batch_size=1, verbose=False)
    with pytest.raises(ValueError, match="batch_size"):
        ex.train_net(digits, [10], use_batchnorm=True, batch_size=1)
    with pytest.raises(ValueError, match="batch_size must be >= 2"):
        ex.train_batched(digits, [10], use_batchnorm=True, batch_size=1, weight_scale=[1e-2, 1e-1])
    # The sweep trains its baseline first: the error must come before that.
    with pytest.raises(ValueError, match="batch_size must be >= 2"):
        ex.weight_scale_sweep(digits, [1e-2], hidden_dims=[10], batch_size=1, batched=False)
    for batched in (True, False):
        with pytest.raises(ValueError, match="batch_size must be >= 2"):
            ex.hyperparameter_search(
                digits, [1e-3], hidden_dims=[10], use_batchnorm=True, batch_size=1, batched=batched
            )
    # Without batchnorm a batch of one is fine.
    Solver(FullyConnectedNet([10], input_dim=64), digits, batch_size=1, verbose=False)


def test_3_batchnorm_layer_refuses_one_sample_in_train_mode():
    x = np.ones((1, 3))
    with pytest.raises(ValueError, match="at least 2 samples"):
        layers.batchnorm_forward(x, np.ones(3), np.zeros(3), {"mode": "train"})
    # Test mode normalizes with the running statistics: one sample is fine there.
    out, _ = layers.batchnorm_forward(x, np.ones(3), np.zeros(3), {"mode": "test"})
    np.testing.assert_allclose(out, x / np.sqrt(1e-5))


# --- 4. load_checkpoint checks everything, then restores all at once ----------------------------


def _checkpoint(tmp_path, digits, name="run", **net_options):
    model = FullyConnectedNet([20], input_dim=64, seed=0, **net_options)
    small_solver(digits, model, num_epochs=1, checkpoint_name=tmp_path / name).train()
    return tmp_path / f"{name}_epoch_1.npz"


def _forge(source, target, change):
    with np.load(source) as archive:
        arrays = {key: archive[key] for key in archive.files}
    meta = json.loads(str(arrays.pop("meta")))
    change(arrays, meta)
    np.savez(target, meta=np.array(json.dumps(meta)), **arrays)
    return target


def _snapshot(solver):
    return (
        {name: value.copy() for name, value in solver.model.params.items()},
        [dict(p) for p in getattr(solver.model, "bn_params", [])],
        list(solver.loss_history),
        solver.epoch,
        solver._batch_rng.bit_generator.state,
        solver.model.dropout_rng.bit_generator.state,
    )


def _assert_untouched(solver, before):
    params, bn_params, losses, epoch, batch_state, dropout_state = before
    assert set(solver.model.params) == set(params)
    for name, value in params.items():
        np.testing.assert_array_equal(solver.model.params[name], value)
    assert [dict(p) for p in getattr(solver.model, "bn_params", [])] == bn_params
    assert solver.loss_history == losses and solver.epoch == epoch
    assert solver._batch_rng.bit_generator.state == batch_state
    assert solver.model.dropout_rng.bit_generator.state == dropout_state


def _fresh(digits, **net_options):
    model = FullyConnectedNet([20], input_dim=64, seed=1, **net_options)
    return small_solver(digits, model, num_epochs=1)


def test_4_batchnorm_checkpoint_into_a_plain_net_is_refused(tmp_path, digits):
    bn_file = _checkpoint(tmp_path, digits, use_batchnorm=True)
    solver = _fresh(digits)
    before = _snapshot(solver)
    with pytest.raises(ValueError, match="another model"):
        solver.load_checkpoint(bn_file)
    _assert_untouched(solver, before)
    assert "gamma1" not in solver.model.params
    solver.train()  # the next training still works


def test_4_plain_checkpoint_into_a_batchnorm_net_is_refused(tmp_path, digits):
    plain = _checkpoint(tmp_path, digits)
    solver = _fresh(digits, use_batchnorm=True)
    before = _snapshot(solver)
    with pytest.raises(ValueError, match="checkpoint"):
        solver.load_checkpoint(plain)
    _assert_untouched(solver, before)


def _drop_best_b1(arrays, meta):
    arrays.pop("best_params/b1")


def _reshape_best_w1(arrays, meta):
    arrays["best_params/W1"] = arrays["best_params/W1"][:, :5]


def _nan_learning_rate(arrays, meta):
    meta["optim_scalars"]["W1"]["learning_rate"] = float("nan")


def _float64_params(arrays, meta):
    for key in list(arrays):
        arrays[key] = arrays[key].astype(np.float64)


def _bad_eval_rng(arrays, meta):
    meta["eval_rng"] = {"bit_generator": "PCG64", "state": "garbage"}


def _bad_dropout_rng(arrays, meta):
    meta["dropout_rng"] = {"bit_generator": "MT19937", "state": {}}


def _short_history(arrays, meta):
    meta["loss_history"] = meta["loss_history"][:-1]


def _accuracy_above_one(arrays, meta):
    meta["val_acc_history"][0] = 1.5


def _learning_rate_true(arrays, meta):
    meta["optim_scalars"]["b1"]["learning_rate"] = True


@pytest.mark.parametrize(
    ("change", "fragment"),
    [
        (_drop_best_b1, "best parameters"),
        (_reshape_best_w1, "best parameters W1 of shape"),
        (_nan_learning_rate, "learning_rate"),
        (_float64_params, "dtype float64"),
        (_bad_eval_rng, "eval_rng"),
        (_bad_dropout_rng, "dropout_rng"),
        (_short_history, "inconsistent"),
        (_accuracy_above_one, "accuracies outside"),
        (_learning_rate_true, "learning_rate"),
    ],
)
def test_4_forged_checkpoint_is_refused_and_nothing_is_restored(tmp_path, digits, change, fragment):
    good = _checkpoint(tmp_path, digits)
    forged = _forge(good, tmp_path / "forged.npz", change)
    solver = _fresh(digits)
    before = _snapshot(solver)
    with pytest.raises(ValueError, match=re.escape(fragment)) as info:
        solver.load_checkpoint(forged)
    assert "forged.npz" in str(info.value)
    _assert_untouched(solver, before)


def _write_garbage(path):
    path.write_bytes(b"not a zip file at all")


def _write_truncated(path, good):
    path.write_bytes(good.read_bytes()[:200])


def _write_without_meta(path):
    np.savez(path, x=np.zeros(3))


def _write_bad_json(path):
    np.savez(path, meta=np.array("{not json"))


def _write_pickled_meta(path):
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("meta.npy", pickle.dumps({"a": 1}))


@pytest.mark.parametrize(
    "write",
    [_write_garbage, _write_truncated, _write_without_meta, _write_bad_json, _write_pickled_meta],
)
def test_4_corrupt_checkpoint_file_is_a_named_error(tmp_path, digits, write):
    good = _checkpoint(tmp_path, digits)
    path = tmp_path / "corrupt.npz"
    if write is _write_truncated:
        write(path, good)
    else:
        write(path)
    solver = _fresh(digits)
    before = _snapshot(solver)
    with pytest.raises(ValueError, match="is not a readable Solver checkpoint|is not a Solver"):
        solver.load_checkpoint(path)
    _assert_untouched(solver, before)


def test_4_load_checkpoint_argument_type(digits):
    with pytest.raises(TypeError, match="filename"):
        _fresh(digits).load_checkpoint(42)


# --- 5. the CLI: one line and exit 1, never a traceback -----------------------------------------


def _forged_python_cache(root, payload):
    members = python_members(default_fixture())
    members = [(name, payload if name.endswith("data_batch_3") else data) for name, data in members]
    write_folder(root, members)


HUGE_PICKLE = b"\x80\x04\x8e" + struct.pack("<Q", 10 * 2**40) + b"abc"  # a 10 TB bytes object
FORGED_PICKLE = b"\x80\x02cbuiltins\neval\nX\x04\x00\x00\x001+1\x85R."


@pytest.mark.parametrize("payload", [FORGED_PICKLE, HUGE_PICKLE])
def test_5_forged_python_cache_is_reported_in_one_line(tmp_path, capsys, payload):
    root = tmp_path / "cache"
    _forged_python_cache(root, payload)
    code = cli.main(["data", "info", "--data-dir", str(root)])
    out, err = capsys.readouterr()
    assert code == 0 and "Traceback" not in out + err
    assert "cifar10: not ready" in out
    assert "DAMAGED" in out and "data_batch_3" in out


@pytest.mark.parametrize("payload", [FORGED_PICKLE, HUGE_PICKLE])
def test_5_reproduce_on_a_forged_cache_is_one_line(tmp_path, capsys, payload, no_training):
    root = tmp_path / "cache"
    _forged_python_cache(root, payload)
    argv = ["reproduce", "dropout", "--data", "cifar10", "--data-dir", str(root), "--no-progress"]
    code = cli.main(argv)
    err = capsys.readouterr().err
    assert code == 1
    assert err.count("\n") == 1 and "data_batch_3" in err and "Traceback" not in err


def test_5_seed_beyond_int64_is_refused_before_any_work(capsys, no_training):
    code = cli.main(["reproduce", "dropout", "--data", "digits", "--seed", str(2**63)])
    err = capsys.readouterr().err
    assert code == 1
    assert err.count("\n") == 1 and "--seed" in err and "Traceback" not in err


@pytest.mark.parametrize("url", ["http://127.0.0.1:1/x\r\nX-Injected: 1", "http://a b/c", "x"])
def test_5_url_with_control_characters_is_refused(tmp_path, capsys, url):
    root = tmp_path / "cache"
    code = cli.main(["data", "download", "cifar10", "--data-dir", str(root), "--url", url])
    err = capsys.readouterr().err
    assert code == 1 and err.count("\n") == 1 and "url must" in err
    assert not root.exists() or listing(root) == []


def test_5_empty_data_dir_is_refused_and_nothing_lands_in_the_current_directory(tmp_path):
    env = {**os.environ, "NNDL_LAB_DATA_DIR": str(tmp_path / "env")}
    for argv in (
        ["data", "download", "cifar10", "--data-dir", ""],
        ["data", "info", "--data-dir", ""],
    ):
        done = subprocess.run(
            [sys.executable, "-m", "nndl_lab.cli", *argv],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert done.returncode == 1, done.stderr
        assert done.stderr.count("\n") == 1 and "data_dir must be a non-empty path" in done.stderr
    assert listing(tmp_path) == []


def test_5_closed_output_pipe_is_one_line_not_a_traceback(tmp_path):
    """`nndl-lab data info | head -c 10`: the reader is gone before the output is written."""
    env = {**os.environ, "NNDL_LAB_DATA_DIR": str(tmp_path / "env")}
    read_end, write_end = os.pipe()
    os.close(read_end)  # the reader left before anything was written: deterministic EPIPE
    try:
        done = subprocess.run(
            [sys.executable, "-m", "nndl_lab.cli", "data", "info"],
            stdout=write_end,
            stderr=subprocess.PIPE,
            env=env,
            text=True,
            timeout=120,
        )
    finally:
        os.close(write_end)
    assert done.returncode == 1
    assert "Traceback" not in done.stderr and "Exception ignored" not in done.stderr
    assert done.stderr.count("\n") == 1 and "broken pipe" in done.stderr


def test_5_pipe_into_head_through_the_shell(tmp_path):
    env = {**os.environ, "NNDL_LAB_DATA_DIR": str(tmp_path / "env")}
    done = subprocess.run(
        f"{sys.executable} -m nndl_lab.cli data info | head -c 10",
        shell=True,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.stdout == "cache dire"
    assert "Traceback" not in done.stderr


# --- 6. a corrupt cache: get_data("auto") falls back, data info tells -----------------------------


def _corrupt_binary_cache(root):
    members = binary_members(default_fixture())
    bad = bytearray(members[2][1])
    bad[0] = 200  # a label outside 0..9, at a size every check of sizes accepts
    members[2] = (members[2][0], bytes(bad))
    write_folder(root, members)


@pytest.mark.parametrize("layout", ["binary", "python"])
def test_6_get_data_auto_falls_back_to_digits_on_a_corrupt_cache(tmp_path, capsys, layout):
    root = tmp_path / "cache"
    if layout == "binary":
        _corrupt_binary_cache(root)
    else:
        _forged_python_cache(root, FORGED_PICKLE)
    assert find_cifar10(root) is not None  # sizes alone look fine
    with pytest.warns(UserWarning, match="cached CIFAR-10 .* is not used: it cannot be read"):
        data = get_data("auto", data_dir=root, num_training=50)
    assert data.name == "digits"
    assert "digits" in capsys.readouterr().out
    info = cache_info(root)
    assert info["cifar10"]["found"] is None
    assert [folder["complete"] for folder in info["cifar10"]["folders"]] == [False]
    assert info["cifar10"]["folders"][0]["problem"]


def test_6_tiny_valid_folder_with_default_split(tmp_path, capsys):
    root = tmp_path / "cache"
    write_folder(root, binary_members(default_fixture()))  # 100 training images
    with pytest.warns(UserWarning, match="default split 49000 / 1000 / 1000"):
        assert get_data("auto", data_dir=root).name == "digits"
    with pytest.raises(ValueError, match="no split sizes were given") as info:
        get_data("cifar10", data_dir=root)
    assert "num_training, num_validation and num_test" in str(info.value)
    # Split sizes the caller gave are the caller's: used, or an error about them that
    # says which sizes were defaults.
    sizes = dict(num_training=60, num_validation=20, num_test=10)
    assert get_data("auto", data_dir=root, **sizes).name == "cifar10"
    with pytest.raises(ValueError, match=r"num_training \+ num_validation = 2000") as info:
        get_data("auto", data_dir=root, num_training=1000)
    assert "num_validation = 1000 and num_test = 1000 were the defaults" in str(info.value)
    capsys.readouterr()


# --- 7. downloads have a deadline and a size cap; extraction has limits -----------------------


def test_7_a_trickling_server_meets_the_deadline(tmp_path, monkeypatch):
    monkeypatch.setattr(fetch, "DOWNLOAD_DEADLINE", 1.0)
    root = tmp_path / "cache"
    body = b"x" * 1000  # one byte every 0.05 s: 50 s without a deadline
    start = time.monotonic()
    with serve({BIN: Route(body, trickle=0.05)}) as server:
        with pytest.raises(DownloadError, match="took longer than 1 s"):
            download_cifar10(root, url=server.url(BIN), md5=md5(body), progress=False, timeout=5)
    assert time.monotonic() - start < 10
    assert listing(root) == []


def test_7_a_stalled_transfer_is_abandoned(tmp_path, monkeypatch):
    monkeypatch.setattr(fetch, "STALL_SECONDS", 0.5)
    monkeypatch.setattr(fetch, "STALL_BYTES", 100)
    root = tmp_path / "cache"
    body = b"x" * 1000  # 20 bytes a second: under 100 bytes in half a second
    with serve({BIN: Route(body, trickle=0.05)}) as server:
        with pytest.raises(DownloadError, match="stalled: fewer than 100 bytes in 0.5 s"):
            download_cifar10(root, url=server.url(BIN), md5=md5(body), progress=False, timeout=5)
    assert listing(root) == []


@pytest.mark.parametrize("send_length", [True, False])
def test_7_a_body_larger_than_the_cap_is_refused(tmp_path, monkeypatch, send_length):
    monkeypatch.setattr(fetch, "MAX_DOWNLOAD_BYTES", 100_000)
    monkeypatch.setattr(fetch, "_CHUNK_SIZE", 4096)
    root = tmp_path / "cache"
    body = bytes(3_000_000)
    written = []
    real_fdopen = os.fdopen

    class Counting:
        """The temporary file, counting what is written to it."""

        def __init__(self, handle):
            self.handle, self.total = handle, 0
            written.append(self)

        def write(self, chunk):
            self.total += len(chunk)
            return self.handle.write(chunk)

        def __enter__(self):
            return self

        def __exit__(self, *exc_info):
            self.handle.close()

    monkeypatch.setattr(fetch.os, "fdopen", lambda *a, **k: Counting(real_fdopen(*a, **k)))
    with serve({BIN: Route(body, send_length=send_length)}) as server:
        with pytest.raises(DownloadError, match="announces|exceeded") as info:
            download_cifar10(root, url=server.url(BIN), md5=md5(body), progress=False)
    assert "100,000 bytes" in str(info.value)
    assert len(written) == 1 and written[0].total <= 100_000
    assert listing(root) == []


def test_7_extraction_keeps_only_the_data_set_within_limits(tmp_path, monkeypatch):
    fx = default_fixture()
    root = tmp_path / "cache"
    archive = tar_gz([*binary_members(fx), ("cifar-10-batches-bin/junk.bin", bytes(2_000_000))])
    with serve({BIN: Route(archive)}) as server:
        folder = download_cifar10(root, url=server.url(BIN), md5=md5(archive), progress=False)
    assert not (folder / "junk.bin").exists()
    assert sorted(p.name for p in folder.iterdir()) == sorted(
        name.rsplit("/", 1)[1] for name, _ in binary_members(fx)[1:]
    )
    # A member larger than a CIFAR-10 file can be, or too much in all: nothing is kept.
    for limit in ("MAX_MEMBER_BYTES", "MAX_EXTRACTED_BYTES"):
        other = tmp_path / limit
        with monkeypatch.context() as patch:
            patch.setattr(fetch, limit, 50_000 if limit == "MAX_MEMBER_BYTES" else 200_000)
            with serve({BIN: Route(archive)}) as server:
                with pytest.raises(UnsafeArchiveError, match="more than"):
                    download_cifar10(other, url=server.url(BIN), md5=md5(archive), progress=False)
        assert listing(other) == []


# --- 8. errors before work ------------------------------------------------------------------------


def test_8_named_weight_scale_in_a_sweep_is_refused_before_training(digits, no_training):
    with pytest.raises(ValueError, match=r"weight_scales\[1\] must be a positive number"):
        ex.weight_scale_sweep(digits, [1e-2, "he"], hidden_dims=[10], num_epochs=1)
    with pytest.raises(ValueError, match=r"weight_scales\[1\] must be a positive number"):
        ex.weight_scale_sweep(digits, [1e-2, "he"], hidden_dims=[10], batched=False)


def test_8_seed_beyond_int64_is_refused_before_training(digits, no_training):
    for call in (
        lambda: ex.train_batched(digits, [10], seed=2**63),
        lambda: ex.train_batched(digits, [10], seed=[0, 2**63]),
        lambda: ex.train_net(digits, [10], seed=2**63),
    ):
        with pytest.raises(ValueError, match=re.escape("seed")):
            call()
    with pytest.raises(ValueError, match="seed"):
        Solver(FullyConnectedNet([10], input_dim=64), digits, seed=2**63)


@pytest.mark.parametrize("key", ["X_train", "y_val"])
def test_8_data_as_python_lists_is_refused_with_the_key(digits, key, no_training):
    data = {**digits, key: digits[key].tolist()}
    for call in (
        lambda: Solver(FullyConnectedNet([10], input_dim=64), data, verbose=False),
        lambda: ex.train_net(data, [10]),
        lambda: ex.train_batched(data, [10]),
    ):
        with pytest.raises(TypeError, match=re.escape(f"data['{key}'] must be a numpy array")):
            call()


def test_8_checkpoint_name_under_a_file_is_refused_at_construction(digits, tmp_path):
    a_file = tmp_path / "a_file"
    a_file.write_text("")
    for name in (a_file / "x", a_file / "deeper" / "x"):
        with pytest.raises(ValueError, match="checkpoint_name"):
            Solver(FullyConnectedNet([10], input_dim=64), digits, checkpoint_name=name)
    with pytest.raises(ValueError, match="checkpoint_name"):
        Solver(FullyConnectedNet([10], input_dim=64), digits, checkpoint_name="")
    # A directory that does not exist yet is fine: it is created at the first save.
    Solver(FullyConnectedNet([10], input_dim=64), digits, checkpoint_name=tmp_path / "new" / "x")
    assert not (tmp_path / "new").exists()


# --- 9. NaN or inf in the data --------------------------------------------------------------------


@pytest.mark.parametrize(("key", "value"), [("X_train", np.nan), ("X_val", np.inf)])
def test_9_non_finite_data_is_named_not_divergence(digits, no_training, key, value):
    bad = digits[key].copy()
    bad[3, 0, 2, 2] = value
    data = {**digits, key: bad}
    for call in (
        lambda: Solver(FullyConnectedNet([10], input_dim=64), data, verbose=False),
        lambda: ex.train_net(data, [10]),
        lambda: ex.train_batched(data, [10]),
    ):
        with pytest.raises(ValueError, match=re.escape(f"data['{key}'] holds NaN or infinite")):
            call()


# --- 10. raw errors become named ones -------------------------------------------------------------


@pytest.mark.parametrize(
    ("options", "error", "fragment"),
    [
        ({"seed": -1}, ValueError, "seed"),
        ({"seed": "abc"}, ValueError, "seed"),
        ({"seed": 1.5}, ValueError, "seed"),
        ({"checkpoint_name": 123}, TypeError, "checkpoint_name"),
        ({"verbose": "no"}, TypeError, "verbose"),
        ({"progress": 1}, TypeError, "progress"),
        ({"optim_config": {"learning_rate": True}}, TypeError, "learning_rate"),
    ],
)
def test_10_solver_options(digits, options, error, fragment):
    with pytest.raises(error, match=re.escape(fragment)):
        Solver(FullyConnectedNet([10], input_dim=64), digits, **options)


@pytest.mark.parametrize(
    ("timeout", "error"),
    [
        ("5", TypeError),
        (0, ValueError),
        (float("nan"), ValueError),
        (-1.0, ValueError),
        (True, TypeError),
        (float("inf"), ValueError),
    ],
)
def test_10_download_timeout(tmp_path, timeout, error):
    with serve({}) as server:
        with pytest.raises(error, match="timeout"):
            download_cifar10(tmp_path / "c", url=server.url(BIN), timeout=timeout)
        assert server.requests == []


@pytest.mark.parametrize("loss", [layers.softmax_loss, layers.svm_loss])
def test_10_losses_with_no_samples(loss):
    with pytest.raises(ValueError, match="at least one sample"):
        loss(np.zeros((0, 3)), np.zeros(0, dtype=int))


def test_10_check_accuracy_arguments(digits):
    solver = Solver(FullyConnectedNet([10], input_dim=64), digits, verbose=False)
    with pytest.raises(ValueError, match="num_samples"):
        solver.check_accuracy(digits["X_val"], digits["y_val"], num_samples=0)
    with pytest.raises(ValueError, match="no samples"):
        solver.check_accuracy(digits["X_val"][:0], digits["y_val"][:0])


def _shape_errors():
    rng = np.random.default_rng(0)
    x, w, b = rng.standard_normal((4, 5)), rng.standard_normal((5, 3)), rng.standard_normal(3)
    _, affine_cache = layers.affine_forward(x, w, b)
    _, bn_cache = layers.batchnorm_forward(x, np.ones(5), np.zeros(5), {"mode": "train"})
    _, drop_cache = layers.dropout_forward(x, {"mode": "train", "p": 0.5, "seed": 0})
    return [
        ("bias (N, M)", lambda: layers.affine_forward(x, w, np.zeros((4, 3))), "b must have shape"),
        ("bias (1,)", lambda: layers.affine_forward(x, w, np.zeros(1)), "b must have shape (3,)"),
        ("w 1-D", lambda: layers.affine_forward(x, np.zeros(5), b), "w shape (D, M)"),
        ("x list", lambda: layers.affine_forward(x.tolist(), w, b), "x must be a numpy array"),
        (
            "affine dout",
            lambda: layers.affine_backward(np.zeros((4, 1)), affine_cache),
            "dout must have shape (4, 3)",
        ),
        (
            "relu dout",
            lambda: layers.relu_backward(np.zeros((4, 1)), x),
            "dout must have shape (4, 5)",
        ),
        (
            "gamma",
            lambda: layers.batchnorm_forward(x, np.ones(1), np.zeros(5), {"mode": "train"}),
            "gamma must have shape (5,)",
        ),
        (
            "bn x 3-D",
            lambda: layers.batchnorm_forward(x[None], np.ones(5), np.zeros(5), {"mode": "test"}),
            "x must have shape (N, D)",
        ),
        (
            "running_mean",
            lambda: layers.batchnorm_forward(
                x, np.ones(5), np.zeros(5), {"mode": "test", "running_mean": np.zeros(2)}
            ),
            "running_mean",
        ),
        (
            "bn dout",
            lambda: layers.batchnorm_backward(np.zeros((4, 1)), bn_cache),
            "dout must have shape (4, 5)",
        ),
        (
            "bn alt dout",
            lambda: layers.batchnorm_backward_alt(np.zeros((1, 5)), bn_cache),
            "dout must have shape (4, 5)",
        ),
        (
            "dropout dout",
            lambda: layers.dropout_backward(np.zeros((4, 1)), drop_cache),
            "dout must have shape (4, 5)",
        ),
    ]


@pytest.mark.parametrize("case", range(len(_shape_errors())))
def test_10_layer_shapes_are_checked_not_broadcast(case):
    label, call, fragment = _shape_errors()[case]
    with pytest.raises((ValueError, TypeError), match=re.escape(fragment)):
        call()


@pytest.mark.parametrize(
    ("bn_param", "fragment"),
    [
        ({"mode": "train", "eps": 0.0}, "bn_param['eps']"),
        ({"mode": "train", "eps": -1e-5}, "bn_param['eps']"),
        ({"mode": "train", "eps": float("nan")}, "bn_param['eps']"),
        ({"mode": "train", "momentun": 0.9}, "unknown key(s) ['momentun']"),
        ({"mode": "train", "momentum": True}, "bn_param['momentum']"),
    ],
)
def test_10_bn_param_is_checked(bn_param, fragment):
    x = np.random.default_rng(0).standard_normal((4, 3))
    with pytest.raises(ValueError, match=re.escape(fragment)):
        layers.batchnorm_forward(x, np.ones(3), np.zeros(3), bn_param)


def test_10_numerical_gradient_arguments():
    f = lambda v: float(np.sum(v**2))  # noqa: E731
    with pytest.raises(TypeError, match="floating-point"):
        eval_numerical_gradient(f, np.arange(3), verbose=False)
    with pytest.raises(ValueError, match="h must be a finite number > 0"):
        eval_numerical_gradient(f, np.ones(3), verbose=False, h=0)
    with pytest.raises(TypeError, match="floating-point"):
        eval_numerical_gradient_array(lambda v: v, np.arange(3), np.ones(3))
    with pytest.raises(ValueError, match="h must be"):
        eval_numerical_gradient_array(lambda v: v, np.ones(3), np.ones(3), h=-1e-5)
    # The formula, in float64: d/dx sum(x^2) = 2x.
    x = np.array([1.0, -2.0, 0.5])
    np.testing.assert_allclose(eval_numerical_gradient(f, x, verbose=False), 2 * x, rtol=1e-8)


def test_10_rel_error_refuses_different_shapes():
    with pytest.raises(ValueError, match=re.escape("shape (3,) and y has shape (3, 1)")):
        rel_error(np.ones(3), np.ones((3, 1)))
    assert rel_error(np.array([1.0, 2.0]), np.array([1.0, 2.0])) == 0.0
    assert rel_error(1.0, 3.0) == pytest.approx(0.5)


def test_10_learning_rate_true_is_refused_by_the_experiments(digits, no_training):
    with pytest.raises(TypeError, match="learning_rate"):
        ex.train_net(digits, [10], optim_config={"learning_rate": True})


# --- 11. underflow is not an error ------------------------------------------------------------


def test_11_train_under_errstate_raise_ignores_underflow(digits):
    # Large weights: softmax probabilities of the wrong classes underflow to zero.
    model = FullyConnectedNet([20], input_dim=64, weight_scale=1.0, seed=0, dtype=np.float64)
    scores = model.loss(digits["X_train"][:50])
    shifted = scores - scores.max(axis=1, keepdims=True)
    assert shifted.min() < np.log(np.finfo(np.float64).tiny)  # exp does underflow here
    solver = small_solver(digits, model, num_epochs=1)
    with np.errstate(all="raise"):
        solver.train()
    assert len(solver.loss_history) == solver.num_iterations or solver.diverged_at


# --- 12. the same numbers with any number of BLAS threads -------------------------------------


def test_12_float32_solver_numbers_do_not_depend_on_blas_threads(digits):
    threadpoolctl = pytest.importorskip("threadpoolctl")

    def run(threads):
        with threadpoolctl.threadpool_limits(threads, user_api="blas"):
            model = FullyConnectedNet([100, 100], input_dim=64, use_batchnorm=True, seed=0)
            solver = small_solver(digits, model, update_rule="adam", batch_size=100)
            solver.train()
        return solver.loss_history

    assert run(1) == run(2)


# --- 13. a batch re-pickled by Python 3 with protocol 2 ---


def test_13_protocol_2_batch_written_by_python_3_loads(tmp_path):
    fx = default_fixture()
    root = tmp_path / "cifar-10-batches-py"
    root.mkdir()
    names = [f"data_batch_{i}" for i in range(1, 6)]
    for name, (images, labels) in [
        *zip(names, fx.train_batches, strict=True),
        ("test_batch", fx.test_batch),
    ]:
        batch = {"data": images.reshape(len(labels), 3072), "labels": [int(v) for v in labels]}
        payload = pickle.dumps(batch, protocol=2)
        assert b"_codecs\nencode" in payload  # what makes this case special
        (root / name).write_bytes(payload)
    X_train, y_train, X_test, y_test = load_cifar10(root)
    np.testing.assert_array_equal(X_train, fx.X_train)
    np.testing.assert_array_equal(y_train, fx.y_train)
    np.testing.assert_array_equal(X_test, fx.X_test)


@pytest.mark.parametrize(
    "payload",
    [
        b"\x80\x02c_codecs\nencode\nX\x01\x00\x00\x00aX\x05\x00\x00\x00rot13\x86R.",
        b"\x80\x02c_codecs\nencode\nK\x01X\x06\x00\x00\x00latin1\x86R.",
        b"\x80\x02c_codecs\ndecode\nX\x01\x00\x00\x00aX\x06\x00\x00\x00latin1\x86R.",
    ],
)
def test_13_codecs_is_allowed_only_as_latin1_encoding_of_a_str(payload):
    import io

    with pytest.raises(pickle.UnpicklingError):
        restricted_load(io.BytesIO(payload))


# --- 14. leftovers and the kept archive's mode ---


def _umask():
    current = os.umask(0)
    os.umask(current)
    return current


def test_14_a_later_install_removes_leftovers_and_keeps_a_readable_archive(tmp_path):
    root = tmp_path / "cache"
    root.mkdir()
    # What a killed install leaves: a partial download and a partial extraction.
    (root / ".cifar-10-binary.tar.gz.k3j2l1.part").write_bytes(b"partial")
    (root / ".cifar-10-binary.tar.gz.a9b8c7.part").mkdir()
    (root / ".cifar-10-binary.tar.gz.a9b8c7.part" / "half").write_bytes(b"x")
    (root / "notes.txt").write_text("mine")  # not ours: kept
    assert len(cache_info(root)["leftovers"]) == 2
    archive = binary_archive()
    with serve({BIN: Route(archive)}) as server:
        download_cifar10(root, url=server.url(BIN), md5=md5(archive), progress=False)
    assert sorted(p.name for p in root.iterdir()) == [
        "cifar-10-batches-bin",
        "cifar-10-binary.tar.gz",
        "notes.txt",
    ]
    assert cache_info(root)["leftovers"] == []
    expected = 0o666 & ~_umask()
    assert stat.S_IMODE((root / "cifar-10-binary.tar.gz").stat().st_mode) == expected
    folder_mode = stat.S_IMODE((root / "cifar-10-batches-bin").stat().st_mode)
    assert folder_mode & 0o700 == 0o700
    if not _umask() & 0o044:  # the usual umask 022: others may read the shared cache
        assert folder_mode & 0o055 == 0o055
        assert (root / "cifar-10-binary.tar.gz").stat().st_mode & 0o044 == 0o044


def test_14_interrupted_download_then_success_leaves_nothing_behind(tmp_path, monkeypatch):
    root = tmp_path / "cache"
    archive = binary_archive()
    with serve({BIN: Route(archive, content_length=len(archive) + 10)}) as server:
        with pytest.raises(DownloadError):
            download_cifar10(root, url=server.url(BIN), md5=md5(archive), progress=False)
    assert listing(root) == []
    with serve({BIN: Route(archive)}) as server:
        download_cifar10(root, url=server.url(BIN), md5=md5(archive), progress=False)
    assert not [p for p in root.iterdir() if p.name.endswith(".part")]
