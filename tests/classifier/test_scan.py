"""`promoguard scan`: every input format, order, bad input, CSV output, workers, resume after a kill."""

from __future__ import annotations

import csv
import gzip
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from classifier.readers import ReadOptions, read_inputs
from classifier.scan import ScanError, ScanOptions, scan
from promoguard.cli import app

from .conftest import FILLER

runner = CliRunner()


def lines(path: Path) -> list[dict]:
    return [json.loads(x) for x in path.read_text(encoding="utf-8").splitlines()]


def run_scan(bundle: Path, *args: str) -> tuple[int, str]:
    result = runner.invoke(app, ["scan", "--bundle", str(bundle), *args])
    return result.exit_code, result.output


def test_every_input_format_in_order(
    phrase_bundle: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    jsonl = tmp_path / "a.jsonl"
    jsonl.write_text('{"id": "j1", "text": "骗"}\n\n{"text": "天气很好"}\n', encoding="utf-8")
    gz = tmp_path / "b.jsonl.gz"
    gz.write_bytes(gzip.compress('{"id": "g1", "text": "赚"}\n'.encode()))
    arr = tmp_path / "c.json"
    arr.write_text('[{"id": "a1", "text": "荐"}, {"text": "疑"}]', encoding="utf-8")
    table = tmp_path / "d.csv"
    table.write_text('post_id,body,title\n7,"多行\n的荐",\n8,天气,骗\n', encoding="utf-8")
    tsv = tmp_path / "e.tsv"
    tsv.write_text("text\n赚\n", encoding="utf-8")
    txt = tmp_path / "f.txt"
    txt.write_text("第一行骗\n\n第三行\n", encoding="utf-8")
    html = tmp_path / "g.html"
    html.write_text(
        '<title>标题</title><div id="js_content"><p hidden>骗</p><p>天气很好</p></div>', encoding="utf-8"
    )
    md = tmp_path / "h.md"
    md.write_text("# 标题\n\n正文赚\n", encoding="utf-8")
    folder = tmp_path / "posts"
    (folder / "sub").mkdir(parents=True)
    (folder / "b.txt").write_text("整篇\n一个帖子荐", encoding="utf-8")
    (folder / "a.html").write_text("<p>网页里的疑</p><script>骗</script>", encoding="utf-8")
    (folder / "sub" / "c.md").write_text("markdown 骗", encoding="utf-8")
    (folder / "image.png").write_bytes(b"\x89PNG")
    out = tmp_path / "out.jsonl"
    inputs = [jsonl, gz, arr, table, tsv, txt, html, md, folder]
    code, output = run_scan(
        phrase_bundle, *map(str, inputs), "-o", str(out), "--text-column", "body", "--id-column", "post_id"
    )
    # d.csv's text column is "body"; e.tsv has only "text", so it is skipped with a clear reason.
    assert code == 2, output
    got = [(r["id"], r["decision"]) for r in lines(out)]
    assert got == [
        ("j1", "block"), (f"{jsonl}:3", "pass"), ("g1", "block"), ("a1", "review"), (f"{arr}:2", "warn"),
        ("7", "review"), ("8", "block"), (f"{txt}:1", "block"), (f"{txt}:3", "pass"), (str(html), "pass"),
        (str(md), "block"), (str(folder / "a.html"), "warn"), (str(folder / "b.txt"), "review"),
        (str(folder / "sub" / "c.md"), "block"),
    ]  # fmt: skip
    errors = lines(tmp_path / "out.jsonl.errors.jsonl")
    assert errors == [
        {"source": str(tsv), "line": 1, "error": "no column 'body' (columns: text); pass --text-column"}
    ]
    assert "image.png" in caplog.text  # ignored files are reported, not silently dropped
    assert "ignored files" in output
    assert "scan summary" in output


def test_bad_input_is_reported_and_the_rest_scanned(
    phrase_bundle: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    src = tmp_path / "in.jsonl"
    src.write_bytes(
        b'{"id": "ok1", "text": "\xe9\xaa\x97"}\n'  # 骗
        b'{"id": "broken", "text": \n'
        b'{"id": "notext"}\n'
        b'{"id": "empty", "text": "   "}\n'
        b'{"id": "bytes", "text": "\xff\xfe"}\n'
        b'["a list"]\n'
        b'{"id": "badacct", "text": "x", "account": {"licensed": "yes"}}\n'
        b'{"id": "ok2", "text": "ok"}\n'
    )
    empty = tmp_path / "empty.jsonl"
    empty.write_bytes(b"")
    blank = tmp_path / "blank.txt"
    blank.write_text("\n  \n", encoding="utf-8")
    out = tmp_path / "out.jsonl"
    code, output = run_scan(
        phrase_bundle, str(src), str(empty), str(blank), str(tmp_path / "missing.csv"), "-o", str(out)
    )
    assert code == 2
    assert [r["id"] for r in lines(out)] == ["ok1", "ok2"]
    errors = lines(tmp_path / "out.jsonl.errors.jsonl")
    assert [(e["source"], e["line"]) for e in errors] == [
        (str(src), 2), (str(src), 3), (str(src), 4), (str(src), 5), (str(src), 6), (str(src), 7),
        (str(empty), None), (str(blank), None), (str(tmp_path / "missing.csv"), None),
    ]  # fmt: skip
    reasons = [e["error"] for e in errors]
    assert reasons[0].startswith("broken JSON")
    assert "no 'text'" in reasons[1] and "empty" in reasons[2] and "not valid UTF-8" in reasons[3]
    assert "JSON object" in reasons[4] and "licensed" in reasons[5]
    assert "empty" in reasons[6] and "empty" in reasons[7] and reasons[8] == "file not found"
    for e in errors:  # each is logged (stderr) too, with file and line
        where = f"{e['source']}:{e['line']}" if e["line"] else e["source"]
        assert f"skipped {where}" in caplog.text
    assert "9 inputs skipped" in output


def test_clean_scan_exits_zero_and_csv_output(phrase_bundle: Path, tmp_path: Path) -> None:
    src = tmp_path / "in.jsonl"
    src.write_text(
        "".join(json.dumps({"id": f"p{i}\n", "text": t}) + "\n" for i, t in enumerate(["骗", "天气", "疑赚"]))
    )
    out = tmp_path / "out.csv"
    code, _ = run_scan(phrase_bundle, str(src), "-o", str(out), "--format", "csv")
    assert code == 0
    assert out.read_text(encoding="utf-8").count("\n") == 4  # header + one physical line per row
    rows = list(csv.DictReader(out.open(encoding="utf-8")))
    assert [r["id"] for r in rows] == ["p0\\n", "p1\\n", "p2\\n"]
    assert [r["decision"] for r in rows] == ["block", "pass", "block"]
    assert rows[2]["labels"] == "misleading" and float(rows[2]["score_misleading"]) == 0.9
    assert json.loads(rows[0]["evidence"])[0]["label"] == "fraudulent"
    assert not (tmp_path / "out.csv.errors.jsonl").exists()


def test_stdin_jsonl_and_text(phrase_bundle: Path) -> None:
    result = runner.invoke(
        app, ["scan", "--bundle", str(phrase_bundle), "-"], input='{"id": "s", "text": "骗"}\n'
    )
    assert result.exit_code == 0
    assert json.loads(result.stdout.splitlines()[0])["id"] == "s"
    result = runner.invoke(app, ["scan", "--bundle", str(phrase_bundle), "-"], input="一行骗\n两行\n")
    ids = [json.loads(x)["id"] for x in result.stdout.splitlines() if x.startswith("{")]
    assert ids == ["<stdin>:1", "<stdin>:2"]


def test_existing_output_needs_resume_or_overwrite(phrase_bundle: Path, tmp_path: Path) -> None:
    src = tmp_path / "in.txt"
    src.write_text("骗\n", encoding="utf-8")
    out = tmp_path / "out.jsonl"
    out.write_text("old\n", encoding="utf-8")
    code, output = run_scan(phrase_bundle, str(src), "-o", str(out))
    assert code == 1 and "--resume" in output and out.read_text() == "old\n"
    code, _ = run_scan(phrase_bundle, str(src), "-o", str(out), "--overwrite")
    assert code == 0 and lines(out)[0]["id"] == f"{src}:1"


def test_workers_preserve_order(phrase_bundle: Path, tmp_path: Path) -> None:
    texts = ["骗", "天气", "荐", "疑", FILLER * 20 + "赚"] * 40
    src = tmp_path / "in.jsonl"
    src.write_text("".join(json.dumps({"id": str(i), "text": t}) + "\n" for i, t in enumerate(texts)))
    single = scan([str(src)], ScanOptions(output=tmp_path / "one.jsonl", bundle=phrase_bundle, batch_size=7))
    multi = scan(
        [str(src)], ScanOptions(output=tmp_path / "two.jsonl", bundle=phrase_bundle, batch_size=7, workers=2)
    )
    assert single.records == multi.records == len(texts)
    assert lines(tmp_path / "one.jsonl") == lines(tmp_path / "two.jsonl")
    assert multi.decisions == single.decisions and multi.decisions["block"] == 80


def _scan_cmd(bundle: Path, src: Path, out: Path, *extra: str) -> list[str]:
    return [sys.executable, "-m", "promoguard.cli", "scan", "--bundle", str(bundle), str(src), "-o", str(out),
            "--batch-size", "5", "--threads", "1", *extra]  # fmt: skip


@pytest.mark.parametrize(
    ("fmt", "sig"),
    [("jsonl", signal.SIGKILL), ("csv", signal.SIGKILL), ("jsonl", signal.SIGINT)],
    ids=["jsonl-kill", "csv-kill", "jsonl-ctrl-c"],
)
def test_resume_after_kill_matches_an_uninterrupted_scan(
    phrase_bundle: Path, tmp_path: Path, fmt: str, sig: signal.Signals
) -> None:
    n = 6000
    words = ["骗", "天气很好", "荐", "疑", "今天天气很好我们一起去公园"]
    src = tmp_path / "in.jsonl"
    with src.open("w", encoding="utf-8") as fh:
        for i in range(n):
            fh.write(
                json.dumps({"id": f"r{i}", "text": words[i % 5] * (1 + i % 7)}, ensure_ascii=False) + "\n"
            )
            if i % 1000 == 999:
                fh.write("{not json\n")  # errors must not be duplicated by the resume either
    full, part = tmp_path / f"full.{fmt}", tmp_path / f"part.{fmt}"
    subprocess.run(
        _scan_cmd(phrase_bundle, src, full, "--format", fmt), check=False, capture_output=True, timeout=120
    )

    proc = subprocess.Popen(_scan_cmd(phrase_bundle, src, part, "--format", fmt), stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and (not part.exists() or part.stat().st_size < 20_000):
        time.sleep(0.02)
    os.kill(proc.pid, sig)
    code = proc.wait(timeout=60)
    if sig == signal.SIGINT:  # Ctrl-C: a clean stop, every line complete
        assert code == 130
        assert part.read_text(encoding="utf-8").endswith("\n")
        assert all(json.loads(x)["id"] for x in part.read_text(encoding="utf-8").splitlines())
    else:
        with part.open("a", encoding="utf-8") as fh:
            fh.write('{"id": "half a line')  # what a kill in the middle of a write leaves behind
    assert 0 < part.read_text(encoding="utf-8").count("\n") < n, "the scan finished before it was killed"

    done = subprocess.run(_scan_cmd(phrase_bundle, src, part, "--format", fmt, "--resume"),
                          capture_output=True, text=True, timeout=120)  # fmt: skip
    assert done.returncode == 2, done.stderr  # the broken lines are still reported as skipped
    assert part.read_bytes() == full.read_bytes()
    full_err = (tmp_path / f"full.{fmt}.errors.jsonl").read_text(encoding="utf-8")
    part_err = (tmp_path / f"part.{fmt}.errors.jsonl").read_text(encoding="utf-8")
    assert part_err == full_err and full_err.count("\n") == n // 1000


def test_resume_refuses_other_inputs(phrase_bundle: Path, tmp_path: Path) -> None:
    a, b = tmp_path / "a.txt", tmp_path / "b.txt"
    a.write_text("骗\n天气\n", encoding="utf-8")
    b.write_text("荐\n疑\n", encoding="utf-8")
    out = tmp_path / "out.jsonl"
    scan([str(a)], ScanOptions(output=out, bundle=phrase_bundle))
    with pytest.raises(ScanError, match="cannot resume: result 2 in the output has id"):
        scan([str(b)], ScanOptions(output=out, bundle=phrase_bundle, resume=True))
    assert [r["id"] for r in lines(out)] == [f"{a}:1", f"{a}:2"]


def test_resume_of_a_finished_scan_adds_nothing(phrase_bundle: Path, tmp_path: Path) -> None:
    src = tmp_path / "a.txt"
    src.write_text("骗\n天气\n", encoding="utf-8")
    out = tmp_path / "out.jsonl"
    scan([str(src)], ScanOptions(output=out, bundle=phrase_bundle))
    before = out.read_bytes()
    summary = scan([str(src)], ScanOptions(output=out, bundle=phrase_bundle, resume=True))
    assert summary.records == 0 and summary.resumed_from == 2 and out.read_bytes() == before


def test_csv_reader_details(tmp_path: Path) -> None:
    src = tmp_path / "in.csv"
    src.write_bytes(
        '\ufeffid,text\n1,好\n2,"a\nb"\n3,\xff\n4,x,extra\n'.encode("utf-8").replace(b"\xc3\xbf", b"\xff")
    )
    items = list(read_inputs([str(src)], ReadOptions()))
    assert [(i.line, i.record["id"] if i.record else None, i.error is not None) for i in items] == [
        (2, "1", False), (3, "2", False), (5, None, True), (6, None, True),
    ]  # fmt: skip
    assert "UTF-8" in (items[2].error or "") and "more fields" in (items[3].error or "")


def test_whole_file_text(tmp_path: Path) -> None:
    src = tmp_path / "post.txt"
    src.write_text("第一段\n第二段\n", encoding="utf-8")
    items = list(read_inputs([str(src)], ReadOptions(whole_file=True)))
    assert len(items) == 1 and items[0].record == {"text": "第一段\n第二段\n", "id": str(src)}


def test_benchmark_functions_run_the_real_scan_path(phrase_bundle: Path) -> None:
    from classifier.benchmark import benchmark_lengths, benchmark_scan, synthetic_posts

    assert [len(p) for p in synthetic_posts(3, 300)] == [300, 300, 300]
    short = benchmark_scan(phrase_bundle, posts=50, chars=300, threads=1)
    assert short["records"] == 50 and short["errors"] == 0 and short["posts_per_s"] > 0
    assert short["cpu_ms_per_post"] >= 0
    rows = benchmark_lengths(phrase_bundle, lengths=(100, 400), posts=2, threads=1)
    assert [r["chars"] for r in rows] == [100, 400]
    assert rows[1]["windows_per_post"] > rows[0]["windows_per_post"]  # window 16: more text, more windows
