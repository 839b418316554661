"""Vector envs for many envs on few cores.

- `BatchedAsyncVectorEnv`: N envs in groups, one group per core: the calling process
  steps one group while worker processes step the others, one message per group.
- `make_atari_vector`: Atari preset envs in a `BatchedAsyncVectorEnv`.

The processes, pipes, shared-memory observations and error reporting are
Gymnasium's own ``AsyncVectorEnv``, given a worker (its documented ``worker`` hook)
that runs Gymnasium's worker loop around a group of envs. The commands the caller
sends a group (step, reset, attribute calls and sets) take a faster lane beside the
pipe (a shared buffer and a semaphore each way); start-up, space checks, errors and
close are Gymnasium's protocol. gymkit adds no process pool of its own.
"""

from __future__ import annotations

import multiprocessing
import os
import pickle
import signal
import time
import traceback
from collections.abc import Callable, Sequence
from copy import deepcopy
from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium import spaces
from gymnasium.error import ClosedEnvironmentError
from gymnasium.vector import AutoresetMode, VectorEnv
from gymnasium.vector.async_vector_env import _async_worker
from gymnasium.vector.utils import (
    batch_space,
    concatenate,
    create_empty_array,
    iterate,
    read_from_shared_memory,
)

from gymkit.common.checks import positive_int

__all__ = ["BatchedAsyncVectorEnv", "make_atari_vector"]

_STEP, _STEP_RAW, _RESET = "gymkit_group_step", "gymkit_group_step_raw", "gymkit_group_reset"
_CALL, _SET = "gymkit_group_call", "gymkit_group_set"
# the signals Python programs commonly handle (Ctrl-C, alarm timeouts, termination);
# blocking all of them would cost ~90 µs a step, these ~6 µs
_SIGNALS = (
    {signal.SIGINT, signal.SIGALRM, signal.SIGTERM, signal.SIGHUP, signal.SIGUSR1, signal.SIGUSR2}
    if hasattr(signal, "pthread_sigmask")
    else None
)


class _Uninterrupted:
    """Hold back signal handlers (Ctrl-C) for a few statements that must run together."""

    def __enter__(self):
        if _SIGNALS is not None:
            self.mask = signal.pthread_sigmask(signal.SIG_BLOCK, _SIGNALS)

    def __exit__(self, *exc):
        if _SIGNALS is not None:
            signal.pthread_sigmask(signal.SIG_SETMASK, self.mask)


def _available_cpus() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


