#!/usr/bin/env python3
"""Runs model_views.toml with the tributary CLI and checks what its model_stats and boundary ports
wrote: the models family's ctest. Usage: model_views_check.py TRIBUTARY PIPELINE RUN_DIR"""
import json
import math
import shutil
import subprocess
import sys
from pathlib import Path


def fail(message):
    print("model_views_check: " + message, file=sys.stderr)
    sys.exit(1)


def main():
    tributary, pipeline, run_dir = sys.argv[1], sys.argv[2], Path(sys.argv[3])
    shutil.rmtree(run_dir, ignore_errors=True)
    run = subprocess.run([tributary, "run", pipeline, "--run-dir", str(run_dir), "--no-store", "--progress", "off"],
                         capture_output=True, text=True)
    if run.returncode != 0:
        fail("the run failed (%d):\n%s%s" % (run.returncode, run.stdout, run.stderr))

    pictures = [json.loads(line) for line in (run_dir / "boundary.jsonl").read_text().splitlines()]
    if [p["attributes"]["epoch"] for p in pictures] != [1, 3, 5]:
        fail("expected pictures after epochs 1, 3 and 5 (boundary_every = 2), found %s" %
             [p["attributes"]["epoch"] for p in pictures])
    for p in pictures:
        a = p["attributes"]
        if p["shape"] != [64, 64] or len(p["values"]) != 64 * 64:
            fail("the grid is %s, expected [64, 64]" % p["shape"])
        if a["projection"] != "pca" or len(a["classes"]) != 10:
            fail("expected a pca projection and 10 classes: %s" % a)
        if not all(0 <= v < 10 for v in p["values"]):
            fail("a grid cell holds a class outside [0, 10)")
        explained = a["explained"]
        if not (len(explained) == 2 and all(0 < e <= 1 for e in explained) and sum(explained) <= 1):
            fail("explained fractions %s" % explained)
        if explained != pictures[0]["attributes"]["explained"]:
            fail("the principal components changed between pictures")
        if not (a["x0"] < a["x1"] and a["y0"] < a["y1"]):
            fail("an empty range: %s" % a)

    points = [json.loads(line) for line in (run_dir / "model_stats.jsonl").read_text().splitlines()]
    steps = sorted({p["step"] for p in points})
    if not steps or any(s % 20 for s in steps):
        fail("model_stats steps %s are not multiples of stats_every = 20" % steps)
    expected = {"model/%s/%s" % (param, stat)
                for param in ("1.linear.weight", "1.linear.bias", "4.linear.weight", "4.linear.bias")
                for stat in ("weight/mean", "weight/std", "weight/norm", "grad/mean", "grad/std", "grad/norm",
                             "grad/abs_mean")}
    for step in steps:
        names = {p["name"] for p in points if p["step"] == step}
        if names != expected:
            fail("step %d has the points %s, expected %s" % (step, sorted(names), sorted(expected)))
    if not all(math.isfinite(p["value"]) for p in points):
        fail("a model_stats value is not finite")

    # Unlinked, model_stats is not computed at all (the trainer's debug line says when it is).
    text = Path(pipeline).read_text()
    unlinked = run_dir / "unlinked.toml"
    unlinked.write_text(text.replace('"train.model_stats -> stats", ', "").replace(
        '[nodes.stats]\nplugin = "jsonl"\npath   = "${RUN_DIR}/model_stats.jsonl"\n', ""))
    if "train.model_stats" in unlinked.read_text() or "[nodes.stats]" in unlinked.read_text():
        fail("could not unlink model_stats in " + str(unlinked))
    run = subprocess.run([tributary, "run", str(unlinked), "--run-dir", str(run_dir / "unlinked"), "--no-store",
                          "--progress", "off", "--log-level", "train=debug"], capture_output=True, text=True)
    if run.returncode != 0:
        fail("the unlinked run failed (%d):\n%s%s" % (run.returncode, run.stdout, run.stderr))
    log = run.stdout + run.stderr
    if "model_stats at step" in log or "decision boundary after epoch" not in log:
        fail("unlinked, model_stats was computed (or the linked boundary was not):\n" + log)
    # An out-of-range value is refused before the run, at its line and column.
    bad = run_dir / "bad.toml"
    bad.write_text(text.replace("stats_every    = 20", "histogram_bins = 300"))
    line = bad.read_text().splitlines().index("histogram_bins = 300") + 1
    check = subprocess.run([tributary, "validate", str(bad)], capture_output=True, text=True)
    where = "%s:%d:18: error: node 'train' (trainer): 'histogram_bins' is 300, out of range" % (bad, line)
    if check.returncode == 0 or where not in check.stdout + check.stderr:
        fail("expected '%s' from validate, found (%d):\n%s%s" % (where, check.returncode, check.stdout, check.stderr))
    print("model_views_check: %d pictures, %d model_stats packets: as declared; none unlinked" %
          (len(pictures), len(steps)))


main()
