"""make package: dist/sitewatch-<version>.zip, installable through Plugin Manager > Install from ZIP."""
from __future__ import annotations

import configparser
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGE_NAME = "sitewatch"
# What a user's QGIS needs; tests, tools and dev files stay out.
INCLUDE_DIRS = ("plugin", "resources", "ui")
INCLUDE_FILES = ("__init__.py", "metadata.txt", "LICENSE", "README.md", "CHANGELOG.md")
SKIP_PARTS = {"__pycache__", ".pytest_cache"}
SKIP_SUFFIXES = {".pyc", ".pyo", ".aux.xml"}


def plugin_version(root: Path = ROOT) -> str:
    parser = configparser.ConfigParser()
    parser.read(root / "metadata.txt", encoding="utf-8")
    return parser["general"]["version"]


def package_files(root: Path = ROOT) -> list[Path]:
    files = [root / name for name in INCLUDE_FILES if (root / name).is_file()]
    for folder in INCLUDE_DIRS:
        for path in sorted((root / folder).rglob("*")):
            if path.is_file() and not SKIP_PARTS & set(path.parts) and path.suffix not in SKIP_SUFFIXES:
                files.append(path)
    return files


def build_zip(out_dir: Path, root: Path = ROOT) -> Path:
    out_dir.mkdir(parents=True, exist_ok=True)
    target = out_dir / f"{PACKAGE_NAME}-{plugin_version(root)}.zip"
    partial = target.with_suffix(".zip.part")
    with zipfile.ZipFile(partial, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in package_files(root):
            archive.write(path, f"{PACKAGE_NAME}/{path.relative_to(root).as_posix()}")
    partial.replace(target)
    return target


if __name__ == "__main__":
    zip_path = build_zip(Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "dist")
    print(f"Wrote {zip_path} ({zip_path.stat().st_size // 1024} KiB)")
