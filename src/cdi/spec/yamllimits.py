"""The guard rails every YAML reader of the project keeps to, whichever reads a document.

Kept apart from :mod:`cdi.spec.yaml11` (which needs PyYAML) so that the block reader
(:mod:`cdi.spec.yamlblock`) can refuse exactly what the full reader would refuse.
"""

#: How many nodes alias references may add on top of the document itself.
MAX_ALIAS_EXPANSION = 100_000
#: How deeply collections may nest (a spec needs about eight levels).
MAX_DEPTH = 100
#: How many nodes (scalars, collections, aliases) a document may have. Building values from
#: events costs a few microseconds per node, so this bounds the time any document can take;
#: the largest real spec known (968 MIG devices, 172 kB) has about 17,000.
MAX_NODES = 100_000
