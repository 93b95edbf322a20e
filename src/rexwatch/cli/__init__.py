"""The ``rexwatch`` command line."""
