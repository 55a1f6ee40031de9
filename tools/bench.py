"""make bench: speed and memory figures of every core."""
import sys

from runsuite import run_suite

if __name__ == "__main__":
    sys.exit(run_suite("bench"))
