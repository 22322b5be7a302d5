"""Serving: a websocket + msgpack policy server and its client, wire-compatible with openpi.

    vlastack serve --checkpoint runs/x --port 8000 [--token SECRET]      # the server (loads torch)
    from vlastack.serving.client import PolicyClient, RemotePolicy        # the client (no torch)

- :mod:`.protocol`: message keys, the observation spec and its validation (what the metadata says)
- :mod:`.msgpack_numpy`: openpi's numpy-in-msgpack encoding, decoded strictly
- :mod:`.server`: :class:`~.server.PolicyServer` (asyncio, thread-pool inference, token, limits)
- :mod:`.runners`: the :class:`~.runners.PolicyRunner` protocol and a fake runner for tests
- :mod:`.checkpoint`: :class:`~.checkpoint.CheckpointRunner`, a vlastack checkpoint behind the server
- :mod:`.session`: per-connection state and the safety pre-filter over whole chunks
- :mod:`.client`: :class:`~.client.PolicyClient`, :class:`~.client.RemotePolicy` (Observation -> ActionChunk)

Nothing here imports torch at module level; only ``CheckpointRunner`` needs it.
"""
