"""The build cache: step results and base images kept between builds.

Modules, one concept each: :mod:`~cdi.build.cache.store` (the cache directory, its entries,
its lock), :mod:`~cdi.build.cache.keys` (what a key is made of), :mod:`~cdi.build.cache.digest`
(content digests of trees), :mod:`~cdi.build.cache.snapshots` (filesystem states made of
entries, and roots to work on them), :mod:`~cdi.build.cache.mounts` (overlay mounts),
:mod:`~cdi.build.cache.prune` with :mod:`~cdi.build.cache.selection` and
:mod:`~cdi.build.cache.units` (``cdi build prune``). ``docs/build.md`` explains the cache.
"""
