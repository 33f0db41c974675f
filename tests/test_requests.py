"""One request per verb: the CLI, the Train page and Python build the same ``TrainRequest`` and the same config."""

from __future__ import annotations

import argparse

import pytest

from core.diffusion.schedules import make_schedule
from core.errors import JetInputError
from core.requests import SampleRequest, TrainRequest

CASES = [
    TrainRequest(),
    TrainRequest(family="seed-baseline", size=16, beta_start=2e-4, beta_end=0.03),
    TrainRequest(family="ddpm", schedule="linear", beta_start=5e-5, beta_end=0.01, prediction="eps", preset="small"),
    TrainRequest(family="quantum", encoder="frqi", layers=2, channel="depolarizing", diffusion_steps=3),
    TrainRequest(family="quantum", qubits=8, ancillas=2, energy="total", pixel_order="raster"),
]


def _parse(argv: list[str], cls=TrainRequest) -> TrainRequest:
    p = argparse.ArgumentParser()
    cls.add_arguments(p)
    return cls.from_namespace(p.parse_args(argv))


@pytest.mark.parametrize("req", CASES, ids=lambda r: r.family)
def test_argv_round_trip_gives_the_same_request_and_config(req):
    again = _parse(req.to_argv())
    assert again == req
    assert again.task_config() == req.task_config()


def test_defaults_are_the_documented_ones_everywhere():
    cli = _parse([])
    assert cli == TrainRequest()
    config = cli.task_config()
    assert config["family"] == "ddpm" and config["prediction"] == "v"
    assert config["schedule"] == {"kind": "cosine", "timesteps": 1000, "beta_start": 1e-4, "beta_end": 0.02}


def test_the_saved_schedule_rebuilds_the_exact_betas():
    req = TrainRequest(schedule="linear", beta_start=3e-4, beta_end=0.05, timesteps=200)
    schedule = make_schedule(**req.task_config()["schedule"])
    assert schedule.timesteps == 200
    assert float(schedule.betas[0]) == pytest.approx(3e-4) and float(schedule.betas[-1]) == pytest.approx(0.05)
    assert make_schedule(**schedule.config()).betas.equal(schedule.betas)


def test_bad_values_name_the_option():
    with pytest.raises(JetInputError, match="--model 'gan': unknown"):
        TrainRequest(family="gan").task_config()
    with pytest.raises(JetInputError, match="--schedule 'quadratic': unknown; use one of linear, cosine"):
        TrainRequest(schedule="quadratic").check()
    with pytest.raises(JetInputError, match="--batch: must be a positive integer, got 0"):
        TrainRequest(batch_size=0).check()
    with pytest.raises(JetInputError, match="beta_start <= beta_end"):
        TrainRequest(schedule="linear", beta_start=0.1, beta_end=0.01).task_config()


def test_sample_request_shots_are_an_argument_and_steps_keep_their_old_flag():
    req = _parse(["--checkpoint", "c", "--shots", "50", "--steps", "7"], SampleRequest)
    assert req.shots == 50 and req.sampler_steps == 7 and req.sampler is None
    assert _parse(req.to_argv(), SampleRequest) == req
    assert "--shots 50" in req.command()


def test_evaluate_keeps_the_old_steps_flag():
    from core.commands import evaluate

    parser = argparse.ArgumentParser()
    evaluate.add_arguments(parser)
    for flag in ("--sampler-steps", "--steps"):
        assert parser.parse_args(["--generated", "g.h5", flag, "7"]).sampler_steps == 7
