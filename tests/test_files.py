import json
import os
from pathlib import Path

import pytest

from harness.errors import ConfigError, HarnessError
from harness.files import read_yaml_mapping, write_json_atomic, write_text_atomic


def test_write_creates_folders_and_leaves_no_temporary(tmp_path):
    target = tmp_path / "a" / "b" / "result.json"
    write_json_atomic(target, {"b": 1, "a": [1.5]})
    assert json.loads(target.read_text()) == {"a": [1.5], "b": 1}
    assert target.read_text().index('"a"') < target.read_text().index('"b"')  # sorted keys
    assert os.listdir(target.parent) == ["result.json"]


def test_refuses_to_overwrite_and_keeps_the_earlier_file(tmp_path):
    target = tmp_path / "r.json"
    write_text_atomic(target, "first", overwrite=False)
    with pytest.raises(HarnessError, match="refusing to overwrite"):
        write_text_atomic(target, "second", overwrite=False)
    assert target.read_text() == "first"
    assert os.listdir(tmp_path) == ["r.json"]


def test_nan_is_not_written(tmp_path):
    target = tmp_path / "nan.json"
    with pytest.raises(ValueError, match="not JSON compliant"):
        write_json_atomic(target, {"x": float("nan")})
    assert not target.exists()
    assert os.listdir(tmp_path) == []


# --- the bounded reader, unique slugs, CSV cells, umask -----------------------------------------------------


def test_bounded_reader_refuses_what_is_not_a_small_regular_file(tmp_path):
    import os

    from harness.files import read_bounded

    fifo = tmp_path / "f.json"
    os.mkfifo(fifo)
    zero = tmp_path / "z.json"
    os.symlink("/dev/zero", zero)
    big = tmp_path / "big.json"
    big.write_bytes(b" " * 101)
    for path, message in ((fifo, "not a regular file"), (zero, "not a regular file"), (tmp_path, "a folder"),
                          (big, "more than the 100")):
        with pytest.raises(HarnessError, match=message):
            read_bounded(path, limit=100)
    assert read_bounded(big, limit=101) == b" " * 101


@pytest.mark.parametrize(("text", "message"), [
    ("[" * 100_000 + "]" * 100_000, "nested"),
    ("[" * 40 + "]" * 40, "nested more than 32"),
    ('{"a": NaN}', "NaN"),
    ('{"a": -Infinity}', "Infinity"),
    ('{"a": 1e400}', "too large"),
    ('{"a": ' + "9" * 400 + "}", "beyond 64 bits"),
])
def test_bounded_json_refuses_deep_and_non_finite(text, message):
    from harness.files import loads_json_bounded

    with pytest.raises(HarnessError, match=message):
        loads_json_bounded(text, "x.json")


@pytest.mark.parametrize("text", [
    '{"a": [0.1, 1e-320, -0.0, 5e-324, 1.7976931348623157e308, 123456789.12345678, 1E5, 3]}',
    '{"a": 1, "a": 2, "b": {"c": [true, false, null]}}',
    '{"s": "\\u00e9\\n\\u0000\\t\\"", "t": "\u00e9\u4e2d", "i": [9223372036854775807, -9223372036854775807]}',
    '{"lone": "\\ud800"}',  # the stdlib alone accepts an escaped lone surrogate: kept as before
])
def test_bounded_json_reads_every_document_as_the_stdlib_does(text):
    from harness.files import loads_json_bounded

    got = loads_json_bounded(text, "x.json")
    assert got == json.loads(text)
    assert json.dumps(got) == json.dumps(json.loads(text))  # floats bit for bit (repr), ints as ints


def test_bounded_reader_reads_a_file_larger_than_one_read(tmp_path):
    from harness.files import read_bounded

    data = os.urandom(3 * 65536 + 7)
    (tmp_path / "f").write_bytes(data)
    assert read_bounded(tmp_path / "f", limit=len(data)) == data
    with pytest.raises(HarnessError, match="more than"):
        read_bounded(tmp_path / "f", limit=len(data) - 1)


def test_bounded_yaml_refuses_deep_nesting_and_alias_bombs(tmp_path):
    deep = tmp_path / "deep.yaml"
    deep.write_text("a: " + "[" * 50_000 + "]" * 50_000 + "\n")
    with pytest.raises(ConfigError, match="nested"):
        read_yaml_mapping(deep)
    bomb = tmp_path / "bomb.yaml"
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    lines += [f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 10) + "]" for i in range(1, 9)]
    bomb.write_text("\n".join(lines) + "\n")
    with pytest.raises(ConfigError, match="more than"):
        read_yaml_mapping(bomb)


