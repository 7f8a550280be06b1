"""Export recorded calls to OpenTelemetry backends.

- ``otlp.send_trace``: a stored run, as OTLP/HTTP protobuf through the OpenTelemetry SDK
  (the ``otlp`` extra), from the CLI.
- ``live``: spans sent as they happen from traced programs and services, OTLP/HTTP JSON,
  standard library only.
- ``spans``: the one mapping from Call/Layer to spans both use.

NOTE: this package is imported inside traced programs (Python 3.8+, standard library
only): nothing here may import the SDK eagerly.
"""
