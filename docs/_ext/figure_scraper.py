"""A sphinx-gallery image scraper for the figures dualnet builds without pyplot.

dualnet's figure functions return :class:`matplotlib.figure.Figure` objects that pyplot does
not know, so sphinx-gallery's own matplotlib scraper cannot see them. This scraper shows every
such figure that a tutorial block bound to a name, once, after the block that made it.
"""

from __future__ import annotations

from matplotlib.figure import Figure
from sphinx_gallery.scrapers import figure_rst


class FigureScraper:
    def __call__(self, block, block_vars, gallery_conf) -> str:
        paths = []
        for value in list(block_vars["example_globals"].values()):
            if not isinstance(value, Figure) or getattr(value, "_shown_in_gallery", False):
                continue
            if value.canvas.manager is not None:  # a pyplot figure: the matplotlib scraper's
                continue
            value._shown_in_gallery = True
            path = next(block_vars["image_path_iterator"])
            value.savefig(path, dpi=110)
            paths.append(path)
        return figure_rst(paths, gallery_conf["src_dir"])

    def __repr__(self) -> str:  # a stable value, so that Sphinx does not rebuild every page
        return "FigureScraper"
