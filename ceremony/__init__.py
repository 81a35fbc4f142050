"""ceremony: the offline workstation that creates and guards a TUF root of trust.

The package is split in two: ``ceremony.core`` holds every decision and every
write, and ``ceremony.cli`` (and later the terminal UI) are thin clients of it.
"""

__version__ = "0.1.0"
