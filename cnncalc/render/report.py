"""A Summary as one self-contained HTML page (`cnncalc report`): the totals `summary`
prints, the diagram as inline SVG (render/diagram.py's), a table of the layers that sorts
by any column, the receptive fields (--rf), and what each figure counts.

Nothing is fetched when the page opens: its CSS, script and SVG are inline, and its
Content-Security-Policy forbids any other source. Every text from the spec goes through
errors.safe (control characters written visibly) and html.escape."""
from __future__ import annotations

from html import escape

from ..diagnostics import UsageError, safe
from ..layers.base import shape_str
from . import exact
from .summary import FIELD_HEADERS, field_cells, field_notes, shape_cell, totals_lines


def report(summary, depth: int | None = None, rf: bool = False) -> str:
    """The page of `summary`: its layers, or with `depth` the rows `summary --depth` folds
    them into (the diagram folds alike); with `rf`, each row's receptive field."""
    from ..diagram import diagram
    from ..views import Views
    from .diagram import FORMATS

    if summary.symbolic:
        raise UsageError("report shows one network: give the symbolic sizes numbers",
                         hint="e.g. --input 3,224,224 or --set H=224")
    views = Views(depth=depth, rf=rf)
    rows, fields = views.rows(summary), views.fields(summary)
    try:
        svg = FORMATS["svg"](diagram(summary, depth))
    except UsageError as error:  # too big to lay out: the page holds the rest, and says why not
        svg = f'<p class="note">Not drawn: {_text(error.message)}. Fold blocks with --depth N to draw it.</p>'
    return to_html(summary, rows, svg, fields)


def _text(value) -> str:
    """Spec text for HTML: control characters visible, then escaped (quotes too: attributes)."""
    return escape(safe(value), quote=True)


def to_html(summary, rows: list, svg: str, fields=None) -> str:
    """The page: `rows` in the table, `svg` (the diagram, or a note saying why there is
    none) beside it, `fields` (receptive.RowFields) in the table's last columns."""
    name = _text(summary.name)
    batch = f"batch {summary.batch}"
    subtitle = (f"input {shape_str(summary.input_shape)} → output {shape_str(summary.output_shape)} · "
                f"{len(summary.layers):,} layers · {summary.dtype} · {batch}")
    return "\n".join([
        "<!DOCTYPE html>",
        '<html lang="en">',
        "<head>",
        '<meta charset="utf-8">',
        # nothing but what is inline: the page cannot fetch anything, whatever it holds
        "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; "
        "style-src 'unsafe-inline'; script-src 'unsafe-inline'; img-src data:\">",
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{name} · cnncalc report</title>",
        f"<style>{STYLE}</style>",
        "</head>",
        "<body>",
        "<header>",
        f"<h1>{name}</h1>",
        f'<p class="subtitle">{_text(subtitle)}</p>',
        "</header>",
        "<main>",
        '<section aria-labelledby="totals-title">',
        '<h2 id="totals-title">Totals</h2>',
        '<dl class="totals">',
        *(f'<div><dt>{_text(label.strip())}</dt><dd>{_text(value)}</dd></div>'
          for label, value in totals_lines(summary)),
        "</dl>",
        "</section>",
        '<div class="views">',
        '<section aria-labelledby="diagram-title">',
        '<h2 id="diagram-title">Diagram</h2>',
        '<p class="hint">Hover or click a node to find its row.</p>',
        f'<div class="diagram">\n{svg.strip()}\n</div>',
        "</section>",
        '<section aria-labelledby="layers-title">',
        '<h2 id="layers-title">Layers</h2>',
        '<p class="hint">Click a header to sort by its column, again to reverse; click a row to find its node.</p>',
        *_table(summary, rows, fields),
        "</section>",
        "</div>",
        '<section aria-labelledby="conventions-title">',
        '<h2 id="conventions-title">What each figure counts</h2>',
        f"<p>{CONVENTIONS}</p>",
        *([f"<p>{RF_CONVENTIONS}</p>"] if fields is not None else []),
        "</section>",
        "</main>",
        f"<footer>Made by cnncalc {_version()}</footer>",
        f"<script>{SCRIPT}</script>",
        "</body>",
        "</html>",
    ]) + "\n"


