#!/usr/bin/python3
"""scripts/headline's interleaved re-timing (remeasure), with `dynrt bench` replaced by a
recorded fake: every sub-network of every library is timed once per round, the latency is the
median of its rounds, and a configuration in both libraries (the same network) gets one
latency, the median of all its rounds in both."""
import importlib.machinery
import importlib.util
import os
import statistics
import sys
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
PATH = os.path.join(HERE, "..", "..", "scripts", "headline")
loader = importlib.machinery.SourceFileLoader("headline", PATH)
spec = importlib.util.spec_from_loader("headline", loader)
headline = importlib.util.module_from_spec(spec)
loader.exec_module(headline)


class RemeasureTest(unittest.TestCase):
    def test_rounds_and_shared_configuration(self):
        calls = []
        times = {"A": [1.0, 3.0, 2.0], "B": [5.0, 4.0, 6.0], "S": [10.0, 20.0, 30.0, 40.0, 50.0, 60.0]}

        def fake(dynrt, model, cfg, threads, runs):
            calls.append((model, cfg, threads, runs))
            return times[cfg][sum(1 for c in calls if c[1] == cfg) - 1]

        # points: (latency ms, test top-1, config, test images, macs)
        ofa = ("ofa.safetensors", [(9.0, 80.0, "A", 100, 1), (9.0, 85.0, "S", 100, 2)])
        width = ("width.safetensors", [(9.0, 81.0, "B", 100, 1), (9.0, 84.0, "S", 100, 2)])
        saved = headline.bench_ms
        headline.bench_ms = fake
        try:
            out = headline.remeasure([ofa, width], 1, 3, 7, "dynrt")
        finally:
            headline.bench_ms = saved
        self.assertEqual(len(calls), 12)  # 4 points x 3 rounds
        self.assertTrue(all(c[2:] == (1, 7) for c in calls))
        self.assertEqual({(m, c) for m, c, _, _ in calls},
                         {("ofa.safetensors", "A"), ("ofa.safetensors", "S"),
                          ("width.safetensors", "B"), ("width.safetensors", "S")})
        self.assertEqual(out[0][0], (2.0, 80.0, "A", 100, 1))
        self.assertEqual(out[1][0], (5.0, 81.0, "B", 100, 1))
        shared = statistics.median(times["S"])  # 35.0: all six rounds of both libraries
        self.assertEqual(out[0][1], (shared, 85.0, "S", 100, 2))
        self.assertEqual(out[1][1], (shared, 84.0, "S", 100, 2))


if __name__ == "__main__":
    unittest.main()
