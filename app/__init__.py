"""OneShot Face: one-shot face recognition. The package is Qt-free except `app.gui`."""

__version__ = "0.1.0"
