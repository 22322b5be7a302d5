"""World model (issue 14): dynamics in a frozen policy encoder's embedding space, and latent actions.

- ``config``: the frozen configs of the two models.
- ``embeddings``: encode a dataset once with a policy's ``image_features`` and cache the result.
- ``dynamics``: the chunk predictor z(t+m) = f(z(t), a(t..t+m-1)) and its autoregressive rollout.
- ``latent_actions``: inverse dynamics (z(t), z(t+k)) -> FSQ code, and the forward model that uses it.
- ``train``: the training loops (resumable, safetensors checkpoints); ``evaluate``: horizon errors and read-outs.
"""
