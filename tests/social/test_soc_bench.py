"""`agora bench social` end to end on a tiny workload (the figures mean nothing here)."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from agora.cli import main

KEYS = {
    "posts", "ingest_posts_per_s", "verify_per_s", "feed_ms_p50", "feed_ms_p99",
    "thread_ms_p99", "search_ms_p50", "search_ms_p99", "db_bytes_per_post", "peak_rss_mb",
}  # fmt: skip


def test_bench_social_prints_its_json_last(tmp_path: Path) -> None:
    args = ["bench", "social", "--json", "--posts", "600", "--accounts", "40", "--follows", "5"]
    res = CliRunner().invoke(main, [*args, "--dir", str(tmp_path)])
    assert res.exit_code == 0, (res.output, res.exception)
    out = json.loads(res.output.strip().splitlines()[-1])
    assert KEYS <= set(out)
    assert out["posts"] == 600 and out["setup_txs"] == 40 * 6
    assert out["ingest_posts_per_s"] > 0 and out["verify_per_s"] > 0
    assert out["likes"] == 300 and out["db_bytes_per_post"] > 100
    assert list(tmp_path.iterdir()) == []  # the temporary store is gone
