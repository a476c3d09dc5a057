"""The seeds of one configuration trained together, in one process, as one vectorised step.

Each member is an ordinary run: ``run_job`` with the task function, in its own thread,
with its own folder, Trainer, callbacks, loggers, checkpoints and resume. The threads
take turns, one at a time, so each member sees the process-wide state a run relies on
(the RNGs, Hydra's config, the environment, the logging handlers) as its own: it is
swapped in and out at every turn. The members meet at every training step
(``SequenceModule.step_loss``): there one ``torch.func.vmap`` over their stacked weights
computes every member's loss and gradients, each member's h0 noise drawn from that
member's own RNG. Each member then clips, steps its own optimizer, logs, validates,
checkpoints and stops on its own; a member that stops or fails leaves the others going.

A member's numbers are its separate run's, up to the rounding of batched arithmetic
(tests/test_ensemble.py). Cells whose ``vectorised`` is False (torch's fused RNNs) gain
nothing from vmap: their members are computed one by one, and the launcher
(``hydra_plugins.contextual_rnn_ensemble``) sends such jobs to its fallback launcher.
"""

import logging
import os
import random
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import torch
from hydra.core.hydra_config import HydraConfig
from torch import nn
from torch.func import functional_call, vmap

from contextual_rnn.core.inits.base import given_noise

MEMBER = threading.local()  # .member, .lockstep: what the current thread runs in


@dataclass
class ProcessState:
    """What a run takes as its own although the process holds one of each."""

    torch_rng: torch.Tensor | None = None
    cuda_rng: list | None = None
    numpy_rng: tuple | None = None
    python_rng: tuple | None = None
    hydra: object = None
    environ: dict = field(default_factory=dict)
    log_handlers: list = field(default_factory=list)
    log_level: int = logging.WARNING

    def capture_torch_rng(self) -> None:
        self.torch_rng = torch.get_rng_state()
        if torch.cuda.is_available() and torch.cuda.is_initialized():
            self.cuda_rng = torch.cuda.get_rng_state_all()

    def restore_torch_rng(self) -> None:
        torch.set_rng_state(self.torch_rng)
        if self.cuda_rng is not None:
            torch.cuda.set_rng_state_all(self.cuda_rng)

    def capture(self) -> "ProcessState":
        self.capture_torch_rng()
        self.numpy_rng, self.python_rng = np.random.get_state(), random.getstate()
        self.hydra = HydraConfig.instance().cfg
        self.environ = dict(os.environ)
        self.log_handlers, self.log_level = list(logging.root.handlers), logging.root.level
        return self

    def restore(self) -> None:
        self.restore_torch_rng()
        np.random.set_state(self.numpy_rng)
        random.setstate(self.python_rng)
        HydraConfig.instance().cfg = self.hydra
        for key in set(os.environ) - set(self.environ):
            del os.environ[key]
        for key, value in self.environ.items():
            if os.environ.get(key) != value:
                os.environ[key] = value
        logging.root.handlers[:] = self.log_handlers
        logging.root.setLevel(self.log_level)


@dataclass(eq=False)
class Member:
    state: ProcessState
    request: tuple | None = None  # (module, batch) while waiting at a training step
    result: object = None  # its share of the batched step, or the error that stopped it
    outcome: object = None  # what its job returned (or raised)
    wakeup: threading.Condition | None = None  # notified when the turn is this member's


class Precomputed(torch.autograd.Function):
    """A member's loss whose backward hands its parameters the gradients the ensemble's
    batched step computed (Lightning zeroes gradients after the training step, before
    its backward, so they cannot simply be left in ``.grad``)."""

    @staticmethod
    def forward(ctx, loss, grads, *params):
        ctx.grads = grads
        return loss.clone()

    @staticmethod
    def backward(ctx, grad_loss):
        return None, None, *(g * grad_loss for g in ctx.grads)  # (materialised: no None)


class TrainingLoss(nn.Module):
    """``module.training_loss`` as a forward, for ``functional_call``."""

    def __init__(self, module):
        super().__init__()
        self.module = module

    def forward(self, batch, noise):
        with given_noise(noise):
            return self.module.training_loss(batch)


def batched_step(modules: list, batches: list[dict], noises: list) -> list[tuple]:
    """Every member's (loss, outputs, gradients) from one vmap over the stacked weights."""
    template = TrainingLoss(modules[0])
    names = [name for name, _ in template.named_parameters()]
    stacked = {
        name: torch.stack([m.get_parameter(name.removeprefix("module.")) for m in modules])
        .detach()
        .requires_grad_()
        for name in names
    }
    for name, _ in template.named_buffers():
        stacked[name] = torch.stack([m.get_buffer(name.removeprefix("module.")) for m in modules])
    batch = {key: torch.stack([b[key] for b in batches]) for key in batches[0]}
    noise = None if noises[0] is None else torch.stack(noises)

    def member(weights, batch, noise):
        return functional_call(template, weights, (batch, noise))

    losses, outputs = vmap(member, in_dims=(0, 0, None if noise is None else 0))(
        stacked, batch, noise
    )
    grads = torch.autograd.grad(
        losses.sum(), [stacked[n] for n in names], allow_unused=True, materialize_grads=True
    )
    return [
        (losses[i].detach(), outputs[i].detach(), [g[i] for g in grads])
        for i in range(len(modules))
    ]


