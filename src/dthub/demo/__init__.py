"""The demo city: what `make demo` builds on the embedded default, labelled as a demo wherever it shows."""
