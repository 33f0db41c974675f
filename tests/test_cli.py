"""The command line: every verb has --help; info describes a file as text or JSON."""

import json
import subprocess
import sys

import pytest

from core.cli import VERBS, build_parser, main


def test_every_verb_has_help():
    parser, modules = build_parser()
    assert {"info", "simulate"} <= set(modules)
    for verb in modules:
        with pytest.raises(SystemExit) as exit_:
            main([verb, "--help"])
        assert exit_.value.code == 0
    assert set(modules) <= set(VERBS)


def test_info_json_counts_classes(small_sim, capsys):
    assert main(["info", str(small_sim), "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["jets"] == 20 and info["quark"] == 10 and info["gluon"] == 10
    assert info["image_shape"] == [125, 125, 3]
    lo, hi = info["pt_range_gev"]
    assert 500 < lo <= hi < 550


def test_python_dash_m_core_runs_as_a_module(small_sim):
    out = subprocess.run(
        [sys.executable, "-m", "core", "info", str(small_sim)], capture_output=True, text=True, check=True
    )
    assert "20 (10 quark, 10 gluon)" in out.stdout


def test_info_without_file_describes_the_embedded_sample(capsys):
    assert main(["info", "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["jets"] >= 10_000 and info["layout"] == "SparseJetFile"
