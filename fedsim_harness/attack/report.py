"""What a run of the catalogue says: a table for the terminal, JUnit XML
(one testcase per case), JSON, and per case the data an HTML report shows
(the AuthnRequest and the forged Response, decoded)."""
from __future__ import annotations

import json
import re
import shutil
from collections import Counter
from xml.etree import ElementTree as ET

from fedsim_harness.attack.driver import FAILURES, HARNESS, LOGGED_IN, SKIPPED, Result

_SIGNATURE = re.compile(r"<(\w+:)?SignatureValue>.*?</\1SignatureValue>|<(\w+:)?X509Certificate>.*?"
                        r"</\2X509Certificate>", re.DOTALL)


def passed(results: list[Result]) -> bool:
    """The baseline logged in and no case failed."""
    baseline = next((r for r in results if r.case.expect == "login"), None)
    return baseline is not None and baseline.verdict == LOGGED_IN and not any(r.failed for r in results)


def summary(results: list[Result]) -> str:
    counts = Counter(r.verdict for r in results)
    failures = sum(1 for r in results if r.failed)
    parts = ", ".join(f"{n} {v}" for v, n in sorted(counts.items()))
    head = "PASS" if passed(results) else "FAIL"
    return f"{head}: {len(results)} cases ({parts}); {failures} failure(s)"


def table(results: list[Result], width: int | None = None) -> str:
    """Case, group, verdict, detail; one line per case, failures marked."""
    width = width or shutil.get_terminal_size((120, 20)).columns
    id_w = max([len(r.case.id) for r in results] + [4])
    group_w = max([len(r.case.group) for r in results] + [5])
    verdict_w = max([len(r.verdict) for r in results] + [7])
    rows = [f"  {'case':<{id_w}}  {'group':<{group_w}}  {'verdict':<{verdict_w}}  detail"]
    for r in results:
        mark = "!" if r.failed else " "
        line = f"{mark} {r.case.id:<{id_w}}  {r.case.group:<{group_w}}  {r.verdict:<{verdict_w}}  {r.detail}"
        rows.append(line[:max(width, 60)])
    return "\n".join(rows)


def junit(results: list[Result], target: str) -> str:
    """JUnit XML: one testcase per case; a failure for ACCEPTED, VICTIM,
    OFFSITE_REDIRECT, SESSION_NOT_ROTATED, SERVER_ERROR and harness failures;
    a skipped case (it does not apply to the SP) is marked skipped, with why."""
    suite = ET.Element("testsuite", name=f"fedsim attack sp {target}", tests=str(len(results)),
                       failures=str(sum(1 for r in results if r.failed and r.verdict != HARNESS)),
                       errors=str(sum(1 for r in results if r.verdict == HARNESS)),
                       skipped=str(sum(1 for r in results if r.verdict == SKIPPED)),
                       time=f"{sum(r.seconds for r in results):.3f}")
    for r in results:
        case = ET.SubElement(suite, "testcase", classname=f"attack.{r.case.group}", name=r.case.id,
                             time=f"{r.seconds:.3f}")
        if r.verdict == SKIPPED:
            ET.SubElement(case, "skipped", message=r.detail[:500])
        elif r.verdict == HARNESS:
            ET.SubElement(case, "error", message=r.detail[:500], type=r.verdict).text = r.detail
        elif r.failed:
            failure = ET.SubElement(case, "failure", message=f"{r.verdict}: {r.detail}"[:500], type=r.verdict)
            failure.text = f"{r.case.title}\nReference: {r.case.reference}\n{r.detail}"
        ET.SubElement(case, "system-out").text = (f"{r.case.title}\nReference: {r.case.reference}\n"
                                                  f"Verdict: {r.verdict} — {r.detail}")
    ET.indent(suite)
    return ET.tostring(suite, encoding="unicode", xml_declaration=True)


def readable(xml: str) -> str:
    """A message for a report: signature values and certificates shortened."""
    return _SIGNATURE.sub(lambda m: m.group(0).split(">", 1)[0] + ">…</" + m.group(0).rsplit("</", 1)[1], xml)


def case_views(results: list[Result]) -> list[dict]:
    """Per case what an HTML report shows: the case, its verdict, the
    AuthnRequest the SP sent and the forged Response as posted (decoded,
    signature values shortened, at most 20 kB)."""
    return [{
        "id": r.case.id, "group": r.case.group, "title": r.case.title, "reference": r.case.reference,
        "verdict": r.verdict, "failed": r.failed, "detail": r.detail, "status": r.status,
        "relay_state": r.relay_state, "authn_request": readable(r.request_xml),
        "response": readable(r.response_xml)[:20_000], "history": list(r.history),
    } for r in results]


