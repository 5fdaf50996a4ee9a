"""The doesNotUnderstand: JIT: prompt, model backends, extraction, vetting, trial run, install."""
