"""The self-contained HTML report of one run (and the HTML tables shared with ``compare``).

One file, no external requests: CSS and JS are inline, images are ``data:`` URLs, and the
summary is embedded as JSON whose ``<``, ``>`` and ``&`` are written as ``\\u003c`` etc. so that
no text can close the ``<script>`` element. Every piece of text that comes from a model, an
annotation file or a config goes through :func:`html.escape` (quotes included, so attributes
are safe too).

The page holds: a header with the run's essentials, the headline figures with their bootstrap
CIs, Table 2 and Table 3 layouts, the plots, the APL confusion of matched pairs, the failures,
and one card per video (frame strip, ground truth aligned with the predictions that matched
them, similarity and APL weight), sortable by weighted F1, F1, video id or scenario and
filterable by scenario with a few lines of inline JS.
"""

from __future__ import annotations

import base64
import json
import math
from collections.abc import Mapping, Sequence
from html import escape
from typing import Any

from ..figures import format_figure, get_figure, view
from ..records import SCENARIO_TITLES, SCENARIOS
from ..sampler import describe_sampler
from .launches import launches_html
from .tables import (
    DASH,
    SCENARIO_ABBREV,
    SCENARIO_SHORT_TITLES,
    fmt_score,
    run_rows,
    usage_cells,
)

