"""Suite-wide settings.

Tests that start real node processes (`e2e`, `browser`) run one after another
on a single xdist worker: several devnets at once on a 2-core machine starve
each other and time out, which tells us nothing about the code.
"""

from __future__ import annotations

import pytest


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if item.get_closest_marker("e2e") or item.get_closest_marker("browser"):
            item.add_marker(pytest.mark.xdist_group("devnet"))
