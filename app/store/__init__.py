"""The store: what the app keeps on disk (the gallery of enrolled people, its backups, the settings),
written crash-safe with `app.atomic`."""
