"""Stable-Baselines3 and sb3-contrib on gymkit's envs and Atari presets.

Not repeated here: plain PPO/DQN and MaskablePPO training on ``ToyMDP-v0``
(tests/envs/test_sb3_on_toy_mdp.py). Covered here: SB3's env checker, PPO and DQN on
the shaped CartPole (SB3 learns from the shaped reward, the true score stays in the
info), ``DQN("CnnPolicy")`` on both Atari layouts with the frame order checked at the
network's input, and sb3-contrib's vectorised mask path (``get_action_masks``,
``MaskableEvalCallback``).
"""

from __future__ import annotations

import warnings

import gymnasium as gym
import numpy as np
import pytest

import gymkit  # noqa: F401  (registers the ids)
from gymkit.envs.tabular_mdp import TOY_MDP_ALLOWED
from gymkit.wrappers import make_atari

sb3 = pytest.importorskip("stable_baselines3", reason="Stable-Baselines3 integration tests")
torch = pytest.importorskip("torch", reason="Stable-Baselines3 needs torch")

from readme_snippets import run_use_with_snippet  # noqa: E402
from stable_baselines3.common.callbacks import BaseCallback  # noqa: E402
from stable_baselines3.common.env_util import make_vec_env  # noqa: E402

ALLOWED = np.zeros((3, 3), dtype=bool)
for _state, _actions in enumerate(TOY_MDP_ALLOWED):
    ALLOWED[_state, list(_actions)] = True


@pytest.fixture(autouse=True)
def _one_torch_thread():
    # small networks: thread start-up costs more than it saves on a shared 2-core box
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


# --------------------------------------------------------------------------- checker


CHECKED = {
    "ToyMDP-v0": lambda: gym.make("ToyMDP-v0"),
    "ShapedCartPole-v1": lambda: gym.make("ShapedCartPole-v1"),
    "atari-gymnasium": lambda: make_atari("Breakout", "gymnasium"),
    "atari-sb3": lambda: make_atari("Breakout", "sb3"),
}


@pytest.mark.parametrize("case", list(CHECKED))
def test_sb3_env_checker_accepts_gymkit_envs_without_warnings(case):
    from stable_baselines3.common.env_checker import check_env

    env = CHECKED[case]()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        check_env(env, warn=True)
    messages = [str(w.message) for w in caught]
    assert not messages, f"SB3 check_env on {case}: warnings {messages}"


# --------------------------------------------------------------------------- shaped CartPole


class RecordSteps(BaseCallback):
    """Keeps what SB3 saw at each step: rewards, infos, new observations, dones."""

    def __init__(self):
        super().__init__()
        self.steps: list[tuple[np.ndarray, list[dict], np.ndarray, np.ndarray]] = []

    def _on_step(self) -> bool:
        loc = self.locals
        self.steps.append(
            (
                np.array(loc["rewards"]),
                loc["infos"],
                np.array(loc["new_obs"]),
                np.array(loc["dones"]),
            )
        )
        return True


@pytest.mark.parametrize("algo", ["PPO", "DQN"])
def test_sb3_learns_from_the_shaped_reward_and_the_true_score_stays_in_info(algo):
    venv = make_vec_env("ShapedCartPole-v1", n_envs=2, seed=0)
    kwargs = (
        dict(n_steps=128, batch_size=64, n_epochs=2)
        if algo == "PPO"
        else dict(learning_starts=200, buffer_size=2_000, train_freq=4)
    )
    model = getattr(sb3, algo)("MlpPolicy", venv, seed=0, device="cpu", **kwargs)
    record = RecordSteps()
    model.learn(768, callback=record)
    name = f"SB3 {algo} MlpPolicy on ShapedCartPole-v1"

    assert model.num_timesteps >= 768, f"{name}: stopped at {model.num_timesteps} steps"
    if algo == "DQN":
        assert model._n_updates > 0, f"{name}: no gradient step was taken"
    assert model.policy.observation_space.shape == (4,)
    episodes = 0
    for rewards, infos, new_obs, dones in record.steps:
        for i, info in enumerate(infos):
            # the angle after the step: the terminal observation when SB3 has reset the env
            obs = info["terminal_observation"] if dones[i] else new_obs[i]
            expected = info["unshaped_reward"] - min(abs(float(obs[2])), 0.7)
            assert rewards[i] == pytest.approx(expected, abs=1e-6), (
                f"{name}: the reward SB3 learns from is {rewards[i]}, expected the shaped "
                f"reward {expected} (info['terminal_observation'] used after an episode end)"
            )
            if "episode" in info:  # SB3's Monitor: the return is the shaped one
                episodes += 1
                assert info["episode"]["r"] < info["episode"]["l"], (
                    f"{name}: Monitor's episode return {info['episode']['r']} is not shaped"
                )
    assert episodes >= 2, f"{name}: SB3's Monitor reported {episodes} episode(s)"

    eval_env = gym.make("ShapedCartPole-v1")
    action, _ = model.predict(eval_env.reset(seed=1)[0], deterministic=True)
    assert eval_env.action_space.contains(int(action)), f"{name}: predict gave {action!r}"


