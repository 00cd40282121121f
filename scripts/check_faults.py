"""Prove the test suite catches the faults listed under tests/faults/.

    .venv/bin/python scripts/check_faults.py [NAME ...] [--tier fast|named|both] [--report FILE]

Each fault is a small patch (`git apply` format) whose first two lines say
what it breaks and which test is meant to catch it:

    Fault: <one sentence>
    Caught-by: <pytest node id> [<node id> ...]

(several node ids when the named test is one of a sequence sharing a module
fixture: the tests before it that build the state it starts from, then it).

For each fault (all, or the NAMEs given: patch file names without `.patch`)
the script copies the working tree (tracked and untracked files git does not
ignore) to a scratch folder, applies the patch there, and runs

- the fast tier (`pytest --fast`, as `make test-fast`), stopping at the first
  failure, and
- the named test, first on the copy without the patch (the control: it must
  pass there, or the fault could be "caught" by a test that fails anyway,
  e.g. one run without the tests its state comes from), then with it,

each in the scratch copy (its `ml`, `datagen`, adapter and models come first
on the path). A run that fails a test catches the fault; one that passes
misses it; one that cannot run (the patch does not apply, pytest cannot
collect) is an error. It prints one line per fault and a summary, writes the
table to --report if given, and exits 1 when a fault is missed by every tier
it ran, 2 on an error. A tool for developers, not part of `make test`: a
full pass builds the demo period once per dbt fault.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FAULTS_DIR = ROOT / "tests" / "faults"
# The fast tier (defined in tests/python/conftest.py; `make test-fast`).
FAST_TIER = ["--fast"]
TIMEOUT_SECONDS = 3600
# The named tier's state when its tests fail on the copy without the patch.
CONTROL_FAILED = "fails without the fault"


@dataclass
class Fault:
    name: str
    patch: Path
    description: str
    caught_by: list[str]


@dataclass
class Outcome:
    fault: Fault
    tiers: dict[str, tuple[str, float]] = field(default_factory=dict)  # tier -> (caught|missed|error, seconds)

    @property
    def verdict(self) -> str:
        states = [state for state, _ in self.tiers.values()]
        if CONTROL_FAILED in states:
            return "error"
        if "caught" in states:
            return "caught by " + " and ".join(tier for tier, (state, _) in self.tiers.items() if state == "caught")
        return "error" if "error" in states else "MISSED"


def read_fault(patch: Path) -> Fault:
    header = {}
    for line in patch.read_text().splitlines():
        if line.startswith("diff --git"):
            break
        key, _, value = line.partition(": ")
        if key in ("Fault", "Caught-by"):
            header[key] = value.strip()
    missing = {"Fault", "Caught-by"} - set(header)
    if missing:
        raise SystemExit(f"{patch}: no {' or '.join(sorted(missing))} line before the diff")
    return Fault(patch.stem, patch, header["Fault"], header["Caught-by"].split())


def list_faults(names: list[str]) -> list[Fault]:
    faults = [read_fault(path) for path in sorted(FAULTS_DIR.glob("*.patch"))]
    if names:
        unknown = set(names) - {fault.name for fault in faults}
        if unknown:
            raise SystemExit(f"no fault named {', '.join(sorted(unknown))} under {FAULTS_DIR}")
        faults = [fault for fault in faults if fault.name in names]
    return faults


def copy_working_tree(destination: Path) -> None:
    """Tracked and untracked, not ignored, files: what the developer has now."""
    listed = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
                            cwd=ROOT, capture_output=True, check=True).stdout.decode().split("\0")
    for relative in filter(None, listed):
        source = ROOT / relative
        if source.is_file():
            target = destination / relative
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target)


# The installed adapter's namespace packages (dbt.adapters, dbt.include) list
# site-packages first, so a path entry alone does not put the copy's adapter
# ahead: every Python process of a run (pytest, dbt, killable builds) starts
# with this sitecustomize, which does.
SITECUSTOMIZE = """# written by scripts/check_faults.py: the copy's adapter before the installed one
import dbt.adapters
import dbt.include
dbt.adapters.__path__.insert(0, {adapters!r})
dbt.include.__path__.insert(0, {include!r})
"""


def write_sitecustomize(copy: Path) -> Path:
    """The folder of the copy's sitecustomize.py (beside the copy)."""
    site = copy.parent / "site"
    site.mkdir(exist_ok=True)
    (site / "sitecustomize.py").write_text(SITECUSTOMIZE.format(
        adapters=str(copy / "adapter" / "dbt" / "adapters"), include=str(copy / "adapter" / "dbt" / "include")))
    return site


