"""MLflow's scoring protocol (``POST /invocations``, as ``mlflow models serve`` answers
it): a codec over the one data plane. I/O-free.

:mod:`.request` (the content type, a JSON body's data and params), :mod:`.codec`
(:class:`~.codec.ScoringCodec`: MLflow's parsing, the model called with a
:class:`~servekit.runtimes.mlflow.scoring.ScoringInput`, its errors), :mod:`.answer`
(the result as MLflow writes it) and :mod:`.shape` (MLflow's error document, for every
error on its routes). The codec imports MLflow when it is built, so this package and
:func:`encode_error` cost nothing to a server of another kind of model. The routes are
:mod:`servekit.http.mlflow_routes`.
"""

from servekit.protocols.mlflow.shape import ScoringError, UnsupportedContent, encode_error

__all__ = ["ScoringError", "UnsupportedContent", "encode_error"]
