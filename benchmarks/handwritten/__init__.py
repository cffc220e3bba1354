"""The benchmark problems written by hand in each peer library.

One module per library, so a worker imports only the library it measures.
"""
