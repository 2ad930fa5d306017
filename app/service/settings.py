"""The app's own settings (window, folders, τ, the recent-faces opt-in, Retrain's choices) as the
GUI reads and saves them: `app.store.settings`, the one place their file and defaults are kept."""

from __future__ import annotations

from app.store.settings import RETRAIN_EPOCHS, Settings, default_folder, load, remember_folder, save, start_folder

__all__ = ["RETRAIN_EPOCHS", "Settings", "default_folder", "load", "remember_folder", "save", "start_folder"]