CSS = """
:root{--ink:#1d2330;--muted:#667085;--line:#e4e7ec;--bg:#f6f7f9;--card:#fff;--accent:#2f6fde;
--ok:#1f9d6b;--okbg:#e8f6ef;--bad:#c8341c;--badbg:#fdecea;--warn:#b7791f;--warnbg:#fff6e0;
--gold:#f6d365;--silver:#dfe3e8;--bronze:#efc4a0}
*{box-sizing:border-box}
body{margin:0;font:14px/1.45 -apple-system,BlinkMacSystemFont,"Segoe UI",Roboto,"Helvetica Neue",
Arial,sans-serif;color:var(--ink);background:var(--bg)}
main{max-width:1180px;margin:0 auto;padding:0 20px 48px}
header.top{background:linear-gradient(120deg,#1d2a4a,#2f4d8a);color:#fff;padding:26px 0 44px}
header.top .inner{max-width:1180px;margin:0 auto;padding:0 20px}
header.top h1{margin:0 0 4px;font-size:24px;font-weight:650;letter-spacing:-.01em}
header.top .sub{opacity:.85;font-size:13px}
dl.meta{display:grid;grid-template-columns:repeat(auto-fill,minmax(210px,1fr));gap:6px 18px;
margin:16px 0 0;font-size:12.5px}
dl.meta div{min-width:0}
dl.meta dt{opacity:.7;text-transform:uppercase;font-size:10.5px;letter-spacing:.06em}
dl.meta dd{margin:0;overflow-wrap:anywhere;font-family:ui-monospace,SFMono-Regular,Menlo,monospace}
section{margin-top:26px}
h2{font-size:17px;margin:0 0 10px;font-weight:650}
.tiles{display:grid;grid-template-columns:repeat(auto-fill,minmax(132px,1fr));gap:10px;
margin-top:-48px}
.tile{background:var(--card);border:1px solid var(--line);border-radius:10px;padding:10px 12px;
box-shadow:0 1px 2px rgba(16,24,40,.05)}
.tile .k{font-size:11px;color:var(--muted);text-transform:uppercase;letter-spacing:.05em}
.tile .v{font-size:24px;font-weight:680;font-variant-numeric:tabular-nums}
.tile .ci{font-size:11px;color:var(--muted);font-variant-numeric:tabular-nums}
.counts{display:flex;gap:8px;flex-wrap:wrap;margin-top:12px}
.pill{display:inline-block;border-radius:999px;padding:2px 10px;font-size:12px;font-weight:600;
background:#eef2f8;color:#344054}
.pill.ok{background:var(--okbg);color:var(--ok)}.pill.bad{background:var(--badbg);color:var(--bad)}
.pill.warn{background:var(--warnbg);color:var(--warn)}
.panel{background:var(--card);border:1px solid var(--line);border-radius:10px;padding:14px 16px;
overflow-x:auto}
table.res{border-collapse:collapse;font-variant-numeric:tabular-nums;font-size:12.5px}
h3{font-size:13.5px;margin:16px 0 6px;color:#344054}h3:first-child{margin-top:0}
table.res th,table.res td{padding:4px 7px;text-align:right;border-bottom:1px solid var(--line);
white-space:nowrap}
table.res th:first-child,table.res td:first-child{text-align:left}
table.res thead th{font-weight:600;color:#344054;background:#fafbfc}
table.res th.grp{text-align:center;border-bottom:2px solid var(--line)}
table.res td.r1{background:var(--gold);font-weight:700}table.res td.r2{background:var(--silver)}
table.res td.r3{background:var(--bronze)}
p.legend{margin:.35rem 0 0;font-size:.78rem;color:var(--muted,#555)}
p.legend .key{margin-right:.9rem;white-space:nowrap}
p.legend i.sw{display:inline-block;width:.8em;height:.8em;margin-right:.3em;vertical-align:-.05em;
border:1px solid #0002;border-radius:2px}
p.legend i.r1{background:var(--gold)}p.legend i.r2{background:var(--silver)}
p.legend i.r3{background:var(--bronze)}p.legend i.pub{background:#fbfbfc}
table.res.lead td:nth-child(2),table.res.lead th:nth-child(2){text-align:left}
table.res tr.pub td{color:#475467;background:#fbfbfc}
table.res td.neg{color:var(--bad)}table.res td.pos{color:var(--ok)}
.grid2{display:grid;grid-template-columns:1fr 1fr;gap:14px}
@media(max-width:860px){.grid2{grid-template-columns:1fr}}
figure{margin:0}figure img{max-width:100%;height:auto;display:block}
figcaption{font-size:12px;color:var(--muted);margin-top:4px}
table.conf{border-collapse:collapse;font-variant-numeric:tabular-nums;font-size:12.5px}
table.conf th,table.conf td{padding:5px 9px;text-align:center;border:1px solid var(--line)}
.failures li{margin:3px 0}.failures code{background:var(--badbg);color:var(--bad);padding:1px 5px;
border-radius:4px;white-space:pre-wrap;overflow-wrap:anywhere}
.toolbar{display:flex;gap:8px;align-items:center;flex-wrap:wrap;margin-bottom:12px;
position:sticky;top:0;background:var(--bg);padding:8px 0;z-index:2}
.toolbar button,.toolbar select{font:inherit;font-size:12.5px;border:1px solid #d0d5dd;
background:#fff;border-radius:7px;padding:4px 10px;cursor:pointer}
.toolbar button.active{background:var(--accent);border-color:var(--accent);color:#fff}
.toolbar .lbl{color:var(--muted);font-size:12px}
.card{background:var(--card);border:1px solid var(--line);border-radius:12px;margin-bottom:14px;
overflow:hidden;box-shadow:0 1px 2px rgba(16,24,40,.05)}
.card.failed{border-color:#f1a99b;box-shadow:0 0 0 2px var(--badbg)}
.card.missing{border-color:#f3d49b}
.card .hd{display:flex;align-items:center;gap:10px;padding:10px 14px;border-bottom:1px solid
var(--line);flex-wrap:wrap}
.card .vid{font-weight:650;font-family:ui-monospace,SFMono-Regular,Menlo,monospace}
.card .sc{font-size:11.5px;background:#eef2f8;border-radius:999px;padding:1px 9px;color:#344054}
.card .fig{margin-left:auto;display:flex;gap:12px;font-size:12px;color:var(--muted)}
.card .fig b{color:var(--ink);font-variant-numeric:tabular-nums}
.strip{display:flex;gap:3px;padding:8px 14px;background:#0f1420;overflow-x:auto}
.strip img{height:74px;width:auto;border-radius:3px}
.note{padding:8px 14px;font-size:12.5px}
.note.bad{background:var(--badbg);color:var(--bad)}.note.warn{background:var(--warnbg);
color:var(--warn)}
table.pairs{border-collapse:collapse;width:100%;font-size:13px;table-layout:fixed}
table.pairs col.txt{width:auto}table.pairs col.n{width:92px}
table.pairs th{font-size:11px;text-transform:uppercase;letter-spacing:.05em;color:var(--muted);
text-align:left;padding:6px 10px;font-weight:600}
table.pairs td{padding:5px 10px;border-top:1px solid var(--line);vertical-align:top}
table.pairs td.num{text-align:center;font-variant-numeric:tabular-nums;white-space:nowrap;
color:var(--muted)}
table.pairs tr.m td.num{color:var(--ok);font-weight:650}
table.pairs tr.m td{background:#f3fbf7}
table.pairs tr.fn td.gt{background:#fff7f5}
table.pairs tr.fp td.pr{background:#fffaf0}
.tag{display:inline-block;font-size:10.5px;border-radius:4px;padding:0 5px;margin-right:4px;
font-weight:650;vertical-align:1px}
.apl{background:#e9eefb;color:#2f4d8a}.pro{background:#e8f6ef;color:var(--ok)}
.rea{background:#f2f4f7;color:#475467}
.empty{color:#98a2b3;font-style:italic}
.legend{font-size:12px;color:var(--muted);margin:-4px 0 10px}
.legend i{display:inline-block;width:10px;height:10px;border-radius:2px;margin:0 4px 0 10px;vertical-align:-1px}
details.answer{border-top:1px solid var(--line);padding:6px 14px;font-size:12.5px}
details.answer summary{cursor:pointer;color:var(--muted)}
pre.raw{white-space:pre-wrap;overflow-wrap:anywhere;background:#f6f7f9;border-radius:6px;
padding:8px 10px;margin:6px 0;max-height:320px;overflow:auto;font-size:12px}
ul.diag{margin:4px 0;padding-left:18px;color:#475467;font-family:ui-monospace,SFMono-Regular,
Menlo,monospace;font-size:11.5px}
.card.unparsed{border-color:#f3d49b}
footer{margin-top:30px;font-size:12px;color:var(--muted)}
"""

