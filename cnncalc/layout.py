"""Where to draw a Diagram's nodes, clusters and edges, top to bottom (`cnncalc diagram
--format svg` without Graphviz): pure geometry, no drawing.

A layered (Sugiyama) layout. Ranks by the longest path from the input; a dummy point on
every rank an edge passes; barycenter sweeps against crossings. Then x coordinates: boxes
linked one below the other (a chain, the points of a long edge) share a column and so
stand straight; every separation is a constraint x[b] >= x[a] + gap, met by packing each
column toward its neighbours' mean from the left and from the right and taking the mean.

Clusters (block instances) stay rectangles holding exactly their members: within each rank
a cluster's items are contiguous, sibling clusters keep one left-to-right order on every
rank, and a cluster with no item on a rank of its span gets an empty filler there, so that
its borders are constrained on every rank it covers. The work grows with the boxes and
edge points, which MAX_ITEMS bounds; nothing is worse than quadratic in them."""
from __future__ import annotations

from bisect import bisect_left, bisect_right, insort
from collections import deque
from typing import NamedTuple

from .diagnostics import UsageError

MAX_ITEMS = 20_000  # boxes and edge points: about 2 s of layout
ROW_GAP = 34  # vertical room between two ranks, besides the borders of clusters
NODE_GAP = 22  # horizontal room between two boxes
DUMMY_WIDTH = 8  # the room an edge takes where it passes a rank
PAD = 10  # a cluster's border around its contents
MARGIN = 12
SWEEPS = 6  # barycenter sweeps (down and up) against crossings
ROUNDS = 4  # rounds pulling items toward their neighbours, downwards and upwards in turn (two settle it)


class Box(NamedTuple):
    x: float  # left
    y: float  # top
    width: float
    height: float


class Layout(NamedTuple):
    """The picture's size and where everything in it goes, in pixels from its top left."""

    width: float
    height: float
    nodes: dict  # node name -> Box
    clusters: dict  # cluster name -> Box, outer clusters before the ones they hold
    labels: dict  # cluster name -> (x, y): the top left of its label, where no edge passes if it can
    edges: list  # per Diagram edge, its route: [(x, y), ...] from the source's bottom to the target's top
    crossings: int  # edge crossings between adjacent ranks


class _Items:
    """What sits on the ranks: the nodes (first, in Diagram order), the dummy points of long
    edges and the fillers of clusters; each with its rank, cluster path, size and neighbours."""

    def __init__(self):
        self.rank, self.path, self.width, self.height, self.up, self.down = [], [], [], [], [], []

    def add(self, rank: int, path: tuple, width: float, height: float) -> int:
        for column, value in ((self.rank, rank), (self.path, path), (self.width, width), (self.height, height),
                              (self.up, []), (self.down, [])):
            column.append(value)
        return len(self.rank) - 1


def layout(drawn, node_size, label_size) -> Layout:
    """The geometry of `drawn`; `node_size(node)` and `label_size(cluster)` give (width, height).
    Refuses (UsageError) a drawing of over MAX_ITEMS boxes and edge points: the work grows
    with them, and an edge over many ranks (a layer reading the input at the end of a long
    chain) has a point on each."""
    ranks = _ranks(drawn)
    index = {node.name: i for i, node in enumerate(drawn.nodes)}
    points = sum(ranks[index[b]] - ranks[index[a]] - 1 for a, b in drawn.edges)
    if len(drawn.nodes) + points > MAX_ITEMS:
        raise UsageError(f"too big to lay out as SVG: {len(drawn.nodes):,} boxes and {points:,} points where edges "
                         f"pass ranks (at most {MAX_ITEMS:,} in all)",
                         hint="fold blocks with --depth N, or draw it with --format dot (Graphviz) or mermaid")
    paths = _cluster_paths(drawn)
    span = {}  # cluster -> (first rank, last rank) of its member nodes
    for node, rank in zip(drawn.nodes, ranks):
        for name in node.cluster:
            low, high = span.get(name, (rank, rank))
            span[name] = (min(low, rank), max(high, rank))
    items = _Items()
    for node, rank in zip(drawn.nodes, ranks):
        items.add(rank, tuple(node.cluster), *node_size(node))
    chains = [_chain(items, index[a], index[b], span) for a, b in drawn.edges]
    _fill(items, paths, span)
    rows = _order(items, paths, len(drawn.nodes))
    crossings = _crossings(rows, items)
    labels = {cluster.name: label_size(cluster) for cluster in drawn.clusters}
    x = _x_positions(items, rows, paths, labels)
    return _geometry(drawn, items, rows, x, chains, paths, span, labels, crossings)


