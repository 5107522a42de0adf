"""The request pipeline (RealtimePredictor) and the TorchServe adapter."""