class _EnvGroup(gym.Env):
    """Envs stepped in a row with Gymnasium's autoreset, their observations written to `out`.

    Rewards, flags and infos come back as plain lists (one entry per env) so that a
    worker's answer pickles in microseconds; the host merges the infos.
    """

    def __init__(self, env_fns: Sequence[Callable[[], gym.Env]], autoreset_mode: AutoresetMode):
        self.envs: list[gym.Env] = []
        try:
            for fn in env_fns:
                self.envs.append(fn())
            self._check_spaces()
        except BaseException:
            self.close()
            raise
        first = self.envs[0]
        self.single_observation_space = first.observation_space
        self.single_action_space = first.action_space
        self.observation_space = batch_space(first.observation_space, len(self.envs))
        self.action_space = batch_space(first.action_space, len(self.envs))
        self.metadata = dict(first.metadata)
        self.render_mode = first.render_mode
        self.mode = autoreset_mode
        self.out = create_empty_array(first.observation_space, len(self.envs))
        self._obs: list[Any] = [None] * len(self.envs)
        self._ended = [False] * len(self.envs)

    def _check_spaces(self) -> None:
        first = self.envs[0]
        for i, env in enumerate(self.envs[1:], 1):
            if env.observation_space != first.observation_space:
                raise ValueError(
                    f"BatchedAsyncVectorEnv: env {i} has observation space "
                    f"{env.observation_space}, env 0 has {first.observation_space}; all must match"
                )
            if env.action_space != first.action_space:
                raise ValueError(
                    f"BatchedAsyncVectorEnv: env {i} has action space {env.action_space}, "
                    f"env 0 has {first.action_space}; all must match"
                )

    def reset_group(self, seeds: Sequence[int | None], options, mask) -> list[dict | None]:
        """Reset the envs (those where `mask` is true, if given); infos, None where not reset."""
        infos: list[dict[str, Any] | None] = [None] * len(self.envs)
        for i, env in enumerate(self.envs):
            if mask is None or mask[i]:
                self._obs[i], infos[i] = env.reset(seed=seeds[i], options=options)
                self._ended[i] = False
        concatenate(self.single_observation_space, self._obs, self.out)
        return infos

    def step_group(self, actions) -> tuple[list[float], list[bool], list[bool], list[dict]]:
        """Step every env once (or reset it, in next-step mode, after its episode ended)."""
        mode, obs, ended = self.mode, self._obs, self._ended
        rewards, terminated, truncated, infos = [], [], [], []
        for i, (env, action) in enumerate(zip(self.envs, actions, strict=True)):
            if mode == AutoresetMode.NEXT_STEP and ended[i]:
                obs[i], info = env.reset()
                r, te, tr = 0.0, False, False
            else:
                if mode == AutoresetMode.DISABLED and ended[i]:
                    raise RuntimeError(
                        f"BatchedAsyncVectorEnv: env {i} of a group was stepped after its "
                        "episode ended; with autoreset disabled, reset it first "
                        "(reset(options={'reset_mask': ...}))"
                    )
                obs[i], r, te, tr, info = env.step(action)
                if mode == AutoresetMode.SAME_STEP and (te or tr):
                    final = {"final_obs": obs[i], "final_info": info}
                    obs[i], info = env.reset()
                    info = {**final, **info}
            ended[i] = te or tr
            rewards.append(r)
            terminated.append(te)
            truncated.append(tr)
            infos.append(info)
        concatenate(self.single_observation_space, obs, self.out)
        return rewards, terminated, truncated, infos

    def call_each(self, name: str, args: tuple = (), kwargs: dict | None = None) -> list:
        """Call (or read) attribute `name` on every env."""
        out = []
        for env in self.envs:
            attr = env.get_wrapper_attr(name)
            out.append(attr(*args, **(kwargs or {})) if callable(attr) else attr)
        return out

    def set_each(self, name: str, values: Sequence[Any]) -> None:
        """Set attribute `name` on every env, one value each."""
        for env, value in zip(self.envs, values, strict=True):
            env.set_wrapper_attr(name, value)

    # Gymnasium's worker loop calls these for its own commands
    def reset(self, *, seed=None, options=None):
        raise RuntimeError("a group is reset with reset_group")

    def step(self, action):
        raise RuntimeError("a group is stepped with step_group")

    def close(self, **kwargs):
        for env in self.envs:
            env.close(**kwargs)


class _GroupSpec(gym.Env):
    """What ``AsyncVectorEnv`` sees of a remote group when it sets up: spaces and metadata.

    It makes no env; the worker calls `build` to make the real group.
    """

    def __init__(self, env_fns, mode, observation_space, action_space, metadata, render_mode):
        self.env_fns, self.mode = list(env_fns), mode
        self.observation_space, self.action_space = observation_space, action_space
        self.metadata, self.render_mode = metadata, render_mode

    def build(self) -> _EnvGroup:
        return _EnvGroup(self.env_fns, self.mode)


class _SpecFactory:
    """A picklable thunk returning a `_GroupSpec` (Gymnasium calls it once, then the worker)."""

    def __init__(self, spec: _GroupSpec):
        self.spec = spec

    def __call__(self) -> _GroupSpec:
        return self.spec


_LANE_BYTES = 1 << 18  # a message that does not fit goes over the pipe
_CHECK_EVERY_S = 5e-4  # how often a polling process looks for a message on the pipe
_ON_PIPE, _FAILED = -1, -2  # lengths that mean "read the pipe" and "the worker failed"


