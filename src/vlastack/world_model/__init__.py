"""World model (issue 14): dynamics in a frozen policy encoder's embedding space, and latent actions.

- ``config``: the frozen configs of the models.
- ``embeddings``: encode a dataset once with a policy's ``image_features`` and cache the result.
- ``dynamics``: the chunk predictor z(t+m) = f(z(t), a(t..t+m-1)) and its autoregressive rollout.
- ``latent_actions``: inverse dynamics (z(t), z(t+k)) -> FSQ code, and the forward model that uses it.
- ``heads``: reward and safety heads on embeddings (success, keep-out, over-force, object lost) and their labels,
  and the progress head (the dense reward in [0, 1], ``vlastack wm progress``) that ``improve --method rl-wm`` scores with.
- ``guardrail``: roll a chunk out in the world model and flag it when the heads predict an unsafe event.
- ``inverse_dynamics``: an MLP from the proprioceptive states around frame t to the action a(t).
- ``pseudo_labels``: label the episodes past the first N of each task with it (``vlastack wm pseudo-label``).
- ``latent_labels``: label every frame with the latent action (``vlastack wm latent-label``), for LAPA-style pretraining.
- ``relabel``: a copy of a dataset with new actions (what pseudo- and latent labels write).
- ``action_free``: a copy of a dataset without its action column.
- ``runs``: a trained dynamics run (model, joined embeddings, split, labels) as the heads use it.
- ``preview``: a small conv decoder from an embedding to a low-resolution frame (``vlastack wm preview``);
  ``preview_eval``: PSNR / SSIM of decoded predictions against the true frames, and a chunk's PNG strip.
- ``train``: the training loops (resumable, safetensors checkpoints); ``evaluate``: horizon errors, read-outs,
  head scores and the guardrail's offline replay.
"""