def _version() -> str:
    from .. import __version__

    return __version__


NUMBERS = ("Params", "MACs", "FLOPs")
FIGURES = ("params", "macs", "flops")  # the rows' attributes under those headers


def _table(summary, rows: list, fields) -> list:
    headers = [("Layer", "text"), ("Type", "text"), ("Output shape", "text"), *((h, "number") for h in NUMBERS)]
    headers += [(h, "number") for h in FIELD_HEADERS] if fields is not None else []
    head = "".join(f'<th scope="col" data-kind="{kind}" aria-sort="none"><button type="button">{h}</button></th>'
                   for h, kind in headers)
    lines = ['<div class="table">', '<table class="layers">', f"<thead><tr>{head}</tr></thead>", "<tbody>"]
    totals = summary.totals
    largest = [max((getattr(row, figure) for row in rows), default=0) for figure in FIGURES]
    for index, row in enumerate(rows):
        cells = [f'<th scope="row" class="name">{_text(row.name)}</th>', f'<td class="type">{_text(row.type)}</td>',
                 f'<td class="shape">{shape_cell(row.output_shape)}</td>',
                 *(_number(getattr(row, figure), getattr(totals, figure), most, label)
                   for figure, most, label in zip(FIGURES, largest, NUMBERS))]
        if fields is not None:
            cells += [_field_cell(text) for text in field_cells(fields.rows[index], fields.axes)]
        lines.append(f'<tr data-name="{_text(row.name)}" data-index="{index}">{"".join(cells)}</tr>')
    lines += ["</tbody>", "</table>", "</div>"]
    if fields is not None:
        lines += [f'<p class="note">{_text(note)}</p>' for note in field_notes(rows, fields)]
    return lines


def _number(value: int, total: int, largest: int, label: str) -> str:
    """A figure, exact; under it a bar, as long as the figure is against the largest row's,
    and its share of the network's total when the pointer rests on it."""
    if not value:
        return f'<td data-value="0" class="zero">{exact(value)}</td>'
    return (f'<td data-value="{value}" style="--bar-length:{100 * value / largest:.1f}%" '
            f'title="{100 * value / total:.2f}% of the network\'s {label}">{exact(value)}</td>')


def _field_cell(text: str) -> str:
    """A receptive-field figure as `summary --rf` shows it; sortable where it is one integer."""
    number = text.rstrip("*")
    value = f' data-value="{number}"' if number.lstrip("-").isdigit() else ""
    return f"<td{value}>{_text(text)}</td>"


CONVENTIONS = (
    "Shapes are per sample, channels first, without the batch axis. "
    "<b>Params</b> are the elements of the tensors PyTorch's <code>module.parameters()</code> would hold, "
    "trainable unless the spec says <code>trainable: false</code>; "
    "<b>buffers</b> are normalisation's running statistics, stored but not trained. "
    "<b>MACs</b> are the multiply-accumulates of weighted sums (convolutions, linear layers, RBF units), "
    "biases excluded: what papers often quote as FLOPs. "
    "<b>FLOPs</b> are every floating-point operation at inference: 2 per MAC, plus bias additions and the "
    "operations of normalisation, activation, pooling and merges. "
    "MACs, FLOPs and activation memory are for the batch shown. "
    "<b>Parameter memory</b> is (params + buffers) × the dtype's bytes; <b>activation memory</b> holds every "
    "layer's output (not the input); units are decimal (1 MB = 10<sup>6</sup> bytes). "
    "The bar under a figure is its size against the largest row's; the pointer on it shows its share of the "
    "network's total. "
    "A folded row (<code>--depth</code>) is a block instance: the sums of its layers, its last layer's shape.")

