"""The published leaderboard: result files in, a static site with star ratings, labels and plots out.

`aggregate` reads and validates result files and groups them; `rating` turns energies into stars under a
frozen release; `carbon` derives CO2e and everyday equivalents from measured energy; `label` and `plots`
draw SVG; `site` writes the whole site atomically.
"""
