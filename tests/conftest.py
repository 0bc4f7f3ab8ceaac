import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))  # tests import their shared oracles (helpers)


@pytest.fixture(autouse=True)
def fresh_tape():
    """Each test starts its graphs on a fresh tape, so tapes never mix records across tests."""
    from tapegrad.grad_mode import STATE

    STATE.tape_ref = None
    yield
