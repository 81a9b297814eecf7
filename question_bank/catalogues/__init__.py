"""The catalogues the notices publish, as data (``question_bank.catalogue`` reads them):
``subjects.csv``, ``hebei-2024.csv``, ``henan.csv``. A package, so that the files ship."""
