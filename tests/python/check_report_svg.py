#!/usr/bin/env python3
"""Checks a dynrt report page: every inline <svg> parses as XML (xml.etree) and carries data
(a polyline with points, circles or bars). Usage: check_report_svg.py report.html"""
import re
import sys
import xml.etree.ElementTree as ET

NS = "{http://www.w3.org/2000/svg}"


def main(path):
    page = open(path, encoding="utf-8").read()
    svgs = re.findall(r"<svg\b.*?</svg>", page, re.S)
    if not svgs:
        print("%s: no <svg>" % path)
        return 1
    for i, s in enumerate(svgs):
        try:
            root = ET.fromstring(s)
        except ET.ParseError as e:
            print("%s: svg %d is not well-formed XML: %s" % (path, i, e))
            return 1
        shapes = (len([p for p in root.iter(NS + "polyline") if len(p.get("points", "")) > 8])
                  + len(list(root.iter(NS + "circle"))) + len(list(root.iter(NS + "rect"))) - 2)
        if shapes <= 0:
            print("%s: svg %d has no data" % (path, i))
            return 1
    print("%s: %d SVGs, all well-formed with data" % (path, len(svgs)))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