LEGEND = (
    '<div class="legend">Rows:<i style="background:#d9f2e6"></i>matched pair (similarity '
    "\u2265 \u03c4; APL weight = 1 \u2212 |APL difference| / 4)"
    '<i style="background:#fde3dd"></i>missed ground truth'
    '<i style="background:#fdeccc"></i>unmatched prediction \u00b7 P proactive, R reactive</div>'
)

SCRIPT = """
(function(){
  var list=document.getElementById('cards');
  if(!list){return;}
  var state={key:'wf1',dir:-1};
  function val(card,key){
    var v=card.getAttribute('data-'+key);
    if(key==='id'||key==='scenario'){return v||'';}
    var n=parseFloat(v);return isNaN(n)?-1:n;
  }
  function sort(){
    var cards=Array.prototype.slice.call(list.children);
    cards.sort(function(a,b){
      var x=val(a,state.key),y=val(b,state.key);
      if(x<y){return -state.dir;} if(x>y){return state.dir;}
      var i=a.getAttribute('data-id'),j=b.getAttribute('data-id');
      return i<j?-1:(i>j?1:0);
    });
    cards.forEach(function(c){list.appendChild(c);});
    document.querySelectorAll('[data-sort]').forEach(function(b){
      var on=b.getAttribute('data-sort')===state.key;
      b.classList.toggle('active',on);
      b.setAttribute('aria-pressed',on?'true':'false');
      var arrow=b.querySelector('.arrow');
      if(arrow){arrow.textContent=on?(state.dir<0?' \\u2193':' \\u2191'):'';}
    });
  }
  document.querySelectorAll('[data-sort]').forEach(function(b){
    b.addEventListener('click',function(){
      var key=b.getAttribute('data-sort');
      if(state.key===key){state.dir=-state.dir;}
      else{state.key=key;state.dir=(key==='id'||key==='scenario')?1:-1;}
      sort();
    });
  });
  var filter=document.getElementById('filter-scenario');
  function applyFilter(){
    var want=filter.value,shown=0;
    Array.prototype.forEach.call(list.children,function(c){
      var ok=!want||c.getAttribute('data-scenario')===want;
      c.style.display=ok?'':'none'; if(ok){shown++;}
    });
    var n=document.getElementById('shown-count'); if(n){n.textContent=shown;}
  }
  if(filter){filter.addEventListener('change',applyFilter);}
  sort(); if(filter){applyFilter();}
})();
"""


def esc(value: Any) -> str:
    """HTML-escape any value (quotes too, so the result is safe inside attributes)."""
    return escape("" if value is None else str(value), quote=True)


def script_json(data: Any) -> str:
    """JSON that is safe inside ``<script>``: ``<``, ``>``, ``&`` and line separators escaped."""
    text = json.dumps(data, ensure_ascii=False, sort_keys=True, default=str)
    for ch, rep in (("<", "\\u003c"), (">", "\\u003e"), ("&", "\\u0026")):
        text = text.replace(ch, rep)
    return text.replace("\u2028", "\\u2028").replace("\u2029", "\\u2029")


def data_url(png: bytes, mime: str = "image/png") -> str:
    """Bytes as a ``data:`` URL."""
    return f"data:{mime};base64,{base64.b64encode(png).decode('ascii')}"


def _fmt_ci(ci: Sequence[float] | None) -> str:
    if not ci or ci[0] is None or ci[1] is None:
        return ""
    return f"95% CI {fmt_score(ci[0])}\u2013{fmt_score(ci[1])}"


def _attr_num(value: Any) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    return f"{float(value):.6f}"


# --------------------------------------------------------------------------------------------
# tables shared with compare


def _rank_map(rows: Sequence[Mapping[str, Any]], get: Any) -> dict[int, int]:
    values = [get(r) for r in rows]
    distinct = sorted({round(v, 3) for v in values if v is not None}, reverse=True)[:3]
    return {
        i: distinct.index(round(v, 3)) + 1
        for i, v in enumerate(values)
        if v is not None and round(v, 3) in distinct
    }


def _figure(row: Mapping[str, Any], scenario: str | None, fig: str) -> float | None:
    block = row.get("overall") if scenario is None else (row.get("scenarios") or {}).get(scenario)
    value = (block or {}).get(fig)
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    return float(value)


