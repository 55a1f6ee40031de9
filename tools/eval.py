"""make eval: quality figures of every core on real data (../shared/data) and the sample site."""
import sys

from runsuite import run_suite

if __name__ == "__main__":
    sys.exit(run_suite("eval"))
