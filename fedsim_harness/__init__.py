"""The harness above the three apps: the ``fedsim`` CLI, the stack that
builds and serves the federation, the scenario runner and its reports. It is
the composition root — the only code that imports ``idp_csam``,
``monespace`` and ``modigia_sp`` — while ``fedsim/`` stays a library that the
apps use and that imports none of them."""
