"""Checks run inside the page (Chromium): accessible names, text contrast from computed
styles (WCAG 2 formula), what has keyboard focus, external references in the HTML."""

from __future__ import annotations

import re
from typing import Any

UNNAMED = """() => [...document.querySelectorAll(
    'a, button, input, select, textarea, img, [role=img]')]
  .filter(el => el.type !== 'hidden')
  .map(el => {
    const text = id => document.getElementById(id)?.textContent || '';
    let name = el.getAttribute('aria-label') || '';
    const by = el.getAttribute('aria-labelledby');
    if (!name && by) name = by.split(' ').map(text).join(' ');
    if (!name && el.labels && el.labels.length)
      name = [...el.labels].map(l => l.textContent).join(' ');
    if (!name && el.tagName === 'IMG') name = el.alt || '';
    if (!name && !['INPUT', 'IMG'].includes(el.tagName)) name = el.textContent;
    return {tag: el.tagName, id: el.id, name: (name || '').trim()};
  })
  .filter(x => !x.name)"""

CONTRAST = """() => {
  const parse = c => {
    const p = c.match(/[\\d.]+/g).map(Number);
    return {r: p[0], g: p[1], b: p[2], a: p.length > 3 ? p[3] : 1};
  };
  const linear = v => { v /= 255; return v <= 0.04045 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4; };
  const lum = ({r, g, b}) => 0.2126 * linear(r) + 0.7152 * linear(g) + 0.0722 * linear(b);
  const background = el => {
    for (let e = el; e; e = e.parentElement) {
      const c = parse(getComputedStyle(e).backgroundColor);
      if (c.a > 0) return c;
    }
    return {r: 255, g: 255, b: 255, a: 1};
  };
  const ratio = el => {
    const pair = [lum(parse(getComputedStyle(el).color)), lum(background(el))];
    const [hi, lo] = pair.sort((a, b) => b - a);
    return (hi + 0.05) / (lo + 0.05);
  };
  const seen = [];
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  while (walker.nextNode()) {
    const text = walker.currentNode.textContent.trim();
    const el = walker.currentNode.parentElement;
    if (!text || el.closest('script, style, svg')) continue;
    const box = el.getBoundingClientRect();
    if (box.width <= 1 || box.height <= 1) continue;
    seen.push({text: text.slice(0, 50), ratio: ratio(el), color: getComputedStyle(el).color});
  }
  for (const el of document.querySelectorAll('input[readonly]'))
    seen.push({text: 'input#' + el.id, ratio: ratio(el), color: getComputedStyle(el).color});
  return seen;
}"""

FOCUSED = """() => { const e = document.activeElement;
  if (e.dataset && e.dataset.copy) return 'copy:' + e.dataset.copy;
  if (e.name === 'choice') return 'choice:' + e.value;
  return e.id || e.tagName; }"""


def unnamed_controls(page: Any) -> list[dict[str, str]]:
    return page.evaluate(UNNAMED)


def low_contrast(page: Any, minimum: float = 4.5) -> list[dict[str, Any]]:
    seen = page.evaluate(CONTRAST)
    assert len(seen) > 10, "the contrast check saw almost no text"
    return [s for s in seen if s["ratio"] < minimum]


def focus_order(page: Any, presses: int = 30) -> list[str]:
    order = []
    for _ in range(presses):
        page.keyboard.press("Tab")
        order.append(page.evaluate(FOCUSED))
    return order


def tab_to(page: Any, target: str, presses: int = 40) -> None:
    for _ in range(presses):
        page.keyboard.press("Tab")
        if page.evaluate(FOCUSED) == target:
            return
    raise AssertionError(f"Tab never reached {target}")


def external_references(html: str) -> list[str]:
    """src/href/action/url() pointing at another host (xmlns namespaces are not loads)."""
    refs = re.findall(r'(?:src|href|action)\s*=\s*["\']((?:https?:)?//[^"\']+)', html, re.I)
    refs += re.findall(r'url\(\s*["\']?((?:https?:)?//[^)"\']+)', html, re.I)
    refs += re.findall(r"@import", html)
    return refs
