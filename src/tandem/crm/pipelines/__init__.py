"""Deal pipelines: admin-defined stages, the board, stage history, the forecast and the deal API."""
