"""The core rules: no HTTP, no SQL, no framework. Adapters reach it through `ports`."""
