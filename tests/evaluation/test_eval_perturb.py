"""``vlastack eval --perturb``: the names reach the environment and the results say which were applied."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from vlastack.errors import ConfigError

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def debug_checkpoint(tmp_path_factory):
    from vlastack.policies import PRESETS
    from vlastack.policies.untrained import untrained_policy

    path = tmp_path_factory.mktemp("perturb") / "debug_policy"
    untrained_policy(PRESETS.get("debug").policy).save_pretrained(path)
    return path


def test_perturb_option_reaches_the_env_and_the_results(tmp_path, debug_checkpoint):
    from vlastack.cli import app
    from vlastack.evaluation import runner

    report = tmp_path / "report"
    args = ["eval", "--checkpoint", str(debug_checkpoint), "--tasks", "reach-v3", "--episodes", "1", "--max-steps", "2"]
    args += ["--videos", "0", "--no-progress", "--json", "--report", str(report)]
    args += ["--perturb", "lighting,table_colour", "--perturb", "distractors"]
    try:
        r = CliRunner().invoke(app, args)
        assert r.exit_code == 0, r.output
        envs = [env for key, env in runner._ENVS.items() if key.startswith("reach-v3/")]
        assert [env.config.perturb for env in envs] == [("lighting", "table_colour", "distractors")]
        assert envs[0]._look.names == ("lighting", "table_colour", "distractors")  # applied at each reset
    finally:
        runner.close_envs()  # the simulator's scenes closed now, not at interpreter exit
    saved = json.loads((report / "results.json").read_text())
    assert saved["summary"]["config"]["perturb"] == ["lighting", "table_colour", "distractors"]
    settings = json.loads((report / "episodes.jsonl").read_text().splitlines()[0])["settings"]
    assert settings["perturb"] == ["lighting", "table_colour", "distractors"]  # a resume with other looks is refused


def test_unknown_perturbation_names_the_valid_ones(debug_checkpoint):
    from vlastack.cli import app

    args = ["eval", "--checkpoint", str(debug_checkpoint), "--tasks", "reach-v3", "--episodes", "1", "--perturb", "lighting,tabel_colour"]
    r = CliRunner().invoke(app, args)
    assert isinstance(r.exception, ConfigError)  # main() prints it as one line and exits with status 2
    message = str(r.exception)
    assert "unknown perturbation 'tabel_colour'" in message and "Did you mean 'table_colour'" in message
    assert "Valid perturbations: camera_2cm_3deg" in message and "none" in message
