"""`promoguard classify`: one decision for a person, or JSON for a machine."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from promoguard.cli import app

runner = CliRunner()


def test_json_output(phrase_bundle: Path) -> None:
    args = ["classify", "--bundle", str(phrase_bundle), "--json", "本产品保*本*保*息，稳赚"]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    res = json.loads(result.stdout)
    assert res["decision"] == "block" and res["labels"] == ["misleading"]
    assert [e["text"] for e in res["evidence"] if e["source"] == "lexicon"] == ["保*本*保*息"]


def test_human_output_names_decision_labels_and_evidence(phrase_bundle: Path) -> None:
    result = runner.invoke(app, ["classify", "--bundle", str(phrase_bundle), "有人荐股，稳赚不赔"])
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert "BLOCK" in out and "misleading" in out and "unlicensed" in out
    assert "稳赚不赔 misleading M1" in out  # the lexicon phrase, its label and sub-type
    assert "0.9000" in out  # the score table


def test_file_html_and_account_flags(phrase_bundle: Path, tmp_path: Path) -> None:
    page = tmp_path / "post.html"
    page.write_text('<div id="js_content"><p>有人荐</p><script>骗</script></div>', encoding="utf-8")
    args = ["classify", "--bundle", str(phrase_bundle), "--json", "--file", str(page)]
    assert json.loads(runner.invoke(app, args).stdout)["decision"] == "review"
    licensed = runner.invoke(app, [*args, "--licensed"])
    assert json.loads(licensed.stdout)["decision"] == "warn"


def test_errors_are_one_line_without_a_traceback(phrase_bundle: Path, tmp_path: Path) -> None:
    for args in (
        ["classify", "--bundle", str(phrase_bundle), "   "],
        ["classify", "--bundle", str(tmp_path / "nope"), "x"],
        ["classify", "--bundle", str(phrase_bundle)],
        ["classify", "--bundle", str(phrase_bundle), "--file", str(tmp_path / "missing.txt")],
    ):
        result = runner.invoke(app, args)
        assert result.exit_code == 1
        assert result.output.startswith("error: ") and "Traceback" not in result.output
