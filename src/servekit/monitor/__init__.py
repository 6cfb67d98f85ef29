"""``servekit monitor``: drift and quality of captured predictions, as a report.

The capture (:mod:`servekit.capture`) writes what each model saw and said; ground truth
arrives later under the same event ids. This package reads both, and a training baseline,
and says what moved and how good the predictions were:

* :mod:`.sources` (I/O) reads records, ground truth and baselines; :mod:`.writing` (I/O)
  writes ``report.html`` and ``summary.json``;
* the rest is I/O-free: :mod:`.flatten` (a record's inputs as rows of features),
  :mod:`.sample` (records as one table), :mod:`.drift` (PSI and the two-sample tests),
  :mod:`.quality` (scikit-learn's metrics, over time), :mod:`.thresholds`,
  :mod:`.analysis` and :mod:`.verdict` (the comparison and its verdict),
  :mod:`.summary`, :mod:`.charts` (matplotlib SVG) and :mod:`.report` (the page).

It needs the ``monitor`` extra (numpy, scipy, scikit-learn, pandas, pyarrow, matplotlib,
PyYAML); :mod:`.command` checks for it before importing the rest. Nothing here imports
Flask, uWSGI or the serving layers.
"""

__all__: list[str] = []
