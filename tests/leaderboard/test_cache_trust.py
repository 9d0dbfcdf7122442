"""The summary cache and the compiled templates are data sealed with a key kept outside the cache: nothing in a
cache folder can run code or make a build show a file that a fresh build would refuse."""

from __future__ import annotations

import json
import os
import pickle
import time

import pytest
from conftest import edit_result

from leaderboard import cache as cache_module
from leaderboard.aggregate import aggregate, summary_cache
from leaderboard.cache import CACHE_FILE, SHARDS_DIR, seal, unseal
from leaderboard.site import TEMPLATES_CACHE_DIR, build_site


class _Boom:
    """What a planted pickle would run on load."""

    def __reduce__(self):
        return (os.system, ("touch PWNED",))


def _shown(board):
    return sorted((e.latest.source, e.latest.gpu_wh.mean if e.latest.gpu_wh else None)
                  for t in board.tasks.values() for e in (*t.rated, *t.unrated))


def test_planted_pickles_and_forged_entries_are_never_loaded(add_result, results_dir, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    add_result(model_id="org/a")
    cache = tmp_path / "cache"
    fresh = aggregate(results_dir, workers=1, cache_dir=cache)
    payload = pickle.dumps(_Boom())
    for path in [cache / CACHE_FILE, *(cache / SHARDS_DIR).iterdir(), cache / "summaries.pickle",
                 cache / SHARDS_DIR / "0.pickle"]:
        path.write_bytes(payload)
    (cache / SHARDS_DIR / "1.json").write_bytes(b"harness-leaderboard-cache " + b"0" * 64 + b"\n{}")
    assert _shown(aggregate(results_dir, workers=1, cache_dir=cache)) == _shown(fresh)
    assert not (tmp_path / "PWNED").exists()


def test_an_entry_sealed_with_another_key_is_rebuilt_not_trusted(add_result, results_dir, tmp_path, monkeypatch):
    """A poisoned cache that claims a refused file is valid (here: made under another key, as a stranger would)
    is ignored: the file is checked again and refused."""
    _, path = add_result(model_id="org/a")
    cache = tmp_path / "cache"
    monkeypatch.setenv(cache_module.KEY_VARIABLE, "someone else's key")
    cache_module.cache_secret.cache_clear()
    try:
        aggregate(results_dir, workers=1, cache_dir=cache)  # their cache says: org/a is fine
    finally:
        monkeypatch.setenv(cache_module.KEY_VARIABLE, "our key")
        cache_module.cache_secret.cache_clear()
    edit_result(path, lambda d: d["figures"]["latency_p50_s"].update(mean=-1.0))
    board = aggregate(results_dir, workers=1, cache_dir=cache)
    assert [r.source for r in board.refused] == [path.relative_to(results_dir).as_posix()]
    cache_module.cache_secret.cache_clear()


def test_a_file_edited_in_place_with_its_mtime_put_back_is_checked_again(add_result, results_dir, tmp_path,
                                                                         monkeypatch):
    monkeypatch.setattr(cache_module, "RACY_S", -1.0)  # trust stats at once: the edit alone must be noticed
    _, path = add_result(model_id="org/a")
    cache = tmp_path / "cache"
    assert not aggregate(results_dir, workers=1, cache_dir=cache).refused
    before = os.stat(path)
    text = path.read_text()
    spoilt = text.replace('"run_id": "', '"run_id": "X', 1) if '"run_id": "' in text else None
    assert spoilt is not None and len(spoilt.encode()) == before.st_size + 1
    data = json.loads(text)
    data["figures"]["latency_p50_s"]["mean"] = -1.0
    edited = json.dumps(data)
    path.write_text(edited)
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))  # mtime put back; the ctime cannot be
    board = aggregate(results_dir, workers=1, cache_dir=cache)
    assert [r.source for r in board.refused] == [path.relative_to(results_dir).as_posix()]


