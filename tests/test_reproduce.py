"""``nndl-lab reproduce``: the command, its tables, and the homework's findings on the digits."""

from __future__ import annotations

import re

import numpy as np
import pytest

from nndl_lab import experiments as ex
from nndl_lab.cli import main
from nndl_lab.data import get_data
from nndl_lab.experiments.reproduce import EXPERIMENTS


@pytest.fixture(scope="module")
def digits():
    return dict(get_data("digits", verbose=False))


def _table_rows(text):
    """The data rows of a printed table: the lines after the dashed rule."""
    lines = text.splitlines()
    rule = next(i for i, line in enumerate(lines) if set(line.replace(" ", "")) == {"-"})
    return [line.split() for line in lines[rule + 1 :] if line.strip()]


def test_reproduce_dropout_prints_the_table(digits, capsys):
    assert main(["reproduce", "dropout", "--data", "digits", "--seed", "3"]) == 0
    out, err = capsys.readouterr()
    assert EXPERIMENTS["dropout"].title in out
    rows = _table_rows(out)
    expected = ex.dropout_sweep(digits, seed=3)
    assert [float(r[0]) for r in rows] == [1.0, 0.75, 0.5, 0.25]
    np.testing.assert_allclose([float(r[3]) for r in rows], expected["gap"], atol=5e-4)
    np.testing.assert_allclose([float(r[2]) for r in rows], expected["final_val_acc"], atol=5e-4)
    assert "reproduce" in err and "1/1" in err  # the progress bar, on stderr


def test_reproduce_all_runs_every_experiment(capsys):
    assert main(["reproduce", "--data", "digits", "--no-progress"]) == 0
    out, err = capsys.readouterr()
    positions = [out.index(experiment.title) for experiment in EXPERIMENTS.values()]
    assert positions == sorted(positions)
    assert "experiment/s" not in err
    # the capstone row carries validation and test accuracy in [0, 1]
    capstone = out[out.index(EXPERIMENTS["capstone"].title) :]
    numbers = [float(x) for x in re.findall(r"\d\.\d{3}\b", _capstone_row(capstone))]
    assert numbers and all(0.0 <= x <= 1.0 for x in numbers[1:])


def _capstone_row(text):
    lines = text.splitlines()
    return lines[3]


def test_weight_scale_table_spread_row(digits):
    result = ex.weight_scale_sweep(digits, [1e-3, 1e-2, 1e-1], hidden_dims=[20, 20], num_epochs=2)
    rows = _table_rows(ex.format_result("weight-scale", result))
    assert len(rows) == 4
    assert [float(r[0]) for r in rows[:3]] == [1e-3, 1e-2, 1e-1]
    spread = rows[3]
    base, bn = result["baseline"]["best_val_acc"], result["batchnorm"]["best_val_acc"]
    assert float(spread[-2]) == pytest.approx(base.max() - base.min(), abs=5e-4)
    assert float(spread[-1]) == pytest.approx(bn.max() - bn.min(), abs=5e-4)
    np.testing.assert_allclose([float(r[1]) for r in rows[:3]], base, atol=5e-4)


def test_reproduce_homework_returns_the_experiment_results(digits):
    results = ex.reproduce_homework("batchnorm", digits, seed=1)
    direct = ex.batchnorm_vs_baseline(digits, seed=1)
    assert list(results) == ["batchnorm"]
    for key in ("baseline", "batchnorm"):
        np.testing.assert_array_equal(
            results["batchnorm"][key]["loss_history"], direct[key]["loss_history"]
        )
    with pytest.raises(ValueError, match=r"unknown experiment 'bogus'.*weight-scale"):
        ex.reproduce_homework("bogus", digits)


def test_bad_arguments(capsys):
    assert main(["reproduce", "bogus"]) == 2  # argparse lists the choices
    assert "invalid choice" in capsys.readouterr().err
    assert main(["reproduce", "dropout", "--data", "digits", "--seed", "-1"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("nndl-lab: error:") and "--seed" in err
    assert len(err.strip().splitlines()) == 1


# -- the homework's findings, at its settings, on the digits -----------------------------------


def test_momentum_and_nesterov_reach_a_lower_loss_than_sgd(digits):
    runs = ex.compare_update_rules(digits)
    sgd = runs["sgd"]["final_train_loss"]
    assert runs["sgd_momentum"]["final_train_loss"] < 0.6 * sgd
    assert runs["sgd_nesterov_momentum"]["final_train_loss"] < 0.6 * sgd


def test_batchnorm_is_far_less_sensitive_to_the_weight_scale(digits):
    result = ex.weight_scale_sweep(digits)
    base, bn = result["baseline"]["best_val_acc"], result["batchnorm"]["best_val_acc"]
    assert bn.max() - bn.min() < 0.5 * (base.max() - base.min())
    assert bn.min() > base.min() + 0.3
