"""protloc: subcellular localization of prokaryotic proteins from sequence."""

__version__ = "0.1.0"
