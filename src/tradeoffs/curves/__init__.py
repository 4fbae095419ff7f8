"""From a finished sweep to tradeoff planes: table, Pareto front, theory overlays, plots."""
