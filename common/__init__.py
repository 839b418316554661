"""What every gymkit layer shares, at the bottom of the import graph.

- `gymkit.common.checks`: the one vocabulary of argument checks used by the wrappers,
  the agents and their configs; each error names the owner, the argument, what was
  expected and what was received.

Nothing here imports another gymkit package.
"""

if __name__ != "gymkit.common":
    raise ImportError(
        f"this folder is the package gymkit.common, imported here as {__name__!r}: install "
        "the checkout (pip install -e .) and import gymkit.common"
    )
