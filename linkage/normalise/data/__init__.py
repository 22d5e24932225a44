"""Packaged data tables of the normalisers (CSV), and the tool that regenerates them."""