def member_step(module, batch: dict, noise: torch.Tensor | None) -> tuple:
    """One member's (loss, outputs, gradients) alone: a cell vmap cannot batch (torch's
    fused RNNs), or members whose batches differ in shape."""
    with given_noise(noise):
        loss, outputs = module.training_loss(batch)
    grads = torch.autograd.grad(
        loss, list(module.parameters()), allow_unused=True, materialize_grads=True
    )
    return loss.detach(), outputs.detach(), list(grads)


def same_shapes(batches: list[dict]) -> bool:
    first = batches[0]
    return all(
        b.keys() == first.keys() and all(b[k].shape == first[k].shape for k in first)
        for b in batches
    )


class Lockstep:
    """Runs jobs as members that take turns and meet at every training step."""

    def __init__(self):
        self.lock = threading.Lock()
        self.order: list[Member] = []  # members still running, in turn order
        self.turn: Member | None = None
        self.interrupted = False

    # ---- the members' threads ----
    def run(self, jobs: list[Callable[[], object]]) -> list[object]:
        """Each job's return value, or the exception it raised, in order."""
        start = ProcessState().capture()
        members = [Member(ProcessState(**vars(start))) for _ in jobs]
        for member in members:  # only the member whose turn it is wakes up
            member.wakeup = threading.Condition(self.lock)
        self.order, self.turn = list(members), members[0]
        threads = [
            threading.Thread(target=self._member_main, args=(m, job), daemon=True)
            for m, job in zip(members, jobs, strict=True)
        ]
        for thread in threads:
            thread.start()
        try:
            for thread in threads:
                while thread.is_alive():
                    thread.join(0.2)
        except KeyboardInterrupt:
            with self.lock:
                self.interrupted = True
                for member in members:
                    member.wakeup.notify()
            for thread in threads:
                thread.join()
            start.restore()
            raise
        finally:
            if "wandb" in sys.modules:  # wait for W&B's process to write every member's run
                sys.modules["wandb"].teardown()
        start.restore()
        return [m.outcome for m in members]

    def _member_main(self, member: Member, job: Callable[[], object]) -> None:
        MEMBER.member, MEMBER.lockstep = member, self
        with self.lock:
            self._wait_for_turn(member)
        try:
            member.outcome = job()
        except BaseException as error:  # noqa: BLE001 - reported by the launcher as the job's
            member.outcome = error
        finally:
            with self.lock:
                self.order.remove(member)
                self._pass_turn(member)

    def _wait_for_turn(self, member: Member) -> None:
        while self.turn is not member:
            member.wakeup.wait()
        member.state.restore()

    # ---- the training step ----
    def step(self, module, batch: dict) -> tuple[torch.Tensor, torch.Tensor]:
        """This member's (loss, outputs) of the batched step; its loss's backward gives its
        parameters their gradients."""
        member = MEMBER.member
        if len(self.order) == 1:  # the others have ended: nothing to batch
            return module.training_loss(batch)
        with self.lock:
            member.request, member.result = (module, batch), None
            self._pass_turn(member)
            self._wait_for_turn(member)
            result, member.request, member.result = member.result, None, None
        if self.interrupted:
            raise KeyboardInterrupt
        if isinstance(result, BaseException):
            raise result
        loss, outputs, grads = result
        return Precomputed.apply(loss, grads, *module.parameters()), outputs

    def _pass_turn(self, current: Member) -> None:
        """Give the turn to the next member that can run; when all wait at a training step,
        compute it for all of them first. Called with the lock held, by the turn's holder."""
        current.state.capture()
        if not self.order:
            return
        if not self.interrupted and all(
            m.request is not None and m.result is None for m in self.order
        ):
            self._compute(self.order)
            self.turn = self.order[0]
        else:
            start = self.order.index(current) + 1 if current in self.order else 0
            ring = self.order[start:] + self.order[:start]
            self.turn = next(
                (m for m in ring if self.interrupted or m.request is None or m.result is not None),
                ring[0],
            )
        self.turn.wakeup.notify()

    def _compute(self, members: list[Member]) -> None:
        modules = [m.request[0] for m in members]
        batches = [m.request[1] for m in members]
        noises = []
        for member, module, batch in zip(members, modules, batches, strict=True):
            member.state.restore_torch_rng()  # this member's own stream
            noises.append(module.training_noise(batch))
            member.state.capture_torch_rng()
        try:
            if same_shapes(batches) and modules[0].net.cell.vectorised:
                results = batched_step(modules, batches, noises)
            else:
                steps = zip(modules, batches, noises, strict=True)
                results = [member_step(m, b, n) for m, b, n in steps]
        except Exception as error:  # noqa: BLE001 - each member's run reports it
            results = [error] * len(members)
        for member, result in zip(members, results, strict=True):
            member.result = result


def current() -> Lockstep | None:
    """The ensemble the current thread trains in, if any."""
    return getattr(MEMBER, "lockstep", None)
