"""Sphinx configuration for the dualnet docs (MyST Markdown, furo, MathJax served locally)."""

import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE / "_ext"))
sys.path.insert(0, str(HERE.parent))

from figure_scraper import FigureScraper

project = "dualnet"
author = "The dualnet developers"
copyright = "2026, the dualnet developers"
release = "0.1.0"

extensions = [
    "myst_parser",
    "sphinx.ext.autodoc",
    "sphinx.ext.napoleon",
    "sphinx.ext.mathjax",
    # copies MathJax into _static and points Sphinx at it: math renders with no network
    "sphinx-mathjax-offline",
    "sphinxcontrib.bibtex",
    "sphinx_gallery.gen_gallery",
    "agreement",
]

# sphinx-gallery writes the executed tutorials as reStructuredText
source_suffix = {".md": "markdown", ".rst": "restructuredtext"}
exclude_patterns = ["_build", "Thumbs.db", ".DS_Store", "tutorials", "figures"]

sphinx_gallery_conf = {
    "examples_dirs": "tutorials",
    "gallery_dirs": "generated/tutorials",
    "filename_pattern": r"plot_",
    "within_subsection_order": "FileNameSortKey",
    "download_all_examples": False,
    "show_memory": False,
    "remove_config_comments": True,
    "matplotlib_animations": False,
    "write_computation_times": False,
    "capture_repr": (),
    "image_scrapers": ("matplotlib", FigureScraper()),
}

myst_enable_extensions = ["dollarmath", "amsmath", "colon_fence", "deflist"]
myst_heading_anchors = 3

autodoc_member_order = "bysource"
autodoc_typehints = "description"
napoleon_google_docstring = True
napoleon_numpy_docstring = False
napoleon_use_rtype = False

bibtex_bibfiles = ["references.bib"]
bibtex_default_style = "alpha"

html_theme = "furo"
html_title = "dualnet"
html_static_path = ["_static"]
html_css_files = ["dualnet.css"]