def _ranks(drawn) -> list:
    """Each node's rank: the longest path to it from a node without inputs."""
    index = {node.name: i for i, node in enumerate(drawn.nodes)}
    successors = [[] for _ in drawn.nodes]
    waiting = [0] * len(drawn.nodes)
    for a, b in drawn.edges:
        successors[index[a]].append(index[b])
        waiting[index[b]] += 1
    rank = [0] * len(drawn.nodes)
    ready = deque(i for i, count in enumerate(waiting) if not count)
    while ready:
        i = ready.popleft()
        for j in successors[i]:
            rank[j] = max(rank[j], rank[i] + 1)
            waiting[j] -= 1
            if not waiting[j]:
                ready.append(j)
    if any(waiting):
        raise ValueError("the diagram has a cycle")
    return rank


def _cluster_paths(drawn) -> dict:
    """Each cluster's path: the names of the clusters holding it and its own, outermost first."""
    parent = {cluster.name: cluster.parent for cluster in drawn.clusters}
    paths = {}
    for cluster in drawn.clusters:
        path, name = [], cluster.name
        while name is not None:
            path.append(name)
            name = parent[name]
        paths[cluster.name] = tuple(reversed(path))
    return paths


def _chain(items: _Items, source: int, target: int, span: dict) -> list:
    """The items an edge passes: its source, one dummy per rank between, its target. A dummy
    stays inside the clusters of its ends whose spans cover its rank (the source's first)."""
    chain = [source]
    start, end = items.path[source], items.path[target]
    for rank in range(items.rank[source] + 1, items.rank[target]):
        path = _prefix(start, lambda name: span[name][1] >= rank)  # outer spans hold inner ones
        if tuple(path) == end[:len(path)]:  # no deeper than the clusters both ends share
            path += _prefix(end[len(path):], lambda name: span[name][0] <= rank)
        chain.append(items.add(rank, tuple(path), DUMMY_WIDTH, 0))
    chain.append(target)
    for above, below in zip(chain, chain[1:]):
        items.down[above].append(below)
        items.up[below].append(above)
    return chain


def _prefix(names, keep) -> list:
    """The first of `names` that `keep` holds true, up to the first it does not."""
    out = []
    for name in names:
        if not keep(name):
            break
        out.append(name)
    return out


def _fill(items: _Items, paths: dict, span: dict) -> None:
    """A filler for each cluster on each rank of its span where nothing of it sits, innermost first."""
    present = {(name, rank) for i, rank in enumerate(items.rank) for name in items.path[i]}
    for name in sorted(paths, key=lambda n: -len(paths[n])):
        low, high = span[name]
        for rank in range(low, high + 1):
            if (name, rank) not in present:
                items.add(rank, paths[name], 0, 0)
                present.update((outer, rank) for outer in paths[name])


