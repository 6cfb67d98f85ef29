"""The MLflow runtime: serves an MLflow model (a folder holding ``MLmodel``, or a
``models:/`` or ``runs:/`` URI) with MLflow's pyfunc loader. Needs ``servekit[mlflow]``."""
