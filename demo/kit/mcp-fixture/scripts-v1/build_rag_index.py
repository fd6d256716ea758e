"""Fixture script (v1): stands in for upstream's index builder."""

print("build_rag_index v1")
