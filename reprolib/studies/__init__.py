"""The studies that ``python -m reprolib reproduce`` runs, each ``run(out, quick, step) -> (results,
markdown)``, the measurements they share, and every figure of the notebooks and the report (``plots``)."""
