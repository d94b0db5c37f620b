"""An emulator of Kinetica's async-job API, for trying kjob and testing scripts without a cluster.

The CLI never imports this package; it imports kjob.protocol, never kjob.cli.
"""

from kjob.emulator.server import Credentials, Emulator

__all__ = ["Credentials", "Emulator"]
