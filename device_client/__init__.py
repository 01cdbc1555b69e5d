"""A phone: its local store of recordings, its local data pipeline and its microphone."""
