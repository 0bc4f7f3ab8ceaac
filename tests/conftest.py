import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))  # tests import their shared oracles (helpers)


@pytest.fixture(autouse=True)
def fresh_state():
    """Each test starts with grad mode on and its graphs on a fresh tape, so a test that leaves
    grad mode off cannot leak and tapes never mix records across tests."""
    from tapegrad.grad_mode import STATE

    STATE.tape_ref = None
    STATE.grad_enabled = True
    yield
    STATE.grad_enabled = True
