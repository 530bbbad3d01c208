import numpy as np
import pytest

import bricks


@pytest.fixture(autouse=True)
def _seed():
    bricks.manual_seed(0)
    yield


@pytest.fixture(autouse=True)
def _doctest_namespace(doctest_namespace):
    doctest_namespace["bricks"] = bricks
    doctest_namespace["np"] = np
