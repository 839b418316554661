"""gymkit: Gymnasium environments, fast preprocessing wrappers and reference agents.

``import gymkit`` registers every environment id (``ToyMDP-v0``,
``ShapedCartPole-v1``); ``gym.make("gymkit:ToyMDP-v0")`` does the same on demand.

The package's face only: the version and the registration. Each sub-package is a
top-level folder of the repository, linked here so that the tree shows the import
graph (``gymkit/envs`` is ``envs/``):

- `gymkit.common`: the argument checks every layer shares (bottom layer);
- `gymkit.envs`: the environments and their registration;
- `gymkit.wrappers`: preprocessing wrappers, Atari presets, video, the vector env;
- `gymkit.agents`: reference agents (value iteration, Q-learning, REINFORCE, DQN);
- `gymkit.integrations`: adapters to other libraries (top layer).

The agents load torch lazily, so importing gymkit never imports torch.
"""

__version__ = "0.2.0"

try:
    from gymkit.envs import ENV_IDS, register_envs
except ModuleNotFoundError as err:  # a checkout used without installing it
    if not (err.name or "").startswith(("gymkit.", "gymnasium", "numpy")):
        raise
    raise ImportError(
        f"gymkit cannot import {err.name!r}: install the checkout first, from its root: "
        "pip install -c constraints-cpu.txt -e .  (see the README's Install section)"
    ) from err

__all__ = ["ENV_IDS", "register_envs", "__version__"]
