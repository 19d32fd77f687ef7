#!/usr/bin/env python3
"""Puts a results table into a Markdown file, between the lines
<!-- results:begin --> and <!-- results:end --> (kept; everything else is left as it is).

    bench/publish.py TABLE.md TARGET.md
"""
import sys

BEGIN, END = "<!-- results:begin -->", "<!-- results:end -->"


def main():
    table_path, target_path = sys.argv[1:3]
    with open(table_path) as f:
        table = f.read().strip()
    with open(target_path) as f:
        text = f.read()
    if BEGIN not in text or END not in text:
        sys.exit(f"{target_path} has no {BEGIN} ... {END} section")
    head, rest = text.split(BEGIN, 1)
    _, tail = rest.split(END, 1)
    with open(target_path, "w") as f:
        f.write(f"{head}{BEGIN}\n{table}\n{END}{tail}")


if __name__ == "__main__":
    main()
