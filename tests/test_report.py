"""`cnncalc report`: the HTML page of every zoo spec, read back with html.parser, against
the summary it shows: one table row per layer (or folded row) with the summary's exact
figures, the totals `summary` prints, one diagram node per row, the receptive fields of
`summary --rf`; no external URL; hostile names escaped; -o written safely.
tests/test_report_browser.py runs the page in a real browser."""
from __future__ import annotations

import json
import os
import re
import stat
from html.parser import HTMLParser

import pytest
from hypothesis import HealthCheck, given, settings

import cnncalc
from cnncalc.diagnostics import safe
from cnncalc.diagram import diagram
from cnncalc.fold import fold
from cnncalc.network import INPUT
from cnncalc.render.report import report
from cnncalc.render.summary import totals_lines

from fuzz_cases import run_case
from fuzz_report import report_case, run_report
from helpers import SPECS, ZOO, invoke, write_spec

URL_ATTRIBUTES = {"src", "href", "xlink:href", "action", "formaction", "poster", "srcset", "background", "ping",
                  "data", "manifest", "codebase", "cite", "longdesc", "usemap"}


class Page(HTMLParser):
    """What a report holds: the table's rows, the totals, the diagram's nodes, clusters and
    edges, the scripts, and every attribute that could name another resource."""

    def __init__(self, html: str):
        super().__init__(convert_charrefs=True)
        self.rows, self.headers, self.totals, self.nodes, self.clusters, self.edges = [], [], [], [], [], []
        self.scripts, self.styles, self.references, self.title, self.h1 = [], [], [], "", ""
        self._text = None  # the text being gathered, and where it goes
        self._cell = None
        self._element = []
        self.feed(html)
        self.close()

    def handle_starttag(self, tag, attrs):
        attributes = dict(attrs)
        self._element.append(tag)
        self.references += [(name, value) for name, value in attrs if name in URL_ATTRIBUTES]
        if "style" in attributes:
            self.styles.append(attributes["style"] or "")
        classes = (attributes.get("class") or "").split()
        if tag == "tr" and "data-name" in attributes:
            self.rows.append({"name": attributes["data-name"], "cells": []})
        elif tag in ("td", "th") and self.rows and "tbody" in self._element:
            self._cell = {"value": attributes.get("data-value"), "text": ""}
            self.rows[-1]["cells"].append(self._cell)
        elif tag == "th" and "thead" in self._element:
            self.headers.append("")
        elif tag == "dt":
            self.totals.append(["", ""])
        elif tag == "g" and "node" in classes:
            self.nodes.append(attributes.get("data-name"))
        elif tag == "g" and "cluster" in classes:
            self.clusters.append(attributes.get("data-name"))
        elif tag == "path" and "edge" in classes:
            self.edges.append((attributes.get("data-from"), attributes.get("data-to")))
        elif tag == "script":
            self.scripts.append("")

    def handle_endtag(self, tag):
        while self._element and self._element.pop() != tag:
            pass
        if tag in ("td", "th"):
            self._cell = None

    def handle_data(self, data):
        inside = self._element[-1] if self._element else None
        if self._cell is not None:
            self._cell["text"] += data
        elif inside == "button" and "thead" in self._element:
            self.headers[-1] += data
        elif inside == "dt":
            self.totals[-1][0] += data
        elif inside == "dd":
            self.totals[-1][1] += data
        elif inside == "script":
            self.scripts[-1] += data
        elif inside == "style":
            self.styles.append(data)
        elif inside == "title":
            self.title += data
        elif inside == "h1":
            self.h1 += data


