"""The `diffill` command's exit codes (documented in the README and docs/cli.md): 0 nothing to do or
everything applied; 1 changes pending under --check, or something failed (a file, the
model); 2 usage error; 130 interrupted (Ctrl-C)."""

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2
EXIT_INTERRUPTED = 130  # 128 + SIGINT, as shells report it
