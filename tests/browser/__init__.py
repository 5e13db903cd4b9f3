"""Browser tests of the built HTML book (see conftest.py)."""
