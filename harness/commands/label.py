"""`harness label RESULT.json`: the energy label (or badge) of one result, rated under the current release."""

from __future__ import annotations

from pathlib import Path

import typer


def register(app: typer.Typer) -> None:
    """Add `harness label` to the app."""

    @app.command("label")
    def label(
        result_path: Path = typer.Argument(..., help="A result file written by `harness run`."),
        out: Path | None = typer.Option(None, "--out", help="Where to write the SVG, a new file (default: next to "
                                                            "the result)."),
        badge: bool = typer.Option(False, "--badge", help="Write the small README badge instead of the label."),
        release: str | None = typer.Option(None, "--release", help="Rate under this release (default: latest)."),
        releases_dir: Path | None = typer.Option(None, "--releases-dir", help="Folder of release files."),
    ) -> None:
        """Write the 260x364 SVG energy label (or a badge) for one result file."""
        from harness.files import new_output, write_text_atomic
        from harness.results.store import load_valid_result
        from leaderboard.label import label_for_result, render_badge, render_label
        from leaderboard.rating import RELEASES_DIR, find_release

        target = out or result_path.with_name(f"{result_path.stem}.{'badge' if badge else 'label'}.svg")
        new_output(target)  # a label is a new file: never a result, a link or a device replaced
        loaded = load_valid_result(result_path)
        current = find_release(release, releases_dir or RELEASES_DIR)
        data = label_for_result(loaded.result, str(result_path), current)
        svg = render_badge(data) if badge else render_label(data)
        write_text_atomic(target, svg)
        stars = f"{data.stars} stars" if data.stars is not None else data.reason
        typer.echo(f"wrote {target} ({stars}; release {data.release_id})")
