"""Reading a ``/metrics`` page in tests (a module beside the root ``conftest.py``)."""

from __future__ import annotations

from prometheus_client.parser import text_string_to_metric_families


def metric_value(text: str, sample: str, **labels: str) -> float | None:
    """The value of ``sample`` (a full sample name, such as ``x_total`` or ``x_sum``) with
    ``labels`` among its labels; None when it is not there."""
    for family in text_string_to_metric_families(text):
        for found in family.samples:
            if found.name == sample and labels.items() <= found.labels.items():
                return float(found.value)
    return None
