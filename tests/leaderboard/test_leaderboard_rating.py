from datetime import datetime, timezone

import pytest

from harness.errors import ConfigError, HarnessError, NotFoundError
from harness.testing.synthetic import make_result
from leaderboard.aggregate import build_board
from leaderboard.aggregate import record_from_result as record
from leaderboard.rating import (
    band_edges,
    cut_release,
    find_release,
    list_releases,
    load_release,
    rate_live,
    rate_with_release,
    stars_for,
    write_release,
)

EDGES_0_10 = (1.0, 3.0, 5.0, 7.0, 9.0, 11.0)  # values 1..11: width 2 Wh, exact in binary


def test_linear_edges_cut_the_range_in_five_equal_bands():
    assert band_edges([1.0, 11.0, 4.0]) == EDGES_0_10


@pytest.mark.parametrize("value, stars", [
    (1.0, 5), (2.9, 5), (3.0, 5),   # an exact edge belongs to the better band
    (3.0001, 4), (5.0, 4), (5.5, 3), (7.0, 3), (8.0, 2), (9.0, 2), (9.01, 1), (11.0, 1),
])
def test_stars_at_and_around_the_band_edges(value, stars):
    assert stars_for(value, EDGES_0_10) == stars


def test_values_outside_a_frozen_range_get_the_extreme_bands():
    assert stars_for(0.5, EDGES_0_10) == 5
    assert stars_for(500.0, EDGES_0_10) == 1


def test_single_model_and_all_equal_values_get_five_stars():
    edges = band_edges([4.2])
    assert stars_for(4.2, edges) == 5
    edges = band_edges([2.0, 2.0, 2.0])
    assert [stars_for(v, edges) for v in (2.0, 2.0, 2.0)] == [5, 5, 5]


def test_ties_get_the_same_stars():
    edges = band_edges([1.0, 6.0, 6.0, 11.0])
    assert stars_for(6.0, edges) == stars_for(6.0, edges) == 3


def test_log_bands_are_equal_ratios_and_resist_an_outlier():
    edges = band_edges([1.0, 100000.0], "log")
    assert edges == pytest.approx((1.0, 10.0, 100.0, 1000.0, 10000.0, 100000.0))
    values = [1.0, 2.0, 5.0, 10.0, 1000.0]
    linear = band_edges(values, "linear")
    log = band_edges(values, "log")
    assert {stars_for(v, linear) for v in values[:-1]} == {5}  # the outlier squeezes everyone into one band
    assert len({stars_for(v, log) for v in values[:-1]}) > 1
    assert stars_for(10.0, edges) == 5 and stars_for(10.01, edges) == 4


def test_bad_inputs_are_refused():
    with pytest.raises(ValueError, match="no values to rate"):
        band_edges([])
    with pytest.raises(ValueError, match="finite and positive"):
        band_edges([1.0, float("nan")])
    with pytest.raises(ValueError, match="finite and positive"):
        band_edges([0.0, 1.0], "log")
    with pytest.raises(ValueError, match="unknown banding 'cubic'"):
        band_edges([1.0], "cubic")


def _entries(powers, task="image-gen", start_seed=0, **kwargs):
    results = [make_result(task=task, model_id=f"org/m{i}", mean_power_w=p, seed=start_seed + i, **kwargs)
               for i, p in enumerate(powers)]
    board = build_board([record(r, f"{r.run_id}.json") for r in results])
    return [e for t in board.tasks.values() for e in t.rated]


def test_live_ratings_give_five_stars_to_the_most_efficient():
    entries = _entries([100.0, 300.0, 600.0])
    ratings = rate_live(entries)
    by_model = {e.latest.model_id: ratings[e.key].stars for e in entries}
    assert by_model == {"org/m0": 5, "org/m1": 4, "org/m2": 1}
    assert {r.release_id for r in ratings.values()} == {"provisional"}


