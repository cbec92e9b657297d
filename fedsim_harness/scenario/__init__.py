"""Scripted journeys: a declarative YAML format (``scenarios/*.yaml``), a
small browser that drives the apps in-process or over HTTP, and a runner
that reports which guide step failed and what the page said."""
