#!/usr/bin/python3
"""The trainer end to end on the tiny 'smoke' preset (needs data/cifar10 from
scripts/get-cifar10; skipped without it): export and summary are written, the exported file
loads and agrees with the C engine, and a run interrupted and resumed ends bit-identical to an uninterrupted one."""
import json
import os
import shutil
import subprocess
import sys
import tempfile
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.abspath(os.path.join(HERE, "..", ".."))
sys.path.insert(0, os.path.join(REPO, "python"))
from dynrt_ref.data import data_dir  # noqa: E402

TRAIN = os.path.join(REPO, "scripts", "train")


def train(root, *extra):
    return subprocess.run([TRAIN, "--preset", "smoke", "--root", root, "--threads", "1",
                           "--print-every", "1000"] + list(extra),
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def read(path):
    with open(path, "rb") as f:
        return f.read()


@unittest.skipUnless(os.path.exists(os.path.join(data_dir(), "train.bin")), "no CIFAR-10: run scripts/get-cifar10")
class TrainSmokeTest(unittest.TestCase):
    def test_resume_is_exact(self):
        with tempfile.TemporaryDirectory() as a, tempfile.TemporaryDirectory() as b:
            r = train(a)
            self.assertEqual(r.returncode, 0, r.stdout)
            model = os.path.join(a, "models", "cifar10-smoke.safetensors")
            summary = json.loads(read(os.path.join(a, "models", "cifar10-smoke.train.json")))
            for k in ("val_largest_top1", "test_smallest_top1", "epochs_per_phase", "wall_time_s", "command"):
                self.assertIn(k, summary)
            from dynrt_ref.safetensors_io import load_dynrt
            load_dynrt(model)
            # the export checked with the C engine (ctest gives the binary in $DYNRT_BIN)
            if os.environ.get("DYNRT_BIN"):
                self.assertTrue(summary["engine_check"]["verified"], summary["engine_check"])
                self.assertIn("verified with the C engine", r.stdout)
            # interrupt twice: in the first phase and in the elastic phase
            for stop in ("10", "12"):
                r = train(b, "--resume", "--stop-after", stop)
                self.assertEqual(r.returncode, 0, r.stdout)
                self.assertIn("stopped after", r.stdout)
            r = train(b, "--resume")
            self.assertEqual(r.returncode, 0, r.stdout)
            self.assertEqual(read(model), read(os.path.join(b, "models", "cifar10-smoke.safetensors")))
            # interrupted between the phases: resume from the phase-end checkpoint
            with tempfile.TemporaryDirectory() as c:
                os.makedirs(os.path.join(c, "checkpoints", "smoke"))
                shutil.copyfile(os.path.join(a, "checkpoints", "smoke", "phase0_end.pt"),
                                os.path.join(c, "checkpoints", "smoke", "last.pt"))
                r = train(c, "--resume")
                self.assertEqual(r.returncode, 0, r.stdout)
                self.assertEqual(read(model), read(os.path.join(c, "models", "cifar10-smoke.safetensors")))
            # a fresh run that takes its first phase from another run's phase-end checkpoint
            with tempfile.TemporaryDirectory() as c:
                r = train(c, "--init-from", os.path.join(a, "checkpoints", "smoke", "phase0_end.pt"))
                self.assertEqual(r.returncode, 0, r.stdout)
                self.assertEqual(read(model), read(os.path.join(c, "models", "cifar10-smoke.safetensors")))


if __name__ == "__main__":
    unittest.main()