def results_table_html(
    rows: Sequence[Mapping[str, Any]],
    figures: Sequence[tuple[str, str]],
    scenarios: Sequence[str] = SCENARIOS,
    *,
    group_titles: Mapping[str, str] | None = None,
    highlight: bool = True,
) -> str:
    """A table in the paper's layout: one column group per scenario, then Overall.

    Rows with ``"published": True`` are styled apart. With several rows, the top three values
    of each column get the paper's gold / silver / bronze.
    """
    titles = group_titles or SCENARIO_SHORT_TITLES
    groups: list[str | None] = [*scenarios, None]
    cols = [(sc, fig) for sc in groups for fig, _ in figures]
    ranks = {}
    if highlight and len(rows) > 1:
        ranks = {c: _rank_map(rows, lambda r, c=c: _figure(r, c[0], c[1])) for c in cols}
    two_level = len(figures) > 1
    head = ["<thead>"]
    if two_level:
        head.append('<tr><th rowspan="2">Model</th>')
        for sc in groups:
            title = "Overall" if sc is None else titles.get(sc, sc)
            head.append(f'<th class="grp" colspan="{len(figures)}">{esc(title)}</th>')
        head.append("</tr><tr>")
        head.extend(f"<th>{esc(label)}</th>" for _ in groups for _, label in figures)
        head.append("</tr>")
    else:
        head.append("<tr><th>Model</th>")
        for sc in groups:
            head.append(f"<th>{esc('Overall' if sc is None else titles.get(sc, sc))}</th>")
        head.append("</tr>")
    head.append("</thead>")
    body = ["<tbody>"]
    for i, row in enumerate(rows):
        cls = ' class="pub"' if row.get("published") else ""
        cells = [f"<td>{esc(row.get('name', 'run'))}</td>"]
        for c in cols:
            rank = ranks.get(c, {}).get(i)
            rc = f' class="r{rank}"' if rank else ""
            cells.append(f"<td{rc}>{format_figure(c[1], _figure(row, c[0], c[1]))}</td>")
        body.append(f"<tr{cls}>{''.join(cells)}</tr>")
    body.append("</tbody>")
    legend = _rank_legend(bool(any(ranks.values())), any(r.get("published") for r in rows))
    return f'<table class="res">{"".join(head)}{"".join(body)}</table>{legend}'


def _rank_legend(ranked: bool, published: bool) -> str:
    """The key to a table's shading: gold / silver / bronze ranks, grey published rows."""
    items = []
    if ranked:
        items += [
            '<span class="key"><i class="sw r1"></i>best</span>',
            '<span class="key"><i class="sw r2"></i>2nd</span>',
            '<span class="key"><i class="sw r3"></i>3rd of each column</span>',
        ]
    if published:
        items.append('<span class="key"><i class="sw pub"></i>published (paper)</span>')
    return f'<p class="legend">{"".join(items)}</p>' if items else ""


def table2_html(
    rows: Sequence[Mapping[str, Any]],
    scenarios: Sequence[str] = SCENARIOS,
    *,
    highlight: bool = True,
) -> str:
    """Table 2 layout: Prec./Recall/F1 per scenario and overall."""
    return results_table_html(rows, view("table2"), scenarios, highlight=highlight)


def table3_html(
    rows: Sequence[Mapping[str, Any]],
    scenarios: Sequence[str] = SCENARIOS,
    *,
    highlight: bool = True,
) -> str:
    """Table 3 layout: the scale score per scenario and overall."""
    return results_table_html(
        rows,
        view("table3"),
        scenarios,
        group_titles=SCENARIO_ABBREV,
        highlight=highlight,
    )


def proactive_html(rows: Sequence[Mapping[str, Any]], scenarios: Sequence[str] = SCENARIOS) -> str:
    """Proactive recall, reactive recall and proactive share per scenario and overall."""
    return results_table_html(
        rows, view("proactive"), scenarios, group_titles=SCENARIO_ABBREV, highlight=False
    )


# --------------------------------------------------------------------------------------------
# page pieces


def page(title: str, header: str, body: str, data: Any = None) -> str:
    """A whole self-contained HTML document."""
    embedded = ""
    if data is not None:
        embedded = f'<script type="application/json" id="report-data">{script_json(data)}</script>'
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width,initial-scale=1">'
        '<meta http-equiv="Content-Security-Policy" content="default-src \'none\'; '
        "img-src data:; style-src 'unsafe-inline'; script-src 'unsafe-inline'\">"
        f"<title>{esc(title)}</title><style>{CSS}</style></head><body>"
        f"{header}<main>{body}</main>{embedded}<script>{SCRIPT}</script></body></html>\n"
    )