def _acquire(sem, spin_s: float, interrupted: Callable[[], bool], timeout=None) -> bool:
    """Take `sem`; False without it if `interrupted()` turns true or `timeout` passes first.

    It polls `sem` for up to `spin_s` seconds, yielding the core to anyone who wants
    it, then sleeps on it, checking `interrupted()` now and then. A process asleep is
    woken late, and often on the core its peer is using; one that polls and yields is
    on its own core when the go comes.
    """
    if sem.acquire(False):
        return True
    now = time.perf_counter()
    deadline = None if timeout is None else now + timeout
    end = now + spin_s if deadline is None else min(now + spin_s, deadline)
    check = now + _CHECK_EVERY_S
    while now < end:
        os.sched_yield()
        if sem.acquire(False):
            return True
        now = time.perf_counter()
        if now >= check:  # a pipe poll costs ~100 times a semaphore try: not every turn
            if interrupted():
                return sem.acquire(False)
            check = now + _CHECK_EVERY_S
    while True:
        wait = 0.05 if deadline is None else min(0.05, deadline - time.perf_counter())
        if wait <= 0:
            return sem.acquire(False)
        if sem.acquire(timeout=wait):
            return True
        if interrupted():
            return sem.acquire(False)


class _Lane:
    """One worker's fast lane: a shared buffer and a semaphore each way.

    The caller's commands to a group (step, reset, attribute calls and sets) and
    their answers travel here, pickled into shared memory, with a semaphore saying
    "your turn": on a busy machine this costs a few microseconds where a pipe's write
    and wake-up cost a hundred or more. Everything else (Gymnasium's own commands,
    messages too big for the buffer, errors) goes over Gymnasium's pipe.
    """

    def __init__(self, ctx):
        self.go, self.done = ctx.Semaphore(0), ctx.Semaphore(0)
        self.request, self.answer = ctx.RawArray("B", _LANE_BYTES), ctx.RawArray("B", _LANE_BYTES)

    @staticmethod
    def put(buffer, obj) -> bool:
        """Pickle `obj` into `buffer`; False (and the "on the pipe" mark) if it does not fit."""
        data = pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL)
        view = memoryview(buffer).cast("B")
        if len(data) > len(view) - 8:
            _Lane.mark(view, _ON_PIPE)
            return False
        view[8 : 8 + len(data)] = data
        _Lane.mark(view, len(data))  # the length last: the message is whole before it
        return True

    @staticmethod
    def mark(buffer, length: int) -> None:
        """Write the header: the message's length, or `_ON_PIPE` / `_FAILED`."""
        memoryview(buffer).cast("B")[:8] = length.to_bytes(8, "little", signed=True)

    @staticmethod
    def take(buffer, conn) -> tuple[bool, Any]:
        """(ok, object) from `buffer`, or from the pipe when it is marked so."""
        view = memoryview(buffer).cast("B")
        length = int.from_bytes(view[:8], "little", signed=True)
        if length == _FAILED:
            return False, conn.recv()
        if length == _ON_PIPE:
            return True, conn.recv()
        return True, pickle.loads(view[8 : 8 + length])


class _WorkerPipe:
    """The pipe as Gymnasium's worker loop sees it, with gymkit's lane served on the side.

    While it waits for a command, it answers the commands that come through the lane
    (step, reset, attribute calls and sets); a command on the pipe (space checks,
    close) goes on to Gymnasium's loop. An exception in the group marks the lane
    "failed" and reaches that loop, which reports it to the main process through the
    pipe.
    """

    def __init__(self, conn, lane: _Lane, group: _EnvGroup, spin_s: float):
        self.conn, self.lane, self.group, self.spin_s = conn, lane, group, spin_s

    def recv(self):
        lane, conn = self.lane, self.conn
        while True:
            if not _acquire(lane.go, self.spin_s, conn.poll):
                return conn.recv()
            try:
                _, (command, data) = _Lane.take(lane.request, conn)
                group = self.group
                if command == _STEP_RAW:  # actions as (dtype, shape, bytes): cheaper to pickle
                    dtype, shape, raw = data
                    answer = group.step_group(np.frombuffer(raw, dtype).reshape(shape).copy())
                elif command == _STEP:
                    answer = group.step_group(data)
                elif command == _RESET:
                    answer = group.reset_group(*data)
                elif command == _CALL:
                    answer = group.call_each(*data)
                else:
                    answer = group.set_each(*data)
                fits = _Lane.put(lane.answer, answer)
            except BaseException:
                _Lane.mark(lane.answer, _FAILED)
                lane.done.release()
                raise
            lane.done.release()
            if not fits:
                conn.send(answer)

    def send(self, obj) -> None:
        self.conn.send(obj)

    def close(self) -> None:
        self.conn.close()


