"""One self-contained HTML file per run: a summary table, then every
scenario and every step — its guide steps, what it says, its time and
outcome; a failing step's error and what the page said; each SAML message
of the step decoded (``fedsim_harness.scenario.saml_view``) with its
signatures checked against the federation's metadata, the XML one click
away; the step's screenshot when the run was made in Chromium
(``fedsim_harness.scenario.chromium``). Runs of the hostile-IdP catalogue
(``fedsim_harness.attack.report.section``) get a section each: every case
with its verdict, explanation and reference, and the AuthnRequest and the
forged Response decoded.

Inline CSS, no script, no external asset (screenshots are data: URIs).
Everything that comes from a page or a message is escaped."""
from __future__ import annotations

import base64
import re
from collections.abc import Sequence
from datetime import datetime, timezone
from html import escape
from pathlib import Path

from fedsim_harness.scenario import oidc_view, saml_view
from fedsim_harness.scenario.oidc_view import OidcMessage
from fedsim_harness.scenario.runner import ScenarioResult, StepResult
from fedsim_harness.scenario.saml_view import SamlView, SignatureCheck, Trust

__all__ = ["render_html", "write_html"]


def write_html(results: Sequence[ScenarioResult], path: Path, *, title: str = "fedsim — scenario report",
               trust: Trust | None = None, certs_dir: Path | None = None,
               attacks: Sequence[dict] = ()) -> Path:
    """Write the report of ``results`` to ``path`` (folders made as needed)
    and return ``path``. Signatures are verified against ``trust``, or the
    metadata files of ``certs_dir`` (the federation's ``certs/``, read now:
    call this before that folder goes); with neither they are shown as not
    checked. ``attacks``: runs of the hostile-IdP catalogue, each as
    ``fedsim_harness.attack.report.section`` makes it."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render_html(results, title=title, trust=trust, certs_dir=certs_dir, attacks=attacks),
                    encoding="utf-8")
    return path


def render_html(results: Sequence[ScenarioResult], *, title: str = "fedsim — scenario report",
                trust: Trust | None = None, certs_dir: Path | None = None, attacks: Sequence[dict] = ()) -> str:
    unchecked = "signatures not checked (no metadata given)"
    if trust is None and certs_dir is not None:
        loaded = Trust.from_certs_dir(certs_dir)
        trust = loaded if loaded.certificates else None
        unchecked = f"signatures not checked (no metadata in {certs_dir})"
    passed = sum(r.ok for r in results)
    total_ms = sum(r.ms for r in results)
    generated = datetime.now(timezone.utc).astimezone().strftime("%Y-%m-%d %H:%M:%S %z")
    anchors = _anchors(results)
    attack_anchors = [_attack_anchor(run, i) for i, run in enumerate(attacks)]
    checked = ("signatures verified against the federation's metadata "
               f"({len(trust.certificates)} signing certificates)" if trust is not None else unchecked)
    parts = [
        "<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{_e(title)}</title><style>{_CSS}</style></head><body>",
        f"<header><h1>{_e(title)}</h1><p class=\"run\">{passed} passed, {len(results) - passed} failed, "
        f"{total_ms / 1000:.1f} s of steps · generated {_e(generated)} · {_e(checked)}</p></header>",
        _summary(results, anchors),
        _attack_summary(attacks, attack_anchors),
        *(_scenario(result, anchors[i], trust) for i, result in enumerate(results)),
        *(_attack(run, anchor) for run, anchor in zip(attacks, attack_anchors, strict=True)),
        "</body></html>",
    ]
    return "\n".join(parts)


# -- pieces ------------------------------------------------------------------------------


def _e(value: object) -> str:
    return escape(str(value), quote=True)


def _anchors(results: Sequence[ScenarioResult]) -> list[str]:
    seen: dict[str, int] = {}
    anchors = []
    for result in results:
        slug = "scenario-" + (re.sub(r"[^A-Za-z0-9_-]+", "-", result.scenario.name).strip("-") or "unnamed")
        seen[slug] = seen.get(slug, 0) + 1
        anchors.append(slug if seen[slug] == 1 else f"{slug}-{seen[slug]}")
    return anchors


def _mark(ok: bool | None, yes: str = "PASS", no: str = "FAIL") -> str:
    if ok is None:
        return '<span class="badge skip">not run</span>'
    return f'<span class="badge {"ok" if ok else "fail"}">{yes if ok else no}</span>'


def _summary(results: Sequence[ScenarioResult], anchors: list[str]) -> str:
    rows = []
    for result, anchor in zip(results, anchors, strict=True):
        guide = ", ".join(result.scenario.guide_steps)
        note = result.cause if not result.ok else result.scenario.title
        rows.append(f'<tr><td><a href="#{_e(anchor)}">{_e(result.scenario.name)}</a></td><td>{_mark(result.ok)}</td>'
                    f'<td class="num">{result.ms / 1000:.2f} s</td><td>{_e(guide)}</td><td>{_e(note)}</td></tr>')
    return ('<section class="summary"><h2>Summary</h2><table><thead><tr><th>Scenario</th><th>Result</th>'
            '<th>Time</th><th>Guide steps</th><th>Title / cause</th></tr></thead><tbody>'
            + "".join(rows) + "</tbody></table></section>")


def _scenario(result: ScenarioResult, anchor: str, trust: Trust | None) -> str:
    scenario = result.scenario
    head = [f'<section class="scenario {"ok" if result.ok else "fail"}" id="{_e(anchor)}">',
            f"<h2>{_mark(result.ok)} {_e(scenario.name)}</h2>"]
    about = [("Title", scenario.title), ("Persona", scenario.persona), ("File", scenario.path or ""),
             ("Guide steps", ", ".join(scenario.guide_steps)), ("Time", f"{result.ms / 1000:.2f} s")]
    trace = getattr(result, "trace", "")  # chromium.BrowserScenarioResult: the Playwright trace of a failure
    if trace:
        about.append(("Playwright trace", f"{trace} (open with: playwright show-trace)"))
    head.append(_facts(about))
    if result.error:
        head.append(f'<p class="error">{_e(result.error)}</p>')
    steps = [_step(step, trust) for step in result.steps]
    for index in range(len(result.steps) + 1, len(scenario.steps) + 1):
        step = scenario.steps[index - 1]
        steps.append(f'<article class="step skip"><h3>{_mark(None)} Step {index} · {_e(", ".join(step.guide))}'
                     f"</h3><p class=\"say\">{_e(step.say)}</p>{_action(step)}</article>")
    return "\n".join([*head, *steps, "</section>"])


def _step(outcome: StepResult, trust: Trust | None) -> str:
    step = outcome.step
    parts = [f'<article class="step {"ok" if outcome.ok else "fail"}">',
             f"<h3>{_mark(outcome.ok, 'passed', 'FAILED')} Step {outcome.index} · {_e(', '.join(step.guide))} "
             f'<span class="time">{outcome.ms:.0f} ms</span></h3>']
    if step.say:
        parts.append(f'<p class="say">{_e(step.say)}</p>')
    parts.append(_action(step))
    if outcome.url:
        parts.append(f'<p class="page">Page: <code>{_e(outcome.url)}</code> (HTTP {_e(outcome.status)})</p>')
    if not outcome.ok:
        parts.append(f'<p class="error">{_e(outcome.error)}</p>')
        if outcome.page_said:
            parts.append(f'<div class="said"><h4>The page said</h4><p>{_e(outcome.page_said)}</p></div>')
        if outcome.requests:
            items = "".join(f"<li><code>{_e(r)}</code></li>" for r in outcome.requests)
            parts.append(f'<details><summary>Requests of this step ({len(outcome.requests)})</summary>'
                         f"<ol>{items}</ol></details>")
    shot = getattr(outcome, "screenshot", b"")  # chromium.BrowserStepResult
    if shot:
        data = base64.b64encode(shot).decode("ascii")
        parts.append(f'<details class="shot" open><summary>Screenshot after step {outcome.index}</summary>'
                     f'<img alt="Screenshot after step {outcome.index}" src="data:image/png;base64,{data}">'
                     "</details>")
    for message in outcome.saml:
        if isinstance(message, OidcMessage):
            parts.append(_oidc(message))
        else:
            parts.append(_message(saml_view.read(message, trust)))
    parts.append("</article>")
    return "\n".join(parts)


def _action(step) -> str:  # noqa: ANN001 - model.Step
    argument = step.argument
    if isinstance(argument, dict):
        shown = ", ".join(f"{k}: {v}" for k, v in argument.items())
    else:
        shown = str(argument)
    extra = [f"within « {step.within} »" if step.within else "", f"button « {step.button} »" if step.button else "",
             "repeated while present" if step.repeat else ""]
    checks = [f"shows « {w} »" for w in step.expect]
    if step.expect_url:
        checks.append(f"URL contains « {step.expect_url} »")
    if step.expect_status is not None:
        checks.append(f"HTTP {step.expect_status}")
    text = f"<p class=\"action\"><b>{_e(step.action)}</b> {_e(shown)}"
    text += "".join(f" · {_e(x)}" for x in extra if x) + "</p>"
    if checks:
        text += '<p class="expect">Expects: ' + " · ".join(_e(c) for c in checks) + "</p>"
    return text


def _facts(rows: list[tuple[str, object]]) -> str:
    cells = "".join(f"<dt>{_e(label)}</dt><dd>{_e(value)}</dd>" for label, value in rows if value not in ("", None))
    return f'<dl class="facts">{cells}</dl>'


def _signature(check: SignatureCheck) -> str:
    state = {True: "ok", False: "fail", None: "skip"}[check.verified]
    claimed = f'<br><small>{_e(check.claimed)}</small>' if check.claimed else ""
    return f'<li class="sig {state}"><b>{_e(check.what)}:</b> {_e(check.summary)}{claimed}</li>'


def _message(view: SamlView) -> str:
    state = {True: "ok", False: "fail", None: "skip"}[view.verified]
    verdict = {True: "signatures verified", False: "a signature is NOT verified", None: "signatures not checked"}
    parts = [f'<div class="saml {state}"><h4>{_e(view.headline)} <span class="verdict">{verdict[view.verified]}'
             "</span></h4>"]
    if view.error:
        parts.append(f'<p class="error">{_e(view.error)}</p>')
    parts.append(_facts(view.facts()))
    parts.append(f'<ul class="signatures">{"".join(_signature(c) for c in view.signatures)}</ul>')
    for number, assertion in enumerate(view.assertions, 1):
        facts = _facts(saml_view.assertion_facts(assertion))
        parts.append(f'<div class="assertion"><h5>Assertion {number}</h5>{facts}')
        if assertion.attributes:
            rows = "".join(f"<tr><td>{_e(name)}</td><td>{'<br>'.join(_e(v) for v in values)}</td></tr>"
                           for name, values in assertion.attributes)
            parts.append(f'<table class="attributes"><thead><tr><th>Attribute</th><th>Values</th></tr></thead>'
                         f"<tbody>{rows}</tbody></table>")
        if assertion.signature is not None:
            parts.append(f'<ul class="signatures">{_signature(assertion.signature)}</ul>')
        parts.append("</div>")
    parts.append(f"<details><summary>XML of the {_e(view.kind or view.parameter)}</summary>"
                 f"<pre>{_e(view.xml)}</pre></details></div>")
    return "".join(parts)


def _attack_anchor(run: dict, index: int) -> str:
    slug = re.sub(r"[^A-Za-z0-9_-]+", "-", str(run.get("target", ""))).strip("-") or "sp"
    return f"attack-{index + 1}-{slug}"


def _attack_summary(attacks: Sequence[dict], anchors: list[str]) -> str:
    if not attacks:
        return ""
    items = "".join(f'<li>{_mark(bool(run.get("passed")))} <a href="#{_e(anchor)}">{_e(run.get("target", ""))}</a>'
                    f' — {_e(run.get("summary", ""))}</li>' for run, anchor in zip(attacks, anchors, strict=True))
    return f'<section class="summary"><h2>Hostile IdP (fedsim attack sp)</h2><ul>{items}</ul></section>'


def _attack(run: dict, anchor: str) -> str:
    """A run of the hostile-IdP catalogue against one SP: its summary, then a
    row per case (verdict, explanation, reference, what the SP answered) with
    the decoded AuthnRequest and forged Response one click away."""
    rows = []
    for view in run.get("cases", ()):
        failed = bool(view.get("failed"))
        relay = view.get("relay_state")
        messages = [("AuthnRequest sent by the SP", view.get("authn_request", "")),
                    ("Forged Response" + (f" (RelayState {relay})" if relay is not None else ""),
                     view.get("response", ""))]
        shown = "".join(f"<details><summary>{_e(label)}</summary><pre>{_e(text)}</pre></details>"
                        for label, text in messages if text)
        if view.get("history"):
            shown += (f"<details><summary>HTTP exchanges ({len(view['history'])})</summary>"
                      f"<pre>{_e(chr(10).join(view['history']))}</pre></details>")
        rows.append(f'<tr class="{"fail" if failed else "ok"}" id="{_e(anchor)}-{_e(view.get("id", ""))}">'
                    f'<td><code>{_e(view.get("id", ""))}</code></td><td>{_e(view.get("group", ""))}</td>'
                    f'<td><span class="badge {"fail" if failed else "ok"}">{_e(view.get("verdict", ""))}</span></td>'
                    f'<td>{_e(view.get("title", ""))}<br><small class="ref">Reference: {_e(view.get("reference", ""))}'
                    f'</small><div class="said-by-sp">{_e(view.get("detail", ""))}</div>{shown}</td></tr>')
    ok = bool(run.get("passed"))
    return (f'<section class="attack scenario {"ok" if ok else "fail"}" id="{_e(anchor)}">'
            f'<h2>{_mark(ok)} Hostile IdP against {_e(run.get("target", ""))}</h2>'
            f'<p class="run">{_e(run.get("summary", ""))}</p>'
            '<table class="attack-cases"><thead><tr><th>Case</th><th>Group</th><th>Verdict</th>'
            "<th>Explanation, reference, what the SP did, messages</th></tr></thead><tbody>"
            + "".join(rows) + "</tbody></table></section>")


def _oidc(message: OidcMessage) -> str:
    return (f'<div class="saml skip"><h4>{_e(message.kind)} <span class="verdict">JWTs decoded, not verified'
            f"</span></h4>{_facts(oidc_view.facts(message))}"
            f"<details><summary>Parameters and tokens</summary><pre>{_e(message.xml)}</pre></details></div>")


_CSS = """
body{font:15px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:0 auto;max-width:1100px;
padding:1rem 1.5rem;color:#1d2733;background:#fff}
h1{font-size:1.6rem;margin:.2rem 0}h2{font-size:1.3rem;margin:.2rem 0 .6rem}
h3{font-size:1.05rem;margin:0 0 .3rem}h4{font-size:.98rem;margin:.2rem 0}h5{margin:.3rem 0;font-size:.92rem}
.run{color:#556}table{border-collapse:collapse;width:100%}th,td{border:1px solid #d5dbe3;padding:.3rem .5rem;
text-align:left;vertical-align:top}th{background:#f1f4f8}td.num{text-align:right;white-space:nowrap}
.scenario{border-top:3px solid #d5dbe3;margin-top:2rem;padding-top:.6rem}.scenario.fail{border-top-color:#c62828}
.step{border:1px solid #d5dbe3;border-left:5px solid #2e7d32;border-radius:4px;margin:.7rem 0;padding:.5rem .8rem}
.step.fail{border-left-color:#c62828;background:#fff7f7}.step.skip{border-left-color:#9aa5b1;color:#667}
.badge{display:inline-block;border-radius:3px;padding:0 .4rem;font-size:.8rem;font-weight:700;color:#fff;
background:#2e7d32;vertical-align:middle}.badge.fail{background:#c62828}.badge.skip{background:#9aa5b1}
.time{color:#667;font-weight:400;font-size:.85rem}.say{margin:.1rem 0;font-style:italic}
.action,.expect,.page{margin:.1rem 0;font-size:.9rem}.error{color:#b71c1c;font-weight:600;white-space:pre-wrap}
.said{background:#fff;border:1px dashed #c62828;padding:.2rem .6rem;margin:.3rem 0}.said p{white-space:pre-wrap}
dl.facts{display:grid;grid-template-columns:max-content 1fr;gap:.1rem .8rem;margin:.3rem 0;font-size:.88rem}
dl.facts dt{color:#556;font-weight:600}dl.facts dd{margin:0;overflow-wrap:anywhere}
.saml{border:1px solid #c5d0dc;border-radius:4px;margin:.5rem 0;padding:.3rem .7rem;background:#f8fafc}
.saml.fail{border-color:#c62828;background:#fff3f3}.verdict{font-weight:400;font-size:.85rem;color:#2e7d32}
.saml.fail .verdict{color:#b71c1c;font-weight:700}.saml.skip .verdict{color:#667}
.assertion{border-left:3px solid #c5d0dc;padding-left:.6rem;margin:.3rem 0}
table.attributes{width:auto;font-size:.88rem;margin:.3rem 0}
ul.signatures{margin:.3rem 0;padding-left:1.1rem;font-size:.88rem}li.sig.ok{color:#1b5e20}
li.sig.fail{color:#b71c1c;font-weight:600}li.sig.skip{color:#667}
pre{white-space:pre-wrap;overflow-wrap:anywhere;font-size:.78rem;background:#fff;border:1px solid #d5dbe3;
padding:.4rem;max-height:40rem;overflow:auto}summary{cursor:pointer;color:#1f4e8c}
details.shot{margin:.4rem 0}details.shot img{display:block;max-width:min(100%,820px);margin-top:.3rem;
border:1px solid #c5d0dc}code{font-size:.85rem;overflow-wrap:anywhere}
table.attack-cases{font-size:.88rem}table.attack-cases tr.fail td{background:#fff3f3}small.ref{color:#556}
.said-by-sp{color:#445;margin:.15rem 0}
"""
