import logging

import numpy as np
import pytest

# pygsp attaches DEBUG stream handlers to its loggers; keep test output clean.
for name in ("pygsp", "pygsp.graphs", "pygsp.filters", "pygsp.utils"):
    logging.getLogger(name).setLevel(logging.WARNING)


@pytest.fixture
def rng():
    return np.random.default_rng(42)
