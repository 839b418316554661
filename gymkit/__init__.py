"""gymkit: Gymnasium environments, fast preprocessing wrappers and reference agents.

``import gymkit`` registers every environment id (``ToyMDP-v0``,
``ShapedCartPole-v1``); ``gym.make("gymkit:ToyMDP-v0")`` does the same on demand.
The sub-packages are `gymkit.envs`, `gymkit.wrappers` and `gymkit.agents`; the
agents load torch lazily, so importing gymkit never imports torch.
"""

from gymkit.envs import ENV_IDS, register_envs

__all__ = ["ENV_IDS", "register_envs", "__version__"]
__version__ = "0.1.0"