def _order(items: _Items, paths: dict, nodes: int) -> list:
    """Each rank's items, left to right: clusters contiguous, fewest crossings found."""
    key = [float(i) for i in range(nodes)]
    for i in range(nodes, len(items.rank)):  # a dummy follows its source; a filler its cluster
        key.append(key[items.up[i][0]] + 0.5 if items.up[i] else float(nodes))
    cluster_key = {name: (float(k), k) for k, name in enumerate(paths)}
    rows = [[] for _ in range(max(items.rank) + 1)]
    for i in sorted(range(len(key)), key=key.__getitem__):
        rows[items.rank[i]].append(i)
    rows = [_arrange(row, key, items.path, cluster_key) for row in rows]
    best, fewest = [list(row) for row in rows], _crossings(rows, items)
    position = _positions(rows, len(key))
    for _ in range(SWEEPS if fewest else 0):
        for sweep, neighbours in ((range(1, len(rows)), items.up), (range(len(rows) - 2, -1, -1), items.down)):
            for r in (r for r in sweep if len(rows[r]) > 1):
                keys = {i: _mean([position[n] for n in neighbours[i]], position[i]) for i in rows[r]}
                rows[r] = _arrange(rows[r], keys, items.path, cluster_key)
                for p, i in enumerate(rows[r]):
                    position[i] = float(p)
        spread: dict = {}
        for i, path in enumerate(items.path):
            for name in path:
                spread.setdefault(name, []).append(position[i] / max(1, len(rows[items.rank[i]]) - 1))
        cluster_key = {name: (_mean(spread[name], 0.0), k) for k, name in enumerate(paths)}
        count = _crossings(rows, items)
        if count < fewest:
            best, fewest = [list(row) for row in rows], count
        if not fewest:
            break
    return best


def _mean(values: list, default: float) -> float:
    return sum(values) / len(values) if values else default


def _positions(rows: list, count: int) -> list:
    """Each item's place in its rank, from the left."""
    position = [0.0] * count
    for row in rows:
        for p, i in enumerate(row):
            position[i] = float(p)
    return position


def _arrange(row: list, key, path: list, cluster_key: dict) -> list:
    """`row` sorted by `key` within each cluster, each cluster contiguous (at the mean key of
    its items), sibling clusters in their one order (`cluster_key`) on every rank."""

    def place(level: int, members: list) -> list:
        groups: dict = {}
        entries = []
        for i in members:
            if len(path[i]) == level:
                entries.append((key[i], False, i))
            else:
                groups.setdefault(path[i][level], []).append(i)
        entries += [(_mean([key[i] for i in group], 0.0), True, name) for name, group in groups.items()]
        entries.sort(key=lambda entry: entry[0])
        slots = [k for k, entry in enumerate(entries) if entry[1]]
        for k, entry in zip(slots, sorted((entries[k] for k in slots), key=lambda e: cluster_key[e[2]])):
            entries[k] = entry
        out = []
        for _, is_cluster, what in entries:
            out += place(level + 1, groups[what]) if is_cluster else [what]
        return out

    return place(0, row)


def _crossings(rows: list, items: _Items) -> int:
    """Pairs of edge segments that cross between adjacent ranks."""
    position = _positions(rows, len(items.rank))
    count = 0
    for row in rows:
        segments = sorted((position[i], position[j]) for i in row for j in items.down[i])
        seen: list = []
        for _, below in segments:
            count += len(seen) - bisect_right(seen, below)
            insort(seen, below)
    return count


def _x_positions(items: _Items, rows: list, paths: dict, labels: dict) -> list:
    """Each item's centre x, then each cluster's left and right border (variables n + 2k,
    n + 2k + 1): every separation holds, and each item sits near its neighbours' mean."""
    n = len(items.rank)
    border = {name: n + 2 * k for k, name in enumerate(paths)}
    constraints = []  # (a, b, gap): x[b] >= x[a] + gap
    for i, path in enumerate(items.path):
        if path:
            half = items.width[i] / 2
            constraints += [(border[path[-1]], i, PAD + half), (i, border[path[-1]] + 1, PAD + half)]
    for name, path in paths.items():
        left = border[name]
        constraints.append((left, left + 1, labels[name][0] + 2 * PAD))
        if len(path) > 1:
            outer = border[path[-2]]
            constraints += [(outer, left, PAD), (left + 1, outer + 1, PAD)]
    for row in rows:
        for a, b in zip(row, row[1:]):
            constraints.append(_separation(a, b, items, border))
    count = n + 2 * len(paths)
    try:  # each chain one variable: straight; unless the chains contradict the orders (a crossing)
        column = _columns(items, rows) + list(range(n, count))
        separations = _Separations(count, [(column[a], column[b], gap) for a, b, gap in constraints])
    except ValueError:
        column = list(range(count))
        separations = _Separations(count, constraints)
    members: list = [[] for _ in range(count)]
    for v, c in enumerate(column):
        members[c].append(v)
    x = [0.0] * count
    for round_ in range(ROUNDS):
        wish = _wishes(x, rows, (items.up, items.down)[round_ % 2], round_ % 2 == 0)
        placed = separations.pack([_mean([wish[v] for v in group], 0.0) for group in members])
        x = [placed[c] for c in column]
        _tighten(x, items, paths, border, labels)
    return x


