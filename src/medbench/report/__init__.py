"""Tables, claims checks and figures from finished runs."""

# the figures every study's tables can get (`medbench figure roc|curves`), beside a study's own
# (`Study.figure_kinds`)
SHARED_FIGURES = ("roc", "curves")
