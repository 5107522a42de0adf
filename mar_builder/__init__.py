"""Builds a self-contained TorchServe model archive (.mar) from GraphStorm artifacts (`gs-build-mar`)."""
