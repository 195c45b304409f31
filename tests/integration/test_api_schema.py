"""The API against its own OpenAPI document: schemathesis generates requests from the served
document (a real server, a write key) and checks that no answer is a 5xx and every answer
conforms to the document.

Generated input chooses webhook URLs, and turning a webhook on sends it a test event: the
server and schemathesis run in a network namespace with only loopback (`unshare -n`), so
nothing can be sent anywhere else.
"""
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
MAX_EXAMPLES = os.environ.get("API_FUZZ_EXAMPLES", "25")


def _can_unshare():
    if not shutil.which("unshare"):
        return False
    return subprocess.run(["unshare", "-n", "true"], capture_output=True).returncode == 0


@pytest.mark.slow
def test_schemathesis_finds_no_5xx_and_no_answer_outside_the_document(tmp_path):
    assert _can_unshare(), "needs `unshare -n` (root, util-linux) to fence generated URLs in"
    script = (f"ip link set lo up && cd {ROOT} && "
              f"exec {sys.executable} -m tests.support.api_fuzz {tmp_path} {MAX_EXAMPLES}")
    run = subprocess.run(["unshare", "-n", "bash", "-c", script], capture_output=True, text=True,
                         timeout=1200)
    summary = run.stdout[-6000:]
    assert run.returncode == 0, summary + run.stderr[-3000:]
    assert " passed" in summary and "failures" not in summary.lower().split("summary")[-1], summary