def _meta_items(summary: Mapping[str, Any]) -> list[tuple[str, str]]:
    config = summary.get("config") or {}
    data = config.get("data") or {}
    sampler = config.get("sampler") or {}
    sampler_text = describe_sampler(sampler) if sampler else "\u2013"
    versions = config.get("versions") or {}
    items = [
        ("Agent", summary.get("agent_spec") or summary.get("agent_label") or "\u2013"),
        ("Prompt", summary.get("prompt_version") or "\u2013"),
        ("Data", f"{data.get('name', '?')} ({data.get('num_videos', '?')} videos)"),
        ("Fingerprint", data.get("fingerprint", "\u2013")),
        ("Embedder", summary.get("embedder") or config.get("embedder") or "\u2013"),
        ("Tau", f"{summary.get('tau')}"),
        ("Frames", sampler_text),
        ("Samples / seed", f"{config.get('samples', 1)} / {config.get('seed', DASH)}"),
    ]
    if config.get("shard"):
        items.append(("Shard", str(config["shard"])))
    if versions:
        items.append(("Versions", ", ".join(f"{k} {v}" for k, v in versions.items())))
    if config.get("git_commit"):
        items.append(("Git commit", str(config["git_commit"])[:12]))
    return items


def run_header(summary: Mapping[str, Any]) -> str:
    """The banner: run name, data, and the config essentials."""
    meta = "".join(
        f"<div><dt>{esc(k)}</dt><dd>{esc(v)}</dd></div>" for k, v in _meta_items(summary)
    )
    return (
        '<header class="top"><div class="inner">'
        f"<h1>{esc(summary.get('agent_label') or 'VisualAct run')}</h1>"
        f'<div class="sub">VisualActBench run report \u00b7 {esc(summary.get("run_dir", ""))}</div>'
        f'<dl class="meta">{meta}</dl></div></header>'
    )


def _tiles(summary: Mapping[str, Any]) -> str:
    overall = summary.get("overall") or {}
    cis = summary.get("overall_ci") or {}
    tiles = []
    for fig, label in view("tiles"):
        tiles.append(
            f'<div class="tile"><div class="k">{esc(label)}</div>'
            f'<div class="v">{format_figure(fig, overall.get(fig))}</div>'
            f'<div class="ci">{esc(_fmt_ci(cis.get(fig)))}</div></div>'
        )
    return f'<div class="tiles">{"".join(tiles)}</div>'


def _counts(summary: Mapping[str, Any]) -> str:
    c = summary.get("counts") or {}
    pills = [f'<span class="pill ok">{c.get("scored", 0)} scored</span>']
    failed, missing, unparsed = c.get("failed", 0), c.get("missing", 0), c.get("unparsed", 0)
    pills.append(
        f'<span class="pill {"warn" if unparsed else ""}" title="answers the parser could not '
        f'read, scored as empty (counted among the scored)">{unparsed} unparseable</span>'
    )
    pills.append(f'<span class="pill {"bad" if failed else ""}">{failed} failed</span>')
    pills.append(f'<span class="pill {"warn" if missing else ""}">{missing} missing</span>')
    pills.append(f'<span class="pill">{c.get("videos", 0)} videos</span>')
    if c.get("predictions") is not None:
        pills.append(f'<span class="pill">{c.get("predictions")} prediction records</span>')
    return f'<div class="counts">{"".join(pills)}</div>'


def _stopped(summary: Mapping[str, Any]) -> str:
    stopped = summary.get("stopped")
    if not stopped:
        return ""
    return (
        '<div class="note bad" style="margin-top:12px;border-radius:8px"><b>Stopped early:</b> '
        f"{esc(stopped.get('reason'))}. Answers not made count as missing; continue with "
        f"<code>visualact eval --out {esc(summary.get('run_dir', 'RUN'))} --resume</code> and a "
        "higher limit.</div>"
    )


def _usage(summary: Mapping[str, Any]) -> str:
    usage = summary.get("usage")
    if not usage:
        return ""
    header, cells = usage_cells(usage)
    head = "".join(f"<th>{esc(h)}</th>" for h in header)
    row = "".join(f"<td>{esc(c)}</td>" for c in cells)
    note = (
        f"Cost at {usage.get('price_input') or 0:g} (input) and "
        f"{usage.get('price_output') or 0:g} (output) "
        "per million tokens."
        if usage.get("cost") is not None
        else "No prices given (--price-input, --price-output): no cost."
    )
    return (
        '<section id="usage"><h2>Usage and cost</h2><div class="panel">'
        f'<table class="res"><thead><tr>{head}</tr></thead><tbody><tr>{row}</tr></tbody></table>'
        f'<p class="ci">{note} Cache hits sent no request and cost nothing; latency is per '
        "answer, retries included.</p></div></section>"
    )


