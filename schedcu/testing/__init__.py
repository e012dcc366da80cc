"""Test doubles and generated data, for the tests, the demo and the benches: the fake Amion, the sample template,
the demo roster and Amion ground truth."""