def test_unique_slugs_never_collide_and_stay_plain_for_safe_ids():
    from harness.files import unique_slug

    assert unique_slug("text-gen") == "text-gen"
    hostile = unique_slug("text-gen!")
    assert hostile != "text-gen" and hostile.startswith("text-gen~")
    model = {i: unique_slug(i, i.replace("/", "__"), lambda s: s.replace("__", "/"))
             for i in ("org/model", "org/model!", "org/model?", "org__model")}
    assert model["org/model"] == "org__model" and len(set(model.values())) == 4
    assert len(unique_slug("x" * 300)) <= 96
    # a chosen id cannot imitate another id's hashed name: plain slugs never hold "~"
    assert unique_slug(hostile) != hostile


def test_csv_cells_that_look_like_formulas_are_quoted():
    from harness.files import csv_cell

    assert csv_cell('=HYPERLINK("http://x")') == '\'=HYPERLINK("http://x")'
    assert [csv_cell(v) for v in ("+1", "-x", "@a", "\tx", "org/model")] == ["'+1", "'-x", "'@a", "'\tx", "org/model"]
    assert csv_cell(-1.5) == -1.5


def test_atomic_writes_honour_the_umask_and_turn_os_errors_into_one_line(tmp_path):
    import os

    old = os.umask(0o027)
    try:
        path = write_text_atomic(tmp_path / "a.txt", "x")
    finally:
        os.umask(old)
    assert path.stat().st_mode & 0o777 == 0o640
    (tmp_path / "file").write_text("x")
    with pytest.raises(HarnessError, match="cannot write"):
        write_text_atomic(tmp_path / "file" / "b.txt", "x")
    with pytest.raises(HarnessError, match="is a folder"):
        write_text_atomic(tmp_path, "x")
    assert sorted(os.listdir(tmp_path)) == ["a.txt", "file"]


def test_a_temporary_file_left_by_a_killed_writer_is_removed_by_the_next_write(tmp_path):
    stale = tmp_path / ".r.json.abc123.tmp"
    stale.write_text("half")
    os.utime(stale, (0, 0))
    fresh = tmp_path / ".r.json.def456.tmp"  # another writer, right now: left alone
    fresh.write_text("in progress")
    write_text_atomic(tmp_path / "r.json", "{}")
    assert sorted(os.listdir(tmp_path)) == [".r.json.def456.tmp", "r.json"]


def test_visible_paths_are_sorted_as_paths_skip_hidden_entries_and_do_not_follow_folder_links(tmp_path):
    from harness.files import visible_paths

    for relative in ("b/z.json", "a.json", "a/b.json", "a-b/c.json", "a/.hidden.json", ".git/x.json", "b/y.txt",
                     "a/deep/er/most.json"):
        (tmp_path / relative).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / relative).write_text("{}")
    os.symlink(tmp_path / "b", tmp_path / "link-to-folder")
    os.symlink(tmp_path / "a.json", tmp_path / "link.json")
    os.symlink(tmp_path / "gone.json", tmp_path / "broken.json")
    found = visible_paths(tmp_path, "*.json")
    expected = sorted(p for p in tmp_path.rglob("*.json")
                      if not any(part.startswith(".") for part in p.relative_to(tmp_path).parts)
                      and "link-to-folder" not in p.parts)
    assert found == [str(p) for p in expected]  # the order (and the links) of sorting `rglob`'s Path objects
    assert [os.path.relpath(p, tmp_path) for p in found] == [
        "a/b.json", "a/deep/er/most.json", "a-b/c.json", "a.json", "b/z.json", "broken.json", "link.json"]


# ------------------------------------------------------------------------------- one rule for every output


