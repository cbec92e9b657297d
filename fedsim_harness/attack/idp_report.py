"""What a run of the hostile-SP catalogue says: the terminal table and the
JUnit XML of ``report`` (its functions read any result with a case, a
verdict and a detail), with the IdP side's own verdict on the run and JSON
(the hostile request and the IdP's answer, decoded)."""
from __future__ import annotations

import json
from collections import Counter

from fedsim_harness.attack import report
from fedsim_harness.attack.idp_driver import ISSUED_OK, IdpResult

table = report.table


def passed(results: list[IdpResult]) -> bool:
    """The baseline got its assertion and no case failed."""
    baseline = next((r for r in results if r.case.expect == "assertion"), None)
    return baseline is not None and baseline.verdict == ISSUED_OK and not any(r.failed for r in results)


def summary(results: list[IdpResult]) -> str:
    counts = Counter(r.verdict for r in results)
    failures = sum(1 for r in results if r.failed)
    parts = ", ".join(f"{n} {v}" for v, n in sorted(counts.items()))
    return f"{'PASS' if passed(results) else 'FAIL'}: {len(results)} cases ({parts}); {failures} failure(s)"


def junit(results: list[IdpResult], target: str) -> str:
    text = report.junit(results, target)  # testcases classname attack.<group>
    return text.replace(f'name="fedsim attack sp {_escaped(target)}"', f'name="fedsim attack idp {_escaped(target)}"',
                        1).replace('classname="attack.', 'classname="attack.idp.')


def _escaped(text: str) -> str:
    from xml.sax.saxutils import quoteattr
    return quoteattr(text)[1:-1]


def to_json(results: list[IdpResult], target: str) -> str:
    cases = [{
        "id": r.case.id, "group": r.case.group, "title": r.case.title, "reference": r.case.reference,
        "verdict": r.verdict, "failed": r.failed, "detail": r.detail, "status": r.status,
        "relay_state": r.relay_state, "request": report.readable(r.request_xml)[:20_000],
        "idp_answer": report.readable(r.response_xml)[:20_000], "history": list(r.history),
    } for r in results]
    return json.dumps({"target": target, "side": "idp", "passed": passed(results), "summary": summary(results),
                       "cases": cases}, ensure_ascii=False, indent=2)