# --------------------------------------------------------------------------- Atari CnnPolicy


class KeepObservation(gym.ObservationWrapper):
    """Keeps a copy of the last observation the env returned (before SB3 sees it)."""

    def observation(self, observation):
        self.last = np.array(observation, copy=True)
        return observation


@pytest.mark.parametrize("profile", ["gymnasium", "sb3"])
def test_sb3_dqn_cnn_policy_on_an_atari_preset_sees_the_frames_in_order(profile):
    from stable_baselines3.common.torch_layers import NatureCNN
    from stable_baselines3.common.vec_env import VecTransposeImage

    name = f"SB3 DQN CnnPolicy on make_atari('Breakout', profile={profile!r})"
    raw = KeepObservation(make_atari("Breakout", profile))
    stack_shape = raw.observation_space.shape
    model = sb3.DQN(
        "CnnPolicy",
        raw,
        buffer_size=500,
        learning_starts=200,
        train_freq=8,
        batch_size=8,
        seed=0,
        device="cpu",
    )
    venv = model.get_env()
    extractor = model.policy.q_net.features_extractor
    assert isinstance(extractor, NatureCNN), (
        f"{name}: the features extractor is {type(extractor).__name__}, not NatureCNN"
    )
    first_conv = extractor.cnn[0]
    assert first_conv.in_channels == 4, (
        f"{name}: NatureCNN's first layer takes {first_conv.in_channels} channels, not 4 frames"
    )
    assert model.observation_space.shape == (4, 84, 84), (
        f"{name}: the policy's observation space is {model.observation_space.shape}"
    )
    transposed = isinstance(venv, VecTransposeImage)
    channels_last = stack_shape == (84, 84, 4)
    assert transposed == channels_last, (
        f"{name}: a {stack_shape} stack must be transposed by SB3 exactly when it is "
        f"channel-last; VecTransposeImage is {'on' if transposed else 'off'}"
    )

    # what reaches NatureCNN is the wrapper's stack, frame k on channel k, spatially intact
    actions = [1, 2, 3, 1, 0, 2]  # frames differ from step to step
    seen = []
    hook = extractor.register_forward_pre_hook(lambda module, args: seen.append(args[0].clone()))
    obs = venv.reset()  # seeded with the model's seed, 0
    for action in actions:
        obs, *_ = venv.step(np.array([action]))
    model.predict(obs, deterministic=True)
    hook.remove()
    assert len(seen) == 1 and seen[0].shape == (1, 4, 84, 84), f"{name}: input {seen}"
    got = (seen[0][0] * 255).round().to(torch.uint8).numpy()
    stack = np.moveaxis(raw.last, -1, 0) if channels_last else raw.last
    same = np.array_equal(got, stack)
    assert same, (
        f"{name}: the network's input is not the env's {stack_shape} frame stack with frame k "
        f"on channel k (wrong transpose)"
    )
    # ... and the stack holds the last 4 frames, oldest first: compare with the same
    # preset without a stack, driven with the same seed and actions
    single = make_atari("Breakout", profile, stack_size=0)
    frames = [single.reset(seed=0)[0]] + [single.step(a)[0] for a in actions]
    expected = np.stack([np.squeeze(f) for f in frames[-4:]])
    assert len({f.tobytes() for f in expected}) == 4, f"{name}: the 4 frames are not distinct"
    same = np.array_equal(got, expected)
    assert same, (
        f"{name}: the network's channels are not the last 4 frames oldest first "
        f"(gymkit FrameStackObservation layout {raw.get_wrapper_attr('layout')!r})"
    )

    before = [p.detach().clone() for p in model.policy.q_net.parameters()]
    model.learn(300)
    assert model.num_timesteps >= 300, f"{name}: stopped at {model.num_timesteps} steps"
    assert model._n_updates > 0, f"{name}: no gradient step in 300 steps"
    after = list(model.policy.q_net.parameters())
    assert all(torch.isfinite(p).all() for p in after), f"{name}: non-finite Q-network weights"
    assert any(not torch.equal(a, b) for a, b in zip(before, after, strict=True)), (
        f"{name}: training did not change the Q-network"
    )
    stored = model.replay_buffer.observations
    assert stored.shape[-3:] == (4, 84, 84) and stored.dtype == np.uint8, (
        f"{name}: the replay buffer stores {stored.shape[-3:]} {stored.dtype} observations"
    )