def external_references(html: str) -> list:
    """Everything in the page that a browser could fetch: an attribute naming anything but
    a fragment (#id) or inline data, an @import, a url() of anything but those."""
    page = Page(html)
    found = [f"{name}={value!r}" for name, value in page.references
             if not (value or "").strip().startswith(("#", "data:"))]
    for style in page.styles:
        found += [f"@import in {style[:80]!r}" for _ in re.finditer(r"@import", style, re.I)]
        found += [f"url({target})" for target in re.findall(r"url\(\s*['\"]?([^'\")]*)", style, re.I)
                  if not target.strip().startswith(("#", "data:"))]
    found += [f"a URL in a script: {m.group()!r}" for script in page.scripts
              for m in re.finditer(r"(https?:)?//[\w.-]+\.\w+", script) if not m.group().startswith("//")]
    return found


def _summary(stem: str, **options):
    return cnncalc.summarize(cnncalc.load(str(SPECS / f"{stem}.yaml"), **options))


def _exact_number(text: str) -> int:
    """The exact integer a total starts with: '25,557,032 (25.56M)' -> 25557032."""
    return int(text.split()[0].replace(",", ""))


def _assert_rows(page: Page, rows: list) -> None:
    assert [row["name"] for row in page.rows] == [row.name for row in rows]
    for shown, row in zip(page.rows, rows):
        name, kind, shape, params, macs, flops = shown["cells"][:6]
        assert (name["text"], kind["text"]) == (safe(row.name), safe(row.type))
        assert shape["text"] == "[" + ", ".join(map(str, row.output_shape)) + "]"
        for cell, figure in ((params, row.params), (macs, row.macs), (flops, row.flops)):
            assert int(cell["value"]) == figure and int(cell["text"].replace(",", "")) == figure


@pytest.mark.parametrize("stem", ZOO)
def test_every_zoo_spec_shows_its_summary(stem):
    summary = _summary(stem)
    html = report(summary)
    page = Page(html)
    assert page.h1 == summary.name and page.title.startswith(summary.name)
    assert page.headers == ["Layer", "Type", "Output shape", "Params", "MACs", "FLOPs"]
    _assert_rows(page, summary.layers)
    assert page.totals == [[label.strip(), value] for label, value in totals_lines(summary)]
    totals = summary.totals
    shown = {label: _exact_number(value) for label, value in page.totals if not value.endswith("B")}
    assert shown == {"Params": totals.params, "trainable": totals.trainable_params,
                     "non-trainable": totals.non_trainable_params, "Buffers (running statistics)": totals.buffers,
                     "MACs (batch 1)": totals.macs, "FLOPs (batch 1)": totals.flops}
    drawn = diagram(summary)
    assert sorted(page.nodes) == sorted([INPUT] + [record.name for record in summary.layers])
    assert sorted(page.clusters) == sorted(cluster.name for cluster in drawn.clusters)
    assert sorted(page.edges) == sorted(drawn.edges)
    assert external_references(html) == []
    assert len(page.scripts) == 1


@pytest.mark.parametrize("stem", ["resnet50", "googlenet", "unet", "efficientnet_b0"])
@pytest.mark.parametrize("depth", [1, 2])
def test_depth_shows_the_folded_rows_and_nodes(stem, depth):
    summary = _summary(stem)
    rows = fold(summary.layers, depth)
    page = Page(report(summary, depth))
    _assert_rows(page, rows)
    assert sorted(page.nodes) == sorted([INPUT] + [row.name for row in rows])
    assert sum(int(row["cells"][4]["value"]) for row in page.rows) == summary.totals.macs


