"""Fixture script (v2): stands in for upstream's index builder."""

print("build_rag_index v2")
