"""The terminal UI: a Textual client of ceremony.core (no logic beyond presentation and step order)."""

from ceremony.tui.app import CeremonyApp, make_app

__all__ = ["CeremonyApp", "make_app"]