def test_a_file_changed_just_after_the_build_started_is_hashed_again(add_result, results_dir, tmp_path):
    """A stat from within `RACY_S` of a build's start does not vouch for the file in the next build."""
    add_result(model_id="org/a")
    cache = tmp_path / "cache"
    aggregate(results_dir, workers=1, cache_dir=cache)
    assert all(stat is None for stat, _ in summary_cache(cache).index.values())


def test_seal_round_trip_and_tampering():
    sealed = seal(b"payload")
    assert unseal(sealed) == b"payload"
    assert unseal(sealed[:-1] + b"X") is None
    assert unseal(b"payload") is None and unseal(b"") is None


def test_a_planted_compiled_template_is_compiled_again_not_run(add_result, results_dir, tmp_path, monkeypatch):
    import marshal

    from leaderboard import templating

    monkeypatch.chdir(tmp_path)
    add_result(model_id="org/a", task="image-gen")
    cache = tmp_path / "cache"
    cold = build_site(results_dir, tmp_path / "cold", releases_dir=tmp_path / "releases", workers=1)
    templating.environment.cache_clear()
    build_site(results_dir, tmp_path / "site", releases_dir=tmp_path / "releases", workers=1, cache_dir=cache)
    code = compile("open('PWNED', 'w').close()", "<planted>", "exec")
    for path in (cache / TEMPLATES_CACHE_DIR).iterdir():  # Jinja's own layout: magic, checksum, marshalled code
        from jinja2.bccache import bc_magic

        path.write_bytes(bc_magic + pickle.dumps("x", protocol=2) + marshal.dumps(code))
    templating.environment.cache_clear()
    report = build_site(results_dir, tmp_path / "other", releases_dir=tmp_path / "releases", workers=1,
                        cache_dir=cache)
    assert report.num_entries == cold.num_entries and not (tmp_path / "PWNED").exists()
    templating.environment.cache_clear()


def test_a_cache_key_file_readable_by_others_is_not_used(tmp_path, monkeypatch, caplog):
    monkeypatch.delenv(cache_module.KEY_VARIABLE, raising=False)
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    cache_module.cache_secret.cache_clear()
    try:
        first = cache_module.cache_secret()
        key_file = tmp_path / "state" / "harness" / "cache.key"
        assert key_file.stat().st_mode & 0o777 == 0o600
        cache_module.cache_secret.cache_clear()
        assert cache_module.cache_secret() == first  # kept between builds
        key_file.chmod(0o644)
        cache_module.cache_secret.cache_clear()
        assert cache_module.cache_secret() != first and "not a usable key" in caplog.text
    finally:
        cache_module.cache_secret.cache_clear()


@pytest.mark.parametrize("leftover", ["building", "old"])
def test_what_a_killed_build_left_beside_the_site_is_cleaned_or_restored(leftover, add_result, results_dir,
                                                                         tmp_path):
    from harness.files import _HOST

    add_result(model_id="org/a")
    site = tmp_path / "site"
    build_site(results_dir, site, releases_dir=tmp_path / "releases", workers=1)
    dead = 2**22 + 12345  # above the kernel's default pid_max: no such process
    aside = tmp_path / f".site.{leftover}-{_HOST}-{dead}-abc.tmp"
    if leftover == "building":
        aside.mkdir()
        (aside / "half.html").write_text("half")
    else:
        site.rename(aside)  # killed between the swap's two renames: no site, the old one aside
    report = build_site(results_dir, site, releases_dir=tmp_path / "releases", workers=1)
    assert report.num_entries == 1 and not aside.exists() and (site / "index.html").is_file()
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".site")) == []
    if leftover == "old":
        assert report.pages_reused > 0  # the restored site was the previous one


def test_old_temporaries_from_another_machine_wait_an_hour(tmp_path):
    from harness.files import remove_stale_temporaries

    other = tmp_path / ".site.building-ffffff-1-abc.tmp"
    other.mkdir()
    remove_stale_temporaries(tmp_path / "site")
    assert other.exists()
    os.utime(other, (time.time() - 7200, time.time() - 7200))
    remove_stale_temporaries(tmp_path / "site")
    assert not other.exists()
