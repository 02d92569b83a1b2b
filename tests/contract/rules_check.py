#!/usr/bin/python3
"""What promtool cannot tell about contrib/prometheus/patients.rules.yml.

    rules_check.py RULES TESTS README METRICS...

- every alert follows the conventions: a `for:`, a `severity` label of
  critical or warning, `summary` and `runbook_url` annotations, the runbook
  an anchor of a heading in README;
- every alert has a promtool test that shows it firing and one that shows
  it quiet (exp_alerts empty) in TESTS;
- every metric the expressions name is one the daemons export, according to
  METRICS (scrapes of their /metrics, Prometheus text format), and every
  label value an expression matches exactly (status="503") is one they
  expose: a typo there would make an alert that can never fire, and the
  unit tests, written with the same typo, would not see it.

Prints "ok - " / "not ok - " lines and "rules: N alerts, N tests"; exits 1
on any failure.
"""

import re
import sys

import yaml

SEVERITIES = {"critical", "warning"}


def github_anchor(heading):
    """The anchor GitHub gives a Markdown heading."""
    a = heading.strip().lower()
    a = re.sub(r"[^\w\- ]", "", a)
    return a.replace(" ", "-")


def main(argv):
    if len(argv) < 5:
        print(__doc__)
        return 2
    rules_path, tests_path, readme_path, metrics_paths = argv[1], argv[2], argv[3], argv[4:]
    failures = 0
    checks = 0

    def check(cond, what, why=""):
        nonlocal failures, checks
        checks += 1
        if cond:
            print(f"ok - {what}")
        else:
            failures += 1
            print(f"not ok - {what}" + (f"\n    {why}" if why else ""))

    with open(rules_path, encoding="utf-8") as f:
        rules = yaml.safe_load(f)
    with open(tests_path, encoding="utf-8") as f:
        tests = yaml.safe_load(f)
    with open(readme_path, encoding="utf-8") as f:
        anchors = {github_anchor(m.group(1))
                   for m in re.finditer(r"^#+ (.+)$", f.read(), re.M)}

    # Families and samples the daemons export.
    families = {}  # name -> type
    samples = []  # (name, {label: value})
    for path in metrics_paths:
        with open(path, encoding="utf-8") as f:
            for line in f:
                m = re.match(r"# TYPE (\S+) (\S+)", line)
                if m:
                    families[m.group(1)] = m.group(2)
                    continue
                if line.startswith("#") or not line.strip():
                    continue
                m = re.match(r"([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})? ", line)
                if m:
                    labels = dict(re.findall(r'(\w+)="((?:[^"\\]|\\.)*)"', m.group(3) or ""))
                    samples.append((m.group(1), labels))
    check(families, "the scrapes hold metric families", f"none in {metrics_paths}")

    def family_of(name):
        if name in families:
            return name
        base = re.sub(r"_(bucket|sum|count)$", "", name)
        return base if families.get(base) == "histogram" else None

    alerts = [r for g in rules["groups"] for r in g["rules"] if "alert" in r]
    firing, quiet = {}, {}
    for t in tests.get("tests", []):
        for a in t.get("alert_rule_test", []):
            d = firing if a.get("exp_alerts") else quiet
            d[a["alertname"]] = d.get(a["alertname"], 0) + 1

    for r in alerts:
        name = r["alert"]
        ann = r.get("annotations", {})
        sev = r.get("labels", {}).get("severity")
        check("for" in r, f"{name}: has a for:")
        check(sev in SEVERITIES, f"{name}: severity is critical or warning", f"got {sev!r}")
        check(ann.get("summary"), f"{name}: has a summary")
        rb = ann.get("runbook_url", "")
        m = re.fullmatch(r"README\.md#([\w-]+)", rb)
        check(m and m.group(1) in anchors, f"{name}: runbook_url is a heading of the README",
              f"{rb!r}")
        check(firing.get(name), f"{name}: a test shows it firing")
        check(quiet.get(name), f"{name}: a test shows it quiet")
        expr = r["expr"]
        for metric in sorted(set(re.findall(r"\b(patients_[a-z_]+)\b", expr))):
            check(family_of(metric), f"{name}: the daemons export {metric}")
        for metric, matchers in re.findall(r"\b(patients_[a-z_]+)\{([^}]*)\}", expr):
            for label, value in re.findall(r'(\w+)="([^"]*)"', matchers):
                seen = any(s == metric and lab.get(label) == value for s, lab in samples)
                check(seen, f'{name}: {metric} has a sample with {label}="{value}"')
    check(len(alerts) == len({r["alert"] for r in alerts}), "alert names are unique")
    print(f"rules: {len(alerts)} alerts, "
          f"{sum(firing.values())} firing and {sum(quiet.values())} quiet tests, "
          f"{checks} checks, {failures} failed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
