"""The pytest plugin (entry point ``pytest11``): the federation as fixtures
for other projects' tests. Importing this module must stay cheap: it is
loaded by every pytest run in an environment where fedsim is installed."""