def run_pytest(copy: Path, site: Path, arguments: list[str], log: Path) -> tuple[str, float]:
    environment = {
        **os.environ,
        # the copy's packages and adapter before the installed ones
        "PYTHONPATH": os.pathsep.join([str(site), str(copy), os.environ.get("PYTHONPATH", "")]),
        "PYTEST_ADDOPTS": f"--basetemp={copy.parent / ('pytest-' + log.stem)} -p no:cacheprovider",
    }
    started = time.monotonic()
    with log.open("w") as output:
        done = subprocess.run([sys.executable, "-m", "pytest", "-q", *arguments], cwd=copy, env=environment,
                              stdout=output, stderr=subprocess.STDOUT, timeout=TIMEOUT_SECONDS)
    seconds = time.monotonic() - started
    # pytest: 0 all passed, 1 some test failed or errored, others: it could not run the tests
    return {0: "missed", 1: "caught"}.get(done.returncode, "error"), seconds


def check(fault: Fault, tiers: list[str], scratch: Path) -> Outcome:
    outcome = Outcome(fault)
    copy = scratch / fault.name / "repo"
    copy_working_tree(copy)
    site = write_sitecustomize(copy)
    if "named" in tiers:
        control, seconds = run_pytest(copy, site, fault.caught_by, scratch / fault.name / "control.log")
        if control != "missed":  # the named tests fail (or cannot run) without the fault
            print(f"{fault.name}: the named test does not pass without the fault (see control.log)",
                  file=sys.stderr)
            outcome.tiers["named"] = (CONTROL_FAILED, seconds)
            tiers = [tier for tier in tiers if tier != "named"]
    applied = subprocess.run(["git", "apply", str(fault.patch)], cwd=copy, capture_output=True, text=True)
    if applied.returncode != 0:
        for tier in tiers:
            outcome.tiers[tier] = ("error", 0.0)
        print(f"{fault.name}: the patch does not apply: {applied.stderr.strip()}", file=sys.stderr)
        return outcome
    for tier in tiers:
        arguments = [*FAST_TIER, "-x"] if tier == "fast" else fault.caught_by
        outcome.tiers[tier] = run_pytest(copy, site, arguments, scratch / fault.name / f"{tier}.log")
    shutil.rmtree(copy, ignore_errors=True)
    return outcome


def table(outcomes: list[Outcome], tiers: list[str]) -> str:
    header = ["fault", *[f"{tier} tier" for tier in tiers], "verdict", "meant to be caught by"]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for outcome in outcomes:
        cells = [f"{outcome.tiers[tier][0]} ({outcome.tiers[tier][1]:.0f} s)" for tier in tiers]
        lines.append(f"| {outcome.fault.name} | " + " | ".join(cells)
                     + f" | {outcome.verdict} | `{' '.join(outcome.fault.caught_by)}` |")
    return "\n".join(lines)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("names", nargs="*", help="faults to check (default: all)")
    parser.add_argument("--tier", choices=["fast", "named", "both"], default="both")
    parser.add_argument("--report", type=Path, help="also write the table (Markdown) here")
    args = parser.parse_args(argv)
    tiers = ["fast", "named"] if args.tier == "both" else [args.tier]
    faults = list_faults(args.names)
    outcomes = []
    with tempfile.TemporaryDirectory(prefix="rees46-faults-") as scratch:
        for fault in faults:
            outcome = check(fault, tiers, Path(scratch))
            outcomes.append(outcome)
            timings = ", ".join(f"{tier} {state} in {seconds:.0f} s" for tier, (state, seconds) in outcome.tiers.items())
            print(f"{fault.name}: {outcome.verdict} ({timings})", flush=True)
            if outcome.verdict in ("MISSED", "error"):
                kept = ROOT / "target" / "faults" / fault.name
                shutil.rmtree(kept, ignore_errors=True)
                shutil.copytree(Path(scratch) / fault.name, kept, ignore=shutil.ignore_patterns("repo", "pytest-*"))
                print(f"  logs: {kept}", flush=True)
    report = table(outcomes, tiers)
    print(report)
    if args.report:
        args.report.write_text(report + "\n")
    missed = [o.fault.name for o in outcomes if o.verdict == "MISSED"]
    errors = [o.fault.name for o in outcomes if o.verdict == "error"]
    caught = len(outcomes) - len(missed) - len(errors)
    print(f"{caught} of {len(outcomes)} faults caught; missed: {', '.join(missed) or 'none'}; "
          f"errors: {', '.join(errors) or 'none'}")
    return 2 if errors else 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
