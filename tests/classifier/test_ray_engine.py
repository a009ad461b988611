"""`promoguard scan --engine ray`: same results as the local engine, on a real local Ray.

Three Ray scans in all (each pays for starting actors that load the bundle): one on a Ray
instance the engine starts itself, two on a running cluster reached by its address.
"""

from __future__ import annotations

import json
import random
import subprocess
import sys
from pathlib import Path

import pytest

from classifier.scan import ScanError, ScanOptions, scan

ray = pytest.importorskip("ray")

from classifier.ray_engine import RayScanOptions, require_ray, scan_ray  # noqa: E402

CHARS = "稳赚不赔保本保息高收益加微信荐股理财今天天气很好我们一起去公园散步看看花草树木投资有风险年化收益率百分之二十内部消息带单骗疑贷"  # noqa: E501
BAD_LINES = [
    b"{broken json\n",
    b'{"id": "no-text"}\n',
    b'{"id": "bad-account", "text": "\xe7\xa8\xb3\xe8\xb5\x9a", "account": {"licensed": "yes"}}\n',
    b"\n",
    b'{"id": "latin1", "text": "caf\xe9"}\n',
]


def _posts(n: int, seed: int) -> list[dict]:
    rng = random.Random(seed)
    posts = []
    for i in range(n):
        post: dict = {"id": f"p{i}", "text": "".join(rng.choice(CHARS) for _ in range(rng.randint(10, 400)))}
        if i % 7 == 0:
            post["title"] = "理财推荐"
        if i % 5 == 0:
            post["account"] = {"id": f"gh_{i}", "licensed": i % 10 == 0}
        posts.append(post)
    return posts