RF_CONVENTIONS = (
    "<b>RF</b> is the receptive field: how many input positions along each spatial axis one output position "
    "reads; <b>Jump</b> the input distance between neighbouring output positions; <b>Offset</b> the input "
    "position of output position 0's first input. One value where every axis has the same, else one per axis; "
    "<code>-</code> where a row has none.")

STYLE = """
:root { color-scheme: light dark; --bg: #fbfbfd; --fg: #1d1d22; --muted: #62626e; --panel: #ffffff;
  --line: #dcdce4; --accent: #2f6fde; --accent-soft: rgba(47, 111, 222, 0.14); --bar: rgba(47, 111, 222, 0.55);
  --stripe: rgba(0, 0, 0, 0.025); }
@media (prefers-color-scheme: dark) {
  :root { --bg: #15161a; --fg: #e6e6ec; --muted: #9d9daa; --panel: #1d1f25; --line: #33353f;
    --accent: #6ea2ff; --accent-soft: rgba(110, 162, 255, 0.2); --bar: rgba(110, 162, 255, 0.6);
    --stripe: rgba(255, 255, 255, 0.03); }
}
* { box-sizing: border-box; }
body { margin: 0; background: var(--bg); color: var(--fg); line-height: 1.5;
  font: 15px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", sans-serif; }
header, main, footer { max-width: 1480px; margin: 0 auto; padding: 0 24px; }
header { padding-top: 28px; }
h1 { margin: 0; font-size: 28px; letter-spacing: -0.01em; overflow-wrap: anywhere; }
h2 { font-size: 18px; margin: 32px 0 10px; }
.subtitle, .hint, .note, footer { color: var(--muted); }
.subtitle { margin: 4px 0 0; font-variant-numeric: tabular-nums; }
.hint { margin: -4px 0 10px; font-size: 13px; }
.note { font-size: 13px; margin: 6px 0; }
footer { font-size: 13px; padding-top: 24px; padding-bottom: 32px; }
code { font: 0.92em ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; }
.totals { display: grid; grid-template-columns: repeat(2, minmax(0, 1fr)); gap: 10px; margin: 0; }
@media (min-width: 900px) { .totals { grid-template-columns: repeat(4, minmax(0, 1fr)); } }
.totals div { background: var(--panel); border: 1px solid var(--line); border-radius: 10px; padding: 10px 14px; }
.totals dt { color: var(--muted); font-size: 13px; }
.totals dd { margin: 2px 0 0; font-size: 17px; font-weight: 600; font-variant-numeric: tabular-nums;
  overflow-wrap: anywhere; }
.views { display: grid; grid-template-columns: minmax(0, 1fr); gap: 0 24px; }
@media (min-width: 1100px) { .views { grid-template-columns: minmax(0, 2fr) minmax(0, 3fr); } }
.diagram { background: var(--panel); border: 1px solid var(--line); border-radius: 10px; padding: 12px;
  overflow: auto; max-height: 80vh; }
.diagram svg { display: block; margin: 0 auto; max-width: none; height: auto; }
.diagram g.node { cursor: pointer; }
.diagram g.node.lit rect { stroke: var(--accent); stroke-width: 3px; }
.diagram g.node.lit { filter: drop-shadow(0 0 5px var(--accent)); }
@media (prefers-color-scheme: dark) {  /* the diagram's own light colours, turned dark, hues kept */
  .diagram { background: #1a1a1a; }  /* what the filter makes of the diagram's white */
  .diagram svg { filter: invert(0.9) hue-rotate(180deg); }
}
.table { overflow: auto; max-height: 80vh; border: 1px solid var(--line); border-radius: 10px;
  background: var(--panel); }
table { border-collapse: collapse; width: 100%; font-variant-numeric: tabular-nums; font-size: 14px; }
thead th { position: sticky; top: 0; z-index: 1; background: var(--panel); border-bottom: 1px solid var(--line);
  text-align: left; padding: 0; white-space: nowrap; }
thead th button { all: unset; cursor: pointer; display: block; padding: 9px 12px; font-weight: 600; }
thead th button:focus-visible { outline: 2px solid var(--accent); outline-offset: -2px; }
thead th[data-kind="number"] button { text-align: right; }
thead th[aria-sort="ascending"] button::after { content: " ▲"; color: var(--accent); }
thead th[aria-sort="descending"] button::after { content: " ▼"; color: var(--accent); }
tbody tr { cursor: pointer; }
tbody tr:nth-child(even) { background: var(--stripe); }
tbody tr:hover, tbody tr.lit { background: var(--accent-soft); }
tbody th, tbody td { padding: 5px 12px; border-top: 1px solid var(--line); white-space: nowrap; font-weight: 400;
  text-align: left; }
tbody th.name { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; font-size: 13px; }
tbody td.type { color: var(--accent); }
tbody td[data-value] { text-align: right; }
tbody td[style] { background: linear-gradient(var(--bar), var(--bar)) no-repeat right 4px bottom 3px / calc(var(--bar-length) - 8px) 3px; }
tbody td.zero { color: var(--muted); }
"""