def samples_html(summary: Mapping[str, Any]) -> str:
    """The ``Samples`` panel: mean of K with CI, best of K, spread and the least stable videos
    (nothing for one sample per video). Definitions: :mod:`visualact_env.report.sample_stats`."""
    from .sample_stats import least_stable

    block = summary.get("samples") or {}
    k = int(block.get("k") or 1)
    if k < 2:
        return ""
    mean, ci = block["mean"]["overall"], block["mean_ci"]["overall"]
    best, spread = block["best_of_k"]["overall"], block["sd_across_samples"]
    per_video = block["per_video_sd"]["overall"]
    first = summary.get("overall") or {}
    head = "".join(
        f"<th>{esc(h)}</th>"
        for h in (
            "Figure",
            f"Mean of {k}",
            "95% CI",
            f"Best of {k}",
            "Sample 0",
            "SD across samples",
            "Mean per-video SD",
        )
    )
    body = []
    for fig, label in view("tiles"):
        interval = ci.get(fig) or [None, None]
        fmt = get_figure(fig).format
        cells = [
            fmt(mean.get(fig)),
            f"{fmt(interval[0])}\u2013{fmt(interval[1])}",
            fmt(best.get(fig)),
            fmt(first.get(fig)),
            fmt(spread.get(fig)),
            fmt(per_video.get(fig)),
        ]
        body.append(f"<tr><td>{esc(label)}</td>{''.join(f'<td>{esc(c)}</td>' for c in cells)}</tr>")
    c = block.get("counts") or {}
    unstable = "".join(
        f"<li><b>{esc(v['video_id'])}</b> ({esc(SCENARIO_ABBREV.get(v['scenario'], ''))}): F1 "
        f"{esc(', '.join(fmt_score(x) for x in v['f1']))} (SD {fmt_score(v['sd']['f1'])})</li>"
        for v in least_stable(dict(block))
    )
    return (
        f'<section id="samples"><h2>Samples (K = {k})</h2><div class="panel">'
        f"<p>Each video was answered {k} times. The tiles score sample 0; the tables below "
        f"add a row for the mean of the {k} samples. Mean: each figure averaged over the "
        "samples, with a bootstrap CI over videos (one draw for all samples). Best of K: per "
        "video the best sample's value of each per-video figure (an upper bound; none for "
        "pooled figures). SD across samples: of the overall figure. Mean per-video SD: how "
        "much a video's figure changes from sample to sample (0 = stable).</p>"
        f'<table class="res"><thead><tr>{head}</tr></thead><tbody>{"".join(body)}'
        "</tbody></table>"
        f'<p class="ci">All samples: {esc(c.get("answers", 0))} answers, '
        f"{esc(c.get('scored', 0))} scored, {esc(c.get('unparsed', 0))} unparseable, "
        f"{esc(c.get('failed', 0))} failed, {esc(c.get('missing', 0))} missing.</p>"
        + (f"<h3>Least stable videos</h3><ul>{unstable}</ul>" if unstable else "")
        + "</div></section>"
    )


def _failures(summary: Mapping[str, Any]) -> str:
    failures = summary.get("failures") or []
    missing = summary.get("missing") or []
    if not failures and not missing:
        return ""
    items = [
        f"<li><b>{esc(f.get('video_id'))}</b> (sample {esc(f.get('sample', 0))}): "
        f"<code>{esc(f.get('error'))}</code></li>"
        for f in failures
    ]
    if missing:
        ids = ", ".join(esc(v) for v in missing)
        items.append(f"<li>No prediction (scored as empty): {ids}</li>")
    return (
        '<section id="failures"><h2>Failures</h2><div class="panel">'
        "<p>Failed and missing videos are scored as empty answers and count against recall."
        f'</p><ul class="failures">{"".join(items)}</ul></div></section>'
    )


def confusion_html(summary: Mapping[str, Any]) -> str:
    """The APL confusion of matched pairs as a small heat table."""
    conf = summary.get("apl_confusion") or {}
    counts = conf.get("counts") or []
    if not counts:
        return '<p class="empty">no matched pairs</p>'
    top = max((max(r) for r in counts), default=0) or 1
    head = "".join(f"<th>{esc(lbl)}</th>" for lbl in conf.get("pred_labels", []))
    rows = []
    for label, row in zip(conf.get("gt_labels", []), counts, strict=False):
        cells = []
        for n in row:
            alpha = 0.08 + 0.8 * n / top if n else 0
            color = "#fff" if n > top * 0.6 else "inherit"
            style = f"background:rgba(47,111,222,{alpha:.2f});color:{color}" if n else ""
            cells.append(f'<td style="{style}">{n}</td>')
        rows.append(f"<tr><th>{esc(label)}</th>{''.join(cells)}</tr>")
    return (
        '<table class="conf"><thead><tr><th>gt \\ pred</th>'
        f"{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>"
        f'<p class="ci">Rows: ground-truth APL; columns: predicted APL ("?" = none given). '
        f"Diagonal: {conf.get('diagonal', 0)} of {conf.get('total', 0)} matched pairs.</p>"
    )


