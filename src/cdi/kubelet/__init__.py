"""A Kubernetes node agent that serves CDI devices to the kubelet.

Two ways, both on top of :class:`cdi.Registry`: a device plugin (the kubelet's v1beta1 API;
``Allocate`` answers with CDI device names) and a DRA kubelet plugin (``NodePrepareResources``
writes a transient CDI spec per claim and answers with its device names), with the
devices published as ``ResourceSlice`` objects. Needs the ``kubernetes`` extra (``grpcio``,
``protobuf``, ``kubernetes``); nothing outside this package imports them. ``docs/kubernetes.md``
explains it.
"""
