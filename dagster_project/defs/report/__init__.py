"""The spend report: one self-contained HTML file drawn from the published marts after each build."""
