"""Controllers on the supervisor's loop (`engine.loop`): one per kind, independent of each
other; each syncs one object key at a time and decides through a pure `plan` module."""
