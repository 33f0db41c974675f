"""The shipped checkpoints' recipes read back as requests, and the Train page starting from one."""

from __future__ import annotations

import argparse
import json
import shlex

import pytest

from core.errors import JetInputError
from core.requests import TrainRequest
from core.training.recipes import CHECKPOINTS, SHIPPED, parse_train_command, recipe_note, shipped_recipe


@pytest.mark.parametrize("family", sorted(SHIPPED))
def test_each_recipe_is_its_cards_command_parsed_as_the_command_line_would(family):
    """Round trip: the recipe's request gives back the first stage's command line (flags, values)."""
    recipe = shipped_recipe(family)
    assert recipe is not None and recipe.request.family == family
    first = recipe.command.split("&&")[0]
    parser = argparse.ArgumentParser()
    TrainRequest.add_arguments(parser)
    parser.add_argument("--force", action="store_true")
    direct = TrainRequest.from_namespace(parser.parse_args(shlex.split(first)[4:]))
    assert recipe.request == direct
    again = parse_train_command("python -m core train " + shlex.join(recipe.request.to_argv()))
    assert again == recipe.request


def test_the_quantum_recipe_is_the_shipped_model_and_multi_stage_recipes_say_so():
    quantum = shipped_recipe("quantum").request
    with open(CHECKPOINTS / "quantum_hybrid" / "config.json") as f:
        card = json.load(f)
    assert quantum.chain_jets == card["task"]["hybrid"]["chain_jets"] and quantum.channel_context
    assert quantum.profile_weight == card["task"]["hybrid"]["profile_weight"] and quantum.lr == 0.005
    unet = shipped_recipe("ddpm")
    assert (
        unet.stages == 6 and unet.request.steps == 2000
    )  # training stages; the readout refit after them trains nothing
    assert unet.command.endswith("refit_energy_table.py checkpoints/unet_32 --multiplicity --guidance 1.5")
    note = recipe_note(unet, max_steps=500)
    assert "stage 1 of 6" in note and "capped at this server's limit of 500" in note
    assert "stage" not in recipe_note(shipped_recipe("quantum"), None)


def test_bad_cards_and_commands(tmp_path):
    assert shipped_recipe("quantum", root=tmp_path) is None  # no card
    (tmp_path / "quantum_hybrid").mkdir()
    (tmp_path / "quantum_hybrid" / "model_card.json").write_text(json.dumps({"command": "rm -rf /"}))
    with pytest.raises(JetInputError, match="not a 'python -m core train' command"):
        shipped_recipe("quantum", root=tmp_path)
    (tmp_path / "quantum_hybrid" / "model_card.json").write_text(
        json.dumps({"command": "python -m core train --model ddpm"})
    )
    with pytest.raises(JetInputError, match="trains 'ddpm', not 'quantum'"):
        shipped_recipe("quantum", root=tmp_path)
    with pytest.raises(JetInputError, match="does not parse"):
        parse_train_command("python -m core train --steps many")
    assert shipped_recipe("no-such-family") is None


def test_a_recipe_is_parsed_once_per_version_of_its_card(tmp_path, monkeypatch):
    import core.training.recipes as recipes

    calls = []
    monkeypatch.setattr(recipes, "parse_train_command", lambda c: calls.append(c) or parse_train_command(c))
    card = tmp_path / "quantum_hybrid" / "model_card.json"
    card.parent.mkdir()
    card.write_text(json.dumps({"command": "python -m core train --model quantum --steps 10"}))
    first = shipped_recipe("quantum", root=tmp_path)
    assert shipped_recipe("quantum", root=tmp_path) is first and len(calls) == 1  # the Train page's every view
    card.write_text(json.dumps({"command": "python -m core train --model quantum --steps 200"}))  # a new card
    assert shipped_recipe("quantum", root=tmp_path).request.steps == 200 and len(calls) == 2
