#!/usr/bin/env python3
"""Prints a GitHub Actions error annotation for every failing test case of a JUnit report.

The first line of a failure's message is its cause (the rule that broke, or the first reason):
it becomes the annotation's title; the rest its text. Usage: annotate.py JUNIT_XML
(`--self-test` checks the script on a made-up report).
"""
import sys
import xml.etree.ElementTree as ET


def escape(text: str) -> str:
    """GitHub's workflow-command escaping of a message."""
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def annotations(xml_text: str):
    root = ET.fromstring(xml_text)
    for case in root.iter("testcase"):
        failure = case.find("failure")
        if failure is None:
            failure = case.find("error")
        if failure is None:
            continue
        name = case.get("name", "?")
        message = failure.get("message") or (failure.text or "").strip()
        cause = message.split("; then:")[0].split("\n")[0].strip() or "failed"
        yield f"::error title={escape(name)}::{escape(cause)}%0A{escape(message)}"


def main(argv) -> int:
    if argv[1:] == ["--self-test"]:
        sample = ('<testsuites><testsuite name="s"><testcase name="ms.a [ref:x]">'
                  '<failure message="rule r broke at packet #5: seq 0; then: frames_dropped = 1"/>'
                  '</testcase><testcase name="ok"/></testsuite></testsuites>')
        got = list(annotations(sample))
        assert len(got) == 1 and got[0].startswith("::error title=ms.a [ref:x]::rule r broke"), got
        print("annotate.py: self-test passed")
        return 0
    if len(argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    try:
        with open(argv[1], encoding="utf-8") as f:
            text = f.read()
    except OSError as e:
        print(f"annotate.py: no JUnit report to annotate: {e}")
        return 0
    for line in annotations(text):
        print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
