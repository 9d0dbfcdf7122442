"""Running the harness at scale: campaigns, scheduler outputs, collecting results, submission bundles."""
