"""A package of graph modules, for loading a graph by dotted module name."""