SCRIPT = r"""
(() => {
  "use strict";
  const table = document.querySelector("table.layers");
  const body = table.tBodies[0];
  const heads = Array.from(table.tHead.rows[0].cells);
  const compareValues = (a, b) => {  // exact integers: BigInt, which any size fits
    const x = BigInt(a), y = BigInt(b);
    return x < y ? -1 : x > y ? 1 : 0;
  };
  const sortBy = (column, direction) => {
    const kind = heads[column].dataset.kind;
    const rows = Array.from(body.rows);
    const order = (row) => Number(row.dataset.index);
    rows.sort((a, b) => {
      const p = a.cells[column], q = b.cells[column];
      let result;
      if (kind === "number" && "value" in p.dataset && "value" in q.dataset) {
        result = compareValues(p.dataset.value, q.dataset.value) * direction;
      } else if (kind === "number" && ("value" in p.dataset) !== ("value" in q.dataset)) {
        result = "value" in p.dataset ? -1 : 1;  // a row without the figure comes last, either way
      } else {
        result = p.textContent.localeCompare(q.textContent, undefined, {numeric: true}) * direction;
      }
      return result || order(a) - order(b);  // ties keep the network's order
    });
    body.append(...rows);
    heads.forEach((head, index) => head.setAttribute("aria-sort",
      index !== column ? "none" : direction > 0 ? "ascending" : "descending"));
  };
  heads.forEach((head, column) => head.addEventListener("click", () => {
    const current = head.getAttribute("aria-sort");
    // first click: figures largest first, text A to Z; a second click reverses
    const direction = current === "descending" ? 1 : current === "ascending" ? -1
      : head.dataset.kind === "number" ? -1 : 1;
    sortBy(column, direction);
  }));

  const nodes = new Map();
  document.querySelectorAll(".diagram g.node").forEach((node) => nodes.set(node.dataset.name, node));
  const rowsByName = new Map();
  Array.from(body.rows).forEach((row) => rowsByName.set(row.dataset.name, row));
  let lit = [];
  const light = (name, scroll) => {
    lit.forEach((element) => element.classList.remove("lit"));
    lit = [nodes.get(name), rowsByName.get(name)].filter(Boolean);
    lit.forEach((element) => element.classList.add("lit"));
    if (scroll) scroll.scrollIntoView({block: "nearest", inline: "nearest", behavior: "smooth"});
  };
  body.addEventListener("mouseover", (event) => {
    const row = event.target.closest("tr");
    if (row) light(row.dataset.name, null);
  });
  body.addEventListener("click", (event) => {
    const row = event.target.closest("tr");
    if (row) light(row.dataset.name, nodes.get(row.dataset.name));
  });
  nodes.forEach((node, name) => {
    node.addEventListener("mouseenter", () => light(name, null));
    node.addEventListener("click", () => light(name, rowsByName.get(name)));
  });
})();
"""