def _write_jsonl(path: Path, posts: list[dict], bad: list[bytes] = ()) -> Path:
    with open(path, "wb") as fh:
        for k, post in enumerate(posts):
            fh.write(json.dumps(post, ensure_ascii=False).encode() + b"\n")
            if k % 60 == 30 and bad:
                fh.write(bad[(k // 60) % len(bad)])
    return path


def _part_lines(folder: Path, suffix: str) -> list[str]:
    return [
        line for part in sorted(folder.glob(f"*.{suffix}")) for line in part.read_text("utf-8").splitlines()
    ]


def _by_id(lines: list[str]) -> dict[str, dict]:
    out = {}
    for line in lines:
        result = json.loads(line)
        assert result["id"] not in out, f"duplicate id {result['id']}"
        out[result["id"]] = result
    return out


def _assert_same_results(local: dict[str, dict], remote: dict[str, dict]) -> None:
    assert sorted(local) == sorted(remote)
    for rid, want in local.items():
        got = remote[rid]
        assert got["decision"] == want["decision"], rid
        assert got["labels"] == want["labels"], rid
        assert got["scores"].keys() == want["scores"].keys()
        for label, score in want["scores"].items():
            assert got["scores"][label] == pytest.approx(score, abs=1e-6), (rid, label)
        assert got["evidence"] == want["evidence"], rid
        assert got["model_version"] == want["model_version"]


def test_importing_the_core_does_not_import_ray() -> None:
    code = (
        "import sys, classifier, classifier.scan, classifier.readers, classifier.writers\n"
        "import classifier.ray_engine\n"
        "loaded = sorted(m for m in sys.modules if m == 'ray' or m.startswith('ray.'))\n"
        "assert not loaded, loaded\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr


def test_missing_ray_names_the_pip_command(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setitem(sys.modules, "ray", None)  # `import ray` now raises ImportError
    with pytest.raises(ScanError, match=r"pip install 'promoguard\[ray\]'"):
        require_ray()
    with pytest.raises(ScanError, match=r"pip install 'promoguard\[ray\]'"):
        scan_ray([str(tmp_path)], RayScanOptions(output=tmp_path / "out"))


def test_refuses_stdin_and_a_folder_that_holds_files(tiny_bundle: Path, tmp_path: Path) -> None:
    with pytest.raises(ScanError, match="not stdin"):
        scan_ray(["-"], RayScanOptions(output=tmp_path / "out", bundle=tiny_bundle))
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "old.jsonl").write_text("{}\n")
    with pytest.raises(ScanError, match="--overwrite"):
        scan_ray([str(tmp_path)], RayScanOptions(output=tmp_path / "full", bundle=tiny_bundle))
    with pytest.raises(ScanError, match="parquet"):
        RayScanOptions(output=tmp_path / "x", fmt="xml")


def test_shipped_bundle_is_written_once_and_repaired(
    tiny_bundle: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from classifier.bundle import MODEL_FILE, load_bundle
    from classifier.ray_engine import bundle_payload, materialize_bundle

    monkeypatch.setattr("tempfile.tempdir", str(tmp_path))
    payload = bundle_payload(tiny_bundle)
    first = materialize_bundle(payload)
    assert first.parent == tmp_path / "promoguard-bundles" and load_bundle(first).version == "tiny-0"
    assert materialize_bundle(payload) == first
    (first / MODEL_FILE).write_bytes(b"damaged")
    assert materialize_bundle(payload) == first
    assert load_bundle(first).version == "tiny-0"  # checksums pass again
    assert [p.name for p in first.parent.iterdir()] == [first.name]  # no leftover temp folders


def test_matches_the_local_engine_on_a_local_ray(tiny_bundle: Path, tmp_path: Path) -> None:
    """300 posts with bad lines among them: same ids, decisions, scores, evidence and errors.

    One record per batch in both engines: the int8 model quantises activations per batch, so a
    score moves (by up to ~0.01 on this bundle) with the other posts in its ONNX batch. With
    one record per batch both engines run identical ONNX batches, so every score must agree.
    """
    assert not ray.is_initialized()
    posts = _write_jsonl(tmp_path / "posts.jsonl", _posts(300, seed=1), BAD_LINES)
    local_out = tmp_path / "local.jsonl"
    local = scan([str(posts)], ScanOptions(output=local_out, bundle=tiny_bundle, batch_size=1, threads=1))

    ray_out = tmp_path / "ray"
    summary = scan_ray(
        [str(posts)],
        RayScanOptions(output=ray_out, bundle=tiny_bundle, workers=2, batch_size=1, progress=False),
    )
    assert not ray.is_initialized(), "the engine must shut down the Ray instance it started"

    lines = _part_lines(ray_out, "jsonl")
    assert len(lines) == local.records == 300 - 0  # every good post, once
    _assert_same_results(_by_id(local_out.read_text("utf-8").splitlines()), _by_id(lines))
    assert sorted(lines) == sorted(local_out.read_text("utf-8").splitlines())  # byte-identical lines
    assert (summary.records, summary.errors) == (local.records, local.errors) == (300, 4)
    assert summary.decisions == local.decisions and summary.labels == local.labels
    assert summary.chars == local.chars and summary.posts_per_s > 0
    assert summary.errors_file is not None and local.errors_file is not None
    assert summary.errors_file.read_text("utf-8") == local.errors_file.read_text("utf-8")


@pytest.fixture(scope="module")
def cluster():
    """A running Ray cluster (head node, 3 CPUs), reached by address like a real one."""
    from ray.cluster_utils import Cluster

    c = Cluster(initialize_head=True, head_node_args={"num_cpus": 3, "include_dashboard": False})
    yield c.address
    c.shutdown()


def test_cluster_scan_of_mixed_inputs_writes_parquet(
    cluster: str, phrase_bundle: Path, phrase_classifier, tmp_path: Path
) -> None:
    """JSONL, CSV, Parquet and a folder in one scan; batched, 2 actors, Parquet parts.

    The phrase bundle's model scores each window exactly (no batch effects), so default batch
    sizes in both engines must still give the same scores.
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    from .conftest import FILLER

    triggers = ["骗", "赚", "荐", "疑", "贷", ""]
    posts = [{"id": f"j{i}", "text": FILLER * (1 + i % 9) + triggers[i % 6] + FILLER} for i in range(150)]
    jsonl = _write_jsonl(tmp_path / "a.jsonl", posts, BAD_LINES[:2])
    csv_path = tmp_path / "b.csv"
    csv_path.write_text(
        "id,text\n" + "".join(f"c{i},{FILLER}{triggers[i % 6]}\n" for i in range(40)) + "c-empty,\n"
    )
    folder = tmp_path / "site"
    (folder / "sub").mkdir(parents=True)
    (folder / "one.txt").write_text(f"{FILLER}骗{FILLER}", encoding="utf-8")
    (folder / "sub" / "two.html").write_text(
        f"<html><body><p>{FILLER}赚</p><script>骗</script></body></html>"
    )
    (folder / "sub" / "note.pdf").write_bytes(b"%PDF")
    table = pa.table({
        "id": [1, 2, 3],
        "text": [f"{FILLER}荐", None, f"稳赚不赔{FILLER}"],
        "account": [{"licensed": True}, None, {"licensed": False}],
    })  # fmt: skip
    pq.write_table(table, tmp_path / "c.parquet")
    inputs = [
        str(jsonl),
        str(csv_path),
        str(folder),
        str(tmp_path / "c.parquet"),
        str(tmp_path / "missing.jsonl"),
    ]

    local_out = tmp_path / "local.jsonl"
    local = scan(inputs[:3], ScanOptions(output=local_out, bundle=phrase_bundle, threads=1))
    out = tmp_path / "ray"
    summary = scan_ray(
        inputs, RayScanOptions(output=out, fmt="parquet", bundle=phrase_bundle, workers=2, address=cluster)
    )

    got = pq.read_table(out).to_pylist()
    assert len(got) == summary.records == local.records + 2  # + two good Parquet rows
    by_id = {row["id"]: row for row in got}
    want = _by_id(local_out.read_text("utf-8").splitlines())
    for k in (0, 2):  # Parquet rows (ids were ints; the account struct must reach the rule)
        record = {
            "id": str(k + 1),
            **{c: v for c, v in table.slice(k, 1).to_pylist()[0].items() if c != "id"},
        }
        want[str(k + 1)] = phrase_classifier.classify(record)
    assert want["1"]["decision"] == "warn"  # `unlicensed` at flag, lowered by account.licensed
    for rid, result in want.items():
        row = by_id[rid]
        assert (row["decision"], row["labels"], json.loads(row["evidence"])) == (
            result["decision"], result["labels"], result["evidence"]
        ), rid  # fmt: skip
        for label, score in result["scores"].items():
            assert row[f"score_{label}"] == pytest.approx(score, abs=1e-6)
    assert by_id[str(folder / "sub" / "two.html")]["labels"] == ["misleading"]  # the script's 骗 is not text
    errors = [json.loads(x) for x in summary.errors_file.read_text("utf-8").splitlines()]
    local_errors = [json.loads(x) for x in local.errors_file.read_text("utf-8").splitlines()]
    assert errors[: len(local_errors)] == local_errors  # same rows, same order, for shared inputs
    assert errors[len(local_errors) :] == [
        {"source": str(tmp_path / "c.parquet"), "line": 2, "error": "record has no 'text' field"},
        {"source": str(tmp_path / "missing.jsonl"), "line": None, "error": "file not found"},
    ]
    assert summary.ignored_files == [str(folder / "sub" / "note.pdf")]


def test_cli_engine_ray_with_address(cluster: str, phrase_bundle: Path, tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from promoguard.cli import app

    from .conftest import FILLER

    posts = _write_jsonl(
        tmp_path / "p.jsonl", [{"id": f"x{i}", "text": FILLER + "骗赚荐"[i % 3]} for i in range(30)]
    )
    with open(posts, "ab") as fh:
        fh.write(b"{oops\n")
    out = tmp_path / "out"
    args = [
        "scan",
        str(posts),
        "-o",
        str(out),
        "--engine",
        "ray",
        "--address",
        cluster,
        "--bundle",
        str(phrase_bundle),
    ]
    result = CliRunner().invoke(app, [*args, "--format", "csv", "--workers", "1"])
    assert result.exit_code == 2, result.output  # one line skipped
    rows = _part_lines(out, "csv")
    assert rows[0].startswith("id,decision,labels,score_")
    assert sorted(r.split(",")[1] for r in rows[1:]) == ["block"] * 20 + ["review"] * 10
    assert "broken JSON" in (tmp_path / "out.errors.jsonl").read_text("utf-8")

    again = CliRunner().invoke(app, args)
    assert again.exit_code == 1 and "--overwrite" in again.output
    no_out = CliRunner().invoke(app, ["scan", str(posts), "--engine", "ray"])
    assert no_out.exit_code == 1 and "-o FOLDER" in no_out.output
