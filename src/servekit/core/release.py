"""What is serving: servekit's version and the model's name and version. I/O-free."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Release"]


@dataclass(frozen=True)
class Release:
    """What is serving: reported in every successful response's ``release``."""

    harness_version: str
    model_name: str
    model_version: str

    def to_dict(self) -> dict[str, str]:
        """The JSON form of ``release``."""
        return {
            "harness_version": self.harness_version,
            "model_name": self.model_name,
            "model_version": self.model_version,
        }