# --------------------------------------------------------------------------- sb3-contrib masks


class CountInvalidActions(gym.Wrapper):
    """Counts the steps whose action was not allowed (``info["invalid_action"]``)."""

    def __init__(self, env):
        super().__init__(env)
        self.invalid = self.steps = 0

    def step(self, action):
        obs, reward, terminated, truncated, info = self.env.step(action)
        self.steps += 1
        self.invalid += int(info["invalid_action"])
        return obs, reward, terminated, truncated, info


def test_sb3_contrib_get_action_masks_follows_the_vectorised_env():
    pytest.importorskip("sb3_contrib", reason="sb3-contrib integration tests")
    from sb3_contrib.common.maskable.utils import get_action_masks, is_masking_supported

    venv = make_vec_env("ToyMDP-v0", n_envs=3, seed=0)
    assert is_masking_supported(venv), (
        "sb3-contrib is_masking_supported: action_masks() not found through SB3's VecEnv "
        "and Monitor"
    )
    rng = np.random.default_rng(0)
    obs = venv.reset()
    states = set()
    for _ in range(60):
        masks = get_action_masks(venv)
        assert masks.shape == (3, 3) and masks.dtype == bool
        same = np.array_equal(masks, ALLOWED[obs])
        assert same, (
            f"sb3-contrib get_action_masks: masks {masks.tolist()} do not match the states "
            f"{obs.tolist()}"
        )
        states.update(obs.tolist())
        actions = np.array([rng.choice(np.flatnonzero(m)) for m in masks])
        obs, _, _, infos = venv.step(actions)
        assert not any(info["invalid_action"] for info in infos)
    assert states == {0, 1, 2}, f"the walk visited only states {states}"


def test_sb3_contrib_maskable_eval_callback_evaluates_with_masks(tmp_path):
    sb3_contrib = pytest.importorskip("sb3_contrib", reason="sb3-contrib integration tests")
    from sb3_contrib.common.maskable.callbacks import MaskableEvalCallback
    from sb3_contrib.common.maskable.evaluation import evaluate_policy

    venv = make_vec_env("ToyMDP-v0", n_envs=2, seed=0)
    eval_env = make_vec_env("ToyMDP-v0", n_envs=1, seed=1, wrapper_class=CountInvalidActions)
    model = sb3_contrib.MaskablePPO(
        "MlpPolicy", venv, n_steps=128, batch_size=64, n_epochs=2, seed=0, device="cpu"
    )
    # the counter can see invalid actions: unmasked, the untrained policy takes some
    evaluate_policy(model, eval_env, n_eval_episodes=1, deterministic=False, use_masking=False)
    assert sum(eval_env.get_attr("invalid")) > 0, "the invalid-action counter counts nothing"
    eval_env.set_attr("invalid", 0)
    eval_env.set_attr("steps", 0)

    # stochastic evaluations from early on: without masks, some actions would be invalid
    callback = MaskableEvalCallback(
        eval_env,
        eval_freq=64,
        n_eval_episodes=2,
        deterministic=False,
        log_path=str(tmp_path),
        verbose=0,
    )
    model.learn(512, callback=callback)
    name = "sb3-contrib MaskablePPO + MaskableEvalCallback on ToyMDP-v0"
    n_evals = len(callback.evaluations_results)
    assert n_evals == 4, f"{name}: {n_evals} evaluations, expected 4"
    evaluated = sum(eval_env.get_attr("steps"))
    assert evaluated == 4 * 2 * 100, f"{name}: {evaluated} evaluation steps, expected 800"
    invalid = sum(eval_env.get_attr("invalid"))
    assert invalid == 0, f"{name}: {invalid} masked action(s) taken during evaluation"


def test_use_with_snippet_runs():
    namespace = run_use_with_snippet("Stable-Baselines3")
    model = namespace["model"]
    assert model.num_timesteps >= 300, f"SB3 snippet: DQN ran {model.num_timesteps} steps"
    assert model.observation_space.shape == (4, 84, 84), (
        f"SB3 snippet: DQN CnnPolicy sees {model.observation_space.shape}"
    )


def test_use_with_snippet_for_sb3_contrib_runs():
    pytest.importorskip("sb3_contrib", reason="sb3-contrib integration tests")
    namespace = run_use_with_snippet("sb3-contrib (action masks)")
    assert namespace["model"].num_timesteps >= 256, "sb3-contrib snippet: MaskablePPO did not run"
    last = namespace["evaluation"].last_mean_reward
    assert np.isfinite(last), f"sb3-contrib snippet: MaskableEvalCallback never evaluated ({last})"
