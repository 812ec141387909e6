"""The liquidation tracker: record format, JSONL store, collector, API and page."""