def to_json(results: list[Result], target: str) -> str:
    return json.dumps({"target": target, "passed": passed(results), "summary": summary(results),
                       "cases": case_views(results)}, ensure_ascii=False, indent=2)


def failures(results: list[Result]) -> list[Result]:
    return [r for r in results if r.verdict in FAILURES]


_CSS = ("body{font:14px/1.45 system-ui,sans-serif;margin:2em;color:#222}table{border-collapse:collapse}"
        "td,th{border-bottom:1px solid #ddd;padding:.25em .6em;text-align:left;vertical-align:top}"
        ".fail{color:#b00020;font-weight:bold}.ok{color:#1b5e20}pre{background:#f6f6f6;padding:.6em;"
        "overflow-x:auto;white-space:pre-wrap;word-break:break-all;font-size:12px}details{margin:.3em 0 1em}")


def html(results: list[Result], target: str) -> str:
    """A self-contained page: the summary, a table of every case, and per
    case (a section each) its explanation, reference, verdict and the
    decoded AuthnRequest and forged Response. Everything is escaped."""
    from html import escape as e

    rows, sections = [], []
    for view in case_views(results):
        mark = "fail" if view["failed"] else "ok"
        rows.append(f'<tr><td><a href="#{e(view["id"])}">{e(view["id"])}</a></td><td>{e(view["group"])}</td>'
                    f'<td class="{mark}">{e(view["verdict"])}</td><td>{e(view["detail"])}</td></tr>')
        sections.append(
            f'<section id="{e(view["id"])}"><h3>{e(view["id"])} <span class="{mark}">{e(view["verdict"])}</span>'
            f'</h3><p>{e(view["title"])}<br><small>Reference: {e(view["reference"])}</small></p>'
            f'<p>{e(view["detail"])}</p>'
            f'<details><summary>AuthnRequest sent by the SP</summary><pre>{e(view["authn_request"])}</pre></details>'
            f'<details><summary>Forged Response (RelayState {e(str(view["relay_state"]))})</summary>'
            f'<pre>{e(view["response"])}</pre></details>'
            f'<details><summary>HTTP</summary><pre>{e(chr(10).join(view["history"]))}</pre></details></section>')
    title = f"fedsim attack sp {target}"
    return (f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>{e(title)}</title>'
            f"<style>{_CSS}</style></head><body><h1>{e(title)}</h1><p>{e(summary(results))}</p>"
            "<table><tr><th>case</th><th>group</th><th>verdict</th><th>detail</th></tr>"
            f"{''.join(rows)}</table>{''.join(sections)}</body></html>")


# -- for the scenario runner's HTML report and the admin page ---------------------------

PRETTY_LIMIT = 200_000  # larger messages are shown as posted


def pretty(xml: str) -> str:
    """``xml`` indented for reading, or as it is when it does not parse (a
    truncated, huge, deeply nested or not-XML message). Parsed without
    resolving entities, loading a DTD or using the network: a hostile
    DOCTYPE stays as written (such a message is shown as posted: indenting
    would move its entity references)."""
    from lxml import etree

    if not xml.lstrip().startswith("<") or len(xml) > PRETTY_LIMIT:
        return xml
    parser = etree.XMLParser(resolve_entities=False, load_dtd=False, no_network=True, huge_tree=False,
                             remove_blank_text=True)
    try:
        root = etree.fromstring(xml.encode("utf-8"), parser)
        if root.getroottree().docinfo.internalDTD is not None:
            return xml
        etree.indent(root, space="  ")
        return etree.tostring(root.getroottree(), encoding="unicode")
    except (etree.LxmlError, ValueError, RecursionError):
        return xml


def section(results: list[Result], target: str) -> dict:
    """One run as a report section shows it (the shape of ``to_json``):
    target, passed, summary, and per case ``case_views`` with the
    AuthnRequest and the Response pretty-printed."""
    cases = []
    for view, result in zip(case_views(results), results, strict=True):
        response = pretty(result.response_xml)
        cases.append({**view, "authn_request": readable(pretty(result.request_xml)),
                      "response": readable(response)[:20_000]})
    return {"target": target, "passed": passed(results), "summary": summary(results), "cases": cases}


def verdict_class(view: dict) -> str:
    """A CSS class for a case's verdict: ``fail`` (a failure), ``ok`` (refused,
    or the baseline logged in)."""
    return "fail" if view.get("failed") else "ok"
