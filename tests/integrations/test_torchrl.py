"""TorchRL's GymEnv / GymWrapper around gymkit envs: specs, a short rollout, action masks."""

from __future__ import annotations

import multiprocessing

import numpy as np
import pytest

import gymkit  # noqa: F401  (registers the ids)
from gymkit.envs.tabular_mdp import TOY_MDP_ALLOWED
from gymkit.wrappers import make_atari

torch = pytest.importorskip("torch", reason="TorchRL needs torch")
_start_method = multiprocessing.get_start_method(allow_none=True)
torchrl_envs = pytest.importorskip("torchrl.envs", reason="TorchRL integration tests")
# importing torchrl switches the whole process to "spawn"; the other test modules'
# AsyncVectorEnv workers keep the platform's default
multiprocessing.set_start_method(_start_method, force=True)

from readme_snippets import run_use_with_snippet  # noqa: E402
from torchrl.data import Binary  # noqa: E402
from torchrl.envs import GymEnv, GymWrapper, TransformedEnv  # noqa: E402
from torchrl.envs.libs.gym import default_info_dict_reader  # noqa: E402
from torchrl.envs.transforms import ActionMask  # noqa: E402
from torchrl.envs.utils import check_env_specs  # noqa: E402

ALLOWED = torch.zeros(3, 3, dtype=torch.bool)
for _state, _actions in enumerate(TOY_MDP_ALLOWED):
    ALLOWED[_state, list(_actions)] = True


def _check_specs(name, env):
    try:
        check_env_specs(env, seed=0)
    except Exception as error:  # check_env_specs raises AssertionError or others
        raise AssertionError(f"TorchRL check_env_specs on {name}: {error}") from error


def test_torchrl_gym_env_on_shaped_cartpole():
    env = GymEnv("ShapedCartPole-v1")
    name = "GymEnv('ShapedCartPole-v1')"
    obs_spec, action_spec = env.observation_spec["observation"], env.action_spec
    assert obs_spec.shape == (4,) and obs_spec.dtype == torch.float32, (
        f"TorchRL {name}: observation spec {obs_spec}"
    )
    assert action_spec.shape == (2,) and action_spec.space.n == 2, (
        f"TorchRL {name}: action spec {action_spec} (expected one-hot over 2 actions)"
    )
    _check_specs(name, env)
    torch.manual_seed(0)
    rollout = env.rollout(8)
    assert rollout.batch_size == (8,), f"TorchRL {name}: rollout of {rollout.batch_size} steps"
    # TorchRL passes the shaped reward through: 1 - min(|angle after the step|, 0.7)
    angle = rollout["next", "observation"][:, 2]
    expected = 1.0 - torch.clamp(angle.abs(), max=0.7)
    assert torch.allclose(rollout["next", "reward"].squeeze(-1), expected, atol=1e-5), (
        f"TorchRL {name}: rewards {rollout['next', 'reward'].flatten().tolist()} are not "
        f"the shaped ones {expected.tolist()}"
    )


def test_torchrl_action_mask_from_toy_mdp_info():
    env = GymEnv("ToyMDP-v0", categorical_action_encoding=True)
    env.set_info_dict_reader(
        default_info_dict_reader(["action_mask"], spec={"action_mask": Binary(3, dtype=torch.bool)})
    )
    env = TransformedEnv(env, ActionMask())
    name = "GymEnv('ToyMDP-v0') + ActionMask"
    obs_spec = env.observation_spec["observation"]
    assert obs_spec.space.n == 3 and obs_spec.dtype == torch.int64, (
        f"TorchRL {name}: observation spec {obs_spec}"
    )
    assert env.full_action_spec["action"].space.n == 3
    _check_specs(name, env)

    torch.manual_seed(0)
    rollout = env.rollout(300)  # random actions drawn from the masked spec; 100-step episodes
    states, actions, masks = rollout["observation"], rollout["action"], rollout["action_mask"]
    assert len(rollout) == 100 and bool(rollout["next", "truncated"][-1]), (
        f"TorchRL {name}: the episode did not end at ToyMDP-v0's 100-step time limit"
    )
    assert torch.equal(masks, ALLOWED[states]), (
        f"TorchRL {name}: the masks read from info do not match the states"
    )
    assert bool(ALLOWED[states, actions].all()), (
        f"TorchRL {name}: a masked action was sampled in states "
        f"{states[~ALLOWED[states, actions]].tolist()}"
    )
    assert set(states.tolist()) == {0, 1, 2}, f"TorchRL {name}: visited {set(states.tolist())}"
    assert float(rollout["next", "reward"].min()) > -51, (
        f"TorchRL {name}: the invalid-action penalty was paid"
    )


@pytest.mark.parametrize("profile", ["gymnasium", "sb3"])
def test_torchrl_gym_wrapper_around_an_atari_preset(profile):
    env = GymWrapper(make_atari("Breakout", profile))
    name = f"GymWrapper(make_atari('Breakout', {profile!r}))"
    shape = (4, 84, 84) if profile == "gymnasium" else (84, 84, 4)
    obs_spec = env.observation_spec["observation"]
    assert obs_spec.shape == shape and obs_spec.dtype == torch.uint8, (
        f"TorchRL {name}: observation spec {obs_spec}, expected {shape} uint8"
    )
    assert env.action_spec.space.n == 4, f"TorchRL {name}: action spec {env.action_spec}"
    _check_specs(name, env)
    rollout = env.rollout(5)
    frames = rollout["next", "observation"]
    assert frames.shape == (5, *shape) and frames.dtype == torch.uint8
    assert bool((frames > 0).any()), f"TorchRL {name}: the observed frames are all black"
    np.testing.assert_array_equal(
        rollout["observation"][1:].numpy(),
        frames[:-1].numpy(),
        err_msg=f"TorchRL {name}: 'observation' is not the previous 'next' observation",
    )


def test_use_with_snippet_runs():
    namespace = run_use_with_snippet("TorchRL")
    rollout = namespace["rollout"]
    assert "action_mask" in rollout.keys(), f"TorchRL snippet: rollout keys {rollout.keys()}"
    assert bool(ALLOWED[rollout["observation"], rollout["action"]].all()), (
        "TorchRL snippet: a masked action was taken"
    )
