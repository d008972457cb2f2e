#!/usr/bin/env python3
"""Rebuild DejaVuSans-subset.ttf from DejaVu Sans (see README.md): subset, then anchor every
glyph's bounding box at x = 0.

plotters 0.3.7's `ab_glyph` text backend places each glyph by its bounding box and ignores the
left side bearing, so glyphs with a large bearing ("E", "I", "c") crowd their left neighbour and
spaces look swallowed ("trainingELBO"). A glyph whose outline starts at x = 0 is placed right.
So every glyph whose outline starts right of 0 gets one extra, degenerate one-point contour at
(0, yMin): it draws nothing, but moves xMin (and the bearing in `hmtx`) to 0, which leaves the
rendering in any other program unchanged. Composite glyphs (accented letters) are decomposed
first, since only simple glyphs have points.

Usage: python3 make-font.py DejaVuSans.ttf DejaVuSans-subset.ttf   (needs `pip install fonttools`)
"""

import subprocess
import sys

from fontTools.pens.recordingPen import DecomposingRecordingPen
from fontTools.pens.ttGlyphPen import TTGlyphPen
from fontTools.ttLib import TTFont

UNICODES = (
    "U+0020-007E,U+00A0-017F,U+0391-03A9,U+03B1-03C9,U+2010-2027,U+2030-203A,U+2070-209F,"
    "U+2190-2193,U+2202,U+2207,U+2211,U+2212,U+221A,U+221E,U+2248,U+2260,U+2264,U+2265"
)


def main(src, dst):
    subprocess.run(
        [
            "pyftsubset", src, f"--unicodes={UNICODES}", "--layout-features=kern", "--legacy-kern",
            "--drop-tables+=MATH,FFTM", "--no-hinting", f"--output-file={dst}",
        ],
        check=True,
    )
    font = TTFont(dst, recalcTimestamp=False)
    glyf, hmtx = font["glyf"], font["hmtx"]
    glyph_set = font.getGlyphSet()
    for name in font.getGlyphOrder():
        glyph = glyf[name]
        if glyph.isComposite():
            rec = DecomposingRecordingPen(glyph_set)
            glyph_set[name].draw(rec)
            pen = TTGlyphPen(None)
            rec.replay(pen)
            glyph = pen.glyph()
            glyf[name] = glyph
        if glyph.numberOfContours <= 0:
            continue
        glyph.recalcBounds(glyf)
        if glyph.xMin <= 0:
            continue
        glyph.coordinates.append((0, glyph.yMin))
        glyph.flags.append(1)  # on-curve
        glyph.endPtsOfContours.append(len(glyph.coordinates) - 1)
        glyph.numberOfContours += 1
        glyph.recalcBounds(glyf)
        advance, _ = hmtx[name]
        hmtx[name] = (advance, glyph.xMin)
    font.save(dst)


if __name__ == "__main__":
    main(*sys.argv[1:3])