def test_an_output_is_always_a_new_path_and_says_what_it_refused(tmp_path):
    from harness.files import new_output

    (tmp_path / "result.json").write_text("{}")
    (tmp_path / "folder").mkdir()
    os.symlink(tmp_path / "nowhere", tmp_path / "broken-link")
    os.mkfifo(tmp_path / "fifo")
    for name, kind in (("result.json", "file"), ("folder", "folder"), ("broken-link", "symbolic link"),
                       ("fifo", "FIFO")):
        with pytest.raises(HarnessError, match=f"refusing to overwrite existing {kind} "):
            new_output(tmp_path / name)
    with pytest.raises(HarnessError, match="existing device /dev/null"):
        write_text_atomic(Path("/dev/null"), "x")
    with pytest.raises(HarnessError, match="refusing to overwrite existing file"):
        write_text_atomic(tmp_path / "result.json", "x")
    assert (tmp_path / "result.json").read_text() == "{}" and os.path.islink(tmp_path / "broken-link")
    new_output(tmp_path / "new.svg")  # nothing there: fine


def test_a_failed_write_removes_the_folders_it_made(tmp_path, monkeypatch):
    import tempfile as tempfile_module

    def full(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(tempfile_module, "mkstemp", full)
    with pytest.raises(HarnessError, match="No space left"):
        write_text_atomic(tmp_path / "a" / "b" / "c.json", "{}")
    assert os.listdir(tmp_path) == []


def test_several_new_files_are_written_all_or_nothing(tmp_path, monkeypatch):
    from harness.files import write_new_files

    real_link = os.link
    calls = []

    def link_then_fail(source, target):
        calls.append(target)
        if len(calls) == 2:
            raise OSError(28, "No space left on device")
        real_link(source, target)

    monkeypatch.setattr(os, "link", link_then_fail)
    files = {tmp_path / "out" / "x.jobs.json": b"[]", tmp_path / "out" / "x.sbatch": b"#!/bin/bash\n"}
    with pytest.raises(HarnessError, match="none of .* was written"):
        write_new_files(files)
    assert not (tmp_path / "out").exists()
    monkeypatch.setattr(os, "link", real_link)
    written = write_new_files(files, executable=frozenset({tmp_path / "out" / "x.sbatch"}))
    assert written == list(files) and os.access(tmp_path / "out" / "x.sbatch", os.X_OK)
    with pytest.raises(HarnessError, match="refusing to overwrite existing file"):
        write_new_files(files)


def test_appending_is_all_or_nothing(tmp_path, monkeypatch):
    from harness.files import append_text, check_appendable

    target = tmp_path / "github_output"
    target.write_text("before=1\n")
    real_write = os.write

    def short_then_full(fd, data):
        if len(data) > 4:
            real_write(fd, bytes(data[:4]))
            return 4
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "write", short_then_full)
    with pytest.raises(HarnessError, match="left as it was"):
        append_text(target, "matrix=[1,2,3]\n")
    monkeypatch.setattr(os, "write", real_write)
    assert target.read_text() == "before=1\n"
    append_text(target, "matrix=[1]\n")
    assert target.read_text() == "before=1\nmatrix=[1]\n"
    with pytest.raises(HarnessError, match="is a folder"):
        check_appendable(tmp_path, "--github-output")
    with pytest.raises(HarnessError, match="it is a folder"):
        append_text(tmp_path, "x")


def test_one_csv_writer_neutralises_formulas_and_empties_missing_values():
    from harness.files import csv_text

    text = csv_text(["id", "n", "x"], [["=HYPERLINK(\"http://x\")", 1, None], ["@sum", float("nan"), -1.5]])
    assert text == "id,n,x\n\"'=HYPERLINK(\"\"http://x\"\")\",1,\n'@sum,,-1.5\n"


def test_names_with_bidi_overrides_or_separators_are_unprintable():
    from harness.files import unprintable

    assert unprintable("org/\u202egnp.exe") == "U+202E (RIGHT-TO-LEFT OVERRIDE)"
    assert unprintable("a\u2028b") == "U+2028" and unprintable("a\u2066b").startswith("U+2066")
    assert unprintable("café/模型-v1") is None


def test_a_manifest_key_given_twice_and_deep_set_values_are_refused():
    from harness.files import loads_json_bounded, loads_yaml_value

    assert loads_json_bounded('{"a": 1, "a": 2}', "m.json") == {"a": 2}  # result files: as JSON readers do
    with pytest.raises(HarnessError, match="given twice"):
        loads_json_bounded('{"files": {"a": 1, "a": 2}}', "m.json", unique_keys=True)
    with pytest.raises(HarnessError, match="nested more than"):
        loads_yaml_value("[" * 10_000 + "]" * 10_000, "--set value")
    assert loads_yaml_value("[10, 30]", "--set value") == [10, 30]
