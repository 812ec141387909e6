"""The shared JSON files: one atomic, fsynced writer; a reader that never fails; nested counters."""

from __future__ import annotations

import os

from liquidation.sharedfiles import bump, counted, read_json_object, write_json_atomic


def test_the_writer_replaces_atomically_leaves_no_temp_file_and_is_readable_by_others(tmp_path):
    target = tmp_path / "sub" / "state.json"
    write_json_atomic(target, {"a": 1})
    write_json_atomic(target, {"a": 2, "b": "二"})
    assert read_json_object(target) == {"a": 2, "b": "二"}
    assert oct(os.stat(target).st_mode & 0o777) == "0o644"
    assert sorted(p.name for p in target.parent.iterdir()) == ["state.json"]


def test_the_reader_answers_an_empty_object_for_anything_else(tmp_path):
    for content in (b"", b"[1]", b"{broken", b"null", b"\xff"):
        (tmp_path / "x.json").write_bytes(content)
        assert read_json_object(tmp_path / "x.json") == {}
    assert read_json_object(tmp_path / "missing.json") == {}


def test_counters_are_nested_and_carry_over_the_flat_keys_of_earlier_versions():
    counts = bump({"ok|panic-api": 7, "error|panic-api": 2, "junk": "x"}, "ok", "panic-api")
    assert counts == {"ok": {"panic-api": 8}, "error": {"panic-api": 2}}
    assert bump(counts, "error", "coinglass")["error"] == {"panic-api": 2, "coinglass": 1}
    assert sorted(counted(counts)) == [("error", "panic-api", 2.0), ("ok", "panic-api", 8.0)]
    assert counted({"ok": {"x": True, "y": float("nan")}, "z": "many"}) == []
