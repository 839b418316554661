"""gymkit's adapters to other RL libraries: the top layer, imported by nothing in gymkit.

- `gymkit.integrations.rllib`: gymkit ids and Atari presets on Ray RLlib's env runners
  (needs the ``ray`` extra).

Each module imports its library on import; ``import gymkit`` imports none of them.
"""

if __name__ != "gymkit.integrations":
    raise ImportError(
        f"this folder is the package gymkit.integrations, imported here as {__name__!r}: "
        "install the checkout (pip install -e .) and import gymkit.integrations"
    )
