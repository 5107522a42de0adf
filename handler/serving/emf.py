"""CloudWatch embedded metric format (EMF) lines for one served batch (stdlib only).

A line written to the container's stdout in this format becomes CloudWatch metrics without any
agent: SageMaker ships stdout to CloudWatch Logs, which extracts the metrics named in ``_aws``
(https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/CloudWatch_Embedded_Metric_Format_Specification.html).

One record per batch carries, under the dimension set ``[ModelName]``:

* ``Requests``: the batch's requests (Count);
* ``Requests2XX``, ``Requests4XX``, ``Requests5XX``: requests by status class (Count), so that
  alarms work even when the endpoint answers HTTP 200 with the status in the body;
* ``BatchSize``: requests in the batch (Count);
* ``<stage>Ms``: for each stage key of ``stage_ms`` (e.g. ``parse``, ``forward``), the latency of
  each request in milliseconds, as an EMF value array (Milliseconds).

Each status code also appears as a property (``StatusCodes``) for CloudWatch Logs Insights.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Mapping, Sequence

_STATUS_CLASSES = ("2XX", "4XX", "5XX")
_NAME_CHARS = re.compile(r"[^A-Za-z0-9_]")


def _metric_name(stage: str) -> str:
    """``parse`` -> ``ParseMs``; other characters than letters, digits and _ are dropped."""
    cleaned = _NAME_CHARS.sub("", stage.title().replace("_", ""))
    return f"{cleaned or 'Stage'}Ms"


def emf_record(namespace: str, model_name: str, status_codes: Sequence[int],
               stage_ms: Sequence[Mapping[str, float]], batch_size: int,
               timestamp_ms: int | None = None) -> str:
    """One EMF JSON line for a batch.

    Args:
        namespace: the CloudWatch namespace of the metrics (e.g. ``GsTorchServe``).
        model_name: the served model's name (the ``ModelName`` dimension).
        status_codes: each request's envelope status code, in batch order.
        stage_ms: each request's stage latencies in milliseconds, e.g.
            ``[{"parse": 0.8, "forward": 3.1}, ...]``; stages missing for a request are skipped.
        batch_size: the number of requests in the batch.
        timestamp_ms: the record's time in milliseconds since the epoch (default: now).

    Returns:
        The record as one line of JSON (no newline at the end).
    """
    classes = {c: 0 for c in _STATUS_CLASSES}
    for code in status_codes:
        key = f"{int(code) // 100}XX"
        if key in classes:
            classes[key] += 1
    stages: dict[str, list[float]] = {}
    for request in stage_ms:
        for stage, value in request.items():
            stages.setdefault(_metric_name(stage), []).append(round(float(value), 3))
    metrics = [{"Name": "Requests", "Unit": "Count"}, {"Name": "BatchSize", "Unit": "Count"}]
    metrics += [{"Name": f"Requests{c}", "Unit": "Count"} for c in _STATUS_CLASSES]
    metrics += [{"Name": name, "Unit": "Milliseconds"} for name in sorted(stages)]
    record: dict = {
        "_aws": {
            "Timestamp": int(time.time() * 1000) if timestamp_ms is None else int(timestamp_ms),
            "CloudWatchMetrics": [{"Namespace": namespace, "Dimensions": [["ModelName"]], "Metrics": metrics}],
        },
        "ModelName": model_name,
        "Requests": len(status_codes),
        "BatchSize": int(batch_size),
        "StatusCodes": [int(c) for c in status_codes],
    }
    record.update({f"Requests{c}": n for c, n in classes.items()})
    record.update(stages)
    return json.dumps(record, separators=(",", ":"))
