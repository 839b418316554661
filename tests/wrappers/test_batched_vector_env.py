"""BatchedAsyncVectorEnv against Gymnasium's SyncVectorEnv: every observation, reward,
flag and info (dtypes and masks included) in the three autoreset modes, for every way
of splitting the envs; errors, big messages, attributes and start methods."""

import functools
import multiprocessing
import os
import signal
import threading
import time

import gymnasium as gym
import numpy as np
import pytest
from conftest import FakeImageEnv
from gymnasium.vector import AutoresetMode, SyncVectorEnv

import gymkit.wrappers as gw
from gymkit.wrappers.vector import BatchedAsyncVectorEnv


class VaryingEnv(FakeImageEnv):
    """Episodes of different lengths per seed, and infos whose keys change from step to step:
    a nested dict every third step, a NumPy scalar, a string on even steps."""

    def reset(self, *, seed=None, options=None):
        obs, info = super().reset(seed=seed, options=options)
        self.episode_length = int(self.np_random.integers(3, 9))
        return obs, info

    def _info(self):
        info = {"lives": 3 - self.t // self.life_every, "score": np.float32(self.t / 2)}
        if self.t % 3 == 0:
            info["event"] = {"kind": self.t % 2, "name": "tick"}
        if self.t % 2 == 0:
            info["label"] = f"t{self.t}"
        return info


class FailingEnv(FakeImageEnv):
    def step(self, action):
        if self.t == 3:
            raise ValueError("boom at step 3")
        return super().step(action)


def _make_varying():
    return VaryingEnv(shape=(6, 5))


def _assert_same_info(got, want, where):
    assert set(got) == set(want), f"{where}: keys {sorted(got)} != {sorted(want)}"
    for key, value in want.items():
        if isinstance(value, dict):
            _assert_same_info(got[key], value, f"{where}[{key}]")
            continue
        assert got[key].dtype == value.dtype, f"{where}[{key}]: dtype"
        assert got[key].shape == value.shape, f"{where}[{key}]: shape"
        if value.dtype == object:
            for g, w in zip(got[key], value, strict=True):
                assert (g is None and w is None) or np.array_equal(g, w), f"{where}[{key}]"
        else:
            assert np.array_equal(got[key], value), f"{where}[{key}]"


def _drive(venv, actions, seed, mode):
    """Observations, rewards, flags and infos of a run (resets by mask when autoreset is off)."""
    out = [venv.reset(seed=seed)]
    for a in actions:
        out.append(venv.step(a))
        if mode == AutoresetMode.DISABLED:
            ended = out[-1][2] | out[-1][3]
            if ended.any():
                out.append(venv.reset(options={"reset_mask": ended}))
    return out


def _assert_same_runs(got, want, label):
    assert len(got) == len(want)
    for t, (g, w) in enumerate(zip(got, want, strict=True)):
        for k, (gv, wv) in enumerate(zip(g[:-1], w[:-1], strict=True)):
            assert gv.dtype == wv.dtype and np.array_equal(gv, wv), f"{label}: item {k}, t={t}"
        _assert_same_info(g[-1], w[-1], f"{label}: info t={t}")


@pytest.mark.parametrize("mode", list(AutoresetMode))
@pytest.mark.parametrize(
    ("num_envs", "num_workers", "in_caller"),
    [(5, 2, True), (4, 3, True), (4, 1, True), (4, 2, False)],
)
def test_matches_sync_vector_env(mode, num_envs, num_workers, in_caller):
    fns = [_make_varying] * num_envs
    actions = np.random.default_rng(0).integers(0, 4, (40, num_envs))
    want = _drive(SyncVectorEnv(fns, autoreset_mode=mode), actions, 11, mode)
    venv = BatchedAsyncVectorEnv(
        fns, num_workers=num_workers, autoreset_mode=mode, step_in_caller=in_caller
    )
    try:
        got = _drive(venv, actions, 11, mode)
    finally:
        venv.close()
    _assert_same_runs(got, want, f"{mode.value}, {num_envs} envs / {num_workers}")


def test_group_sizes_and_spaces():
    venv = BatchedAsyncVectorEnv([_make_varying] * 8, num_workers=3)
    try:
        assert venv.sizes == [2, 3, 3]  # the caller, who also merges, gets the smaller share
        assert venv.observation_space.shape == (8, 6, 5)
        assert venv.single_action_space == gym.spaces.Discrete(4)
        assert venv.metadata["autoreset_mode"] == AutoresetMode.NEXT_STEP
    finally:
        venv.close()


def test_messages_too_big_for_the_lane_go_over_the_pipe():
    """Same-step autoreset puts final observations (here 270 kB each) in the info."""
    fns = [lambda: FakeImageEnv(shape=(300, 300, 3), episode_length=3)] * 4
    actions = np.zeros((8, 4), dtype=np.int64)
    mode = AutoresetMode.SAME_STEP
    want = _drive(SyncVectorEnv(fns, autoreset_mode=mode), actions, 0, mode)
    venv = BatchedAsyncVectorEnv(fns, num_workers=2, autoreset_mode=mode)
    try:
        got = _drive(venv, actions, 0, mode)
        big_options = {"payload": np.zeros(400_000, np.uint8)}  # a request too big as well
        obs, _ = venv.reset(seed=0, options=big_options)
        assert np.array_equal(obs, want[0][0])
    finally:
        venv.close()
    _assert_same_runs(got, want, "big messages")


@pytest.mark.filterwarnings("ignore:.*(Worker|Traceback|Raising):UserWarning")
@pytest.mark.parametrize("failing_env", [0, 3], ids=["in the caller", "in a worker"])
def test_an_env_error_reaches_the_caller(failing_env):
    fns = [FakeImageEnv] * 4
    fns[failing_env] = FailingEnv
    venv = BatchedAsyncVectorEnv(fns, num_workers=2)
    venv.reset(seed=0)
    venv.step(np.zeros(4, np.int64))
    venv.step(np.zeros(4, np.int64))
    venv.step(np.zeros(4, np.int64))
    with pytest.raises(ValueError, match="boom at step 3"):
        venv.step(np.zeros(4, np.int64))
    venv.close(terminate=True)


def test_attributes_calls_and_render():
    fns = [lambda: FakeImageEnv(render_mode="rgb_array")] * 4
    venv = BatchedAsyncVectorEnv(fns, num_workers=2)
    try:
        venv.reset(seed=0)
        assert venv.get_attr("episode_length") == (9, 9, 9, 9)
        venv.set_attr("episode_length", [1, 2, 3, 4])
        assert venv.get_attr("episode_length") == (1, 2, 3, 4)
        venv.set_attr("episode_length", 5)
        assert venv.call("get_wrapper_attr", "episode_length") == (5, 5, 5, 5)
        frames = venv.render()
        assert len(frames) == 4 and all(f.shape == (12, 10, 3) for f in frames)
        with pytest.raises(ValueError, match="`values` needs one value per env"):
            venv.set_attr("episode_length", [1, 2])
    finally:
        venv.close()


def test_spawn_start_method_and_no_spinning():
    def make():
        return gw.FrameStackObservation(FakeImageEnv(), 3)

    actions = np.random.default_rng(2).integers(0, 4, (12, 4))
    want = _drive(SyncVectorEnv([make] * 4), actions, 5, AutoresetMode.NEXT_STEP)
    venv = BatchedAsyncVectorEnv([make] * 4, num_workers=2, context="spawn", spin_s=0)
    try:
        got = _drive(venv, actions, 5, AutoresetMode.NEXT_STEP)
    finally:
        venv.close()
    _assert_same_runs(got, want, "spawn")


def test_bad_arguments_name_the_argument():
    with pytest.raises(ValueError, match=r"`num_workers` \(3\) must divide the number of envs"):
        BatchedAsyncVectorEnv([FakeImageEnv] * 4, num_workers=3, step_in_caller=False)
    with pytest.raises(ValueError, match=r"`num_workers` \(5\) must be at most the number"):
        BatchedAsyncVectorEnv([FakeImageEnv] * 4, num_workers=5)
    with pytest.raises(ValueError, match="`num_workers` must be >= 1"):
        BatchedAsyncVectorEnv([FakeImageEnv] * 4, num_workers=0)
    with pytest.raises(ValueError, match="`autoreset_mode` must be one of"):
        BatchedAsyncVectorEnv([FakeImageEnv] * 4, autoreset_mode="sometimes")
    with pytest.raises(ValueError, match="`spin_s` must be >= 0"):
        BatchedAsyncVectorEnv([FakeImageEnv] * 4, spin_s=-1)
    with pytest.raises(ValueError, match="env 1 has observation space"):
        BatchedAsyncVectorEnv([FakeImageEnv, lambda: FakeImageEnv(shape=(3, 3))], num_workers=1)
    venv = BatchedAsyncVectorEnv([FakeImageEnv] * 2, num_workers=1)
    venv.reset(seed=0)
    with pytest.raises(ValueError, match="`actions` needs one action per env"):
        venv.step(np.zeros(3, np.int64))
    with pytest.raises(ValueError, match="`seed` needs one seed per env"):
        venv.reset(seed=[1, 2, 3])
    with pytest.raises(ValueError, match=r"`options\['reset_mask'\]` must be a bool array"):
        venv.reset(options={"reset_mask": np.ones(3, bool)})
    venv.close()


class SlowInWorkersEnv(FakeImageEnv):
    """Steps take `delay` seconds, but only in processes other than `parent_pid`."""

    def __init__(self, parent_pid, delay, **kwargs):
        super().__init__(**kwargs)
        self.parent_pid, self.delay = parent_pid, delay

    def step(self, action):
        if os.getpid() != self.parent_pid:
            time.sleep(self.delay)
        return super().step(action)


class Interrupted(Exception):
    pass


def _interrupt_after(seconds):
    def handler(signum, frame):
        raise Interrupted

    signal.signal(signal.SIGALRM, handler)
    signal.setitimer(signal.ITIMER_REAL, seconds)


def _slow_pair(env_cls, delay):
    """A BatchedAsyncVectorEnv of two `env_cls` (slow in the worker) and a SyncVectorEnv twin,
    both reset with seed 0."""
    make = functools.partial(env_cls, os.getpid(), delay, episode_length=50)
    venv = BatchedAsyncVectorEnv([make] * 2, num_workers=2, spin_s=0)
    sync = SyncVectorEnv([make] * 2)
    venv.reset(seed=0)
    sync.reset(seed=0)
    return venv, sync


def test_a_step_interrupted_while_waiting_is_finished_before_the_next():
    venv, sync = _slow_pair(SlowInWorkersEnv, 0.3)
    try:
        _interrupt_after(0.1)
        with pytest.raises(Interrupted):
            venv.step(np.array([1, 1]))
        sync.step(np.array([1, 1]))
        obs, reward, *_, info = venv.step(np.array([2, 2]))
        want_obs, want_reward, *_, want_info = sync.step(np.array([2, 2]))
        assert np.array_equal(obs, want_obs) and np.array_equal(reward, want_reward)
        _assert_same_info(info, want_info, "after the interrupt")
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        venv.close()


def test_close_gives_a_busy_worker_timeout_seconds_then_terminates_it():
    make = functools.partial(SlowInWorkersEnv, os.getpid(), 5.0)
    venv = BatchedAsyncVectorEnv([make] * 2, num_workers=2, spin_s=0)
    venv.reset(seed=0)
    _interrupt_after(0.1)
    try:
        with pytest.raises(Interrupted):
            venv.step(np.array([1, 1]))
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
    start = time.perf_counter()
    venv.close(timeout=0.5)
    assert time.perf_counter() - start < 3.0
    assert not any(p.is_alive() for p in venv.host.processes)


class UnpicklableInfoEnv(FakeImageEnv):
    def step(self, action):
        obs, reward, terminated, truncated, info = super().step(action)
        return obs, reward, terminated, truncated, {**info, "lock": threading.Lock()}


@pytest.mark.filterwarnings("ignore:.*(Worker|Traceback|Raising):UserWarning")
def test_an_answer_that_cannot_be_pickled_raises_the_pickling_error():
    venv = BatchedAsyncVectorEnv([UnpicklableInfoEnv] * 2, num_workers=2)
    venv.reset(seed=0)
    with pytest.raises(TypeError, match="pickle"):
        venv.step(np.zeros(2, np.int64))
    venv.close()


@pytest.mark.filterwarnings("ignore:.*(Worker|Traceback|Raising):UserWarning")
def test_caller_and_worker_failing_together_raise_and_close_cleanly():
    venv = BatchedAsyncVectorEnv([FailingEnv] * 4 + [FakeImageEnv] * 2, num_workers=3)
    assert venv.sizes == [2, 2, 2]
    venv.reset(seed=0)
    for _ in range(3):
        venv.step(np.zeros(6, np.int64))
    with pytest.raises(ValueError, match="boom at step 3"):
        venv.step(np.zeros(6, np.int64))
    venv.close()
    assert venv.closed and not any(p.is_alive() for p in venv.host.processes)
    with pytest.raises(gym.error.ClosedEnvironmentError):
        venv.step(np.zeros(6, np.int64))


class BrokenEnv(FakeImageEnv):
    def __init__(self):
        raise RuntimeError("cannot build this env")


@pytest.mark.filterwarnings("ignore:.*(Worker|Traceback|Raising):UserWarning")
def test_an_env_that_fails_to_build_in_a_worker_raises_its_error_and_leaks_nothing():
    closed = []

    class Tracked(FakeImageEnv):
        def close(self):
            closed.append(self)

    with pytest.raises(RuntimeError, match="cannot build this env"):
        BatchedAsyncVectorEnv([Tracked, Tracked, BrokenEnv, BrokenEnv], num_workers=2)
    assert len(closed) == 2  # the caller's group was closed
    assert not multiprocessing.active_children()


def test_disabled_autoreset_refuses_to_step_an_ended_env_and_stays_usable():
    venv = BatchedAsyncVectorEnv(
        [lambda: FakeImageEnv(episode_length=2)] * 4,
        num_workers=2,
        autoreset_mode=AutoresetMode.DISABLED,
    )
    try:
        venv.reset(seed=0)
        venv.step(np.zeros(4, np.int64))
        _, _, terminated, _, _ = venv.step(np.zeros(4, np.int64))
        assert terminated.all()
        with pytest.raises(RuntimeError, match=r"envs \[0, 1, 2, 3\] ended"):
            venv.step(np.zeros(4, np.int64))
        with pytest.raises(ValueError, match="with a True"):
            venv.reset(options={"reset_mask": np.zeros(4, bool)})
        venv.reset(options={"reset_mask": terminated})
        venv.step(np.zeros(4, np.int64))
    finally:
        venv.close()


def test_np_random_seed_is_per_env():
    venv = BatchedAsyncVectorEnv([FakeImageEnv] * 4, num_workers=2)
    sync = SyncVectorEnv([FakeImageEnv] * 4)
    try:
        venv.reset(seed=3)
        sync.reset(seed=3)
        assert venv.np_random_seed == sync.np_random_seed == (3, 4, 5, 6)
    finally:
        venv.close()


@pytest.mark.parametrize("copy", [True, False])
def test_box_actions_and_copy_modes_match_sync(copy):
    fns = [lambda: gym.make("Pendulum-v1")] * 4
    actions = np.random.default_rng(4).uniform(-2, 2, (30, 4, 1)).astype(np.float32)
    sync = SyncVectorEnv(fns)
    venv = BatchedAsyncVectorEnv(fns, num_workers=2, copy=copy)
    try:
        previous = venv.reset(seed=1)[0]
        assert np.array_equal(previous, sync.reset(seed=1)[0])
        for a in actions:
            got, want = venv.step(a), sync.step(a)
            for g, w in zip(got[:-1], want[:-1], strict=True):
                assert g.dtype == w.dtype and np.array_equal(g, w)
            # copy=False hands back the same buffer every time, copy=True a fresh array
            assert (got[0] is previous) == (not copy)
            previous = got[0]
    finally:
        venv.close()


class SlowAttributesEnv(SlowInWorkersEnv):
    """`slow()` and setting `slow_value` take `delay` seconds, in worker processes only."""

    def slow(self):
        if os.getpid() != self.parent_pid:
            time.sleep(self.delay)
        return self.t

    @property
    def slow_value(self):
        return self.t

    @slow_value.setter
    def slow_value(self, value):
        if os.getpid() != self.parent_pid:
            time.sleep(self.delay)


@pytest.mark.parametrize("interrupted", ["call", "set_attr"])
def test_an_interrupted_call_or_set_attr_leaves_the_env_usable(interrupted):
    venv, sync = _slow_pair(SlowAttributesEnv, 0.6)
    try:
        _interrupt_after(0.2)
        with pytest.raises(Interrupted):
            if interrupted == "call":
                venv.call("slow")
            else:
                venv.set_attr("slow_value", 1)
        venv.set_attr("delay", 0.0)
        for a in (1, 2, 3):
            got, want = venv.step(np.array([a, a])), sync.step(np.array([a, a]))
            assert np.array_equal(got[0], want[0]) and np.array_equal(got[1], want[1])
        assert venv.get_attr("t") == sync.get_attr("t") == (3, 3)
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        venv.close()


def test_disabled_autoreset_knows_the_ends_of_an_interrupted_step():
    make = functools.partial(SlowInWorkersEnv, os.getpid(), 0.4, episode_length=2)
    venv = BatchedAsyncVectorEnv(
        [make] * 2, num_workers=2, spin_s=0, autoreset_mode=AutoresetMode.DISABLED
    )
    try:
        venv.reset(seed=0)
        venv.step(np.array([0, 0]))
        _interrupt_after(0.1)
        with pytest.raises(Interrupted):
            venv.step(np.array([0, 0]))  # both episodes end in this step
        with pytest.raises(RuntimeError, match=r"envs \[0, 1\] ended"):
            venv.step(np.array([0, 0]))
        venv.reset(options={"reset_mask": np.array([True, True])})
        venv.step(np.array([0, 0]))  # the worker is alive and well
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        venv.close()
