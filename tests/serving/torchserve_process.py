"""Re-export of ``bench.torchserve_process`` (its home: bench/ must not import tests/, tests may use bench/)."""

from bench.torchserve_process import (  # noqa: F401
    BASE_CONFIG,
    LOG_CONFIG,
    REPO,
    SLOW_CALL_S,
    TORCHSERVE,
    VERSIONING_CONFIG,
    Response,
    TorchServeProcess,
    free_ports,
    http_request,
    prometheus_value,
    serving,
)