def test_a_release_freezes_labels_until_the_next_one(tmp_path):
    entries = _entries([100.0, 300.0, 600.0])
    release = cut_release(entries, "2026-11", created_at=datetime(2026, 11, 20, tzinfo=timezone.utc))
    path = write_release(release, tmp_path)
    assert path.name == "2026-11.json"
    assert load_release(path) == release
    # A much better model arrives after the release: the others keep their stars...
    later = entries + _entries([10.0], start_seed=50)
    ratings = rate_with_release(later, release)
    by_model = {e.latest.model_id: ratings[e.key].stars for e in later}
    assert by_model["org/m1"] == 4 and by_model["org/m2"] == 1
    # ...while live bands would have moved them.
    assert rate_live(later)[[e for e in later if e.latest.model_id == "org/m1"][0].key].stars != 4
    assert all(r.release_id == "2026-11" for r in ratings.values())


def test_groups_unknown_to_the_release_wait_for_the_next_release(tmp_path):
    release = cut_release(_entries([100.0, 300.0, 600.0]), "r1")
    other = _entries([100.0], task="text-gen", start_seed=10)
    rating = rate_with_release(other, release)[other[0].key]
    assert rating.stars is None and "next release" in rating.reason


def test_releases_are_never_overwritten_and_are_listed_oldest_first(tmp_path):
    entries = _entries([100.0, 300.0, 600.0])
    write_release(cut_release(entries, "b", created_at=datetime(2026, 1, 1, tzinfo=timezone.utc)), tmp_path)
    write_release(cut_release(entries, "a", created_at=datetime(2026, 2, 1, tzinfo=timezone.utc)), tmp_path)
    with pytest.raises(HarnessError, match="refusing to overwrite"):
        write_release(cut_release(entries, "a"), tmp_path)
    assert [r.release_id for r in list_releases(tmp_path)] == ["b", "a"]
    assert find_release(None, tmp_path).release_id == "a"
    assert find_release("b", tmp_path).release_id == "b"
    with pytest.raises(NotFoundError, match="known: b, a"):
        find_release("zzz", tmp_path)


def test_release_needs_rated_results_and_a_clean_id():
    with pytest.raises(HarnessError, match="nothing to release"):
        cut_release([], "r1")
    with pytest.raises(HarnessError, match="nothing to release"):
        cut_release(_entries([100.0, 300.0]), "r1")  # two models: too few to rate
    with pytest.raises(ConfigError, match="release id '../evil' must be"):
        cut_release(_entries([100.0]), "../evil")
    with pytest.raises(ConfigError, match="unknown banding 'cubic'"):
        cut_release(_entries([100.0]), "r1", banding="cubic")


def test_a_corrupt_release_file_is_one_clear_error(tmp_path):
    (tmp_path / "bad.json").write_text('{"release_id": "bad"}')
    with pytest.raises(ConfigError, match="is invalid"):
        list_releases(tmp_path)


def test_two_models_are_too_few_for_stars_and_a_small_gap_costs_at_most_one_star():
    pair = _entries([100.0, 115.0])
    assert {r.stars for r in rate_live(pair).values()} == {None}
    assert all("at least 3" in r.reason for r in rate_live(pair).values())
    close = _entries([100.0, 108.0, 115.0])  # a 15 % spread: the bands span twice the lowest, so all share 5
    assert sorted(r.stars for r in rate_live(close).values()) == [5, 5, 5]
    wider = _entries([100.0, 110.0, 130.0])
    assert sorted(r.stars for r in rate_live(wider).values()) == [4, 5, 5]
    assert band_edges([1.0, 1.15]) == pytest.approx((1.0, 1.2, 1.4, 1.6, 1.8, 2.0))


def test_a_release_file_that_is_a_fifo_is_one_line_not_a_hang(tmp_path):
    import os

    from leaderboard.rating import list_releases

    os.mkfifo(tmp_path / "r1.json")
    with pytest.raises(ConfigError, match="r1.json: not a regular file") as failed:
        list_releases(tmp_path)
    assert "\n" not in str(failed.value)