def _action_cell(action: Mapping[str, Any] | None) -> str:
    if action is None:
        return '<span class="empty">\u2014</span>'
    apl = action.get("apl")
    pro = action.get("proactive")
    tags = f'<span class="tag apl">APL {esc(apl if apl is not None else "?")}</span>'
    if pro is not None:
        tags += '<span class="tag pro">P</span>' if pro else '<span class="tag rea">R</span>'
    return f"{tags}{esc(action.get('text', ''))}"


def _pair_rows(entry: Mapping[str, Any]) -> str:
    """Ground truth aligned with its matched prediction; then the unmatched predictions."""
    gt = entry.get("gt") or []
    pred = entry.get("pred") or []
    matched = {p["gt"]: p for p in entry.get("pairs") or [] if p.get("matched")}
    used = {p["pred"] for p in matched.values()}
    rows = []
    for j, g in enumerate(gt):
        p = matched.get(j)
        if p is not None:
            rows.append(
                f'<tr class="m"><td class="gt">{_action_cell(g)}</td>'
                f'<td class="num">{p["similarity"]:.2f}</td><td class="num">{p["weight"]:.2f}</td>'
                f'<td class="pr">{_action_cell(pred[p["pred"]])}</td></tr>'
            )
        else:
            rows.append(
                f'<tr class="fn"><td class="gt">{_action_cell(g)}</td><td class="num">\u2013</td>'
                f'<td class="num">\u2013</td><td class="pr">{_action_cell(None)}</td></tr>'
            )
    for i, a in enumerate(pred):
        if i not in used:
            rows.append(
                f'<tr class="fp"><td class="gt">{_action_cell(None)}</td><td class="num">\u2013</td>'
                f'<td class="num">\u2013</td><td class="pr">{_action_cell(a)}</td></tr>'
            )
    return (
        '<table class="pairs"><colgroup><col class="txt"><col class="n"><col class="n">'
        '<col class="txt"></colgroup><thead><tr><th>Ground truth</th><th>similarity</th>'
        f"<th>APL weight</th><th>Prediction</th></tr></thead><tbody>{''.join(rows)}</tbody></table>"
    )


def video_card(entry: Mapping[str, Any]) -> str:
    """One video: header with figures, frame strip, notes, and the aligned actions."""
    figs = entry.get("figures") or {}
    status = entry.get("status", "ok")
    sc = entry.get("scenario", "")
    attrs = (
        f'data-id="{esc(entry.get("video_id"))}" data-scenario="{esc(sc)}" '
        f'data-f1="{_attr_num(figs.get("f1"))}" data-wf1="{_attr_num(figs.get("weighted_f1"))}"'
    )
    sample = entry.get("sample")
    sample_txt = f" \u00b7 sample {esc(sample)}" if sample not in (None, 0) else ""
    header = (
        f'<div class="hd"><span class="vid">{esc(entry.get("video_id"))}</span>{sample_txt}'
        f'<span class="sc">{esc(SCENARIO_TITLES.get(sc, sc))}</span>'
        f'<span class="fig">F1 <b>{fmt_score(figs.get("f1"))}</b> Weighted F1 '
        f"<b>{fmt_score(figs.get('weighted_f1'))}</b> Scale <b>"
        f"{fmt_score(figs.get('scale_score'))}</b></span></div>"
    )
    frames = entry.get("frames") or []
    strip = ""
    if frames:
        imgs = "".join(f'<img alt="frame {k}" src="{esc(u)}">' for k, u in enumerate(frames))
        strip = f'<div class="strip">{imgs}</div>'
    notes = []
    if entry.get("frames_error"):
        notes.append(f'<div class="note warn">{esc(entry["frames_error"])}</div>')
    if status == "failed":
        notes.append(
            f'<div class="note bad"><b>Failed:</b> {esc(entry.get("error"))} '
            "(scored as an empty answer)</div>"
        )
    elif status == "missing":
        notes.append(
            '<div class="note warn"><b>Missing:</b> no prediction for this video '
            "(scored as an empty answer)</div>"
        )
    if entry.get("parse_error"):
        notes.append(
            '<div class="note warn"><b>Unparseable answer:</b> '
            f"{esc(entry['parse_error'])} (scored as an empty answer)</div>"
        )
    return (
        f'<article class="card {esc(status)}{" unparsed" if entry.get("parse_error") else ""}" '
        f"{attrs}>{header}{strip}{''.join(notes)}{_pair_rows(entry)}{_raw_answer(entry)}</article>"
    )


