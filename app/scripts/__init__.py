"""Radio scripts: drafts, immutable versions, the review workflow and file sources."""
