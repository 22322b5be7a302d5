"""Issue 16 (DAgger for the done-detector): record a hierarchical policy's own episodes on the long-horizon suite
(training wording, behind the layer, no added noise) as a LeRobot dataset with the privileged state, so plan
labels (the true stage per frame) can be derived and the high level fine-tuned on what it meets when acting.

    MUJOCO_GL=egl python benchmarks/hier_rollouts.py CHECKPOINT OUT EPISODES_PER_TASK SEED_OFFSET

Resumable: episodes (task, seed) already in OUT are not run again. Two simulator workers.
"""

import sys
from pathlib import Path

import numpy as np


def job(checkpoint: str, task: str, seed: int):
    """One episode of the policy, no added noise, behind the default layer (rl-sim's worker pieces: the policy and
    environment kept per worker, the demonstrations' phrasing for the seed)."""
    from vlastack.envs.tasks import step_limit
    from vlastack.improve.explore import run_explored
    from vlastack.improve.interventions import policy_and_env

    policy, env = policy_and_env(checkpoint, task, seed, step_limit(task))
    noise = np.zeros((1, int(env.action_space.shape[0])), np.float32)
    return run_explored(env, policy, noise, seed, "metaworld_sawyer", policy.execute_steps)


def main() -> None:
    from vlastack.envs.long_horizon import SUITE
    from vlastack.episodes.writer import DatasetWriter
    from vlastack.improve.explore import EXPLORE_ACTION, POLICY_ACTION
    from vlastack.improve.interventions import run_episode_jobs

    checkpoint, out, n, offset = sys.argv[1], Path(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
    writer = DatasetWriter(out, robot_type="sawyer")
    have = {(str(m["vlastack/env_task"]), int(m["vlastack/seed"])) for m in writer.episode_rows()}
    jobs = [(t, offset + k) for t in SUITE for k in range(n) if (t, offset + k) not in have]
    solved = [0, 0]

    def done(res) -> None:
        for k in (POLICY_ACTION, EXPLORE_ACTION):  # the demonstrations' features only, so the datasets match
            res.episode.frames.pop(k, None)
        writer.add_episode(res.episode)
        solved[0] += int(res.success)
        solved[1] += 1
        print(
            f"{solved[1]}/{len(jobs)} {res.task} seed {res.seed}: {'solved' if res.success else 'failed'} in {res.steps} steps", flush=True
        )

    run_episode_jobs(job, Path(checkpoint), jobs, (), 2, done)
    print(f"solved {solved[0]} of {solved[1]}")


if __name__ == "__main__":
    main()
