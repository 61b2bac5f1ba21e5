"""mkdocs hooks: put ARCHITECTURE.md and CHANGELOG.md (kept at the top of
the repository, where a reader of the code finds them) into the site."""

import os

from mkdocs.structure.files import File

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PAGES = {"architecture.md": "ARCHITECTURE.md", "changelog.md": "CHANGELOG.md"}


def on_files(files, config):
    for uri, name in PAGES.items():
        files.append(File.generated(config, uri, abs_src_path=os.path.join(ROOT, name)))
    return files