class _Worker:
    """Gymnasium's worker loop around one group (the ``worker`` of its AsyncVectorEnv)."""

    def __init__(self, lanes: list[_Lane], spin_s: float):
        self.lanes, self.spin_s = lanes, spin_s

    def __call__(self, index, env_fn, pipe, parent_pipe, shared_memory, error_queue, *rest):
        spec = env_fn()
        try:
            group = spec.build()
        except BaseException as error:  # report it as Gymnasium's loop would, then stop
            error_queue.put((index, type(error), error, traceback.format_exc()))
            pipe.send((None, False))
            return
        n = len(self.lanes)
        views = read_from_shared_memory(spec.observation_space, shared_memory, n=n)
        group.out = list(iterate(batch_space(spec.observation_space, n), views))[index]
        wrapped = _WorkerPipe(pipe, self.lanes[index], group, self.spin_s)
        _async_worker(index, lambda: group, wrapped, parent_pipe, shared_memory, error_queue, *rest)


def _group_sizes(n: int, workers: int, in_caller: bool) -> list[int]:
    """Sizes of the groups, the caller's (if any) first; the workers' groups are equal."""
    if not in_caller:
        if n % workers:
            raise ValueError(
                f"BatchedAsyncVectorEnv: with step_in_caller=False, `num_workers` ({workers}) "
                f"must divide the number of envs ({n})"
            )
        return [n // workers] * workers
    if workers == 1:
        return [n]
    # the caller also merges the answers: it gets the smaller share where the split allows
    size = -(-n // workers)
    if n - (workers - 1) * size < 1:
        size = n // workers
    return [n - (workers - 1) * size] + [size] * (workers - 1)


class BatchedAsyncVectorEnv(VectorEnv):
    """Step N envs in groups, one group per core, with one message per group per step.

    Gymnasium's ``AsyncVectorEnv`` sends one message per env per step, and its main
    process sits idle while the workers step; with many envs on few cores the traffic
    and the idle core cost more than the envs. Here the envs are split into
    ``num_workers`` groups: the calling process steps the first group itself while
    worker processes step the others (``step_in_caller``), each group stepping its envs
    in a row and writing their observations straight into shared memory.

    Sub-env ``i`` is seeded ``seed + i``, so its observations are those of the single
    env ``env_fns[i]()`` reset with that seed and driven with the same actions. All
    three autoreset modes behave as in Gymnasium's vector envs, infos included.

    A process waiting for the others polls for up to ``spin_s`` seconds before it
    sleeps: on a busy machine a sleeping process is woken late, often on the core its
    peer is using. This burns CPU while the caller does other work between steps (at
    most ``spin_s`` per step and worker); set ``spin_s=0`` when that matters more.

    Pick it over ``AsyncVectorEnv`` when envs outnumber cores (e.g. 8 Atari envs on
    2 cores).

    Example:
        >>> import gymnasium as gym
        >>> from gymkit.wrappers.vector import BatchedAsyncVectorEnv
        >>> venv = BatchedAsyncVectorEnv([lambda: gym.make("CartPole-v1")] * 4, num_workers=2)
        >>> obs, info = venv.reset(seed=0)
        >>> obs.shape, venv.action_space
        ((4, 4), MultiDiscrete([2 2 2 2]))
        >>> venv.close()

    Args:
        env_fns: functions that make the envs (picklable, as for ``AsyncVectorEnv``).
        num_workers: groups stepped in parallel, the caller's included (default: the
            CPUs this process may use, at most the number of envs).
        autoreset_mode: Gymnasium's autoreset mode (next-step by default).
        copy: return fresh observation arrays (default), not a reused buffer.
        step_in_caller: the calling process steps one group (default); if false, every
            group has a worker process and `num_workers` must divide the number of envs.
        spin_s: seconds a waiting process polls before sleeping (default: 0.02 when
            the processes fit the CPUs, else 0).
        context: the ``multiprocessing`` start method, as for ``AsyncVectorEnv``.
    """

    def __init__(
        self,
        env_fns: Sequence[Callable[[], gym.Env]],
        num_workers: int | None = None,
        autoreset_mode: AutoresetMode | str = AutoresetMode.NEXT_STEP,
        copy: bool = True,
        step_in_caller: bool = True,
        spin_s: float | None = None,
        context: str | None = None,
    ):
        n = positive_int("BatchedAsyncVectorEnv", "len(env_fns)", len(env_fns))
        cpus = _available_cpus()
        workers = min(cpus, n) if num_workers is None else num_workers
        workers = positive_int("BatchedAsyncVectorEnv", "num_workers", workers)
        if workers > n:
            raise ValueError(
                f"BatchedAsyncVectorEnv: `num_workers` ({workers}) must be at most the number "
                f"of envs ({n})"
            )
        if spin_s is None:
            spin_s = 0.02 if workers <= cpus else 0.0
        if not spin_s >= 0:
            raise ValueError(f"BatchedAsyncVectorEnv: `spin_s` must be >= 0 seconds, got {spin_s}")
        try:
            self.autoreset_mode = AutoresetMode(autoreset_mode)
        except ValueError:
            raise ValueError(
                "BatchedAsyncVectorEnv: `autoreset_mode` must be one of "
                f"{[m.value for m in AutoresetMode]}, got {autoreset_mode!r}"
            ) from None
        self.num_envs, self.copy, self.spin_s = n, copy, float(spin_s)
        self.sizes = _group_sizes(n, workers, step_in_caller)
        self.num_workers = workers
        bounds = np.cumsum([0, *self.sizes]).tolist()
        self._slices = [slice(a, b) for a, b in zip(bounds[:-1], bounds[1:], strict=True)]

        self.local: _EnvGroup | None = None
        if step_in_caller:
            self.local = _EnvGroup(env_fns[self._slices[0]], self.autoreset_mode)
            probe = self.local
        else:  # one env, made and closed here, tells the spaces
            probe = _EnvGroup(env_fns[:1], self.autoreset_mode)
            probe.close()
        self.single_observation_space = probe.single_observation_space
        self.single_action_space = probe.single_action_space
        self.observation_space = batch_space(self.single_observation_space, n)
        self.action_space = batch_space(self.single_action_space, n)
        self.metadata = {**probe.metadata, "autoreset_mode": self.autoreset_mode}
        self.render_mode = probe.render_mode

        remote = self._slices[1:] if step_in_caller else self._slices
        self.host: gym.vector.AsyncVectorEnv | None = None
        self._lanes: list[_Lane] = []
        self._pending: list[str | None] = [None] * len(remote)  # the command awaiting an answer
        self._ended = np.zeros(n, dtype=np.bool_)
        if remote:
            try:
                self.host = self._start_workers(env_fns, remote, context)
            except BaseException:
                if self.local is not None:
                    self.local.close()
                self.local, self.closed = None, True
                raise
        self._box = isinstance(self.single_observation_space, spaces.Box)
        self._obs = create_empty_array(self.single_observation_space, n)

    def _start_workers(self, env_fns, remote: list[slice], context) -> gym.vector.AsyncVectorEnv:
        size = self.sizes[-1]
        specs = [
            _GroupSpec(
                env_fns[s],
                self.autoreset_mode,
                batch_space(self.single_observation_space, size),
                batch_space(self.single_action_space, size),
                self.metadata,
                self.render_mode,
            )
            for s in remote
        ]
        self._lanes = [_Lane(multiprocessing.get_context(context)) for _ in specs]
        host = gym.vector.AsyncVectorEnv.__new__(gym.vector.AsyncVectorEnv)
        try:
            host.__init__(
                [_SpecFactory(spec) for spec in specs],
                shared_memory=True,
                copy=False,
                context=context,
                worker=_Worker(self._lanes, self.spin_s),
                autoreset_mode=self.autoreset_mode,
            )
        except BaseException:  # stop the workers already started, whatever failed
            for process in getattr(host, "processes", []):
                if process.is_alive():
                    process.terminate()
                process.join()
            host.closed = True
            raise
        return host

    # --- talking to the groups ------------------------------------------------------------------

    def _run(self, command: str, remote_args: list, local_call: Callable[[], Any]) -> list:
        """Send `command` to every worker, run `local_call` here, gather the answers in order."""
        self._settle()
        pipes = self.host.parent_pipes if self.host is not None else []
        for j, (lane, pipe, args) in enumerate(zip(self._lanes, pipes, remote_args, strict=True)):
            if pipe is None:
                raise RuntimeError(
                    f"BatchedAsyncVectorEnv: worker {j} failed earlier; close the env"
                )
            fits = _Lane.put(lane.request, (command, args))
            with _Uninterrupted():  # a sent request is always known to be pending
                lane.go.release()
                self._pending[j] = command
                if not fits:
                    pipe.send((command, args))
        answers, local_error = [], None
        if self.local is not None:
            try:
                answers.append(local_call())
            except BaseException as error:  # the workers' answers are collected first
                local_error = error
        try:
            answers += self._collect()
        finally:
            if local_error is not None:
                raise local_error
        return answers

    def _settle(self) -> None:
        """Refuse a closed env; collect what an interrupted call left unanswered."""
        if self.closed:
            raise ClosedEnvironmentError("BatchedAsyncVectorEnv: the env is closed")
        if any(self._pending):
            self._collect(only_pending=True)

    def _collect(self, only_pending: bool = False) -> list:
        """The workers' answers (to the pending calls only, if asked); raises their errors."""
        answers, successes = [], []
        for j, lane in enumerate(self._lanes):
            if only_pending and not self._pending[j]:
                successes.append(True)
                continue
            pipe = self.host.parent_pipes[j]
            got = _acquire(lane.done, self.spin_s, pipe.poll)
            command, self._pending[j] = self._pending[j], None
            if not got:  # the pipe spoke first: the worker is gone
                raise RuntimeError(f"BatchedAsyncVectorEnv: worker {j} ended while stepping")
            ok, answer = _Lane.take(lane.answer, pipe)
            if only_pending and ok and command in (_STEP, _STEP_RAW):
                # an interrupted step still ended episodes: disabled autoreset must know
                rows = self._slices[j + (self.local is not None)]
                self._ended[rows] = np.logical_or(answer[1], answer[2])
            answers.append(answer)
            successes.append(ok)
        if not all(successes):
            self.host._raise_if_errors(successes)
        return answers

    def _prepare_out(self) -> None:
        """Point the caller's group at the rows of the array the call will return."""
        if self._box:
            self._out = self._obs if not self.copy else np.empty_like(self._obs)
            if self.local is not None:
                self.local.out = self._out[self._slices[0]]

    def _gather_obs(self) -> Any:
        """The observations: the caller's group wrote its rows, the workers' are copied in."""
        if self._box:
            out = self._out
            if self.host is not None:
                start = self._slices[1].start if self.local is not None else 0
                out[start:] = self.host.observations.reshape(out[start:].shape)
            return out
        parts = [self.local.out] if self.local is not None else []
        group_space = [self.local.observation_space] if self.local is not None else []
        if self.host is not None:
            parts += list(iterate(self.host.observation_space, self.host.observations))
            group_space += [self.host.single_observation_space] * self.host.num_envs
        pairs = zip(group_space, parts, strict=True)
        items = [item for sp, part in pairs for item in iterate(sp, part)]
        obs = concatenate(self.single_observation_space, items, self._obs)
        return deepcopy(obs) if self.copy else obs

    def _split(self, values: Sequence[Any]) -> list[Any]:
        return [values[s] for s in self._slices]

    def _merge_infos(self, infos: Sequence[dict[str, Any] | None]) -> dict[str, Any]:
        """The infos in Gymnasium's vector layout (``info[key][i]`` with mask ``info["_key"]``)."""
        first = infos[0]
        if first is not None and all(info is not None for info in infos):
            keys = tuple(first)
            fast = "final_obs" not in first and all(tuple(info) == keys for info in infos)
            if fast:
                merged: dict[str, Any] = {}
                for key in keys:
                    kind = type(first[key])
                    values = [info[key] for info in infos]
                    if not (kind in (int, float, bool) or issubclass(kind, np.number)) or any(
                        type(v) is not kind for v in values
                    ):
                        break
                    merged[key] = np.array(values, dtype=kind)
                    merged[f"_{key}"] = np.ones(self.num_envs, dtype=np.bool_)
                else:
                    return merged
        merged = {}
        for i, info in enumerate(infos):
            if info is not None:
                merged = self._add_info(merged, info, i)
        return merged

    # --- the VectorEnv API ----------------------------------------------------------------------

    def reset(self, *, seed: int | Sequence[int | None] | None = None, options=None):
        """Reset the envs; env ``i`` gets ``seed + i`` (or ``seed[i]``).

        With ``options={"reset_mask": mask}`` only the envs where `mask` is true are reset
        (for ``autoreset_mode=AutoresetMode.DISABLED``), as in Gymnasium's vector envs.
        """
        if seed is None or isinstance(seed, int):
            seeds = [None if seed is None else seed + i for i in range(self.num_envs)]
        else:
            seeds = list(seed)
            if len(seeds) != self.num_envs:
                raise ValueError(
                    f"BatchedAsyncVectorEnv: `seed` needs one seed per env ({self.num_envs}), "
                    f"got {len(seeds)}"
                )
        mask = None
        if options is not None and "reset_mask" in options:
            options = dict(options)
            mask = np.asarray(options.pop("reset_mask"))
            if mask.dtype != np.bool_ or mask.shape != (self.num_envs,) or not mask.any():
                raise ValueError(
                    "BatchedAsyncVectorEnv: `options['reset_mask']` must be a bool array of "
                    f"shape ({self.num_envs},) with a True, got {mask.dtype} {mask.shape}"
                )
        masks = self._split(mask) if mask is not None else [None] * len(self.sizes)
        args = list(zip(self._split(seeds), [options] * len(self.sizes), masks, strict=True))
        local_args = args.pop(0) if self.local is not None else None
        self._prepare_out()
        answers = self._run(_RESET, args, lambda: self.local.reset_group(*local_args))
        if mask is None:
            self._ended[:] = False
        else:
            self._ended[mask] = False
        infos = [info for group in answers for info in group]
        return self._gather_obs(), self._merge_infos(infos)

    def step(self, actions):
        """Step every env; episodes end and restart as in Gymnasium's autoreset mode."""
        if isinstance(actions, np.ndarray) or not isinstance(
            self.single_action_space, (spaces.Dict, spaces.Tuple)
        ):
            actions = np.asarray(actions)
            if len(actions) != self.num_envs:
                raise ValueError(
                    f"BatchedAsyncVectorEnv.step: `actions` needs one action per env "
                    f"({self.num_envs}), got {len(actions)}"
                )
        else:
            actions = list(iterate(self.action_space, actions))
        if self.autoreset_mode == AutoresetMode.DISABLED:
            self._refuse_ended_envs()
        parts = self._split(actions)
        local_actions = parts.pop(0) if self.local is not None else None
        command = _STEP
        if isinstance(actions, np.ndarray) and actions.dtype != object:
            command, parts = _STEP_RAW, [(p.dtype.str, p.shape, p.tobytes()) for p in parts]
        self._prepare_out()
        answers = self._run(command, parts, lambda: self.local.step_group(local_actions))
        rewards = np.array([r for a in answers for r in a[0]], dtype=np.float64)
        terminated = np.array([t for a in answers for t in a[1]], dtype=np.bool_)
        truncated = np.array([t for a in answers for t in a[2]], dtype=np.bool_)
        infos = self._merge_infos([info for a in answers for info in a[3]])
        if self.autoreset_mode == AutoresetMode.DISABLED:
            self._ended = terminated | truncated
        return self._gather_obs(), rewards, terminated, truncated, infos

    def _refuse_ended_envs(self) -> None:
        self._settle()  # so that an interrupted step's ends are known
        if self.local is not None:
            self._ended[self._slices[0]] = self.local._ended
        if self._ended.any():
            raise RuntimeError(
                f"BatchedAsyncVectorEnv.step: envs {np.flatnonzero(self._ended).tolist()} ended "
                "their episodes; with autoreset disabled, reset them first "
                "(reset(options={'reset_mask': terminated | truncated}))"
            )

    def call(self, name: str, *args, **kwargs) -> tuple:
        """Call method `name` (or read attribute `name`) of every sub-env."""
        remote = [(name, args, kwargs)] * len(self._lanes)
        parts = self._run(_CALL, remote, lambda: self.local.call_each(name, args, kwargs))
        return tuple(value for part in parts for value in part)

    @property
    def np_random_seed(self) -> tuple:
        """Each sub-env's ``np_random_seed``, as in Gymnasium's vector envs."""
        return self.get_attr("np_random_seed")

    @property
    def np_random(self) -> tuple:
        """Each sub-env's ``np_random``."""
        return self.get_attr("np_random")

    def get_attr(self, name: str) -> tuple:
        """Attribute `name` of every sub-env."""
        return self.call(name)

    def set_attr(self, name: str, values: Any) -> None:
        """Set attribute `name` of every sub-env (one value for all, or one per env)."""
        if not isinstance(values, (list, tuple)):
            values = [values] * self.num_envs
        if len(values) != self.num_envs:
            raise ValueError(
                f"BatchedAsyncVectorEnv.set_attr: `values` needs one value per env "
                f"({self.num_envs}), got {len(values)}"
            )
        parts = self._split(list(values))
        local = parts.pop(0) if self.local is not None else None
        remote = [(name, part) for part in parts]
        self._run(_SET, remote, lambda: self.local.set_each(name, local))

    def render(self) -> tuple | None:
        """Each sub-env's render (``render_mode`` set when the envs were made)."""
        return self.call("render")

    def close_extras(self, timeout: float | None = None, terminate: bool = False):
        """Close the envs here and the worker processes.

        A worker still busy with an interrupted step gets `timeout` seconds (None: as
        long as it takes) before it is terminated, as in ``AsyncVectorEnv``.
        """
        if getattr(self, "local", None) is not None:
            self.local.close()
        host = getattr(self, "host", None)
        if host is None:
            return
        deadline = None if timeout is None else time.perf_counter() + timeout
        for j, lane in enumerate(self._lanes):
            pipe = host.parent_pipes[j]
            if terminate or not self._pending[j] or pipe is None:
                continue
            left = None if deadline is None else max(0.0, deadline - time.perf_counter())
            if _acquire(lane.done, 0.0, pipe.poll, timeout=left):
                self._pending[j] = None
                _Lane.take(lane.answer, pipe)
            else:
                terminate = True
        try:
            host.close(timeout=timeout, terminate=terminate)
        except (OSError, EOFError):  # a worker that died: stop the others all the same
            host.close(terminate=True)


class _AtariFactory:
    """A picklable thunk for one Atari preset env."""

    def __init__(self, game: str, profile: Any, overrides: dict[str, Any]):
        self.game, self.profile, self.overrides = game, profile, overrides

    def __call__(self) -> gym.Env:
        from gymkit.wrappers.presets import make_atari

        return make_atari(self.game, self.profile, **self.overrides)


def make_atari_vector(
    game: str,
    num_envs: int,
    profile: Any = "gymnasium",
    *,
    num_workers: int | None = None,
    autoreset_mode: AutoresetMode | str = AutoresetMode.NEXT_STEP,
    **overrides,
) -> BatchedAsyncVectorEnv:
    """``num_envs`` copies of ``make_atari(game, profile)`` in a `BatchedAsyncVectorEnv`.

    Example:
        >>> from gymkit.wrappers import make_atari_vector
        >>> venv = make_atari_vector("Pong", 4, num_workers=2)
        >>> venv.observation_space.shape
        (4, 4, 84, 84)
        >>> venv.close()

    Args:
        game: the game, as for `make_atari`.
        num_envs: number of envs.
        profile: an Atari profile name or `AtariProfile`.
        num_workers: groups stepped in parallel, the caller's included (default: CPUs,
            at most ``num_envs``).
        autoreset_mode: Gymnasium's autoreset mode.
        **overrides: `AtariProfile` fields, as for `make_atari`.
    """
    n = positive_int("make_atari_vector", "num_envs", num_envs)
    factory = _AtariFactory(game, profile, overrides)
    return BatchedAsyncVectorEnv(
        [factory] * n, num_workers=num_workers, autoreset_mode=autoreset_mode
    )
