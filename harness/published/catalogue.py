"""The published sources this harness imports: each collection (one source and round), where its files come from,
their licence status and what the source says about how it measured.

One owner: the importers, the records, `harness compare`, the site and docs/comparability.md all read these.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Collection:
    """One source and round: one records file (`published/<id>.jsonl`), one group on a page."""

    id: str
    source: str
    """`mlenergy` or `aies` (`harness.published.schema.Source`)."""
    round: str
    title: str
    """How a page names it (`ML.ENERGY Leaderboard v3`)."""
    published: str
    """When the source published the round (`2025-12`)."""
    url: str
    """Where people read the source."""
    importer: str
    """The `harness import` source that makes it."""


@dataclass(frozen=True)
class Origin:
    """The repository and commit an importer reads, and what may be done with its files."""

    repository: str
    commit: str
    licence: str
    """The licence status in a few words (every record carries it)."""
    licence_note: str
    """What the licence status rests on, for a sources page."""
    first_party: bool
    """Whether the repository is the publisher's own (False: a third party's copy)."""


COLLECTIONS: dict[str, Collection] = {c.id: c for c in (
    Collection(id="mlenergy-v3", source="mlenergy", round="v3", title="ML.ENERGY Leaderboard v3",
               published="2025-12", url="https://ml.energy/leaderboard", importer="mlenergy-v3"),
    Collection(id="mlenergy-v2", source="mlenergy", round="v2", title="ML.ENERGY Leaderboard v2",
               published="2024-09", url="https://github.com/ml-energy/leaderboard-v2", importer="mlenergy-v2"),
    Collection(id="mlenergy-v1", source="mlenergy", round="v1", title="ML.ENERGY Leaderboard v1 (legacy)",
               published="2023-07", url="https://github.com/ml-energy/leaderboard-v2/tree/c3af7f31e231a2a7021c5f8e2a54dd712d02e6e2/data/legacy",
               importer="mlenergy-v2"),
    Collection(id="aies-v1", source="aies", round="v1", title="AI Energy Score v1 (February 2025)",
               published="2025-02", url="https://huggingface.co/spaces/AIEnergyScore/Leaderboard", importer="aies-v1"),
    Collection(id="aies-2025-12", source="aies", round="2025-12", title="AI Energy Score, December 2025 round",
               published="2025-12", url="https://huggingface.co/spaces/AIEnergyScore/Leaderboard",
               importer="aies-2025"),
)}
"""Every collection, in the order pages list them (newest ML.ENERGY first, then AI Energy Score)."""

ORIGINS: dict[str, Origin] = {
    "mlenergy-v3": Origin(
        repository="ml-energy/leaderboard", commit="0cd52dab897c5d91a45f4d413038f3b8b4251b0f", first_party=True,
        licence="no licence file; its dataset Apache-2.0",
        licence_note="no licence file in ml-energy/leaderboard; the dataset it is built from declares Apache-2.0 "
                     "(ml-energy/data@ed446d891b37fec47131f32a2ffce36eaa1ea854, "
                     "data_publishing/hf_dataset_config.yaml)"),
    "mlenergy-v2": Origin(
        repository="ml-energy/leaderboard-v2", commit="c3af7f31e231a2a7021c5f8e2a54dd712d02e6e2", first_party=True,
        licence="Apache-2.0 file; docs say non-commercial research preview",
        licence_note="Apache-2.0 licence file in the repository, but its About page (docs/about.md) calls the "
                     "leaderboard a research preview intended for non-commercial use only"),
    "aies-v1": Origin(
        repository="ebbalg/AI-climate-overview", commit="96c2d78865b13f822f09b8dd246c76687af4b7dd", first_party=False,
        licence="third-party copy, no licence file",
        licence_note="third-party copy with no licence file; first-party data is the AIEnergyScore/Leaderboard Space "
                     "on Hugging Face (licence not stated with the data; the AIEnergyScore code repository is MIT)"),
    "aies-2025": Origin(
        repository="henryblanchard/climate-impact-calculator", commit="cf47e3434f519866c326b5d4cb5cda4a298ecf08",
        first_party=False, licence="third-hand copy, no licence file",
        licence_note="third-hand copy (downloaded from the AIEnergyScore/Leaderboard Space on 2026-02-13, per its "
                     "data/raw/aie/README.md) in a repository with no licence file; first-party licence as for "
                     "aies-v1"),
}
"""Each importer's pinned repository and commit (`harness import --commit` names another commit of the same one)."""


def collection(collection_id: str) -> Collection:
    return COLLECTIONS[collection_id]
