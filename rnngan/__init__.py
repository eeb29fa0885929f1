"""rnngan: recurrent GANs for time series. `rnngan.core` is shared by training and the service;
`rnngan.cli` is the command line."""

__version__ = "0.1.0"