def _raw_answer(entry: Mapping[str, Any]) -> str:
    """The model's raw text and the parser's diagnostics, folded (open when unparseable)."""
    raw = entry.get("raw_text")
    diagnostics = entry.get("diagnostics") or []
    if raw is None and not diagnostics:
        return ""
    items = "".join(f"<li>{esc(d)}</li>" for d in diagnostics)
    diag = f'<ul class="diag">{items}</ul>' if items else ""
    text = (
        f'<pre class="raw">{esc(raw)}</pre>'
        if raw
        else '<p class="empty">no text (empty answer)</p>'
        if raw is not None
        else ""
    )
    open_attr = " open" if entry.get("parse_error") else ""
    return (
        f'<details class="answer"{open_attr}><summary>Raw answer and parse diagnostics'
        f"</summary>{text}{diag}</details>"
    )


def _toolbar(entries: Sequence[Mapping[str, Any]]) -> str:
    present = {e.get("scenario") for e in entries}
    options = "".join(
        f'<option value="{esc(sc)}">{esc(SCENARIO_TITLES[sc])}</option>'
        for sc in SCENARIOS
        if sc in present
    )
    buttons = "".join(
        f'<button type="button" data-sort="{key}">{label}<span class="arrow"></span></button>'
        for key, label in (
            ("wf1", "Weighted F1"),
            ("f1", "F1"),
            ("id", "Video id"),
            ("scenario", "Scenario"),
        )
    )
    return (
        f'<div class="toolbar"><span class="lbl">Sort by</span>{buttons}'
        '<span class="lbl" style="margin-left:12px">Scenario</span>'
        f'<select id="filter-scenario"><option value="">all</option>{options}</select>'
        f'<span class="lbl"><span id="shown-count">{len(entries)}</span> shown</span></div>'
    )


def _figure_img(images: Mapping[str, bytes], name: str, caption: str) -> str:
    if name not in images:
        return ""
    return (
        f'<figure><img alt="{esc(caption)}" src="{data_url(images[name])}">'
        f"<figcaption>{esc(caption)}</figcaption></figure>"
    )


def render_run_html(
    summary: Mapping[str, Any],
    entries: Sequence[Mapping[str, Any]],
    images: Mapping[str, bytes] | None = None,
) -> str:
    """The whole report page of one run (see the module docstring)."""
    images = images or {}
    rows = run_rows(summary)
    scs = [sc for sc in SCENARIOS if sc in (summary.get("scenarios") or {})]
    charts = "".join(
        _figure_img(images, n, c)
        for n, c in (
            ("scenario_scores.png", "F1, weighted F1 and scale score by scenario"),
            ("tau_sweep.png", "Overall figures as the threshold \u03c4 varies"),
            ("proactive_recall.png", "Recall of proactive and reactive ground-truth actions"),
            ("apl_confusion.png", "APL of matched pairs"),
        )
    )
    body = [
        f"<section>{_tiles(summary)}{_counts(summary)}{_stopped(summary)}</section>",
        samples_html(summary),
        _failures(summary),
        '<section id="tables"><h2>Results in the paper\'s layout</h2><div class="panel">'
        f"<h3>Table 2 layout</h3>{table2_html(rows, scs, highlight=False)}"
        f"<h3>Table 3 layout (scale score)</h3>{table3_html(rows, scs, highlight=False)}"
        f"<h3>Proactive and reactive recall</h3>{proactive_html(rows, scs)}</div></section>",
        f'<section id="plots"><h2>Plots</h2><div class="panel grid2">{charts}</div></section>',
        _usage(summary),
        '<section id="confusion"><h2>APL confusion of matched pairs</h2>'
        f'<div class="panel">{confusion_html(summary)}</div></section>',
        f'<section id="videos"><h2>Videos</h2>{_toolbar(entries)}{LEGEND}<div id="cards">'
        f"{''.join(video_card(e) for e in entries)}</div></section>",
        launches_html(summary),
        _footer(summary),
    ]
    title = f"VisualAct report: {summary.get('agent_label') or 'run'}"
    return page(title, run_header(summary), "".join(body), data=_embedded(summary))


def _embedded(summary: Mapping[str, Any]) -> dict[str, Any]:
    keep = ("overall", "overall_ci", "scenarios", "counts", "tau", "embedder", "agent_label")
    return {k: summary.get(k) for k in keep}


def _footer(summary: Mapping[str, Any]) -> str:
    ci = summary.get("ci") or {}
    return (
        "<footer>Scores are x100 with one decimal. Confidence intervals: "
        f"{esc(ci.get('method', 'bootstrap'))}, {esc(ci.get('n_resamples', '?'))} resamples, "
        f"seed {esc(ci.get('seed', '?'))}. Generated by visualact "
        f"{esc(summary.get('generated_by', ''))}.</footer>"
    )
