"""Background jobs: long work (training, theme mining) run off the request, with status and progress to follow."""
