"""The client (and the server with a non-torch runner) work in a process where torch cannot be imported."""

from __future__ import annotations

import subprocess
import sys
import textwrap

SCRIPT = textwrap.dedent(
    """
    import sys

    class NoTorch:
        def find_spec(self, name, path=None, target=None):
            if name == "torch" or name.startswith("torch."):
                raise ImportError("torch is blocked in this test")
            return None

    sys.meta_path.insert(0, NoTorch())

    import numpy as np
    from vlastack.serving.client import PolicyClient, RemotePolicy
    from vlastack.serving.runners import FakeRunner
    from vlastack.serving.server import PolicyServer, ServerConfig, ServerThread
    from vlastack.types import Observation

    with ServerThread(PolicyServer(FakeRunner(), ServerConfig(port=0))) as server:
        policy = RemotePolicy(server.url)
        obs = Observation(images={"corner2": np.full((96, 96, 3), 7, np.uint8)}, state=np.zeros(4, np.float32), instruction="reach")
        chunk = policy(obs)
        assert chunk.actions.shape == (1, 4, 4), chunk.actions.shape
        policy.close()
    assert "torch" not in sys.modules
    print("OK without torch")
    """
)


def test_client_imports_and_works_without_torch():
    done = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "OK without torch" in done.stdout
