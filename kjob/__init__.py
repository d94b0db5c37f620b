"""kjob: a command-line tool for Kinetica's asynchronous job API."""

__version__ = "0.1.0"
