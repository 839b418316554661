"""SB3's plain PPO/DQN and sb3-contrib's MaskablePPO train on ToyMDP-v0 unmodified."""

import numpy as np
import pytest

import gymkit  # noqa: F401

pytest.importorskip("stable_baselines3")


@pytest.mark.parametrize("algo", ["PPO", "DQN"])
def test_plain_sb3_algorithms_train_on_toy_mdp(algo):
    import stable_baselines3
    from stable_baselines3.common.env_util import make_vec_env

    venv = make_vec_env("ToyMDP-v0", n_envs=2, seed=0)
    kwargs = dict(n_steps=256, batch_size=64) if algo == "PPO" else dict(learning_starts=100)
    model = getattr(stable_baselines3, algo)("MlpPolicy", venv, seed=0, device="cpu", **kwargs)
    model.learn(2_000)
    action, _ = model.predict(0, deterministic=True)
    assert venv.action_space.contains(int(action))


def test_maskable_ppo_trains_and_never_picks_a_masked_action():
    sb3_contrib = pytest.importorskip("sb3_contrib")
    from stable_baselines3.common.callbacks import BaseCallback
    from stable_baselines3.common.env_util import make_vec_env

    class CountInvalid(BaseCallback):
        invalid = steps = 0

        def _on_step(self):
            for info in self.locals["infos"]:
                self.steps += 1
                self.invalid += int(info["invalid_action"])
            return True

    venv = make_vec_env("ToyMDP-v0", n_envs=2, seed=0)
    model = sb3_contrib.MaskablePPO(
        "MlpPolicy", venv, n_steps=256, batch_size=64, seed=0, device="cpu"
    )
    counter = CountInvalid()
    model.learn(3_000, callback=counter)
    assert counter.steps >= 3_000
    assert counter.invalid == 0
    # a masked prediction in state 2 can only be action 1
    masks = np.array([[False, True, False]])
    for _ in range(20):
        action, _ = model.predict(np.array([2]), action_masks=masks)
        assert int(action[0]) == 1
