"""Simulators and scripted experts. Meta-World v3 is the built-in suite."""

import os

# MuJoCo picks its OpenGL backend when first imported: headless EGL unless the user chose another.
os.environ.setdefault("MUJOCO_GL", "egl")


from vlastack.envs.tasks import groups, resolve_tasks  # noqa: F401


def make_env(task: str, **kwargs):
    """A Meta-World environment (imports MuJoCo and metaworld on first use), or a robosuite one for an
    ``rs-...`` task (envs/robosuite_env.py; robosuite is an optional extra), a Fetch one for a ``fetch-...`` task
    (envs/fetch_env.py; gymnasium-robotics, the fetch extra)."""
    from vlastack.envs.metaworld import make_env as _make

    return _make(task, **kwargs)
