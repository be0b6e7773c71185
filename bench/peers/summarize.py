#!/usr/bin/python3
"""Condenses run_peers.py results (JSON files) into the summary tables of bench/RESULTS.md
and README.md: per sub-network and thread count, dynrt's median and each peer's dynrt/peer
ratio (median of per-round ratios; best-run ratio in brackets). Values < 1: dynrt faster.
A switch.json of `run_peers.py --switch` gives the switching table (time and memory).

    /usr/bin/python3 bench/peers/summarize.py bench/peers/.cache/results_cifar.json ...
    /usr/bin/python3 bench/peers/summarize.py bench/peers/.cache/switch.json
"""
import json
import sys

ORDER = ["ort", "torch", "torch-jit", "xnnpack", "onednn"]


def mib(kb):
    return kb / 1024.0


def span(v, fmt="%.1f"):
    return (fmt % min(v)) + ("" if min(v) == max(v) else "-" + fmt % max(v))


def switch_table(rows):
    """Per suite: time per switch and resident memory, dynrt and each peer (both resident
    runs are printed: the second is the one with warm caches and libraries)."""
    for r in rows:
        print("\n%s, %d sub-networks (%s)\n" % (r["suite"], len(r["nets"]), ", ".join(r["nets"])))
        print("| runtime | switch = create, ms | one at a time: + MiB per network | all resident: + MiB | "
              "all resident: peak MiB |")
        print("|---|---|---|---|---|")
        for p, d in r["peers"].items():
            one = d["one"]
            grow = [mib(j["rss_kb"] - j["rss_kb_base"]) for j in one]
            if p == "dynrt":
                print("| dynrt | see bench-switch (one session; load + pack + session %s ms) | %s (every "
                      "sub-network) | %s | %s |" % (span([j["create_ms"] for j in one]), span(grow),
                                                    span(grow), span([mib(j["hwm_kb"]) for j in one])))
                continue
            res = d.get("resident", [])
            print("| %s | %s | %s | %s | %s |" % (
                p, span([j["create_ms"] for j in one]), ", ".join("%.1f" % g for g in grow),
                " / ".join("%.1f" % mib(j["rss_kb_after"] - j["rss_kb_before"]) for j in res),
                " / ".join("%.1f" % mib(j["hwm_kb"]) for j in res)))


def main():
    rows = []
    for path in sys.argv[1:]:
        with open(path) as f:
            rows += json.load(f)["results"]
    if rows and "nets" in rows[0]:
        return switch_table(rows)
    peers = []
    for r in rows:
        for p in r["peers"]:
            if p != "dynrt" and p not in peers:
                peers.append(p)
    peers.sort(key=lambda p: ORDER.index(p) if p in ORDER else len(ORDER))
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
