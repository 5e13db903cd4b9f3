"""Recorded results (``nndl-lab reproduce --record``): written whole, read back as written.

The recording the book ships is checked against a re-run on CIFAR-10 in
``test_book_cifar10.py`` (marked ``cifar10``); here the mechanism is tested on
the digits, hermetically.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from nndl_lab.cli import main
from nndl_lab.data import get_data
from nndl_lab.experiments import (
    compare_update_rules,
    data_fingerprint,
    load_recorded,
    record_results,
)
from nndl_lab.experiments.recorded import RECORDED_PATH


@pytest.fixture(scope="module")
def digits():
    return get_data("digits", verbose=False)


def test_record_then_load_gives_the_experiment_functions_results(digits, tmp_path):
    path = tmp_path / "recording.json"
    recorded = record_results(digits, ["optimizers"], seed=3, data_label="digits", path=path)
    expected = compare_update_rules(digits, seed=3)  # what the experiment returns, independently
    loaded = load_recorded(path=path)
    assert set(loaded) == {"optimizers"}
    for rule, run in expected.items():
        for key in ("loss_history", "train_acc_history", "val_acc_history"):
            np.testing.assert_array_equal(loaded["optimizers"][rule][key], run[key])
            np.testing.assert_array_equal(recorded["optimizers"][rule][key], run[key])
        assert loaded["optimizers"][rule]["best_val_acc"] == run["best_val_acc"]
        assert loaded["optimizers"][rule]["diverged_at"] is None
    meta = loaded.meta
    assert meta["seed"] == 3 and meta["data_name"] == "digits"
    assert meta["data_fingerprint"] == data_fingerprint(digits)
    assert meta["split_sizes"] == {"y_train": 1197, "y_val": 300, "y_test": 300}
    assert meta["input_dim"] == 64
    rms = float(np.sqrt(np.mean(np.square(digits["X_train"], dtype=np.float64))))
    assert meta["input_rms"] == pytest.approx(rms, rel=1e-12)
    assert loaded.label.startswith("digits, recorded ") and loaded.label.endswith("seed 3")
    assert load_recorded("optimizers", path=path).keys() == expected.keys()
    # written whole: no temporary file left beside it, and readable by others
    assert [p.name for p in tmp_path.iterdir()] == ["recording.json"]
    assert path.stat().st_mode & 0o044 == 0o044


def test_fingerprint_changes_with_any_byte(digits):
    changed = dict(digits)
    changed["X_val"] = digits["X_val"].copy()
    changed["X_val"][0, 0, 0, 0] += 1.0
    assert data_fingerprint(changed) != data_fingerprint(digits)
    assert data_fingerprint(dict(digits)) == data_fingerprint(digits)


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"names": ["no-such"]}, ValueError, "names"),
        ({"names": "optimizers"}, ValueError, "names"),
        ({"seed": -1}, ValueError, "seed"),
        ({"data_label": 3}, TypeError, "data_label"),
    ],
)
def test_bad_arguments_are_refused_before_any_work(digits, tmp_path, kwargs, error, match):
    with pytest.raises(error, match=match):
        record_results(digits, path=tmp_path / "r.json", **kwargs)
    assert not any(tmp_path.iterdir())


def test_path_in_a_missing_folder_is_refused(digits, tmp_path):
    with pytest.raises(ValueError, match="path"):
        record_results(digits, ["optimizers"], path=tmp_path / "missing" / "r.json")


def test_load_refuses_what_is_not_a_recording(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(ValueError, match="not a recording"):
        load_recorded(path=bad)
    bad.write_text(json.dumps({"format": 99, "meta": {}, "results": {}}))
    with pytest.raises(ValueError, match="format"):
        load_recorded(path=bad)
    with pytest.raises(FileNotFoundError):
        load_recorded(path=tmp_path / "absent.json")


def test_the_shipped_recording_is_cifar10_with_every_experiment():
    recorded = load_recorded()
    assert recorded.meta["data_name"] == "cifar10"
    assert "JPEG copy" in recorded.meta["data_label"]
    assert set(recorded) == {
        "optimizers",
        "adaptive",
        "batchnorm",
        "weight-scale",
        "dropout",
        "capstone",
        "capstone-dropout",
    }
    assert recorded.meta["split_sizes"] == {"y_train": 49000, "y_val": 1000, "y_test": 1000}
    assert len(recorded["weight-scale"]["weight_scales"]) == 20
    assert RECORDED_PATH.stat().st_size < 400_000


def test_cli_record(tmp_path, capsys):
    path = tmp_path / "cli.json"
    code = main(
        ["reproduce", "optimizers", "--data", "digits", "--no-progress", "--record", str(path)]
    )
    assert code == 0
    out = capsys.readouterr().out
    assert "recorded 1 experiments" in out and str(path) in out
    assert set(load_recorded(path=path)) == {"optimizers"}
