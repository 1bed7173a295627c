"""The dedup report: queries over the store and renderers for them."""
