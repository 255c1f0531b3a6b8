"""The built-in check kinds: each module here defines kinds, and nothing else does.

Every module in this folder holds a `KINDS = [CheckKind(...), ...]` list naming the kinds a lab's
`checks:` may use (`objects` holds `exists`, `field`, `condition` and the like; `network` holds
`connectivity` and `dns`), and `checks/registry.py` lists these modules in `_BUILTIN_MODULES`.
What the kinds share, the probes, the judging of a probe, the reading of EndpointSlices and Events,
the access reviews, lives one folder up in `labrunner.checks`, the machinery. This package imports
nothing on purpose: the registry imports each kind module when the kinds are first asked for.
"""
