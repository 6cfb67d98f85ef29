"""Container images: ``servekit build`` turns a model project into an image FROM a
servekit base image (``base-images/`` in the source tree)."""
