r"""The training loop, written once for the Solver and the batched trainer.

One loop (:func:`run`) drives both :class:`nndl_lab.solver.Solver` (one net)
and the batched trainer of :mod:`nndl_lab.experiments` (K nets at once). Per
iteration ``t`` (0-based) it

1. computes the loss and gradients of every net still training on its
   minibatch (``trainer.forward_backward(t)`` → losses, shape (K,));
2. stops the nets whose loss is not finite, before their update (the
   *divergence stop*: ``trainer.stop(diverged, t + 1)``; the loop ends when no
   net is left);
3. updates the others (``trainer.update()``);
4. at the end of an epoch multiplies every learning rate by ``lr_decay``
   (:func:`decay_learning_rates`);
5. after the first iteration and at the end of every epoch measures the
   accuracies and keeps the parameters of the best validation accuracy so far
   (``trainer.check(t)``, with :func:`improved` deciding).

:class:`Schedule` says how many iterations, epochs and checks a run makes.

Book: chapter 1 (the Solver), chapter 8 (learning-rate decay).
"""

from __future__ import annotations

import contextlib

import numpy as np

__all__ = ["Schedule", "run", "improved", "decay_learning_rates", "errstate"]


class Schedule:
    """How many iterations and accuracy checks training on ``num_train`` samples makes.

    An epoch is ``max(num_train // batch_size, 1)`` iterations (minibatches
    are drawn with replacement, as in the homework). The accuracies are
    checked after the first iteration and at the end of every epoch, so there
    are ``num_epochs + 1`` checks (``num_epochs`` when an epoch is one
    iteration: the first iteration is then also the first epoch end).

    Parameters
    ----------
    num_train, batch_size, num_epochs : int
    """

    def __init__(self, num_train, batch_size, num_epochs):
        self.iterations_per_epoch = max(int(num_train) // int(batch_size), 1)
        self.num_epochs = int(num_epochs)
        self.num_iterations = self.num_epochs * self.iterations_per_epoch
        self.num_checks = self.num_epochs + (self.iterations_per_epoch != 1)

    def is_epoch_end(self, t):
        """Whether iteration ``t`` (0-based) ends an epoch."""
        return (t + 1) % self.iterations_per_epoch == 0

    def is_check(self, t):
        """Whether the accuracies are measured after iteration ``t``."""
        return t == 0 or self.is_epoch_end(t)


def improved(val_acc, best_val_acc, have_best):
    """Where a check's validation accuracy becomes the best so far (arrays or scalars).

    The first check always counts (even at accuracy 0), later ones only when
    strictly better: ``val_acc > best_val_acc or not have_best``.
    """
    return np.logical_or(np.greater(val_acc, best_val_acc), np.logical_not(have_best))


def decay_learning_rates(configs, lr_decay):
    """Multiply the ``learning_rate`` of every config by ``lr_decay`` (a number or an array).

    A config's learning rate may be a Python number (the Solver) or a float64
    array (the batched trainer's per-net rates): both are multiplied in float64,
    so a stacked net's rate stays exactly its Solver run's.
    """
    for config in configs:
        if "learning_rate" in config:
            config["learning_rate"] = config["learning_rate"] * lr_decay


@contextlib.contextmanager
def errstate():
    """numpy's error state while training.

    A diverging run overflows on its way to NaN (the loop detects the
    non-finite loss and stops that net), and underflow (the exponential of a
    very negative score) is ordinary in a softmax; neither is an error here.
    """
    with np.errstate(over="ignore", invalid="ignore", divide="ignore", under="ignore"):
        yield


def run(schedule, trainer, start=0):
    """Run iterations ``start, ..., schedule.num_iterations - 1`` of ``trainer``.

    ``trainer`` provides:

    - ``forward_backward(t)`` → the losses of the nets still training, (K,);
    - ``after_step(t, losses)``: bookkeeping after the losses are known (the
      histories, progress lines);
    - ``stop(diverged, iteration)``: take the nets where ``diverged`` is True
      out of training at 1-based ``iteration``; returns how many are left;
    - ``update()``: apply the update rule to the nets left;
    - ``optim_configs``: the configs whose learning rates decay, and ``lr_decay``;
    - ``end_epoch()``: after an epoch's last update (its counter), before the check;
    - ``check(t)``: measure accuracies, keep the best parameters;
    - ``after_check(t, epoch_end)``: e.g. write a checkpoint at an epoch's end.

    Returns
    -------
    int
        The number of iterations made (``num_iterations`` unless every net diverged).
    """
    t = start
    with errstate():
        for t in range(start, schedule.num_iterations):
            losses = trainer.forward_backward(t)
            trainer.after_step(t, losses)
            finite = np.isfinite(losses)
            if not finite.all() and trainer.stop(~finite, t + 1) == 0:
                return t + 1
            trainer.update()
            epoch_end = schedule.is_epoch_end(t)
            if epoch_end:
                trainer.end_epoch()
                decay_learning_rates(trainer.optim_configs.values(), trainer.lr_decay)
            if t == 0 or epoch_end:
                trainer.check(t)
            trainer.after_check(t, epoch_end)
    return schedule.num_iterations if schedule.num_iterations > start else start
