#!/usr/bin/env python3
"""Link check of the built manual and of README.md (`make manual`; standard library only).

    python3 docs/check_links.py BOOK_DIR README.md

In every HTML file under BOOK_DIR, each relative href/src must name an existing file, and a
`#fragment` must name an id of the page it points to (when that page is HTML). In README.md each
relative Markdown link or image must name an existing file or folder of the repository, and a
`#fragment` of README.md itself must be one of its headings. Links with a scheme (https:, mailto:
…) are not followed. Exit 0 when every link resolves, 1 with a list of the broken ones.
"""
import html.parser
import os
import re
import sys
from urllib.parse import unquote, urlsplit


class Page(html.parser.HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.links, self.ids, self.base = [], set(), None

    def handle_starttag(self, tag, attrs):
        for name, value in attrs:
            if value is None:
                continue
            if name in ("href", "src"):
                if tag == "base" and name == "href":
                    self.base = value
                else:
                    self.links.append((self.getpos()[0], value))
            elif name in ("id", "name"):
                self.ids.add(value)


def parse(path, cache={}):
    if path not in cache:
        page = Page()
        with open(path, encoding="utf-8") as f:
            page.feed(f.read())
        cache[path] = page
    return cache[path]


def external(link):
    return bool(urlsplit(link).scheme) or link.startswith("//")


def check_book(book):
    broken = []
    for root, _, files in os.walk(book):
        for name in sorted(files):
            if not name.endswith(".html"):
                continue
            path = os.path.join(root, name)
            page = parse(path)
            if page.base is not None:  # 404.html is served from the site root: not checked
                continue
            for line, link in page.links:
                if external(link) or link.startswith("javascript:"):
                    continue
                parts = urlsplit(link)
                target = path if not parts.path else os.path.normpath(
                    os.path.join(root, unquote(parts.path)))
                if os.path.isdir(target):
                    target = os.path.join(target, "index.html")
                where = f"{os.path.relpath(path, book)}:{line}: {link}"
                if not os.path.exists(target):
                    broken.append(f"{where}: no such file")
                elif parts.fragment and target.endswith(".html"):
                    if unquote(parts.fragment) not in parse(target).ids:
                        broken.append(f"{where}: no id `{parts.fragment}` there")
    return broken


def github_slug(heading):
    text = re.sub(r"[`*_~]|\[([^\]]*)\]\([^)]*\)", lambda m: m.group(1) or "", heading).strip().lower()
    return re.sub(r"[^\w\- ]", "", text).replace(" ", "-")


def check_readme(readme):
    text = open(readme, encoding="utf-8").read()
    prose = re.sub(r"^```.*?^```", "", text, flags=re.S | re.M)  # no links in code blocks
    prose = re.sub(r"`[^`\n]*`", "", prose)
    slugs = {github_slug(h) for h in re.findall(r"^#+\s+(.*)$", prose, flags=re.M)}
    root = os.path.dirname(os.path.abspath(readme))
    broken = []
    for link in re.findall(r"!?\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)", prose) + \
            re.findall(r"<(?:a|img)\s[^>]*?(?:href|src)=\"([^\"]+)\"", prose):
        if external(link):
            continue
        parts = urlsplit(link)
        if not parts.path:
            if unquote(parts.fragment) not in slugs:
                broken.append(f"{readme}: {link}: no heading with that anchor")
            continue
        if not os.path.exists(os.path.join(root, unquote(parts.path))):
            broken.append(f"{readme}: {link}: no such file")
    return broken


def main(argv):
    if len(argv) != 3:
        print(__doc__.strip(), file=sys.stderr)
        return 2
    book, readme = argv[1], argv[2]
    if not os.path.isfile(os.path.join(book, "index.html")):
        print(f"{book}: no built book here (run mdbook build first)", file=sys.stderr)
        return 2
    broken = check_book(book) + check_readme(readme)
    pages = sum(1 for _, _, fs in os.walk(book) for f in fs if f.endswith(".html"))
    for b in broken:
        print(b)
    print(f"links: {pages} HTML pages and {readme} checked, {len(broken)} broken")
    return 1 if broken else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
