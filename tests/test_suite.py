"""The suite's own machinery: ``make test`` runs ``pytest -n 2 --dist loadgroup``, and the
modules marked ``xdist_group`` build their module fixtures (trained runs) once, on one worker."""

import pytest

pytestmark = pytest.mark.xdist_group(__name__)


def test_a_grouped_test_carries_its_group_to_the_scheduler(request: pytest.FixtureRequest) -> None:
    """xdist schedules a group as one unit by the ``@<group>`` suffix of its node ids."""
    if not request.config.getoption("loadgroup", False):  # set on each worker by xdist
        pytest.skip("run without --dist loadgroup: nothing is grouped")
    assert request.node.nodeid.endswith(f"@{__name__}"), request.node.nodeid
