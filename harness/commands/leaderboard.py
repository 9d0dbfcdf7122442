"""`harness leaderboard build` and `harness leaderboard release`: the published static site and its rating releases."""

from __future__ import annotations

from pathlib import Path

import typer

DEFAULT_RESULTS_DIR = Path("results")


def register(app: typer.Typer) -> None:
    """Add `harness leaderboard ...` to the app."""
    group = typer.Typer(help="Build the static leaderboard site and cut rating releases.", no_args_is_help=True)

    @group.command("build")
    def build(
        results_dir: Path = typer.Argument(DEFAULT_RESULTS_DIR, help="Folder of result files (searched recursively)."),
        out: Path = typer.Option(Path("site"), "--out", help="Folder to write the site into (replaced whole)."),
        release: str | None = typer.Option(None, "--release", help="Rate under this release (default: latest)."),
        banding: str | None = typer.Option(None, "--banding", help="linear or log; only before the first release."),
        grid: str = typer.Option("WORLD", "--grid", help="Grid for CO2e: WORLD, FR, PL, DE, ... (see methodology)."),
        pue: str = typer.Option("1.0", "--pue", help="PUE (1.0-3.0) or preset: measured, hyperscale, "
                                                    "industry-average."),
        releases_dir: Path | None = typer.Option(None, "--releases-dir", help="Folder of release files."),
        cache_dir: Path | None = typer.Option(None, "--cache-dir", help="Keep checked summaries here so a "
                                              "rebuild checks only new or changed files."),
        base_url: str | None = typer.Option(None, "--base-url", help="Address the site is published at (e.g. "
                                            "https://example.org/energy): fills in the embed snippets."),
        published: bool = typer.Option(True, "--published/--no-published", help="Show other projects' published "
                                       "figures (ML.ENERGY, AI Energy Score) apart from the results, never rated "
                                       "with them."),
        published_dir: Path | None = typer.Option(None, "--published-dir", help="Folder of published records "
                                                  "(default: the ones shipped with the harness)."),
    ) -> None:
        """Turn every result file into a static site (works from file:// and any static host)."""
        from harness.errors import ConfigError
        from leaderboard.rating import RELEASES_DIR
        from leaderboard.site import build_site

        if published_dir is not None and not published:
            raise ConfigError("--published-dir names published records to show; --no-published shows none")
        report = build_site(results_dir, out, release_id=release, banding=banding, grid=grid, pue=pue,
                            releases_dir=releases_dir or RELEASES_DIR, cache_dir=cache_dir, base_url=base_url,
                            published=published_dir if published_dir is not None else published)
        for refusal in report.refused:
            typer.echo(f"refused {refusal.source}: {refusal.reason}", err=True)
        typer.echo(f"built {report.out_dir}: {report.num_runs} runs from {report.num_files} files, "
                   f"{report.num_entries} entries, {len(report.refused)} refused; ratings: {report.release_id} "
                   f"({report.banding}); {report.seconds:.2f} s")

    @group.command("release")
    def release_cmd(
        release_id: str = typer.Argument(..., help="Id of the new release, e.g. 2026-11."),
        results_dir: Path = typer.Argument(DEFAULT_RESULTS_DIR, help="Folder of result files."),
        banding: str = typer.Option("linear", "--banding", help="linear (AI Energy Score's rule) or log."),
        releases_dir: Path | None = typer.Option(None, "--releases-dir", help="Folder of release files."),
    ) -> None:
        """Freeze the current band edges of every rating group as a new release (never overwrites one)."""
        from leaderboard.rating import RELEASES_DIR, release_from_results

        path, new, refused = release_from_results(results_dir, release_id, banding, releases_dir or RELEASES_DIR)
        for refusal in refused:
            typer.echo(f"refused {refusal.source}: {refusal.reason}", err=True)
        rated = sum(len(g.rated) for g in new.groups.values())
        typer.echo(f"wrote {path}: {len(new.groups)} rating groups, {rated} rated entries ({banding} bands)")

    app.add_typer(group, name="leaderboard")
