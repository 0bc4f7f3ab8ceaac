import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))  # tests import their shared oracles (helpers)

# the suite compiles more distinct fused kernels than one user process may (codegen's cap, a
# guard against numba's never-freed code); a test that expects the fused path must not depend
# on how many tests ran before it (test_cache_safety checks the cap itself)
import tapegrad.codegen  # noqa: E402

tapegrad.codegen.MAX_KERNELS = 100_000


@pytest.fixture(autouse=True)
def fresh_state():
    """Each test starts with grad mode on and its graphs on a fresh tape, so a test that leaves
    grad mode off cannot leak and tapes never mix records across tests."""
    from tapegrad.grad_mode import STATE

    STATE.tape_ref = None
    STATE.grad_enabled = True
    yield
    STATE.grad_enabled = True