@pytest.mark.parametrize("stem, depth", [("resnet18", None), ("unet", None), ("googlenet", 2), ("textcnn", None)])
def test_rf_shows_the_fields_summary_rf_prints(stem, depth):
    """The receptive-field columns against `summary --rf --format json`: each row's size,
    jump and offset where every axis has the same, a '-' where there is none."""
    args = ["summary", str(SPECS / f"{stem}.yaml"), "--rf", "--format", "json"]
    data = json.loads(invoke(*args, *(["--depth", str(depth)] if depth else [])).stdout)
    page = Page(report(_summary(stem), depth, rf=True))
    assert page.headers[6:] == ["RF", "Jump", "Offset"]
    assert [row["name"] for row in page.rows] == [layer["name"] for layer in data["layers"]]
    axis_names = {axis["axis"] for layer in data["layers"] for axis in (layer["receptive_field"] or {}).get("axes", [])}
    checked = 0
    for row, layer in zip(page.rows, data["layers"]):
        size, jump, offset = row["cells"][6:9]
        field = layer["receptive_field"]
        if not field or not field["axes"]:
            assert (size["text"], jump["text"], offset["text"]) == ("-", "-", "-")
            continue
        axes = field["axes"]
        for cell, key in ((size, "size"), (jump, "jump"), (offset, "offset")):
            values = {axis[key] for axis in axes}
            if len(values) == 1 and len(axes) == len(axis_names) and type(axes[0][key]) is int:
                assert int(cell["value"]) == axes[0][key], (row["name"], key)
                checked += 1
        assert size["text"].endswith("*") == field["global"]
    assert checked > len(page.rows)


def test_a_network_too_big_to_draw_still_has_its_table(tmp_path):
    """Past the layout's limit (cnncalc/layout.py) the page says why there is no diagram
    and holds the rest."""
    from cnncalc.layout import MAX_ITEMS

    spec = write_spec(tmp_path, "input: [4]\nlayers:\n" + "  - {type: relu}\n" * MAX_ITEMS)
    summary = cnncalc.summarize(cnncalc.load(str(spec)))
    html = report(summary)
    page = Page(html)
    assert page.nodes == [] and "Not drawn: too big to lay out" in html
    assert len(page.rows) == MAX_ITEMS and page.totals == [[label.strip(), value] for label, value in totals_lines(summary)]


def test_the_url_check_finds_what_a_browser_would_fetch():
    """external_references, which every test here relies on, is not blind."""
    for fetching in ['<img src="http://x.example/a.png">', '<link rel="stylesheet" href="//cdn.example/a.css">',
                     '<style>@import "a.css";</style>', '<div style="background: url(https://x.example/b)"></div>',
                     '<svg><image xlink:href="a.png"/></svg>', '<script src="a.js"></script>',
                     '<script>fetch("https://x.example/data")</script>']:
        assert external_references(f"<html><body>{fetching}</body></html>"), fetching
    assert external_references('<svg xmlns="http://www.w3.org/2000/svg"><a href="#n1"></a></svg>') == []


HOSTILE = ('name: "</script><script>alert(1)</script> & \\"q\\" \'s\' <b>ünï</b> \\u202e \\x1b[31m \\x85"\n'
           "input: [3, 8, 8]\n"
           "blocks:\n"
           '  "</b>&\\"<script>":\n'
           "    layers:\n"
           "      - {name: aé, type: relu}\n"
           "layers:\n"
           "  - {name: ünï, type: conv2d, out_channels: 4, kernel_size: 3}\n"
           '  - {block: "</b>&\\"<script>"}\n'
           "  - {type: flatten}\n"
           "  - {type: linear, out_features: 2}\n")


def test_hostile_names_stay_text(tmp_path):
    spec = write_spec(tmp_path, HOSTILE)
    summary = cnncalc.summarize(cnncalc.load(str(spec)))
    result = invoke("report", str(spec))
    assert result.exit_code == 0, result.output + result.stderr
    html = result.stdout
    page = Page(html)
    assert page.h1 == safe(summary.name) and "\\x1b[31m" in page.h1 and "\\u202e" in page.h1
    assert len(page.scripts) == 1 and "alert" not in page.scripts[0]
    assert html.count("<script>") == 1 and html.count("</script>") == 1
    assert not re.search("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]", html)
    _assert_rows(page, summary.layers)
    block_row = summary.layers[1].name
    assert block_row.startswith('</b>&"<script>') and block_row in page.nodes
    assert sorted(page.nodes) == sorted([INPUT] + [r.name for r in summary.layers])
    assert external_references(html) == []


