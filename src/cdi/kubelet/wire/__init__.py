"""The kubelet's gRPC contracts (device plugin v1beta1, DRA v1 and v1beta1, plugin
registration): our own ``.proto`` files and the modules generated from them
(:mod:`cdi.kubelet.wire.generate`). Importing these needs the ``kubernetes`` extra
(``grpcio``, ``protobuf``)."""
