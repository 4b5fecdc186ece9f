"""Tests of the pure domain rules."""