def test_output_file_is_the_page_and_stdout_stays_empty(tmp_path):
    target = tmp_path / "report.html"
    result = invoke("report", str(SPECS / "lenet5.yaml"), "-o", str(target))
    assert result.exit_code == 0 and result.stdout == "", result.output
    assert target.read_text(encoding="utf-8") == report(_summary("lenet5"))
    assert sorted(os.listdir(tmp_path)) == ["report.html"]
    assert (target.stat().st_mode & 0o777) == 0o666 & ~_umask()


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def test_output_never_replaces_the_spec(tmp_path):
    spec = write_spec(tmp_path, (SPECS / "lenet5.yaml").read_text())
    before = spec.read_bytes()
    link = tmp_path / "link.html"
    link.symlink_to(spec)
    for target in (spec, link):
        result = invoke("report", str(spec), "-o", str(target))
        assert result.exit_code == 2 and "is the spec itself" in result.stderr, result.output + result.stderr
        assert spec.read_bytes() == before
    assert sorted(os.listdir(tmp_path)) == ["link.html", "spec.yaml"]


@pytest.mark.parametrize("target", ["missing/report.html", "."])
def test_output_that_cannot_be_written_is_one_line_and_exit_2(tmp_path, target):
    spec = write_spec(tmp_path, (SPECS / "lenet5.yaml").read_text())
    path = target if target.startswith("/") else str(tmp_path / target)
    result = invoke("report", str(spec), "-o", path)
    assert result.exit_code == 2 and "cannot write" in result.stderr, result.output + result.stderr
    assert sorted(os.listdir(tmp_path)) == ["spec.yaml"]


def _device(tmp_path, name: str, minor: int) -> str:
    """A character device of its own (1, minor: null 3, full 7) where this process may make
    one (root), else the system's: a mistake then replaces a copy, not /dev/full."""
    path = tmp_path / name
    try:
        os.mknod(path, 0o666 | stat.S_IFCHR, os.makedev(1, minor))
    except PermissionError:
        return f"/dev/{name}"
    return str(path)


def test_a_device_is_written_into_not_replaced(tmp_path):
    """As root, a rename would put a file where /dev/full was."""
    spec = write_spec(tmp_path, (SPECS / "lenet5.yaml").read_text())
    full, null = _device(tmp_path, "full", 7), _device(tmp_path, "null", 3)
    result = invoke("report", str(spec), "-o", full)
    assert result.exit_code == 2 and "No space left on device" in result.stderr, result.output + result.stderr
    assert invoke("report", str(spec), "-o", null).exit_code == 0
    assert all(stat.S_ISCHR(os.stat(device).st_mode) for device in (full, null))
    assert not [name for name in os.listdir(tmp_path) if name.startswith(".cnncalc-")]


@pytest.mark.parametrize("args, words", [(["--input", "3,H,W"], "give the symbolic sizes numbers"),
                                         (["--input", "3,32..64..32"], ""), (["--depth", "0"], ""),
                                         (["--set", "nosuch=3"], "")])
def test_misuse_is_refused_with_exit_2(args, words):
    result = invoke("report", str(SPECS / "lenet5.yaml"), *args)
    assert result.exit_code == 2 and words in result.stderr, result.output + result.stderr
    assert result.stdout == "" and "Traceback" not in result.output + result.stderr


@settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
@given(case=report_case(process_share=20))
def test_fuzz_cases(tmp_path_factory, case):
    """tests/fuzz_report.py's cases through the fuzz runner and judge: exit 0, 1 or 2, no
    traceback, no control character, bounded time and memory."""
    outcome = run_case(case, str(tmp_path_factory.mktemp("fuzz")))
    assert not outcome.failures, f"{case!r} -> {outcome.status}: {outcome.failures}"


@settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
@given(case=report_case(process_share=0))
def test_hostile_reports_lose_nothing(tmp_path_factory, case):
    """Whatever the spec and flags: exit 0 or 2 without a traceback; the spec byte for byte
    as it was; no temporary file left; -o either the whole page or untouched."""
    found = run_report(case, str(tmp_path_factory.mktemp("hostile")))
    assert not found, f"{case!r}: {found}"
