import json
from pathlib import Path

from click.testing import CliRunner

from agora.cli import main

KEYS = ("verify_per_s", "ingest_tx_per_s", "ratio", "commit_ms_per_1000_tx", "peak_rss_mb")


def test_bench_ingest_quick_prints_json_last(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["bench", "ingest", "--quick", "--dir", str(tmp_path)])
    assert result.exit_code == 0, result.output
    last = result.output.strip().splitlines()[-1]
    doc = json.loads(last)
    for k in KEYS:
        assert doc[k] > 0, k
    assert doc["txs_per_run"] == 170
    assert abs(doc["ratio"] - doc["ingest_tx_per_s"] / doc["verify_per_s"]) < 0.01
    assert set(doc["ingest_tx_per_s_by_block_size"]) == {"50", "120"}
    assert "ingest, verifying ahead in a process" in result.output
    for lane in ("", "_threads", "_serial"):
        assert doc[f"ingest_tx_per_s{lane}"] > 0
        assert 0 <= doc[f"background_share{lane}"] <= 1
    assert doc["background_share_serial"] == 0
    json_only = CliRunner().invoke(main, ["bench", "ingest", "--quick", "--json"])
    assert json_only.exit_code == 0
    assert json.loads(json_only.output.strip())["ingest_tx_per_s"] > 0
