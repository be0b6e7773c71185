#!/usr/bin/python3
"""Condenses run_peers.py results (JSON files) into the summary tables of bench/RESULTS.md
and README.md: per sub-network and thread count, dynrt's median and each peer's dynrt/peer
ratio (median of per-round ratios; best-run ratio in brackets). Values < 1: dynrt faster.

    /usr/bin/python3 bench/peers/summarize.py bench/peers/.cache/results_cifar.json ...
"""
import json
import sys


def main():
    rows = []
    for path in sys.argv[1:]:
        with open(path) as f:
            rows += json.load(f)["results"]
    peers = []
    for r in rows:
        for p in r["peers"]:
            if p != "dynrt" and p not in peers:
                peers.append(p)
    threads = sorted({int(k[1:]) for r in rows for s in r["peers"].values() for k in s if k[:1] == "t"
                      and k[1:].isdigit()})
    for t in threads:
        print("\n%d thread%s: dynrt median (best) in ms; dynrt / peer, median of per-round ratios "
              "[best-run ratio]; < 1 means dynrt is faster\n" % (t, "s" if t > 1 else ""))
        print("| sub-network | MMAC | dynrt ms | " + " | ".join(peers) + " |")
        print("|---|---|---|" + "---|" * len(peers))
        for r in rows:
            d = r["peers"].get("dynrt", {}).get("t%d" % t)
            if not d:
                continue
            cells = []
            for p in peers:
                s = r["peers"].get(p)
                if not s:
                    cells.append("-")
                elif s["status"] != "ok":
                    cells.append("%s (%.1e)" % (s["status"], s.get("rel_err", float("nan"))))
                elif "t%d" % t not in s or "dynrt_over_peer" not in s["t%d" % t]:
                    cells.append("-")
                else:
                    x = s["t%d" % t]
                    cells.append("%.2f [%.2f]" % (x["dynrt_over_peer"], x.get("dynrt_over_peer_min", float("nan"))))
            print("| %s %s | %.1f | %.2f (%.2f) | %s |" % (r["suite"], r["label"], r["mmac"], d["median_us"] / 1e3,
                                                      d.get("min_us", float("nan")) / 1e3, " | ".join(cells)))


if __name__ == "__main__":
    main()
