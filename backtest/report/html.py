"""One self-contained HTML page: inline CSS, one small inline script, figures as SVG data URIs.

Nothing is fetched: no CDN, no web font, no external image, so the file works offline and
can be mailed or attached to a forum post as it is.
"""

from __future__ import annotations

import base64
import html
from dataclasses import dataclass

import pandas as pd

CSS = """
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:0;color:#1b1b1b;background:#fafafa}
main{max-width:1320px;margin:0 auto;padding:1.5em 2em 4em;background:#fff;box-sizing:border-box}
h1{font-size:1.5em;margin:.2em 0}h2{font-size:1.2em;margin-top:2em;border-bottom:1px solid #ddd;padding-bottom:.2em}
.banner{background:#fff4d6;border:1px solid #e8c766;padding:.5em .8em;border-radius:4px}
.note{color:#555;font-size:.92em}.lede{font-size:1.05em;max-width:60em}
table{border-collapse:collapse;margin:.6em 0;font-variant-numeric:tabular-nums;font-size:13px}
th,td{border-bottom:1px solid #e5e5e5;padding:.25em .55em;text-align:right}th{vertical-align:bottom}
td{white-space:nowrap}caption{text-align:left;caption-side:top;white-space:normal}
th:first-child,td:first-child{text-align:left}th{background:#f3f3f3;cursor:pointer;user-select:none}
figure{margin:1em 0}figure img{max-width:100%;height:auto;display:block}
figcaption{color:#555;font-size:.9em}pre{background:#f6f6f6;padding:.8em;overflow:auto;font-size:12px}
nav a{margin-right:1em}.wide{overflow-x:auto}
"""

# Click a header to sort its table (numbers by value, text alphabetically); and flag the page
# as drawn once every figure decoded, which the browser test reads.
SCRIPT = """
(function(){
  function key(td){var t=td.textContent.replace(/[$,%+\\u2013]/g,'');var n=parseFloat(t);return isNaN(n)?td.textContent:n;}
  document.querySelectorAll('table.sortable th').forEach(function(th,i){
    th.addEventListener('click',function(){
      var body=th.closest('table').tBodies[0],rows=Array.from(body.rows),up=th.dataset.dir!=='up';
      rows.sort(function(a,b){var x=key(a.cells[i]),y=key(b.cells[i]);return (x>y?1:x<y?-1:0)*(up?1:-1);});
      th.dataset.dir=up?'up':'down';rows.forEach(function(r){body.appendChild(r);});
    });
  });
  window.addEventListener('load',function(){
    var imgs=Array.from(document.querySelectorAll('figure img'));
    var drawn=imgs.filter(function(i){return i.complete&&i.naturalWidth>0;}).length;
    document.body.dataset.figures=imgs.length;document.body.dataset.drawn=drawn;
  });
})();
"""


@dataclass
class Section:
    anchor: str
    title: str
    body: str


def esc(text) -> str:
    return html.escape(str(text), quote=True)


def table(df: pd.DataFrame, caption: str | None = None) -> str:
    head = "".join(f"<th>{esc(c)}</th>" for c in df.columns)
    rows = "".join("<tr>" + "".join(f"<td>{esc(v)}</td>" for v in row) + "</tr>"
                   for row in df.itertuples(index=False, name=None))
    cap = f"<caption class=note>{esc(caption)}</caption>" if caption else ""
    return f"<div class=wide><table class=sortable>{cap}<thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table></div>"


def figure(svg: str, caption: str, alt: str) -> str:
    data = base64.b64encode(svg.encode()).decode()
    return (f'<figure><img alt="{esc(alt)}" src="data:image/svg+xml;base64,{data}">'
            f"<figcaption>{esc(caption)}</figcaption></figure>")


def paragraph(text: str, cls: str = "note") -> str:
    return f"<p class={cls}>{esc(text)}</p>"


def details(summary: str, inner: str) -> str:
    return f"<details><summary>{esc(summary)}</summary>{inner}</details>"


def pre(text: str) -> str:
    return f"<pre>{esc(text)}</pre>"


def page(title: str, subtitle: str, banner: str | None, sections: list[Section]) -> str:
    nav = "".join(f'<a href="#{s.anchor}">{esc(s.title)}</a>' for s in sections)
    body = "".join(f'<section id="{s.anchor}"><h2>{esc(s.title)}</h2>{s.body}</section>' for s in sections)
    flag = f"<p class=banner>{esc(banner)}</p>" if banner else ""
    return ("<!DOCTYPE html>\n<html lang=en><head><meta charset=utf-8>"
            '<meta name=viewport content="width=device-width,initial-scale=1">'
            f"<title>{esc(title)}</title><style>{CSS}</style></head>"
            f"<body><main><h1>{esc(title)}</h1><p class=note>{esc(subtitle)}</p>{flag}<nav>{nav}</nav>{body}"
            f"</main><script>{SCRIPT}</script></body></html>\n")
