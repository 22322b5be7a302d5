"""Knowledge insulation: in `hybrid` the flow loss sends no gradient into the backbone; in `flow` it does."""

from __future__ import annotations

from vlastack.policies import fake_batch

#: Everything upstream of the backbone's keys/values: what insulation must protect.
BACKBONE_SIDE = ("backbone.", "vision.", "text.", "text_proj.", "text_pos", "state_proj.", "camera_emb", "frame_emb", "embodiment.")


def _flow_grads(variant: str, cfg_for, policy_for) -> tuple[float, float]:
    policy = policy_for(cfg_for("debug", variant=variant, tokenizer="bins" if variant == "hybrid" else None))
    policy.train()
    policy.zero_grad(set_to_none=True)
    policy.loss_terms(fake_batch(policy.config, 3, seed=7))["flow"].mean().backward()
    backbone = expert = 0.0
    for name, p in policy.named_parameters():
        g = 0.0 if p.grad is None else float(p.grad.abs().sum())
        if name.startswith(BACKBONE_SIDE):
            backbone += g
        elif name.startswith("expert."):
            expert += g
    return backbone, expert


def test_hybrid_flow_loss_does_not_reach_the_backbone(cfg_for, policy_for):
    backbone, expert = _flow_grads("hybrid", cfg_for, policy_for)
    assert backbone == 0.0
    assert expert > 0.0


def test_flow_variant_trains_the_backbone_end_to_end(cfg_for, policy_for):
    backbone, expert = _flow_grads("flow", cfg_for, policy_for)
    assert backbone > 0.0
    assert expert > 0.0


def test_hybrid_token_loss_still_trains_the_backbone(cfg_for, policy_for):
    policy = policy_for(cfg_for("debug"))
    policy.train()
    policy.loss_terms(fake_batch(policy.config, 3, seed=7))["tokens"].mean().backward()
    assert sum(float(p.grad.abs().sum()) for n, p in policy.named_parameters() if n.startswith("backbone.") and p.grad is not None) > 0
    assert all(p.grad is None for n, p in policy.named_parameters() if n.startswith("expert."))


def test_real_size_hybrid_is_insulated_too(cfg_for, policy_for):
    policy = policy_for(cfg_for("hybrid"))
    policy.loss_terms(fake_batch(policy.config, 2, seed=1))["flow"].mean().backward()
    assert all(p.grad is None or not p.grad.any() for n, p in policy.named_parameters() if n.startswith("backbone."))