def _columns(items: _Items, rows: list) -> list:
    """Each item's column: items linked one below the other share it (and so one x). A link
    joins an item to the middle one of its neighbours below (when they are odd in number, or
    a box and a passing edge: the box), if that one has it as the middle one of its
    neighbours above, in the same clusters, crossing no other link: boxes to boxes first,
    then the points of edges."""
    n = len(items.rank)
    position = _positions(rows, n)
    below: list = [None] * n
    above: list = [None] * n
    links: dict = {}  # rank -> (position above, position below) of each link down from it, in order
    for boxes_only in (True, False):
        def middle(i, neighbours, linked):
            free = sorted((j for j in neighbours[i] if linked[j] is None and items.path[j] == items.path[i]),
                          key=position.__getitem__)
            boxes = [j for j in free if items.height[j]]
            if len(free) % 2:
                chosen = free[len(free) // 2]
            elif len(free) == 2 and len(boxes) == 1:  # a box and an edge passing by (a skip): the box
                chosen = boxes[0]
            else:
                return None
            return chosen if items.height[chosen] or not boxes_only else None

        for row in rows:
            for u in row:
                if below[u] is not None or (boxes_only and not items.height[u]):
                    continue
                v = middle(u, items.down, above)
                if v is None or middle(v, items.up, below) != u:
                    continue
                here = links.setdefault(items.rank[u], [])  # sorted, and crossing none: by either end
                k = bisect_right(here, (position[u], position[v]))
                if (not k or here[k - 1][1] < position[v]) and (k == len(here) or here[k][1] > position[v]):
                    here.insert(k, (position[u], position[v]))
                    below[u], above[v] = v, u
    column = [0] * n
    for i in sorted(range(n), key=items.rank.__getitem__):
        column[i] = column[above[i]] if above[i] is not None else i
    return column


def _separation(a: int, b: int, items: _Items, border: dict) -> tuple:
    """The constraint between neighbours `a` and `b` on a rank, at the level where their
    cluster paths part: a right border or `a`'s edge, then a gap, then a left border or `b`'s edge."""
    first, second = items.path[a], items.path[b]
    level = 0
    while level < min(len(first), len(second)) and first[level] == second[level]:
        level += 1
    gap = (NODE_GAP if items.height[a] else DUMMY_WIDTH) / 2 + (NODE_GAP if items.height[b] else DUMMY_WIDTH) / 2
    left, offset = (border[first[level]] + 1, 0.0) if len(first) > level else (a, items.width[a] / 2)
    right, extra = (border[second[level]], 0.0) if len(second) > level else (b, items.width[b] / 2)
    return left, right, offset + gap + extra


class _Separations:
    """Constraints x[b] >= x[a] + gap, each as (a, b, gap), and an order of the variables
    that puts every `a` before its `b` (they come from left-to-right orders: no cycle)."""

    def __init__(self, count: int, constraints: list):
        self.before = [[] for _ in range(count)]
        self.after = [[] for _ in range(count)]
        for a, b, gap in constraints:
            self.before[b].append((a, gap))
            self.after[a].append((b, gap))
        waiting = [len(before) for before in self.before]
        ready = deque(v for v in range(count) if not waiting[v])
        self.order = []
        while ready:
            v = ready.popleft()
            self.order.append(v)
            for w, _ in self.after[v]:
                waiting[w] -= 1
                if not waiting[w]:
                    ready.append(w)
        if len(self.order) != count:
            raise ValueError("the layout's separations contradict each other")

    def pack(self, wish: list) -> list:
        """The mean of two placements that meet every constraint: each variable at its wish
        or pushed right of what must be left of it; and at its wish or pushed left."""
        right, left = list(wish), list(wish)
        for v in self.order:
            for a, gap in self.before[v]:
                if right[a] + gap > right[v]:
                    right[v] = right[a] + gap
        for v in reversed(self.order):
            for b, gap in self.after[v]:
                if left[b] - gap < left[v]:
                    left[v] = left[b] - gap
        return [(r + l) / 2 for r, l in zip(right, left)]


def _wishes(x: list, rows: list, neighbours: list, downwards: bool) -> list:
    """Where each item would like to be: at the mean of its neighbours above (rank by rank
    downwards, each following the wishes just made above it) or below (upwards); so that a
    chain follows its head in one round. Borders stay."""
    wish = list(x)
    for row in rows if downwards else reversed(rows):
        for i in row:
            if neighbours[i]:
                wish[i] = _mean([wish[j] for j in neighbours[i]], x[i])
    return wish


def _tighten(x: list, items: _Items, paths: dict, border: dict, labels: dict) -> None:
    """Each cluster's borders drawn in around its contents, innermost first, no narrower than
    its label; a placement that meets every constraint still does (a cluster only shrinks)."""
    low = {name: float("inf") for name in paths}
    high = {name: float("-inf") for name in paths}
    for i, path in enumerate(items.path):
        if path:
            low[path[-1]] = min(low[path[-1]], x[i] - items.width[i] / 2 - PAD)
            high[path[-1]] = max(high[path[-1]], x[i] + items.width[i] / 2 + PAD)
    for name in sorted(paths, key=lambda c: -len(paths[c])):
        left, right = low[name], high[name]
        width = labels[name][0] + 2 * PAD
        if right - left < width:  # as wide as the label, within the borders it had
            left = max(x[border[name]], right - width)
            right = left + width
        x[border[name]], x[border[name] + 1] = left, right
        if len(paths[name]) > 1:
            outer = paths[name][-2]
            low[outer], high[outer] = min(low[outer], left - PAD), max(high[outer], right + PAD)


def _geometry(drawn, items: _Items, rows: list, x: list, chains: list, paths: dict, span: dict, labels: dict,
              crossings: int) -> Layout:
    """Rows one below the other, each as tall as its tallest box and apart by the borders of
    the clusters that close above and open below; boxes, clusters, edges and labels in them."""
    n = len(items.rank)
    border = {name: n + 2 * k for k, name in enumerate(paths)}
    inner: dict = {}
    for name, path in paths.items():
        if len(path) > 1:
            inner.setdefault(path[-2], []).append(name)
    above: dict = {}  # cluster -> room it takes above its first rank's row (its label, its inner clusters')
    below: dict = {}
    opening, closing = [0.0] * len(rows), [0.0] * len(rows)  # the most any cluster takes above, below a row
    for name in sorted(paths, key=lambda c: -len(paths[c])):
        low, high = span[name]
        above[name] = PAD + labels[name][1] + max([above[c] for c in inner.get(name, []) if span[c][0] == low] or [0])
        below[name] = PAD + max([below[c] for c in inner.get(name, []) if span[c][1] == high] or [0])
        opening[low], closing[high] = max(opening[low], above[name]), max(closing[high], below[name])
    top, height = [], []
    y = MARGIN
    for r, row in enumerate(rows):
        top.append(y + opening[r])
        height.append(max([items.height[i] for i in row] or [0]))
        y = top[-1] + height[-1] + closing[r] + ROW_GAP
    shift = MARGIN - min([x[i] - items.width[i] / 2 for i in range(n)] + x[n:])
    boxes = {}
    for i, node in enumerate(drawn.nodes):
        r = items.rank[i]
        boxes[node.name] = Box(x[i] - items.width[i] / 2 + shift, top[r] + (height[r] - items.height[i]) / 2,
                               items.width[i], items.height[i])
    clusters = {}
    for name in paths:
        left, right = x[border[name]] + shift, x[border[name] + 1] + shift
        low, high = span[name]
        clusters[name] = Box(left, top[low] - above[name], right - left,
                             top[high] + height[high] + below[name] - top[low] + above[name])
    routes = _routes(drawn, items, chains, x, shift, boxes, top, height)
    width = max([x[i] + items.width[i] / 2 for i in range(n)] + x[n:]) + shift + MARGIN
    arriving: dict = {}  # rank -> points along the curves from the row above down to it (a label's band lies there)
    for chain, route in zip(chains, routes):
        for k, item in enumerate(chain[1:]):
            arriving.setdefault(items.rank[item], []).extend(_samples(route[2 * k], route[2 * k + 1]))
    for points in arriving.values():
        points.sort()
    places = {name: _label_place(clusters[name], labels[name], arriving.get(span[name][0], [])) for name in paths}
    return Layout(width, y - ROW_GAP + MARGIN, boxes, clusters, places, routes, crossings)


def _label_place(box: Box, size: tuple, points: list) -> tuple:
    """Where a cluster's label goes in the band along its top: at the left, or else just right
    or left of where an edge crosses the band (`points` along the edges, sorted), or at the right;
    the first place no edge crosses."""
    top, bottom, first, last = box.y, box.y + PAD + size[1], box.x + PAD, box.x + box.width - PAD - size[0]
    blocked: list = []  # [left, right] of what the edges take of the band, merged, left to right
    near = points[bisect_left(points, (first - 3,)):bisect_right(points, (last + size[0] + 3, bottom))]
    for x in [x for x, y in near if top <= y <= bottom]:
        if blocked and x - 3 <= blocked[-1][1]:
            blocked[-1][1] = x + 3
        else:
            blocked.append([x - 3, x + 3])
    rights = [right for _, right in blocked]
    for x in [first, *rights, *(left - size[0] for left, _ in blocked), last]:
        k = bisect_right(rights, x)  # the first blocked interval ending right of x
        if first <= x <= last and (k == len(blocked) or blocked[k][0] >= x + size[0]):
            return x, top + PAD / 2
    return first, top + PAD / 2


def controls(p: tuple, q: tuple) -> tuple:
    """The two control points of the cubic curve an edge takes from point p down to q: it
    leaves p and reaches q vertically."""
    middle = (p[1] + q[1]) / 2
    return (p[0], middle), (q[0], middle)


def _samples(p: tuple, q: tuple, count: int = 24) -> list:
    """Points along the curve from p to q."""
    (ax, ay), (bx, by) = controls(p, q)
    out = []
    for k in range(count + 1):
        t = k / count
        weights = ((1 - t) ** 3, 3 * (1 - t) ** 2 * t, 3 * (1 - t) * t * t, t ** 3)
        out.append((weights[0] * p[0] + weights[1] * ax + weights[2] * bx + weights[3] * q[0],
                    weights[0] * p[1] + weights[1] * ay + weights[2] * by + weights[3] * q[1]))
    return out


def _routes(drawn, items: _Items, chains: list, x: list, shift: float, boxes: dict, top: list, height: list) -> list:
    """Each edge from a port on its source's bottom, straight down through each rank it
    passes, to a port on its target's top; the ports on a side spread in the order of the
    edges' other ends, so that edges leave and arrive without crossing at the box."""
    outgoing: dict = {}
    incoming: dict = {}
    for k, chain in enumerate(chains):
        outgoing.setdefault(chain[0], []).append((x[chain[1]], k))
        incoming.setdefault(chain[-1], []).append((x[chain[-2]], k))
    ports: dict = {}
    for side, ends in ((0, outgoing), (1, incoming)):
        for i, edges in ends.items():
            box = boxes[drawn.nodes[i].name]
            for slot, (_, k) in enumerate(sorted(edges)):
                ports[side, k] = box.x + box.width * (slot + 1) / (len(edges) + 1)
    routes = []
    for k, chain in enumerate(chains):
        source, target = boxes[drawn.nodes[chain[0]].name], boxes[drawn.nodes[chain[-1]].name]
        points = [(ports[0, k], source.y + source.height)]
        for i in chain[1:-1]:
            r = items.rank[i]
            points += [(x[i] + shift, top[r]), (x[i] + shift, top[r] + height[r])]
        routes.append(points + [(ports[1, k], target.y)])
    return routes
