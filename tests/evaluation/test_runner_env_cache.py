"""An evaluation worker keeps the environments of its last two tasks only (envs/env_cache.py): before, it kept all
of them, about 160 MB each, and a worker grew to ~8 GB over MT50."""

from vlastack.evaluation.runner import EvalConfig


def test_a_worker_walking_through_three_tasks_keeps_two_environments_and_closed_the_first(tmp_path, monkeypatch):
    from vlastack.envs import metaworld
    from vlastack.evaluation import runner
    from vlastack.policies import PRESETS
    from vlastack.policies.untrained import untrained_policy

    checkpoint = tmp_path / "debug_policy"
    untrained_policy(PRESETS.get("debug").policy).save_pretrained(checkpoint)
    closed = []
    real_close = metaworld.MetaWorldEnv.close
    monkeypatch.setattr(metaworld.MetaWorldEnv, "close", lambda self: closed.append(self.config.task) or real_close(self))
    tasks = ("reach-v3", "drawer-open-v3", "button-press-v3")
    try:
        results, _ = runner.evaluate(EvalConfig(checkpoint=checkpoint, tasks=tasks, episodes=1, max_steps=4, video_tasks=0), progress=False)
        assert [r.error for r in results] == [None] * 3 and [r.task for r in results] == list(tasks)
        assert [key.split("/")[0] for key, _ in runner._ENVS.items()] == ["drawer-open-v3", "button-press-v3"]
        assert closed == ["reach-v3"]
    finally:
        runner.close_envs()
