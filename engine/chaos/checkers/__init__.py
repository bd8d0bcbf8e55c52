"""Checkers: each reads operations of a history and returns the anomalies its model
forbids. They are pure functions of the history, so each is unit-tested on hand-written
histories."""
