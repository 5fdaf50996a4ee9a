"""Tests of the model-independent JIT stages: prompt, extraction, vetting, trial."""
