import importlib
import inspect
import subprocess
import sys

import pytest

import gymkit.agents

AGENT_MODULES = [
    "gymkit.agents.base",
    "gymkit.agents.evaluation",
    "gymkit.agents.value_iteration",
    "gymkit.agents.q_learning",
    "gymkit.agents.reinforce",
    "gymkit.agents.dqn",
    "gymkit.agents.dqn_sb3",
    "gymkit.agents.dqn_policies",
]


def test_importing_gymkit_agents_does_not_import_torch():
    code = (
        "import sys, gymkit, gymkit.agents\n"
        "from gymkit.agents import QLearningAgent, ReinforceAgent, ValueIterationAgent, evaluate\n"
        "heavy = sorted(m for m in ('torch', 'stable_baselines3') if m in sys.modules)\n"
        "assert not heavy, heavy\n"
        "gymkit.agents.DQNConfig\n"
        "assert 'torch' in sys.modules\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


def test_every_exported_name_resolves_and_unknown_names_raise():
    for name in gymkit.agents.__all__:
        assert getattr(gymkit.agents, name) is not None
    assert set(gymkit.agents.__all__) <= set(dir(gymkit.agents))
    with pytest.raises(AttributeError, match="module 'gymkit.agents' has no attribute 'PPO'"):
        gymkit.agents.PPO  # noqa: B018


@pytest.mark.parametrize("module_name", AGENT_MODULES)
def test_public_classes_document_an_example_and_their_args(module_name):
    module = importlib.import_module(module_name)
    for name in module.__all__:
        obj = getattr(module, name)
        if not inspect.isclass(obj):
            continue
        doc = inspect.getdoc(obj) or ""
        assert "Example:" in doc and ">>>" in doc, f"{module_name}.{name} lacks an Example"
        fields = getattr(obj, "__dataclass_fields__", None)
        if fields:  # configs document their fields as Attributes
            missing = [f for f in fields if f"{f}:" not in doc]
            assert "Attributes:" in doc and not missing, f"{name} undocumented: {missing}"
        else:
            assert "Args:" in doc, f"{module_name}.{name} lacks Args"
